"""Usage is reserved before a verification runs. Whatever fails after that (the database,
the storage, the evaluator) gives the unit back, leaves no orphaned image, and is never
replayed to a retry under the same Idempotency-Key."""

from __future__ import annotations

import contextlib

import pytest
from django.db import OperationalError, connection

from billing.services import usage_this_period
from tests.verify_support import (
    assert_error,
    nothing_stored,
    providers_plugged_in,
    stored_files,
    upload,
)
from verifications.engine import registry
from verifications.engine.base import EvaluationError
from verifications.models import Verification
from verifyai.models import IdempotencyRecord

TABLE = Verification._meta.db_table


@contextlib.contextmanager
def verification_insert_fails():
    """The database refuses the INSERT of the verification row (a real driver-level error on
    the real connection: every other statement, the usage reservation included, still runs)."""

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and TABLE in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def _post(client, photo, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/v1/verify",
        {"image": upload(photo), "policy": "scooter_parking", "metadata": '{"site": "a"}'},
        format="multipart",
        **headers,
    )


def test_a_database_error_writing_the_verification_gives_the_usage_back_and_removes_the_image(
    alice, photo
):
    assert alice.customer.store_images
    with nothing_stored(alice.customer), verification_insert_fails():
        response = _post(alice.client, photo)

    body = assert_error(response, 500, "internal_error")
    assert "server closed" not in body["error"]
    assert usage_this_period(alice.customer) == 0
    assert not Verification.objects.exists()
    assert stored_files() == []


def test_a_failed_request_is_not_replayed_to_a_retry_with_the_same_key(alice, photo):
    with verification_insert_fails():
        failed = _post(alice.client, photo, key="retry-after-500")
    assert_error(failed, 500, "internal_error")
    assert not IdempotencyRecord.objects.exists()

    retry = _post(alice.client, photo, key="retry-after-500")

    assert retry.status_code == 200, retry.content
    assert "Idempotent-Replayed" not in retry
    assert retry.json()["id"] == Verification.objects.get().id
    assert usage_this_period(alice.customer) == 1
    assert len(stored_files()) == 1
    # ...and the success is what later retries get.
    again = _post(alice.client, photo, key="retry-after-500")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()


def test_a_storage_failure_gives_the_usage_back(alice, photo, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media directory should be")
    settings.MEDIA_ROOT = blocker

    response = _post(alice.client, photo)

    assert_error(response, 500, "internal_error")
    assert usage_this_period(alice.customer) == 0
    assert not Verification.objects.exists()


class _FailingProvider:
    name = "gemini"
    evaluation_source = "cloud_vlm"

    def is_configured(self) -> bool:
        return True

    def evaluate(self, image, policy, *, timeout: float = 0):
        raise EvaluationError("upstream_timeout", "The provider did not answer.", transient=True)


@pytest.fixture
def failing_provider(settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = []
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 0
    with providers_plugged_in():
        registry.register(_FailingProvider())
        yield


def test_a_failed_evaluation_500_is_not_replayed_either(alice, photo, failing_provider):
    first = alice.client.post(
        "/api/v1/verify",
        {"image": upload(photo), "policy": "scooter_parking", "provider": "gemini"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="eval-fails",
    )
    assert_error(first, 500, "verification_failed")

    second = alice.client.post(
        "/api/v1/verify",
        {"image": upload(photo), "policy": "scooter_parking", "provider": "gemini"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="eval-fails",
    )

    body = assert_error(second, 500, "verification_failed")
    assert "Idempotent-Replayed" not in second
    assert body["verification_id"] != first.json()["verification_id"]  # it really ran again
    assert usage_this_period(alice.customer) == 0
