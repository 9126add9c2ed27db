"""Deliveries through a real Celery worker: sent at once after the commit, picked up
by beat's due-delivery job when the task was lost, and never lost to a worker
killed mid-delivery. Redis in CI (REDIS_URL), the filesystem broker otherwise.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.utils import timezone

from tests.celery_support import celery_worker, kill
from tests.webhooks_support import Answer, receiving
from verifyai.celery import app as celery_app
from webhooks.models import WebhookDelivery
from webhooks.services import create_endpoint, encode_payload, send_test_event


@contextmanager
def worker() -> Iterator[subprocess.Popen]:
    with celery_worker(concurrency=4, env={
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "VERIFYAI_WEBHOOK_LEASE_SECONDS": "2",
        "VERIFYAI_WEBHOOK_TIMEOUT_SECONDS": "1",
    }) as process:
        yield process


def _wait_until(predicate, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_at_once_and_beat_recovers_lost_tasks_and_killed_workers(
    alice, not_eager
):
    # The second request hangs until the worker sending it is killed; the rest succeed.
    with receiving([Answer(200), Answer(200, delay=3)]) as receiver:
        endpoint = create_endpoint(customer=alice.customer, url=receiver.url,
                                   events=["verification.completed"])
        with worker() as doomed:
            sent = send_test_event(endpoint=endpoint)  # queued on commit, sent at once
            assert receiver.wait_for(1)[0].headers["X-VerifyAI-Event-Id"] == sent.event_id
            _wait_until(lambda: WebhookDelivery.objects.get(pk=sent.pk).status == "succeeded")

            interrupted = send_test_event(endpoint=endpoint)
            receiver.wait_for(2)
            kill(doomed)
        interrupted.refresh_from_db()
        assert interrupted.status == "pending" and interrupted.attempt_count == 0
        assert interrupted.locked_until is not None  # the dead worker's lease

        # A delivery whose task never reached the broker: only the schedule knows it.
        orphan = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="evt_orphan", event_type="ping",
            payload=encode_payload("ping", {}), next_attempt_at=timezone.now(),
        )
        with worker():
            time.sleep(max(0.0, (interrupted.locked_until - timezone.now()).total_seconds()) + 0.1)
            assert celery_app.send_task("webhooks.deliver_due").get(timeout=20, interval=0.1) == 2
            _wait_until(lambda: not WebhookDelivery.objects.filter(status="pending").exists())

        received = receiver.requests
    assert len(received) == 4
    assert sorted(r.headers["X-VerifyAI-Event-Id"] for r in received[2:]) == sorted(
        [interrupted.event_id, "evt_orphan"]
    )
    for delivery in (interrupted, orphan):
        delivery.refresh_from_db()
        assert delivery.status == "succeeded"
        assert delivery.attempt_count == 1 and delivery.locked_until is None
