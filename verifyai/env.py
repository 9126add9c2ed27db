"""Strict helpers for reading settings from the environment.

Each helper fails loudly on a value it cannot parse, and every secret can be
given as ``NAME_FILE`` (a path to a file holding the value), the way container
secrets are mounted.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {exc}") from exc
        if not value:  # a secret mounted empty must not quietly become "no secret"
            raise ImproperlyConfigured(f"{name}_FILE points at an empty file: {path}")
        return value
    return os.environ.get(name, default)


def envports(name: str, default: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """TCP ports as ``80,443,1024-65535``: a list of inclusive (low, high) ranges."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    ranges = []
    for item in raw.split(","):
        low, dash, high = item.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            first = last = 0
        if not 1 <= first <= last <= 65535:
            raise ImproperlyConfigured(
                f"{name} must be ports or ranges of ports (1-65535) separated by commas, "
                f"e.g. 80,443,1024-65535; got {raw!r}"
            )
        ranges.append((first, last))
    return ranges


def generated_secret(path: Path) -> str:
    """The secret kept in ``path``, created there (mode 0600) on first use.

    Processes starting together (the web server and the worker) all end up with the
    one key: each writes a complete candidate to its own temporary file and hard-links
    it into place, which fails for all but the first, and everyone then reads ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            _write_new(candidate, secrets.token_urlsafe(50))
            try:
                os.link(candidate, path)
            except FileExistsError:
                pass  # another process was first: use its key
            except OSError:  # a filesystem without hard links: create in place instead
                try:
                    _write_new(path, candidate.read_text(encoding="utf-8"))
                except FileExistsError:
                    time.sleep(0.5)  # the first one may still be writing its ~70 bytes
        finally:
            candidate.unlink(missing_ok=True)
    for _ in range(40):  # without hard links the first process may still be writing it
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"Cannot read the generated secret key {path}: {exc}") from exc
        if len(value) >= 32:
            break
        time.sleep(0.05)
    if len(value) < 32:
        raise ImproperlyConfigured(
            f"The generated secret key {path} is empty or too short; delete it to make a new one"
        )
    return value


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (failing if it exists) readable by its owner only, and fill it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text.strip() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
