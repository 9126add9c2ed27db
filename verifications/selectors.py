"""Reads for verifications, always scoped to one customer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from billing.models import Customer
from verifications.models import Verification
from verifyai.api.errors import NotFound


@dataclass(frozen=True)
class VerificationFilters:
    policy: str | None = None
    status: str | None = None
    is_compliant: bool | None = None
    start: dt.datetime | None = None  # inclusive
    end: dt.datetime | None = None  # exclusive


def verifications_for(customer: Customer, filters: VerificationFilters) -> QuerySet[Verification]:
    queryset = Verification.objects.filter(customer=customer)
    if filters.policy:
        queryset = queryset.filter(policy_slug=filters.policy)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.is_compliant is not None:
        queryset = queryset.filter(is_compliant=filters.is_compliant)
    if filters.start:
        queryset = queryset.filter(created_at__gte=filters.start)
    if filters.end:
        queryset = queryset.filter(created_at__lt=filters.end)
    return queryset


def get_verification(customer: Customer, verification_id: str) -> Verification:
    # Another customer's verification is a 404, never a 403 that confirms it exists.
    verification = Verification.objects.filter(customer=customer, pk=verification_id).first()
    if verification is None:
        raise NotFound(f"No verification '{verification_id}'.")
    return verification
