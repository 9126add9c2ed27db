"""Google Gemini through the official ``google-genai`` SDK.

``client.models.generate_content`` with the photo as an inline ``Part`` and
the answer constrained by ``response_json_schema`` (JSON Schema, the SDK's
successor of the OpenAPI-subset ``response_schema``).

The SDK reads its own environment: ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY``
for the key, ``GOOGLE_GEMINI_BASE_URL`` for the endpoint (``genai.Client``
resolves it through ``HttpOptions.base_url``). Its retries are off: the runner
retries within the request's deadline.
"""

from __future__ import annotations

import os
from typing import Any

import httpx2
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.decision import validate_cloud_answer
from verifications.engine.prompt import (
    ANSWER_FIELDS,
    LazyClient,
    answer_schema,
    parse_json_answer,
    pool_limits,
    positive_int,
    status_error,
    system_instructions,
    user_instructions,
)

# Gemini 2.5+ models think by default and count thoughts in this budget.
MAX_OUTPUT_TOKENS = 4096

_REFUSED = {
    "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR", "JAILBREAK",
}
_TRUNCATED = {"MAX_TOKENS", "CONTINUATION"}


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value)).upper()


class GeminiProvider:
    name = "gemini"
    evaluation_source = "cloud_vlm"
    env_keys = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(self, http_client: httpx2.Client | None = None) -> None:
        self._http_client = http_client
        self._client: LazyClient[genai.Client] = LazyClient(self._build_client)

    def is_configured(self) -> bool:
        return any(os.environ.get(name) for name in self.env_keys)

    def _build_client(self) -> genai.Client:
        if self._http_client is not None:
            http_options = types.HttpOptions(httpx_client=self._http_client)
        else:
            # client_args keep the SDK's own TLS setup; only the pool is sized for us.
            http_options = types.HttpOptions(client_args={"limits": pool_limits()})
        http_options.retry_options = types.HttpRetryOptions(attempts=1)
        return genai.Client(http_options=http_options)

    @property
    def client(self) -> genai.Client:
        """The process's ``genai.Client``, kept: a dropped one closes its connections."""
        try:
            return self._client.get()
        except ValueError:  # the SDK's "no API key" error
            raise EvaluationError(
                "provider_error", "The Gemini client is not configured (GEMINI_API_KEY)."
            ) from None

    def request(self, image: ModelImage, policy: PolicySpec, *, timeout: float) -> dict[str, Any]:
        """The keyword arguments of ``models.generate_content`` for this image and policy."""
        schema = answer_schema(policy)
        schema["propertyOrdering"] = list(ANSWER_FIELDS)  # Gemini's order of generation
        return {
            "model": settings.VERIFYAI_GEMINI_MODEL,
            "contents": [
                types.Part.from_bytes(data=image.data, mime_type=image.mime_type),
                user_instructions(policy),
            ],
            "config": types.GenerateContentConfig(
                system_instruction=system_instructions(policy),
                response_mime_type="application/json",
                response_json_schema=schema,
                max_output_tokens=MAX_OUTPUT_TOKENS,
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                automatic_continuation=False,
                # Retries are ours (runner.py): the client was built with attempts=1.
                http_options=types.HttpOptions(timeout=max(1, round(timeout * 1000))),  # ms
            ),
        }

    def evaluate(self, image: ModelImage, policy: PolicySpec, *, timeout: float) -> Evaluation:
        client = self.client
        try:
            response = client.models.generate_content(**self.request(image, policy, timeout=timeout))
        except (genai_errors.APIError, httpx2.HTTPError) as exc:
            raise _map_error(exc) from None
        return self._read(response, policy)

    def _read(self, response: Any, policy: PolicySpec) -> Evaluation:
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise EvaluationError("refused", "Gemini blocked the request.")
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            raise EvaluationError("malformed_answer", "The Gemini response has no candidate.")
        candidate = candidates[0]
        finish = _enum_name(getattr(candidate, "finish_reason", None))
        if finish in _REFUSED:
            raise EvaluationError("refused", "The Gemini model refused to judge this photo.")
        if finish in _TRUNCATED:
            raise EvaluationError("truncated_answer", "The Gemini answer was cut off at its token limit.")
        content = getattr(candidate, "content", None)
        parts = getattr(content, "parts", None) or []
        text = "".join(
            part.text for part in parts if isinstance(getattr(part, "text", None), str) and not part.thought
        )
        raw = parse_json_answer(text, "Gemini")
        evaluation = validate_cloud_answer(
            raw,
            policy,
            provider=self.name,
            reported_model=getattr(response, "model_version", None),
            configured_model=settings.VERIFYAI_GEMINI_MODEL,
        )
        usage = getattr(response, "usage_metadata", None)
        if usage is not None:
            evaluation.input_tokens = positive_int(getattr(usage, "prompt_token_count", None))
            answer = positive_int(getattr(usage, "candidates_token_count", None))
            thoughts = positive_int(getattr(usage, "thoughts_token_count", None)) or 0
            evaluation.output_tokens = answer + thoughts if answer is not None else None
        return evaluation


def _map_error(exc: Exception) -> EvaluationError:
    """SDK errors as our codes. Messages name the status only: never the key."""
    if isinstance(exc, httpx2.TimeoutException):
        return EvaluationError("provider_timeout", "Gemini did not answer in time.", transient=True)
    if isinstance(exc, httpx2.HTTPError):
        return EvaluationError("provider_unavailable", "Gemini could not be reached.", transient=True)
    status = getattr(exc, "status", None)
    kind = f" ({status})" if isinstance(status, str) else ""
    return status_error("Gemini", getattr(exc, "code", None), kind)
