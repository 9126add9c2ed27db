from __future__ import annotations

from typing import Any

from rest_framework import serializers

from policies.models import POLICY_ID_VALIDATOR, Policy
from verifications.engine.base import PROVIDER_NAMES


class CriterionSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[a-z0-9][a-z0-9_]{0,63}$")
    description = serializers.CharField(max_length=500)


class ViolationCodeSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[a-z0-9][a-z0-9_]{0,63}$")
    description = serializers.CharField(max_length=500)


class CategorySerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[a-z0-9][a-z0-9_]{0,63}$")
    description = serializers.CharField(max_length=500, required=False, default="")
    is_compliant = serializers.BooleanField()


def _unique(items: list[dict[str, Any]], key: str, what: str) -> None:
    seen = [item[key] for item in items]
    duplicates = sorted({value for value in seen if seen.count(value) > 1})
    if duplicates:
        raise serializers.ValidationError(f"Duplicate {what}: {', '.join(duplicates)}.")


class PolicySerializer(serializers.ModelSerializer):
    id = serializers.CharField(
        source="policy_id", required=False, validators=[POLICY_ID_VALIDATOR]
    )
    builtin = serializers.BooleanField(source="is_builtin", read_only=True)
    criteria = CriterionSerializer(many=True)
    violation_codes = ViolationCodeSerializer(many=True)
    categories = CategorySerializer(many=True, required=False)
    default_provider = serializers.ChoiceField(
        choices=[("", "")] + [(name, name) for name in PROVIDER_NAMES],
        required=False,
        allow_blank=True,
    )

    class Meta:
        model = Policy
        fields = [
            "id",
            "name",
            "description",
            "builtin",
            "criteria",
            "violation_codes",
            "categories",
            "feedback_guidance",
            "default_provider",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_criteria(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not value:
            raise serializers.ValidationError("A policy needs at least one criterion.")
        _unique(value, "id", "criterion ids")
        return value

    def validate_violation_codes(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _unique(value, "code", "violation codes")
        return value

    def validate_categories(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _unique(value, "id", "category ids")
        flags = {category["is_compliant"] for category in value}
        if flags != {True, False}:
            raise serializers.ValidationError(
                "Categories need at least one compliant and one non-compliant category."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "policy_id" in attrs:
            if attrs["policy_id"] != self.instance.policy_id:
                raise serializers.ValidationError({"id": "A policy's id cannot be changed."})
        return attrs
