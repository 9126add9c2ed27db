"""Thin Celery tasks: ids in, services do the work. The database holds the schedule."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.deliver", soft_time_limit=60, time_limit=90, ignore_result=True)
def deliver(delivery_id: str) -> None:
    # No Celery time limit can stop a thread: the wall-clock deadline in webhooks.http does.
    attempt = services.attempt_delivery(delivery_id=delivery_id)
    if attempt is not None:
        services.queue_next_waiting(delivery=attempt.delivery)


@shared_task(name="webhooks.deliver_due", soft_time_limit=60, time_limit=90)
def deliver_due() -> int:
    """Run by beat: queue whatever is due. The lease makes a duplicate send impossible."""
    from django.utils import timezone

    now = timezone.now()
    services.fail_due_for_inactive_endpoints(now=now)
    delivery_ids = services.due_delivery_ids(now=now)
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    return len(delivery_ids)
