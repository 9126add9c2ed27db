from __future__ import annotations

from typing import Any

from rest_framework import serializers

from streams.models import Stream
from streams.qr import qr_data_uri
from streams.services import IssuedCode
from verifications.api.serializers import ImageField
from verifications.services import resolve_policy
from verifyai import limits


class StreamSerializer(serializers.ModelSerializer):
    policy_id = serializers.CharField(max_length=limits.POLICY_MAX_KEY_LENGTH)
    paired = serializers.BooleanField(source="is_paired", read_only=True)

    class Meta:
        model = Stream
        fields = [
            "id", "name", "policy_id", "status", "paired", "site_id", "location", "asset_type",
            "region", "expected_throughput", "group_id", "last_frame_at", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "status", "paired", "last_frame_at", "created_at", "updated_at"]
        # Text fields take their model's max_length; the one number gets a bound of its own.
        extra_kwargs = {"expected_throughput": {"max_value": limits.STREAM_MAX_EXPECTED_THROUGHPUT}}

    def to_representation(self, stream: Stream) -> dict[str, Any]:
        body = super().to_representation(stream)
        body["policy_id"] = stream.policy.policy_id if stream.policy else None
        return body

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        if "policy_id" in values:
            values["policy"] = resolve_policy(self.context["customer"], values.pop("policy_id"))
        return values


def pairing_body(issued: IssuedCode) -> dict[str, Any]:
    # The QR goes inline: a URL that drew it would name the code, and URLs land in access logs.
    return {
        "code": issued.code,
        "expires_at": serializers.DateTimeField().to_representation(issued.expires_at),
        "qr_url": qr_data_uri(issued),
    }


class PairRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    stream_id = serializers.UUIDField(
        required=False,
        help_text="The stream the QR names. With it only that stream's code is tried, and typed-code "
        "lockouts do not apply.",
    )


class FrameRequestSerializer(serializers.Serializer):
    frame = ImageField()


class PairingSerializer(serializers.Serializer):
    """For the OpenAPI schema: a new pairing code, shown once."""

    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_url = serializers.CharField(
        help_text=(
            'The QR as a data: URI ("data:image/png;base64,..."), usable as an <img> src. It encodes '
            '{"code", "stream_id", "api"}: a kiosk sends code and stream_id to /streams/pair.'
        )
    )


class PairResponseSerializer(serializers.Serializer):
    stream_id = serializers.UUIDField()
    stream_token = serializers.CharField(help_text="Returned once; only its bcrypt hash is stored.")
    policy_id = serializers.CharField(allow_null=True)
