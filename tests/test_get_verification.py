"""GET /api/v1/verifications/{id}: one verification, with a fresh signed image URL."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_photo


def verify(cast, image: bytes | None = None, **fields) -> dict:
    upload = SimpleUploadedFile("photo.jpg", image or make_photo(), content_type="image/jpeg")
    response = cast.client.post("/api/v1/verify", {"image": upload, "policy": "scooter_parking", **fields})
    assert response.status_code == 200, response.content
    return response.json()


def get(cast, verification_id: str):
    return cast.client.get(f"/api/v1/verifications/{verification_id}")


def expires_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["expires"][0])


def test_a_verification_is_returned_with_the_fields_of_the_verify_answer(alice):
    created = verify(alice, metadata='{"device_id": "dev_123"}')

    response = get(alice, created["id"])

    assert response.status_code == 200
    body = response.json()
    for field in (
        "id", "created_at", "status", "is_compliant", "confidence", "policy",
        "violation_reasons", "feedback", "metadata",
    ):
        assert body[field] == created[field], field
    assert body["policy"] == "scooter_parking"
    assert body["metadata"] == {"device_id": "dev_123"}
    assert response["X-Request-Id"]


def test_the_image_url_is_signed_and_serves_the_stored_image(alice, anonymous):
    photo = make_photo(seed=7)
    created = verify(alice, image=photo)

    url = get(alice, created["id"]).json()["image_url"]

    assert url.startswith("http://testserver/")
    assert "signature=" in url and expires_of(url) > time.time()
    image = anonymous.get(url)
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == photo


def test_each_read_signs_a_fresh_url(alice, settings):
    created = verify(alice)
    first = get(alice, created["id"]).json()["image_url"]

    settings.SIGNED_URL_TTL_SECONDS = 7200  # a URL stored at creation would keep the old expiry
    second = get(alice, created["id"]).json()["image_url"]

    assert expires_of(second) >= expires_of(first) + 3600
    assert second != first


@pytest.mark.parametrize("verification_id", ["ver_doesnotexist0000", "nope", "ver_" + "x" * 200])
def test_an_unknown_id_answers_404_with_the_error_body(alice, verification_id):
    verify(alice)

    response = get(alice, verification_id)

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert isinstance(body["error"], str) and body["error"]
    assert response["X-Request-Id"]


def test_reading_a_verification_needs_an_api_key(alice, anonymous):
    created = verify(alice)

    response = anonymous.get(f"/api/v1/verifications/{created['id']}")

    assert response.status_code == 401
    assert response.json()["code"] == "missing_api_key"
