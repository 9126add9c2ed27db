"""Running providers: retries with backoff for transient errors, then fallbacks,
all inside one deadline. Runs wherever it is called (a worker, or inline)."""

from __future__ import annotations

import logging
import random
import time

from django.conf import settings

from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.registry import get_provider
from verifyai.api.errors import ProviderUnavailable

logger = logging.getLogger(__name__)

# Below this, a provider call cannot usefully start.
MIN_CALL_SECONDS = 0.2


def _backoff(attempt: int) -> float:
    base = settings.VERIFYAI_PROVIDER_BACKOFF_SECONDS * (2**attempt)
    return base * random.uniform(0.5, 1.0)  # jitter keeps retries of many clients apart


def evaluate_in_order(
    provider_names: list[str], image: ModelImage, policy: PolicySpec, *, deadline: float
) -> Evaluation:
    """Try each provider in order; retry transient failures while time allows.

    ``deadline`` is wall-clock epoch seconds, so it means the same in the web
    process and in a worker.
    """
    attempts: list[dict[str, object]] = []
    last_error = EvaluationError("no_provider", "No provider is configured.")
    for name in provider_names:
        try:
            provider = get_provider(name)
        except ProviderUnavailable:
            continue  # an unconfigured fallback is skipped, not fatal
        for attempt in range(settings.VERIFYAI_PROVIDER_MAX_RETRIES + 1):
            remaining = deadline - time.time()
            if remaining < MIN_CALL_SECONDS:
                raise EvaluationError(
                    "deadline_exceeded", "The model did not answer in time.", transient=True
                ).with_attempts(attempts)
            started = time.perf_counter()
            try:
                timeout = min(remaining, settings.VERIFYAI_PROVIDER_TIMEOUT_SECONDS)
                evaluation = provider.evaluate(image, policy, timeout=timeout)
            except EvaluationError as exc:
                elapsed = round((time.perf_counter() - started) * 1000)
                attempts.append({"provider": name, "error": exc.code, "ms": elapsed})
                logger.warning("Provider %s failed (%s): %s", name, exc.code, exc.message)
                last_error = exc
                if not exc.transient or attempt == settings.VERIFYAI_PROVIDER_MAX_RETRIES:
                    break  # no retry (a refusal or malformed answer will not improve) or none left
                pause = _backoff(attempt)
                if time.time() + pause + MIN_CALL_SECONDS > deadline:
                    break
                time.sleep(pause)
                continue
            attempts.append({"provider": name, "ms": round((time.perf_counter() - started) * 1000)})
            evaluation.details = {**evaluation.details, "attempts": attempts}
            return evaluation
    raise last_error.with_attempts(attempts)
