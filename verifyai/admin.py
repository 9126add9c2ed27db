"""Operators and the tenant scoping of every admin page, in one place.

An operator is a staff user who works for one customer (billing.Operator). Every
customer-owned ModelAdmin derives from CustomerScopedAdmin and names its path to
the customer; lists, detail pages, form choices, autocomplete, filters and actions
then only ever see that customer's rows. Superusers see everything.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.auth.models import Group, Permission, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils.html import format_html

from billing.models import Customer, Operator

OPERATOR_GROUP = "VerifyAI operators"

# What an operator may do, per model; the scoping below decides on which rows.
# Nothing in auth (users, groups) and nothing on operators: they cannot grant themselves more.
OPERATOR_PERMISSIONS: dict[str, list[str]] = {
    "billing.customer": ["view", "change"],
    "billing.subscription": ["view"],
    "billing.apikey": ["view", "change"],
    "billing.usagecounter": ["view"],
    "policies.policy": ["view", "add", "change", "delete"],
    "verifications.verification": ["view"],
    "streams.stream": ["view", "add", "change"],
    "streams.pairingcode": ["view"],
    "webhooks.webhookendpoint": ["view", "add", "change", "delete"],
    "webhooks.webhookdelivery": ["view", "change"],
    "webhooks.deliveryattempt": ["view"],
}


def operator_group() -> Group:
    """The operators' group, its permissions brought in line with OPERATOR_PERMISSIONS."""
    group, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    wanted = Q(pk__in=[])
    for label, actions in OPERATOR_PERMISSIONS.items():
        app_label, model = label.split(".")
        wanted |= Q(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
    group.permissions.set(Permission.objects.filter(wanted))
    return group


@transaction.atomic
def create_operator(*, customer: Customer, username: str, password: str, email: str = "") -> Operator:
    """A staff user of ``customer``, in the operators' group. Raises ValidationError on a weak password."""
    user = User(username=username, email=email, is_staff=True, is_superuser=False)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(operator_group())
    return Operator.objects.create(user=user, customer=customer)


def pretty_json(value: Any) -> str:
    """A JSON value, indented, in a scrollable <pre>: results and payloads as clients see them."""
    text = json.dumps(value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder, sort_keys=False)
    return format_html('<pre class="json">{}</pre>', text)


_NOBODY = object()  # a staff user who is neither superuser nor operator: sees nothing


def scope_of(request: HttpRequest) -> Any:
    """None for a superuser (everything), else the operator's customer id (or _NOBODY)."""
    user = request.user
    if user.is_superuser:
        return None
    if not hasattr(request, "_verifyai_scope"):
        operator = Operator.objects.filter(user_id=user.pk).only("customer_id").first()
        request._verifyai_scope = operator.customer_id if operator else _NOBODY  # type: ignore[attr-defined]
    return request._verifyai_scope  # type: ignore[attr-defined]


def operator_customer(request: HttpRequest) -> Customer | None:
    """The customer an operator works for; None for superusers and other staff."""
    scope = scope_of(request)
    if not isinstance(scope, str):
        return None
    if not hasattr(request, "_verifyai_customer"):
        request._verifyai_customer = Customer.objects.filter(pk=scope).first()  # type: ignore[attr-defined]
    return request._verifyai_customer  # type: ignore[attr-defined]


class CustomerScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a customer, reached through ``customer_path``."""

    customer_path = "customer"
    # Rows with no customer at all (built-in policies) that operators may still see.
    include_unowned = False

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        scope = scope_of(request)
        if scope is None:
            return queryset
        if scope is _NOBODY:
            return queryset.none()
        owned = Q(**{self.customer_path: scope})
        if self.include_unowned:
            owned |= Q(**{f"{self.customer_path}__isnull": True})
        return queryset.filter(owned)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Changelists, change/history/delete views, actions and autocomplete all start here.
        return self.scope_queryset(request, super().get_queryset(request))

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        # Another customer's id must look exactly like an id that does not exist.
        raise Http404

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope = scope_of(request)
        if scope is None:
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        related = db_field.remote_field.model
        if related is Customer:
            # The operator's own customer, fixed: a posted value is ignored (disabled field).
            own = Customer.objects.filter(pk=scope) if scope is not _NOBODY else Customer.objects.none()
            return db_field.formfield(queryset=own, initial=scope, disabled=True, required=True)
        related_admin = self.admin_site._registry.get(related)
        if isinstance(related_admin, CustomerScopedAdmin):
            queryset = kwargs.get("queryset")
            if queryset is None:
                queryset = related._default_manager.all()
            kwargs["queryset"] = related_admin.scope_queryset(request, queryset)
        elif related_admin is not None:
            kwargs["queryset"] = related._default_manager.none()  # not theirs to pick from
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if scope_of(request) is None:
            return columns
        return [column for column in columns if column != "customer"]  # always their own

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if scope_of(request) is None:
            return filters
        scoped = []
        for entry in filters:
            if isinstance(entry, str) and self._is_relation(entry):
                if entry.split("__")[-1] == "customer":
                    continue  # a list of customers names other customers
                entry = (entry, RelatedOnlyFieldListFilter)  # choices from this operator's rows only
            scoped.append(entry)
        return scoped

    def _is_relation(self, path: str) -> bool:
        model: Any = self.model
        field = None
        for part in path.split("__"):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                return False
            model = field.related_model
            if model is None:
                break
        return field is not None and field.is_relation

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        scope = scope_of(request)
        if scope is not None and self.customer_path == "customer":
            if scope is _NOBODY:
                raise Http404
            obj.customer_id = scope  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    """Superusers only: operators hold no permission on this model."""

    list_display = ["user", "customer", "created_at"]
    list_select_related = ["user", "customer"]
    search_fields = ["user__username", "user__email", "customer__name", "customer__id"]
    raw_id_fields = ["user", "customer"]
