"""HTTPS deliveries connect to the checked address yet verify the certificate for the
URL's host name (SNI and hostname check are kept while the IP is pinned)."""

from __future__ import annotations

import ssl
import subprocess
import time

import pytest

from tests.webhooks_support import dripping, receiving
from webhooks import http


@pytest.fixture
def localhost_cert(tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )
    # OpenSSL's default verify paths honour SSL_CERT_FILE: trust only this certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.fixture
def tls_receiver(localhost_cert):
    cert, key = localhost_cert
    with receiving() as receiver:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        yield receiver


def test_an_https_receiver_gets_the_delivery_with_its_certificate_verified(tls_receiver):
    port = tls_receiver.server.server_address[1]

    result = http.post(f"https://localhost:{port}/hooks", b"{}", {"Content-Type": "application/json"},
                       timeout=5)

    assert result.error == "" and result.status_code == 200
    [received] = tls_receiver.wait_for(1)
    assert received.headers["Host"] == f"localhost:{port}"


def test_a_certificate_for_another_name_is_a_failed_attempt(tls_receiver):
    port = tls_receiver.server.server_address[1]

    result = http.post(f"https://127.0.0.1:{port}/hooks", b"{}", {}, timeout=5)

    assert result.status_code is None
    assert "certificate" in result.error.lower() or "hostname" in result.error.lower()
    assert tls_receiver.requests == []


def test_a_receiver_dripping_its_answer_over_tls_is_cut_off_at_the_deadline(localhost_cert):
    cert, key = localhost_cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with dripping(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", tls=context, interval=0.2) as dripper:
        port = dripper.listener.getsockname()[1]
        started = time.monotonic()

        result = http.post(f"https://localhost:{port}/hooks", b"{}", {}, timeout=1)

        assert time.monotonic() - started < 2.0
    assert result.error == "Timed out." and dripper.connections == 1
