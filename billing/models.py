"""Customers, plans, subscriptions, API keys and monthly usage."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from verifyai.ids import make_id


def new_customer_id() -> str:
    return make_id("cus")


class Plan(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    display_name = models.CharField(max_length=128, blank=True)
    monthly_verification_limit = models.PositiveIntegerField(
        help_text="Verifications a customer on this plan may run per calendar month."
    )
    requests_per_minute = models.PositiveIntegerField(default=60)
    requests_per_hour = models.PositiveIntegerField(default=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["monthly_verification_limit", "name"]

    def __str__(self) -> str:
        return self.display_name or self.name


class Customer(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_customer_id, editable=False)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    store_images = models.BooleanField(
        default=True, help_text="When off, images are not kept and image_url is null."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.customer} on {self.plan} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ApiKey(models.Model):
    """A customer's API key. Only a SHA-256 digest of the key is kept.

    Keys carry 190 bits of randomness, so a fast digest is as safe as a slow
    password hash here and lets authentication be a single indexed lookup.
    """

    PRODUCT_VERIFYAI = "verifyai"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    product = models.CharField(max_length=32, default=PRODUCT_VERIFYAI)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.customer_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class UsageCounter(models.Model):
    """Verifications run by a customer in one calendar month (UTC)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="usage")
    period_start = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "period_start"], name="usage_once_per_period")
        ]
        ordering = ["-period_start"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.period_start:%Y-%m}: {self.count}"


class Operator(models.Model):
    """A staff user who works for exactly one customer.

    The admin shows an operator that customer's data and nothing else
    (verifyai.admin.CustomerScopedAdmin); superusers are not operators and see everything.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="operators")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "user"]

    def __str__(self) -> str:
        return f"{self.user} ({self.customer_id})"


# DRF treats the authenticated principal as a user; a customer always is one.
Customer.is_authenticated = True  # type: ignore[attr-defined]
