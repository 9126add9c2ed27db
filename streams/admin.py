from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from policies.models import Policy
from streams.models import PairingCode, Stream
from streams.qr import qr_data_uri
from streams.services import IssuedCode, StreamArchived, issue_pairing_code, set_status
from verifications.admin import decision_badge, thumbnail
from verifyai.admin import CustomerScopedAdmin


class StreamForm(forms.ModelForm):
    class Meta:
        model = Stream
        fields = [
            "customer", "name", "policy", "site_id", "location", "asset_type", "region",
            "expected_throughput", "group_id",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        customer, policy = data.get("customer"), data.get("policy")
        if policy is None:
            self.add_error("policy", "Pick the policy every frame is judged against.")
        elif customer is not None and policy.customer_id not in (None, customer.pk):
            self.add_error("policy", "That policy belongs to another customer.")
        return data


@admin.register(Stream)
class StreamAdmin(CustomerScopedAdmin):
    form = StreamForm
    list_display = ["name", "customer", "policy", "status", "paired", "last_frame_at", "created_at"]
    list_filter = ["status", ("token_hash", admin.EmptyFieldListFilter), "policy"]
    search_fields = ["name", "id", "location", "customer__name", "group_id"]
    list_select_related = ["customer", "policy"]
    ordering = ["name"]
    readonly_fields = ["id", "status", "paired", "token_version", "last_frame_at", "created_at",
                       "updated_at", "latest_frames"]
    LATEST_FRAMES = 12

    def get_fieldsets(self, request: HttpRequest, obj: Stream | None = None) -> Any:
        camera = [(None, {"fields": StreamForm.Meta.fields})]
        if obj is None:
            return camera
        return [
            ("Status", {"fields": ["id", "status", "paired", "last_frame_at", "token_version"]}),
            *camera,
            (f"Latest {self.LATEST_FRAMES} frames", {"fields": ["latest_frames"]}),
            ("Dates", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
        ]

    @admin.display(description="Frames")
    def latest_frames(self, stream: Stream) -> str:
        frames = list(stream.verifications.order_by("-created_at")[: self.LATEST_FRAMES])
        if not frames:
            return "No frames yet: once paired, the camera posts them to /api/v1/streams/{id}/frame."
        all_url = reverse("admin:verifications_verification_changelist") + f"?stream__id__exact={stream.pk}"
        return format_html(
            '<div class="frames">{}</div><p><a href="{}">All frames of this stream</a></p>',
            format_html_join("", '<figure data-verification-id="{}"><a href="{}">{}</a><figcaption>{} {}</figcaption></figure>', (
                (frame.pk, reverse("admin:verifications_verification_change", args=[quote(frame.pk)]),
                 thumbnail(frame, css_class="frame"), decision_badge(frame),
                 timezone.localtime(frame.created_at).strftime("%H:%M:%S"))
                for frame in frames
            )),
            all_url,
        )
    actions = ["new_pairing_code", "pause", "resume", "archive"]
    autocomplete_fields = ["policy"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "policy":
            kwargs["queryset"] = Policy.objects.select_related("customer").order_by(
                "customer__name", "policy_id"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(boolean=True, description="Paired")
    def paired(self, stream: Stream) -> bool:
        return stream.is_paired

    def save_model(self, request: HttpRequest, obj: Stream, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # Shown once, on the page that follows; only its hash is stored.
            request._stream_pairings = [(obj, issue_pairing_code(stream=obj))]  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: Stream, post_url_continue: Any = None) -> HttpResponse:
        return self._pairing_page(request, request._stream_pairings)  # type: ignore[attr-defined]

    @admin.action(description="New pairing code (re-pair the camera)")
    def new_pairing_code(self, request: HttpRequest, queryset: QuerySet[Stream]) -> HttpResponse | None:
        pairings = []
        for stream in queryset.select_related("policy"):
            try:
                pairings.append((stream, issue_pairing_code(stream=stream)))
            except StreamArchived:
                self.message_user(request, f"{stream.name} is archived; not re-paired.", messages.WARNING)
        return self._pairing_page(request, pairings) if pairings else None

    @admin.action(description="Pause (frames answer 409)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        self._set_status(request, queryset.exclude(status=Stream.Status.ARCHIVED), Stream.Status.PAUSED)

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        self._set_status(request, queryset.exclude(status=Stream.Status.ARCHIVED), Stream.Status.ACTIVE)

    @admin.action(description="Archive (frames answer 410; cannot be undone)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        self._set_status(request, queryset, Stream.Status.ARCHIVED)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Stream], status: str) -> None:
        streams = list(queryset)
        for stream in streams:
            set_status(stream=stream, status=status)
        self.message_user(request, f"{len(streams)} stream(s) now {status}.")

    def _pairing_page(
        self, request: HttpRequest, pairings: list[tuple[Stream, IssuedCode]]
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Pair a camera",
            "opts": self.model._meta,
            "pairings": [
                {"stream": stream, "code": issued.code, "expires_at": issued.expires_at,
                 "qr": qr_data_uri(issued)}
                for stream, issued in pairings
            ],
        }
        response = TemplateResponse(request, "admin/streams/pairing.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(PairingCode)
class PairingCodeAdmin(CustomerScopedAdmin):
    customer_path = "stream__customer"
    list_display = ["stream", "created_at", "expires_at", "consumed_at", "attempts"]
    list_select_related = ["stream"]
    readonly_fields = ["stream", "created_at", "expires_at", "consumed_at", "attempts"]
    exclude = ["code_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # codes are issued with a stream or by its "New pairing code" action
