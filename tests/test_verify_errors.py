"""POST /api/v1/verify errors: bad fields (400), the monthly cap (429), a failing evaluator (500).

Every error uses the one documented body and leaves nothing behind: no Verification,
no stored file, no billed usage (a failed evaluation is recorded, but never billed).
"""

from __future__ import annotations

import copy

import pytest

from billing.models import Plan
from billing.services import usage_this_period
from policies.builtin import DEFAULT_CATEGORIES
from policies.models import Policy
from tests.conftest import make_photo
from tests.verify_support import (
    VERIFY_URL,
    assert_error,
    b64,
    nothing_stored,
    post_json,
    post_multipart,
    providers_plugged_in,
    stored_files,
    upload,
)
from verifications.engine import registry
from verifications.engine.base import EvaluationError
from verifications.models import Verification

# --- 400: the request itself is wrong -----------------------------------------------------


def test_a_missing_image_is_400(alice):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, None, policy="scooter_parking")

    body = assert_error(response, 400, "invalid_request")
    assert "image" in body["error"]


def test_a_missing_image_in_json_is_400(alice):
    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"policy": "scooter_parking"})

    body = assert_error(response, 400, "invalid_request")
    assert "image" in body["error"]


def test_a_missing_policy_is_400(alice, photo):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, policy=None)

    body = assert_error(response, 400, "invalid_request")
    assert "policy" in body["error"]


def test_a_missing_policy_in_json_is_400(alice, photo):
    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"image": b64(photo)})

    body = assert_error(response, 400, "invalid_request")
    assert "policy" in body["error"]


@pytest.mark.parametrize(
    "raw", ['{"image": "abc", "policy": ', "not json at all", "{'single': 'quotes'}"]
)
def test_an_invalid_json_body_is_400_invalid_body(alice, raw):
    with nothing_stored(alice.customer):
        response = alice.client.post(VERIFY_URL, raw, content_type="application/json")

    assert_error(response, 400, "invalid_body")


@pytest.mark.parametrize("metadata", ['["a", "b"]', '"just a string"', "42", "null", "{not json"])
def test_multipart_metadata_that_is_not_a_json_object_is_400(alice, photo, metadata):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, metadata=metadata)

    body = assert_error(response, 400, "invalid_request")
    assert "metadata" in body["error"]


@pytest.mark.parametrize("metadata", [["a"], "text", 42, True])
def test_json_metadata_that_is_not_an_object_is_400(alice, photo, metadata):
    with nothing_stored(alice.customer):
        response = post_json(
            alice.client, {"image": b64(photo), "policy": "scooter_parking", "metadata": metadata}
        )

    body = assert_error(response, 400, "invalid_request")
    assert "metadata" in body["error"]


def test_an_unknown_policy_is_400_unknown_policy(alice, photo):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, policy="no_such_policy")

    body = assert_error(response, 400, "unknown_policy")
    assert "no_such_policy" in body["error"]


def _custom_policy(customer, policy_id: str) -> Policy:
    return Policy.objects.create(
        customer=customer,
        policy_id=policy_id,
        name="Private policy",
        criteria=[{"id": "visible", "description": "The thing is visible."}],
        violation_codes=[{"code": "image_unclear", "description": "Unclear."}],
        categories=copy.deepcopy(DEFAULT_CATEGORIES),
    )


def test_another_customers_policy_is_unknown(alice, bob, photo):
    _custom_policy(bob.customer, "bob_private")

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, policy="bob_private")

    assert_error(response, 400, "unknown_policy")
    assert post_multipart(bob.client, photo, policy="bob_private").status_code == 200


def test_an_unknown_provider_value_is_400(alice, photo):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, provider="skynet")

    body = assert_error(response, 400, "invalid_request")
    assert "provider" in body["error"]


def test_openai_without_a_configured_key_is_400_provider_unavailable(alice, photo, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, provider="openai")

    body = assert_error(response, 400, "provider_unavailable")
    assert "openai" in body["error"]


def test_an_image_that_is_neither_a_file_nor_a_string_is_400(alice):
    with nothing_stored(alice.customer):
        response = post_json(
            alice.client, {"image": {"bytes": [1, 2, 3]}, "policy": "scooter_parking"}
        )

    assert_error(response, 400, "invalid_request")


def test_a_form_with_thousands_of_fields_is_400_not_500(alice, photo):
    data = {f"field{i}": "x" for i in range(1100)}
    data.update(policy="scooter_parking", image=upload(photo))

    with nothing_stored(alice.customer):
        response = alice.client.post(VERIFY_URL, data, format="multipart")

    assert_error(response, 400, "invalid_body")


def test_a_form_with_hundreds_of_files_is_400_not_500(alice, photo):
    data = {f"extra{i}": upload(b"x", f"{i}.jpg") for i in range(120)}
    data.update(policy="scooter_parking", image=upload(photo))

    with nothing_stored(alice.customer):
        response = alice.client.post(VERIFY_URL, data, format="multipart")

    assert_error(response, 400, "invalid_body")


def test_an_unsupported_content_type_is_415_with_the_error_body(alice):
    response = alice.client.generic(
        "POST", VERIFY_URL, b"image=abc&policy=scooter_parking", content_type="text/plain"
    )

    assert_error(response, 415, "unsupported_media_type")


# --- 429: the monthly usage cap ---------------------------------------------------------


@pytest.fixture
def one_a_month(alice):
    plan = Plan.objects.create(name="one-a-month", monthly_verification_limit=1)
    alice.customer.subscription.plan = plan
    alice.customer.subscription.save()
    return plan


def test_the_monthly_cap_answers_429_usage_limit_exceeded(alice, one_a_month, settings):
    assert post_multipart(alice.client, make_photo(seed=1)).status_code == 200

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, make_photo(seed=2))

    assert_error(
        response,
        429,
        "usage_limit_exceeded",
        current_usage=1,
        limit=1,
        upgrade_url=settings.VERIFYAI_UPGRADE_URL,
    )
    assert Verification.objects.filter(customer=alice.customer).count() == 1
    assert usage_this_period(alice.customer) == 1


def test_the_monthly_cap_of_one_customer_does_not_block_another(alice, bob, one_a_month, photo):
    assert post_multipart(alice.client, photo).status_code == 200
    assert post_multipart(alice.client, photo).status_code == 429

    assert post_multipart(bob.client, photo).status_code == 200


def test_the_monthly_cap_429_says_when_to_retry(alice, one_a_month, photo):
    assert post_multipart(alice.client, photo).status_code == 200

    response = post_multipart(alice.client, photo)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


# --- 500: the evaluation failed -----------------------------------------------------------


class _FailingProvider:
    """A provider plugged in through the registry, as a cloud VLM would be."""

    name = "gemini"
    evaluation_source = "cloud_vlm"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def is_configured(self) -> bool:
        return True

    def evaluate(self, image, policy, *, timeout: float = 0):
        self.calls += 1
        raise self.error


@pytest.fixture
def plug_in_provider(settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = []  # no silent fallback to "local"
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 0
    with providers_plugged_in():
        yield registry.register


@pytest.mark.parametrize(
    "error",
    [
        EvaluationError("upstream_timeout", "The provider did not answer in time.", transient=True),
        RuntimeError("the SDK blew up"),
    ],
    ids=["evaluation_error", "runtime_error"],
)
def test_a_failing_evaluation_is_500_verification_failed_recorded_but_not_billed(
    alice, photo, plug_in_provider, error
):
    provider = _FailingProvider(error)
    plug_in_provider(provider)
    count_before = Verification.objects.count()

    response = post_multipart(
        alice.client, photo, provider="gemini", metadata='{"device_id": "dev_1"}'
    )

    body = assert_error(response, 500, "verification_failed")
    assert provider.calls >= 1
    assert body["verification_id"].startswith("ver_")
    assert "the SDK blew up" not in body["error"]  # internals stay internal
    record = Verification.objects.get(id=body["verification_id"])
    assert record.status == "error"
    assert record.customer == alice.customer
    assert record.is_compliant is False
    assert record.metadata == {"device_id": "dev_1"}
    assert Verification.objects.count() == count_before + 1
    assert usage_this_period(alice.customer) == 0


def test_a_failed_verification_is_visible_as_status_error(alice, photo, plug_in_provider):
    plug_in_provider(_FailingProvider(EvaluationError("malformed_answer", "Bad JSON.")))
    failed = post_multipart(alice.client, photo, provider="gemini")
    assert failed.status_code == 500

    response = alice.client.get(f"/api/v1/verifications/{failed.json()['verification_id']}")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "error"
    assert response.json()["is_compliant"] is False


def test_after_a_failed_evaluation_the_next_verification_still_works(
    alice, photo, plug_in_provider
):
    plug_in_provider(_FailingProvider(RuntimeError("boom")))
    assert post_multipart(alice.client, photo, provider="gemini").status_code == 500

    response = post_multipart(alice.client, photo, provider="local")

    assert response.status_code == 200
    assert usage_this_period(alice.customer) == 1
    assert len(stored_files()) >= 1
