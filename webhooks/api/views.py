from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from verifyai.api.pagination import PageQuerySerializer, paginate
from verifyai.api.views import ApiView, IdempotentCreateView
from webhooks import services
from webhooks.api.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from webhooks.selectors import deliveries_for, endpoints_for, get_delivery, get_endpoint


class WebhookListView(IdempotentCreateView):
    serializer_class = WebhookEndpointSerializer

    def get(self, request: Request) -> Response:
        endpoints = endpoints_for(request.user)
        return Response({"data": WebhookEndpointSerializer(endpoints, many=True).data})

    def create(self, request: Request) -> Response:
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.create_endpoint(customer=request.user, **serializer.validated_data)
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailView(ApiView):
    serializer_class = WebhookEndpointSerializer

    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(WebhookEndpointSerializer(get_endpoint(request.user, endpoint_id)).data)

    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = get_endpoint(request.user, endpoint_id)
        serializer = WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = services.update_endpoint(endpoint=endpoint, data=serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.delete_endpoint(endpoint=get_endpoint(request.user, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(ApiView):
    serializer_class = WebhookEndpointWithSecretSerializer

    @extend_schema(request=None)
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = services.rotate_secret(endpoint=get_endpoint(request.user, endpoint_id))
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookTestView(ApiView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = services.send_test_event(endpoint=get_endpoint(request.user, endpoint_id))
        delivery = get_delivery(delivery.endpoint, delivery.pk)  # with its attempts, if sent already
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(ApiView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(parameters=[PageQuerySerializer])
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = get_endpoint(request.user, endpoint_id)
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = paginate(
            deliveries_for(endpoint),
            cursor=query.validated_data.get("cursor") or None,
            limit=query.validated_data["limit"],
        )
        data = WebhookDeliverySerializer(page.items, many=True).data
        return Response({"data": data, "has_more": page.has_more, "next_cursor": page.next_cursor})


class WebhookRedeliverView(ApiView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = get_endpoint(request.user, endpoint_id)
        delivery = services.redeliver(delivery=get_delivery(endpoint, delivery_id))
        delivery = get_delivery(endpoint, delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
