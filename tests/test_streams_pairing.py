"""POST /streams/pair: a code for a token, once; 404 unknown, 410 used or expired."""

from __future__ import annotations

import datetime as dt

import bcrypt
import pytest
from django.utils import timezone

from streams.models import PairingCode, Stream
from streams.services import CODE_ALPHABET, MAX_CODE_ATTEMPTS, TOKEN_PREFIX
from tests.concurrency_support import run_concurrently
from tests.streams_support import create_stream, pair, post_frame
from tests.verify_support import assert_error


def test_a_code_exchanges_for_a_token_once_and_only_its_bcrypt_hash_is_kept(alice):
    created = create_stream(alice)
    response = pair(created["pairing"]["code"])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"stream_id", "stream_token", "policy_id"}
    assert body["stream_id"] == created["id"]
    assert body["policy_id"] == "scooter_parking"
    token = body["stream_token"]
    assert token.startswith(TOKEN_PREFIX) and len(token.encode()) <= 72

    stream = Stream.objects.get(pk=created["id"])
    assert token not in stream.token_hash
    assert bcrypt.checkpw(token.encode(), stream.token_hash.encode())
    assert PairingCode.objects.get(stream=stream).consumed_at is not None

    assert_error(pair(created["pairing"]["code"]), 410, "pairing_code_used")


def test_codes_follow_rfc_8628_and_are_typed_forgivingly(alice):
    code = create_stream(alice)["pairing"]["code"]
    assert len(code) == 9 and code[4] == "-"
    assert all(ch in CODE_ALPHABET for ch in code.replace("-", ""))

    typed = " " + code.lower().replace("-", " - ") + " "
    assert pair(typed).status_code == 200


@pytest.mark.parametrize("variant", [str.lower, lambda c: c.replace("-", ""), lambda c: c.replace("-", " ")])
def test_lowercase_dashless_and_spaced_codes_all_pair(alice, variant):
    code = create_stream(alice)["pairing"]["code"]
    assert pair(variant(code)).status_code == 200


def test_an_unknown_code_is_404(db):
    assert_error(pair("BCDF-GHJK"), 404, "pairing_code_not_found")
    assert_error(pair("not a code at all"), 404, "pairing_code_not_found")


def test_an_expired_code_is_410(alice):
    code = create_stream(alice)["pairing"]["code"]
    PairingCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_error(pair(code), 410, "pairing_code_expired")


def test_a_code_expires_ten_minutes_after_creation(alice):
    create_stream(alice)
    pairing_code = PairingCode.objects.get()
    assert pairing_code.expires_at - pairing_code.created_at == pytest.approx(
        dt.timedelta(minutes=10), abs=dt.timedelta(seconds=1)
    )


def test_a_new_code_retires_the_outstanding_one(alice):
    created = create_stream(alice)
    response = alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code")
    assert response.status_code == 201
    assert_error(pair(created["pairing"]["code"]), 410, "pairing_code_expired")
    assert pair(response.json()["code"]).status_code == 200


def test_a_code_is_burnt_after_too_many_attempts(alice):
    code = create_stream(alice)["pairing"]["code"]
    PairingCode.objects.update(attempts=MAX_CODE_ATTEMPTS)
    assert_error(pair(code), 410, "pairing_code_expired")


def test_pairing_is_rate_limited_per_client_address(db, settings):
    settings.VERIFYAI_STREAM_PAIR_RATE = "3/m"
    for _ in range(3):
        assert pair("BCDF-GHJK", REMOTE_ADDR="10.0.0.1").status_code == 404
    limited = pair("BCDF-GHJK", REMOTE_ADDR="10.0.0.1")
    assert_error(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    # Another address has its own count.
    assert pair("BCDF-GHJK", REMOTE_ADDR="10.0.0.2").status_code == 404


def test_pairing_needs_no_api_key_and_ignores_one(alice):
    code = create_stream(alice)["pairing"]["code"]
    assert pair(code, client=alice.client).status_code == 200


def test_re_pairing_rotates_the_token_and_the_old_one_stops_at_once(alice):
    created = create_stream(alice)
    old = pair(created["pairing"]["code"]).json()["stream_token"]
    assert post_frame(created["id"], old).status_code == 200  # the proof is now cached

    new_code = alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code").json()["code"]
    assert post_frame(created["id"], old).status_code == 200  # until the new code is used
    new = pair(new_code).json()["stream_token"]

    assert new != old
    assert_error(post_frame(created["id"], old), 401, "invalid_stream_token")
    assert post_frame(created["id"], new).status_code == 200


def test_an_archived_stream_cannot_be_paired(alice):
    created = create_stream(alice)
    alice.client.post(f"/api/v1/streams/{created['id']}/archive")
    assert pair(created["pairing"]["code"]).status_code == 410


@pytest.mark.django_db(transaction=True)
def test_two_kiosks_racing_for_one_code_exactly_one_wins(alice):
    code = create_stream(alice)["pairing"]["code"]

    def kiosk() -> tuple[int, dict]:
        response = pair(code)
        return response.status_code, response.json()

    results = run_concurrently(6, kiosk)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 410, 410, 410, 410, 410], results
    winner = next(body for status, body in results if status == 200)
    stream = Stream.objects.get(pk=winner["stream_id"])
    assert stream.token_version == 1
    assert bcrypt.checkpw(winner["stream_token"].encode(), stream.token_hash.encode())
