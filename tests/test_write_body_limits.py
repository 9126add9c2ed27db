"""Every write body outside policies is bounded too: webhook endpoints, streams and /verify's
metadata. Over a bound is a 400 with our error body naming the field, and nothing is stored or
billed. (Policies: tests/test_policies_size_limits.py.)"""

from __future__ import annotations

import pytest

from billing.services import usage_this_period
from streams.models import Stream
from tests.conftest import make_photo
from tests.streams_support import create_stream
from tests.verify_support import assert_error, b64, post_json, post_multipart
from verifications.models import Verification
from verifyai import limits
from webhooks.models import WebhookEndpoint

HOOKS = "/api/v1/webhooks"
HOOK_URL = "http://127.0.0.1:9999/hooks"
EVENT = "verification.completed"


def _field_named(body: dict, field: str) -> None:
    assert body["error"].startswith(f"{field}: "), body["error"]


# --- webhook endpoints ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("events", {"url": HOOK_URL, "events": [EVENT] * (limits.WEBHOOK_MAX_EVENTS + 1)}),
        ("events", {"url": HOOK_URL, "events": [EVENT] * 400_000}),  # ~10 MB, under the body cap
        ("url", {"url": HOOK_URL + "/" + "a" * limits.WEBHOOK_MAX_URL, "events": [EVENT]}),
        ("description", {"url": HOOK_URL, "events": [EVENT], "description": "d" * 501}),
    ],
)
def test_a_webhook_endpoint_over_a_bound_is_refused(alice, field, payload):
    _field_named(assert_error(alice.client.post(HOOKS, payload, format="json"), 400, "invalid_request"), field)
    assert not WebhookEndpoint.objects.exists()


def test_a_webhook_update_over_a_bound_is_refused(alice):
    created = alice.client.post(HOOKS, {"url": HOOK_URL, "events": [EVENT]}, format="json").json()

    body = assert_error(
        alice.client.patch(f"{HOOKS}/{created['id']}", {"events": [EVENT] * 1_000}, format="json"),
        400,
        "invalid_request",
    )

    _field_named(body, "events")
    assert WebhookEndpoint.objects.get(pk=created["id"]).events == [EVENT]


def test_a_webhook_endpoint_at_the_bounds_is_accepted(alice):
    payload = {"url": HOOK_URL, "events": [EVENT] * limits.WEBHOOK_MAX_EVENTS, "description": "d" * 500}

    response = alice.client.post(HOOKS, payload, format="json")

    assert response.status_code == 201, response.content[:300]
    assert response.json()["events"] == [EVENT]


# --- streams ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "n" * 201),
        ("location", "l" * 301),
        ("site_id", "s" * 65),
        ("asset_type", "a" * 65),
        ("region", "r" * 65),
        ("group_id", "g" * 65),
        ("policy_id", "p" * 65),
        ("expected_throughput", limits.STREAM_MAX_EXPECTED_THROUGHPUT + 1),
        ("expected_throughput", 10**30),
    ],
)
def test_a_stream_over_a_bound_is_refused(alice, field, value):
    payload = {"name": "Gate", "policy_id": "scooter_parking", field: value}

    body = assert_error(alice.client.post("/api/v1/streams", payload, format="json"), 400, "invalid_request")

    _field_named(body, field)
    assert not Stream.objects.exists()


def test_a_stream_update_over_a_bound_is_refused(alice):
    stream = create_stream(alice, expected_throughput=60)

    body = assert_error(
        alice.client.patch(f"/api/v1/streams/{stream['id']}", {"expected_throughput": 10**30}, format="json"),
        400,
        "invalid_request",
    )

    _field_named(body, "expected_throughput")
    assert Stream.objects.get(pk=stream["id"]).expected_throughput == 60


def test_a_stream_at_the_bounds_is_accepted(alice):
    body = create_stream(
        alice, name="n" * 200, location="l" * 300, site_id="s" * 64, region="r" * 64,
        expected_throughput=limits.STREAM_MAX_EXPECTED_THROUGHPUT,
    )

    assert body["expected_throughput"] == limits.STREAM_MAX_EXPECTED_THROUGHPUT


# --- POST /verify ---------------------------------------------------------------------------


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    "metadata",
    [
        _nested(limits.METADATA_MAX_DEPTH + 1),
        {"list": [[[[[[[[[1]]]]]]]]]},  # lists count as levels too
        {f"k{i}": 1 for i in range(limits.METADATA_MAX_KEYS + 1)},
        {"k": [{"a": 1, "b": 2}] * (limits.METADATA_MAX_KEYS // 2 + 1)},  # keys at every level count
        {"k" * (limits.METADATA_MAX_KEY_LENGTH + 1): 1},
        {"big": "x" * limits.METADATA_MAX_BYTES},
    ],
    ids=["too-deep", "too-deep-lists", "too-many-keys", "too-many-nested-keys", "key-too-long", "too-big"],
)
@pytest.mark.parametrize("encoding", ["json", "multipart"])
def test_verify_metadata_over_a_bound_is_refused_before_anything_is_billed(alice, metadata, encoding):
    import json

    if encoding == "json":
        response = post_json(alice.client, {"image": b64(make_photo()), "policy": "scooter_parking",
                                            "metadata": metadata})
    else:
        response = post_multipart(alice.client, make_photo(), metadata=json.dumps(metadata))

    _field_named(assert_error(response, 400, "invalid_request"), "metadata")
    assert not Verification.objects.exists()
    assert usage_this_period(alice.customer) == 0


def test_verify_metadata_at_the_bounds_is_accepted(alice):
    metadata = {
        "deep": _nested(limits.METADATA_MAX_DEPTH - 1),
        **{f"k{i}": i for i in range(limits.METADATA_MAX_KEYS - limits.METADATA_MAX_DEPTH - 1)},
        "q" * limits.METADATA_MAX_KEY_LENGTH: True,
    }

    response = post_json(alice.client, {"image": b64(make_photo()), "policy": "scooter_parking",
                                        "metadata": metadata})

    assert response.status_code == 200, response.content[:300]
    assert response.json()["metadata"] == metadata


def test_verify_policy_id_over_its_bound_is_refused(alice):
    response = post_json(alice.client, {"image": b64(make_photo()), "policy": "p" * 65})

    _field_named(assert_error(response, 400, "invalid_request"), "policy")
    assert usage_this_period(alice.customer) == 0
