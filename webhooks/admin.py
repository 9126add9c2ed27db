from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from verifyai.admin import CustomerScopedAdmin
from webhooks import services
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(CustomerScopedAdmin):
    list_display = ["url", "id", "customer", "active", "events", "disabled_reason", "created_at"]
    list_filter = ["active", "customer"]
    search_fields = ["id", "url", "customer__name", "customer__id"]
    list_select_related = ["customer"]
    # The secret is not a field here at all: shown once through the API, never again.
    fields = ["customer", "url", "events", "description", "active", "failing_since",
              "disabled_at", "disabled_reason", "created_at", "updated_at"]
    readonly_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at"]
    raw_id_fields = ["customer"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        if not change:
            obj.secret = services.new_secret()
            self.message_user(
                request,
                f"Signing secret for {obj.url} — copy it now, it will not be shown again: {obj.secret}",
                messages.WARNING,
            )
        super().save_model(request, obj, form, change)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["attempted_at", "succeeded", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(CustomerScopedAdmin):
    customer_path = "endpoint__customer"
    list_display = ["id", "event_type", "event_id", "endpoint", "customer", "status",
                    "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type", "endpoint__customer"]
    search_fields = ["id", "event_id", "endpoint__id", "endpoint__url"]
    list_select_related = ["endpoint__customer"]
    readonly_fields = ["endpoint", "event_id", "event_type", "body", "status", "attempt_count",
                       "next_attempt_at", "locked_until", "last_attempt_at", "created_at"]
    exclude = ["payload"]
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    @admin.display(description="Customer")
    def customer(self, delivery: WebhookDelivery) -> str:
        return str(delivery.endpoint.customer)

    @admin.display(description="Payload")
    def body(self, delivery: WebhookDelivery) -> str:
        return bytes(delivery.payload).decode("utf-8", errors="replace")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resend (same event, new delivery)")
    def resend(self, request: HttpRequest, queryset) -> None:
        queued = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.redeliver(delivery=delivery)
                queued += 1
            except services.EndpointDisabled:
                self.message_user(
                    request, f"{delivery.pk}: its endpoint is disabled; enable it first.",
                    messages.ERROR,
                )
        self.message_user(request, f"{queued} delivery(ies) queued again.")
