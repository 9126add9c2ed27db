"""Strict validation of a provider's raw answer against the policy.

Every provider's answer passes through :func:`validate_decision`, so no unknown
violation code, out-of-range confidence or self-contradicting decision is ever
stored or returned.
"""

from __future__ import annotations

import math
from typing import Any

from verifications.engine.base import Evaluation, EvaluationError, PolicySpec

MAX_FEEDBACK_CHARS = 500


def _malformed(message: str) -> EvaluationError:
    return EvaluationError("malformed_answer", message)


def validate_decision(
    raw: Any, policy: PolicySpec, *, provider: str, model: str, evaluation_source: str
) -> Evaluation:
    if not isinstance(raw, dict):
        raise _malformed("The answer is not a JSON object.")
    is_compliant = raw.get("is_compliant")
    confidence = raw.get("confidence")
    category = raw.get("category")
    violations = raw.get("violation_reasons")
    feedback = raw.get("feedback")

    if not isinstance(is_compliant, bool):
        raise _malformed("is_compliant is not a boolean.")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise _malformed("confidence is not a number.")
    if not math.isfinite(confidence) or not 0 <= confidence <= 1:
        raise _malformed("confidence is outside 0..1.")
    if not isinstance(violations, list) or not all(isinstance(v, str) for v in violations):
        raise _malformed("violation_reasons is not a list of strings.")
    unknown = sorted(set(violations) - set(policy.codes))
    if unknown:
        raise _malformed(f"Unknown violation codes: {', '.join(unknown)}.")
    if not isinstance(category, str) or category not in policy.category_ids:
        raise _malformed(f"Unknown category: {category!r}.")
    if not isinstance(feedback, str) or not feedback.strip():
        raise _malformed("feedback is missing.")
    if policy.category_is_compliant(category) is not is_compliant:
        raise _malformed("is_compliant contradicts the category.")
    if is_compliant and violations:
        raise _malformed("A compliant answer lists violations.")

    return Evaluation(
        is_compliant=is_compliant,
        confidence=round(float(confidence), 4),
        category=category,
        violation_reasons=list(dict.fromkeys(violations)),  # de-duplicated, order kept
        feedback=feedback.strip()[:MAX_FEEDBACK_CHARS],
        provider=provider,
        model=model,
        evaluation_source=evaluation_source,
    )


def validate_cloud_answer(
    raw: Any, policy: PolicySpec, *, provider: str, reported_model: Any, configured_model: str
) -> Evaluation:
    """validate_decision for a cloud VLM: the model the API says answered, else ours."""
    model = reported_model if isinstance(reported_model, str) and reported_model else configured_model
    return validate_decision(
        raw, policy, provider=provider, model=model, evaluation_source="cloud_vlm"
    )
