"""The shared cast: customer A (the owner) and customer B (the outsider).

Every endpoint test can ask for ``client_a`` and ``client_b`` and check that B
sees a 404 for A's things.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image
from rest_framework.test import APIClient

from billing.models import Customer
from billing.services import create_customer


@dataclass
class Cast:
    customer: Customer
    api_key: str
    client: APIClient


def _cast(name: str) -> Cast:
    issued = create_customer(name=name, email=f"{name.lower()}@example.test")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.raw_key)
    return Cast(customer=issued.api_key.customer, api_key=issued.raw_key, client=client)


_PROVIDER_ENV = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_API_VERSION",
)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):
    # A developer's real provider keys must never send test traffic off this machine.
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    settings.VERIFYAI_DEFAULT_PROVIDER = ""
    settings.VERIFYAI_PROVIDER_FALLBACKS = []
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db) -> Cast:
    return _cast("Alice")


@pytest.fixture
def bob(db) -> Cast:
    return _cast("Bob")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def make_photo(
    fmt: str = "JPEG", size: tuple[int, int] = (640, 480), *, seed: int = 1, exif: bytes | None = None
) -> bytes:
    """A textured, well-exposed photo the local evaluator accepts as clear."""
    pixels = (np.random.RandomState(seed).rand(size[1], size[0], 3) * 200 + 28).astype("uint8")
    buffer = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    Image.fromarray(pixels).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def make_flat(color: tuple[int, int, int], fmt: str = "JPEG", size: tuple[int, int] = (640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def photo() -> bytes:
    return make_photo()


@pytest.fixture
def not_eager():
    """Tasks go to the broker (a real worker, see tests/celery_support.py), not run in-process."""
    from verifyai.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True
