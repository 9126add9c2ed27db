"""Writes for webhooks: endpoints, queuing events, and delivering them.

Every function that depends on the time takes ``now``, so tests drive the
retry schedule with a controlled clock instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Customer
from verifyai.api.errors import BadRequest, Conflict
from webhooks import http
from webhooks.models import (
    EVENT_PING,
    EVENT_VERIFICATION_COMPLETED,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_event_id,
)

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("url", "events", "active", "description")
FAILING_DAYS_BEFORE_DISABLE = 5


class InvalidWebhookUrl(BadRequest):
    code = "invalid_webhook_url"


class EndpointDisabled(Conflict):
    code, message = "endpoint_disabled", "This endpoint is disabled; set active to true first."


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _check_url(url: str) -> None:
    try:
        http.check_url(url)
    except http.UnsafeTarget as exc:
        raise InvalidWebhookUrl(str(exc)) from None


# --- Endpoints ------------------------------------------------------------------


@transaction.atomic
def create_endpoint(
    *, customer: Customer, url: str, events: list[str], description: str = "", active: bool = True
) -> WebhookEndpoint:
    _check_url(url)
    return WebhookEndpoint.objects.create(
        customer=customer,
        url=url,
        events=list(dict.fromkeys(events)),
        description=description,
        active=active,
        secret=new_secret(),
    )


@transaction.atomic
def update_endpoint(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    if "url" in data and data["url"] != endpoint.url:
        _check_url(data["url"])
    for name in EDITABLE_FIELDS:
        if name in data:
            value = data[name]
            setattr(endpoint, name, list(dict.fromkeys(value)) if name == "events" else value)
    if data.get("active") is True:
        # Turning an endpoint back on clears an automatic disabling.
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
    endpoint.save()
    return endpoint


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


@transaction.atomic
def rotate_secret(
    *, endpoint: WebhookEndpoint, expire_previous_in: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (a second v1) until it expires."""
    now = now or timezone.now()
    if expire_previous_in is None:
        expire_previous_in = dt.timedelta(seconds=settings.VERIFYAI_WEBHOOK_ROTATION_OVERLAP_SECONDS)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + expire_previous_in
    endpoint.secret = new_secret()
    endpoint.save()
    return endpoint


def _disable(endpoint: WebhookEndpoint, *, reason: str, now: dt.datetime) -> None:
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason", "updated_at"])
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)


# --- Events ------------------------------------------------------------------------


def encode_payload(event_type: str, data: dict[str, Any]) -> bytes:
    """The body, once: these bytes are stored, signed and sent, never re-serialised."""
    return json.dumps(
        {"event": event_type, "data": data}, cls=DjangoJSONEncoder, separators=(",", ":")
    ).encode()


def _queue(
    endpoint: WebhookEndpoint, *, event_type: str, event_id: str, payload: bytes, now: dt.datetime,
    subject_id: str = "",
) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=event_type,
        subject_id=subject_id,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: _send_soon(delivery.pk))
    return delivery


def _send_soon(delivery_id: str) -> None:
    from webhooks.tasks import deliver

    try:
        deliver.delay(delivery_id)
    except Exception:  # noqa: BLE001 - the beat job picks it up; a broker outage loses nothing
        logger.warning("Could not queue webhook delivery %s; beat will send it", delivery_id)


def verification_payload_data(verification: Any) -> dict[str, Any]:
    from verifications.api.serializers import VerificationSerializer

    data = dict(VerificationSerializer(verification).data)
    image_url = data.get("image_url")
    if image_url and image_url.startswith("/"):
        # No request in a task: absolute URLs come from the public base URL.
        data["image_url"] = settings.VERIFYAI_PUBLIC_BASE_URL.rstrip("/") + image_url
    return data


def queue_verification_completed(
    *, verification: Any, now: dt.datetime | None = None
) -> list[WebhookDelivery]:
    """Call inside the transaction that records the verification."""
    now = now or timezone.now()
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            customer_id=verification.customer_id, active=True
        )
        if EVENT_VERIFICATION_COMPLETED in endpoint.events
    ]
    if not endpoints:
        return []
    payload = encode_payload(EVENT_VERIFICATION_COMPLETED, verification_payload_data(verification))
    event_id = new_event_id()
    return [
        _queue(endpoint, event_type=EVENT_VERIFICATION_COMPLETED, event_id=event_id,
               payload=payload, now=now, subject_id=verification.pk)
        for endpoint in endpoints
    ]


