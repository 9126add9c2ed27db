"""Reads for streams, always scoped to a customer (the frame path reads by id alone)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from billing.models import Customer
from streams.models import Stream
from verifyai.api.errors import NotFound


def streams_for(customer: Customer) -> QuerySet[Stream]:
    return Stream.objects.filter(customer=customer).select_related("policy")


def get_stream(customer: Customer, stream_id: str | uuid.UUID) -> Stream:
    stream = streams_for(customer).filter(pk=_uuid_or_none(stream_id)).first()
    if stream is None:
        raise NotFound("No such stream.")
    return stream


def stream_for_frame(stream_id: str | uuid.UUID) -> Stream | None:
    """The stream, its customer's plan and its policy in one indexed query."""
    pk = _uuid_or_none(stream_id)
    if pk is None:
        return None
    # The policy comes in full: verify_image judges the frame against it directly.
    return (
        Stream.objects.select_related("customer__subscription__plan", "policy")
        .filter(pk=pk)
        .first()
    )


def _uuid_or_none(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
