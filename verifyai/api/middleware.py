"""Request plumbing every endpoint shares: request ids, Server-Timing, body cap."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from verifyai.api.context import new_request_id, server_timing_header, set_request_context
from verifyai.api.errors import error_response


class RequestContextMiddleware:
    """Tags each request with an id, caps its body, and reports phase timings.

    An oversized body is refused from its Content-Length, before a byte of it is
    read, so a 2 GB upload costs us nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id(request.headers.get("X-Request-Id"))
        request.request_id = request_id  # type: ignore[attr-defined]
        set_request_context(request_id)

        refusal = self._refuse_oversized(request)
        response = refusal or self.get_response(request)
        if refusal is None:
            self._drain_unread_body(request)

        # A replayed idempotent response keeps the id of the request that made it.
        if "X-Request-Id" not in response:
            response["X-Request-Id"] = request_id
        timing = server_timing_header()
        if timing:
            response["Server-Timing"] = timing
        return response

    @staticmethod
    def _drain_unread_body(request: HttpRequest) -> None:
        """Read what an early answer (401, 403, 429...) left unread.

        Otherwise the server closes the socket while the client is still sending,
        and clients such as fetch() report a broken pipe instead of our error.
        The body is already known to be within the cap.
        """
        if getattr(request, "_read_started", False):
            return
        try:
            while request.read(64 * 1024):
                pass
        except OSError:
            pass  # the client went away; nothing to answer

    @staticmethod
    def _refuse_oversized(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "invalid_body", "Content-Length is not a number.")
        if length > settings.VERIFYAI_MAX_REQUEST_BYTES:
            limit_mb = settings.VERIFYAI_MAX_IMAGE_BYTES // (1024 * 1024)
            return error_response(
                400, "image_too_large", f"The request body is too large; images are limited to {limit_mb} MB."
            )
        return None
