"""Idempotency-Key, with Stripe's semantics.

- The same key and the same request replay the first response: status, body and
  the original X-Request-Id, with no second evaluation, image or usage count.
- The same key while the first request still runs: 409. With a different
  request: 422. Keys are scoped per customer and route, and live 24 hours.
- Only successes (2xx) are saved. A request refused up front (400 validation,
  401, 403, 404, 429) saves nothing, so the client may fix it and retry with the
  same key; a failure (5xx) saves nothing either, so the retry the client is told
  to make really runs again (a failed request bills nothing: see
  ``verifications.services.verify_image``) instead of replaying the error all day.

The request fingerprint is computed from the parsed request (files by their
SHA-256), so a retry with a new multipart boundary is still "the same request".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from verifyai.api.errors import ApiError, BadRequest, Conflict
from verifyai.models import IdempotencyRecord

KEY_TTL = dt.timedelta(hours=24)
# A record still "running" after this long belongs to a crashed request.
ABANDONED_AFTER = dt.timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class IdempotencyInFlight(Conflict):
    code = "idempotency_in_flight"
    message = "A request with this Idempotency-Key is still being processed. Retry shortly."


class IdempotencyKeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"
    message = "This Idempotency-Key was used with a different request body."


def fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    data = request.data
    if not isinstance(data, Mapping):
        # A JSON body that is not an object (an array, a string): the route's validation
        # refuses it, but the fingerprint comes first and must not crash on it.
        digest.update(json.dumps({"body": data}, sort_keys=True, default=str).encode())
        return digest.hexdigest()
    canonical: dict[str, Any] = {}
    for name in sorted(set(data.keys()) - set(request.FILES.keys())):
        canonical[name] = data.getlist(name) if hasattr(data, "getlist") else data[name]
    for name in sorted(request.FILES.keys()):
        upload = request.FILES[name]
        upload.seek(0)
        canonical[f"file:{name}"] = hashlib.sha256(upload.read()).hexdigest()
        upload.seek(0)
    digest.update(json.dumps(canonical, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _claim(
    request: Request, route: str, key: str, print_: str
) -> tuple[IdempotencyRecord, bool]:
    """Our new record and True, or the existing live record for this key and False."""
    now = timezone.now()
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    customer=request.user, route=route, key=key, fingerprint=print_,
                    request_id=request._request.request_id,
                )
            return record, True
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(
                customer=request.user, route=route, key=key
            ).first()
            if existing is None:
                continue  # deleted in between; try again
            expired = existing.created_at < now - KEY_TTL
            abandoned = existing.response_status is None and existing.created_at < now - ABANDONED_AFTER
            if expired or abandoned:
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue
            return existing, False
    raise IdempotencyInFlight()


def _replay(record: IdempotencyRecord) -> Response:
    return Response(
        record.response_body,
        status=record.response_status,
        headers={"X-Request-Id": record.request_id, "Idempotent-Replayed": "true"},
    )


def run_idempotently(
    request: Request, route: str, handler: Callable[[], Response], on_error: Callable[[Exception], Response]
) -> Response:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handler()
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.")

    print_ = fingerprint(request)
    record, created = _claim(request, route, key, print_)
    if not created:
        if record.response_status is None:
            raise IdempotencyInFlight()
        if record.fingerprint != print_:
            raise IdempotencyKeyReused()
        return _replay(record)

    saved = False
    try:
        try:
            response = handler()
        except Exception as exc:  # noqa: BLE001 - rendered by DRF's handler, then saved or not
            response = on_error(exc)
        if response.status_code < 400:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                response_status=response.status_code, response_body=response.data
            )
            saved = True
        return response
    finally:
        if not saved:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEY_TTL).delete()
    return deleted
