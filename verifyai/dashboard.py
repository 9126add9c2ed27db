"""Figures for the dashboard's front page: the last 24 hours of one customer (or all)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from streams.models import Stream
from verifications.models import Verification
from webhooks.models import WebhookDelivery, WebhookEndpoint

SILENT_AFTER = dt.timedelta(minutes=5)  # an active, paired camera quiet this long needs a look


@dataclass(frozen=True)
class Summary:
    verifications: int
    compliant: int
    not_compliant: int
    errors: int
    p95_latency_ms: int | None
    active_streams: int
    silent_streams: int
    failing_endpoints: int
    pending_deliveries: int

    @property
    def compliance_rate(self) -> int | None:
        decided = self.compliant + self.not_compliant
        return round(100 * self.compliant / decided) if decided else None


def today_summary(customer_id: str | None, now: dt.datetime | None = None) -> Summary:
    now = now or timezone.now()
    mine = Q() if customer_id is None else Q(customer_id=customer_id)
    recent = Verification.objects.filter(mine, created_at__gte=now - dt.timedelta(hours=24))
    counts = recent.aggregate(
        total=Count("pk"),
        compliant=Count("pk", filter=Q(status=Verification.Status.SUCCESS, is_compliant=True)),
        not_compliant=Count("pk", filter=Q(status=Verification.Status.SUCCESS, is_compliant=False)),
        errors=Count("pk", filter=~Q(status=Verification.Status.SUCCESS)),
    )
    latencies = list(
        recent.filter(latency_ms__isnull=False).order_by("-created_at")
        .values_list("latency_ms", flat=True)[:2000]
    )
    streams = Stream.objects.filter(mine, status=Stream.Status.ACTIVE).aggregate(
        active=Count("pk"),
        silent=Count("pk", filter=Q(token_hash__isnull=False)
                     & (Q(last_frame_at__isnull=True) | Q(last_frame_at__lt=now - SILENT_AFTER))),
    )
    endpoints = WebhookEndpoint.objects.filter(mine)
    deliveries = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING,
        **({} if customer_id is None else {"endpoint__customer_id": customer_id}),
    )
    return Summary(
        verifications=counts["total"],
        compliant=counts["compliant"],
        not_compliant=counts["not_compliant"],
        errors=counts["errors"],
        p95_latency_ms=_percentile(latencies, 95),
        active_streams=streams["active"],
        silent_streams=streams["silent"],
        failing_endpoints=endpoints.filter(active=True, failing_since__isnull=False).count(),
        pending_deliveries=deliveries.count(),
    )


def _percentile(values: list[int], percent: int) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, (len(ordered) * percent) // 100)]
