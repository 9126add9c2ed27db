"""Per-key rate limits from the plan, with Retry-After and rate-limit headers."""

from __future__ import annotations

import time

from rest_framework.test import APIClient

from billing.models import Plan
from billing.services import create_api_key


def _tight_plan(customer, *, per_minute: int, per_hour: int = 1000) -> None:
    plan = Plan.objects.create(
        name=f"tight-{per_minute}-{per_hour}",
        monthly_verification_limit=1000,
        requests_per_minute=per_minute,
        requests_per_hour=per_hour,
    )
    customer.subscription.plan = plan
    customer.subscription.save()


def test_requests_over_the_per_minute_limit_get_429_with_retry_after(alice):
    _tight_plan(alice.customer, per_minute=3)
    statuses = [alice.client.get("/api/v1/verifications").status_code for _ in range(3)]
    limited = alice.client.get("/api/v1/verifications")

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    body = limited.json()
    assert body["code"] == "rate_limited" and body["status"] == 429 and body["error"]
    retry_after = int(limited["Retry-After"])
    # Windows are fixed per key; Retry-After is the time until this one frees.
    assert 1 <= retry_after <= 60


def test_retry_after_counts_down_to_the_window_end(alice):
    from django_ratelimit.core import _get_window

    _tight_plan(alice.customer, per_minute=1)
    alice.client.get("/api/v1/verifications")
    limited = alice.client.get("/api/v1/verifications")
    api_key = alice.customer.api_keys.get()
    window_end = _get_window(str(api_key.pk), 60)
    expected = window_end - int(time.time())
    assert abs(int(limited["Retry-After"]) - max(1, expected)) <= 1


def test_the_hourly_limit_applies_too(alice):
    _tight_plan(alice.customer, per_minute=100, per_hour=2)
    alice.client.get("/api/v1/verifications")
    alice.client.get("/api/v1/verifications")
    limited = alice.client.get("/api/v1/verifications")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) <= 3600


def test_every_authenticated_answer_carries_rate_limit_headers(alice):
    response = alice.client.get("/api/v1/verifications")
    assert response["X-RateLimit-Limit"] == "60"
    assert response["X-RateLimit-Remaining"] == "59"
    assert int(response["X-RateLimit-Reset"]) >= 1


def test_limits_are_counted_per_api_key(alice):
    _tight_plan(alice.customer, per_minute=1)
    alice.client.get("/api/v1/verifications")
    other_client = APIClient()
    other_client.credentials(HTTP_X_API_KEY=create_api_key(customer=alice.customer).raw_key)
    response = other_client.get("/api/v1/verifications")
    assert response.status_code == 200


def test_other_customers_are_not_affected(alice, bob):
    _tight_plan(alice.customer, per_minute=1)
    alice.client.get("/api/v1/verifications")
    assert alice.client.get("/api/v1/verifications").status_code == 429
    assert bob.client.get("/api/v1/verifications").status_code == 200
