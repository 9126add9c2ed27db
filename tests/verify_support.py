"""Helpers shared by the POST /api/v1/verify tests (not a test module itself)."""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Customer
from billing.services import usage_this_period
from verifications.models import Verification

VERIFY_URL = "/api/v1/verify"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
def upload(
    data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def post_multipart(
    client: Any,
    image: bytes | None,
    *,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    **fields: Any,
) -> Any:
    """Like ``curl -F image=@photo.jpg -F policy=... -F metadata='{...}'``."""
    data: dict[str, Any] = {"policy": "scooter_parking", **fields}
    data = {key: value for key, value in data.items() if value is not None}
    if image is not None:
        data["image"] = upload(image, name, content_type)
    return client.post(VERIFY_URL, data, format="multipart")


def post_json(client: Any, payload: dict[str, Any], **extra: Any) -> Any:
    return client.post(VERIFY_URL, json.dumps(payload), content_type="application/json", **extra)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_error(response: Any, status: int, code: str, **extra: Any) -> dict[str, Any]:
    """The one documented error body: {"error": str, "code": str, "status": int} + extras."""
    assert response.status_code == status, (
        response.status_code,
        getattr(response, "content", b"")[:500],
    )
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    assert body.get("code") == code, body
    assert body.get("status") == status and isinstance(body["status"], int), body
    for key, value in extra.items():
        assert body.get(key) == value, (key, body)
    # Every response, errors included, carries a well-formed X-Request-Id.
    assert REQUEST_ID.match(response.get("X-Request-Id", "")), response.get("X-Request-Id")
    return body


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@contextmanager
def nothing_stored(customer: Customer | None = None) -> Iterator[None]:
    """No Verification row, no stored file and no billed usage come out of the block."""

    def snapshot() -> tuple[int, list[Path], int | None]:
        usage = usage_this_period(customer) if customer is not None else None
        return Verification.objects.count(), stored_files(), usage

    before = snapshot()
    yield
    after = snapshot()
    assert after[0] == before[0], "a Verification was stored"
    assert after[1] == before[1], f"files were stored: {set(after[1]) - set(before[1])}"
    assert after[2] == before[2], "usage was counted"


@contextmanager
def providers_plugged_in(*providers: Any) -> Iterator[None]:
    """Register providers through the plugin interface; restore the registry afterwards."""
    from verifications.engine import registry

    saved = dict(registry._PROVIDERS)
    try:
        for provider in providers:
            registry.register(provider)
        yield
    finally:
        registry._PROVIDERS.clear()
        registry._PROVIDERS.update(saved)


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def fetch(client: Any, url: str) -> tuple[Any, bytes]:
    response = client.get(path_and_query(url))
    if getattr(response, "streaming", False):
        return response, b"".join(response.streaming_content)
    return response, response.content


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit greyscale PNG of width x height black pixels: a few KB on the wire."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
