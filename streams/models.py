"""Streams: registered cameras that post frames, and their short-lived pairing codes."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class Stream(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey("billing.Customer", on_delete=models.CASCADE, related_name="streams")
    site_id = models.CharField(max_length=64, blank=True, help_text="Optional site reference.")
    name = models.CharField(max_length=200)
    location = models.CharField(max_length=300, blank=True)
    asset_type = models.CharField(max_length=64, blank=True)
    region = models.CharField(max_length=64, blank=True)
    expected_throughput = models.PositiveIntegerField(
        null=True, blank=True, help_text="Frames per minute expected, for capacity planning."
    )
    # RESTRICT: deleting a policy a camera still uses would silently break its frames
    # (deleting the whole customer still cascades through both).
    policy = models.ForeignKey(
        "policies.Policy", null=True, on_delete=models.RESTRICT, related_name="streams"
    )
    # bcrypt hash of the stream token; null until paired. The plaintext is shown once.
    token_hash = models.CharField(max_length=100, null=True, blank=True, editable=False)
    # HMAC-SHA256 of the token keyed from SECRET_KEY (streams.services.token_fingerprint): a
    # wrong token is refused on it without a bcrypt check. Set with the token at pairing, and on
    # the first good frame of a stream paired before it existed; null until then.
    token_fingerprint = models.CharField(max_length=64, null=True, blank=True, editable=False)
    # Bumped on every (re-)pairing: cached token proofs carry it, so old ones die at once.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    group_id = models.CharField(
        max_length=64, blank=True, help_text="Cameras sharing a group are correlated (v2)."
    )
    last_frame_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at", "-id"], name="stream_page")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paired(self) -> bool:
        return self.token_hash is not None


class PairingCode(models.Model):
    """A single-use code that exchanges for the stream token; only a keyed hash is kept."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="pairing_codes")
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["stream"], condition=Q(consumed_at__isnull=True), name="pairing_code_live"
            )
        ]

    def __str__(self) -> str:
        return f"pairing code for {self.stream_id}"


class PairingGuessWindow(models.Model):
    """Wrong pairing codes tried without naming their stream, every address together, in one
    fixed window of time. A row, not a cache entry: the budget must hold across processes and
    must not open when a cache is flushed or unreachable (see streams.services.exchange_code)."""

    window_start = models.BigIntegerField(primary_key=True, help_text="Unix time the window starts.")
    failures = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.failures} wrong pairing codes from {self.window_start}"
