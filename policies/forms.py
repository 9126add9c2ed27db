"""The dashboard's policy form: criteria, violation codes and categories edited as rows.

Rows are plain formsets (the lists are JSON on the policy); the whole policy is then checked
by the API's PolicySerializer, so the dashboard and the API accept exactly the same policies.
"""

from __future__ import annotations

from typing import Any

from django import forms

from policies.models import Policy
from policies.services import is_builtin_id, policy_defaults
from verifications.engine.base import PROVIDER_NAMES
from verifyai import limits

_WIDE = forms.TextInput(attrs={"size": 70})
_KEY = limits.POLICY_MAX_KEY_LENGTH
_DESCRIPTION = limits.POLICY_MAX_ROW_DESCRIPTION


class CriterionRow(forms.Form):
    id = forms.CharField(max_length=_KEY, required=False)
    description = forms.CharField(max_length=_DESCRIPTION, required=False, widget=_WIDE)


class ViolationCodeRow(forms.Form):
    code = forms.CharField(max_length=_KEY, required=False)
    description = forms.CharField(max_length=_DESCRIPTION, required=False, widget=_WIDE)


class CategoryRow(forms.Form):
    id = forms.CharField(max_length=_KEY, required=False)
    description = forms.CharField(max_length=_DESCRIPTION, required=False, widget=_WIDE)
    is_compliant = forms.BooleanField(required=False, label="Compliant")


def _rows(row_form: type[forms.Form]) -> Any:
    return forms.formset_factory(
        row_form, extra=3, can_delete=True, max_num=limits.POLICY_MAX_ROWS, validate_max=True
    )


# (prefix / policy field, heading, row formset, the row's key field)
ROW_LISTS = [
    ("criteria", "Criteria", _rows(CriterionRow), "id"),
    ("violation_codes", "Violation codes", _rows(ViolationCodeRow), "code"),
    ("categories", "Categories", _rows(CategoryRow), "id"),
]


class PolicyForm(forms.ModelForm):
    default_provider = forms.ChoiceField(
        choices=[("", "Deployment default")] + [(name, name) for name in PROVIDER_NAMES],
        required=False,
    )

    class Meta:
        model = Policy
        fields = ["customer", "policy_id", "name", "description", "feedback_guidance", "default_provider"]
        labels = {"policy_id": "Id"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "customer" in self.fields:
            self.fields["customer"].required = True  # built-ins are data, not made here
            self.fields["customer"].help_text = ""
        if self.instance.pk and "policy_id" in self.fields:
            self.fields["policy_id"].disabled = True  # ids are what clients send; never renamed
        self.row_lists = []
        defaults = policy_defaults()  # a new policy starts with the API's default categories
        for name, heading, formset_class, _ in ROW_LISTS:
            initial = getattr(self.instance, name) if self.instance.pk else defaults.get(name, [])
            formset = formset_class(
                data=self.data if self.is_bound else None, prefix=name, initial=initial
            )
            formset.heading, formset.name = heading, name
            self.row_lists.append(formset)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        lists: dict[str, list[dict[str, Any]]] = {}
        for formset, (name, heading, _, key) in zip(self.row_lists, ROW_LISTS, strict=True):
            if not formset.is_valid():
                self.add_error(None, f"{heading}: check the rows marked below.")
                continue
            lists[name] = [
                {field: value for field, value in row.items() if field != "DELETE" and value != ""}
                for row in formset.cleaned_data
                if row and not row.get("DELETE") and (row.get(key) or row.get("description"))
            ]
        if self.errors:
            return data
        self._check_with_api_rules(data, lists)
        return data

    def _check_with_api_rules(self, data: dict[str, Any], lists: dict[str, Any]) -> None:
        from policies.api.serializers import PolicySerializer

        payload = {
            "id": data.get("policy_id") or self.instance.policy_id,
            "name": data.get("name", ""),
            "description": data.get("description", ""),
            "feedback_guidance": data.get("feedback_guidance", ""),
            "default_provider": data.get("default_provider", ""),
            **lists,
        }
        serializer = PolicySerializer(instance=self.instance if self.instance.pk else None, data=payload)
        if not serializer.is_valid():
            for field, problems in serializer.errors.items():
                label = dict((n, h) for n, h, _, _ in ROW_LISTS).get(field, field)
                self.add_error(None, f"{label}: {_flatten(problems)}")
            return
        for name in lists:
            setattr(self.instance, name, serializer.validated_data[name])
        if not self.instance.pk and is_builtin_id(payload["id"]):
            self.add_error("policy_id", "That is the id of a built-in policy; choose another.")


def _flatten(problems: Any, where: str = "") -> str:
    """DRF's nested errors as one readable line ("row 2, id: ...")."""
    if isinstance(problems, dict):
        return "; ".join(
            _flatten(value, f"{where}row {key + 1}, " if isinstance(key, int) else f"{where}{key}: ")
            for key, value in problems.items()
        )
    if isinstance(problems, list):
        if all(isinstance(p, str) for p in problems):
            return where + " ".join(problems)
        return "; ".join(
            _flatten(item, f"{where}row {i + 1}, ") for i, item in enumerate(problems) if item
        )
    return where + str(problems)
