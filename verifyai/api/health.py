"""GET /api/v1/health: is the database, the storage and the broker reachable?"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse

from verifyai.api.errors import error_response
from verifyai.celery import app as celery_app


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage() -> None:
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "storage": _storage, "broker": _broker}


def health(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return error_response(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
    components: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            state: dict[str, object] = {"status": "ok"}
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            state = {"status": "down", "error": exc.__class__.__name__}
        state["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        components[name] = state
    down = [name for name, state in components.items() if state["status"] != "ok"]
    if down:
        # The error body of every other endpoint, plus what a monitor needs.
        return error_response(
            503, "service_unavailable", f"Unavailable: {', '.join(down)}.",
            down=down, components=components,
        )
    return JsonResponse({"status": "ok", "components": components})
