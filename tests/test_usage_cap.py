"""The monthly verification cap, exact under concurrency."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from billing.models import Plan, UsageCounter
from billing.services import current_period_start, usage_this_period
from tests.concurrency_support import run_concurrently
from tests.conftest import make_photo
from verifications.models import Verification


def _cap(customer, limit: int, used: int) -> None:
    plan = Plan.objects.create(name=f"cap-{limit}", monthly_verification_limit=limit)
    customer.subscription.plan = plan
    customer.subscription.save()
    UsageCounter.objects.create(customer=customer, period_start=current_period_start(), count=used)


def _verify(client: APIClient):
    body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking"}
    return client.post("/api/v1/verify", body, format="multipart")


def test_over_the_cap_is_429_with_usage_limit_and_upgrade_url(alice, settings):
    _cap(alice.customer, limit=5, used=5)
    response = _verify(alice.client)

    assert response.status_code == 429
    assert response.json() == {
        "error": "Monthly verification limit reached for your plan.",
        "code": "usage_limit_exceeded",
        "status": 429,
        "current_usage": 5,
        "limit": 5,
        "upgrade_url": settings.VERIFYAI_UPGRADE_URL,
    }
    assert Verification.objects.count() == 0
    assert usage_this_period(alice.customer) == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_verifications_at_limit_minus_one_let_exactly_one_through(alice):
    _cap(alice.customer, limit=10, used=9)

    def worker() -> int:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=alice.api_key)
        return _verify(client).status_code

    statuses = run_concurrently(8, worker)

    assert sorted(statuses) == [200] + [429] * 7
    assert usage_this_period(alice.customer) == 10
    assert Verification.objects.count() == 1


def test_usage_endpoint_shows_this_period_against_the_limit(alice):
    _cap(alice.customer, limit=50, used=3)
    _verify(alice.client)
    body = alice.client.get("/api/v1/usage").json()

    period_start = current_period_start()
    assert body["current_usage"] == 4
    assert body["limit"] == 50
    assert body["remaining"] == 46
    assert body["period_start"] == period_start.isoformat()
    assert body["period_end"] > body["period_start"]
    assert body["rate_limits"] == {"per_minute": 60, "per_hour": 1000}


def test_a_rejected_upload_is_not_counted(alice):
    body = {"image": SimpleUploadedFile("photo.jpg", b"not an image"), "policy": "scooter_parking"}
    alice.client.post("/api/v1/verify", body, format="multipart")
    assert alice.client.get("/api/v1/usage").json()["current_usage"] == 0
