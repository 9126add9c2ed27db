"""The one way webhooks reach the network.

A webhook URL is user input that makes our servers send requests, so every
target is resolved, every address checked, and the connection is made to the
checked address (Host header and TLS SNI keep the hostname): a DNS answer that
changes between the check and the connect (rebinding) cannot redirect us.
Redirects are never followed.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
import urllib3.connection
from django.conf import settings

EXCERPT_BYTES = 1024
USER_AGENT = "VerifyAI-Webhooks/1"

logger = logging.getLogger(__name__)


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
    if port is None:
        port = 443 if scheme == "https" else 80
    if not any(low <= port <= high for low, high in settings.VERIFYAI_WEBHOOK_ALLOWED_PORTS):
        allowed = ", ".join(
            str(low) if low == high else f"{low}-{high}"
            for low, high in settings.VERIFYAI_WEBHOOK_ALLOWED_PORTS
        )
        raise UnsafeTarget(f"Port {port} is not allowed (allowed: {allowed}).")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, parts.hostname, port, path)


# IPv6 ranges that carry an IPv4 address in a known place: the IPv4 address is what a
# NAT64 gateway, a 6to4 relay or the host's own stack ends up talking to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: low 32 bits
_6TO4 = ipaddress.IPv6Network("2002::/16")  # RFC 3056: bits 16-47
_6TO4_RELAY = ipaddress.IPv4Network("192.88.99.0/24")  # 6to4 relay anycast (RFC 7526)

# IPv6 ranges refused whatever follows: tunnels and translations whose IPv4 address cannot
# be read off reliably, deprecated forms, and ranges Python 3.11 still calls global.
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # IPv4-compatible ::a.b.c.d (RFC 4291, deprecated), also :: and ::1
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 2765)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): the operator picks where IPv4 sits
        "2001::/32",  # Teredo: the client's IPv4 is obfuscated, the server's is arbitrary
        "fec0::/10",  # site-local (RFC 3879, deprecated): routed inside the site
        "ff00::/8",  # multicast
        "5f00::/16",  # SRv6 segment ids (RFC 9602): routed inside operators' networks
        "3fff::/20",  # documentation (RFC 9637)
    )
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _6TO4:
        return address.sixtofour
    return None


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _REFUSED_V6):
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _is_public(embedded)
    elif address in _6TO4_RELAY:
        return False
    # is_global excludes loopback, private, link-local (169.254.169.254, the cloud
    # metadata address), shared, reserved and unspecified ranges.
    return address.is_global and not address.is_multicast


# One message for every refusal of a host: naming the address a name resolved to, or even
# telling "does not resolve" from "resolves inward", would map internal DNS for the caller.
_HOST_REFUSED = (
    "The URL's host is not allowed or could not be resolved: "
    "it must resolve to public internet addresses only."
)


# getaddrinfo cannot be interrupted, so a send waits for it on one of these threads, at most
# until its deadline: a customer's slow DNS server then costs a pool thread, never a worker's.
_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-dns")


class ResolveTimeout(Exception):
    """The name did not resolve before the attempt's deadline."""


def _getaddrinfo(host: str, port: int, timeout: float | None) -> list:
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return future.result(timeout=max(0.0, timeout))
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise ResolveTimeout() from None


def resolve(target: Target, *, allow_private: bool, timeout: float | None = None) -> list[str]:
    """The target's addresses, all checked; refuses if any one is not public. With
    ``timeout``, raises ResolveTimeout when the name takes longer than that to resolve."""
    try:
        infos = _getaddrinfo(target.host, target.port, timeout)
    except (OSError, UnicodeError, ValueError) as exc:
        logger.debug("Webhook host %r did not resolve: %s", target.host, exc)
        raise UnsafeTarget(_HOST_REFUSED) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(_HOST_REFUSED)
    if not allow_private:
        for raw in addresses:
            if not _is_public(ipaddress.ip_address(raw.split("%")[0])):
                logger.debug("Webhook host %r resolves to non-public %s", target.host, raw)
                raise UnsafeTarget(_HOST_REFUSED)
    return addresses


