from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from billing.services import current_period_start, next_period_start, usage_this_period
from verifyai.api.views import ApiView


class UsageView(ApiView):
    """This month's verification count against the plan's limit."""

    def get(self, request: Request) -> Response:
        plan = request.user.subscription.plan
        period_start = current_period_start()
        used = usage_this_period(request.user)
        return Response(
            {
                "plan": plan.name,
                "period_start": period_start.isoformat(),
                "period_end": next_period_start(period_start).isoformat(),
                "current_usage": used,
                "limit": plan.monthly_verification_limit,
                "remaining": max(0, plan.monthly_verification_limit - used),
                "rate_limits": {
                    "per_minute": plan.requests_per_minute,
                    "per_hour": plan.requests_per_hour,
                },
            }
        )
