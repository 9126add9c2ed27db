"""/api/v1/streams: customers manage their own streams; others' are 404."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from policies.models import Policy
from streams.models import Stream
from tests.streams_support import create_stream, pair
from tests.verify_support import assert_error


def test_create_answers_the_stream_and_a_pairing_code(alice):
    body = create_stream(alice, location="Bay 4", region="eu", expected_throughput=60, group_id="gate-1")
    assert body["name"] == "Hub-East gate camera"
    assert body["policy_id"] == "scooter_parking"
    assert body["status"] == "active"
    assert body["paired"] is False
    assert body["location"] == "Bay 4" and body["group_id"] == "gate-1"
    assert body["expected_throughput"] == 60
    assert set(body["pairing"]) == {"code", "expires_at", "qr_url"}
    assert body["pairing"]["qr_url"].startswith("data:image/png;base64,")


def test_create_needs_a_name_and_a_visible_policy(alice, bob):
    assert_error(alice.client.post("/api/v1/streams", {"policy_id": "scooter_parking"}, format="json"),
                 400, "invalid_request")
    assert_error(alice.client.post("/api/v1/streams", {"name": "x", "policy_id": "nope"}, format="json"),
                 400, "unknown_policy")
    Policy.objects.create(customer=bob.customer, policy_id="bobs_policy", name="Bob's")
    assert_error(alice.client.post("/api/v1/streams", {"name": "x", "policy_id": "bobs_policy"},
                                   format="json"), 400, "unknown_policy")


def test_create_needs_an_api_key(anonymous, db):
    response = anonymous.post("/api/v1/streams", {"name": "x", "policy_id": "scooter_parking"}, format="json")
    assert_error(response, 401, "missing_api_key")


def test_list_get_and_patch(alice):
    first = create_stream(alice, name="One")
    create_stream(alice, name="Two")
    listing = alice.client.get("/api/v1/streams").json()
    assert [s["name"] for s in listing["data"]] == ["Two", "One"]
    assert listing["has_more"] is False
    assert all("pairing" not in s for s in listing["data"])

    assert alice.client.get(f"/api/v1/streams/{first['id']}").json()["name"] == "One"
    patched = alice.client.patch(
        f"/api/v1/streams/{first['id']}", {"name": "Gate", "policy_id": "bike_parking"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["name"] == "Gate" and patched.json()["policy_id"] == "bike_parking"
    assert patched.json()["status"] == "active"
    # status changes only through the state endpoints
    alice.client.patch(f"/api/v1/streams/{first['id']}", {"status": "archived"}, format="json")
    assert Stream.objects.get(pk=first["id"]).status == "active"


def test_paired_shows_after_pairing(alice):
    created = create_stream(alice)
    pair(created["pairing"]["code"])
    assert alice.client.get(f"/api/v1/streams/{created['id']}").json()["paired"] is True


@pytest.mark.parametrize(
    "method, suffix",
    [("get", ""), ("patch", ""), ("post", "/pause"), ("post", "/resume"), ("post", "/archive"),
     ("post", "/pairing-code")],
)
def test_another_customers_stream_is_404_everywhere(alice, bob, method, suffix):
    created = create_stream(alice)
    response = getattr(bob.client, method)(f"/api/v1/streams/{created['id']}{suffix}", {}, format="json")
    assert_error(response, 404, "not_found")
    assert bob.client.get("/api/v1/streams").json()["data"] == []
    assert Stream.objects.get(pk=created["id"]).status == "active"


def _scan(qr_url: str) -> dict:
    assert qr_url.startswith("data:image/png;base64,")
    png = base64.b64decode(qr_url.removeprefix("data:image/png;base64,"))
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return json.loads(text)


def test_the_qr_decodes_to_the_code_its_stream_and_the_api_base(alice):
    created = create_stream(alice)
    payload = _scan(created["pairing"]["qr_url"])
    assert payload == {
        "code": created["pairing"]["code"], "stream_id": created["id"], "api": "http://127.0.0.1:8000/api/v1",
    }


def test_a_new_pairing_code_comes_with_its_qr(alice):
    created = create_stream(alice)
    response = alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] != created["pairing"]["code"]
    assert _scan(body["qr_url"])["code"] == body["code"]


def test_archived_streams_get_no_new_codes(alice):
    created = create_stream(alice)
    alice.client.post(f"/api/v1/streams/{created['id']}/archive")
    assert_error(alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code"), 410, "stream_archived")


def test_listing_costs_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for index in range(5):
        create_stream(alice, name=f"cam {index}")
    with django_assert_max_num_queries(3):
        assert len(alice.client.get("/api/v1/streams").json()["data"]) == 5


def test_the_list_pages_with_a_cursor_without_skips_or_repeats(alice):
    created = {create_stream(alice, name=f"cam {index}")["id"] for index in range(5)}
    seen: list[str] = []
    cursor = ""
    while True:
        page = alice.client.get(f"/api/v1/streams?limit=2&cursor={cursor}").json()
        seen += [stream["id"] for stream in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == 5 and set(seen) == created


@pytest.mark.parametrize("limit", ["101", "0", "many"])
def test_the_list_takes_limit_as_verifications_do(alice, limit):
    for index in range(21):
        create_stream(alice, name=f"cam {index}")

    assert len(alice.client.get("/api/v1/streams").json()["data"]) == 20  # the same default
    response = alice.client.get("/api/v1/streams", {"limit": limit})

    assert response.status_code == 400 and "limit" in response.json()["error"]
