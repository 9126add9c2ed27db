"""Per-request context: the request id and the Server-Timing phases.

Kept in context variables so that code far from the view (the engine, the
storage layer, log records) can reach them without threading them through.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_timings: ContextVar[dict[str, float] | None] = ContextVar("timings", default=None)

# An incoming id is echoed only when it is short and harmless in a log line.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


def new_request_id(incoming: str | None) -> str:
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return f"req_{uuid.uuid4().hex}"


def set_request_context(request_id: str) -> None:
    _request_id.set(request_id)
    _timings.set({})


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Add the duration of the block to the named Server-Timing phase."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings = _timings.get()
        if timings is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            timings[phase] = timings.get(phase, 0.0) + elapsed_ms


def server_timing_header() -> str:
    timings = _timings.get() or {}
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in timings.items())


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True
