"""One customer's webhooks cannot take every delivery slot: concurrent deliveries are capped
per endpoint and per customer (over the cap a delivery waits, pending, for the next run),
the due list is fair across endpoints, endpoints per customer are capped, and test events
and redeliveries are rate limited. All counted in the database, so the caps hold across
worker processes."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from tests.concurrency_support import run_concurrently
from tests.verify_support import assert_error
from tests.webhooks_support import Answer, receiving
from webhooks import tasks
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    attempt_delivery,
    create_endpoint,
    deliver_due,
    due_delivery_ids,
    encode_payload,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
URL = "/api/v1/webhooks"


def _endpoint(cast, url):
    return create_endpoint(customer=cast.customer, url=url, events=["verification.completed"])


def _queued(endpoint, count, at=T0):
    return WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, event_id=f"evt_{endpoint.pk}_{index}", event_type="ping",
            payload=encode_payload("ping", {}), next_attempt_at=at,
        )
        for index in range(count)
    )


def _attempt_all_at_once(deliveries):
    ids = iter([delivery.pk for delivery in deliveries])
    lock = threading.Lock()

    def one():
        with lock:
            delivery_id = next(ids)
        return attempt_delivery(delivery_id=delivery_id, now=T0)

    return run_concurrently(len(deliveries), one)


@pytest.mark.django_db(transaction=True)
def test_a_slow_endpoint_gets_at_most_its_cap_of_deliveries_at_once_and_the_rest_wait(
    alice, bob, settings
):
    settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT = 2
    release = threading.Event()
    with receiving(default=Answer(200, hold=release)) as slow, receiving() as fast:
        deliveries = _queued(_endpoint(alice, slow.url), 5)
        bobs = _queued(_endpoint(bob, fast.url), 1)
        results: list = []
        racing = threading.Thread(target=lambda: results.extend(_attempt_all_at_once(deliveries)))
        racing.start()
        slow.wait_for(2)
        # Another customer is not held up while Alice's endpoint is full.
        assert attempt_delivery(delivery_id=bobs[0].pk, now=T0).succeeded is True
        time.sleep(0.3)  # every racer has tried by now
        assert len(slow.requests) == 2
        release.set()
        racing.join(20)

        assert slow.max_in_flight == 2
        sent = len(slow.requests)
        assert sum(result is not None for result in results) == sent
        # The others were deferred, not dropped: pending, untouched, still due.
        waiting = WebhookDelivery.objects.filter(endpoint__customer=alice.customer, status="pending")
        assert waiting.count() == 5 - sent >= 1
        assert all(d.attempt_count == 0 and d.next_attempt_at == T0 for d in waiting)
        assert not WebhookDelivery.objects.filter(attempts__isnull=False, status="pending").exists()

        # Later runs send them, still no more than two at a time.
        for run in range(1, 4):
            deliver_due(now=T0 + dt.timedelta(seconds=30 * run))
        assert len(slow.requests) == 5 and slow.max_in_flight == 2
    assert set(
        WebhookDelivery.objects.filter(endpoint__customer=alice.customer).values_list("status", flat=True)
    ) == {"succeeded"}


@pytest.mark.django_db(transaction=True)
def test_a_customer_gets_at_most_its_cap_of_deliveries_at_once_across_its_endpoints(alice, settings):
    settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT = 2
    settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_CUSTOMER = 3
    release = threading.Event()
    with receiving(default=Answer(200, hold=release)) as slow:
        deliveries = [d for _ in range(3) for d in _queued(_endpoint(alice, slow.url), 2)]
        results: list = []
        racing = threading.Thread(target=lambda: results.extend(_attempt_all_at_once(deliveries)))
        racing.start()
        slow.wait_for(3)
        time.sleep(0.3)  # every racer has tried by now
        assert len(slow.requests) == 3
        release.set()
        racing.join(20)
        assert slow.max_in_flight == 3
        sent = len(slow.requests)
    assert sum(result is not None for result in results) == sent
    assert WebhookDelivery.objects.filter(status="pending", attempt_count=0).count() == 6 - sent >= 1


@pytest.mark.django_db(transaction=True)
def test_a_finished_delivery_hands_its_slot_to_the_next_one_waiting(alice, settings):
    settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT = 1
    with receiving() as receiver:
        first, *waiting = _queued(_endpoint(alice, receiver.url), 3, at=dt.datetime.now(dt.UTC))

        tasks.deliver(first.pk)  # the worker's task; Celery runs what it queues inline here

        assert len(receiver.requests) == 3 and receiver.max_in_flight == 1
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_backlog_on_one_endpoint_does_not_crowd_other_endpoints_out_of_the_due_list(
    alice, bob, settings
):
    settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT = 2
    _queued(_endpoint(alice, "http://127.0.0.1:9999/a"), 600, at=T0)
    [bobs] = _queued(_endpoint(bob, "http://127.0.0.1:9999/b"), 1, at=T0 + dt.timedelta(seconds=1))

    due = due_delivery_ids(now=T0 + dt.timedelta(seconds=5))

    assert bobs.pk in due
    assert len(due) == 3  # two of Alice's (her cap) and Bob's one


def test_one_endpoint_more_than_the_cap_is_a_400_and_nothing_is_stored(alice, bob, settings):
    settings.VERIFYAI_WEBHOOK_MAX_ENDPOINTS_PER_CUSTOMER = 3
    body = {"url": "http://127.0.0.1:9999/hooks", "events": ["verification.completed"]}
    for _ in range(3):
        assert alice.client.post(URL, body, format="json").status_code == 201

    refused = assert_error(alice.client.post(URL, body, format="json"), 400, "too_many_webhook_endpoints")

    assert "3" in refused["error"]
    assert WebhookEndpoint.objects.filter(customer=alice.customer).count() == 3
    # The cap is per customer.
    assert bob.client.post(URL, body, format="json").status_code == 201


def test_test_events_and_redeliveries_are_rate_limited_per_customer(alice, settings):
    settings.VERIFYAI_WEBHOOK_MANUAL_SENDS_PER_MINUTE = 3
    first = alice.client.post(URL, {"url": "http://127.0.0.1:9999/a", "events": ["verification.completed"]},
                              format="json").json()["id"]
    second = alice.client.post(URL, {"url": "http://127.0.0.1:9999/b", "events": ["verification.completed"]},
                               format="json").json()["id"]
    sent = [alice.client.post(f"{URL}/{first}/test") for _ in range(2)]
    assert [r.status_code for r in sent] == [202, 202]
    delivery = sent[0].json()["id"]
    assert alice.client.post(f"{URL}/{first}/deliveries/{delivery}/redeliver").status_code == 202

    # Both kinds, on any of the customer's endpoints, count against one budget.
    for path in (f"{URL}/{second}/test", f"{URL}/{first}/deliveries/{delivery}/redeliver"):
        response = alice.client.post(path)
        assert_error(response, 429, "rate_limited")
        assert 1 <= int(response["Retry-After"]) <= 60
    assert WebhookDelivery.objects.count() == 3
