"""How a worker's answer reaches the web request waiting for it.

With Redis (production): the worker RPUSHes the JSON outcome onto a list named for the request
and the waiting thread BLPOPs it: one round trip, no result-backend polling, nothing to forget
afterwards. Celery's Redis result backend cost the web ~3 ms of CPU per request in pub/sub
draining and cleanup (measured with benchmarks/verify_load.py), a lot when 200 are in flight.
Without Redis (embedded defaults) the caller uses Celery's result backend (files) instead.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import redis
from django.conf import settings

REPLY_TTL_SECONDS = 120  # an answer nobody waits for any more (deadline passed) is dropped

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def available() -> bool:
    return bool(settings.REDIS_URL)


def _redis() -> redis.Redis:
    global _client
    if _client is not None:  # every wait comes here: no lock once the client exists
        return _client
    with _client_lock:
        if _client is None:
            # One connection per waiting thread (gunicorn runs 128 a process); past the cap a
            # thread waits for a free connection instead of failing (redis-py's default pool errors).
            pool = redis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=1024,
                timeout=settings.VERIFYAI_VERIFY_DEADLINE_SECONDS,
                socket_connect_timeout=2,
                # Longer than any wait: BLPOP returns at its own timeout while Redis is up.
                socket_timeout=settings.VERIFYAI_VERIFY_DEADLINE_SECONDS + 10,
                health_check_interval=30,
            )
            _client = redis.Redis(connection_pool=pool)
        return _client


def new_reply_key() -> str:
    return f"verifyai:reply:{uuid.uuid4().hex}"


def send(key: str, outcome: dict[str, Any]) -> None:
    pipe = _redis().pipeline(transaction=False)
    pipe.rpush(key, json.dumps(outcome))
    pipe.expire(key, REPLY_TTL_SECONDS)
    pipe.execute()


def wait(key: str, timeout: float) -> dict[str, Any] | None:
    """The outcome, or None when ``timeout`` seconds pass first. Raises redis.RedisError."""
    answer = _redis().blpop([key], timeout=max(0.01, timeout))
    return json.loads(answer[1]) if answer else None
