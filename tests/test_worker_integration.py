"""A real Celery worker runs the VLM call (VERIFYAI_EVALUATIONS=worker): broker and results
are Redis in CI (REDIS_URL), a local folder on embedded defaults. On embedded defaults the call
runs inline by default, with no worker at all. The model is a fake OpenAI-compatible server on
127.0.0.1 reached through the real `openai` SDK.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.celery_support import celery_worker, fake_openai_server
from tests.conftest import make_photo
from verifications.models import Verification


@pytest.fixture
def fake_model(monkeypatch) -> Iterator[str]:
    with fake_openai_server(delay=0.2) as base_url:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fake")
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        yield base_url


@pytest.fixture
def worker_mode(settings) -> None:
    settings.VERIFYAI_EVALUATIONS = "worker"


@pytest.fixture
def real_worker(fake_model, not_eager, worker_mode) -> Iterator[None]:
    with celery_worker(concurrency=8, env={"VERIFYAI_EVALUATIONS": "worker"}):
        yield


@pytest.mark.django_db(transaction=True)
def test_inline_evaluations_need_no_worker_and_no_broker(fake_model, not_eager, alice, settings):
    settings.VERIFYAI_EVALUATIONS = "inline"
    body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking",
            "provider": "openai"}
    response = alice.client.post("/api/v1/verify", body, format="multipart")

    assert response.status_code == 200, response.json()
    assert response.json()["evaluation_source"] == "cloud_vlm"
    assert Verification.objects.get(pk=response.json()["id"]).provider == "openai"


@pytest.mark.django_db(transaction=True)
def test_a_cloud_verification_runs_in_a_real_worker(real_worker, alice):
    body = {
        "image": SimpleUploadedFile("photo.jpg", make_photo()),
        "policy": "scooter_parking",
        "provider": "openai",
    }
    response = alice.client.post("/api/v1/verify", body, format="multipart")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["evaluation_source"] == "cloud_vlm"
    assert result["is_compliant"] is True and result["category"] == "compliant"
    stored = Verification.objects.get(pk=result["id"])
    assert stored.provider == "openai"
    assert stored.input_tokens == 812 and stored.output_tokens == 41


@pytest.mark.django_db(transaction=True)
def test_with_no_worker_running_the_request_fails_at_the_deadline_and_is_recorded(
    fake_model, not_eager, worker_mode, alice, settings
):
    settings.VERIFYAI_VERIFY_DEADLINE_SECONDS = 1.0
    body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking",
            "provider": "openai"}
    started = time.time()
    response = alice.client.post("/api/v1/verify", body, format="multipart")

    assert response.status_code == 500
    assert response.json()["code"] == "verification_failed"
    assert time.time() - started < 5
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.status == "error" and stored.error_code == "deadline_exceeded"


@pytest.mark.django_db(transaction=True)
def test_answers_leave_nothing_behind_in_redis(real_worker, alice, settings):
    if not settings.REDIS_URL:
        pytest.skip("the reply lists are Redis's; embedded defaults answer through the result folder")
    import redis

    server = redis.Redis.from_url(settings.REDIS_URL)
    for _ in range(3):
        body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking",
                "provider": "openai"}
        assert alice.client.post("/api/v1/verify", body, format="multipart").status_code == 200

    # No result-backend entries to expire, no replies or images waiting: memory stays flat at load.
    assert not list(server.scan_iter("celery-task-meta-*"))
    assert not list(server.scan_iter("verifyai:reply:*"))
    assert not list(server.scan_iter("*model-image:*"))
