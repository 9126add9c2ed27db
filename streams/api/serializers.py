from __future__ import annotations

from typing import Any

from rest_framework import serializers

from streams.models import Stream
from streams.services import IssuedCode
from verifications.api.serializers import ImageField
from verifications.services import resolve_policy


class StreamSerializer(serializers.ModelSerializer):
    policy_id = serializers.CharField(max_length=64)
    paired = serializers.BooleanField(source="is_paired", read_only=True)

    class Meta:
        model = Stream
        fields = [
            "id", "name", "policy_id", "status", "paired", "site_id", "location", "asset_type",
            "region", "expected_throughput", "group_id", "last_frame_at", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "status", "paired", "last_frame_at", "created_at", "updated_at"]

    def to_representation(self, stream: Stream) -> dict[str, Any]:
        body = super().to_representation(stream)
        body["policy_id"] = stream.policy.policy_id if stream.policy else None
        return body

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        if "policy_id" in values:
            values["policy"] = resolve_policy(self.context["customer"], values.pop("policy_id"))
        return values


def pairing_body(issued: IssuedCode, request: Any, stream: Stream) -> dict[str, Any]:
    qr_path = f"/api/v1/streams/{stream.pk}/pairing-code.png?code={issued.code}"
    return {
        "code": issued.code,
        "expires_at": serializers.DateTimeField().to_representation(issued.expires_at),
        "qr_url": request.build_absolute_uri(qr_path),
    }


class PairRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class FrameRequestSerializer(serializers.Serializer):
    frame = ImageField()


class PairingSerializer(serializers.Serializer):
    """For the OpenAPI schema: a new pairing code, shown once."""

    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_url = serializers.URLField()


class PairResponseSerializer(serializers.Serializer):
    stream_id = serializers.UUIDField()
    stream_token = serializers.CharField(help_text="Returned once; only its bcrypt hash is stored.")
    policy_id = serializers.CharField(allow_null=True)
