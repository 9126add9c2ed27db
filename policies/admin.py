from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from policies.forms import ROW_LISTS, PolicyForm
from policies.models import Policy
from verifyai.admin import CustomerScopedAdmin


@admin.register(Policy)
class PolicyAdmin(CustomerScopedAdmin):
    form = PolicyForm
    include_unowned = True  # built-ins: every operator sees them, read-only
    list_display = ["policy_id", "name", "customer", "kind", "rules", "default_provider", "updated_at"]
    list_filter = [("customer", admin.EmptyFieldListFilter), "default_provider"]
    search_fields = ["policy_id", "name", "customer__name"]
    list_select_related = ["customer"]
    ordering = ["customer__name", "policy_id"]
    readonly_fields = ["criteria_table", "violation_codes_table", "categories_table", "created_at",
                       "updated_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Policy | None = None) -> Any:
        main = ["customer", "policy_id", "name", "description", "feedback_guidance", "default_provider"]
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (built-ins): the rows as tables instead of the editable formsets.
            return [(None, {"fields": main}), ("Rules", {"fields": [
                "criteria_table", "violation_codes_table", "categories_table"]})]
        dates = [("Dates", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]})]
        return [(None, {"fields": main}), *(dates if obj is not None else [])]

    def has_change_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        if obj is not None and obj.is_builtin:
            return False  # built-ins are data in policies/builtin.py
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Kind", ordering="customer")
    def kind(self, policy: Policy) -> str:
        return "built-in" if policy.is_builtin else "custom"

    @admin.display(description="Criteria / codes")
    def rules(self, policy: Policy) -> str:
        return f"{len(policy.criteria)} / {len(policy.violation_codes)}"

    def _table(self, policy: Policy, name: str) -> str:
        rows = getattr(policy, name)
        if not rows:
            return "—"
        key = next(k for n, _, _, k in ROW_LISTS if n == name)
        return format_html(
            '<table class="compact">{}</table>',
            format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", (
                (row[key], row.get("description", ""),
                 ("compliant" if row["is_compliant"] else "not compliant") if "is_compliant" in row else "")
                for row in rows
            )),
        )

    @admin.display(description="Criteria")
    def criteria_table(self, policy: Policy) -> str:
        return self._table(policy, "criteria")

    @admin.display(description="Violation codes")
    def violation_codes_table(self, policy: Policy) -> str:
        return self._table(policy, "violation_codes")

    @admin.display(description="Categories")
    def categories_table(self, policy: Policy) -> str:
        return self._table(policy, "categories")
