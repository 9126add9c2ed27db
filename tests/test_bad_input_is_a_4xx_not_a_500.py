"""Plain bad input is the client's mistake: a 400 or 404 with the documented error body,
never a 500. Deep JSON, a JSON array where an object belongs, a cursor that is not ours,
dates at the edge of the calendar and NUL characters in path ids (which PostgreSQL refuses)."""

from __future__ import annotations

import base64

import pytest

from tests.streams_support import create_stream
from tests.verify_support import assert_error, nothing_stored
from webhooks.models import WebhookEndpoint
from webhooks.services import new_secret

DEEP = 5000


def _deep(depth: int = DEEP) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def _deep_array(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def own_policy(alice) -> str:
    payload = {
        "name": "Warehouse door",
        "criteria": [{"id": "door_clear", "description": "The loading door is not blocked."}],
        "violation_codes": [{"code": "door_blocked", "description": "Something blocks the door."}],
    }
    response = alice.client.post("/api/v1/policies", payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


# --- JSON nested thousands deep ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/verify"),
        ("post", "/api/v1/policies"),
        ("patch", "/api/v1/policies/{own_policy}"),
        ("post", "/api/v1/webhooks"),
        ("post", "/api/v1/streams"),
    ],
)
@pytest.mark.parametrize("body", [_deep(), _deep_array(), '{"metadata": ' + _deep(40) + "}"])
def test_json_nested_too_deep_is_a_400_on_every_route(alice, own_policy, method, path, body):
    path = path.format(own_policy=own_policy)
    with nothing_stored(alice.customer):
        response = getattr(alice.client, method)(path, body, content_type="application/json")

    error = assert_error(response, 400, "invalid_body")
    assert "nested too deeply" in error["error"]


def test_json_nested_too_deep_is_a_400_on_the_unauthenticated_pairing_endpoint(anonymous, db):
    response = anonymous.post("/api/v1/streams/pair", _deep(), content_type="application/json")

    assert_error(response, 400, "invalid_body")


def test_multipart_metadata_nested_too_deep_is_a_400(alice, photo):
    from tests.verify_support import post_multipart

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, metadata=_deep())

    error = assert_error(response, 400, "invalid_request")
    assert "nested too deeply" in error["error"]


def test_ordinary_nesting_is_still_accepted(alice, photo):
    from tests.verify_support import b64, post_json

    metadata = {"a": {"b": {"c": {"d": {"e": [1, [2, [3]]]}}}}}
    response = post_json(
        alice.client, {"image": b64(photo), "policy": "scooter_parking", "metadata": metadata}
    )

    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == metadata


# --- a JSON array (or other non-object) body with an Idempotency-Key ----------------------


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/streams"])
@pytest.mark.parametrize("body", ["[]", '[{"policy": "scooter_parking"}]', '"text"', "42", "null"])
def test_a_body_that_is_not_an_object_with_an_idempotency_key_is_a_400(alice, path, body):
    with nothing_stored(alice.customer):
        response = alice.client.post(
            path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="array-body"
        )

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("key", ["with\x00nul", "tab\there", "bell\x07"])
def test_an_idempotency_key_with_control_characters_is_a_400(alice, key):
    with nothing_stored(alice.customer):
        response = alice.client.post(
            "/api/v1/verify", {"policy": "scooter_parking"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )

    assert_error(response, 400, "bad_request")


# --- cursors that are not ours ------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FOREIGN_CURSORS = [
    _b64("2026-01-01T00:00:00+00:00|ver_abc\x00def"),
    _b64("2026-01-01T00:00:00+00:00|" + "x" * 5000),
    _b64("9999-12-31T23:59:59-05:00|ver_abc"),
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "2026-01-01T00:00:00+00:00\x00",
    "abc\x00",
    "%%%",
]


@pytest.mark.parametrize("cursor", FOREIGN_CURSORS)
def test_a_cursor_that_is_not_ours_is_a_400_on_every_paginated_list(alice, cursor):
    endpoint = _endpoint(alice)
    for path in ["/api/v1/verifications", "/api/v1/streams", f"/api/v1/webhooks/{endpoint.pk}/deliveries"]:
        response = alice.client.get(path, {"cursor": cursor})
        # A NUL in a query parameter is refused by the field itself (invalid_request).
        assert_error(response, 400, "invalid_request" if "\x00" in cursor else "invalid_cursor")


