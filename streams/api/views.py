"""The Streams API: customers manage streams with their API key; kiosks pair with a
code (no key) and post frames with their stream token (no key)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, permissions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from streams.api.serializers import (
    FrameRequestSerializer,
    PairingSerializer,
    PairRequestSerializer,
    PairResponseSerializer,
    StreamSerializer,
    pairing_body,
)
from streams.models import Stream
from streams.selectors import get_stream, streams_for
from streams.services import (
    PairingUnavailable,
    authenticate_frame,
    create_stream,
    exchange_code,
    issue_pairing_code,
    set_status,
    touch_stream,
    update_stream,
)
from verifications.api.serializers import VerificationSerializer
from verifications.images import read_image
from verifications.services import verify_image
from verifyai.api import clients
from verifyai.api.context import timed
from verifyai.api.errors import ApiError, UnknownPolicy
from verifyai.api.pagination import PageQuerySerializer, paginate
from verifyai.api.permissions import require_active_subscription
from verifyai.api.views import ApiView, IdempotentCreateView

logger = logging.getLogger(__name__)


class PairRateLimited(ApiError):
    status, code = 429, "rate_limited"
    message = "Too many pairing attempts from this address. Retry later."


def client_address(request: Request) -> str:
    """The caller as every streams limit counts it (verifyai.api.clients)."""
    return clients.client_address(request)


def _count_pair_attempt(request: Request) -> None:
    """One attempt against this address's limit. Fails closed: a limit that cannot be
    counted refuses pairing (503) rather than letting unlimited guesses through."""
    try:
        usage = get_usage(
            request, group="stream-pair", key=lambda group, request: client_address(request),
            rate=settings.VERIFYAI_STREAM_PAIR_RATE, increment=True,
        )
    except Exception as exc:  # noqa: BLE001 - any cache failure (django-redis raises its own)
        logger.warning("Pairing refused: the rate-limit cache is unreachable (%s)", type(exc).__name__)
        raise PairingUnavailable(retry_after=30) from None
    if usage is None:
        if getattr(settings, "RATELIMIT_ENABLE", True):  # None here means the cache failed
            logger.warning("Pairing refused: the rate-limit cache is unreachable")
            raise PairingUnavailable(retry_after=30)
        return
    if usage["should_limit"]:
        raise PairRateLimited(retry_after=max(1, usage["time_left"]))


# --- Customer API (API key) -----------------------------------------------------


class StreamListView(IdempotentCreateView):
    serializer_class = StreamSerializer

    @extend_schema(operation_id="streams_list", parameters=[PageQuerySerializer])
    def get(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = paginate(
            streams_for(request.user), cursor=query.validated_data.get("cursor") or None,
            limit=query.validated_data["limit"],
        )
        data = StreamSerializer(page.items, many=True).data
        return Response({"data": data, "has_more": page.has_more, "next_cursor": page.next_cursor})

    def create(self, request: Request) -> Response:
        serializer = StreamSerializer(data=request.data, context={"customer": request.user})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        stream, issued = create_stream(
            customer=request.user, policy=fields.pop("policy"), name=fields.pop("name"), **fields
        )
        body = StreamSerializer(stream).data
        body["pairing"] = pairing_body(issued)
        return Response(body, status=status.HTTP_201_CREATED)


class StreamDetailView(ApiView):
    serializer_class = StreamSerializer

    def get(self, request: Request, stream_id: str) -> Response:
        return Response(StreamSerializer(get_stream(request.user, stream_id)).data)

    def patch(self, request: Request, stream_id: str) -> Response:
        stream = get_stream(request.user, stream_id)
        serializer = StreamSerializer(
            stream, data=request.data, partial=True, context={"customer": request.user}
        )
        serializer.is_valid(raise_exception=True)
        stream = update_stream(stream=stream, data=dict(serializer.validated_data))
        return Response(StreamSerializer(stream).data)


class StreamStatusView(ApiView):
    """POST /streams/{id}/pause, /resume, /archive."""

    serializer_class = StreamSerializer
    target: str = ""

    @extend_schema(request=None, responses=StreamSerializer)
    def post(self, request: Request, stream_id: str) -> Response:
        stream = set_status(stream=get_stream(request.user, stream_id), status=self.target)
        return Response(StreamSerializer(stream).data)


class PairingCodeView(ApiView):
    """POST /streams/{id}/pairing-code: a new code; any earlier one stops working."""

    @extend_schema(request=None, responses={201: PairingSerializer})
    def post(self, request: Request, stream_id: str) -> Response:
        stream = get_stream(request.user, stream_id)
        issued = issue_pairing_code(stream=stream)
        return Response(pairing_body(issued), status=status.HTTP_201_CREATED)


# --- Kiosk API (pairing code, then stream token) ---------------------------------


class PairView(ApiView):
    """POST /streams/pair {"code", "stream_id"?}: no API key; limited per client address,
    and wrong typed codes share one budget (streams.services.exchange_code)."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(request=PairRequestSerializer, responses=PairResponseSerializer)
    def post(self, request: Request) -> Response:
        _count_pair_attempt(request)
        payload = PairRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        pairing = exchange_code(
            code=payload.validated_data["code"], stream_id=payload.validated_data.get("stream_id")
        )
        stream = pairing.stream
        return Response(
            {
                "stream_id": str(stream.pk),
                "stream_token": pairing.token,
                "policy_id": stream.policy.policy_id if stream.policy else None,
            }
        )


class StreamTokenAuthentication(authentication.BaseAuthentication):
    """X-Stream-Token for the stream in the URL; the principal is the stream's customer."""

    def authenticate(self, request: Request) -> tuple[Any, Stream]:
        stream_id = request.parser_context["kwargs"]["stream_id"]
        with timed("auth"):
            stream = authenticate_frame(
                stream_id=stream_id, token=request.META.get("HTTP_X_STREAM_TOKEN"),
                client=client_address(request),
            )
        return stream.customer, stream


class StreamCustomerSubscribed(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        require_active_subscription(request.user)  # the stream's customer
        return True


class FrameView(ApiView):
    """POST /streams/{id}/frame: one frame, judged like /verify, billed to the stream's owner."""

    authentication_classes = [StreamTokenAuthentication]
    permission_classes = [StreamCustomerSubscribed]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="streams_frame_create",
        request={"multipart/form-data": FrameRequestSerializer},
        responses=VerificationSerializer,
    )
    def post(self, request: Request, stream_id: str) -> Response:
        stream: Stream = request.auth
        with timed("parse"):
            payload = FrameRequestSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            image = read_image(payload.validated_data["frame"])
        if stream.policy is None:
            raise UnknownPolicy("This stream has no policy; set one with PATCH /streams/{id}.")
        result = verify_image(
            customer=stream.customer,
            image=image,
            policy=stream.policy,
            metadata={},
            provider=None,
            request_id=request.request_id,
            stream=stream,
        )
        touch_stream(stream)
        return Response(VerificationSerializer(result.verification, context={"request": request}).data)
