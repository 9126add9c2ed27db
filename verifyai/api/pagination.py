"""Keyset pagination over (created_at, id), newest first.

``next_cursor`` is opaque: clients hand it back verbatim. Because the id breaks
ties, no item is skipped or repeated even when many share a timestamp. A bare
ISO 8601 timestamp is accepted too ("items created before this instant"), as
the original API documents.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from verifyai.api.errors import BadRequest


class PageQuerySerializer(serializers.Serializer):
    """``limit`` and ``cursor``, as every list endpoint takes them (subclass to add filters)."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(required=False, allow_blank=True)


# Ours are ~60 characters; anything far longer is not one of ours.
MAX_CURSOR_LENGTH = 512


class InvalidCursor(BadRequest):
    code, message = "invalid_cursor", "The cursor is not one this API returned."


@dataclass
class Page:
    items: list[Any]
    has_more: bool
    next_cursor: str | None


def encode_cursor(created_at: dt.datetime, item_id: str) -> str:
    raw = f"{created_at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def utc_instant(value: dt.datetime) -> dt.datetime | None:
    """``value`` in UTC (naive means UTC), or None when UTC cannot represent it: an
    instant such as 9999-12-31T23:59:59-05:00 is past year 9999 in UTC, and the database
    adapters (which convert to UTC) would fail on it with an OverflowError."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return None


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str | None]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        # Well-formed but impossible instants (month 13) raise ValueError.
        timestamp = parse_datetime(cursor.replace(" ", "+"))
    except ValueError:
        raise InvalidCursor() from None
    if timestamp is not None:
        return _instant(timestamp), None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, item_id = raw.partition("|")
        parsed = parse_datetime(created)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if parsed is None or not item_id or not item_id.isprintable():
        raise InvalidCursor()
    return _instant(parsed), item_id


def _instant(value: dt.datetime) -> dt.datetime:
    instant = utc_instant(value)
    if instant is None:
        raise InvalidCursor()
    return instant


def _item_pk(queryset: QuerySet, item_id: str) -> Any:
    """The cursor's id as the model's primary key (a UUID for streams), or InvalidCursor:
    a cursor minted for another list, or made up, must not reach the database."""
    try:
        return queryset.model._meta.pk.clean(item_id, None)
    except ValidationError:
        raise InvalidCursor() from None


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int) -> Page:
    queryset = queryset.order_by("-created_at", "-id")
    if cursor:
        created_at, raw_id = _decode_cursor(cursor)
        item_id = None if raw_id is None else _item_pk(queryset, raw_id)
        if item_id is None:
            queryset = queryset.filter(created_at__lt=created_at)
        else:
            queryset = queryset.filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=item_id)
            )
    items = list(queryset[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(items[-1].created_at, items[-1].pk) if has_more else None
    return Page(items=items, has_more=has_more, next_cursor=next_cursor)
