"""GET /api/v1/health: is the database, the storage and the broker reachable?"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

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


@require_GET
def health(request: HttpRequest) -> JsonResponse:
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
    body = {"status": "ok" if not down else "degraded", "components": components}
    if down:
        body |= {
            "error": f"Unavailable: {', '.join(down)}.",
            "code": "service_unavailable",
            "down": down,
        }
    return JsonResponse(body, status=503 if down else 200)
