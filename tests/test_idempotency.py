"""Idempotency-Key on POST /api/v1/verify: replays, conflicts and races."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from billing.services import usage_this_period
from tests.concurrency_support import run_concurrently
from tests.conftest import make_photo
from verifications.models import Verification
from verifyai.models import IdempotencyRecord


def _verify(client: APIClient, key: str | None, *, policy: str = "scooter_parking", image: bytes | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"image": SimpleUploadedFile("photo.jpg", image or make_photo()), "policy": policy}
    return client.post("/api/v1/verify", body, format="multipart", **headers)


def test_a_retry_with_the_same_key_replays_the_original_response(alice):
    first = _verify(alice.client, "retry-1")
    again = _verify(alice.client, "retry-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["X-Request-Id"] == first["X-Request-Id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Verification.objects.count() == 1
    assert usage_this_period(alice.customer) == 1


def test_a_replay_matches_a_json_retry_with_the_same_content(alice):
    import base64

    image = base64.b64encode(make_photo()).decode()
    body = {"image": image, "policy": "scooter_parking", "metadata": {"a": 1}}
    first = alice.client.post("/api/v1/verify", body, format="json", HTTP_IDEMPOTENCY_KEY="j1")
    again = alice.client.post("/api/v1/verify", body, format="json", HTTP_IDEMPOTENCY_KEY="j1")
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_a_different_body_is_422(alice):
    _verify(alice.client, "reuse")
    response = _verify(alice.client, "reuse", policy="bike_parking")

    assert response.status_code == 422
    assert response.json() == {
        "error": "This Idempotency-Key was used with a different request body.",
        "code": "idempotency_key_reused",
        "status": 422,
    }
    assert Verification.objects.count() == 1


def test_the_same_key_while_the_first_request_runs_is_409(alice):
    IdempotencyRecord.objects.create(
        customer=alice.customer, route="verify", key="busy", fingerprint="x", request_id="req_first"
    )
    response = _verify(alice.client, "busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_flight"
    assert Verification.objects.count() == 0


def test_keys_are_scoped_per_customer(alice, bob):
    mine = _verify(alice.client, "shared-key")
    theirs = _verify(bob.client, "shared-key")

    assert theirs.status_code == 200
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_request_refused_before_work_saves_nothing(alice):
    bad = alice.client.post(
        "/api/v1/verify", {"policy": "scooter_parking"}, format="multipart", HTTP_IDEMPOTENCY_KEY="fixme"
    )
    assert bad.status_code == 400

    fixed = _verify(alice.client, "fixme")
    assert fixed.status_code == 200
    assert Verification.objects.count() == 1


def test_an_unknown_policy_is_not_saved_so_the_fixed_retry_runs(alice):
    assert _verify(alice.client, "k", policy="nope").status_code == 400
    assert _verify(alice.client, "k", policy="nope").json()["code"] == "unknown_policy"
    assert IdempotencyRecord.objects.count() == 0


def test_an_overlong_key_is_a_400(alice):
    response = _verify(alice.client, "k" * 256)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


@pytest.mark.django_db(transaction=True)
def test_identical_requests_racing_produce_exactly_one_verification(alice):
    image = make_photo()

    def racer() -> int:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=alice.api_key)
        return _verify(client, "race", image=image).status_code

    results = run_concurrently(6, racer)

    assert Verification.objects.count() == 1
    assert usage_this_period(alice.customer) == 1
    assert set(results) <= {200, 409}
    assert 200 in results
