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

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from verifyai.api.errors import BadRequest


class PageQuerySerializer(serializers.Serializer):
    """``limit`` and ``cursor``, as every list endpoint takes them (subclass to add filters)."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(required=False, allow_blank=True)


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


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str | None]:
    try:
        # Well-formed but impossible instants (month 13) raise ValueError.
        timestamp = parse_datetime(cursor.replace(" ", "+"))
    except ValueError:
        raise InvalidCursor() from None
    if timestamp is not None:
        return _aware(timestamp), None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, item_id = raw.partition("|")
        parsed = parse_datetime(created)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if parsed is None or not item_id:
        raise InvalidCursor()
    return _aware(parsed), item_id


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int) -> Page:
    queryset = queryset.order_by("-created_at", "-id")
    if cursor:
        created_at, item_id = _decode_cursor(cursor)
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
