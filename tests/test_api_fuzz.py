"""No input breaks a route: schemathesis fuzzes every operation of our own OpenAPI schema
against a live server on 127.0.0.1, and no answer may be a 5xx.

The schema is the one /api/v1/schema serves (read in-process at collection, so there is
one test per operation; the live server is checked to serve the same document). Each
operation gets its own customer, with a real API key (and, for frames, a real stream
token) and real ids of things that customer owns for the path parameters, so a DELETE
or an archive never turns another operation into a run of 404s; valid bodies name a real
policy and carry a real photo, so they reach the code behind validation. Ids and bodies
stay invalid when schemathesis made them so on purpose; invalid credentials come from the
coverage phase only (a few per operation), so fuzzing spends its examples on the rest.

Generation is deterministic (derandomized, fixed seed, no example database), so CI sends
the same requests every time. VERIFYAI_FUZZ_EXAMPLES (default 50) bounds the fuzzing
phase per operation; the whole module takes about a minute on a quiet 2-core machine.

Only 127.0.0.1 is ever contacted: the server runs in this process, and while it runs,
name resolution answers for loopback only, so a fuzzed webhook URL (delivered in-process,
Celery is eager in tests) can neither send a DNS query nor connect off this machine.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import TestPhase

from billing.models import Plan
from billing.services import create_customer
from tests.conftest import make_photo
from tests.webhooks_support import Receiver, receiving

API = "/api/v1"
SCHEMA_PATH = f"{API}/schema?format=json"
# Examples per operation in the fuzzing phase; the coverage phase adds its own
# deterministic boundary and invalid-value cases.
MAX_EXAMPLES = int(os.environ.get("VERIFYAI_FUZZ_EXAMPLES", "50"))
SEED = 13
REQUEST_TIMEOUT_SECONDS = 20

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # valid and invalid inputs
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,  # bounded time; the failing request is reported as generated
            "database": "none",
        },
    }
)


def _served_schema() -> dict[str, Any]:
    response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


SERVED_SCHEMA = _served_schema()
schema = schemathesis.openapi.from_dict(SERVED_SCHEMA, config=CONFIG)

pytestmark = pytest.mark.django_db(transaction=True)


# --- Only loopback --------------------------------------------------------------------


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module")
def loopback_only() -> Iterator[None]:
    """Every connection starts with getaddrinfo (urllib3, requests, webhooks/http.py);
    refusing anything but loopback means no DNS query and no connection leaves the host."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r}: only loopback in the fuzz test")
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


# --- The live server and one customer per operation --------------------------------------


class _NoDelayServer(ThreadedWSGIServer):
    """Django's threaded test server, with TCP_NODELAY on each connection (as production
    servers set it): wsgiref writes the headers and the body separately, and without it
    every keep-alive response waits ~40 ms for a delayed ACK."""

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _LiveServerThread(LiveServerThread):
    server_class = _NoDelayServer


