from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from policies.builtin import DEFAULT_CATEGORIES
from policies.models import POLICY_ID_VALIDATOR, Policy
from policies.services import EDITABLE_FIELDS
from verifications.engine.base import PROVIDER_NAMES, PolicySpec
from verifications.engine.prompt import prompt_length
from verifyai import limits
from verifyai.api.fields import BoundedListField

_KEY = rf"^[a-z0-9][a-z0-9_]{{0,{limits.POLICY_MAX_KEY_LENGTH - 1}}}$"


class CriterionSerializer(serializers.Serializer):
    id = serializers.RegexField(_KEY, max_length=limits.POLICY_MAX_KEY_LENGTH)
    description = serializers.CharField(max_length=limits.POLICY_MAX_ROW_DESCRIPTION)


class ViolationCodeSerializer(serializers.Serializer):
    code = serializers.RegexField(_KEY, max_length=limits.POLICY_MAX_KEY_LENGTH)
    description = serializers.CharField(max_length=limits.POLICY_MAX_ROW_DESCRIPTION)


class CategorySerializer(serializers.Serializer):
    id = serializers.RegexField(_KEY, max_length=limits.POLICY_MAX_KEY_LENGTH)
    # Optional, stored as "" when omitted: so "" must read back and validate again.
    description = serializers.CharField(
        max_length=limits.POLICY_MAX_ROW_DESCRIPTION, required=False, allow_blank=True, default=""
    )
    is_compliant = serializers.BooleanField()


def _unique(items: list[dict[str, Any]], key: str, what: str) -> None:
    counts = Counter(item[key] for item in items)
    duplicates = sorted(value for value, count in counts.items() if count > 1)
    if duplicates:
        raise serializers.ValidationError(f"Duplicate {what}: {', '.join(duplicates)}.")


def _rows(row: type[serializers.Serializer], **kwargs: Any) -> BoundedListField:
    return BoundedListField(child=row(), max_length=limits.POLICY_MAX_ROWS, **kwargs)


def patched(policy: Policy, patch: Any) -> Any:
    """The whole policy a PATCH leaves behind: the stored policy with the patch laid over it.

    It is then validated as a whole, exactly like a new policy: a partial serializer would
    also waive the required keys of every row in a patched list, and store rows that no
    longer read back.
    """
    if not isinstance(patch, Mapping):
        return patch  # the serializer refuses it as "not a dictionary"
    stored = {"id": policy.policy_id, **{name: getattr(policy, name) for name in EDITABLE_FIELDS}}
    return {**stored, **patch}


class PolicySerializer(serializers.ModelSerializer):
    id = serializers.CharField(
        source="policy_id",
        required=False,
        max_length=limits.POLICY_MAX_KEY_LENGTH,
        validators=[POLICY_ID_VALIDATOR],
    )
    builtin = serializers.BooleanField(source="is_builtin", read_only=True)
    criteria = _rows(CriterionSerializer)
    violation_codes = _rows(ViolationCodeSerializer)
    categories = _rows(CategorySerializer, required=False)
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
        extra_kwargs = {
            "name": {"max_length": limits.POLICY_MAX_NAME},
            "description": {"max_length": limits.POLICY_MAX_DESCRIPTION},
            "feedback_guidance": {"max_length": limits.POLICY_MAX_FEEDBACK_GUIDANCE},
        }

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
        if not self.partial:
            self._check_prompt_length(attrs)
        return attrs

    def _check_prompt_length(self, attrs: dict[str, Any]) -> None:
        stored_id = self.instance.policy_id if self.instance is not None else ""
        spec = PolicySpec(
            policy_id=attrs.get("policy_id") or stored_id or "pol_" + "x" * 12,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            criteria=attrs.get("criteria", []),
            violation_codes=attrs.get("violation_codes", []),
            categories=attrs.get("categories") or DEFAULT_CATEGORIES,
            feedback_guidance=attrs.get("feedback_guidance", ""),
        )
        length = prompt_length(spec)
        if length > limits.POLICY_MAX_PROMPT_CHARS:
            raise serializers.ValidationError({
                "policy": (
                    f"The instructions this policy gives the model would be {length} characters; "
                    f"the limit is {limits.POLICY_MAX_PROMPT_CHARS}. Shorten its descriptions or "
                    "remove rows."
                )
            })
