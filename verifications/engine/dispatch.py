"""Where an evaluation runs.

The embedded ``local`` evaluator always runs in-process (a few milliseconds of CPU). VLM
calls go to a Celery worker on the evaluations queue when ``VERIFYAI_EVALUATIONS`` is
``worker`` (production, with a broker): the web request waits for the worker's answer up to
the deadline, through a Redis reply list (or Celery's result backend without Redis). With
``inline`` (the embedded default) the request's own thread makes the call: no queue hop and
nothing to poll, and no worker whose crash could hold up a verification.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid

from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from verifications.engine import replies
from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.runner import evaluate_in_order

logger = logging.getLogger(__name__)

INLINE_PROVIDERS = frozenset({"local"})
# Slack for the worker to report back after its own deadline handling.
RESULT_GRACE_SECONDS = 0.5


def _image_key() -> str:
    return f"model-image:{uuid.uuid4().hex}"


def evaluation_payload(
    provider_names: list[str], image: ModelImage, policy: PolicySpec, deadline: float, image_key: str,
    reply_key: str | None = None,
) -> dict[str, object]:
    """The task's arguments. The image itself travels through the shared cache as
    raw bytes: JSON-encoding it into the broker message cost more CPU than the
    rest of the request."""
    return {
        "providers": provider_names,
        "deadline": deadline,
        "policy": dataclasses.asdict(policy),
        "image": {
            "key": image_key,
            "width": image.width,
            "height": image.height,
            "mime_type": image.mime_type,
        },
        "reply_key": reply_key,  # None: answer through Celery's result backend
    }


def run_payload(payload: dict) -> dict[str, object]:
    """The worker's side: JSON in, JSON out (never a pickled exception)."""
    image_fields = dict(payload["image"])
    data = cache.get(image_fields.pop("key"))
    if data is None:
        error = EvaluationError("image_expired", "The image was gone before the worker ran.")
        return {"error": error.to_dict()}
    image = ModelImage(data=data, **image_fields)
    policy = PolicySpec(**payload["policy"])
    try:
        evaluation = evaluate_in_order(
            list(payload["providers"]), image, policy, deadline=float(payload["deadline"])
        )
    except EvaluationError as exc:
        return {"error": exc.to_dict()}
    return {"evaluation": dataclasses.asdict(evaluation)}


def evaluate(
    provider_names: list[str], image: ModelImage, policy: PolicySpec, *, deadline: float
) -> Evaluation:
    if set(provider_names) <= INLINE_PROVIDERS:
        return evaluate_in_order(provider_names, image, policy, deadline=deadline)
    if settings.VERIFYAI_EVALUATIONS == "inline":
        _release_connection()
        return evaluate_in_order(provider_names, image, policy, deadline=deadline)

    from verifications.tasks import evaluate_image

    image_key = _image_key()
    reply_key = replies.new_reply_key() if replies.available() else None
    payload = evaluation_payload(provider_names, image, policy, deadline, image_key, reply_key)
    try:
        cache.set(image_key, image.data, timeout=int(deadline - time.time()) + 30)
        # A task still queued at the deadline is dropped by the worker, not run late.
        async_result = evaluate_image.apply_async(
            args=[payload], expires=dt.datetime.fromtimestamp(deadline, tz=dt.UTC),
            ignore_result=reply_key is not None,
        )
    except Exception as exc:  # noqa: BLE001 - broker or cache down: the queue is unusable
        raise EvaluationError("queue_unavailable", "The inference queue is unreachable.") from exc
    _release_connection()
    timeout = deadline - time.time() + RESULT_GRACE_SECONDS
    outcome = (
        _wait_for_reply(reply_key, timeout, image_key) if reply_key is not None
        else _wait_for_result(async_result, timeout, image_key)
    )
    if "error" in outcome:
        raise EvaluationError.from_dict(outcome["error"])
    return Evaluation(**outcome["evaluation"])


def _release_connection() -> None:
    """Hand the DB connection back to the pool while we wait on the model, so 200 waiting
    requests do not hold 200 database connections."""
    if not connection.in_atomic_block:
        connection.close()


def _deadline_exceeded() -> EvaluationError:
    return EvaluationError("deadline_exceeded", "The model did not answer in time.", transient=True)


def _wait_for_reply(reply_key: str, timeout: float, image_key: str) -> dict:
    try:
        outcome = replies.wait(reply_key, timeout)
    except RedisError as exc:
        logger.warning("Waiting for reply %s failed: %r", reply_key, exc)
        raise EvaluationError("queue_unavailable", "The inference queue is unreachable.") from exc
    finally:
        cache.delete(image_key)
    if outcome is None:
        raise _deadline_exceeded()
    return outcome


def _wait_for_result(async_result: AsyncResult, timeout: float, image_key: str) -> dict:
    try:
        return async_result.get(timeout=max(0.1, timeout), interval=0.02)
    except CeleryTimeout:
        raise _deadline_exceeded() from None
    finally:
        cache.delete(image_key)
        try:
            async_result.forget()
        except (OSError, BrokerError):  # nothing was stored (the file backend raises then)
            pass
