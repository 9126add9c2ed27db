"""Anthropic Claude through the official ``anthropic`` SDK.

Messages API with the photo as a base64 image block and one forced, strict
tool whose ``input_schema`` is the answer schema: the model must answer by
calling it, so the decision arrives as the tool's JSON input.

The SDK reads its own environment (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``).
It sends the key as a Bearer header and takes no sampling parameters. Its
retries are off: the runner retries within the request's deadline.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import anthropic
import httpx2
from django.conf import settings

from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.decision import validate_cloud_answer
from verifications.engine.prompt import (
    ANSWER_NAME,
    LazyClient,
    answer_schema,
    pool_limits,
    positive_int,
    status_error,
    system_instructions,
    user_instructions,
)

MAX_TOKENS = 1024


class AnthropicProvider:
    name = "anthropic"
    evaluation_source = "cloud_vlm"
    env_keys = ("ANTHROPIC_API_KEY",)

    def __init__(self, http_client: httpx2.Client | None = None) -> None:
        self._http_client = http_client
        self._client: LazyClient[anthropic.Anthropic] = LazyClient(self._build_client)

    def is_configured(self) -> bool:
        return any(os.environ.get(name) for name in self.env_keys)

    def _build_client(self) -> anthropic.Anthropic:
        http_client = self._http_client or anthropic.DefaultHttpxClient(limits=pool_limits())
        return anthropic.Anthropic(max_retries=0, http_client=http_client)

    @property
    def client(self) -> anthropic.Anthropic:
        try:
            return self._client.get()
        except anthropic.AnthropicError:
            raise EvaluationError(
                "provider_error", "The Anthropic client is not configured (ANTHROPIC_API_KEY)."
            ) from None

    def request(self, image: ModelImage, policy: PolicySpec) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for this image and policy."""
        return {
            "model": settings.VERIFYAI_ANTHROPIC_MODEL,
            "max_tokens": MAX_TOKENS,
            "system": system_instructions(policy),
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": image.mime_type,
                                "data": base64.b64encode(image.data).decode(),
                            },
                        },
                        {"type": "text", "text": user_instructions(policy)},
                    ],
                }
            ],
            "tools": [
                {
                    "name": ANSWER_NAME,
                    "description": "Record the compliance decision for the photo.",
                    # The SDK's own helper keeps the schema inside what strict tools accept.
                    "input_schema": anthropic.transform_schema(answer_schema(policy)),
                    "strict": True,
                }
            ],
            "tool_choice": {"type": "tool", "name": ANSWER_NAME, "disable_parallel_tool_use": True},
        }

    def evaluate(self, image: ModelImage, policy: PolicySpec, *, timeout: float) -> Evaluation:
        client = self.client
        try:
            message = client.messages.create(**self.request(image, policy), timeout=timeout)
        except anthropic.AnthropicError as exc:
            raise _map_error(exc) from None
        return self._read(message, policy)

    def _read(self, message: Any, policy: PolicySpec) -> Evaluation:
        stop_reason = getattr(message, "stop_reason", None)
        if stop_reason == "refusal":
            raise EvaluationError("refused", "The Anthropic model refused to judge this photo.")
        if stop_reason in ("max_tokens", "model_context_window_exceeded"):
            raise EvaluationError(
                "truncated_answer", "The Anthropic answer was cut off at its token limit."
            )
        blocks = getattr(message, "content", None)
        raw = next(
            (
                getattr(block, "input", None)
                for block in (blocks if isinstance(blocks, list) else [])
                if getattr(block, "type", None) == "tool_use"
                and getattr(block, "name", None) == ANSWER_NAME
            ),
            None,
        )
        if raw is None:
            raise EvaluationError("malformed_answer", "The Anthropic model did not record a decision.")
        evaluation = validate_cloud_answer(
            raw,
            policy,
            provider=self.name,
            reported_model=getattr(message, "model", None),
            configured_model=settings.VERIFYAI_ANTHROPIC_MODEL,
        )
        usage = getattr(message, "usage", None)
        if usage is not None:
            # Cached prompt tokens are reported apart from input_tokens: all of them were read.
            parts = [
                positive_int(getattr(usage, field, None))
                for field in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            ]
            evaluation.input_tokens = sum(p for p in parts if p) if parts[0] is not None else None
            evaluation.output_tokens = positive_int(getattr(usage, "output_tokens", None))
        return evaluation


def _map_error(exc: anthropic.AnthropicError) -> EvaluationError:
    """SDK errors as our codes. Messages name the status and type only: never the key."""
    if isinstance(exc, anthropic.APITimeoutError):
        return EvaluationError("provider_timeout", "Anthropic did not answer in time.", transient=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return EvaluationError("provider_unavailable", "Anthropic could not be reached.", transient=True)
    if isinstance(exc, anthropic.APIStatusError):
        kind = f" ({exc.type})" if isinstance(getattr(exc, "type", None), str) else ""
        return status_error("Anthropic", exc.status_code, kind)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return EvaluationError("malformed_answer", "The Anthropic response did not match its format.")
    return EvaluationError("provider_error", f"The Anthropic call failed ({type(exc).__name__}).")
