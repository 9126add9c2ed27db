"""The customer settings page: plan, usage and its chart, API keys shown once, webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.utils import quote
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import ApiKey
from billing.services import hash_api_key, reserve_usage
from tests.admin_support import operator_client
from verifications.models import Verification
from webhooks.models import WebhookEndpoint
from webhooks.services import create_endpoint


def settings_url(customer) -> str:
    return f"/admin/billing/customer/{quote(customer.pk)}/settings/"


@pytest.fixture
def operator_a(alice):
    return operator_client(alice.customer, "alice-op")


def test_the_settings_page_shows_plan_usage_keys_and_endpoints(alice, operator_a):
    for _ in range(3):
        reserve_usage(customer=alice.customer, limit=1000)
    create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/hooks",
                    events=["verification.completed"])

    page = operator_a.get(settings_url(alice.customer))

    text = page.content.decode()
    assert page.status_code == 200
    assert "3 of 1000 verifications this month" in text
    assert 'aria-valuenow="3"' in text
    assert ApiKey.objects.get(customer=alice.customer).prefix in text
    assert "http://127.0.0.1:9999/hooks" in text
    assert "Account settings" in text  # the header links every operator page here


def test_the_chart_has_a_bar_per_day_with_that_days_verifications(alice, operator_a):
    now = timezone.now()
    first = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    for when, status in [(first, "success"), (first, "success"), (first, "error"),
                         (first - dt.timedelta(days=3), "success")]:
        Verification.objects.create(customer=alice.customer, policy_slug="scooter_parking",
                                    created_at=when, status=status)

    text = operator_a.get(settings_url(alice.customer)).content.decode()

    assert text.count("<rect ") > 27  # every day of this month, traffic or not
    # Billed (successful) ones only, and nothing from the previous month.
    assert f'data-day="{first:%Y-%m-%d}" data-count="2"' in text
    assert "the tallest bar is 2" in text


def test_a_new_key_is_shown_once_and_works_against_the_api(alice, operator_a):
    response = operator_a.post(settings_url(alice.customer), {"action": "create_key", "name": "kiosk"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw_key = response.context["new_key"].raw_key
    assert f'id="new-api-key">{raw_key}<' in response.content.decode()
    stored = ApiKey.objects.get(customer=alice.customer, name="kiosk")
    assert stored.key_hash == hash_api_key(raw_key) and raw_key not in stored.key_hash
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    assert client.get("/api/v1/usage").status_code == 200
    # Never again: the page lists the key by its prefix only.
    again = operator_a.get(settings_url(alice.customer)).content.decode()
    assert raw_key not in again and stored.prefix in again


def test_revoking_a_key_stops_it_at_once(alice, operator_a):
    key = ApiKey.objects.get(customer=alice.customer)

    response = operator_a.post(settings_url(alice.customer), {"action": "revoke_key", "key": key.pk})

    assert response.status_code == 302
    assert alice.client.get("/api/v1/usage").status_code == 401
    assert "revoked" in operator_a.get(settings_url(alice.customer)).content.decode()


def test_another_customers_settings_are_a_404_and_cannot_be_changed(alice, bob, operator_a):
    bobs_key = ApiKey.objects.get(customer=bob.customer)

    assert operator_a.get(settings_url(bob.customer)).status_code == 404
    assert operator_a.post(settings_url(bob.customer), {"action": "create_key"}).status_code == 404
    assert operator_a.post(settings_url(alice.customer),
                           {"action": "revoke_key", "key": bobs_key.pk}).status_code == 404
    bobs_key.refresh_from_db()
    assert ApiKey.objects.filter(customer=bob.customer).count() == 1 and not bobs_key.is_revoked


@pytest.mark.parametrize("body", [{"action": "revoke_key", "key": "1 OR 1=1"}, {"action": "drop"}])
def test_nonsense_posts_change_nothing(alice, operator_a, body):
    response = operator_a.post(settings_url(alice.customer), body)

    assert response.status_code in (400, 404)
    assert not ApiKey.objects.get(customer=alice.customer).is_revoked


def test_a_new_webhook_endpoints_secret_is_shown_once(alice, operator_a):
    response = operator_a.post("/admin/webhooks/webhookendpoint/add/", {
        "url": "http://127.0.0.1:9999/in", "events": ["verification.completed"], "active": "on",
    })

    endpoint = WebhookEndpoint.objects.get(url="http://127.0.0.1:9999/in")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert f'id="webhook-secret">{endpoint.secret}<' in response.content.decode()
    assert endpoint.customer == alice.customer and endpoint.events == ["verification.completed"]
    page = operator_a.get(f"/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/change/")
    assert endpoint.secret not in page.content.decode()


@pytest.mark.parametrize("url, problem", [
    ("ftp://127.0.0.1/in", "Only http and https URLs are allowed"),
    ("http://user:pw@127.0.0.1:9999/in", "Credentials in the URL are not allowed"),
])
def test_endpoint_urls_follow_the_apis_rules(alice, operator_a, url, problem):
    response = operator_a.post("/admin/webhooks/webhookendpoint/add/", {
        "url": url, "events": ["verification.completed"], "active": "on",
    })

    assert response.status_code == 200 and problem in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_private_targets_are_refused_where_the_deployment_refuses_them(alice, operator_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    response = operator_a.post("/admin/webhooks/webhookendpoint/add/", {
        "url": "http://127.0.0.1:9999/in", "events": ["verification.completed"], "active": "on",
    })

    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_unknown_event_types_are_refused(alice, operator_a):
    response = operator_a.post("/admin/webhooks/webhookendpoint/add/", {
        "url": "http://127.0.0.1:9999/in", "events": ["everything"], "active": "on",
    })

    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_turning_a_disabled_endpoint_back_on_clears_why_it_was_disabled(alice, operator_a):
    endpoint = create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/in",
                               events=["verification.completed"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_at=timezone.now(), failing_since=timezone.now(),
        disabled_reason="Failing for 5 days.",
    )

    response = operator_a.post(f"/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/change/", {
        "url": endpoint.url, "events": ["verification.completed"], "active": "on",
    })

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None and endpoint.failing_since is None
    assert endpoint.disabled_reason == "" and endpoint.customer == alice.customer
