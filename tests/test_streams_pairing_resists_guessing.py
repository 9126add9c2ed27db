"""A live pairing code cannot be guessed in its 10 minutes, even from many addresses:
wrong typed codes share one budget across every address and process (in the database),
a code named with its stream is tried against that stream's code only and burns after a
few misses, the per-address limit fails closed, and an honest kiosk still pairs."""

from __future__ import annotations

import random

import pytest

from streams.models import PairingCode
from streams.services import CODE_ALPHABET, MAX_CODE_ATTEMPTS
from tests.concurrency_support import run_concurrently
from tests.streams_support import create_stream, pair
from tests.verify_support import assert_error


def _wrong_codes(real: str, count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    codes = []
    while len(codes) < count:
        guess = "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
        if guess != real.replace("-", ""):
            codes.append(f"{guess[:4]}-{guess[4:]}")
    return codes


def _ipv4(index: int) -> str:
    return f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"


def _ipv6(index: int) -> str:
    return f"2001:db8:{index:x}::1"  # one address in each of many /64s


@pytest.mark.parametrize("address", [_ipv4, _ipv6], ids=["ipv4", "ipv6"])
def test_wrong_codes_from_many_addresses_lock_out_typed_codes_but_not_the_scanned_qr(
    alice, settings, address
):
    settings.VERIFYAI_STREAM_PAIR_FAILURE_BUDGET = 20
    created = create_stream(alice)
    code = created["pairing"]["code"]

    answers = [
        pair(guess, REMOTE_ADDR=address(index), HTTP_X_FORWARDED_FOR=f"192.0.2.{index % 250}")
        for index, guess in enumerate(_wrong_codes(code, 30))
    ]
    assert [answer.status_code for answer in answers] == [404] * 20 + [429] * 10
    locked = assert_error(answers[-1], 429, "pairing_locked")
    assert "QR" in locked["error"]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 600

    # Even the right code waits while typed on its own: it could be the next guess.
    assert_error(pair(code, REMOTE_ADDR="10.200.0.1"), 429, "pairing_locked")
    assert PairingCode.objects.get().consumed_at is None

    # The kiosk that scanned the QR names its stream, and pairs.
    paired = pair(code, stream_id=created["id"], REMOTE_ADDR="10.200.0.1")
    assert paired.status_code == 200, paired.json()
    assert paired.json()["stream_id"] == created["id"]


def test_guesses_that_name_a_stream_burn_only_that_streams_code(alice):
    target, other = create_stream(alice), create_stream(alice)
    for index, guess in enumerate(_wrong_codes(target["pairing"]["code"], MAX_CODE_ATTEMPTS)):
        response = pair(guess, stream_id=target["id"], REMOTE_ADDR=_ipv4(index))
        assert_error(response, 404, "pairing_code_not_found")

    assert_error(pair(target["pairing"]["code"], stream_id=target["id"]), 410, "pairing_code_expired")
    # Another stream's code is untouched, named or typed.
    assert pair(other["pairing"]["code"], stream_id=other["id"]).status_code == 200


def test_a_code_only_pairs_the_stream_it_belongs_to(alice):
    target, other = create_stream(alice), create_stream(alice)
    assert_error(pair(target["pairing"]["code"], stream_id=other["id"]), 404, "pairing_code_not_found")
    assert pair(target["pairing"]["code"], stream_id=target["id"]).status_code == 200


def test_a_kiosks_honest_typos_and_retries_still_pair(alice):
    typed, scanned = create_stream(alice), create_stream(alice)
    for guess in _wrong_codes(typed["pairing"]["code"], 2):
        assert_error(pair(guess), 404, "pairing_code_not_found")
    assert pair(typed["pairing"]["code"]).status_code == 200

    for guess in _wrong_codes(scanned["pairing"]["code"], MAX_CODE_ATTEMPTS - 1, seed=2):
        assert_error(pair(guess, stream_id=scanned["id"]), 404, "pairing_code_not_found")
    assert pair(scanned["pairing"]["code"], stream_id=scanned["id"]).status_code == 200


def test_a_forwarded_for_header_is_not_a_new_client_address(db, settings):
    settings.VERIFYAI_STREAM_PAIR_RATE = "3/m"
    for index in range(3):
        response = pair("BCDF-GHJK", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{index}")
        assert response.status_code == 404
    limited = pair("BCDF-GHJK", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert_error(limited, 429, "rate_limited")


@pytest.mark.django_db(transaction=True)
def test_racing_guesses_never_spend_more_than_the_budget(alice, settings):
    settings.VERIFYAI_STREAM_PAIR_FAILURE_BUDGET = 5
    code = create_stream(alice)["pairing"]["code"]
    guesses = iter(enumerate(_wrong_codes(code, 12)))

    def attacker() -> int:
        index, guess = next(guesses)
        return pair(guess, REMOTE_ADDR=_ipv4(index)).status_code

    statuses = sorted(run_concurrently(12, attacker))
    assert statuses == [404] * 5 + [429] * 7


def test_with_the_rate_limit_store_unreachable_pairing_fails_closed(alice, settings):
    created = create_stream(alice)
    reachable = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    try:
        refused = pair(created["pairing"]["code"], stream_id=created["id"])
        assert_error(refused, 503, "pairing_unavailable")
        assert int(refused["Retry-After"]) >= 1
        assert_error(pair("BCDF-GHJK"), 503, "pairing_unavailable")
    finally:
        settings.CACHES = reachable
    assert PairingCode.objects.get().consumed_at is None

    # The kiosk's retry of the same code, once the store is back, pairs.
    assert pair(created["pairing"]["code"], stream_id=created["id"]).status_code == 200
