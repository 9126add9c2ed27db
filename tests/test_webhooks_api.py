"""/api/v1/webhooks: endpoints, secrets shown once, deliveries, test events, tenant isolation."""

from __future__ import annotations

import pytest

from tests.webhooks_support import Answer, receiving
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import deliver_due

URL = "/api/v1/webhooks"


def _create(cast, url="http://127.0.0.1:9999/hooks", events=("verification.completed",), **extra):
    response = cast.client.post(URL, {"url": url, "events": list(events), **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_creating_an_endpoint_answers_its_id_and_its_secret_once(alice):
    body = _create(alice, description="orders")

    assert body["id"].startswith("we_")
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["url"] == "http://127.0.0.1:9999/hooks"
    assert body["events"] == ["verification.completed"]
    assert body["active"] is True and body["description"] == "orders"
    assert body["disabled_at"] is None and body["disabled_reason"] == ""

    listed = alice.client.get(URL).json()["data"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in alice.client.get(f"{URL}/{body['id']}").json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"events": ["verification.completed"]}, "url"),
        ({"url": "http://127.0.0.1:9999/"}, "events"),
        ({"url": "http://127.0.0.1:9999/", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9999/", "events": ["verification.deleted"]}, "events"),
    ],
)
def test_an_incomplete_or_unknown_subscription_is_a_400_with_our_error_body(alice, payload, field):
    response = alice.client.post(URL, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request" and body["status"] == 400
    assert body["error"].startswith(f"{field}:")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "http://"])
