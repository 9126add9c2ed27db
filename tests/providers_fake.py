"""Fakes of the three model APIs at the HTTP layer, shared by the provider tests.

Nothing of ours is patched: the real SDKs build and send real requests, and a
``httpx2.MockTransport`` (or a tiny server on 127.0.0.1) answers them in each
API's own wire format.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx2
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from policies.builtin import BUILTIN_POLICIES
from tests.conftest import make_photo

VERIFY_URL = "/api/v1/verify"
SCOOTER_CODES = next(p for p in BUILTIN_POLICIES if p["policy_id"] == "scooter_parking")[
    "violation_codes"
]
SCOOTER_CODE_IDS = [entry["code"] for entry in SCOOTER_CODES]

COMPLIANT = {
    "is_compliant": True,
    "confidence": 0.94,
    "category": "compliant",
    "violation_reasons": [],
    "feedback": "Thanks, the scooter is parked correctly.",
}
NON_COMPLIANT = {
    "is_compliant": False,
    "confidence": 0.87,
    "category": "unsafe",
    "violation_reasons": ["kickstand_up", "blocking_sidewalk"],
    "feedback": "Please deploy the kickstand and move the scooter off the walkway.",
}
UNKNOWN_CODE = {**NON_COMPLIANT, "violation_reasons": ["parked_on_the_moon"]}
CONTRADICTION = {**COMPLIANT, "is_compliant": False}


# --- Scripted HTTP answers ------------------------------------------------------------


class FakeAPI:
    """Answers each request with the next scripted item (the last one repeats) and
    records every request.

    An item is a JSON body (answered 200), ``(status, body)``, an ``httpx2``
    transport exception class (raised, as a dropped or slow connection would),
    or a callable taking the request and returning any of those.
    """

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[httpx2.Request] = []
        self._lock = threading.Lock()

    def answers(self, *script: Any) -> FakeAPI:
        """Script the next answers (the last one repeats)."""
        self.script = list(script)
        return self

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            request.read()
            self.requests.append(request)
            item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if callable(item) and not isinstance(item, type):
            item = item(request)
        if isinstance(item, type) and issubclass(item, httpx2.TransportError):
            raise item("simulated network failure", request=request)
        status, body = item if isinstance(item, tuple) else (200, item)
        return httpx2.Response(status, json=body, headers={"x-request-id": f"req_{uuid.uuid4().hex[:12]}"})

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    @property
    def calls(self) -> int:
        return len(self.requests)

    def body(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[index].content)


def fast_retries(settings: Any) -> None:
    settings.VERIFYAI_PROVIDER_BACKOFF_SECONDS = 0.001
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 2


def verify(client: Any, provider: str, image: bytes | None = None, policy: str = "scooter_parking") -> Any:
    body = {
        "image": SimpleUploadedFile("photo.jpg", image or make_photo(), content_type="image/jpeg"),
        "policy": policy,
        "provider": provider,
    }
    return client.post(VERIFY_URL, body, format="multipart")


# --- Wire formats -----------------------------------------------------------------------


def openai_completion(
    answer: dict[str, Any] | None = None,
    *,
    content: str | None = None,
    refusal: str | None = None,
    finish_reason: str = "stop",
    model: str = "gpt-5-mini-2025-08-07",
    usage: tuple[int, int] = (1214, 96),
) -> dict[str, Any]:
    """A full ``chat.completion`` object, as the API sends it."""
    if content is None and answer is not None:
        content = json.dumps(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 64,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": None,
    }


def openai_error(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": None}}


def anthropic_message(
    answer: dict[str, Any] | None = None,
    *,
    stop_reason: str = "tool_use",
    content: list[dict[str, Any]] | None = None,
    model: str = "claude-sonnet-4-6",
    usage: tuple[int, int] = (1588, 143),
) -> dict[str, Any]:
    """A full Messages API ``message``, the answer as a ``tool_use`` block."""
    if content is None:
        content = [
            {
                "type": "tool_use",
                "id": f"toolu_01{uuid.uuid4().hex[:22]}",
                "name": "verification_decision",
                "input": answer,
            }
        ]
    return {
        "id": f"msg_01{uuid.uuid4().hex[:22]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage[0],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": usage[1],
            "service_tier": "standard",
        },
    }


def anthropic_error(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": f"req_011{uuid.uuid4().hex[:21]}",
    }


def gemini_response(
    answer: dict[str, Any] | None = None,
    *,
    text: str | None = None,
    finish_reason: str = "STOP",
    model: str = "gemini-2.5-flash",
    usage: tuple[int, int, int] = (1290, 52, 180),
    block_reason: str | None = None,
) -> dict[str, Any]:
    """A full ``generateContent`` response: candidates, parts, finishReason, usageMetadata."""
    prompt, answer_tokens, thoughts = usage
    body: dict[str, Any] = {
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt + answer_tokens + thoughts,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": prompt - 1032},
                {"modality": "IMAGE", "tokenCount": 1032},
            ],
            "thoughtsTokenCount": thoughts,
        },
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
    }
    if block_reason:
        body["promptFeedback"] = {"blockReason": block_reason}
        return body
    if text is None and answer is not None:
        text = json.dumps(answer)
    candidate: dict[str, Any] = {"finishReason": finish_reason, "index": 0}
    if text is not None:
        candidate["content"] = {"parts": [{"text": text}], "role": "model"}
    body["candidates"] = [candidate]
    return body


def gemini_error(status: int, state: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "message": message, "status": state}}


# --- What the fake received ------------------------------------------------------------


def openai_image(body: dict[str, Any]) -> tuple[str, bytes]:
    part = next(p for p in body["messages"][-1]["content"] if p["type"] == "image_url")
    header, data = part["image_url"]["url"].split(",", 1)
    return header, base64.b64decode(data)


def anthropic_image(body: dict[str, Any]) -> tuple[str, bytes]:
    block = next(b for b in body["messages"][-1]["content"] if b["type"] == "image")
    return block["source"]["media_type"], base64.b64decode(block["source"]["data"])


def gemini_image(body: dict[str, Any]) -> tuple[str, bytes]:
    parts = body["contents"][-1]["parts"]
    blob = next(p.get("inlineData") or p.get("inline_data") for p in parts if "inlineData" in p or "inline_data" in p)
    # google-genai encodes bytes as URL-safe base64, which the API's JSON mapping accepts.
    data = blob["data"]
    return blob.get("mimeType") or blob.get("mime_type"), base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def jpeg_markers(data: bytes) -> list[int]:
    """The JPEG segment markers before the image data (APP1 = 0xE1 holds EXIF and GPS)."""
    markers, offset = [], 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
    return markers


def assert_clean_jpeg(data: bytes, *, max_side: int = 1568) -> Image.Image:
    """A JPEG, no larger than the model working size, with no EXIF (so no GPS) at all."""
    assert data[:3] == b"\xff\xd8\xff", "not a JPEG"
    markers = jpeg_markers(data)
    assert 0xDA in markers, "the JPEG headers could not be walked"
    assert 0xE1 not in markers, "an APP1 (EXIF/GPS) segment reached the provider"
    assert b"Exif\x00\x00" not in data
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert max(image.size) <= max_side, image.size
    assert not image.getexif(), dict(image.getexif())
    assert "exif" not in image.info
    return image


def photo_with_gps(size: tuple[int, int] = (2400, 1800)) -> bytes:
    """A large JPEG carrying camera EXIF and a GPS position, as phones write them."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Model] = "Pocket 12"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.34)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 56.78)
    data = make_photo(size=size, exif=exif.tobytes())
    source = Image.open(io.BytesIO(data)).getexif()
    assert source.get_ifd(ExifTags.IFD.GPSInfo), "the test photo must carry GPS to begin with"
    return data


# --- A real server on 127.0.0.1 ------------------------------------------------------


class LocalModelServer:
    """A tiny HTTP server on 127.0.0.1 answering POSTs with ``answer(path, body)``.

    Stands in for an OpenAI-compatible server (vLLM, Ollama, llama.cpp) or a
    gateway in front of a vendor API, reached by an SDK with no injected client.
    """

    def __init__(self, answer: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.answer = answer
        self.seen: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {name.lower(): value for name, value in self.headers.items()}
                owner.seen.append({"path": self.path, "headers": headers, "body": body})
                payload = json.dumps(owner.answer(self.path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
