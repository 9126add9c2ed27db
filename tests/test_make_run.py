"""`make run` (scripts/run-local) on embedded defaults, as a new user starts it: a worker that
dies is restarted and never takes the web server with it; Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.celery_support import ROOT, free_port
from tests.conftest import make_photo

pytestmark = pytest.mark.skipif(not (ROOT / ".venv/bin/gunicorn").exists(), reason="needs make install")


class RunLocal:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {name: value for name, value in os.environ.items()
               if name not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "VERIFYAI_TESTING",
                               "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE")}
        env.pop("WEB_WORKERS", None)
        env.update(VERIFYAI_DATA_DIR=str(data_dir), PORT=str(self.port), WEB_THREADS="8")
        self.process = subprocess.Popen(
            [str(ROOT / "scripts/run-local")], cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if match := re.search(pattern, line):
                    return match
            seen = len(self.lines)
            if self.process.poll() is not None and seen == len(self.lines):
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output:\n{''.join(self.lines[-60:])}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _web_processes(port: int) -> int:
    """How many gunicorn workers serve ``port`` (children of its master)."""
    bind = f"127.0.0.1:{port}".encode()
    commands = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if any(arg.endswith(b"/gunicorn") for arg in cmdline[:2]) and bind in cmdline:
                commands[int(entry.name)] = parent
    return sum(1 for parent in commands.values() if parent in commands)


def _worker_pgid(queue: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            celery = len(cmdline) > 1 and cmdline[1].endswith(b"/celery")  # not the supervisor
            if celery and b"-Q" in cmdline and cmdline[cmdline.index(b"-Q") + 1] == queue.encode():
                return os.getpgid(int(entry.name))
    raise AssertionError(f"no {queue} worker is running")


@pytest.fixture
def make_run(tmp_path) -> Iterator[RunLocal]:
    run = RunLocal(tmp_path / "var")
    try:
        yield run
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGTERM)
            try:
                run.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(run.process.pid, signal.SIGKILL)


def test_a_killed_worker_is_restarted_and_the_web_server_keeps_answering(make_run):
    key = make_run.wait_for(r"^\s+(vai_\S+)\s*$").group(1)
    make_run.wait_for("VerifyAI is running")
    # Frames are CPU-bound: one web process per core, not one process for everything.
    assert _web_processes(make_run.port) == min(4, len(os.sched_getaffinity(0)))  # nproc, capped
    old_group = _worker_pgid("webhooks")

    os.killpg(old_group, signal.SIGKILL)  # as the filesystem broker's race used to do it
    make_run.wait_for(r"webhooks exited \(status -9\).*restarting")

    # The web server never went away, and verifications keep working meanwhile.
    assert httpx2.get(f"{make_run.url}/api/v1/health", timeout=10).status_code == 200
    answer = httpx2.post(f"{make_run.url}/api/v1/verify", headers={"X-API-Key": key},
                         files={"image": ("photo.jpg", make_photo(), "image/jpeg")},
                         data={"policy": "scooter_parking"}, timeout=30)
    assert answer.status_code == 200, answer.text
    make_run.wait_for(r"restarting webhooks")
    make_run.wait_for(r"webhooks@\S+ ready")
    assert _worker_pgid("webhooks") != old_group

    os.killpg(make_run.process.pid, signal.SIGINT)  # Ctrl-C
    assert make_run.process.wait(timeout=30) == 0
    with pytest.raises(AssertionError):
        _worker_pgid("webhooks")  # nothing left running
