"""Housekeeping tasks of the shared plumbing, run by Celery beat."""

from celery import shared_task

from verifyai.api.idempotency import purge_expired


@shared_task(name="verifyai.purge_expired_idempotency_keys")
def purge_expired_idempotency_keys() -> int:
    return purge_expired()
