"""End-to-end load benchmark of POST /api/v1/verify in the production shape.

Starts, on this machine: PostgreSQL + Redis (already running), gunicorn (gthread),
a Celery worker (thread pool) and a fake OpenAI-compatible model server that
answers after a fixed delay. Drives /verify through the real `openai` SDK path
and prints, per concurrency level: throughput, p50/p95/p99 latency and the p95
overhead (latency minus the model's delay).

    .venv/bin/python -m benchmarks.verify_load [--delay 1.5] [--levels 1,50,200]

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2

from benchmarks.common import (
    PY,
    ROOT,
    bench_env,
    camera_frame,
    cpu_seconds_by_group,
    percentile,
    prepare_database,
    server_timing,
    services_cpu,
    wait_healthy,
)

WEB_PORT, MODEL_PORT = 8398, 8399


def _start(env: dict[str, str], args: argparse.Namespace) -> list[subprocess.Popen]:
    logs = Path(env["VERIFYAI_DATA_DIR"])
    spawn = lambda cmd, log: subprocess.Popen(  # noqa: E731
        cmd, env=env, cwd=ROOT, stdout=open(logs / log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return [
        spawn([PY, "-m", "benchmarks.fake_openai", "--port", str(MODEL_PORT), "--delay", str(args.delay)],
              "model.log"),
        spawn([PY, "-m", "celery", "-A", "verifyai", "worker", "-Q", "evaluations", "--pool", "threads",
               "--concurrency", str(args.worker_threads), "-l", "warning", "--without-gossip",
               "--without-mingle", "--without-heartbeat"], "worker.log"),
        # Deliveries and housekeeping have workers of their own, as in production (README).
        spawn([PY, "-m", "celery", "-A", "verifyai", "worker", "-Q", "webhooks,housekeeping",
               "--pool", "threads", "--concurrency", "8", "-l", "warning", "--without-gossip",
               "--without-mingle", "--without-heartbeat"], "worker-other.log"),
        spawn([PY, "-m", "gunicorn", "verifyai.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-k", "gthread",
               "-w", str(args.web_workers), "--threads", str(args.web_threads), "--backlog", "2048",
               "--keep-alive", "30"], "web.log"),
    ]


async def _drive(
    api_key: str, photo: bytes, concurrency: int, requests: int,
    timings: list[dict[str, float]] | None = None, stagger: float = 0.0,
    base: str = f"http://127.0.0.1:{WEB_PORT}/api/v1",
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    remaining = requests
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            # Users are not in phase: each client starts somewhere in the first model delay.
            await asyncio.sleep(random.random() * stagger)
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    response = await client.post(
                        f"{base}/verify",
                        headers={"X-API-Key": api_key},
                        files={"image": ("photo.jpg", photo, "image/jpeg")},
                        data={"policy": "scooter_parking"},
                    )
                except httpx2.HTTPError:  # no answer at all (reset, refused, timed out)
                    errors += 1
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 200 and response.json()["evaluation_source"] == "cloud_vlm":
                    latencies.append(elapsed)
                    if timings is not None:
                        timings.append(server_timing(response.headers.get("Server-Timing", "")))
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=1.5, help="the fake model's answer delay (s)")
    parser.add_argument("--levels", default="1,50,200", help="concurrent clients per run")
    parser.add_argument("--rounds", type=int, default=4, help="requests per client at each level")
    parser.add_argument("--burst", action="store_true",
                        help="start every client at once (default: spread over one model delay)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=128)
    parser.add_argument("--worker-threads", type=int, default=256)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/verifyai_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="verifyai-bench-")
    env = bench_env(
        data_dir, args.database_url, args.redis_url,
        OPENAI_API_KEY="sk-benchmark-fake",
        OPENAI_BASE_URL=f"http://127.0.0.1:{MODEL_PORT}/v1",
        VERIFYAI_DEFAULT_PROVIDER="openai",
        VERIFYAI_OPENAI_MODEL="fake-vision-model",
    )
    api_key = prepare_database(env, args.database_url, args.redis_url)
    processes = _start(env, args)
    try:
        wait_healthy(WEB_PORT)
        photo = camera_frame()
        asyncio.run(_drive(api_key, photo, 4, 8))  # warm connections and threads
        print(f"model delay {args.delay:.2f}s, image {len(photo) // 1024} KB, "
              f"gunicorn {args.web_workers}x{args.web_threads} threads, "
              f"celery {args.worker_threads} threads, {os.cpu_count()} cores, "
              f"{'clients start together' if args.burst else 'client starts spread over one delay'}")
        print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95 overhead ms':>16}")
        named = dict(zip(processes, ("model", "worker", "worker", "web"), strict=True))
        for level in [int(v) for v in args.levels.split(",")]:
            total = max(level * args.rounds, 10)
            stagger = 0.0 if args.burst else args.delay
            if level > 1:  # grow thread pools and database connections first; not counted
                asyncio.run(_drive(api_key, photo, level, level, stagger=stagger))
            started = time.perf_counter()
            timings: list[dict[str, float]] = []
            cpu_before = {**cpu_seconds_by_group(named), **services_cpu()}
            client_before = time.process_time()
            latencies, errors = asyncio.run(_drive(api_key, photo, level, total, timings, stagger))
            cpu_after = {**cpu_seconds_by_group(named), **services_cpu()}
            cpu_after["client"] = time.process_time() - client_before
            cpu_before["client"] = 0.0
            wall = time.perf_counter() - started
            if not latencies:
                print(f"{level:>7} {total:>8} {errors:>6}  (no successful request)")
                continue
            p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
            print(f"{level:>7} {total:>8} {errors:>6} {len(latencies) / wall:>7.1f} {p50:>7.0f} "
                  f"{p95:>7.0f} {p99:>7.0f} {p95 - args.delay * 1000:>16.0f}")
            names = sorted({name for t in timings for name in t})
            means = ", ".join(f"{n} {sum(t.get(n, 0) for t in timings) / len(timings):.0f}" for n in names)
            print(f"{'':>7} server-side mean ms: {means}")
            per_request = ", ".join(
                f"{name} {(cpu_after[name] - cpu_before[name]) * 1000 / total:.1f}" for name in cpu_after
            )
            print(f"{'':>7} CPU ms per request: {per_request}")
        print(f"logs: {data_dir}")
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
