from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from verifyai import limits
from verifyai.api.fields import BoundedListField
from webhooks.models import SUBSCRIBABLE_EVENTS, DeliveryAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(max_length=limits.WEBHOOK_MAX_URL)
    events = BoundedListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS),
        allow_empty=False,
        max_length=limits.WEBHOOK_MAX_EVENTS,
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "active",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "disabled_at", "disabled_reason", "created_at", "updated_at"]
        extra_kwargs = {"description": {"max_length": limits.WEBHOOK_MAX_DESCRIPTION}}


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """Answers creation and rotation: the only times the secret is shown."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "succeeded", "status_code", "duration_ms", "response_excerpt", "error"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event_type")
    payload = serializers.SerializerMethodField()
    attempts = DeliveryAttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempt_count",
            "next_attempt_at",
            "created_at",
            "payload",
            "attempts",
        ]

    def get_payload(self, delivery: WebhookDelivery) -> Any:
        return json.loads(bytes(delivery.payload))
