"""The one way to store an image and hand out a time-limited URL for it.

Locally, files live under MEDIA_ROOT and ``url()`` returns a signed, expiring
link served by :func:`serve_signed_media`. With S3 configured, django-storages'
presigned URLs play the same role; callers only ever use ``default_storage``.
"""

from __future__ import annotations

import mimetypes
import time
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse

from verifyai.api.errors import error_response

_SALT = "verifyai.media"


def _signature(name: str, expires: int) -> str:
    return signing.Signer(salt=_SALT).signature(f"{name}:{expires}")


class SignedFileSystemStorage(FileSystemStorage):
    def url(self, name: str | None) -> str:
        assert name
        expires = int(time.time()) + settings.SIGNED_URL_TTL_SECONDS
        query = urlencode({"expires": expires, "signature": _signature(name, expires)})
        return f"{reverse('signed-media', kwargs={'name': name})}?{query}"


def store_image(*, name: str, data: bytes, content_type: str) -> str:
    file = ContentFile(data, name=name)
    file.content_type = content_type  # used by S3 for the object's Content-Type
    return default_storage.save(name, file)


def delete_image(name: str) -> None:
    default_storage.delete(name)


def image_url(name: str) -> str:
    return default_storage.url(name)


def serve_signed_media(request: HttpRequest, name: str) -> HttpResponse:
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        expires = 0
    signature = request.GET.get("signature", "")
    valid = signing.constant_time_compare(signature, _signature(name, expires))
    if not valid or expires < time.time():
        return error_response(403, "invalid_signature", "This link is invalid or has expired.")
    if not default_storage.exists(name):
        return error_response(404, "not_found", "Not found.")
    content_type, _ = mimetypes.guess_type(name)
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=300"
    # Stored bytes are user input: never let a browser run them as anything but an image.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response
