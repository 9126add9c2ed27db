"""POST /api/v1/verify accepts the documented request shapes and answers a full Verification."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
import requests

from billing.services import usage_this_period
from tests.conftest import make_photo
from tests.verify_support import (
    VERIFY_URL,
    b64,
    fetch,
    post_json,
    post_multipart,
    stored_files,
    upload,
)
from verifications.models import Verification

DOCUMENTED_FIELDS = {
    "id",
    "created_at",
    "status",
    "is_compliant",
    "confidence",
    "policy",
    "category",
    "violation_reasons",
    "feedback",
    "metadata",
    "image_url",
    "evaluation_source",
}
METADATA = {"device_id": "dev_123", "gps": {"lat": 37.77, "lng": -122.42}}



def assert_full_verification(
    body: dict, *, policy: str = "scooter_parking", metadata: dict | None = None
) -> None:
    assert DOCUMENTED_FIELDS <= set(body), DOCUMENTED_FIELDS - set(body)
    assert re.fullmatch(r"ver_[A-Za-z0-9]+", body["id"])
    created = dt.datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 60
    assert body["status"] == "success"
    assert body["is_compliant"] is False  # the local evaluator never passes a photo
    assert isinstance(body["confidence"], (int, float)) and 0 <= body["confidence"] <= 1
    assert body["policy"] == policy
    assert body["category"] == "lacks_info"
    assert body["violation_reasons"] == []
    assert isinstance(body["feedback"], str) and body["feedback"].strip()
    assert body["metadata"] == (metadata if metadata is not None else {})
    assert isinstance(body["image_url"], str) and body["image_url"]
    assert body["evaluation_source"] == "local"


def test_a_multipart_upload_like_the_curl_example_returns_a_full_verification(alice, photo):
    response = post_multipart(
        alice.client, photo, policy="scooter_parking", metadata=json.dumps(METADATA)
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert_full_verification(body, metadata=METADATA)
    assert "image_data" not in body
    stored = Verification.objects.get(id=body["id"])
    assert stored.customer == alice.customer
    assert stored.metadata == METADATA


def test_a_multipart_body_built_by_python_requests_like_the_docs_example_is_accepted(alice, photo):
    prepared = requests.Request(
        "POST",
        "http://testserver" + VERIFY_URL,
        files={"image": ("photo.jpg", photo)},
        data={
            "policy": "scooter_parking",
            "metadata": json.dumps({"device_id": "dev_123", "user_id": "usr_456"}),
        },
    ).prepare()

    response = alice.client.generic(
        "POST", VERIFY_URL, prepared.body, content_type=prepared.headers["Content-Type"]
    )

    assert response.status_code == 200, response.content
    assert_full_verification(
        response.json(), metadata={"device_id": "dev_123", "user_id": "usr_456"}
    )


def test_json_with_raw_base64_like_the_react_native_sdk_returns_a_full_verification(alice, photo):
    response = post_json(
        alice.client,
        {"image": b64(photo), "policy": "scooter_parking", "metadata": {"device_id": "dev_123"}},
    )

    assert response.status_code == 200, response.content
    assert_full_verification(response.json(), metadata={"device_id": "dev_123"})


@pytest.mark.parametrize(
    "prefix", ["data:image/jpeg;base64,", "data:image/png;base64,", "data:;base64,"]
)
def test_json_with_a_data_url_has_the_prefix_stripped(alice, photo, prefix):
    response = post_json(alice.client, {"image": prefix + b64(photo), "policy": "scooter_parking"})

    assert response.status_code == 200, response.content
    assert_full_verification(response.json())


def test_json_base64_wrapped_over_several_lines_is_accepted(alice, photo):
    wrapped = "\n".join(re.findall(".{1,76}", b64(photo)))

    response = post_json(alice.client, {"image": wrapped, "policy": "scooter_parking"})

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("fmt, content_type", [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_accepted_and_served_back_with_their_real_type(alice, fmt, content_type):
    image = make_photo(fmt)

    response = post_multipart(
        alice.client, image, name=f"photo.{fmt.lower()}", content_type=content_type
    )

    assert response.status_code == 200, response.content
    served, data = fetch(alice.client, response.json()["image_url"])
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert data == image


def test_a_png_disguised_as_photo_jpg_is_sniffed_and_served_as_png(alice):
    image = make_photo("PNG")

    response = post_multipart(alice.client, image, name="photo.jpg", content_type="image/jpeg")

    assert response.status_code == 200, response.content
    verification = Verification.objects.get(id=response.json()["id"])
    assert verification.image_format == "png"
    served, data = fetch(alice.client, response.json()["image_url"])
    assert served["Content-Type"] == "image/png"
    assert data == image


@pytest.mark.parametrize("flag", [True, "true"])
def test_include_image_data_true_returns_the_upload_as_base64(alice, photo, flag):
    if flag is True:
        response = post_json(
            alice.client,
            {"image": b64(photo), "policy": "scooter_parking", "include_image_data": True},
        )
    else:
        response = post_multipart(alice.client, photo, include_image_data=flag)

    assert response.status_code == 200, response.content
    body = response.json()
    assert base64.b64decode(body["image_data"]) == photo
    assert body["image_data"] == b64(photo)


def test_include_image_data_from_a_data_url_returns_the_decoded_image_not_the_url(alice, photo):
    response = post_json(
        alice.client,
        {
            "image": "data:image/jpeg;base64," + b64(photo),
            "policy": "scooter_parking",
            "include_image_data": True,
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["image_data"] == b64(photo)


@pytest.mark.parametrize("flag", [False, "false", None])
def test_include_image_data_false_or_omitted_has_no_image_data_key(alice, photo, flag):
    payload = {"image": b64(photo), "policy": "scooter_parking"}
    if flag is not None:
        payload["include_image_data"] = flag

    response = post_json(alice.client, payload)

    assert response.status_code == 200, response.content
    assert "image_data" not in response.json()


def test_every_response_carries_a_generated_request_id(alice, photo):
    first = post_multipart(alice.client, photo)
    second = post_multipart(alice.client, photo)

    assert re.fullmatch(r"req_[0-9a-f]{32}", first["X-Request-Id"])
    assert first["X-Request-Id"] != second["X-Request-Id"]
    stored = Verification.objects.get(id=first.json()["id"])
    assert stored.request_id == first["X-Request-Id"]


def test_a_sane_incoming_request_id_is_echoed(alice, photo):
    response = alice.client.post(
        VERIFY_URL,
        {"image": upload(photo), "policy": "scooter_parking"},
        format="multipart",
        HTTP_X_REQUEST_ID="mobile-7f3a9c21.retry:1",
    )

    assert response.status_code == 200
    assert response["X-Request-Id"] == "mobile-7f3a9c21.retry:1"


@pytest.mark.parametrize(
    "incoming", ["short", "has spaces in it", "x" * 300, "<script>alert(1)</script>"]
)
def test_an_unsafe_incoming_request_id_is_replaced(alice, photo, incoming):
    response = alice.client.post(
        VERIFY_URL,
        {"image": upload(photo), "policy": "scooter_parking"},
        format="multipart",
        HTTP_X_REQUEST_ID=incoming,
    )

    assert response.status_code == 200
    assert re.fullmatch(r"req_[0-9a-f]{32}", response["X-Request-Id"])


def test_server_timing_reports_auth_parse_vision_and_write(alice, photo):
    response = post_multipart(alice.client, photo)

    assert response.status_code == 200
    phases = {}
    for entry in response["Server-Timing"].split(","):
        name, _, dur = entry.strip().partition(";dur=")
        phases[name] = float(dur)
    assert {"auth", "parse", "vision", "write"} <= set(phases), response["Server-Timing"]
    assert all(ms >= 0 for ms in phases.values())


def test_a_bearer_token_with_the_same_key_works(alice, anonymous, photo):
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.api_key}")

    response = post_multipart(anonymous, photo)

    assert response.status_code == 200, response.content
    assert Verification.objects.get(id=response.json()["id"]).customer == alice.customer


def test_usage_grows_by_exactly_one_per_successful_verification(alice, bob, photo):
    assert usage_this_period(alice.customer) == 0

    assert post_multipart(alice.client, photo).status_code == 200
    assert usage_this_period(alice.customer) == 1
    assert (
        post_json(alice.client, {"image": b64(photo), "policy": "delivery_pod"}).status_code == 200
    )
    assert usage_this_period(alice.customer) == 2
    assert usage_this_period(bob.customer) == 0


def test_the_image_is_stored_under_media_root(alice, photo):
    assert stored_files() == []

    response = post_multipart(alice.client, photo)

    assert response.status_code == 200
    files = stored_files()
    assert len(files) == 1
    assert files[0].read_bytes() == photo


def test_the_provider_local_can_be_requested_explicitly(alice, photo):
    response = post_multipart(alice.client, photo, provider="local")

    assert response.status_code == 200, response.content
    assert response.json()["evaluation_source"] == "local"