@pytest.mark.parametrize(
    "item_id", ["not-a-uuid", "ver_AbCdEfGh12345678", "00000000-0000-0000-0000-00000000000g"]
)
def test_a_streams_cursor_whose_id_is_not_a_stream_id_is_a_400(alice, item_id):
    create_stream(alice)

    response = alice.client.get("/api/v1/streams", {"cursor": _b64(f"2026-01-01T00:00:00+00:00|{item_id}")})

    assert_error(response, 400, "invalid_cursor")


def test_our_own_stream_cursor_still_pages(alice):
    for index in range(3):
        create_stream(alice, name=f"camera {index}")

    first = alice.client.get("/api/v1/streams", {"limit": 2}).json()
    second = alice.client.get("/api/v1/streams", {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert len(first["data"]) == 2 and first["has_more"]
    assert len(second["data"]) == 1 and not second["has_more"]


# --- dates at the edge of the calendar ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("end_date", "9999-12-31"),
        ("end_date", "9999-12-31T23:59:59-01:00"),
        ("start_date", "9999-12-31T23:59:59-23:00"),
        ("start_date", "0001-01-01T00:00:00+01:00"),
        ("end_date", "0001-01-01T00:30:00+14:00"),
        ("start_date", "99999-01-01"),
        ("end_date", "2026-01-01T00:00:00+99:00"),
        ("start_date", "2026-01-01\x00"),
    ],
)
def test_an_extreme_date_filter_is_a_400(alice, name, value):
    response = alice.client.get("/api/v1/verifications", {name: value})

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "query",
    [
        {"end_date": "9999-12-30"},
        {"start_date": "0001-01-01"},
        {"start_date": "9999-12-31T23:59:59Z"},
        {"start_date": "0001-01-01T00:00:00Z", "end_date": "9999-12-30T00:00:00+00:00"},
    ],
)
def test_dates_within_the_calendar_are_accepted(alice, query):
    response = alice.client.get("/api/v1/verifications", query)

    assert response.status_code == 200, response.content


# --- NUL (and other control characters) inside path ids -----------------------------------


def _endpoint(cast) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        customer=cast.customer, url="https://hooks.example.test/in",
        events=["verification.completed"], secret=new_secret(),
    )


BAD_IDS = ["ver%00abc", "%00", "abc%00", "a%0Ab", "scooter_parking%00"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_nul_in_any_path_id_is_a_404(alice, bad):
    stream = create_stream(alice)
    endpoint = _endpoint(alice)
    calls = [
        ("get", f"/api/v1/verifications/{bad}"),
        ("get", f"/api/v1/policies/{bad}"),
        ("patch", f"/api/v1/policies/{bad}"),
        ("delete", f"/api/v1/policies/{bad}"),
        ("get", f"/api/v1/streams/{bad}"),
        ("patch", f"/api/v1/streams/{bad}"),
        ("post", f"/api/v1/streams/{bad}/pause"),
        ("post", f"/api/v1/streams/{bad}/resume"),
        ("post", f"/api/v1/streams/{bad}/archive"),
        ("post", f"/api/v1/streams/{bad}/pairing-code"),
        ("post", f"/api/v1/streams/{bad}/frame"),
        ("get", f"/api/v1/webhooks/{bad}"),
        ("patch", f"/api/v1/webhooks/{bad}"),
        ("delete", f"/api/v1/webhooks/{bad}"),
        ("post", f"/api/v1/webhooks/{bad}/rotate-secret"),
        ("post", f"/api/v1/webhooks/{bad}/test"),
        ("get", f"/api/v1/webhooks/{bad}/deliveries"),
        ("post", f"/api/v1/webhooks/{bad}/deliveries/dlv_abc/redeliver"),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/deliveries/{bad}/redeliver"),
    ]
    for method, path in calls:
        response = getattr(alice.client, method)(path, {}, format="json")
        assert_error(response, 404, "not_found")
    # The real things are untouched and still answer.
    assert alice.client.get(f"/api/v1/streams/{stream['id']}").status_code == 200
    assert alice.client.get(f"/api/v1/webhooks/{endpoint.pk}").status_code == 200
