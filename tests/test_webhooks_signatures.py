"""A verification through the API reaches a live receiver, signed as the spec says.

Signatures are checked by the spec's own Node.js snippet (run under ``node``)
and by an independent Python receiver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.conftest import make_photo
from tests.webhooks_support import node_verifies, python_verifies, receiving
from webhooks.models import WebhookDelivery
from webhooks.services import (
    attempt_delivery,
    create_endpoint,
    rotate_secret,
    send_test_event,
)

URL = "/api/v1/webhooks"


def _verify(cast):
    body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking"}
    response = cast.client.post("/api/v1/verify", body, format="multipart")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_a_verification_is_delivered_at_once_with_the_spec_payload_and_headers(alice, tmp_path):
    with receiving() as receiver:
        endpoint = alice.client.post(
            URL, {"url": receiver.url, "events": ["verification.completed"]}, format="json"
        ).json()

        result = _verify(alice)

        [received] = receiver.wait_for(1)
    payload = received.json()
    assert list(payload) == ["event", "data"]
    assert payload["event"] == "verification.completed"
    api_view = alice.client.get(f"/api/v1/verifications/{result['id']}").json()
    assert payload["data"].keys() == api_view.keys()
    assert {k: v for k, v in payload["data"].items() if k != "image_url"} == {
        k: v for k, v in api_view.items() if k != "image_url"
    }
    assert payload["data"]["image_url"].startswith("http://127.0.0.1:8000/media/signed/")

    headers = received.headers
    delivery = WebhookDelivery.objects.get()
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "VerifyAI-Webhooks/1"
    assert headers["X-VerifyAI-Event"] == "verification.completed"
    assert headers["X-VerifyAI-Event-Id"] == delivery.event_id and delivery.event_id.startswith("evt_")
    assert received.body == bytes(delivery.payload)  # sent exactly as stored and signed
    signature = headers["X-VerifyAI-Signature"]
    timestamp, v1 = signature.split(",")
    assert timestamp.startswith("t=") and v1.startswith("v1=")
    assert abs(int(timestamp[2:]) - timezone.now().timestamp()) < 30
    expected = hmac.new(
        endpoint["secret"].encode(), timestamp[2:].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert v1 == f"v1={expected}"
    assert python_verifies(received.body, signature, endpoint["secret"], tolerance=300)
    assert node_verifies(received.body, signature, endpoint["secret"], tmp_path)
    assert not node_verifies(received.body, signature, "whsec_wrong", tmp_path)
    tampered = received.body.replace(b'"status":"success"', b'"status":"error"')
    assert tampered != received.body
    assert not node_verifies(tampered, signature, endpoint["secret"], tmp_path)
    assert delivery.status == "succeeded" and delivery.attempt_count == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_verification_is_delivered_too(alice, settings):
    settings.VERIFYAI_VERIFY_DEADLINE_SECONDS = 0.0  # the evaluation cannot finish in time
    with receiving() as receiver:
        create_endpoint(customer=alice.customer, url=receiver.url, events=["verification.completed"])
        body = {"image": SimpleUploadedFile("photo.jpg", make_photo()), "policy": "scooter_parking"}
        response = alice.client.post("/api/v1/verify", body, format="multipart")
        [received] = receiver.wait_for(1)
    assert response.status_code == 500
    data = received.json()["data"]
    assert data["id"] == response.json()["verification_id"] and data["status"] == "error"


@pytest.mark.django_db(transaction=True)
def test_only_active_endpoints_subscribed_to_the_event_of_that_customer_receive_it(alice, bob):
    with receiving() as receiver:
        create_endpoint(customer=alice.customer, url=receiver.url, events=["verification.completed"])
        create_endpoint(customer=alice.customer, url=receiver.url + "/off",
                        events=["verification.completed"], active=False)
        create_endpoint(customer=bob.customer, url=receiver.url + "/bob", events=["verification.completed"])

        _verify(alice)

        received = receiver.wait_for(1)
    assert [item.path for item in received] == ["/hooks"]
    assert WebhookDelivery.objects.count() == 1


def test_during_a_rotation_both_secrets_sign_the_current_one_first(alice, tmp_path):
    now = timezone.now()
    with receiving() as receiver:
        endpoint = create_endpoint(customer=alice.customer, url=receiver.url,
                                   events=["verification.completed"])
        old_secret = endpoint.secret
        rotate_secret(endpoint=endpoint, now=now)
        new_secret = endpoint.secret
        delivery = send_test_event(endpoint=endpoint, now=now)
        attempt_delivery(delivery_id=delivery.pk, now=now)
        # After the overlap (24 h by default) only the new secret signs.
        later = now + dt.timedelta(hours=24, seconds=1)
        second = send_test_event(endpoint=endpoint, now=later)
        attempt_delivery(delivery_id=second.pk, now=later)
        during, after = receiver.wait_for(2)

    header = during.headers["X-VerifyAI-Signature"]
    parts = header.split(",")
    assert len(parts) == 3 and parts[0] == f"t={int(now.timestamp())}"
    assert all(part.startswith("v1=") for part in parts[1:])
    assert node_verifies(during.body, header, new_secret, tmp_path)
    assert python_verifies(during.body, header, new_secret)
    assert python_verifies(during.body, header, old_secret)
    assert not python_verifies(during.body, header, "whsec_other")

    after_header = after.headers["X-VerifyAI-Signature"]
    assert len(after_header.split(",")) == 2
    assert python_verifies(after.body, after_header, new_secret)
    assert not python_verifies(after.body, after_header, old_secret)


def test_the_body_is_compact_json_of_exactly_event_and_data(alice):
    endpoint = create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/",
                               events=["verification.completed"])
    delivery = send_test_event(endpoint=endpoint)
    body = bytes(delivery.payload)
    assert json.loads(body)["event"] == "ping"
    assert body == json.dumps(json.loads(body), separators=(",", ":")).encode()


@pytest.mark.django_db(transaction=True)
def test_secrets_never_reach_the_logs(alice, caplog):
    caplog.set_level("DEBUG")
    with receiving() as receiver:
        created = alice.client.post(
            URL, {"url": receiver.url, "events": ["verification.completed"]}, format="json"
        ).json()
        rotated = alice.client.post(f"{URL}/{created['id']}/rotate-secret").json()
        _verify(alice)
        alice.client.post(f"{URL}/{created['id']}/test")
        receiver.wait_for(2)

    assert len(receiver.requests) == 2
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in caplog.text
