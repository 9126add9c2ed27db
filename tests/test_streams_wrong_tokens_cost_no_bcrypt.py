"""A wrong stream token never costs a bcrypt check once its stream has a fingerprint (an
HMAC-SHA256 of the token, keyed from SECRET_KEY): an attacker with many networks and a known
stream id cannot buy CPU. bcrypt stays the hash of record and the proof a right token passes."""

from __future__ import annotations

from unittest import mock

import bcrypt
from django.core.cache import cache
from django.test import override_settings

from streams.models import Stream
from streams.services import MAX_FAILED_TOKEN_CHECKS_PER_MINUTE, _local_proofs
from tests.streams_support import create_and_pair, create_stream, pair, post_frame
from tests.verify_support import assert_error

CAMERA = "198.51.100.7"
WRONG = "vai_strm_" + "e" * 43


def _forget_proofs() -> None:
    """A fresh web process after the shared cache was flushed: the camera must re-prove."""
    cache.clear()
    _local_proofs.clear()


def _networks(n: int) -> list[str]:
    """``n`` different IPv6 /64s, each its own per-address budget (one home /56 holds 256)."""
    return [f"2001:db8:0:{i:x}::1" for i in range(n)]


def _fingerprint(stream_id: str) -> str | None:
    return Stream.objects.values_list("token_fingerprint", flat=True).get(pk=stream_id)


def _make_legacy(stream_id: str) -> None:
    """As a stream paired before fingerprints existed: a bcrypt hash only."""
    Stream.objects.filter(pk=stream_id).update(token_fingerprint=None)


def _checkpw():
    # bcrypt is a third-party library: count its calls at the library boundary.
    return mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw)


def test_fifty_wrong_tokens_from_fifty_networks_cost_no_bcrypt_and_the_camera_still_posts(alice):
    paired = create_and_pair(alice)
    _forget_proofs()
    with _checkpw() as checkpw:
        for address in _networks(50):
            assert_error(post_frame(paired.stream_id, WRONG, REMOTE_ADDR=address), 401, "invalid_stream_token")
        assert checkpw.call_count == 0
        frame = post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA)
        assert frame.status_code == 200, frame.json()
        assert frame.json()["stream_id"] == paired.stream_id
        assert checkpw.call_count == 1  # the right token is still proven with bcrypt, once
        for _ in range(3):
            assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
    assert checkpw.call_count == 1


def test_pairing_stores_a_fingerprint_that_is_not_the_token(alice):
    paired = create_and_pair(alice)
    fingerprint = _fingerprint(paired.stream_id)
    assert fingerprint is not None and len(fingerprint) == 64
    assert paired.token not in fingerprint
    assert paired.token.removeprefix("vai_strm_") not in fingerprint


def test_a_wrong_token_refused_by_its_fingerprint_still_counts_against_its_address(alice):
    paired = create_and_pair(alice)
    attacker = "203.0.113.9"
    for _ in range(MAX_FAILED_TOKEN_CHECKS_PER_MINUTE):
        assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR=attacker).status_code == 401
    # Were the fingerprint gone, this address's bcrypt budget is already spent.
    _make_legacy(paired.stream_id)
    with _checkpw() as checkpw:
        assert_error(post_frame(paired.stream_id, WRONG, REMOTE_ADDR=attacker), 401, "invalid_stream_token")
    assert checkpw.call_count == 0


def test_a_stream_paired_before_fingerprints_gets_one_with_its_first_good_frame(alice):
    paired = create_and_pair(alice)
    _make_legacy(paired.stream_id)
    _forget_proofs()
    with _checkpw() as checkpw:
        # Without a fingerprint a wrong token is checked with bcrypt, as before (and limited).
        assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR="203.0.113.9").status_code == 401
        assert checkpw.call_count == 1
        assert _fingerprint(paired.stream_id) is None
        assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
        assert checkpw.call_count == 2
        assert _fingerprint(paired.stream_id) is not None
        for address in _networks(20):
            assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR=address).status_code == 401
        assert checkpw.call_count == 2
        _forget_proofs()
        assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
    assert checkpw.call_count == 3


def test_a_stream_with_a_proof_from_before_fingerprints_gets_one_too(alice):
    paired = create_and_pair(alice)  # pairing leaves a proof in the cache
    _make_legacy(paired.stream_id)
    assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
    assert _fingerprint(paired.stream_id) is not None


def test_re_pairing_replaces_the_fingerprint(alice):
    created = create_stream(alice)
    old = pair(created["pairing"]["code"]).json()["stream_token"]
    old_fingerprint = _fingerprint(created["id"])
    new_code = alice.client.post(f"/api/v1/streams/{created['id']}/pairing-code").json()["code"]
    new = pair(new_code).json()["stream_token"]
    new_fingerprint = _fingerprint(created["id"])
    assert new_fingerprint is not None and new_fingerprint != old_fingerprint
    _forget_proofs()
    with _checkpw() as checkpw:
        assert_error(post_frame(created["id"], old, REMOTE_ADDR=CAMERA), 401, "invalid_stream_token")
        assert checkpw.call_count == 0
        assert post_frame(created["id"], new, REMOTE_ADDR=CAMERA).status_code == 200
    assert checkpw.call_count == 1


def test_a_secret_key_rotation_keeps_cameras_posting_and_renews_their_fingerprints(alice, settings):
    paired = create_and_pair(alice)
    before = _fingerprint(paired.stream_id)
    _forget_proofs()
    with override_settings(SECRET_KEY="rotated-" + "k" * 50, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        frame = post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA)
        assert frame.status_code == 200, frame.json()
        after = _fingerprint(paired.stream_id)
        assert after is not None and after != before
        with _checkpw() as checkpw:
            for address in _networks(5):
                assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR=address).status_code == 401
        assert checkpw.call_count == 0
