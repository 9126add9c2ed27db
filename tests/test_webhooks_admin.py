"""The admin: endpoints without their secret, deliveries with attempts, and "resend"."""

from __future__ import annotations

from django.contrib.admin.utils import quote  # ids contain "_", which admin URLs escape

from tests.webhooks_support import Answer, receiving
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import attempt_delivery, create_endpoint, send_test_event


def test_operators_see_endpoints_but_never_the_secret(admin_client, alice):
    endpoint = create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/hooks",
                               events=["verification.completed"])

    listing = admin_client.get("/admin/webhooks/webhookendpoint/")
    page = admin_client.get(f"/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    assert admin_client.get("/admin/webhooks/webhookendpoint/add/").status_code == 200
    assert endpoint.url in listing.content.decode() and "Alice" in listing.content.decode()
    assert endpoint.secret not in listing.content.decode()
    assert endpoint.secret not in page.content.decode()


def test_deliveries_show_their_attempts_and_can_be_resent(admin_client, alice):
    with receiving([Answer(500, body=b"receiver exploded")]) as receiver:
        endpoint = create_endpoint(customer=alice.customer, url=receiver.url,
                                   events=["verification.completed"])
        delivery = send_test_event(endpoint=endpoint)
        attempt_delivery(delivery_id=delivery.pk)

        page = admin_client.get(f"/admin/webhooks/webhookdelivery/{quote(delivery.pk)}/change/")
        assert page.status_code == 200
        assert "receiver exploded" in page.content.decode() and "HTTP 500" in page.content.decode()

        response = admin_client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

        assert response.status_code == 302
    resent = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert resent.event_id == delivery.event_id and bytes(resent.payload) == bytes(delivery.payload)
    assert admin_client.get("/admin/webhooks/webhookdelivery/").status_code == 200


def test_the_dashboard_refuses_an_endpoint_over_the_customers_cap(admin_client, alice, settings):
    settings.VERIFYAI_WEBHOOK_MAX_ENDPOINTS_PER_CUSTOMER = 1
    create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/one",
                    events=["verification.completed"])

    response = admin_client.post("/admin/webhooks/webhookendpoint/add/", {
        "customer": alice.customer.pk, "url": "http://127.0.0.1:9999/two",
        "events": ["verification.completed"], "description": "", "active": "on",
    })

    assert response.status_code == 200  # the form again, with the error
    assert "at most 1 webhook endpoints" in response.content.decode()
    assert list(WebhookEndpoint.objects.filter(customer=alice.customer).values_list("url", flat=True)) == [
        "http://127.0.0.1:9999/one"
    ]