@pytest.fixture(scope="module")
def server(loopback_only) -> Iterator[str]:
    """A real threaded HTTP server in this process, bound to 127.0.0.1 (the test and the
    server share the test database; tests here use transactional_db)."""
    thread = _LiveServerThread("127.0.0.1", static_handler=_StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """Where the real endpoints point: a webhook receiver on 127.0.0.1 answering 200."""
    with receiving() as live:
        yield live


class _Session(requests.Session):
    """requests sends a body that encodes to nothing (a form of empty lists) chunked, with
    no Content-Length; Django's test server cannot read chunked bodies and would take the
    leftover terminating chunk for the next request on the connection. Production servers
    de-chunk, so give such a body the Content-Length it has (0)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        headers = request.headers
        if request.body is not None and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            body = request.body
            if isinstance(body, str | bytes):
                headers["Content-Length"] = str(len(body.encode() if isinstance(body, str) else body))
        return super().send(request, **kwargs)


@dataclass
class Fuzzer:
    base_url: str
    api_key: str
    receiver: Receiver
    session: requests.Session
    ids: dict[str, str] = field(default_factory=dict)
    stream_token: str = ""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(
            method, f"{self.base_url}{API}{path}", headers={"X-API-Key": self.api_key},
            timeout=REQUEST_TIMEOUT_SECONDS, **kwargs,
        )
        assert response.status_code < 300, (method, path, response.status_code, response.text[:500])
        return response.json()

    # One real thing per path parameter, made on first use.
    def policy_id(self) -> str:
        body = {
            "name": "Warehouse door",
            "description": "Nothing may block the loading door.",
            "criteria": [{"id": "door_clear", "description": "The loading door is not blocked."}],
            "violation_codes": [{"code": "door_blocked", "description": "Something blocks the door."}],
        }
        return self.call("POST", "/policies", json=body)["id"]

    def stream_id(self) -> str:
        created = self.call("POST", "/streams", json={"name": "Gate", "policy_id": "scooter_parking"})
        # Paired, so that frames (X-Stream-Token) reach the route itself.
        paired = self.call("POST", "/streams/pair", json={"code": created["pairing"]["code"]})
        self.stream_token = paired["stream_token"]
        return created["id"]

    def verification_id(self) -> str:
        image = base64.b64encode(PHOTO).decode()
        return self.call("POST", "/verify", json={"image": image, "policy": "scooter_parking"})["id"]

    def endpoint_id(self) -> str:
        body = {"url": self.receiver.url, "events": ["verification.completed"]}
        return self.call("POST", "/webhooks", json=body)["id"]

    def delivery_id(self) -> str:
        return str(self.call("POST", f"/webhooks/{self.real('endpoint_id')}/test")["id"])

    def real(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = getattr(self, name)()
        return self.ids[name]


@pytest.fixture
def fuzzer(server, receiver, settings) -> Iterator[Fuzzer]:
    # Limits high enough that the run tests the routes rather than the plan's rate limit.
    plan = Plan.objects.create(
        name="fuzz", display_name="Fuzz", monthly_verification_limit=1_000_000,
        requests_per_minute=1_000_000, requests_per_hour=1_000_000,
    )
    settings.VERIFYAI_STREAM_PAIR_RATE = "100000/m"
    issued = create_customer(name="Fuzz", email="fuzz@example.test", plan=plan)
    with _Session() as session:
        yield Fuzzer(server, issued.raw_key, receiver, session)


class ServerErrors(logging.Handler):
    """The server-side traceback behind a 5xx, for the failure report."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)

    def last_traceback(self) -> str:
        if not self.records:
            return "(no traceback logged)"
        return logging.Formatter().formatException(self.records[-1].exc_info)[-3000:]


@pytest.fixture
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _deliberately_invalid(case: Any, location: str) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode == GenerationMode.NEGATIVE


# Body fields that name something: a valid case names a real one, so it gets past the
# lookup into the code behind it (the local evaluator, for images).
REAL_VALUES = {"policy": "scooter_parking", "policy_id": "scooter_parking"}
IMAGE_FIELDS = ("image", "frame")
PHOTO = make_photo(size=(320, 240))


def _kept(case: Any) -> bool:
    """In the fuzzing phase a quarter of the valid-looking path ids stay as generated (any
    text: unicode, NUL, very long), since lookups must answer 404 to those too. The choice
    is a checksum of the value, so the same cases make the same choice on every run. (The
    coverage phase sends its own invalid ids, and one fixed id with every body it varies.)"""
    if case.meta.phase.name != TestPhase.FUZZING:
        return False
    return zlib.crc32(repr(case.path_parameters).encode()) % 4 == 0


def _made_real(case: Any, fuzzer: Fuzzer) -> None:
    """Real ids, credentials, policy names and photos, except where this case deliberately
    sends an invalid one (or the coverage phase is probing that very field)."""
    if case.path_parameters and not _deliberately_invalid(case, "path") and not _kept(case):
        case.path_parameters = {name: fuzzer.real(name) for name in case.path_parameters}
    # Invalid credentials only from the coverage phase (missing, empty, wrong type: a few
    # cases per operation); fuzzing spends its examples on the parameters and bodies.
    if case.meta.phase.name != TestPhase.COVERAGE or not _deliberately_invalid(case, "header"):
        headers = dict(case.headers or {})
        security = {name for item in case.operation.definition.raw.get("security", []) for name in item}
        if "ApiKeyAuth" in security:
            headers["X-API-Key"] = fuzzer.api_key
        if "StreamTokenAuth" in security:
            fuzzer.real("stream_id")
            headers["X-Stream-Token"] = fuzzer.stream_token
        case.headers = headers
    if isinstance(case.body, dict) and not _deliberately_invalid(case, "body"):
        probed = getattr(case.meta.phase.data, "parameter", None)
        body = dict(case.body)
        for name in set(body) - {probed}:
            if name in REAL_VALUES:
                body[name] = REAL_VALUES[name]
            elif name in IMAGE_FIELDS:
                multipart = case.media_type == "multipart/form-data"
                body[name] = PHOTO if multipart else base64.b64encode(PHOTO).decode()
        case.body = body


@schema.parametrize()
# One customer per operation, shared by its examples on purpose (made once, not per case).
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_no_input_makes_a_route_answer_5xx(case, fuzzer: Fuzzer, server_errors: ServerErrors):
    _made_real(case, fuzzer)
    server_errors.records.clear()
    response = case.call(base_url=fuzzer.base_url, session=fuzzer.session, timeout=REQUEST_TIMEOUT_SECONDS)
    if response.status_code >= 500:
        # Printed with the failure, next to schemathesis's curl reproduction.
        print(f"{case.operation.label} -> {response.status_code}\n{server_errors.last_traceback()}")
    case.validate_response(response, checks=[not_a_server_error])


def test_the_fuzzed_schema_is_the_one_the_live_server_serves(fuzzer: Fuzzer):
    response = fuzzer.session.get(f"{fuzzer.base_url}{SCHEMA_PATH}", timeout=REQUEST_TIMEOUT_SECONDS)
    assert response.status_code == 200
    assert response.json() == SERVED_SCHEMA
    assert len(SERVED_SCHEMA["paths"]) >= 20  # every route, not an empty or partial document
