"""The embedded broker (a folder) under many writers and readers: every message arrives once and
whole. kombu's own filesystem transport let a reader see a half-written file (celery/kombu#1551),
and the worker exited on its JSONDecodeError."""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path
from queue import Empty

from kombu import Connection, Exchange, Queue

from tests.concurrency_support import run_concurrently

WRITERS, READERS, PER_WRITER = 8, 3, 40
PAYLOAD = "x" * 256 * 1024  # big messages keep a writer busy long enough for a reader to look


def _connection(root: Path) -> Connection:
    queue = root / "queue"
    for folder in (queue, root / "processed", root / "control"):
        folder.mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://", transport="verifyai.broker:Transport",
        transport_options={
            "data_folder_in": str(queue), "data_folder_out": str(queue),
            "processed_folder": str(root / "processed"), "control_folder": str(root / "control"),
            "store_processed": False,
        },
    )


def _unique(name: str) -> str:
    """kombu remembers bindings per process (class-level state), so a queue this process bound
    before, in another folder, would not be bound again here: every test uses new names."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_every_message_arrives_once_and_whole_with_concurrent_writers_and_readers(tmp_path):
    queue_name = _unique("evaluations")
    total = WRITERS * PER_WRITER
    received: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    writer_ids = itertools.count()

    def write() -> None:
        index = next(writer_ids)
        with _connection(tmp_path) as conn:
            queue = conn.SimpleQueue(queue_name)
            for n in range(PER_WRITER):
                queue.put({"id": f"{index}-{n}", "body": PAYLOAD})
            queue.close()

    def read() -> None:
        with _connection(tmp_path) as conn:
            queue = conn.SimpleQueue(queue_name)
            while not done.is_set():
                try:
                    message = queue.get(timeout=0.05)
                except Empty:
                    continue
                assert message.payload["body"] == PAYLOAD  # never empty, never cut short
                message.ack()
                with lock:
                    received.append(message.payload["id"])
                    if len(received) >= total:
                        done.set()
            queue.close()

    readers = [threading.Thread(target=_guarded(read, done)) for _ in range(READERS)]
    for reader in readers:
        reader.start()
    run_concurrently(WRITERS, write)
    done.wait(timeout=60)
    done.set()
    for reader in readers:
        reader.join(timeout=10)

    assert not _failures, _failures[0]
    assert sorted(received) == sorted(f"{i}-{n}" for i in range(WRITERS) for n in range(PER_WRITER))
    assert not list((tmp_path / "queue").iterdir())  # nothing half-written left behind


_failures: list[BaseException] = []


def _guarded(target, done: threading.Event):
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            _failures.append(exc)
            done.set()

    return run


def test_queues_bound_at_once_by_many_processes_are_all_kept(tmp_path):
    """Every worker and web process declares its queues when it starts; none may be lost, and
    a publisher never reads a half-written routing table."""
    names = iter(range(1000))
    prefix, exchange_name = _unique("queue"), _unique("shared")

    def bind() -> None:
        name = f"{prefix}-{next(names)}"
        with _connection(tmp_path) as conn:
            exchange = Exchange(exchange_name, type="direct")
            Queue(name, exchange, routing_key=name)(conn.default_channel).declare()

    run_concurrently(12, bind)

    with _connection(tmp_path) as conn:
        table = conn.default_channel.get_table(exchange_name)
    assert sorted(q.queue for q in table) == sorted(f"{prefix}-{n}" for n in range(12))
