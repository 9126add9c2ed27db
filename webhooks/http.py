"""The one way webhooks reach the network.

A webhook URL is user input that makes our servers send requests, so every
target is resolved, every address checked, and the connection is made to the
checked address (Host header and TLS SNI keep the hostname): a DNS answer that
changes between the check and the connect (rebinding) cannot redirect us.
Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

EXCERPT_BYTES = 1024
USER_AGENT = "VerifyAI-Webhooks/1"


class UnsafeTarget(Exception):
    """A URL we refuse to send to (scheme, or an address outside the public internet)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    duration_ms: int
    response_excerpt: str = ""
    error: str = ""


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"Invalid URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeTarget("Credentials in the URL are not allowed.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # is_global excludes loopback, private, link-local (169.254.169.254, the cloud
    # metadata address), shared, reserved and unspecified ranges.
    return address.is_global and not address.is_multicast


def resolve(target: Target, *, allow_private: bool) -> list[str]:
    """The target's addresses, all checked; refuses if any one is not public."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {target.host!r} could not be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for raw in addresses:
            if not _is_public(ipaddress.ip_address(raw.split("%")[0])):
                raise UnsafeTarget(
                    f"The host {target.host!r} resolves to a non-public address ({raw})."
                )
    return addresses


def check_url(url: str) -> None:
    """Validation when a customer saves a URL (the same check runs again at send time)."""
    target = parse_target(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        resolve(target, allow_private=False)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> HttpResult:
    """POST ``body`` to ``url`` as is; never raises for network trouble, reports it."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        target = parse_target(url)
        addresses = resolve(target, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except UnsafeTarget as exc:
        return HttpResult(None, elapsed(), error=f"Refused: {exc}")

    address = addresses[0]
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    pool_kwargs: dict = {
        "port": target.port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if target.scheme == "https":
        pool_cls: type[urllib3.HTTPConnectionPool] = urllib3.HTTPSConnectionPool
        pool_kwargs.update(
            server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED"
        )
    else:
        pool_cls = urllib3.HTTPConnectionPool
    request_headers = {
        **headers,
        "Host": host_header,
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    pool = pool_cls(address, **pool_kwargs)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            excerpt = response.read(EXCERPT_BYTES, decode_content=True) or b""
        finally:
            response.release_conn()
        duration = elapsed()
        if duration > timeout * 1000:
            return HttpResult(response.status, duration, _text(excerpt), "Timed out.")
        return HttpResult(response.status, duration, _text(excerpt))
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError subclass
        return HttpResult(None, elapsed(), error=_error_text(exc))
    except urllib3.exceptions.TimeoutError:
        return HttpResult(None, elapsed(), error="Timed out.")
    except Exception as exc:  # noqa: BLE001 - a receiver's odd answer is a failed attempt, not a crash
        return HttpResult(None, elapsed(), error=_error_text(exc))
    finally:
        pool.close()


def _text(excerpt: bytes) -> str:
    return excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
