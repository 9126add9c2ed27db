from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from verifications.api.serializers import VerificationSerializer
from verifications.models import Verification
from verifications.storage import image_url
from verifyai.admin import CustomerScopedAdmin, pretty_json
from webhooks.models import WebhookDelivery


def decision_badge(verification: Verification) -> str:
    if verification.status != Verification.Status.SUCCESS:
        return mark_safe('<span class="decision decision-error">Error</span>')
    if verification.is_compliant:
        return mark_safe('<span class="decision decision-pass">Compliant</span>')
    return mark_safe('<span class="decision decision-fail">Not compliant</span>')


def thumbnail(verification: Verification, css_class: str = "thumb") -> str:
    if not verification.image:
        return "—"
    return format_html('<img class="{}" src="{}" alt="" loading="lazy">', css_class,
                       image_url(verification.image))


class DecisionFilter(admin.SimpleListFilter):
    title = "decision"
    parameter_name = "decision"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("compliant", "Compliant"), ("not_compliant", "Not compliant"), ("error", "Error")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        success = Verification.Status.SUCCESS
        return {
            "compliant": lambda: queryset.filter(status=success, is_compliant=True),
            "not_compliant": lambda: queryset.filter(status=success, is_compliant=False),
            "error": lambda: queryset.exclude(status=success),
        }.get(self.value() or "", lambda: queryset)()


class LatencyFilter(admin.SimpleListFilter):
    title = "latency"
    parameter_name = "latency"
    BANDS = {  # label, lower bound (inclusive), upper bound (exclusive), in ms
        "lt500": ("under 0.5 s", 0, 500),
        "500-1000": ("0.5–1 s", 500, 1000),
        "1000-3000": ("1–3 s", 1000, 3000),
        "gte3000": ("3 s and more", 3000, None),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        _, low, high = band
        queryset = queryset.filter(latency_ms__gte=low)
        return queryset if high is None else queryset.filter(latency_ms__lt=high)


@admin.register(Verification)
class VerificationAdmin(CustomerScopedAdmin):
    list_display = [
        "preview", "id", "customer", "decision", "category", "policy_name", "provider", "latency",
        "created_at",
    ]
    list_display_links = ["preview", "id"]
    list_filter = [
        DecisionFilter, "category", "policy_slug", "provider", "evaluation_source", LatencyFilter,
        "stream", "created_at",
    ]
    search_fields = ["=id", "=request_id"]
    search_help_text = (
        "A verification or request id, text anywhere in the metadata, or key=value "
        "for one metadata field (e.g. vehicle_id=SC-1042)."
    )
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over every result on each page
    fieldsets = [
        ("Decision", {"fields": ["decision", "category", "confidence", "violation_reasons", "feedback"]}),
        ("Image", {"fields": ["image_preview", "image_facts"]}),
        ("Evaluation", {"fields": [
            "id", "created_at", "policy_link", "provider", "model", "evaluation_source", "latency",
            "tokens", "error_code", "error_message",
        ]}),
        ("Context", {"fields": ["customer", "stream_link", "request_id", "metadata_json"]}),
        ("Result, as the API returns it", {"fields": ["result_json"]}),
        ("Webhook deliveries", {"fields": ["deliveries"]}),
    ]
    readonly_fields = [
        "decision", "category", "confidence", "violation_reasons", "feedback", "image_preview",
        "image_facts", "id", "created_at", "policy_link", "provider", "model", "evaluation_source",
        "latency", "tokens", "error_code", "error_message", "customer", "stream_link", "request_id",
        "metadata_json", "result_json", "deliveries",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # results are evidence; they are never edited

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        by_id, _ = super().get_search_results(request, queryset, term)
        if "=" in term:
            key, _, value = term.partition("=")
            key, value = key.strip(), value.strip()
            if key.isidentifier():
                return by_id | queryset.filter(**{f"metadata__{key}": value}), False
        in_metadata = queryset.alias(metadata_text=Cast("metadata", TextField())).filter(
            metadata_text__icontains=term
        )
        return by_id | in_metadata, False

    @admin.display(description="Image")
    def preview(self, verification: Verification) -> str:
        return thumbnail(verification)

    @admin.display(description="Decision", ordering="is_compliant")
    def decision(self, verification: Verification) -> str:
        return decision_badge(verification)

    @admin.display(description="Policy", ordering="policy_slug")
    def policy_name(self, verification: Verification) -> str:
        return verification.policy_slug

    @admin.display(description="Latency", ordering="latency_ms")
    def latency(self, verification: Verification) -> str:
        return f"{verification.latency_ms} ms" if verification.latency_ms is not None else "—"

    @admin.display(description="Image")
    def image_preview(self, verification: Verification) -> str:
        if not verification.image:
            return "Not stored"
        url = image_url(verification.image)
        return format_html('<a href="{}"><img class="image-preview" src="{}" alt="Verified image"></a>',
                           url, url)

    @admin.display(description="Format")
    def image_facts(self, verification: Verification) -> str:
        if not verification.image_format:
            return "—"
        return (f"{verification.image_format.upper()}, {verification.image_width}×"
                f"{verification.image_height}, SHA-256 {verification.image_sha256[:16]}…")

    @admin.display(description="Policy")
    def policy_link(self, verification: Verification) -> str:
        if verification.policy_id is None:
            return verification.policy_slug
        url = reverse("admin:policies_policy_change", args=[quote(verification.policy_id)])
        return format_html('<a href="{}">{}</a>', url, verification.policy_slug)

    @admin.display(description="Tokens (in / out)")
    def tokens(self, verification: Verification) -> str:
        if verification.input_tokens is None and verification.output_tokens is None:
            return "—"
        return f"{verification.input_tokens or 0} / {verification.output_tokens or 0}"

    @admin.display(description="Stream")
    def stream_link(self, verification: Verification) -> str:
        if verification.stream_id is None:
            return "—"
        url = reverse("admin:streams_stream_change", args=[quote(verification.stream_id)])
        return format_html('<a href="{}">{}</a>', url, verification.stream)

    @admin.display(description="Metadata")
    def metadata_json(self, verification: Verification) -> str:
        return pretty_json(verification.metadata)

    @admin.display(description="JSON")
    def result_json(self, verification: Verification) -> str:
        return pretty_json(VerificationSerializer(verification).data)

    @admin.display(description="Deliveries")
    def deliveries(self, verification: Verification) -> str:
        rows = (
            WebhookDelivery.objects.filter(
                subject_id=verification.pk, endpoint__customer_id=verification.customer_id
            ).select_related("endpoint").order_by("created_at")
        )
        body = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (reverse("admin:webhooks_webhookdelivery_change", args=[quote(d.pk)]), d.pk,
                 d.endpoint.url, d.status, d.attempt_count,
                 d.last_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if d.last_attempt_at else "—")
                for d in rows
            ),
        )
        if not body:
            return "None: no endpoint was subscribed to verification.completed."
        return format_html(
            '<table class="compact"><thead><tr><th>Delivery</th><th>Endpoint</th><th>Status</th>'
            "<th>Attempts</th><th>Last attempt</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )
