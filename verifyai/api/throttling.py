"""Per-credential (API key or stream) rate limits from the customer's plan, counted by django-ratelimit.

Counts live in the default cache, which is Redis in production, so every web
process shares one count. Two fixed windows apply: per minute and per hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


@dataclass(frozen=True)
class WindowUsage:
    limit: int
    remaining: int
    reset_seconds: int
    exceeded: bool


def _key(group: str, request: Request) -> str:
    return str(request.auth.pk)


def _usage(request: Request, *, group: str, rate: str) -> WindowUsage | None:
    usage = get_usage(request, group=group, key=_key, rate=rate, increment=True)
    if usage is None:  # the cache failed and RATELIMIT_FAIL_OPEN is on
        return None
    return WindowUsage(
        limit=usage["limit"],
        remaining=max(0, usage["limit"] - usage["count"]),
        reset_seconds=max(1, usage["time_left"]),
        exceeded=usage["should_limit"],
    )


class PlanRateThrottle(BaseThrottle):
    """Refuses a request once either window of the plan is used up."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            return True
        # The credential is an API key or a stream (frames); either way the customer's plan applies.
        plan = request.user.subscription.plan
        windows = [
            _usage(request, group="api-minute", rate=f"{plan.requests_per_minute}/m"),
            _usage(request, group="api-hour", rate=f"{plan.requests_per_hour}/h"),
        ]
        live = [w for w in windows if w is not None]
        self.exceeded = [w for w in live if w.exceeded]
        # Headers describe the tightest window: the one with the fewest requests left.
        request.rate_limit = min(live, key=lambda w: w.remaining) if live else None
        return not self.exceeded

    def wait(self) -> float:
        return float(max(w.reset_seconds for w in self.exceeded))
