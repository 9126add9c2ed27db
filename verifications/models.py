"""A verification: one image judged against one policy, successful or not."""

from __future__ import annotations

from django.db import models

from verifyai.ids import make_id


def new_verification_id() -> str:
    return make_id("ver")


class Verification(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success"
        ERROR = "error"

    id = models.CharField(primary_key=True, max_length=32, default=new_verification_id, editable=False)
    customer = models.ForeignKey("billing.Customer", on_delete=models.CASCADE, related_name="verifications")
    policy = models.ForeignKey(
        "policies.Policy", null=True, on_delete=models.SET_NULL, related_name="verifications"
    )
    # The policy id as it was at the time, kept when a custom policy is deleted.
    policy_slug = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)

    is_compliant = models.BooleanField(default=False)
    confidence = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=64, blank=True)
    violation_reasons = models.JSONField(default=list, blank=True)
    feedback = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    image = models.CharField(max_length=300, blank=True, help_text="Storage name of the image.")
    image_sha256 = models.CharField(max_length=64, blank=True)
    image_format = models.CharField(max_length=8, blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)

    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=100, blank=True)
    evaluation_source = models.CharField(max_length=32, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Provider diagnostics.")

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    # Set for frames posted to a stream; null for /verify.
    stream = models.ForeignKey(
        "streams.Stream", null=True, blank=True, on_delete=models.SET_NULL, related_name="verifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at", "-id"], name="verification_page"),
        ]

    def __str__(self) -> str:
        return self.id
