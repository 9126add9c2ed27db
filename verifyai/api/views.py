"""The shared bases of the authenticated API views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from verifyai.api.idempotency import MAX_KEY_LENGTH, run_idempotently

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {MAX_KEY_LENGTH} printable characters. A retry with the same key and body gets "
        "the first answer again instead of a second create."
    ),
)


class ApiView(APIView):
    """Every authenticated endpoint: adds the rate-limit headers to its answers."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        window = getattr(request, "rate_limit", None)
        if window is not None:
            response["X-RateLimit-Limit"] = str(window.limit)
            response["X-RateLimit-Remaining"] = str(window.remaining)
            response["X-RateLimit-Reset"] = str(window.reset_seconds)
        return super().finalize_response(request, response, *args, **kwargs)


class IdempotentCreateView(ApiView):
    """A POST that honours Idempotency-Key; subclasses implement ``create``."""

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return run_idempotently(
            request,
            route=request.resolver_match.view_name,
            handler=lambda: self.create(request, *args, **kwargs),
            on_error=self.handle_exception,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotImplementedError
