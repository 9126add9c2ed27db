"""Where an evaluation runs: VLM calls go to a Celery worker, the embedded
``local`` evaluator runs in-process (it is a few milliseconds of CPU).

The web request waits for the worker's answer up to the deadline. On embedded
defaults the broker is a folder and results are files; in production both are
Redis. The code path is the same.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import time

from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError as BrokerError

from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.runner import evaluate_in_order

INLINE_PROVIDERS = frozenset({"local"})
# Slack for the worker to report back after its own deadline handling.
RESULT_GRACE_SECONDS = 0.5


def evaluation_payload(
    provider_names: list[str], image: ModelImage, policy: PolicySpec, deadline: float
) -> dict[str, object]:
    return {
        "providers": provider_names,
        "deadline": deadline,
        "policy": dataclasses.asdict(policy),
        "image": {
            "data": base64.b64encode(image.data).decode(),
            "width": image.width,
            "height": image.height,
            "mime_type": image.mime_type,
        },
    }


def run_payload(payload: dict) -> dict[str, object]:
    """The worker's side: JSON in, JSON out (never a pickled exception)."""
    image_fields = dict(payload["image"])
    image = ModelImage(data=base64.b64decode(image_fields.pop("data")), **image_fields)
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

    from verifications.tasks import evaluate_image

    payload = evaluation_payload(provider_names, image, policy, deadline)
    try:
        # A task still queued at the deadline is dropped by the worker, not run late.
        async_result = evaluate_image.apply_async(
            args=[payload], expires=dt.datetime.fromtimestamp(deadline, tz=dt.timezone.utc)
        )
    except BrokerError as exc:
        raise EvaluationError("queue_unavailable", "The inference queue is unreachable.") from exc
    try:
        outcome = async_result.get(
            timeout=max(0.1, deadline - time.time() + RESULT_GRACE_SECONDS), interval=0.02
        )
    except CeleryTimeout:
        raise EvaluationError(
            "deadline_exceeded", "The model did not answer in time.", transient=True
        ) from None
    finally:
        try:
            async_result.forget()
        except (OSError, BrokerError):  # nothing was stored (the file backend raises then)
            pass
    if "error" in outcome:
        raise EvaluationError.from_dict(outcome["error"])
    return Evaluation(**outcome["evaluation"])
