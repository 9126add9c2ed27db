"""The provider interface every evaluator implements, and its value types.

Values are plain dataclasses so that the same call can run in the web process
or in a Celery worker.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

# Every provider name a request or policy may ask for. Here, not in the registry, so that
# forms and serializers can offer the choices without importing the three cloud SDKs.
PROVIDER_NAMES = ("openai", "anthropic", "gemini", "local")


@dataclass(frozen=True)
class ModelImage:
    """The image as every provider receives it: prepared once per request.

    JPEG, EXIF orientation applied, downscaled to what vision models use, and
    re-encoded without metadata (no GPS or camera EXIF reaches a provider).
    """

    data: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"

    def pixels(self, *, long_side: int | None = None) -> Image.Image:
        """Decoded RGB pixels. With ``long_side``, a JPEG may be decoded at a reduced
        DCT scale, never below that length on its long side (cheap downscaling)."""
        image = Image.open(io.BytesIO(self.data))
        if long_side:
            width, height = image.size
            ratio = long_side / max(width, height)
            image.draft("RGB", (max(1, math.ceil(width * ratio)), max(1, math.ceil(height * ratio))))
        return image.convert("RGB")


@dataclass(frozen=True)
class PolicySpec:
    """What a provider needs to know about a policy, detached from the ORM."""

    policy_id: str
    name: str
    description: str
    criteria: list[dict[str, str]]
    violation_codes: list[dict[str, str]]
    categories: list[dict[str, Any]]
    feedback_guidance: str

    @property
    def codes(self) -> list[str]:
        return [entry["code"] for entry in self.violation_codes]

    @property
    def category_ids(self) -> list[str]:
        return [category["id"] for category in self.categories]

    def category_is_compliant(self, category_id: str) -> bool | None:
        for category in self.categories:
            if category["id"] == category_id:
                return bool(category.get("is_compliant"))
        return None

    def first_category(self, *, compliant: bool, preferred: str) -> str:
        if self.category_is_compliant(preferred) is compliant:
            return preferred
        return next(c["id"] for c in self.categories if bool(c.get("is_compliant")) is compliant)


@dataclass
class Evaluation:
    """A validated decision, ready to be stored."""

    is_compliant: bool
    confidence: float
    category: str
    violation_reasons: list[str]
    feedback: str
    provider: str
    model: str
    evaluation_source: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class EvaluationError(Exception):
    """The provider could not produce a decision we can trust.

    ``transient`` marks failures worth retrying (timeouts, 429, 5xx).
    """

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient
        self.attempts: list[dict[str, Any]] = []

    def with_attempts(self, attempts: list[dict[str, Any]]) -> EvaluationError:
        self.attempts = list(attempts)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "transient": self.transient,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationError:
        error = cls(data["code"], data["message"], transient=data.get("transient", False))
        return error.with_attempts(data.get("attempts", []))


class Provider(Protocol):
    name: str
    evaluation_source: str

    def is_configured(self) -> bool: ...

    def evaluate(self, image: ModelImage, policy: PolicySpec, *, timeout: float) -> Evaluation:
        """Judge the image, within ``timeout`` seconds, or raise EvaluationError."""
        ...
