"""Keep a set of services running for `make run`: restart any that exits, stop all on a signal.

    supervise.py NAME COMMAND [ARGS...] [::: NAME COMMAND [ARGS...]]...

Each service runs in its own session and process group, so stopping one stops everything it
forked (a worker's beat child too: when a service's leader dies, what is left of its group is
killed before the restart). A service that exits is restarted and the restart is said loudly
on stderr: a crashed worker never takes the web server down, and is never left down silently.
The pause is 1 s, then 2, 4 and 8 s while it keeps exiting within ``FAST_EXIT_SECONDS`` of
starting; at the ``GIVE_UP_AFTER``th such exit in a row (e.g. a taken port) everything stops
with exit status 1. SIGINT, SIGTERM and SIGHUP stop every service (TERM, then KILL after
``GRACE_SECONDS``) and exit 0; so does the death of our own parent (run-local).
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
MAX_BACKOFF_SECONDS = 8.0
PR_SET_PDEATHSIG = 1


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
        """Signal the whole group, even after its leader exited: what it forked may live on.
        (A group id is not reused while any member of the group is alive.)"""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass


def _die_with_parent() -> None:
    """In the child: if the supervisor itself is killed (SIGKILL leaves it no time to stop
    anything), the kernel sends this service SIGTERM instead of leaving it orphaned."""
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
    _die_with_parent()  # run-local killed outright: we get SIGTERM and stop everything
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
            service.signal(signal.SIGKILL)  # what the dead leader forked (a beat process) goes too
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
