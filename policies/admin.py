from django.contrib import admin
from django.http import HttpRequest

from policies.models import Policy
from verifyai.admin import CustomerScopedAdmin


@admin.register(Policy)
class PolicyAdmin(CustomerScopedAdmin):
    include_unowned = True  # built-ins: every operator sees them, read-only
    list_display = ["policy_id", "name", "customer", "default_provider", "updated_at"]
    list_filter = [("customer", admin.EmptyFieldListFilter), "default_provider"]
    search_fields = ["policy_id", "name", "customer__name"]
    list_select_related = ["customer"]

    def has_change_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        if obj is not None and obj.is_builtin:
            return False  # built-ins are data in policies/builtin.py
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)
