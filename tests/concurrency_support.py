"""Races for tests (not a test module itself)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_concurrently(count: int, call: Callable[[], T]) -> list[T]:
    """``call()`` from ``count`` threads released at once; their results in order.

    A thread's exception is raised here: a racer that crashed must fail the test,
    not just leave a result missing.
    """
    barrier = threading.Barrier(count)

    def racer() -> T:
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()  # each thread has its own connection; give it back

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(racer) for _ in range(count)]
    return [future.result() for future in futures]
