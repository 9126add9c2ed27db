from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from verifications.api.serializers import (
    VerificationListQuerySerializer,
    VerificationSerializer,
    VerifyRequestSerializer,
)
from verifications.images import read_image
from verifications.selectors import get_verification, verifications_for
from verifications.services import resolve_policy, verify_image
from verifyai.api.context import timed
from verifyai.api.pagination import paginate
from verifyai.api.views import ApiView, IdempotentCreateView


class VerifyView(IdempotentCreateView):
    serializer_class = VerifyRequestSerializer

    def create(self, request: Request) -> Response:
        with timed("parse"):
            payload = VerifyRequestSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            data = payload.validated_data
            image = read_image(data["image"])
        result = verify_image(
            customer=request.user,
            image=image,
            policy=resolve_policy(request.user, data["policy"]),
            metadata=data["metadata"],
            provider=data.get("provider"),
            include_image_data=data["include_image_data"],
            request_id=request.request_id,
        )
        body = VerificationSerializer(result.verification, context={"request": request}).data
        if result.image_data is not None:
            body["image_data"] = result.image_data
        return Response(body)


class VerificationListView(ApiView):
    serializer_class = VerificationSerializer

    @extend_schema(parameters=[VerificationListQuerySerializer])
    def get(self, request: Request) -> Response:
        query = VerificationListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = paginate(
            verifications_for(request.user, query.filters()),
            cursor=query.validated_data.get("cursor") or None,
            limit=query.validated_data["limit"],
        )
        data = VerificationSerializer(page.items, many=True, context={"request": request}).data
        return Response({"data": data, "has_more": page.has_more, "next_cursor": page.next_cursor})


class VerificationDetailView(ApiView):
    serializer_class = VerificationSerializer

    def get(self, request: Request, verification_id: str) -> Response:
        verification = get_verification(request.user, verification_id)
        return Response(VerificationSerializer(verification, context={"request": request}).data)
