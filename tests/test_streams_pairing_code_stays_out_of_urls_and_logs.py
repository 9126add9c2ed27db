"""A pairing code is a secret: no URL names it (URLs land in access logs), no log line holds it,
and the QR that carries it still pairs the camera."""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote

import cv2
import numpy as np
import pytest

from tests.streams_support import create_stream, pair

DATA_URI = "data:image/png;base64,"


def _forms(code: str) -> set[str]:
    """Every spelling of a code that a log or URL could hold."""
    bare = code.replace("-", "")
    return {code, bare, code.lower(), bare.lower(), quote(code)}


def _decode(qr_url: str) -> dict:
    assert qr_url.startswith(DATA_URI), qr_url[:80]
    image = cv2.imdecode(np.frombuffer(base64.b64decode(qr_url[len(DATA_URI):]), np.uint8), cv2.IMREAD_COLOR)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None and text, "OpenCV finds and decodes the QR"
    return json.loads(text)


def _assert_no_url_names(code: str, body: dict) -> None:
    for url in re.findall(r"(?:https?|ftp)://[^\s\"']+", json.dumps(body)):
        assert not any(form in url for form in _forms(code)), url


def test_the_qr_comes_inline_so_no_url_names_the_code_and_it_still_pairs(alice, caplog):
    caplog.set_level(logging.DEBUG)
    created = create_stream(alice)
    pairing = created["pairing"]
    _assert_no_url_names(pairing["code"], created)

    payload = _decode(pairing["qr_url"])
    assert payload["code"] == pairing["code"]
    assert payload["stream_id"] == created["id"]
    assert payload["api"] == "http://127.0.0.1:8000/api/v1"

    paired = pair(payload["code"], stream_id=payload["stream_id"])
    assert paired.status_code == 200, paired.json()
    assert paired.json()["stream_id"] == created["id"]

    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert not any(form in logged for form in _forms(pairing["code"]))


def test_a_new_code_comes_with_its_qr_inline_too(alice, caplog):
    caplog.set_level(logging.DEBUG)
    created = create_stream(alice)
    response = alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"code", "expires_at", "qr_url"}
    _assert_no_url_names(body["code"], body)
    assert _decode(body["qr_url"]) == {
        "code": body["code"], "stream_id": created["id"], "api": "http://127.0.0.1:8000/api/v1",
    }
    assert pair(body["code"]).status_code == 200
    assert not any(form in caplog.text for form in _forms(body["code"]))


@pytest.mark.parametrize("variant", [str, str.lower])
def test_no_endpoint_draws_a_qr_for_a_code_in_the_query_string(alice, variant):
    """The old GET .../pairing-code.png?code=... wrote the code into every access log."""
    created = create_stream(alice)
    code = variant(created["pairing"]["code"])
    response = alice.client.get(f"/api/v1/streams/{created['id']}/pairing-code.png?code={code}")
    assert response.status_code == 404
    assert response["Content-Type"] != "image/png"
