"""Image intake: the one place where untrusted image bytes become pixels.

Types are sniffed from the bytes (JPEG, PNG, WebP), never taken from a filename
or a content type. Oversized uploads stop being read at the limit; decompression
bombs are refused from the header before any pixel is decoded; truncated or
undecodable data is refused after a full decode; EXIF orientation is applied.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from PIL import Image, ImageOps

from verifications.engine.base import ModelImage
from verifications.jpeg import strip_metadata
from verifyai.api.errors import ImageTooLarge, InvalidImage

# Pillow's own bomb guard is off: _check_dimensions runs on the header, before any pixel is
# decoded, against VERIFYAI_MAX_IMAGE_PIXELS, and answers 413 with the size. (Left on, Pillow's
# warning at its default limit would turn a too-large image into a 400 undecodable one.)
Image.MAX_IMAGE_PIXELS = None

_FORMATS = {"JPEG": ("jpeg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
_DATA_URL = re.compile(r"^data:(?P<type>[\w/+.-]*)?(?:;[\w=.-]+)*;base64,", re.IGNORECASE)
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
# Vision models downscale anything larger than this on the long side anyway
# (Anthropic recommends <= 1568 px; OpenAI and Gemini tile at similar sizes).
WORKING_SIZE = 1568
VALIDATION_SIZE = 256
MODEL_JPEG_QUALITY = 85


@dataclass(frozen=True)
class IntakeImage:
    data: bytes
    format: str  # "jpeg" | "png" | "webp"
    content_type: str
    width: int  # after EXIF orientation
    height: int
    sha256: str
    orientation: int = 1  # the EXIF Orientation tag
    mode: str = "RGB"  # as decoded, e.g. CMYK for print-shop JPEGs
    decoded: Image.Image | None = field(default=None, repr=False, compare=False)

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format

    def pixels(self) -> Image.Image:
        """Oriented RGB pixels, at most WORKING_SIZE on the long side."""
        if self.decoded is None:
            image = Image.open(io.BytesIO(self.data), formats=["JPEG"])
            image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
            object.__setattr__(self, "decoded", _to_working_pixels(image))
        assert self.decoded is not None
        return self.decoded


def prepare_for_model(image: IntakeImage) -> ModelImage:
    """The image as providers get it: oriented, at most WORKING_SIZE, no metadata.

    A JPEG that is already upright and small enough keeps its compressed bytes
    with the metadata segments dropped (no decode, no quality loss); anything
    else is re-encoded from the oriented pixels.
    """
    fits = max(image.width, image.height) <= WORKING_SIZE
    if image.format == "jpeg" and image.orientation == 1 and image.mode in ("RGB", "L") and fits:
        try:
            return ModelImage(data=strip_metadata(image.data), width=image.width, height=image.height)
        except (ValueError, IndexError):
            pass  # unusual stream layout: re-encode below
    pixels = image.pixels()
    buffer = io.BytesIO()
    pixels.save(buffer, format="JPEG", quality=MODEL_JPEG_QUALITY)
    return ModelImage(data=buffer.getvalue(), width=pixels.width, height=pixels.height)


def sniff_format(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _too_large_message() -> str:
    return f"The image is larger than {settings.VERIFYAI_MAX_IMAGE_BYTES // (1024 * 1024)} MB."


def decode_base64_image(value: str) -> bytes:
    """Accept raw base64 or a data URL; refuse what would decode past the limit."""
    value = value.strip()
    match = _DATA_URL.match(value)
    if match:
        value = value[match.end():]
    value = "".join(value.split())  # tolerate wrapped base64
    if len(value) * 3 // 4 > settings.VERIFYAI_MAX_IMAGE_BYTES + 3:
        raise ImageTooLarge(_too_large_message())
    if not value:
        raise InvalidImage("The image is empty.")
    try:
        # Standard or URL-safe alphabet, but strictly: urlsafe_b64decode() would silently
        # drop every other character and turn junk into "valid" (often empty) bytes.
        padded = value.translate(_URLSAFE_TO_STANDARD) + "=" * (-len(value) % 4)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("The image is not valid base64 or a base64 data URL.") from None


def read_image(data: bytes) -> IntakeImage:
    if len(data) > settings.VERIFYAI_MAX_IMAGE_BYTES:
        raise ImageTooLarge(_too_large_message())
    if not data:
        raise InvalidImage("The image is empty.")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise InvalidImage("Unsupported image type: send a JPEG, PNG or WebP image.")
    try:
        image = Image.open(io.BytesIO(data), formats=[sniffed])
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(_describe_decode_error(exc)) from None
    _check_dimensions(image)
    width, height = image.size
    if image.format == "JPEG":
        # Validation only needs every byte entropy-decoded, not full-size
        # pixels: decoding at 1/8 DCT scale is several times cheaper.
        image.draft("RGB", (VALIDATION_SIZE, VALIDATION_SIZE))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(_describe_decode_error(exc)) from None

    orientation = _orientation(image)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    extension, content_type = _FORMATS[sniffed]
    return IntakeImage(
        data=data,
        format=extension,
        content_type=content_type,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        orientation=orientation,
        mode=image.mode,
        # JPEG pixels are decoded again at working size only if needed; others are at hand.
        decoded=None if sniffed == "JPEG" else _to_working_pixels(image),
    )


def _to_working_pixels(image: Image.Image) -> Image.Image:
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    # Shrink before orienting and converting, so a large PNG is never copied at full size.
    image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.LANCZOS)
    return _apply_orientation(image).convert("RGB")


def _check_dimensions(image: Image.Image) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidImage("The image has no pixels.")
    if width * height > settings.VERIFYAI_MAX_IMAGE_PIXELS:
        raise ImageTooLarge(
            f"The image is {width}x{height} pixels; at most "
            f"{settings.VERIFYAI_MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted."
        )


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
        return value if value in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses orientation
        return 1


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block only loses orientation
        return image


def _describe_decode_error(exc: BaseException) -> str:
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError):
        return "The image is truncated: the upload may have been cut off."
    return "The image could not be decoded; it is corrupt or not really a JPEG, PNG or WebP."


class BoundedUploadHandler(FileUploadHandler):
    """Keeps an uploaded file in memory and stops reading it past the image limit."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > settings.VERIFYAI_MAX_IMAGE_BYTES:
            raise ImageTooLarge(_too_large_message())
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
