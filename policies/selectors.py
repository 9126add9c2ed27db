"""Reads for policies, always scoped to what a customer may see."""

from __future__ import annotations

from django.db.models import F

from billing.models import Customer
from policies.models import Policy, PolicyQuerySet
from verifyai.api.errors import NotFound


def policies_for(customer: Customer) -> PolicyQuerySet:
    return Policy.objects.visible_to(customer).order_by(
        F("customer_id").asc(nulls_first=True), "policy_id"
    )


def get_policy(customer: Customer, policy_id: str) -> Policy:
    # A customer's own policy wins over a built-in of the same id (none exist by construction).
    policy = policies_for(customer).filter(policy_id=policy_id).order_by(F("customer_id").desc(nulls_last=True)).first()
    if policy is None:
        raise NotFound(f"No policy '{policy_id}'.")
    return policy
