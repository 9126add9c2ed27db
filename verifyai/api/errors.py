"""The one error body of the API and the exceptions that produce it.

Every error answers ``{"error": <message>, "code": <machine code>, "status": <int>}``
plus the extra fields an error carries (``upgrade_url``, ``current_usage``, ...).
New errors are subclasses of :class:`ApiError` with a status and a code.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "Bad request."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.message
        self.extra = extra
        super().__init__(self.message)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class InvalidImage(ApiError):
    status, code, message = 400, "invalid_image", "The image could not be read."


class ImageTooLarge(ApiError):
    status, code = 400, "image_too_large"


class UnknownPolicy(ApiError):
    status, code = 400, "unknown_policy"


class ProviderUnavailable(ApiError):
    status, code = 400, "provider_unavailable"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ApiError):
    status, code = 409, "conflict"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "Forbidden."


class UsageLimitExceeded(ApiError):
    status, code = 429, "usage_limit_exceeded"


class VerificationFailed(ApiError):
    status, code, message = 500, "verification_failed", "Verification processing failed."


class ServiceUnavailable(ApiError):
    status, code, message = 503, "service_unavailable", "Service temporarily unavailable."


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": message, "code": code, "status": status, **extra}


def error_response(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    """For the few places outside DRF (middleware, Django's 404/500 handlers)."""
    return JsonResponse(error_body(status, code, message, **extra), status=status)


def _first_message(detail: Any) -> str:
    """Flatten DRF's nested validation detail into one readable sentence."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            if field in ("non_field_errors", "detail"):
                return message
            return f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


_DRF_CODES = {
    drf.NotAuthenticated: "missing_api_key",
    drf.AuthenticationFailed: "invalid_api_key",
    drf.PermissionDenied: "forbidden",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.ParseError: "invalid_body",
    drf.Throttled: "rate_limited",
    drf.ValidationError: "invalid_request",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        status, code, message, extra = exc.status, exc.code, exc.message, dict(exc.extra)
        retry_after = extra.pop("retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
    elif isinstance(exc, (Http404, drf.NotFound)):
        status, code, message, extra = 404, "not_found", "Not found.", {}
    elif isinstance(exc, RequestDataTooBig):
        status, code, message, extra = 400, "image_too_large", "The request body is too large.", {}
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        status, code, message, extra = 400, "invalid_body", "The form has too many fields or files.", {}
    elif isinstance(exc, SuspiciousOperation):
        status, code, message, extra = 400, "invalid_body", "The request body could not be read.", {}
    elif isinstance(exc, DjangoPermissionDenied):
        status, code, message, extra = 403, "forbidden", "Forbidden.", {}
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        message = _first_message(exc.detail)
        extra = {"details": exc.detail} if isinstance(exc, drf.ValidationError) else {}
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait + 0.999))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    else:
        logger.exception("Unhandled error in %s", context.get("view"))
        if settings.DEBUG:
            return None
        status, code, message, extra = 500, "internal_error", "Internal server error.", {}
    return Response(error_body(status, code, message, **extra), status=status, headers=headers)


def handler404(request: Any, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def handler500(request: Any) -> JsonResponse:
    return error_response(500, "internal_error", "Internal server error.")
