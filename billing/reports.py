"""What the customer settings page shows about a month: usage against the plan, day by day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import Customer, Subscription
from billing.services import current_period_start, next_period_start, usage_this_period
from verifications.models import Verification

CHART_WIDTH, CHART_HEIGHT, CHART_AXIS = 620, 140, 18  # px, in the SVG's own units


@dataclass(frozen=True)
class Bar:
    day: dt.date
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str  # the day of the month under every few bars, else ""


@dataclass(frozen=True)
class UsageReport:
    subscription: Subscription | None
    period_start: dt.date
    period_end: dt.date  # exclusive: the first day of the next period
    used: int
    limit: int
    busiest_day: int
    bars: list[Bar]

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used / self.limit)) if self.limit else 100

    @property
    def over_limit(self) -> bool:
        return self.used >= self.limit


def daily_verifications(customer: Customer, start: dt.date, end: dt.date) -> dict[dt.date, int]:
    """Billed (successful) verifications per UTC day in [start, end)."""
    utc = dt.UTC
    rows = (
        Verification.objects.filter(
            customer=customer,
            status=Verification.Status.SUCCESS,
            created_at__gte=dt.datetime.combine(start, dt.time(), utc),
            created_at__lt=dt.datetime.combine(end, dt.time(), utc),
        )
        .annotate(day=TruncDate("created_at", tzinfo=utc))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return dict(rows)


def usage_report(customer: Customer, now: dt.datetime | None = None) -> UsageReport:
    now = now or timezone.now()
    start = current_period_start(now)
    end = next_period_start(start)
    subscription = Subscription.objects.filter(customer=customer).select_related("plan").first()
    counts = daily_verifications(customer, start, end)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
    busiest = max(counts.values(), default=0)
    slot = CHART_WIDTH / len(days)
    plot_height = CHART_HEIGHT - CHART_AXIS
    bars = []
    for i, day in enumerate(days):
        count = counts.get(day, 0)
        height = plot_height * count / busiest if busiest else 0.0
        if count and height < 2:
            height = 2.0  # a day with any traffic stays visible
        bars.append(Bar(
            day=day, count=count, x=round(i * slot + 1, 1), y=round(plot_height - height, 1),
            width=round(slot - 2, 1), height=round(height, 1),
            label=str(day.day) if day.day == 1 or day.day % 5 == 0 else "",
        ))
    return UsageReport(
        subscription=subscription,
        period_start=start,
        period_end=end,
        used=usage_this_period(customer),
        limit=subscription.plan.monthly_verification_limit if subscription else 0,
        busiest_day=busiest,
        bars=bars,
    )
