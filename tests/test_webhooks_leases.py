"""An attempt is recorded only by the worker still holding the delivery's lease: a result
that comes back after the lease ran out (and another worker took the delivery over) is
dropped, so it can neither overwrite the newer state nor count an attempt twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from tests.webhooks_support import Answer, receiving
from webhooks.models import DeliveryAttempt, WebhookDelivery
from webhooks.services import attempt_delivery, create_endpoint, deliver_due, encode_payload

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _seconds(delta: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=delta)


def _delivery(cast, url):
    endpoint = create_endpoint(customer=cast.customer, url=url, events=["verification.completed"])
    # Queued by hand: no on-commit task may send it first.
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="evt_lease", event_type="ping",
        payload=encode_payload("ping", {}), next_attempt_at=T0,
    )


@pytest.mark.django_db(transaction=True)
def test_a_result_arriving_after_the_lease_was_taken_over_is_not_recorded(alice, settings):
    settings.VERIFYAI_WEBHOOK_LEASE_SECONDS = 1
    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 5
    release = threading.Event()
    # The first worker's request is answered 200, but only after its lease ran out;
    # the second worker, which took the delivery over, gets a 500 at once.
    with receiving([Answer(200, hold=release, delay=1.2), Answer(500)]) as receiver:
        delivery = _delivery(alice, receiver.url)
        late: dict[str, object] = {}

        def first_worker() -> None:
            try:
                late["attempt"] = attempt_delivery(delivery_id=delivery.pk, now=_seconds(0))
            finally:
                connection.close()

        worker = threading.Thread(target=first_worker)
        worker.start()
        receiver.wait_for(1)
        taken_over = attempt_delivery(delivery_id=delivery.pk, now=_seconds(2))
        release.set()
        worker.join(10)
        assert len(receiver.requests) == 2

    assert taken_over is not None and taken_over.status_code == 500
    assert late["attempt"] is None  # its 200 came back too late to count
    delivery.refresh_from_db()
    assert delivery.attempt_count == 1
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == _seconds(2 + 60)
    assert [a.status_code for a in DeliveryAttempt.objects.filter(delivery=delivery)] == [500]


@pytest.mark.django_db(transaction=True)
def test_a_result_after_the_lease_expired_is_dropped_and_the_delivery_is_sent_again(alice, settings):
    settings.VERIFYAI_WEBHOOK_LEASE_SECONDS = 1
    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 5
    with receiving([Answer(500, delay=1.3), Answer(200)]) as receiver:
        delivery = _delivery(alice, receiver.url)

        assert attempt_delivery(delivery_id=delivery.pk, now=_seconds(0)) is None
        delivery.refresh_from_db()
        # Not counted, not rescheduled: still due, and the next run sends it.
        assert delivery.attempt_count == 0 and delivery.status == "pending"
        assert delivery.next_attempt_at == T0
        assert deliver_due(now=_seconds(3)) == 1
        assert len(receiver.requests) == 2

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    assert [a.status_code for a in delivery.attempts.all()] == [200]
