"""Metadata a database cannot store (non-finite numbers, NUL characters) is a 400 before
anything is billed, evaluated or stored; it never turns into a billed 500."""

from __future__ import annotations

import json

import pytest

from billing.services import usage_this_period
from tests.verify_support import (
    VERIFY_URL,
    assert_error,
    b64,
    nothing_stored,
    post_json,
    post_multipart,
)
from verifications.models import Verification
from verifyai.models import IdempotencyRecord


def _raw_json(client, text: str, **extra):
    return client.post(VERIFY_URL, text, content_type="application/json", **extra)


def _body_with_metadata(photo: bytes, metadata_json: str) -> str:
    # Written by hand: json.dumps would never emit 1e999, and writes inf as Infinity.
    return f'{{"image": "{b64(photo)}", "policy": "scooter_parking", "metadata": {metadata_json}}}'


@pytest.mark.parametrize(
    "metadata_json",
    [
        '{"x": 1e999}',
        '{"x": -1e999}',
        '{"x": [1, {"deep": 1E400}]}',
        '{"x": NaN}',
        '{"x": Infinity}',
        '{"x": -Infinity}',
    ],
)
def test_a_json_body_with_a_non_finite_number_is_a_400_and_nothing_is_billed(
    alice, photo, metadata_json
):
    with nothing_stored(alice.customer):
        response = _raw_json(alice.client, _body_with_metadata(photo, metadata_json))

    body = assert_error(response, 400, "invalid_body")
    assert "finite" in body["error"]


@pytest.mark.parametrize(
    "metadata",
    ['{"x": 1e999}', '{"x": -1e999}', '{"x": NaN}', '{"x": Infinity}', '{"a": {"b": [-Infinity]}}'],
)
def test_a_multipart_metadata_string_with_a_non_finite_number_is_a_400(alice, photo, metadata):
    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo, metadata=metadata)

    body = assert_error(response, 400, "invalid_request")
    assert body["error"].startswith("metadata:")


@pytest.mark.parametrize(
    "metadata",
    [{"x": "a\u0000b"}, {"k\u0000ey": 1}, {"list": ["ok", "\u0000"]}, {"a": {"b\u0000": {"c": 1}}}],
)
def test_metadata_with_a_nul_character_is_a_400_in_json_and_in_multipart(alice, photo, metadata):
    with nothing_stored(alice.customer):
        as_json = post_json(alice.client, {"image": b64(photo), "policy": "scooter_parking",
                                           "metadata": metadata})
        as_form = post_multipart(alice.client, photo, metadata=json.dumps(metadata))

    for response in (as_json, as_form):
        body = assert_error(response, 400, "invalid_request")
        assert "NUL" in body["error"]


@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\udfffb"', '"\\ud83d x"'])
def test_metadata_text_that_is_not_valid_unicode_is_a_400(alice, photo, text):
    # An unpaired surrogate is valid JSON but no UTF-8 string: no database driver can store it.
    metadata = f'{{"note": {text}}}'
    with nothing_stored(alice.customer):
        as_json = _raw_json(alice.client, _body_with_metadata(photo, metadata))
        as_form = post_multipart(alice.client, photo, metadata=metadata)

    assert "Unicode" in assert_error(as_json, 400, "invalid_body")["error"]
    assert "Unicode" in assert_error(as_form, 400, "invalid_request")["error"]


def test_the_refused_request_saves_no_idempotent_answer_and_the_fixed_retry_runs(alice, photo):
    with nothing_stored(alice.customer):
        refused = _raw_json(
            alice.client, _body_with_metadata(photo, '{"x": 1e999}'), HTTP_IDEMPOTENCY_KEY="meta-1"
        )
    assert_error(refused, 400, "invalid_body")
    assert not IdempotencyRecord.objects.exists()

    fixed = _raw_json(
        alice.client, _body_with_metadata(photo, '{"x": 2.5}'), HTTP_IDEMPOTENCY_KEY="meta-1"
    )

    assert fixed.status_code == 200, fixed.content
    assert fixed.json()["metadata"] == {"x": 2.5}
    assert "Idempotent-Replayed" not in fixed
    assert Verification.objects.get().metadata == {"x": 2.5}
    assert usage_this_period(alice.customer) == 1


def test_large_but_finite_numbers_and_ordinary_text_are_still_accepted(alice, photo):
    metadata = {"big": 1.7976931348623157e308, "tiny": 5e-324, "text": "tab\tand \u00e9 and \u2603"}

    response = post_json(
        alice.client, {"image": b64(photo), "policy": "scooter_parking", "metadata": metadata}
    )

    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == metadata
