"""A phone photo is analysed the way it is displayed: EXIF orientation is honoured,
and a broken EXIF block never breaks a verification."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.conftest import make_photo
from tests.verify_support import (
    b64,
    fetch,
    post_json,
    post_multipart,
    providers_plugged_in,
)
from verifications.engine.base import Evaluation
from verifications.models import Verification

ORIENTATION = 0x0112



def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Camera Maker Inc"  # Make
    exif[0x0110] = "Model X"  # Model
    return exif.tobytes()


def _stored(response) -> Verification:
    assert response.status_code == 200, response.content
    return Verification.objects.get(id=response.json()["id"])


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_a_rotated_600x400_jpeg_is_analysed_as_400x600(alice, orientation):
    image = make_photo(size=(600, 400), exif=_exif(orientation))

    verification = _stored(post_multipart(alice.client, image))

    assert (verification.image_width, verification.image_height) == (400, 600)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4])
def test_an_unrotated_or_flipped_jpeg_keeps_its_600x400_shape(alice, orientation):
    image = make_photo(size=(600, 400), exif=_exif(orientation))

    verification = _stored(post_multipart(alice.client, image))

    assert (verification.image_width, verification.image_height) == (600, 400)


class _SeeingProvider:
    """A vision provider, plugged in through the registry, that notes what it was shown."""

    name = "anthropic"
    evaluation_source = "cloud_vlm"

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def is_configured(self) -> bool:
        return True

    def evaluate(self, image, policy, *, timeout: float = 0) -> Evaluation:
        self.seen.append(image.pixels().size)
        return Evaluation(
            is_compliant=False,
            confidence=0.5,
            category="lacks_info",
            violation_reasons=[],
            feedback="Seen.",
            provider=self.name,
            model="test",
            evaluation_source=self.evaluation_source,
        )


def test_the_vision_model_is_shown_the_photo_upright(alice, settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = []
    provider = _SeeingProvider()
    image = make_photo(size=(600, 400), exif=_exif(6))

    with providers_plugged_in(provider):
        response = post_multipart(alice.client, image, provider="anthropic")

    assert response.status_code == 200, response.content
    assert provider.seen == [(400, 600)]


def test_orientation_is_honoured_for_base64_uploads_too(alice):
    image = make_photo(size=(600, 400), exif=_exif(6))

    verification = _stored(
        post_json(alice.client, {"image": b64(image), "policy": "scooter_parking"})
    )

    assert (verification.image_width, verification.image_height) == (400, 600)


def test_the_stored_original_keeps_its_bytes_and_exif(alice, anonymous):
    image = make_photo(size=(600, 400), exif=_exif(6))
    response = post_multipart(alice.client, image)
    assert response.status_code == 200

    _, data = fetch(anonymous, response.json()["image_url"])

    assert data == image


def test_a_corrupted_exif_block_with_a_readable_orientation_still_rotates(alice):
    exif = bytearray(_exif(6))
    exif[14:16] = b"\xff\xff"  # the IFD claims 65535 entries; only 3 exist
    image = make_photo(size=(600, 400), exif=bytes(exif))

    verification = _stored(post_multipart(alice.client, image))

    assert (verification.image_width, verification.image_height) == (400, 600)
    assert verification.status == "success"


@pytest.mark.parametrize(
    "exif",
    [
        _exif(6)[:20],  # cut off inside the first IFD entry
        b"Exif\x00\x00" + b"\x00" * 3 + b"garbage" * 5,  # not a TIFF header at all
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # IFD offset far past the end
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x63\x00\x00",  # Orientation=99
    ],
    ids=["truncated", "not-tiff", "offset-out-of-range", "orientation-99"],
)
def test_a_broken_exif_block_never_breaks_the_verification(alice, exif):
    image = make_photo(size=(600, 400), exif=exif)

    verification = _stored(post_multipart(alice.client, image))

    assert verification.status == "success"
    assert {verification.image_width, verification.image_height} == {400, 600}


def test_a_png_with_an_orientation_chunk_is_rotated_too(alice):
    image = make_photo("PNG", size=(600, 400), exif=_exif(8))

    verification = _stored(
        post_multipart(alice.client, image, name="photo.png", content_type="image/png")
    )

    assert (verification.image_width, verification.image_height) == (400, 600)
