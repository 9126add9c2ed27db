from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from verifyai.admin import CustomerScopedAdmin
from webhooks import http, services
from webhooks.models import SUBSCRIBABLE_EVENTS, DeliveryAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    """The API's rules in the dashboard: a public http(s) URL and known event types."""

    url = forms.URLField(max_length=2048, assume_scheme="https",
                         widget=forms.URLInput(attrs={"size": 80}))
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple, initial=SUBSCRIBABLE_EVENTS,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["customer", "url", "events", "description", "active"]

    def clean(self) -> dict:
        cleaned = super().clean()
        customer = cleaned.get("customer")
        if self.instance._state.adding and customer is not None:
            try:  # the API's cap applies to the dashboard too
                services.check_endpoint_capacity(customer=customer)
            except services.TooManyEndpoints as exc:
                raise forms.ValidationError(exc.message) from None
        return cleaned

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if url != self.initial.get("url"):
            try:
                http.check_url(url)
            except http.UnsafeTarget as exc:
                raise forms.ValidationError(str(exc)) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(CustomerScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "id", "customer", "state", "events", "created_at"]
    list_filter = ["active", "customer"]
    search_fields = ["id", "url", "customer__name", "customer__id"]
    list_select_related = ["customer"]
    ordering = ["-created_at"]
    # The secret is not a field here at all: shown once, on the page after "Save", never again.
    fields = ["customer", "url", "events", "description", "active", "failing_since",
              "disabled_at", "disabled_reason", "created_at", "updated_at"]
    readonly_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at"]
    raw_id_fields = ["customer"]

    @admin.display(description="State")
    def state(self, endpoint: WebhookEndpoint) -> str:
        if not endpoint.active:
            return format_html('<span class="decision decision-error" title="{}">disabled</span>',
                               endpoint.disabled_reason)
        if endpoint.failing_since:
            return format_html('<span class="decision decision-fail">failing since {}</span>',
                               endpoint.failing_since.strftime("%Y-%m-%d %H:%M"))
        return mark_safe('<span class="decision decision-pass">active</span>')

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        if change:
            # The API's update rules (turning an endpoint back on clears an automatic disabling).
            changed = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS
                       if name in form.changed_data}
            services.update_endpoint(endpoint=obj, data=changed)
            return
        obj.secret = services.new_secret()
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook signing secret",
            "opts": self.model._meta,
            "endpoint": obj,
        }
        response = TemplateResponse(request, "admin/webhooks/endpoint_secret.html", context)
        response["Cache-Control"] = "no-store"  # the one page that shows the secret
        return response


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
            except services.ManualSendsRateLimited as exc:
                self.message_user(request, f"{delivery.pk}: {exc.message}", messages.ERROR)
                break
        self.message_user(request, f"{queued} delivery(ies) queued again.")
