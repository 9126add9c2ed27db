from django.contrib import admin, messages
from django.http import HttpRequest

from billing.models import ApiKey, Customer, Plan, Subscription, UsageCounter
from billing.services import create_api_key, revoke_api_key
from verifyai.admin import CustomerScopedAdmin, scope_of

admin.site.site_header = "VerifyAI"
admin.site.site_title = "VerifyAI"
admin.site.index_title = "Operator dashboard"


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
        return False  # keys are minted by the "Create API key" action, shown once


@admin.register(Customer)
class CustomerAdmin(CustomerScopedAdmin):
    customer_path = "pk"  # an operator sees their own customer only
    list_display = ["name", "id", "email", "plan", "subscription_status", "created_at"]
    search_fields = ["name", "id", "email"]
    list_select_related = ["subscription__plan"]
    inlines = [SubscriptionInline, ApiKeyInline]
    actions = ["mint_api_key"]

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

    @admin.action(description="Create an API key (shown once)")
    def mint_api_key(self, request: HttpRequest, queryset) -> None:
        for customer in queryset:
            issued = create_api_key(customer=customer, name="dashboard")
            self.message_user(
                request,
                f"New API key for {customer.name} — copy it now, it will not be shown again: "
                f"{issued.raw_key}",
                messages.WARNING,
            )


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
