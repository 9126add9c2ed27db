"""Writes for policies: syncing the built-ins, and customers' own policies."""

from __future__ import annotations

import copy
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from billing.models import Customer
from policies.builtin import BUILTIN_POLICIES, DEFAULT_CATEGORIES
from policies.models import Policy
from verifyai.api.errors import ApiError, Conflict
from verifyai.ids import random_token

EDITABLE_FIELDS = (
    "name",
    "description",
    "criteria",
    "violation_codes",
    "categories",
    "feedback_guidance",
    "default_provider",
)


def policy_defaults() -> dict[str, Any]:
    """The value of every optional field of a customer policy when not given."""
    return {
        "description": "",
        "categories": copy.deepcopy(DEFAULT_CATEGORIES),
        "feedback_guidance": "",
        "default_provider": "",
    }


def sync_builtin_policies() -> None:
    for spec in BUILTIN_POLICIES:
        fields = copy.deepcopy(spec)
        policy_id = fields.pop("policy_id")
        fields.setdefault("categories", copy.deepcopy(DEFAULT_CATEGORIES))
        Policy.objects.update_or_create(customer=None, policy_id=policy_id, defaults=fields)


def sync_builtin_policies_after_migrate(**kwargs: Any) -> None:
    sync_builtin_policies()


def is_builtin_id(policy_id: str) -> bool:
    return Policy.objects.filter(customer__isnull=True, policy_id=policy_id).exists()


def _check_not_builtin_id(policy_id: str) -> None:
    if is_builtin_id(policy_id):
        raise Conflict(f"'{policy_id}' is the id of a built-in policy; choose another id.")


@transaction.atomic
def create_policy(*, customer: Customer, data: dict[str, Any]) -> Policy:
    policy_id = data.get("policy_id") or f"pol_{random_token(12).lower()}"
    _check_not_builtin_id(policy_id)
    fields = {**policy_defaults(), **{name: data[name] for name in EDITABLE_FIELDS if name in data}}
    try:
        with transaction.atomic():
            return Policy.objects.create(customer=customer, policy_id=policy_id, **fields)
    except IntegrityError:
        raise Conflict(f"A policy with id '{policy_id}' already exists.") from None


class BuiltinPolicyReadOnly(ApiError):
    status, code, message = 403, "builtin_policy_read_only", "Built-in policies cannot be changed."


@transaction.atomic
def update_policy(*, policy: Policy, data: dict[str, Any]) -> Policy:
    if policy.is_builtin:
        raise BuiltinPolicyReadOnly()
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(policy, name, data[name])
    policy.save()
    return policy


def delete_policy(*, policy: Policy) -> None:
    if policy.is_builtin:
        raise BuiltinPolicyReadOnly()
    try:
        policy.delete()
    except RestrictedError:
        raise Conflict(
            f"Policy '{policy.policy_id}' is used by streams; point them at another policy first.",
            streams=sorted(str(stream.pk) for stream in policy.streams.all()),
        ) from None
