"""Reads for webhooks, always scoped to one customer."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from billing.models import Customer
from verifyai.api.errors import NotFound
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_for(customer: Customer) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(customer=customer).order_by("-created_at", "-id")


def get_endpoint(customer: Customer, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoints_for(customer).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint '{endpoint_id}'.")
    return endpoint


def deliveries_for(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related(
        Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id"))
    )


def get_delivery(endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery:
    delivery = deliveries_for(endpoint).filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(f"No delivery '{delivery_id}'.")
    return delivery
