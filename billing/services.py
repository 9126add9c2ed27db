"""Writes for customers, keys and usage. Keyword-only, each in a transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import ApiKey, Customer, Plan, Subscription, UsageCounter

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "vai_"
# Keys and stream tokens (streams.services mints them) share vai_; a stream token is never a key.
STREAM_TOKEN_PREFIX = "vai_strm_"
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

DEFAULT_PLANS = {
    "starter": {"display_name": "Starter", "monthly_verification_limit": 1000},
}


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    raw_key: str


def get_or_create_default_plan() -> Plan:
    name = settings.VERIFYAI_DEFAULT_PLAN
    defaults = DEFAULT_PLANS.get(name, {"monthly_verification_limit": 1000})
    plan, _ = Plan.objects.get_or_create(name=name, defaults=defaults)
    return plan


@transaction.atomic
def create_customer(*, name: str, email: str = "", plan: Plan | None = None) -> IssuedKey:
    """A customer with an active subscription and a first API key."""
    customer = Customer.objects.create(name=name, email=email)
    Subscription.objects.create(customer=customer, plan=plan or get_or_create_default_plan())
    return create_api_key(customer=customer, name="default")


def create_api_key(*, customer: Customer, name: str = "") -> IssuedKey:
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    api_key = ApiKey.objects.create(
        customer=customer, name=name, prefix=raw_key[:12], key_hash=hash_api_key(raw_key)
    )
    return IssuedKey(api_key=api_key, raw_key=raw_key)


def revoke_api_key(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def find_api_key(raw_key: str) -> ApiKey | None:
    """The live key for a raw key, with its customer, subscription and plan in one query."""
    if not raw_key.startswith(API_KEY_PREFIX) or raw_key.startswith(STREAM_TOKEN_PREFIX):
        return None
    # key_hash is unique: no ORDER BY (compiling the model's default ordering was a
    # measurable share of a request's CPU at 200 in flight).
    matches = (
        ApiKey.objects.select_related("customer__subscription__plan")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
        .order_by()[:1]
    )
    return next(iter(matches), None)


def touch_api_key(api_key: ApiKey) -> None:
    """Record use at minute resolution, so a busy key is not a write per request.
    Best-effort: a failed write is logged, never a refused request."""
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < _LAST_USED_RESOLUTION:
        return
    try:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    except DatabaseError:
        logger.warning("Could not record last_used_at for key %s", api_key.prefix)
        return
    api_key.last_used_at = now


def current_period_start(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).date().replace(day=1)


def next_period_start(period_start: dt.date) -> dt.date:
    if period_start.month == 12:
        return period_start.replace(year=period_start.year + 1, month=1)
    return period_start.replace(month=period_start.month + 1)


_RESERVE_SQL = """
    INSERT INTO {table} (customer_id, period_start, count) VALUES (%s, %s, 1)
    ON CONFLICT (customer_id, period_start)
    DO UPDATE SET count = {table}.count + 1 WHERE {table}.count < %s
    RETURNING count
"""


def reserve_usage(*, customer: Customer, limit: int) -> bool:
    """Count one verification if the customer is under ``limit`` this month.

    One atomic upsert (PostgreSQL and SQLite alike): N concurrent callers at
    ``limit - 1`` let exactly one through, in a single round trip.
    """
    if limit <= 0:
        return False
    sql = _RESERVE_SQL.format(table=UsageCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer.pk, current_period_start(), limit])
        return cursor.fetchone() is not None


def release_usage(*, customer: Customer) -> None:
    """Give back a reservation whose verification did not complete."""
    UsageCounter.objects.filter(
        customer=customer, period_start=current_period_start(), count__gt=0
    ).update(count=F("count") - 1)


def usage_this_period(customer: Customer) -> int:
    counter = UsageCounter.objects.filter(
        customer=customer, period_start=current_period_start()
    ).first()
    return counter.count if counter else 0
