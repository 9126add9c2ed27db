"""Retries, leases, disabling and what counts as success, driven with a controlled clock."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from tests.concurrency_support import run_concurrently
from tests.webhooks_support import Answer, receiving
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    attempt_delivery,
    create_endpoint,
    deliver_due,
    encode_payload,
    queue_verification_completed,
    send_test_event,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _seconds(delta: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=delta)


def _endpoint(cast, url):
    return create_endpoint(customer=cast.customer, url=url, events=["verification.completed"])


def _offsets(delivery):
    return [(a.attempted_at - T0).total_seconds() for a in delivery.attempts.order_by("attempted_at")]


def _run_clock(until: float, step: float = 30) -> None:
    """The beat job, every ``step`` seconds of the controlled clock."""
    moment = 0.0
    while moment <= until:
        deliver_due(now=_seconds(moment))
        moment += step


def test_a_receiver_failing_twice_gets_exactly_three_attempts_at_0_1_and_6_minutes(alice):
    with receiving([Answer(500), Answer(503)]) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)

        _run_clock(until=3 * 3600)

        assert len(receiver.requests) == 3
    delivery.refresh_from_db()
    assert _offsets(delivery) == [0, 60, 360]
    assert delivery.status == "succeeded" and delivery.attempt_count == 3
    assert delivery.next_attempt_at is None
    codes = [a.status_code for a in delivery.attempts.order_by("attempted_at")]
    assert codes == [500, 503, 200]
    # Every attempt of one delivery carries the same event id and the same bytes.
    assert len({r.headers["X-VerifyAI-Event-Id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1


def test_a_receiver_that_never_succeeds_gets_four_attempts_then_the_delivery_fails(alice):
    with receiving(default=Answer(500, body=b"x" * 5000)) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)

        _run_clock(until=6 * 3600)

        assert len(receiver.requests) == 4
    delivery.refresh_from_db()
    assert _offsets(delivery) == [0, 60, 360, 2160]
    assert delivery.status == "failed" and delivery.attempt_count == 4
    assert delivery.next_attempt_at is None
    last = delivery.attempts.last()
    assert last.error == "HTTP 500" and last.status_code == 500
    assert len(last.response_excerpt) == 1024  # bounded


def test_the_retry_schedule_is_a_setting(alice, settings):
    settings.VERIFYAI_WEBHOOK_RETRY_SCHEDULE = [10]
    with receiving(default=Answer(500)) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)
        _run_clock(until=600, step=5)
    delivery.refresh_from_db()
    assert _offsets(delivery) == [0, 10] and delivery.status == "failed"


def test_a_lease_held_by_a_crashed_worker_delays_the_delivery_and_it_is_then_sent_once(alice, settings):
    settings.VERIFYAI_WEBHOOK_LEASE_SECONDS = 60
    with receiving() as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)
        # A worker claimed it (the same UPDATE the service runs) and died before sending.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=_seconds(60))

        assert deliver_due(now=_seconds(0)) == 0
        assert deliver_due(now=_seconds(59)) == 0
        assert receiver.requests == []
        assert deliver_due(now=_seconds(61)) == 1
        assert deliver_due(now=_seconds(62)) == 0
        assert deliver_due(now=_seconds(4000)) == 0

        assert len(receiver.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.locked_until is None
    assert _offsets(delivery) == [61]


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(alice):
    with receiving(default=Answer(200, delay=0.3)) as receiver:
        # Queued by hand: no on-commit task may send it first.
        delivery = WebhookDelivery.objects.create(
            endpoint=_endpoint(alice, receiver.url), event_id="evt_race", event_type="ping",
            payload=encode_payload("ping", {}), next_attempt_at=T0,
        )
        results = run_concurrently(
            4, lambda: attempt_delivery(delivery_id=delivery.pk, now=_seconds(1))
        )

        assert len(receiver.requests) == 1
    assert sum(result is not None for result in results) == 1
    assert WebhookDelivery.objects.get().attempt_count == 1


def test_410_gone_disables_the_endpoint_at_once(alice):
    with receiving([Answer(410)]) as receiver:
        endpoint = _endpoint(alice, receiver.url)
        delivery = send_test_event(endpoint=endpoint, now=T0)

        _run_clock(until=600, step=30)

        assert len(receiver.requests) == 1
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert endpoint.active is False and endpoint.disabled_at == T0
    assert "410" in endpoint.disabled_reason
    assert delivery.status == "failed"
    body = alice.client.get(f"/api/v1/webhooks/{endpoint.pk}").json()
    assert body["active"] is False and "410 Gone" in body["disabled_reason"]
    # Re-enabling through the API clears the reason.
    body = alice.client.patch(f"/api/v1/webhooks/{endpoint.pk}", {"active": True}, format="json").json()
    assert body["active"] is True and body["disabled_reason"] == "" and body["disabled_at"] is None


def test_an_endpoint_failing_every_delivery_for_five_days_is_disabled_with_a_reason(alice):
    with receiving(default=Answer(500)) as receiver:
        endpoint = _endpoint(alice, receiver.url)
        for day in range(6):
            moment = T0 + dt.timedelta(days=day)
            delivery = send_test_event(endpoint=endpoint, now=moment)
            attempt_delivery(delivery_id=delivery.pk, now=moment)
            endpoint.refresh_from_db()
            assert endpoint.active is (day < 5)
    assert endpoint.disabled_at == T0 + dt.timedelta(days=5)
    assert "5 days" in endpoint.disabled_reason
    # Its pending retries end as failed instead of being sent.
    assert deliver_due(now=T0 + dt.timedelta(days=7)) == 0
    assert not WebhookDelivery.objects.filter(status="pending").exists()


def test_a_success_resets_the_five_day_clock(alice):
    with receiving([Answer(500), Answer(200), Answer(500)]) as receiver:
        endpoint = _endpoint(alice, receiver.url)
        for day, expected_since in [(0, T0), (3, None), (4, T0 + dt.timedelta(days=4))]:
            moment = T0 + dt.timedelta(days=day)
            attempt_delivery(delivery_id=send_test_event(endpoint=endpoint, now=moment).pk, now=moment)
            endpoint.refresh_from_db()
            assert endpoint.failing_since == expected_since
    assert endpoint.active is True


def test_a_redirect_is_not_followed_and_is_a_failed_attempt(alice):
    with receiving([Answer(302, headers={"Location": "/elsewhere"})]) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)
        attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)
        assert [r.path for r in receiver.requests] == ["/hooks"]
    assert attempt.succeeded is False and attempt.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at == _seconds(60)


def test_a_slow_receiver_is_a_failed_attempt(alice, settings):
    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with receiving([Answer(200, delay=1.5)]) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)
        attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)
    assert attempt.succeeded is False and attempt.status_code is None
    assert attempt.error == "Timed out." and attempt.duration_ms < 1500


def test_a_4xx_and_a_refused_connection_are_failed_attempts_with_their_reason(alice):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens once closed
    with receiving([Answer(400, body=b'{"error":"bad"}')]) as receiver:
        endpoint = _endpoint(alice, receiver.url)
        rejected = attempt_delivery(delivery_id=send_test_event(endpoint=endpoint, now=T0).pk, now=T0)
    assert rejected.succeeded is False and rejected.status_code == 400
    assert rejected.response_excerpt == '{"error":"bad"}'

    endpoint.url = f"http://127.0.0.1:{closed_port}/hooks"
    endpoint.save()
    refused = attempt_delivery(delivery_id=send_test_event(endpoint=endpoint, now=T0).pk, now=T0)
    assert refused.succeeded is False and refused.status_code is None
    assert refused.error and "refused" in refused.error.lower()


def test_a_verification_queues_nothing_without_endpoints(alice):
    class FakeVerification:  # only the customer matters when nobody listens
        customer_id = alice.customer.pk

    assert queue_verification_completed(verification=FakeVerification()) == []
    assert not WebhookEndpoint.objects.exists()
