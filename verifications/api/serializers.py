from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from verifications.engine.base import PROVIDER_NAMES
from verifications.images import decode_base64_image
from verifications.models import Verification
from verifications.selectors import VerificationFilters
from verifications.storage import image_url
from verifyai import limits
from verifyai.api import parsers as strict_json
from verifyai.api.pagination import PageQuerySerializer, utc_instant

MAX_METADATA_BYTES = limits.METADATA_MAX_BYTES


@extend_schema_field(
    {
        "type": "string",
        "format": "binary",
        "description": "A file upload (multipart), or raw base64 or a data URL (JSON).",
    }
)
class ImageField(serializers.Field):
    """An uploaded file, raw base64, or a base64 data URL; yields the bytes."""

    default_error_messages = {"invalid": "Send the image as a file upload or a base64 string."}

    def to_internal_value(self, data: Any) -> bytes:
        if isinstance(data, UploadedFile):
            return data.read()
        if isinstance(data, str):
            return decode_base64_image(data)
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


def _has_nul(value: Any) -> bool:
    # Nesting is already bounded by the JSON parser; this walk is iterative all the same.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_shape(metadata: dict[str, Any]) -> None:
    """At most METADATA_MAX_DEPTH levels (objects and arrays), METADATA_MAX_KEYS keys at every
    level together, each at most METADATA_MAX_KEY_LENGTH characters. Run after the size check,
    so the walk is over at most 16 KB of JSON."""
    keys = 0
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            keys += len(item)
            if keys > limits.METADATA_MAX_KEYS:
                raise serializers.ValidationError(
                    f"metadata is limited to {limits.METADATA_MAX_KEYS} keys in all."
                )
            if any(len(key) > limits.METADATA_MAX_KEY_LENGTH for key in item):
                raise serializers.ValidationError(
                    f"metadata keys are limited to {limits.METADATA_MAX_KEY_LENGTH} characters."
                )
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limits.METADATA_MAX_DEPTH:
            raise serializers.ValidationError(
                f"metadata is nested too deeply (at most {limits.METADATA_MAX_DEPTH} levels)."
            )
        stack.extend((child, depth + 1) for child in children)


@extend_schema_field({"type": "object", "additionalProperties": True})
class MetadataField(serializers.Field):
    """A JSON object, or (in multipart forms) a string holding one."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            try:
                data = strict_json.loads(data) if data.strip() else {}
            except strict_json.InvalidJSON as exc:
                raise serializers.ValidationError(f"metadata must be a JSON object. {exc}") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("metadata must be a JSON object.")
        if len(json.dumps(data)) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"metadata is limited to {MAX_METADATA_BYTES} bytes.")
        _check_shape(data)
        if _has_nul(data):
            # PostgreSQL's jsonb cannot hold U+0000: refused here, before anything is billed.
            raise serializers.ValidationError("metadata must not contain NUL (U+0000) characters.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class VerifyRequestSerializer(serializers.Serializer):
    image = ImageField()
    policy = serializers.CharField(max_length=limits.VERIFY_MAX_POLICY_ID)
    metadata = MetadataField(required=False, default=dict)
    provider = serializers.ChoiceField(choices=PROVIDER_NAMES, required=False, allow_null=True)
    include_image_data = serializers.BooleanField(required=False, default=False)


class VerificationSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy_slug")
    category = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Verification
        fields = [
            "id",
            "created_at",
            "status",
            "is_compliant",
            "confidence",
            "policy",
            "category",
            "violation_reasons",
            "feedback",
            "metadata",
            "image_url",
            "evaluation_source",
        ]

    def to_representation(self, verification: Verification) -> dict[str, Any]:
        body = super().to_representation(verification)
        if verification.stream_id is not None:  # frames name their stream; /verify bodies are unchanged
            body["stream_id"] = str(verification.stream_id)
        return body

    def get_category(self, verification: Verification) -> str | None:
        return verification.category or None

    def get_image_url(self, verification: Verification) -> str | None:
        if not verification.image:
            return None
        url = image_url(verification.image)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request and url.startswith("/") else url


def _parse_instant(name: str, raw: str, *, end: bool) -> dt.datetime:
    invalid = serializers.ValidationError({name: "Use an ISO 8601 date or date-time."})
    out_of_range = serializers.ValidationError(
        {name: "Use a date between 0001-01-01 and 9999-12-30 (UTC)."}
    )
    try:
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        raise invalid from None
    if day is not None:
        try:
            if end:
                day += dt.timedelta(days=1)  # an end date includes that whole day
        except OverflowError:  # 9999-12-31: its end is past the last representable day
            raise out_of_range from None
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    if moment is None:
        raise invalid
    instant = utc_instant(moment)  # the database compares in UTC
    if instant is None:
        raise out_of_range
    return instant


class VerificationListQuerySerializer(PageQuerySerializer):
    policy = serializers.CharField(required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Verification.Status.values, required=False)
    is_compliant = serializers.BooleanField(required=False, allow_null=True, default=None)
    start_date = serializers.CharField(required=False)
    end_date = serializers.CharField(required=False)

    def filters(self) -> VerificationFilters:
        data = self.validated_data
        return VerificationFilters(
            policy=data.get("policy") or None,
            status=data.get("status"),
            is_compliant=data.get("is_compliant"),
            start=_parse_instant("start_date", data["start_date"], end=False)
            if data.get("start_date")
            else None,
            end=_parse_instant("end_date", data["end_date"], end=True) if data.get("end_date") else None,
        )
