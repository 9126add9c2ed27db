"""Real Celery workers for integration tests (not a test module itself); the tests also
ask for conftest's ``not_eager`` fixture so that tasks reach the worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from verifyai.celery import QUEUES
from verifyai.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The database this test runs on, as a URL a worker process can be given."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@contextmanager
def celery_worker(
    *, concurrency: int = 4, env: dict[str, str] | None = None, queues: tuple[str, ...] = QUEUES
) -> Iterator[subprocess.Popen]:
    """A worker (thread pool) on the test's database and broker, consuming ``queues`` (all of
    them by default) and answering a ping before the block runs. Killed afterwards, not
    stopped: a graceful stop takes seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "verifyai", "worker", "--pool", "threads",
         "--concurrency", str(concurrency), "-Q", ",".join(queues), "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT, start_new_session=True,
        env={**os.environ, "DATABASE_URL": test_database_url(), "CELERY_TASK_ALWAYS_EAGER": "false",
             "VERIFYAI_TESTING": "true", **(env or {})},
    )
    try:
        ping = celery_app.send_task("verifyai.ping", queue=queues[0])
        assert ping.get(timeout=30, interval=0.1) == "pong"
        ping.forget()
        yield process
    finally:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fake_openai_server(*, delay: float) -> Iterator[str]:
    """benchmarks/fake_openai.py on a free port of 127.0.0.1, answering after ``delay``
    seconds; yields its base URL (for OPENAI_BASE_URL)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_openai", "--port", str(port), "--delay", str(delay)],
        cwd=ROOT, start_new_session=True,
    )
    try:
        deadline = time.time() + 15
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.time() > deadline:
                raise RuntimeError(f"the fake model did not listen on {port}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        kill(process)
