"""Evaluations, webhook deliveries and housekeeping run on queues of their own, each with its
own workers: a customer's receiver that holds every delivery thread cannot turn anyone's
verification into `deadline_exceeded`. Real workers, a real hostile receiver, the real `openai`
SDK against a fake model on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.celery_support import celery_worker, fake_openai_server
from tests.conftest import make_photo
from tests.webhooks_support import Dripper, dripping
from verifyai.celery import app as celery_app
from webhooks.services import create_endpoint, send_test_event

# The receiver answers a status line one byte a second: each delivery holds its worker thread
# for the whole webhook deadline.
DRIP = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
WORKER_ENV = {
    "VERIFYAI_EVALUATIONS": "worker",
    "VERIFYAI_WEBHOOK_TIMEOUT_SECONDS": "8",
    "VERIFYAI_WEBHOOK_LEASE_SECONDS": "30",
}


@pytest.fixture
def slow_receiver_backlog(alice, not_eager, monkeypatch, settings) -> Iterator[Dripper]:
    """Two deliveries (the per-endpoint cap) in flight to a receiver that drips its answer."""
    settings.VERIFYAI_EVALUATIONS = "worker"
    settings.VERIFYAI_VERIFY_DEADLINE_SECONDS = 4.0
    with fake_openai_server(delay=0.2) as base_url, dripping(DRIP, interval=1.0) as receiver:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fake")
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        endpoint = create_endpoint(customer=alice.customer, url=receiver.url,
                                   events=["verification.completed"])
        for _ in range(2):
            send_test_event(endpoint=endpoint)
        yield receiver


def _until_both_deliveries_hold_a_thread(receiver: Dripper) -> None:
    deadline = time.monotonic() + 20
    while receiver.connections < 2:
        assert time.monotonic() < deadline, "the deliveries never reached the receiver"
        time.sleep(0.05)


def _verify(alice):
    body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking",
            "provider": "openai"}
    return alice.client.post("/api/v1/verify", body, format="multipart")


def test_routes_name_one_queue_per_kind_of_work():
    route = celery_app.amqp.router.route
    assert route({}, "verifications.evaluate_image")["queue"].name == "evaluations"
    assert route({}, "webhooks.deliver")["queue"].name == "webhooks"
    assert route({}, "webhooks.deliver_due")["queue"].name == "housekeeping"
    assert route({}, "verifyai.purge_expired_idempotency_keys")["queue"].name == "housekeeping"


@pytest.mark.django_db(transaction=True)
def test_a_receiver_holding_every_delivery_thread_never_delays_a_verification(
    slow_receiver_backlog, alice
):
    with celery_worker(concurrency=2, queues=("evaluations",), env=WORKER_ENV), \
            celery_worker(concurrency=2, queues=("webhooks",), env=WORKER_ENV):
        _until_both_deliveries_hold_a_thread(slow_receiver_backlog)
        response = _verify(alice)

    assert response.status_code == 200, response.json()
    assert response.json()["evaluation_source"] == "cloud_vlm"


@pytest.mark.django_db(transaction=True)
def test_one_worker_for_both_queues_is_what_let_a_receiver_starve_verifications(
    slow_receiver_backlog, alice
):
    """The shape before the queues were split (the same threads for both kinds of work) fails
    here: proof that the backlog above really holds every delivery thread, so the test above
    is not passing by luck."""
    with celery_worker(concurrency=2, queues=("evaluations", "webhooks"), env=WORKER_ENV):
        _until_both_deliveries_hold_a_thread(slow_receiver_backlog)
        response = _verify(alice)

    assert response.status_code == 500
    assert response.json()["code"] == "verification_failed"
