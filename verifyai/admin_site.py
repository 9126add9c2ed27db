"""The dashboard's site: VerifyAI branding, navigation in the order operators work, the
operator's customer in every page's context, and a summary of today on the index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# Apps and models in the order an operator reaches for them; anything else follows.
APP_ORDER = ["verifications", "streams", "policies", "webhooks", "billing", "auth"]
MODEL_ORDER = {
    "verifications": ["Verification"],
    "streams": ["Stream", "PairingCode"],
    "webhooks": ["WebhookEndpoint", "WebhookDelivery"],
    "billing": ["Customer", "ApiKey", "UsageCounter", "Subscription", "Plan", "Operator"],
}


def _position(order: list[str], name: str) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


class VerifyAIAdminSite(admin.AdminSite):
    site_header = "VerifyAI"
    site_title = "VerifyAI"
    index_title = "Operator dashboard"
    index_template = "admin/verifyai_index.html"
    enable_nav_sidebar = False  # the result tables need the width; header and breadcrumbs navigate

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        from verifyai.admin import operator_customer

        context = super().each_context(request)
        context["verifyai_customer"] = operator_customer(request) if request.user.is_active else None
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        apps.sort(key=lambda app: _position(APP_ORDER, app["app_label"]))
        for app in apps:
            order = MODEL_ORDER.get(app["app_label"], [])
            app["models"].sort(key=lambda model: _position(order, model["object_name"]))
        return apps

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from verifyai.admin import scope_of
        from verifyai.dashboard import today_summary

        scope = scope_of(request)  # None: a superuser (all customers); str: an operator's customer
        sees_nothing = scope is not None and not isinstance(scope, str)  # staff of no customer
        summary = None if sees_nothing else today_summary(scope)
        return super().index(request, {"summary": summary, **(extra_context or {})})
