"""OpenAI (and any OpenAI-compatible server) through the official ``openai`` SDK.

Chat Completions with the photo as an ``image_url`` data URL and the answer
constrained by a strict ``json_schema`` response format. Chat Completions is
what OpenAI-compatible servers (vLLM, Ollama, llama.cpp) implement, so pointing
``OPENAI_BASE_URL`` at one of them just works.

The SDK reads its own environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``OPENAI_ORG_ID``...). Its retries are off: the runner retries within the
request's deadline.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx2
import openai
from django.conf import settings

from verifications.engine.base import Evaluation, EvaluationError, ModelImage, PolicySpec
from verifications.engine.decision import validate_cloud_answer
from verifications.engine.prompt import (
    ANSWER_NAME,
    LazyClient,
    answer_schema,
    parse_json_answer,
    pool_limits,
    positive_int,
    status_error,
    system_instructions,
    user_instructions,
)

# Reasoning models count their reasoning in this budget; the JSON answer itself is small.
MAX_COMPLETION_TOKENS = 4096


class OpenAIProvider:
    name = "openai"
    evaluation_source = "cloud_vlm"
    env_keys = ("OPENAI_API_KEY",)

    def __init__(self, http_client: httpx2.Client | None = None) -> None:
        self._http_client = http_client
        self._client: LazyClient[openai.OpenAI] = LazyClient(self._build_client)

    def is_configured(self) -> bool:
        return any(os.environ.get(name) for name in self.env_keys)

    def _build_client(self) -> openai.OpenAI:
        http_client = self._http_client or openai.DefaultHttpxClient(limits=pool_limits())
        return openai.OpenAI(max_retries=0, http_client=http_client)

    @property
    def client(self) -> openai.OpenAI:
        try:
            return self._client.get()
        except openai.OpenAIError:
            raise EvaluationError(
                "provider_error", "The OpenAI client is not configured (OPENAI_API_KEY)."
            ) from None

    def request(self, image: ModelImage, policy: PolicySpec) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for this image and policy."""
        data_url = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode()}"
        return {
            "model": settings.VERIFYAI_OPENAI_MODEL,
            "messages": [
                {"role": "system", "content": system_instructions(policy)},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": user_instructions(policy)},
                        {"type": "image_url", "image_url": {"url": data_url, "detail": "high"}},
                    ],
                },
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": ANSWER_NAME, "strict": True, "schema": answer_schema(policy)},
            },
            "max_completion_tokens": MAX_COMPLETION_TOKENS,
        }

    def evaluate(self, image: ModelImage, policy: PolicySpec, *, timeout: float) -> Evaluation:
        client = self.client
        try:
            completion = client.chat.completions.create(**self.request(image, policy), timeout=timeout)
        except openai.OpenAIError as exc:
            raise _map_error(exc) from None
        return self._read(completion, policy)

    def _read(self, completion: Any, policy: PolicySpec) -> Evaluation:
        try:
            choice = completion.choices[0]
            message = choice.message
            finish_reason = choice.finish_reason
            refusal = getattr(message, "refusal", None)
            content = message.content
        except (AttributeError, IndexError, TypeError):
            raise EvaluationError("malformed_answer", "The OpenAI response has no answer.") from None
        if refusal:
            raise EvaluationError("refused", "The OpenAI model refused to judge this photo.")
        if finish_reason == "content_filter":
            raise EvaluationError("refused", "The OpenAI content filter withheld the answer.")
        if finish_reason == "length":
            raise EvaluationError("truncated_answer", "The OpenAI answer was cut off at its token limit.")
        raw = parse_json_answer(content if isinstance(content, str) else None, "OpenAI")
        evaluation = validate_cloud_answer(
            raw,
            policy,
            provider=self.name,
            reported_model=getattr(completion, "model", None),
            configured_model=settings.VERIFYAI_OPENAI_MODEL,
        )
        usage = getattr(completion, "usage", None)
        if usage is not None:
            evaluation.input_tokens = positive_int(getattr(usage, "prompt_tokens", None))
            evaluation.output_tokens = positive_int(getattr(usage, "completion_tokens", None))
        return evaluation


def _map_error(exc: openai.OpenAIError) -> EvaluationError:
    """SDK errors as our codes. Messages name the status and type only: never the key."""
    if isinstance(exc, openai.APITimeoutError):
        return EvaluationError("provider_timeout", "OpenAI did not answer in time.", transient=True)
    if isinstance(exc, openai.APIConnectionError):
        return EvaluationError("provider_unavailable", "OpenAI could not be reached.", transient=True)
    if isinstance(exc, openai.APIStatusError):
        kind = f" ({exc.type})" if isinstance(getattr(exc, "type", None), str) else ""
        return status_error("OpenAI", exc.status_code, kind)
    if isinstance(exc, openai.APIResponseValidationError):
        return EvaluationError("malformed_answer", "The OpenAI response did not match its format.")
    return EvaluationError("provider_error", f"The OpenAI call failed ({type(exc).__name__}).")
