"""Helpers shared by the tests/test_streams_*.py files."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.conftest import Cast, make_photo


@dataclass
class Paired:
    stream_id: str
    token: str


def create_stream(owner: Cast, **fields) -> dict:
    body = {"name": "Hub-East gate camera", "policy_id": "scooter_parking", **fields}
    response = owner.client.post("/api/v1/streams", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def pair(code: str, client: APIClient | None = None, stream_id: str | None = None, **extra):
    """POST /streams/pair as a kiosk does: the code, and the stream when the QR named it."""
    body = {"code": code} if stream_id is None else {"code": code, "stream_id": stream_id}
    return (client or APIClient()).post("/api/v1/streams/pair", body, format="json", **extra)


def create_and_pair(owner: Cast, **fields) -> Paired:
    created = create_stream(owner, **fields)
    response = pair(created["pairing"]["code"])
    assert response.status_code == 200, response.json()
    return Paired(stream_id=response.json()["stream_id"], token=response.json()["stream_token"])


def post_frame(
    stream_id: str, token: str | None, frame: bytes | None = None, name: str = "frame.jpg", **extra
):
    headers = {"HTTP_X_STREAM_TOKEN": token} if token is not None else {}
    body = {"frame": SimpleUploadedFile(name, frame if frame is not None else make_photo())}
    return APIClient().post(
        f"/api/v1/streams/{stream_id}/frame", body, format="multipart", **headers, **extra
    )


