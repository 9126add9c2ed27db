"""What the benchmarks share: the test frame, database set-up, readiness, figures."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def camera_frame() -> bytes:
    """A 1280x720 camera frame: flat surfaces, edges and sensor noise, ~90 KB as JPEG."""
    random = np.random.RandomState(3)
    frame = Image.new("RGB", (1280, 720), (120, 130, 140))
    draw = ImageDraw.Draw(frame)
    for _ in range(60):
        x, y = random.randint(0, 1280), random.randint(0, 720)
        box = [x, y, x + random.randint(20, 300), y + random.randint(20, 200)]
        draw.rectangle(box, fill=tuple(int(v) for v in random.randint(0, 255, 3)))
    pixels = np.asarray(frame.filter(ImageFilter.GaussianBlur(1))).astype("int16")
    pixels += random.randint(-6, 6, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def run_manage(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout


_PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                 "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
                 "VERIFYAI_PROVIDER_FALLBACKS")


def bench_env(data_dir: str, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of the processes a benchmark starts: its own database, Redis db and data
    folder, no provider of the developer's (only 127.0.0.1 is contacted), plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in _PROVIDER_ENV}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SECRET_KEY="benchmark-secret-key-not-for-production",
        VERIFYAI_DATA_DIR=data_dir,
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def _psql_admin(database_url: str, sql: str, *, check: bool = True) -> None:
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", sql], check=check)


def drop_database(database_url: str) -> None:
    _psql_admin(database_url, f"DROP DATABASE IF EXISTS {database_url.rsplit('/', 1)[1]}", check=False)


def prepare_database(env: dict[str, str], database_url: str, redis_url: str) -> str:
    """A fresh database and Redis db with a high-limit plan; returns the customer's API key."""
    name = database_url.rsplit("/", 1)[1]
    _psql_admin(database_url, f"DROP DATABASE IF EXISTS {name}")
    _psql_admin(database_url, f"CREATE DATABASE {name}")
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=True, capture_output=True)
    run_manage([PY, "manage.py", "migrate", "--noinput"], env)
    run_manage([PY, "manage.py", "createplan", "bench", "--monthly-limit", "100000000",
                "--per-minute", "1000000", "--per-hour", "100000000"], env)
    out = run_manage(
        [PY, "manage.py", "createcustomer", "--name", "Bench", "--plan", "bench", "--json"], env
    )
    return json.loads(out)["api_key"]


def wait_healthy(port: int, timeout: float = 30, *, statuses: tuple[int, ...] = (200,)) -> None:
    """Until /health answers one of ``statuses`` (a 503 only means a component is down)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code in statuses:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the service did not become healthy; see the logs in the data dir")


def server_timing(header: str) -> dict[str, float]:
    phases = {}
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if duration:
            phases[name] = float(duration)
    return phases


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def cpu_seconds_by_group(processes: dict[subprocess.Popen, str]) -> dict[str, float]:
    """CPU time used so far by each started process group (children included), by name."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {process.pid: name for process, name in processes.items()}
    totals = dict.fromkeys(names.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = int(fields[2])  # pgrp
        if group in names:
            totals[names[group]] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def services_cpu() -> dict[str, float]:
    """CPU seconds of the PostgreSQL and Redis servers (all their processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name in totals:
            if comm.startswith(name):
                totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def cpu_seconds_by_command(groups: dict[str, bytes]) -> dict[str, float]:
    """CPU seconds used so far by every process whose command line contains a group's marker
    (the services `make run` starts live in process groups of their own)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(groups, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, marker in groups.items():
            if marker in cmdline and b"supervise.py" not in cmdline:
                totals[name] += (int(fields[11]) + int(fields[12])) / ticks
                break
    return totals
