"""Running a verification: the one write path behind /verify (and stream frames)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import Customer
from billing.services import (
    current_period_start,
    next_period_start,
    release_usage,
    reserve_usage,
    usage_this_period,
)
from policies.models import Policy
from policies.selectors import get_policy
from streams.models import Stream
from verifications.engine import dispatch
from verifications.engine.base import Evaluation, EvaluationError, PolicySpec
from verifications.engine.registry import default_provider_name, get_provider
from verifications.images import IntakeImage, prepare_for_model
from verifications.models import Verification, new_verification_id
from verifications.storage import delete_image, store_image
from verifyai.api.context import timed
from verifyai.api.errors import NotFound, UnknownPolicy, UsageLimitExceeded, VerificationFailed
from webhooks.services import queue_verification_completed

logger = logging.getLogger(__name__)


@dataclass
class VerifyResult:
    verification: Verification
    image_data: str | None = None


def policy_spec(policy: Policy) -> PolicySpec:
    return PolicySpec(
        policy_id=policy.policy_id,
        name=policy.name,
        description=policy.description,
        criteria=policy.criteria,
        violation_codes=policy.violation_codes,
        categories=policy.categories,
        feedback_guidance=policy.feedback_guidance,
    )


def resolve_policy(customer: Customer, policy_id: str) -> Policy:
    """The policy a request names, or 400 unknown_policy (never a 404 here)."""
    try:
        return get_policy(customer, policy_id)
    except NotFound:
        raise UnknownPolicy(f"Unknown policy '{policy_id}'.") from None


def _reserve(customer: Customer) -> None:
    limit = customer.subscription.plan.monthly_verification_limit
    if not reserve_usage(customer=customer, limit=limit):
        period_end = dt.datetime.combine(
            next_period_start(current_period_start()), dt.time.min, tzinfo=dt.UTC
        )
        raise UsageLimitExceeded(
            "Monthly verification limit reached for your plan.",
            retry_after=max(1, int((period_end - timezone.now()).total_seconds())),
            current_usage=usage_this_period(customer),
            limit=limit,
            upgrade_url=settings.VERIFYAI_UPGRADE_URL,
        )


def _storage_name(customer: Customer, verification_id: str, image: IntakeImage) -> str:
    period = current_period_start()
    return f"verifications/{customer.pk}/{period:%Y/%m}/{verification_id}.{image.extension}"


def verify_image(
    *,
    customer: Customer,
    image: IntakeImage,
    policy: Policy,
    metadata: dict[str, Any],
    provider: str | None,
    include_image_data: bool = False,
    request_id: str = "",
    stream: Stream | None = None,
) -> VerifyResult:
    """Judge ``image`` against ``policy`` (see ``resolve_policy``) and record the outcome.

    Usage is reserved before the evaluation and given back if it fails, so a
    failed verification is recorded (status ``error``) but never billed. Any other
    failure after the reservation (storage, the database) leaves nothing behind:
    the unit is given back and an image stored for the unwritten row is removed.
    """
    provider_impl = get_provider(provider or default_provider_name(policy.default_provider))
    provider_order = list(
        dict.fromkeys([provider_impl.name, *settings.VERIFYAI_PROVIDER_FALLBACKS])
    )
    _reserve(customer)
    stored_image: str | None = None
    recorded = False
    try:
        verification = Verification(
            id=new_verification_id(),
            customer=customer,
            policy=policy,
            policy_slug=policy.policy_id,
            metadata=metadata,
            image_sha256=image.sha256,
            image_format=image.format,
            image_width=image.width,
            image_height=image.height,
            provider=provider_impl.name,
            evaluation_source=provider_impl.evaluation_source,
            request_id=request_id,
            stream=stream,
        )
        evaluation = _evaluate(verification, image, policy, provider_order)
        with timed("write"):
            if customer.store_images:
                stored_image = verification.image = store_image(
                    name=_storage_name(customer, verification.id, image),
                    data=image.data,
                    content_type=image.content_type,
                )
            _apply(verification, evaluation)
            verification.created_at = timezone.now()
            with transaction.atomic():
                verification.save(force_insert=True)
                if evaluation is None:
                    release_usage(customer=customer)
                # Deliveries are recorded with the verification and sent once it commits.
                queue_verification_completed(verification=verification)
            recorded = True
    except BaseException:
        if not recorded:  # nothing was written: no bill, no orphaned image
            _undo_reservation(customer, stored_image)
        raise

    if evaluation is None:
        raise VerificationFailed(verification_id=verification.id)
    image_data = base64.b64encode(image.data).decode() if include_image_data else None
    return VerifyResult(verification=verification, image_data=image_data)


def _evaluate(
    verification: Verification, image: IntakeImage, policy: Policy, provider_order: list[str]
) -> Evaluation | None:
    """The evaluation, or None with the failure recorded on ``verification``."""
    started = time.perf_counter()
    deadline = time.time() + settings.VERIFYAI_VERIFY_DEADLINE_SECONDS
    evaluation: Evaluation | None = None
    try:
        with timed("vision"):
            model_image = prepare_for_model(image)
            evaluation = dispatch.evaluate(
                provider_order, model_image, policy_spec(policy), deadline=deadline
            )
    except EvaluationError as exc:
        logger.warning("Evaluation %s failed: %s (%s)", verification.id, exc.code, exc.message)
        verification.error_code, verification.error_message = exc.code, exc.message
        verification.details = {"attempts": exc.attempts}
    except Exception:  # noqa: BLE001 - any provider bug is recorded, never lost
        logger.exception("Evaluation %s crashed", verification.id)
        verification.error_code = "internal_error"
        verification.error_message = "The evaluator failed unexpectedly."
    verification.latency_ms = round((time.perf_counter() - started) * 1000)
    return evaluation


def _undo_reservation(customer: Customer, stored_image: str | None) -> None:
    """After a failure that left no verification row: give the unit back, drop the image.
    Best-effort (the database may be what failed); the original error is what the caller sees."""
    try:
        release_usage(customer=customer)
    except Exception:  # noqa: BLE001
        logger.exception("Could not give back the usage unit reserved for customer %s", customer.pk)
    if stored_image:
        try:
            delete_image(stored_image)
        except Exception:  # noqa: BLE001
            logger.exception("Could not remove the orphaned image %s", stored_image)


def _apply(verification: Verification, evaluation: Evaluation | None) -> None:
    if evaluation is None:
        verification.status = Verification.Status.ERROR
        verification.is_compliant = False
        verification.feedback = "We could not verify this photo. Please try again."
        return
    verification.status = Verification.Status.SUCCESS
    verification.is_compliant = evaluation.is_compliant
    verification.confidence = evaluation.confidence
    verification.category = evaluation.category
    verification.violation_reasons = evaluation.violation_reasons
    verification.feedback = evaluation.feedback
    verification.provider = evaluation.provider
    verification.model = evaluation.model
    verification.evaluation_source = evaluation.evaluation_source
    verification.input_tokens = evaluation.input_tokens
    verification.output_tokens = evaluation.output_tokens
    verification.details = evaluation.details
