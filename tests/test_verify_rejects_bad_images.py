"""Image intake refuses what is not a whole JPEG, PNG or WebP, judging by the bytes alone.

After every refusal nothing is left behind: no Verification, no stored file, no usage.
"""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest
from PIL import Image

from tests.conftest import make_photo
from tests.verify_support import (
    assert_error,
    b64,
    fetch,
    nothing_stored,
    png_bomb,
    post_json,
    post_multipart,
    stored_files,
)
from verifications.models import Verification


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb(20000, 20000)


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buffer, format="GIF")
    return buffer.getvalue()


def _zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.html", "<script>alert(document.cookie)</script>")
    return buffer.getvalue()


def _refused(alice, image: bytes, code: str = "invalid_image", **upload) -> dict:
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, image, **upload)
    return assert_error(response, 400, code)


def test_random_bytes_are_refused_as_invalid_image(alice):
    _refused(alice, os.urandom(4096))


def test_a_gif_is_refused_as_an_unsupported_type(alice):
    body = _refused(alice, _gif(), name="anim.gif", content_type="image/gif")
    assert "JPEG" in body["error"] and "PNG" in body["error"]


def test_a_text_file_named_photo_jpg_with_an_image_content_type_is_refused(alice):
    _refused(
        alice,
        b"Hello, I am plainly text and not a photo.\n" * 20,
        name="photo.jpg",
        content_type="image/jpeg",
    )


def test_png_magic_followed_by_garbage_is_refused(alice):
    _refused(
        alice, b"\x89PNG\r\n\x1a\n" + os.urandom(2048), name="photo.png", content_type="image/png"
    )


def test_jpeg_magic_followed_by_garbage_is_refused(alice):
    _refused(alice, b"\xff\xd8\xff\xe0" + os.urandom(2048))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_an_image_cut_in_half_is_refused_as_truncated(alice, fmt):
    whole = make_photo(fmt)

    body = _refused(alice, whole[: len(whole) // 2])

    assert "truncated" in body["error"].lower()


def test_a_truncated_jpeg_sent_as_base64_is_refused_as_truncated(alice, photo):
    with nothing_stored(alice.customer):
        response = post_json(
            alice.client, {"image": b64(photo[: len(photo) // 2]), "policy": "scooter_parking"}
        )

    assert "truncated" in assert_error(response, 400, "invalid_image")["error"].lower()


def test_an_html_page_with_a_jpeg_appended_is_refused(alice, photo):
    polyglot = b"<!DOCTYPE html><html><script>alert(document.domain)</script></html>\n" + photo

    _refused(alice, polyglot, name="photo.jpg", content_type="image/jpeg")


def test_a_jpeg_with_a_zip_after_its_end_is_accepted_and_only_ever_served_as_an_image(
    alice, anonymous, photo
):
    polyglot = photo + _zip_archive()
    assert zipfile.is_zipfile(io.BytesIO(polyglot))

    response = post_multipart(alice.client, polyglot)

    assert response.status_code == 200, response.content
    served, data = fetch(anonymous, response.json()["image_url"])
    assert served.status_code == 200
    assert data == polyglot
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    csp = served["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp


def test_a_png_decompression_bomb_is_refused_quickly_as_image_too_large(alice, bomb):
    assert len(bomb) < 200_000  # 400 megapixels in a few KB on the wire

    started = time.perf_counter()
    body = _refused(alice, bomb, code="image_too_large", name="photo.png", content_type="image/png")
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0, f"the bomb took {elapsed:.2f}s: it was decoded"
    assert "20000x20000" in body["error"]


def test_a_png_decompression_bomb_as_base64_is_refused_as_image_too_large(alice, bomb):
    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"image": b64(bomb), "policy": "scooter_parking"})

    assert_error(response, 400, "image_too_large")


def test_a_jpeg_whose_header_claims_65000x65000_pixels_is_refused_as_image_too_large(alice, photo):
    # Patch the frame header (SOF0) of a small JPEG: the dimensions are all a bomb needs.
    data = bytearray(photo)
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (65000).to_bytes(2, "big") * 2

    started = time.perf_counter()
    _refused(alice, bytes(data), code="image_too_large")
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "value",
    ["this is not base64!!", "%%%%", "!!!!!!!!", "data:image/jpeg;base64,@@@@####"],
)
def test_a_string_that_is_not_base64_is_refused_as_such(alice, value):
    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"image": value, "policy": "scooter_parking"})

    body = assert_error(response, 400, "invalid_image")
    assert "base64" in body["error"]


def test_url_safe_base64_is_accepted(alice):
    # Pick a photo whose standard base64 really contains '+' or '/'.
    image = next(
        make_photo(seed=seed) for seed in range(1, 50) if "+" in b64(make_photo(seed=seed))
    )
    urlsafe = b64(image).replace("+", "-").replace("/", "_").rstrip("=")

    response = post_json(
        alice.client, {"image": urlsafe, "policy": "scooter_parking", "include_image_data": True}
    )

    assert response.status_code == 200, response.content
    assert response.json()["image_data"] == b64(image)


def test_an_empty_file_is_refused(alice):
    body = _refused(alice, b"")
    assert "empty" in body["error"].lower()


@pytest.mark.parametrize("value", ["", "data:image/jpeg;base64,", "   "])
def test_an_empty_base64_image_is_refused(alice, value):
    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"image": value, "policy": "scooter_parking"})

    body = assert_error(response, 400, "invalid_image")
    assert "empty" in body["error"].lower()


def test_a_one_pixel_image_is_read_and_judged_unclear(alice):
    image = make_photo(size=(1, 1))

    response = post_multipart(alice.client, image)

    assert response.status_code == 200, response.content
    assert response.json()["violation_reasons"] == ["image_unclear"]


def test_refusals_do_not_disturb_a_later_good_verification(alice, photo):
    for bad in (b"", os.urandom(100), _gif()):
        assert post_multipart(alice.client, bad).status_code == 400

    response = post_multipart(alice.client, photo)

    assert response.status_code == 200
    assert Verification.objects.count() == 1
    assert len(stored_files()) == 1
