"""What reaches a vision provider: oriented, small enough, and free of metadata."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_photo
from verifications.images import WORKING_SIZE, prepare_for_model, read_image
from verifications.jpeg import strip_metadata


def _jpeg_with_gps(size=(800, 600), *, orientation: int | None = None, progressive=False) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[2] = (37.0, 46.0, 30.0)
    gps[4] = (122.0, 25.0, 10.0)
    if orientation:
        exif[0x0112] = orientation
    pixels = (np.random.RandomState(5).rand(size[1], size[0], 3) * 200 + 28).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, format="JPEG", exif=exif.tobytes(), comment=b"secret note", progressive=progressive
    )
    return buffer.getvalue()


@pytest.mark.parametrize("progressive", [False, True])
def test_an_upright_small_jpeg_keeps_its_pixels_and_loses_its_metadata(progressive):
    original = _jpeg_with_gps(progressive=progressive) + b"PK\x03\x04 appended zip"
    model = prepare_for_model(read_image(original))

    assert b"Exif" not in model.data and b"PhoneMaker" not in model.data
    assert b"secret note" not in model.data and b"PK\x03\x04" not in model.data
    assert model.data.endswith(b"\xff\xd9")
    sent, source = Image.open(io.BytesIO(model.data)), Image.open(io.BytesIO(original))
    assert not sent.getexif()
    assert np.array_equal(np.asarray(sent), np.asarray(source))  # lossless: same pixels
    assert (model.width, model.height) == (800, 600)


def test_a_rotated_jpeg_is_re_encoded_upright_without_metadata():
    model = prepare_for_model(read_image(_jpeg_with_gps(orientation=6)))

    assert (model.width, model.height) == (600, 800)
    assert b"Exif" not in model.data
    assert Image.open(io.BytesIO(model.data)).size == (600, 800)


def test_a_large_photo_is_downscaled_to_the_working_size():
    model = prepare_for_model(read_image(make_photo(size=(3000, 2000))))
    assert max(Image.open(io.BytesIO(model.data)).size) == WORKING_SIZE


def test_png_and_webp_are_sent_as_jpeg():
    for fmt in ("PNG", "WEBP"):
        model = prepare_for_model(read_image(make_photo(fmt=fmt)))
        assert model.data.startswith(b"\xff\xd8") and model.mime_type == "image/jpeg"


def test_a_cmyk_jpeg_is_converted_to_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 128, 255, 10)).save(buffer, format="JPEG")
    model = prepare_for_model(read_image(buffer.getvalue()))
    assert Image.open(io.BytesIO(model.data)).mode == "RGB"


def test_stripping_refuses_what_is_not_a_jpeg():
    with pytest.raises(ValueError):
        strip_metadata(b"\x89PNG\r\n\x1a\n")
