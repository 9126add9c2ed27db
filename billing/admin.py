from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing.models import ApiKey, Customer, Plan, Subscription, UsageCounter
from billing.reports import usage_report
from billing.services import create_api_key, revoke_api_key
from verifyai.admin import CustomerScopedAdmin, scope_of
from webhooks.selectors import endpoints_for


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    # Not customer-owned: superusers only (operators hold no permission on plans).
    list_display = ["name", "display_name", "monthly_verification_limit", "requests_per_minute", "requests_per_hour"]
    search_fields = ["name", "display_name"]


class SubscriptionInline(admin.StackedInline):
    model = Subscription
    extra = 0


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "name", "product", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # keys are created on the customer's settings page, shown once


@admin.register(Customer)
class CustomerAdmin(CustomerScopedAdmin):
    customer_path = "pk"  # an operator sees their own customer only
    list_display = ["name", "id", "email", "plan", "subscription_status", "settings_link", "created_at"]
    search_fields = ["name", "id", "email"]
    list_select_related = ["subscription__plan"]
    inlines = [SubscriptionInline, ApiKeyInline]

    def get_urls(self) -> list[Any]:
        settings_url = path(
            "<path:object_id>/settings/",
            self.admin_site.admin_view(self.settings_view),
            name="billing_customer_settings",
        )
        return [settings_url, *super().get_urls()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return scope_of(request) is None and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        return scope_of(request) is None and super().has_delete_permission(request, obj)

    @admin.display(description="Plan")
    def plan(self, customer: Customer) -> str:
        return str(customer.subscription.plan) if hasattr(customer, "subscription") else "—"

    @admin.display(description="Subscription")
    def subscription_status(self, customer: Customer) -> str:
        return customer.subscription.status if hasattr(customer, "subscription") else "none"

    @admin.display(description="")
    def settings_link(self, customer: Customer) -> str:
        url = reverse("admin:billing_customer_settings", args=[quote(customer.pk)])
        return format_html('<a href="{}">Settings, keys and usage</a>', url)

    def settings_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Plan, usage this month, API keys (created here, shown once; revoked here) and webhooks."""
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        can_change = self.has_change_permission(request, customer)
        new_key = None
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if request.POST.get("action") == "create_key":
                name = request.POST.get("name", "").strip()[:100] or "dashboard"
                new_key = create_api_key(customer=customer, name=name)
                self.log_addition(request, new_key.api_key, [{"added": {"name": "API key"}}])
            elif request.POST.get("action") == "revoke_key":
                key_id = request.POST.get("key", "")
                api_key = customer.api_keys.filter(pk=key_id).first() if key_id.isdigit() else None
                if api_key is None:
                    raise Http404
                revoke_api_key(api_key=api_key)
                self.log_change(request, api_key, "Revoked.")
                self.message_user(request, f"Key {api_key.prefix}… revoked; it stops working now.")
                return redirect(request.path)
            else:
                return HttpResponseBadRequest("Unknown action.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{customer.name}: settings",
            "opts": self.model._meta,
            "original": customer,
            "customer": customer,
            "can_change": can_change,
            "usage": usage_report(customer),
            "api_keys": customer.api_keys.order_by("revoked_at", "-created_at"),
            "endpoints": endpoints_for(customer),
            "new_key": new_key,
        }
        response = TemplateResponse(request, "admin/billing/customer/settings.html", context)
        if new_key is not None:
            response["Cache-Control"] = "no-store"  # the one page that shows the key
        return response


@admin.register(ApiKey)
class ApiKeyAdmin(CustomerScopedAdmin):
    list_display = ["prefix", "customer", "name", "product", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["product", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "customer__name", "customer__id"]
    list_select_related = ["customer"]
    readonly_fields = ["prefix", "customer", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for api_key in queryset:
            revoke_api_key(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(UsageCounter)
class UsageCounterAdmin(CustomerScopedAdmin):
    list_display = ["customer", "period_start", "count"]
    list_select_related = ["customer"]
    readonly_fields = ["customer", "period_start", "count"]
    search_fields = ["customer__name", "customer__id"]
