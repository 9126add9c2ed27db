"""Celery tasks of the verifications app. Thin: JSON in, a service call, JSON out."""

from __future__ import annotations

from celery import shared_task

from verifications.engine import replies
from verifications.engine.dispatch import run_payload


@shared_task(name="verifications.evaluate_image", acks_late=False, ignore_result=False)
def evaluate_image(payload: dict) -> dict:
    # Not acks_late: a verification is answered within its deadline or not at all,
    # so redelivering it to another worker after a crash would only waste a call.
    outcome = run_payload(payload)
    if payload.get("reply_key"):
        replies.send(payload["reply_key"], outcome)  # the caller stored ignore_result for this one
    return outcome
