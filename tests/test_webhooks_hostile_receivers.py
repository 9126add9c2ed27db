"""A receiver cannot hold a delivery (a worker thread, a database connection) past the
deadline: the whole exchange, connect to excerpt, ends at VERIFYAI_WEBHOOK_TIMEOUT_SECONDS
however slowly the peer drips its answer, and the attempt is recorded as failed."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections

from tests.webhooks_support import Answer, dripping, receiving
from webhooks.models import WebhookDelivery
from webhooks.services import attempt_delivery, create_endpoint, encode_payload, send_test_event

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nok ok"
BIG_BODY_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"


def _endpoint(cast, url):
    return create_endpoint(customer=cast.customer, url=url, events=["verification.completed"])


@pytest.mark.parametrize(
    ("what", "drip", "prefix"),
    [
        ("the status line and headers", HEADERS, b""),
        ("the body", b"x" * 2000, BIG_BODY_HEADERS),
    ],
)
def test_a_receiver_dripping_its_answer_is_cut_off_at_the_deadline_and_retried(
    alice, settings, what, drip, prefix
):
    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 1.0
    # One byte every 0.2 s: each read is quick, the exchange never ends (we stop at 12 s).
    with dripping(drip, prefix=prefix, interval=0.2) as dripper:
        delivery = send_test_event(endpoint=_endpoint(alice, dripper.url), now=T0)
        started = time.monotonic()
        attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)
        took = time.monotonic() - started
        assert took < 2.0, f"dripping {what} held the delivery for {took:.1f} s"
        # We hung up: the receiver's next write fails, near the deadline.
        give_up = time.monotonic() + 2
        while not dripper.closed_by_peer_after and time.monotonic() < give_up:
            time.sleep(0.05)
        assert dripper.closed_by_peer_after and dripper.closed_by_peer_after[0] < 2.0

    assert attempt.succeeded is False and attempt.error == "Timed out."
    assert 900 <= attempt.duration_ms < 2000
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempt_count == 1
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=60)
    assert delivery.locked_until is None


def test_a_silent_receiver_is_cut_off_at_the_deadline(alice, settings):
    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with receiving([Answer(200, delay=3)]) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url), now=T0)
        started = time.monotonic()
        attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)
        assert time.monotonic() - started < 1.2
    assert attempt.error == "Timed out." and attempt.status_code is None


@pytest.mark.django_db(transaction=True)
def test_no_database_connection_is_held_while_the_receiver_takes_its_time(alice):
    seen: dict[str, object] = {}
    release = threading.Event()
    with receiving([Answer(200, hold=release)]) as receiver:
        endpoint = _endpoint(alice, receiver.url)
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="evt_slow", event_type="ping",
            payload=encode_payload("ping", {}), next_attempt_at=T0,
        )

        def deliver() -> None:
            wrapper = connections["default"]  # this thread's own (the proxy follows the caller)
            seen["wrapper"] = wrapper
            try:
                seen["attempt"] = attempt_delivery(delivery_id=delivery.pk, now=T0)
            finally:
                connection.close()

        worker = threading.Thread(target=deliver)
        worker.start()
        receiver.wait_for(1)
        # The delivering thread is waiting on the peer: no transaction, no connection.
        wrapper = seen["wrapper"]
        seen["held_during_send"] = wrapper.connection is not None
        seen["atomic_during_send"] = wrapper.in_atomic_block
        release.set()
        worker.join(10)

    assert seen["held_during_send"] is False
    assert seen["atomic_during_send"] is False
    assert seen["attempt"].succeeded is True
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 1


def test_a_receiver_answering_nul_bytes_is_recorded_and_retried_not_resent_forever(alice):
    # PostgreSQL refuses NUL in text: the attempt could not be written, so it was never counted
    # and the delivery went out again every lease period, for ever.
    with receiving([Answer(500, body=b"oops\x00after")]) as receiver:
        delivery = send_test_event(endpoint=_endpoint(alice, receiver.url))
        attempt = attempt_delivery(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert attempt is not None and attempt.status_code == 500
    assert "\x00" not in attempt.response_excerpt and attempt.response_excerpt.startswith("oops")
    assert delivery.attempt_count == 1 and delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at is not None  # the 1-minute retry, not an endless resend


def test_a_name_that_resolves_slowly_is_cut_off_at_the_deadline(alice, settings, monkeypatch):
    """getaddrinfo is the OS resolver (a customer can run the DNS of their own domain); it
    cannot be interrupted, so the send stops waiting for it at the deadline."""
    import socket

    settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = 0.5
    real = socket.getaddrinfo

    def slow_dns(host, *args, **kwargs):
        if host == "slow-dns.example":
            time.sleep(3)
        return real("127.0.0.1", *args, **kwargs)

    endpoint = _endpoint(alice, "http://127.0.0.1:9999/hooks")
    endpoint.url = "http://slow-dns.example:9999/hooks"  # saved before its DNS became slow
    endpoint.save(update_fields=["url"])
    delivery = send_test_event(endpoint=endpoint)
    monkeypatch.setattr(socket, "getaddrinfo", slow_dns)

    started = time.monotonic()
    attempt = attempt_delivery(delivery_id=delivery.pk)

    assert time.monotonic() - started < 2
    assert attempt is not None and attempt.error == "Timed out." and not attempt.succeeded
