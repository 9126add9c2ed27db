from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from verifications.models import Verification
from verifications.storage import image_url
from verifyai.admin import CustomerScopedAdmin


@admin.register(Verification)
class VerificationAdmin(CustomerScopedAdmin):
    list_display = [
        "thumbnail", "id", "customer", "policy_slug", "status", "is_compliant", "category",
        "provider", "latency_ms", "created_at",
    ]
    list_filter = ["status", "is_compliant", "category", "provider", "evaluation_source", "policy_slug"]
    search_fields = ["id", "request_id", "customer__name"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Verification._meta.fields] + ["image_preview"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # results are evidence; they are never edited

    @admin.display(description="")
    def thumbnail(self, verification: Verification) -> str:
        if not verification.image:
            return "—"
        return format_html('<img src="{}" style="height:40px" alt="">', image_url(verification.image))

    @admin.display(description="Image")
    def image_preview(self, verification: Verification) -> str:
        if not verification.image:
            return "Not stored"
        return format_html('<img src="{}" style="max-width:640px" alt="">', image_url(verification.image))
