"""Webhook endpoints, the events delivered to them, and every delivery attempt.

The retry schedule lives in these rows (``next_attempt_at``), not in the broker:
a lost task or a restarted worker delays a delivery, it never drops it.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone

from billing.models import Customer
from verifyai.ids import make_id

EVENT_VERIFICATION_COMPLETED = "verification.completed"
EVENT_PING = "ping"
SUBSCRIBABLE_EVENTS = [EVENT_VERIFICATION_COMPLETED]


def new_endpoint_id() -> str:
    return make_id("we")


def new_delivery_id() -> str:
    return make_id("whd")


def new_event_id() -> str:
    return make_id("evt")


class WebhookEndpoint(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_endpoint_id, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2048)
    events = models.JSONField(default=list, help_text="Event types this endpoint receives.")
    description = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    # Kept as given: signing needs the secret itself (HMAC), not a hash of it.
    # It is shown to the customer once and never logged or displayed again.
    secret = models.CharField(max_length=128, editable=False)
    previous_secret = models.CharField(max_length=128, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.id})"

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The current secret first (the spec's snippet reads the first v1 only)."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            secrets.append(self.previous_secret)
        return secrets


class WebhookDelivery(models.Model):
    """One event for one endpoint: the exact bytes signed and sent, and its schedule."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_delivery_id, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(max_length=32, db_index=True)
    event_type = models.CharField(max_length=64)
    # What the event is about (a verification id, ...): lets a result's page list its deliveries.
    subject_id = models.CharField(max_length=64, blank=True, db_index=True)
    payload = models.BinaryField(help_text="The request body, byte for byte as signed and sent.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The lease: who is sending it (a token per claim) and until when. Only the holder of
    # a live lease may record the attempt; live leases are what the concurrency caps count.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    # Queued on request (a test event or a redelivery): these are rate limited.
    manual = models.BooleanField(default=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx"),
            # Leases are cleared when recorded, so this holds only the ones in flight.
            models.Index(
                fields=["locked_until"], name="webhook_lease_idx",
                condition=models.Q(locked_until__isnull=False),
            ),
            models.Index(
                fields=["created_at"], name="webhook_manual_idx", condition=models.Q(manual=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts"
    )
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
