"""Models of the shared API plumbing."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """The first outcome of a request sent with an Idempotency-Key.

    Scoped per customer and per route. ``response_status`` is null while the
    first request is still running.
    """

    customer = models.ForeignKey("billing.Customer", on_delete=models.CASCADE)
    route = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    request_id = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "route", "key"], name="idempotency_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.route} {self.key}"