@transaction.atomic
def send_test_event(*, endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> WebhookDelivery:
    now = now or timezone.now()
    if not endpoint.active:
        raise EndpointDisabled()
    event_id = new_event_id()
    data = {"id": event_id, "endpoint": endpoint.pk, "created_at": now.isoformat()}
    return _queue(endpoint, event_type=EVENT_PING, event_id=event_id,
                  payload=encode_payload(EVENT_PING, data), now=now)


@transaction.atomic
def redeliver(*, delivery: WebhookDelivery, now: dt.datetime | None = None) -> WebhookDelivery:
    """The same event (same id and bytes) again, on a fresh schedule."""
    now = now or timezone.now()
    if not delivery.endpoint.active:
        raise EndpointDisabled()
    return _queue(delivery.endpoint, event_type=delivery.event_type, event_id=delivery.event_id,
                  payload=bytes(delivery.payload), now=now, subject_id=delivery.subject_id)


# --- Delivering --------------------------------------------------------------------


def signature_header(body: bytes, secrets_: list[str], timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    signatures = [
        hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets_
    ]
    return ",".join([f"t={timestamp}", *(f"v1={signature}" for signature in signatures)])


def _claim(delivery_id: str, now: dt.datetime) -> bool:
    """Lease a due delivery; exactly one caller wins, and a crashed one's lease expires."""
    lease = dt.timedelta(seconds=settings.VERIFYAI_WEBHOOK_LEASE_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
    ).update(locked_until=now + lease)
    return claimed == 1


def attempt_delivery(*, delivery_id: str, now: dt.datetime | None = None) -> DeliveryAttempt | None:
    """Send one due delivery once; None when it is not due or someone else holds it."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.status, delivery.next_attempt_at, delivery.locked_until = (
            WebhookDelivery.Status.FAILED, None, None,
        )
        delivery.save(update_fields=["status", "next_attempt_at", "locked_until"])
        return None

    body = bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "X-VerifyAI-Event": delivery.event_type,
        "X-VerifyAI-Event-Id": delivery.event_id,
        "X-VerifyAI-Delivery-Id": delivery.pk,
        "X-VerifyAI-Signature": signature_header(
            body, endpoint.signing_secrets(now), int(now.timestamp())
        ),
    }
    result = http.post(endpoint.url, body, headers, timeout=settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS)
    succeeded = result.status_code is not None and 200 <= result.status_code < 300 and not result.error
    error = result.error
    if not succeeded and not error:
        error = f"HTTP {result.status_code}"
    return _record(delivery, result, succeeded=succeeded, error=error, now=now)


@transaction.atomic
def _record(
    delivery: WebhookDelivery, result: http.HttpResult, *, succeeded: bool, error: str,
    now: dt.datetime,
) -> DeliveryAttempt:
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        succeeded=succeeded,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.response_excerpt,
        error=error,
    )
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.locked_until = None
    schedule = settings.VERIFYAI_WEBHOOK_RETRY_SCHEDULE
    endpoint = delivery.endpoint
    if succeeded:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, None
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
    else:
        if delivery.attempt_count <= len(schedule):
            delivery.next_attempt_at = now + dt.timedelta(seconds=schedule[delivery.attempt_count - 1])
        else:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        if result.status_code == 410:
            _disable(endpoint, reason="The receiver answered 410 Gone.", now=now)
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            _note_failure(endpoint, now=now)
    delivery.save(
        update_fields=["attempt_count", "last_attempt_at", "locked_until", "status", "next_attempt_at"]
    )
    return attempt


def _note_failure(endpoint: WebhookEndpoint, *, now: dt.datetime) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
    elif now - endpoint.failing_since >= dt.timedelta(days=FAILING_DAYS_BEFORE_DISABLE):
        _disable(
            endpoint,
            reason=f"Every delivery failed for {FAILING_DAYS_BEFORE_DISABLE} days "
            f"(since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC).",
            now=now,
        )


def due_delivery_ids(*, now: dt.datetime, limit: int = 500) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now),
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due(*, now: dt.datetime | None = None) -> int:
    """Send every due delivery in this process; returns how many were attempted."""
    now = now or timezone.now()
    return sum(
        attempt_delivery(delivery_id=delivery_id, now=now) is not None
        for delivery_id in due_delivery_ids(now=now)
    )
