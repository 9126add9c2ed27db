"""Load benchmark of `make run` itself: scripts/run-local on embedded defaults (SQLite, local
files, the filesystem broker; no PostgreSQL, no Redis), as a new user starts it.

Two phases, each on a fresh `make run` in a scratch data folder:
  verify   a fake OpenAI-compatible model answering after --delay (1.5 s) behind OPENAI_BASE_URL,
           and --levels clients in flight on POST /api/v1/verify (every answer must be a 200
           from the model); prints throughput, p50/p95/p99, the p95 overhead over the model's
           delay and CPU per request per process group
  streams  --streams paired cameras posting one 1280x720 frame a second each (local provider)
           for --seconds; prints throughput, p50/p95/p99 and CPU per frame
After each phase it says whether every service is still running (a restart would be logged).

    .venv/bin/python -m benchmarks.make_run_load [--phases verify,streams] [--levels 50,200]

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import streams_load, verify_load
from benchmarks.common import (
    PY,
    ROOT,
    camera_frame,
    cpu_seconds_by_command,
    percentile,
    run_manage,
    wait_healthy,
)

PORT, MODEL_PORT = 8391, 8392
GROUPS = {"web": b"gunicorn", "workers": b"celery", "model": b"fake_openai"}
_STRIPPED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
             "AWS_STORAGE_BUCKET_NAME", "DJANGO_SETTINGS_MODULE", "VERIFYAI_EVALUATIONS",
             *("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
               "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
               "VERIFYAI_PROVIDER_FALLBACKS", "VERIFYAI_DEFAULT_PROVIDER"))


def _env(data_dir: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _STRIPPED}
    env.update(VERIFYAI_DATA_DIR=data_dir, PORT=str(PORT), VERIFYAI_PYTHON=PY, **extra)
    return env


def _prepare(env: dict[str, str]) -> str:
    """The customer `make run` will find as its demo customer, on a plan that never throttles."""
    run_manage([PY, "manage.py", "migrate", "--noinput"], env)
    run_manage([PY, "manage.py", "createplan", "bench", "--monthly-limit", "100000000",
                "--per-minute", "1000000", "--per-hour", "100000000"], env)
    created = json.loads(run_manage(
        [PY, "manage.py", "createcustomer", "--name", "Bench", "--plan", "bench", "--json"], env
    ))
    marker = Path(env["VERIFYAI_DATA_DIR"]) / "demo-customer.json"
    marker.write_text(json.dumps({"customer_id": created["customer_id"]}))
    return created["api_key"]


class MakeRun:
    def __init__(self, env: dict[str, str]) -> None:
        self.log = Path(env["VERIFYAI_DATA_DIR"]) / "make-run.log"
        self.process = subprocess.Popen(
            [str(ROOT / "scripts/run-local")], cwd=ROOT, env=env, stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self) -> None:
        deadline = time.time() + 180
        while "VerifyAI is running" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.time() > deadline:
                raise SystemExit(f"make run did not start; see {self.log}")
            time.sleep(0.5)
        wait_healthy(PORT)

    def restarts(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if "[run-local]" in line and ("exited" in line or "restarting" in line)]

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def _services_line(run: MakeRun) -> str:
    restarts = run.restarts()
    alive = run.process.poll() is None
    if alive and not restarts:
        return "services: all still running, no restart"
    return f"services: {'running' if alive else 'STOPPED'}; " + " | ".join(restarts[:5])


def _cpu_line(before: dict[str, float], after: dict[str, float], count: int, unit: str) -> str:
    return f"CPU ms per {unit}: " + ", ".join(
        f"{name} {(after[name] - before[name]) * 1000 / max(1, count):.1f}" for name in after
    )


def verify_phase(args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="verifyai-makerun-verify-")
    env = _env(data_dir, OPENAI_API_KEY="sk-benchmark-fake",
               OPENAI_BASE_URL=f"http://127.0.0.1:{MODEL_PORT}/v1",
               VERIFYAI_DEFAULT_PROVIDER="openai", VERIFYAI_OPENAI_MODEL="fake-vision-model")
    api_key = _prepare(env)
    model = subprocess.Popen(
        [PY, "-m", "benchmarks.fake_openai", "--port", str(MODEL_PORT), "--delay", str(args.delay)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    run = MakeRun(env)
    base = f"http://127.0.0.1:{PORT}/api/v1"
    try:
        run.wait_ready()
        photo = camera_frame()
        asyncio.run(verify_load._drive(api_key, photo, 4, 8, base=base))  # warm up
        print(f"\nmake run (embedded defaults), /verify against a fake model answering in "
              f"{args.delay:.2f}s, image {len(photo) // 1024} KB, {os.cpu_count()} cores")
        print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'ideal':>6} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95 overhead ms':>16}")
        for level in [int(v) for v in args.levels.split(",")]:
            total = max(level * args.rounds, 10)
            asyncio.run(verify_load._drive(api_key, photo, level, level, stagger=args.delay, base=base))
            before = {**cpu_seconds_by_command(GROUPS), "client": time.process_time()}
            started = time.perf_counter()
            latencies, errors = asyncio.run(
                verify_load._drive(api_key, photo, level, total, stagger=args.delay, base=base)
            )
            wall = time.perf_counter() - started
            after = {**cpu_seconds_by_command(GROUPS), "client": time.process_time()}
            if not latencies:
                print(f"{level:>7} {total:>8} {errors:>6}  (no successful request)")
                continue
            p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
            print(f"{level:>7} {total:>8} {errors:>6} {len(latencies) / wall:>7.1f} "
                  f"{level / args.delay:>6.1f} {p50:>7.0f} {p95:>7.0f} {p99:>7.0f} "
                  f"{p95 - args.delay * 1000:>16.0f}")
            print(f"{'':>7} {_cpu_line(before, after, total, 'request')}")
        print(_services_line(run))
    finally:
        run.stop()
        os.killpg(model.pid, signal.SIGTERM)
        print(f"logs: {data_dir}")


def streams_phase(args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="verifyai-makerun-streams-")
    env = _env(data_dir, VERIFYAI_STREAM_PAIR_RATE="100000/m")  # every kiosk here is 127.0.0.1
    api_key = _prepare(env)
    run = MakeRun(env)
    base = f"http://127.0.0.1:{PORT}/api/v1"
    try:
        run.wait_ready()
        streams = asyncio.run(streams_load._pair_streams(api_key, args.streams, base=base))
        before = {**cpu_seconds_by_command(GROUPS), "client": time.process_time()}
        samples = asyncio.run(streams_load._drive(streams, camera_frame(), args.seconds, base=base))
        after = {**cpu_seconds_by_command(GROUPS), "client": time.process_time()}
        ok = sorted(s["latency"] * 1000 for s in samples if s["status"] == 200)
        print(f"\nmake run (embedded defaults), {len(streams)} cameras x 1 frame/s for "
              f"{args.seconds:.0f} s, 1280x720 JPEG, local provider, {os.cpu_count()} cores")
        if ok:
            print(f"frames: {len(samples)} sent, {len(ok)} ok, {len(samples) - len(ok)} errors; "
                  f"throughput {len(ok) / args.seconds:.1f} frames/s of {len(streams)} offered; "
                  f"p50 {percentile(ok, 50):.0f} ms, p95 {percentile(ok, 95):.0f} ms, "
                  f"p99 {percentile(ok, 99):.0f} ms (spec: 800 ms)")
        else:
            print(f"frames: {len(samples)} sent, none ok")
        print(_cpu_line(before, after, len(samples), "frame"))
        print(_services_line(run))
    finally:
        run.stop()
        print(f"logs: {data_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default="verify,streams")
    parser.add_argument("--delay", type=float, default=1.5, help="the fake model's answer delay (s)")
    parser.add_argument("--levels", default="50,200", help="concurrent /verify clients per run")
    parser.add_argument("--rounds", type=int, default=4, help="requests per client at each level")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    phases = args.phases.split(",")
    if "verify" in phases:
        verify_phase(args)
    if "streams" in phases:
        streams_phase(args)


if __name__ == "__main__":
    main()