def test_a_non_http_url_is_refused(alice, url):
    response = alice.client.post(URL, {"url": url, "events": ["verification.completed"]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_webhook_url"
    assert response.json()["status"] == 400


def test_patch_updates_url_events_active_and_description(alice):
    endpoint = _create(alice)

    response = alice.client.patch(
        f"{URL}/{endpoint['id']}",
        {"url": "https://127.0.0.1:9999/new", "active": False, "description": "paused"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["url"] == "https://127.0.0.1:9999/new" and body["active"] is False
    assert body["description"] == "paused" and body["events"] == ["verification.completed"]
    assert "secret" not in body
    bad = alice.client.patch(f"{URL}/{endpoint['id']}", {"url": "file:///x"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_webhook_url"


def test_delete_removes_the_endpoint(alice):
    endpoint = _create(alice)

    assert alice.client.delete(f"{URL}/{endpoint['id']}").status_code == 204
    missing = alice.client.get(f"{URL}/{endpoint['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_rotating_the_secret_shows_the_new_one_once(alice):
    endpoint = _create(alice)

    response = alice.client.post(f"{URL}/{endpoint['id']}/rotate-secret")

    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert stored.secret == new_secret and stored.previous_secret == endpoint["secret"]


def test_without_a_key_the_webhooks_api_is_a_401(anonymous):
    response = anonymous.get(URL)
    assert response.status_code == 401 and response.json()["code"] == "missing_api_key"


def test_another_customer_gets_404_for_everything_about_an_endpoint(alice, bob):
    endpoint = _create(alice)
    with receiving() as receiver:
        alice.client.patch(f"{URL}/{endpoint['id']}", {"url": receiver.url}, format="json")
        alice.client.post(f"{URL}/{endpoint['id']}/test")
    delivery = WebhookDelivery.objects.get()
    base = f"{URL}/{endpoint['id']}"

    answers = [
        bob.client.get(base),
        bob.client.patch(base, {"active": False}, format="json"),
        bob.client.delete(base),
        bob.client.post(f"{base}/rotate-secret"),
        bob.client.post(f"{base}/test"),
        bob.client.get(f"{base}/deliveries"),
        bob.client.post(f"{base}/deliveries/{delivery.pk}/redeliver"),
    ]

    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert all(answer.json()["code"] == "not_found" for answer in answers)
    assert bob.client.get(URL).json()["data"] == []
    assert WebhookEndpoint.objects.get().active is True
    assert WebhookDelivery.objects.count() == 1
    # Nor can alice reach one of her deliveries through another of her endpoints.
    other = _create(alice)
    assert alice.client.post(f"{URL}/{other['id']}/deliveries/{delivery.pk}/redeliver").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_test_event_reaches_the_receiver_and_is_listed_with_its_attempt(alice):
    with receiving() as receiver:
        endpoint = _create(alice, url=receiver.url)

        response = alice.client.post(f"{URL}/{endpoint['id']}/test")

        assert response.status_code == 202
        received = receiver.wait_for(1)
    assert len(received) == 1
    assert received[0].headers["X-VerifyAI-Event"] == "ping"
    assert received[0].json()["event"] == "ping"
    body = response.json()
    assert body["event"] == "ping" and body["event_id"].startswith("evt_")
    assert body["status"] == "succeeded" and body["attempt_count"] == 1

    listed = alice.client.get(f"{URL}/{endpoint['id']}/deliveries").json()
    assert listed["has_more"] is False and listed["next_cursor"] is None
    [delivery] = listed["data"]
    assert delivery["id"] == body["id"] and delivery["payload"]["event"] == "ping"
    [attempt] = delivery["attempts"]
    assert attempt["succeeded"] is True and attempt["status_code"] == 200
    assert attempt["response_excerpt"] == "ok" and attempt["error"] == ""
    assert attempt["duration_ms"] >= 0


def test_deliveries_are_cursor_paginated_newest_first(alice):
    endpoint = _create(alice)
    for _ in range(5):
        alice.client.post(f"{URL}/{endpoint['id']}/test")

    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = alice.client.get(f"{URL}/{endpoint['id']}/deliveries", query).json()
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]

    expected = list(WebhookDelivery.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 5


@pytest.mark.django_db(transaction=True)
def test_redeliver_sends_the_same_event_and_bytes_again(alice):
    with receiving([Answer(500)]) as receiver:
        endpoint = _create(alice, url=receiver.url)
        first = alice.client.post(f"{URL}/{endpoint['id']}/test").json()
        assert first["status"] == "pending" and first["attempt_count"] == 1

        response = alice.client.post(f"{URL}/{endpoint['id']}/deliveries/{first['id']}/redeliver")

        assert response.status_code == 202
        received = receiver.wait_for(2)
    again = response.json()
    assert again["id"] != first["id"] and again["event_id"] == first["event_id"]
    assert again["status"] == "succeeded"
    assert received[0].body == received[1].body
    assert received[1].headers["X-VerifyAI-Event-Id"] == first["event_id"]
    assert deliver_due() == 0  # the failed first delivery is not due for a minute


def test_listing_deliveries_costs_the_same_queries_however_many_attempts(
    alice, django_assert_max_num_queries
):
    endpoint = _create(alice)
    for _ in range(6):
        alice.client.post(f"{URL}/{endpoint['id']}/test")
    for delivery in WebhookDelivery.objects.all():
        for moment in range(2):
            delivery.attempts.create(attempted_at=delivery.created_at, error=f"try {moment}")

    with django_assert_max_num_queries(8):
        page = alice.client.get(f"{URL}/{endpoint['id']}/deliveries").json()

    assert len(page["data"]) == 6
    assert all(len(item["attempts"]) == 2 for item in page["data"])


def test_a_disabled_endpoint_cannot_be_tested_or_redelivered_to(alice):
    endpoint = _create(alice)
    alice.client.post(f"{URL}/{endpoint['id']}/test")
    delivery = WebhookDelivery.objects.get()
    alice.client.patch(f"{URL}/{endpoint['id']}", {"active": False}, format="json")

    answers = [
        alice.client.post(f"{URL}/{endpoint['id']}/test"),
        alice.client.post(f"{URL}/{endpoint['id']}/deliveries/{delivery.pk}/redeliver"),
    ]

    assert [answer.status_code for answer in answers] == [409, 409]
    assert {answer.json()["code"] for answer in answers} == {"endpoint_disabled"}
    assert WebhookDelivery.objects.count() == 1
