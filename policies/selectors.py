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
    # At most two rows (own and built-in); a customer's own policy wins over a built-in of the
    # same id (none exist by construction). Chosen here rather than by ORDER BY: this runs on
    # every /verify, and compiling the ordering expressions cost more than the query.
    candidates = Policy.objects.visible_to(customer).filter(policy_id=policy_id).order_by()
    policy = min(candidates, key=lambda p: p.customer_id is None, default=None)
    if policy is None:
        raise NotFound(f"No policy '{policy_id}'.")
    return policy
