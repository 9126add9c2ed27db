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
import math
import secrets
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from billing.models import Customer
from verifyai.api.errors import ApiError, BadRequest, Conflict
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


class TooManyEndpoints(BadRequest):
    code = "too_many_webhook_endpoints"


class ManualSendsRateLimited(ApiError):
    status, code = 429, "rate_limited"
    message = "Too many test events and redeliveries this minute. Retry later."


# pg_advisory_xact_lock's first key: this module's claims, apart from any other advisory lock.
_CUSTOMER_LOCK_NAMESPACE = 7_013


def _serialize_for_customer(customer_id: str) -> None:
    """Make this transaction the customer's only one counting and then writing its webhooks.

    A count-then-write is only a cap if no one else counts in between. SQLite's
    transactions are IMMEDIATE (one writer at a time), so there it already holds; on
    PostgreSQL an advisory lock on the customer, released at commit, orders the claims
    without touching any table that verifications use.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [_CUSTOMER_LOCK_NAMESPACE, str(customer_id)],
            )


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _check_url(url: str) -> None:
    try:
        http.check_url(url)
    except http.UnsafeTarget as exc:
        raise InvalidWebhookUrl(str(exc)) from None


# --- Endpoints ------------------------------------------------------------------


def create_endpoint(
    *, customer: Customer, url: str, events: list[str], description: str = "", active: bool = True
) -> WebhookEndpoint:
    _check_url(url)  # DNS, outside the transaction
    with transaction.atomic():
        _serialize_for_customer(customer.pk)
        check_endpoint_capacity(customer=customer)
        return WebhookEndpoint.objects.create(
            customer=customer,
            url=url,
            events=list(dict.fromkeys(events)),
            description=description,
            active=active,
            secret=new_secret(),
        )


def check_endpoint_capacity(*, customer: Customer) -> None:
    """Raises TooManyEndpoints when the customer already has as many endpoints as allowed."""
    cap = settings.VERIFYAI_WEBHOOK_MAX_ENDPOINTS_PER_CUSTOMER
    if WebhookEndpoint.objects.filter(customer=customer).count() >= cap:
        raise TooManyEndpoints(f"A customer can have at most {cap} webhook endpoints; delete one first.")


def update_endpoint(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    if "url" in data and data["url"] != endpoint.url:
        # DNS: never inside a transaction (on SQLite it would hold the one write lock).
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
    subject_id: str = "", manual: bool = False,
) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=event_type,
        subject_id=subject_id,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
        manual=manual,
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


MANUAL_SENDS_WINDOW = dt.timedelta(minutes=1)


def _check_manual_sends(customer_id: str, now: dt.datetime) -> None:
    """Test events and redeliveries are asked for by hand: a budget per customer and minute,
    so a loop of API calls cannot fill the delivery queue."""
    _serialize_for_customer(customer_id)
    recent = WebhookDelivery.objects.filter(
        endpoint__customer_id=customer_id, manual=True, created_at__gt=now - MANUAL_SENDS_WINDOW
    )
    limit = settings.VERIFYAI_WEBHOOK_MANUAL_SENDS_PER_MINUTE
    if recent.count() >= limit:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True)[
            max(0, recent.count() - limit)
        ]
        wait = (oldest + MANUAL_SENDS_WINDOW - now).total_seconds()
        raise ManualSendsRateLimited(retry_after=max(1, math.ceil(wait)))


@transaction.atomic
def send_test_event(*, endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> WebhookDelivery:
    now = now or timezone.now()
    if not endpoint.active:
        raise EndpointDisabled()
    _check_manual_sends(endpoint.customer_id, now)
    event_id = new_event_id()
    data = {"id": event_id, "endpoint": endpoint.pk, "created_at": now.isoformat()}
    return _queue(endpoint, event_type=EVENT_PING, event_id=event_id,
                  payload=encode_payload(EVENT_PING, data), now=now, manual=True)


@transaction.atomic
def redeliver(*, delivery: WebhookDelivery, now: dt.datetime | None = None) -> WebhookDelivery:
    """The same event (same id and bytes) again, on a fresh schedule."""
    now = now or timezone.now()
    if not delivery.endpoint.active:
        raise EndpointDisabled()
    _check_manual_sends(delivery.endpoint.customer_id, now)
    return _queue(delivery.endpoint, event_type=delivery.event_type, event_id=delivery.event_id,
                  payload=bytes(delivery.payload), now=now, subject_id=delivery.subject_id,
                  manual=True)


# --- Delivering --------------------------------------------------------------------


def signature_header(body: bytes, secrets_: list[str], timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    signatures = [
        hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets_
    ]
    return ",".join([f"t={timestamp}", *(f"v1={signature}" for signature in signatures)])


def _claimable(now: dt.datetime) -> Q:
    return Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )


def _live_leases(now: dt.datetime) -> Any:
    return WebhookDelivery.objects.filter(locked_until__gte=now)


def _claim(delivery_id: str, now: dt.datetime) -> str | None:
    """Lease a due delivery and answer the lease's token, or None.

    Exactly one caller wins, a crashed one's lease expires, and a delivery whose endpoint
    or customer already has its cap of live leases is left pending (deferred, not
    dropped: the next deliver_due run offers it again). The caps are counted in the
    database, so they hold across worker processes.
    """
    row = (
        WebhookDelivery.objects.filter(_claimable(now), pk=delivery_id)
        .values_list("endpoint_id", "endpoint__customer_id")
        .first()
    )
    if row is None:
        return None
    endpoint_id, customer_id = row
    lease = dt.timedelta(seconds=settings.VERIFYAI_WEBHOOK_LEASE_SECONDS)
    token = secrets.token_hex(16)
    with transaction.atomic():
        _serialize_for_customer(customer_id)
        live = _live_leases(now)
        if live.filter(endpoint_id=endpoint_id).count() >= (
            settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT
        ) or live.filter(endpoint__customer_id=customer_id).count() >= (
            settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_CUSTOMER
        ):
            return None
        claimed = WebhookDelivery.objects.filter(_claimable(now), pk=delivery_id).update(
            locked_until=now + lease, lease_token=token
        )
    return token if claimed == 1 else None


def _release_connection() -> None:
    """Hand the DB connection back (to the pool on PostgreSQL) while we wait on the peer:
    a slow receiver must not hold a database connection, nor a transaction, for seconds."""
    if not connection.in_atomic_block:
        connection.close()


def attempt_delivery(*, delivery_id: str, now: dt.datetime | None = None) -> DeliveryAttempt | None:
    """Send one due delivery once; None when it is not due, someone else holds it, its
    endpoint or customer is at its concurrency cap, or the lease ran out before the answer."""
    now = now or timezone.now()
    token = _claim(delivery_id, now)
    if token is None:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=token).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, locked_until=None,
            lease_token="",
        )
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
    _release_connection()
    result = http.post(endpoint.url, body, headers, timeout=settings.VERIFYAI_WEBHOOK_TIMEOUT_SECONDS)
    succeeded = result.status_code is not None and 200 <= result.status_code < 300 and not result.error
    error = result.error
    if not succeeded and not error:
        error = f"HTTP {result.status_code}"
    return _record(delivery, token, result, succeeded=succeeded, error=error, now=now)


@transaction.atomic
def _record(
    delivery: WebhookDelivery, token: str, result: http.HttpResult, *, succeeded: bool, error: str,
    now: dt.datetime,
) -> DeliveryAttempt | None:
    """Record the attempt, if this worker still holds the lease when the answer is in.

    The conditional UPDATE is the arbiter: once the lease ran out another worker may
    have claimed the delivery (a new token) and be sending or recording it; a late
    result then changes nothing, and the delivery, still due, is simply sent again.
    """
    finished = now + dt.timedelta(milliseconds=result.duration_ms)
    attempt_count = delivery.attempt_count + 1
    schedule = settings.VERIFYAI_WEBHOOK_RETRY_SCHEDULE
    if succeeded:
        status, next_attempt_at = WebhookDelivery.Status.SUCCEEDED, None
    elif result.status_code == 410 or attempt_count > len(schedule):
        status, next_attempt_at = WebhookDelivery.Status.FAILED, None
    else:
        status = WebhookDelivery.Status.PENDING
        next_attempt_at = now + dt.timedelta(seconds=schedule[attempt_count - 1])
    won = WebhookDelivery.objects.filter(
        pk=delivery.pk, lease_token=token, locked_until__gte=finished
    ).update(
        attempt_count=F("attempt_count") + 1, last_attempt_at=now, locked_until=None,
        lease_token="", status=status, next_attempt_at=next_attempt_at,
    )
    if won != 1:
        logger.warning(
            "Webhook delivery %s: the lease ran out before the answer (%d ms); not recorded",
            delivery.pk, result.duration_ms,
        )
        return None
    delivery.attempt_count, delivery.last_attempt_at = attempt_count, now
    delivery.locked_until, delivery.lease_token = None, ""
    delivery.status, delivery.next_attempt_at = status, next_attempt_at
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        succeeded=succeeded,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.response_excerpt,
        error=error,
    )
    endpoint = delivery.endpoint
    if succeeded:
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
    elif result.status_code == 410:
        _disable(endpoint, reason="The receiver answered 410 Gone.", now=now)
    else:
        _note_failure(endpoint, now=now)
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


def queue_next_waiting(*, delivery: WebhookDelivery, now: dt.datetime | None = None) -> str | None:
    """A finished attempt frees a slot: queue the oldest delivery waiting for one (same
    endpoint, else same customer), so a backlog held back by the caps drains at the caps'
    pace instead of one deliver_due run at a time."""
    now = now or timezone.now()
    waiting = (
        WebhookDelivery.objects.filter(_claimable(now)).exclude(pk=delivery.pk)
        .order_by("next_attempt_at", "id").values_list("pk", flat=True)
    )
    next_id = waiting.filter(endpoint_id=delivery.endpoint_id).first() or waiting.filter(
        endpoint__customer_id=delivery.endpoint.customer_id
    ).first()
    if next_id is not None:
        _send_soon(next_id)
    return next_id


def due_delivery_ids(*, now: dt.datetime, limit: int = 500) -> list[str]:
    """Due deliveries, oldest first, but at most as many per endpoint and per customer as
    their concurrency caps: a backlog on one endpoint cannot push everyone else's
    deliveries out of the list (the rest of the backlog comes in later runs)."""
    per_endpoint = (
        WebhookDelivery.objects.filter(_claimable(now))
        .alias(rank=Window(
            RowNumber(), partition_by=[F("endpoint_id")],
            order_by=[F("next_attempt_at").asc(), F("id").asc()],
        ))
        .filter(rank__lte=settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT)
        .values("pk")
    )
    return list(
        WebhookDelivery.objects.filter(pk__in=per_endpoint)
        .alias(rank=Window(
            RowNumber(), partition_by=[F("endpoint__customer_id")],
            order_by=[F("next_attempt_at").asc(), F("id").asc()],
        ))
        .filter(rank__lte=settings.VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_CUSTOMER)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def fail_due_for_inactive_endpoints(*, now: dt.datetime) -> int:
    """Due deliveries of a disabled endpoint end as failed instead of being sent (all at
    once: they take no delivery slot, so the caps do not ration them)."""
    return WebhookDelivery.objects.filter(_claimable(now), endpoint__active=False).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, locked_until=None, lease_token=""
    )


def deliver_due(*, now: dt.datetime | None = None) -> int:
    """Send every due delivery in this process; returns how many were attempted."""
    now = now or timezone.now()
    fail_due_for_inactive_endpoints(now=now)
    return sum(
        attempt_delivery(delivery_id=delivery_id, now=now) is not None
        for delivery_id in due_delivery_ids(now=now)
    )
