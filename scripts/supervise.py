"""Keep a set of services running for `make run`: restart any that exits, stop all on a signal.

    supervise.py NAME COMMAND [ARGS...] [::: NAME COMMAND [ARGS...]]...

Each service runs in its own session and process group, so stopping one stops everything it
forked. A service that exits is restarted (after 1 s, doubling up to 30 s while it keeps
failing) and the restart is said loudly on stderr: a crashed worker never takes the web server
down, and is never left down silently. A service that cannot stay up (it exits within
``FAST_EXIT_SECONDS`` ``GIVE_UP_AFTER`` times in a row, e.g. a taken port) stops everything
with exit status 1. SIGINT, SIGTERM and SIGHUP stop every service (TERM, then KILL after
``GRACE_SECONDS``) and exit 0.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

SEPARATOR = ":::"
GRACE_SECONDS = 15.0
FAST_EXIT_SECONDS = 10.0
GIVE_UP_AFTER = 5
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Service:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    fast_exits: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass


def _die_with_parent() -> None:
    """In the child: if the supervisor itself is killed (SIGKILL leaves it no time to stop
    anything), the kernel sends this service SIGTERM instead of leaving it orphaned."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: Ctrl-C still stops everything
        pass


def say(message: str) -> None:
    print(f"[run-local] {message}", file=sys.stderr, flush=True)


def parse(argv: list[str]) -> list[Service]:
    services, current = [], []
    for arg in [*argv, SEPARATOR]:
        if arg != SEPARATOR:
            current.append(arg)
            continue
        if len(current) < 2:
            raise SystemExit(f"usage: {__doc__}")
        services.append(Service(current[0], current[1:]))
        current = []
    return services


def stop(services: list[Service]) -> None:
    for service in services:
        service.signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(
        s.process is not None and s.process.poll() is None for s in services
    ):
        time.sleep(0.1)
    for service in services:
        service.signal(signal.SIGKILL)
        if service.process is not None:
            service.process.wait()


def supervise(services: list[Service]) -> int:
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    for service in services:
        service.start()
    status = 0
    while not stopping:
        now = time.monotonic()
        for service in services:
            if service.restart_at is not None:
                if now >= service.restart_at:
                    service.restarts += 1
                    say(f"restarting {service.name} (restart {service.restarts})")
                    service.start()
                continue
            code = service.process.poll() if service.process is not None else None
            if code is None:
                continue
            uptime = now - service.started_at
            service.fast_exits = service.fast_exits + 1 if uptime < FAST_EXIT_SECONDS else 0
            if service.fast_exits >= GIVE_UP_AFTER:
                say(f"error: {service.name} exited (status {code}) {GIVE_UP_AFTER} times in a "
                    "row within seconds of starting; stopping everything")
                stopping, status = True, 1
                break
            backoff = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, service.fast_exits - 1))
            say(f"error: {service.name} exited (status {code}) after {uptime:.0f}s; "
                f"restarting it in {backoff:.0f}s")
            service.restart_at = now + backoff
        time.sleep(0.2)
    say("stopping " + ", ".join(service.name for service in services))
    stop(services)
    say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(supervise(parse(sys.argv[1:])))
