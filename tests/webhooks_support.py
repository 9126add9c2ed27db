"""Live webhook receivers on 127.0.0.1 and independent signature checkers.

The receivers are real HTTP servers in a thread; each request is recorded with
its raw body and headers, and answered from a script (status, delay, body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The spec's Node.js example (001, "Signature Verification"), verbatim, plus a main.
NODE_VERIFIER = r"""
const crypto = require('crypto');

function verifySignature(payload, header, secret) {
  const [tPart, sigPart] = header.split(',');
  const timestamp = tPart.split('=')[1];
  const signature = sigPart.split('=')[1];

  const expected = crypto
    .createHmac('sha256', secret)
    .update(timestamp + '.' + payload)
    .digest('hex');

  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expected)
  );
}

const fs = require('fs');
const [payloadPath, header, secret] = process.argv.slice(2);
const payload = fs.readFileSync(payloadPath, 'utf8');
let ok = false;
try { ok = verifySignature(payload, header, secret); } catch (e) { ok = false; }
process.stdout.write(ok ? 'valid' : 'invalid');
"""


def node_verifies(body: bytes, header: str, secret: str, tmp_path: Path) -> bool:
    script = tmp_path / "verify.js"
    script.write_text(NODE_VERIFIER)
    payload = tmp_path / "payload.json"
    payload.write_bytes(body)
    out = subprocess.run(
        ["node", str(script), str(payload), header, secret],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return out.stdout == "valid"


def python_verifies(body: bytes, header: str, secret: str, *, tolerance: int | None = None) -> bool:
    """A receiver written from the spec alone, accepting any v1 entry (rotation)."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if tolerance is not None and abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    # Answer only once this is set (a receiver holding requests open); ``delay`` still applies.
    hold: threading.Event | None = None


class Receiver:
    def __init__(self, answers: list[Answer] | None = None, default: Answer | None = None) -> None:
        self.answers = list(answers or [])
        self.default = default or Answer()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server: ThreadingHTTPServer | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    @property
    def localhost_url(self) -> str:
        assert self.server is not None
        return f"http://localhost:{self.server.server_address[1]}/hooks"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.arrived:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, time.time())
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver.arrived.notify_all()
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                try:
                    if answer.hold is not None:
                        answer.hold.wait(30)
                    if answer.delay:
                        time.sleep(answer.delay)
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def receiving(answers: list[Answer] | None = None, default: Answer | None = None) -> Iterator[Receiver]:
    receiver = Receiver(answers, default)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


class Dripper:
    """A hostile receiver: reads the request, then answers one byte every ``interval``
    seconds (``prefix`` first, as a whole, when given), for at most ``limit`` seconds.

    ``drip=b"HTTP/1.1 200 OK\\r\\n..."`` drips the status line and headers; a ``prefix``
    of complete headers with a large Content-Length drips the body instead.
    """

    def __init__(self, drip: bytes, *, prefix: bytes = b"", interval: float = 0.2,
                 limit: float = 12.0) -> None:
        self.drip, self.prefix, self.interval, self.limit = drip, prefix, interval, limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.closed_by_peer_after: list[float] = []  # seconds from the request to our client leaving
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            try:
                if isinstance(conn, ssl.SSLSocket):
                    conn.do_handshake()
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
            except OSError:
                return
            started = time.monotonic()
            try:
                if self.prefix:
                    conn.sendall(self.prefix)
                for index in range(len(self.drip)):
                    if self._stop.is_set() or time.monotonic() - started > self.limit:
                        return
                    conn.sendall(self.drip[index:index + 1])
                    time.sleep(self.interval)
            except OSError:
                self.closed_by_peer_after.append(time.monotonic() - started)

    def use_tls(self, context: ssl.SSLContext) -> None:
        self.listener = context.wrap_socket(
            self.listener, server_side=True, do_handshake_on_connect=False
        )

    def start(self) -> None:
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()


@contextmanager
def dripping(drip: bytes, *, tls: ssl.SSLContext | None = None, **kwargs) -> Iterator[Dripper]:
    dripper = Dripper(drip, **kwargs)
    if tls is not None:
        dripper.use_tls(tls)
    dripper.start()
    try:
        yield dripper
    finally:
        dripper.stop()
