"""Images are capped at 10 MB (400 image_too_large), and an oversized body is refused from its
Content-Length before it is read: by the app under the test client, and by a real gunicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.conftest import make_photo
from tests.verify_support import (
    VERIFY_URL,
    assert_error,
    b64,
    nothing_stored,
    post_json,
    post_multipart,
    upload,
)

MB = 1024 * 1024
LIMIT = 10 * MB
REPO = Path(__file__).resolve().parent.parent



def jpeg_of_size(size: int) -> bytes:
    """A valid JPEG padded after its end marker to exactly ``size`` bytes."""
    photo = make_photo()
    return photo + b"\0" * (size - len(photo))


def test_the_documented_limit_is_10_mb(settings):
    assert settings.VERIFYAI_MAX_IMAGE_BYTES == LIMIT


def test_a_file_of_exactly_10_mb_is_accepted(alice):
    response = post_multipart(alice.client, jpeg_of_size(LIMIT))

    assert response.status_code == 200, response.content[:300]


def test_a_file_one_byte_over_10_mb_is_400_image_too_large(alice):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, jpeg_of_size(LIMIT + 1))

    body = assert_error(response, 400, "image_too_large")
    assert "10 MB" in body["error"]


def test_base64_one_byte_over_10_mb_is_400_image_too_large(alice):
    with nothing_stored(alice.customer):
        response = post_json(
            alice.client, {"image": b64(jpeg_of_size(LIMIT + 1)), "policy": "scooter_parking"}
        )

    assert_error(response, 400, "image_too_large")


def test_a_base64_data_url_of_12_mb_is_400_image_too_large(alice):
    image = "data:image/jpeg;base64," + b64(jpeg_of_size(12 * MB))

    with nothing_stored(alice.customer):
        response = post_json(alice.client, {"image": image, "policy": "scooter_parking"})

    assert_error(response, 400, "image_too_large")


class _ExplodingBody:
    """A request body that fails the test if anyone reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the oversized body was read")

    readline = read


class _CountingBody:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.position + size
        chunk = self.data[self.position : end]
        self.position += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        end = self.data.find(b"\n", self.position)
        end = len(self.data) if end < 0 else end + 1
        if size is not None and size >= 0:
            end = min(end, self.position + size)
        return self.read(end - self.position)


@pytest.mark.parametrize("content_type", ["application/json", MULTIPART_CONTENT])
def test_a_content_length_over_the_cap_is_400_image_too_large_without_reading_the_body(
    alice, settings, content_type
):
    with nothing_stored(alice.customer):
        response = alice.client.generic(
            "POST",
            VERIFY_URL,
            content_type=content_type,
            CONTENT_LENGTH=str(2 * 1024 * MB),
            **{"wsgi.input": _ExplodingBody()},
        )

    assert_error(response, 400, "image_too_large")


def test_a_multipart_upload_stops_being_read_at_the_image_limit(alice, settings):
    body = encode_multipart(
        BOUNDARY, {"policy": "scooter_parking", "image": upload(jpeg_of_size(12 * MB))}
    )
    assert len(body) < settings.VERIFYAI_MAX_REQUEST_BYTES  # the app must look inside to refuse it
    stream = _CountingBody(body)

    with nothing_stored(alice.customer):
        response = alice.client.generic(
            "POST",
            VERIFY_URL,
            content_type=MULTIPART_CONTENT,
            CONTENT_LENGTH=str(len(body)),
            **{"wsgi.input": stream},
        )

    assert_error(response, 400, "image_too_large")
    assert stream.position < LIMIT + MB, f"read {stream.position} of {len(body)} bytes"


# --- A real server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _raw_post_headers(
    port: int, content_length: int, *, timeout: float = 5.0
) -> tuple[float, bytes]:
    """Send only the headers of a huge POST (and a few body bytes); read the answer."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            b"POST " + VERIFY_URL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"X-API-Key: vai_whatever\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(content_length).encode() + b'\r\n\r\n{"image": "'
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        headers = {
            line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")[1:]
        }
        want = int(headers.get(b"content-length", b"-1"))
        try:
            while (want < 0 and not rest.endswith(b"0\r\n\r\n")) or (
                0 <= want and len(rest) < want
            ):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except TimeoutError:
            pass
    return time.perf_counter() - started, head + b"\r\n\r\n" + rest


def _status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    return status, body


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory):
    """gunicorn as scripts/run-local starts it (gthread), on 127.0.0.1 only."""
    port = _free_port()
    env = {**os.environ, "VERIFYAI_DATA_DIR": str(tmp_path_factory.mktemp("gunicorn-data"))}
    env.pop("DATABASE_URL", None)
    # With REDIS_URL set (CI's services run) a server without a secret key refuses to start.
    env.setdefault("DJANGO_SECRET_KEY", "test-only-gunicorn-secret-key")
    # A migrated database, so requests that get past the body checks are answered normally.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO, env=env, check=True, capture_output=True,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "verifyai.wsgi",
            "-k",
            "gthread",
            "--threads",
            "4",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def test_gunicorn_refuses_a_2_gb_upload_from_its_headers_at_once(gunicorn_port):
    elapsed, raw = _raw_post_headers(gunicorn_port, 2 * 1024 * MB)

    status, body = _status_and_body(raw)
    assert status == 400
    body = json.loads(body)
    assert body["code"] == "image_too_large" and body["status"] == 400 and body["error"]
    assert b"x-request-id:" in raw.lower()
    assert elapsed < 2.0


def test_the_django_dev_server_refuses_an_oversized_upload_with_400(live_server):
    port = int(live_server.url.rsplit(":", 1)[1])

    _, raw = _raw_post_headers(port, 2 * 1024 * MB, timeout=2.0)

    status, body = _status_and_body(raw)
    assert status == 400
    assert json.loads(body)["code"] == "image_too_large"


def test_a_wrong_key_with_a_large_upload_gets_a_readable_401_not_a_broken_pipe(gunicorn_port):
    """The 401 is decided before the body is read; the body is still drained so
    a client that sends it all before reading (fetch, requests) sees our error."""
    import http.client

    boundary = "verifyai-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode() + jpeg_of_size(4 * MB) + f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", gunicorn_port, timeout=10)
    connection.request(
        "POST",
        "/api/v1/verify",
        body=body,
        headers={
            "X-API-Key": "vai_this-is-not-a-real-key-at-all-0123",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    response = connection.getresponse()
    assert response.status == 401
    assert json.loads(response.read())["code"] == "invalid_api_key"
