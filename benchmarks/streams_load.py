"""Load benchmark of the Streams API: many paired cameras posting one frame a second.

Starts, on this machine, gunicorn (gthread, 4 processes x 4 threads: frames are
CPU-bound, so processes beat threads) against PostgreSQL and Redis (already
running on 127.0.0.1; it creates and drops its own `verifyai_streams_bench`
database and uses Redis db 12). Frames are judged by the embedded `local`
provider, so this measures our own path: token check, image intake, evaluation,
write. Creates N streams through the customer API, pairs each one with its code
(bcrypt cost 12, as in production), then every stream posts one frame per second
for the duration. Prints throughput, p50/p95/p99 latency (all frames, and after
each stream's first frame), the mean Server-Timing `auth` phase (stream row plus
token check) and the `token` phase (the token check alone).

    .venv/bin/python -m benchmarks.streams_load [--streams 50] [--seconds 60]

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
    drop_database,
    percentile,
    prepare_database,
    server_timing,
    services_cpu,
    wait_healthy,
)

WEB_PORT = 8396
BASE = f"http://127.0.0.1:{WEB_PORT}/api/v1"


async def _pair_streams(api_key: str, count: int, base: str = BASE) -> list[tuple[str, str]]:
    async with httpx2.AsyncClient(timeout=60) as client:
        semaphore = asyncio.Semaphore(8)

        async def one(index: int) -> tuple[str, str]:
            async with semaphore:
                created = await client.post(
                    f"{base}/streams", headers={"X-API-Key": api_key},
                    json={"name": f"bench cam {index}", "policy_id": "scooter_parking"},
                )
                created.raise_for_status()
                paired = await client.post(
                    f"{base}/streams/pair", json={"code": created.json()["pairing"]["code"]}
                )
                paired.raise_for_status()
                return paired.json()["stream_id"], paired.json()["stream_token"]

        return await asyncio.gather(*(one(i) for i in range(count)))


async def _drive(
    streams: list[tuple[str, str]], photo: bytes, seconds: float, base: str = BASE
) -> list[dict]:
    samples: list[dict] = []
    limits = httpx2.Limits(max_connections=len(streams), max_keepalive_connections=len(streams))
    async with httpx2.AsyncClient(limits=limits, timeout=30) as client:

        async def camera(stream_id: str, token: str) -> None:
            await asyncio.sleep(random.random())  # cameras are not in phase
            end = time.monotonic() + seconds
            first = True
            while time.monotonic() < end:
                tick = time.monotonic()
                started = time.perf_counter()
                try:
                    response = await client.post(
                        f"{base}/streams/{stream_id}/frame",
                        headers={"X-Stream-Token": token},
                        files={"frame": ("frame.jpg", photo, "image/jpeg")},
                    )
                    status, timing = response.status_code, response.headers.get("Server-Timing", "")
                except httpx2.HTTPError:  # no answer at all (reset, refused, timed out)
                    status, timing = None, ""
                samples.append({
                    "latency": time.perf_counter() - started,
                    "status": status,
                    "first": first,
                    "phases": server_timing(timing),
                })
                first = False
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

        await asyncio.gather(*(camera(sid, tok) for sid, tok in streams))
    return samples


def _report(samples: list[dict], seconds: float, streams: int) -> None:
    ok = [s for s in samples if s["status"] == 200]
    later = [s for s in ok if not s["first"]]
    firsts = [s for s in ok if s["first"]]
    errors = len(samples) - len(ok)

    def line(label: str, rows: list[dict]) -> None:
        values = sorted(s["latency"] * 1000 for s in rows)
        if not values:
            print(f"{label}: no samples")
            return
        print(f"{label}: n={len(values)}  p50 {percentile(values, 50):.1f} ms  "
              f"p95 {percentile(values, 95):.1f} ms  p99 {percentile(values, 99):.1f} ms")

    def mean_phase(rows: list[dict], phase: str) -> float:
        values = [s["phases"].get(phase, 0.0) for s in rows]
        return sum(values) / len(values) if values else float("nan")

    print(f"\n{streams} streams x 1 frame/s for {seconds:.0f} s (local provider)")
    print(f"frames: {len(samples)} sent, {len(ok)} ok, {errors} errors; "
          f"throughput {len(ok) / seconds:.1f} frames/s")
    line("latency, all frames        ", ok)
    line("latency, after first frame ", later)
    print(f"auth phase (stream row + token check): first frame mean {mean_phase(firsts, 'auth'):.2f} ms; "
          f"later frames mean {mean_phase(later, 'auth'):.3f} ms, "
          f"max {max((s['phases'].get('auth', 0.0) for s in later), default=float('nan')):.2f} ms")
    print(f"token check alone (cached proof, Server-Timing `token`): mean "
          f"{mean_phase(later, 'token'):.3f} ms, p95 "
          f"{percentile([s['phases'].get('token', 0.0) for s in later] or [0.0], 95):.3f} ms")
    phases = sorted({p for s in later for p in s["phases"]})
    print("mean Server-Timing phases after first frame: "
          + ", ".join(f"{p} {mean_phase(later, p):.2f} ms" for p in phases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/verifyai_streams_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="verifyai-streams-bench-") as data_dir:
        env = bench_env(
            data_dir, args.database_url, args.redis_url,
            VERIFYAI_DEFAULT_PROVIDER="local",
            VERIFYAI_STREAM_PAIR_RATE="100000/m",  # every kiosk here pairs from 127.0.0.1
        )
        api_key = prepare_database(env, args.database_url, args.redis_url)
        web = subprocess.Popen(
            [PY, "-m", "gunicorn", "verifyai.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-k", "gthread",
             "-w", str(args.web_workers), "--threads", str(args.web_threads), "--keep-alive", "30"],
            env=env, cwd=ROOT, stdout=open(Path(data_dir) / "web.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(WEB_PORT, statuses=(200, 503))
            started = time.perf_counter()
            streams = asyncio.run(_pair_streams(api_key, args.streams))
            print(f"created and paired {len(streams)} streams in {time.perf_counter() - started:.1f} s "
                  f"(bcrypt cost 12 per pairing; pairing leaves the token proof, so no frame pays bcrypt)")
            cpu_before = {**cpu_seconds_by_group({web: "web"}), **services_cpu(),
                          "client": time.process_time()}
            samples = asyncio.run(_drive(streams, camera_frame(), args.seconds))
            cpu_after = {**cpu_seconds_by_group({web: "web"}), **services_cpu(),
                         "client": time.process_time()}
            _report(samples, args.seconds, len(streams))
            frames = max(1, len(samples))
            print(f"CPU ms per frame ({os.cpu_count()} cores): " + ", ".join(
                f"{name} {(cpu_after[name] - cpu_before[name]) * 1000 / frames:.1f}" for name in cpu_after
            ))
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=10)
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
