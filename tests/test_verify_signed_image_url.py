"""The image_url a verification returns is a time-limited signed link to the exact upload."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import make_photo
from tests.verify_support import (
    assert_error,
    fetch,
    path_and_query,
    post_multipart,
)


@pytest.fixture
def verified(alice, photo):
    response = post_multipart(alice.client, photo)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_image_url_serves_the_exact_uploaded_bytes_as_a_jpeg(anonymous, verified, photo):
    # A signed link is a bearer link: no API key is needed to open it.
    response, data = fetch(anonymous, verified["image_url"])

    assert response.status_code == 200
    assert data == photo
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_image_url_is_absolute_and_carries_an_expiry_and_a_signature(verified):
    parts = urlsplit(verified["image_url"])
    query = parse_qs(parts.query)

    assert parts.scheme in ("http", "https") and parts.netloc
    assert set(query) >= {"expires", "signature"}


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    query = {key: value for key, value in query.items() if value is not None}
    return f"{parts.path}?{urlencode(query)}"


def test_a_tampered_signature_is_refused_with_403(anonymous, verified):
    signature = parse_qs(urlsplit(verified["image_url"]).query)["signature"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    response = anonymous.get(_with_query(verified["image_url"], signature=flipped))

    assert_error(response, 403, "invalid_signature")


def test_a_missing_signature_is_refused_with_403(anonymous, verified):
    response = anonymous.get(_with_query(verified["image_url"], signature=None))

    assert_error(response, 403, "invalid_signature")


def test_an_extended_expiry_invalidates_the_signature(anonymous, verified):
    expires = int(parse_qs(urlsplit(verified["image_url"]).query)["expires"][0])

    response = anonymous.get(_with_query(verified["image_url"], expires=str(expires + 86400 * 365)))

    assert_error(response, 403, "invalid_signature")


def test_a_signature_does_not_open_another_stored_file(alice, anonymous, verified):
    other = post_multipart(alice.client, make_photo(seed=7))
    assert other.status_code == 200
    other_path = urlsplit(other.json()["image_url"]).path
    query = urlsplit(verified["image_url"]).query

    response = anonymous.get(f"{other_path}?{query}")

    assert_error(response, 403, "invalid_signature")


def test_an_expired_link_is_refused_with_403(alice, anonymous, photo, settings):
    settings.SIGNED_URL_TTL_SECONDS = -5  # every link handed out is already expired
    response = post_multipart(alice.client, photo)
    assert response.status_code == 200

    served = anonymous.get(path_and_query(response.json()["image_url"]))

    assert_error(served, 403, "invalid_signature")
