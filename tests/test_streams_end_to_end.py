"""The whole story: an operator creates a stream in the admin, a kiosk scans the QR
(decoded with OpenCV, as a camera would), pairs, posts frames with the spec's
`requests` snippet against a live server, and a reused code answers 410."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np
import pytest
import requests
from django.contrib.admin.utils import quote  # ids contain "_", which admin URLs escape
from django.contrib.auth.models import User
from django.test import Client

from policies.models import Policy
from streams.models import PairingCode, Stream
from tests.conftest import make_photo
from verifications.models import Verification


def _scan(html: str) -> dict:
    """What a kiosk camera does: find the QR in the picture and read it."""
    match = re.search(r'class="pairing-qr" src="data:image/png;base64,([^"]+)"', html)
    assert match, "the pairing page shows a QR image"
    image = cv2.imdecode(np.frombuffer(base64.b64decode(match.group(1)), np.uint8), cv2.IMREAD_COLOR)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None and text, "OpenCV finds and decodes the QR"
    return json.loads(text)


def _operator() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "op@example.test", "pw-not-used-123"))
    return client


@pytest.mark.django_db(transaction=True)
def test_operator_creates_kiosk_pairs_and_posts_frames(alice, live_server, settings):
    settings.VERIFYAI_PUBLIC_BASE_URL = live_server.url
    policy = Policy.objects.get(policy_id="scooter_parking", customer__isnull=True)

    # 1. Settings -> Streams -> New: pick a policy and a name, save.
    page = _operator().post(
        "/admin/streams/stream/add/",
        {"customer": alice.customer.pk, "name": "Hub-East gate camera", "policy": policy.pk},
    )
    assert page.status_code == 200, page.content[:2000]
    html = page.content.decode()
    stream = Stream.objects.get()
    assert stream.token_hash is None and stream.status == "active"
    code_text = re.search(r'class="pairing-code"[^>]*>([A-Z-]+)<', html).group(1)
    assert "pairing-expires" in html

    # 2. The kiosk scans the QR: the code and where to send it, nothing to configure.
    payload = _scan(html)
    assert payload == {"code": code_text, "stream_id": str(stream.pk), "api": f"{live_server.url}/api/v1"}
    scanned = {"code": payload["code"], "stream_id": payload["stream_id"]}
    paired = requests.post(f"{payload['api']}/streams/pair", json=scanned, timeout=5)
    assert paired.status_code == 200, paired.text
    STREAM_ID = paired.json()["stream_id"]  # noqa: N806 - the spec's names
    STREAM_TOKEN = paired.json()["stream_token"]  # noqa: N806
    assert STREAM_ID == str(stream.pk) and paired.json()["policy_id"] == "scooter_parking"

    # 3. The spec's loop body, verbatim but for the base URL.
    def post_frame(jpeg_bytes: bytes) -> dict:
        r = requests.post(
            f"{payload['api']}/streams/{STREAM_ID}/frame",
            headers={"X-Stream-Token": STREAM_TOKEN},
            files={"frame": ("frame.jpg", jpeg_bytes, "image/jpeg")},
            timeout=2.0,
        )
        r.raise_for_status()
        return r.json()

    results = [post_frame(make_photo(seed=seed)) for seed in (1, 2)]
    for result in results:
        assert isinstance(result["is_compliant"], bool)
        assert result["stream_id"] == STREAM_ID and result["policy"] == "scooter_parking"
    assert Verification.objects.filter(stream=stream, customer=alice.customer).count() == 2

    # 4. The code was single-use.
    again = requests.post(f"{payload['api']}/streams/pair", json=scanned, timeout=5)
    assert again.status_code == 410
    assert again.json() == {
        "error": "This pairing code has already been used.", "code": "pairing_code_used", "status": 410,
    }


def test_the_new_pairing_code_action_re_pairs(alice):
    operator = _operator()
    policy = Policy.objects.get(policy_id="scooter_parking", customer__isnull=True)
    operator.post("/admin/streams/stream/add/",
                  {"customer": alice.customer.pk, "name": "Bay cam", "policy": policy.pk})
    stream = Stream.objects.get()

    page = operator.post("/admin/streams/stream/",
                         {"action": "new_pairing_code", "_selected_action": [str(stream.pk)]})
    assert page.status_code == 200
    payload = _scan(page.content.decode())
    assert PairingCode.objects.filter(stream=stream).count() == 2
    live = PairingCode.objects.get(stream=stream, expires_at__gt=PairingCode.objects.earliest("created_at").expires_at)
    assert live.consumed_at is None
    from streams.services import hash_code

    assert live.code_hash == hash_code(payload["code"])


def test_the_admin_refuses_another_customers_policy(alice, bob):
    policy = Policy.objects.create(customer=bob.customer, policy_id="bobs_rules", name="Bob's")
    page = _operator().post("/admin/streams/stream/add/",
                            {"customer": alice.customer.pk, "name": "x", "policy": policy.pk})
    assert b"belongs to another customer" in page.content
    assert not Stream.objects.exists()


def test_admin_list_and_change_pages_render(alice):
    operator = _operator()
    policy = Policy.objects.get(policy_id="scooter_parking", customer__isnull=True)
    operator.post("/admin/streams/stream/add/",
                  {"customer": alice.customer.pk, "name": "Bay cam", "policy": policy.pk})
    stream = Stream.objects.get()
    assert operator.get("/admin/streams/stream/").status_code == 200
    change = operator.get(f"/admin/streams/stream/{quote(stream.pk)}/change/")
    assert change.status_code == 200
    assert b"token_hash" not in change.content