def check_url(url: str) -> None:
    """Validation when a customer saves a URL (the same check runs again at send time)."""
    target = parse_target(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        resolve(target, allow_private=False)


class _Deadline:
    """A wall-clock end for one exchange: at the deadline the watched socket is shut down.

    Socket timeouts bound each read, not the exchange, so a peer dripping a byte every
    few seconds would hold us forever; shutting the socket down from a timer thread wakes
    whatever connect, send, TLS handshake or read is blocked on it.
    """

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self._ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            # A duplicate descriptor of the same connection: TLS wrapping detaches the
            # original socket object, and shutdown on any descriptor ends the connection.
            self._sock = sock.dup()
            if self.expired:
                _shut(self._sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _shut(sock: socket.socket) -> None:
    try:
        # Wakes a blocked reader or writer at once, TLS included (no TLS goodbye, which
        # could block on the peer again).
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    deadline: _Deadline

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self.deadline.watch(sock)  # before any TLS handshake reads from it
        return sock


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    deadline: _Deadline

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self.deadline.watch(sock)
        return sock


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> HttpResult:
    """POST ``body`` to ``url`` as is; never raises for network trouble, reports it.

    ``timeout`` bounds the whole exchange (connect, TLS, send, status, headers and the
    excerpt read), not each socket operation.
    """
    started = time.perf_counter()
    deadline = _Deadline(timeout)

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        return _post(url, body, headers, deadline=deadline, elapsed=elapsed, timeout=timeout)
    finally:
        deadline.cancel()


def _post(
    url: str, body: bytes, headers: dict[str, str], *, deadline: _Deadline,
    elapsed: Callable[[], int], timeout: float,
) -> HttpResult:
    try:
        target = parse_target(url)
        addresses = resolve(target, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
                            timeout=deadline.remaining())
    except UnsafeTarget as exc:
        return HttpResult(None, elapsed(), error=f"Refused: {exc}")
    except ResolveTimeout:
        return HttpResult(None, elapsed(), error="Timed out.")

    address = addresses[0]
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    conn: _WatchedHTTPConnection | _WatchedHTTPSConnection
    if target.scheme == "https":
        conn = _WatchedHTTPSConnection(
            address, target.port, timeout=deadline.remaining(),
            server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED",
        )
    else:
        conn = _WatchedHTTPConnection(address, target.port, timeout=deadline.remaining())
    conn.deadline = deadline
    request_headers = {
        **headers,
        "Host": host_header,
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    status: int | None = None
    try:
        conn.request("POST", target.path, body=body, headers=request_headers, preload_content=False)
        response = conn.getresponse()  # never follows a redirect
        status = response.status
        excerpt = response.read(EXCERPT_BYTES, decode_content=True) or b""
        if deadline.expired or elapsed() > timeout * 1000:
            return HttpResult(status, elapsed(), _text(excerpt), "Timed out.")
        return HttpResult(status, elapsed(), _text(excerpt))
    except Exception as exc:  # noqa: BLE001 - a receiver's odd answer is a failed attempt, not a crash
        if deadline.expired or _is_timeout(exc):
            return HttpResult(status, elapsed(), error="Timed out.")
        return HttpResult(status, elapsed(), error=_error_text(exc))
    finally:
        conn.close()


def _is_timeout(exc: Exception) -> bool:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False  # refused or unreachable: a ConnectTimeoutError subclass, but its own reason
    return isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError)


def _storable(text: str) -> str:
    # A receiver's bytes end up in text columns, and PostgreSQL refuses NUL in text: an attempt
    # that cannot be recorded would be sent again and again, never counted.
    return text.replace("\x00", "\ufffd")


def _text(excerpt: bytes) -> str:
    return _storable(excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace"))


def _error_text(exc: BaseException) -> str:
    return _storable(f"{type(exc).__name__}: {exc}"[:500])
