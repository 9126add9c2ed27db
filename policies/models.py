"""Compliance policies: built-in ones (no customer) and customers' own."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

POLICY_ID_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9_]{1,63}$",
    "Policy ids are 2-64 lowercase letters, digits and underscores.",
)


class PolicyQuerySet(models.QuerySet["Policy"]):
    def visible_to(self, customer: Any) -> PolicyQuerySet:
        return self.filter(Q(customer__isnull=True) | Q(customer=customer))


class Policy(models.Model):
    policy_id = models.CharField(max_length=64, validators=[POLICY_ID_VALIDATOR])
    customer = models.ForeignKey(
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="policies",
        help_text="Empty for built-in policies.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    criteria = models.JSONField(default=list)
    violation_codes = models.JSONField(default=list)
    categories = models.JSONField(default=list)
    feedback_guidance = models.TextField(blank=True)
    default_provider = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["policy_id"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["policy_id"],
                condition=Q(customer__isnull=True),
                name="builtin_policy_id_unique",
            ),
            models.UniqueConstraint(fields=["customer", "policy_id"], name="customer_policy_id_unique"),
        ]

    def __str__(self) -> str:
        return self.policy_id

    @property
    def is_builtin(self) -> bool:
        return self.customer_id is None

    @property
    def codes(self) -> list[str]:
        return [entry["code"] for entry in self.violation_codes]
