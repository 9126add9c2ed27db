"""Thin Celery tasks: ids in, services do the work. The database holds the schedule."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.deliver", soft_time_limit=60, time_limit=90, ignore_result=True)
def deliver(delivery_id: str) -> None:
    services.attempt_delivery(delivery_id=delivery_id)


@shared_task(name="webhooks.deliver_due", soft_time_limit=60, time_limit=90)
def deliver_due() -> int:
    """Run by beat: queue whatever is due. The lease makes a duplicate send impossible."""
    from django.utils import timezone

    delivery_ids = services.due_delivery_ids(now=timezone.now())
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    return len(delivery_ids)
