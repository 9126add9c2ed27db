"""Anyone may know a stream id (it is in every verification and webhook payload). Wrong
tokens sent for it are limited per stream and client address, so they never keep the real
camera from proving its token, and a camera's proof keeps it posting."""

from __future__ import annotations

from unittest import mock

import bcrypt
from django.core.cache import cache

from streams.models import Stream
from streams.services import MAX_FAILED_TOKEN_CHECKS_PER_MINUTE, _local_proofs
from tests.streams_support import create_and_pair, post_frame
from tests.verify_support import assert_error

ATTACKER, CAMERA = "203.0.113.9", "198.51.100.7"
WRONG = "vai_strm_" + "e" * 43


def _forget_proofs() -> None:
    """A fresh web process after the shared cache was flushed: the camera must re-prove."""
    cache.clear()
    _local_proofs.clear()


def test_an_attacker_hammering_wrong_tokens_cannot_lock_out_the_camera(alice):
    paired = create_and_pair(alice)
    _forget_proofs()
    for _ in range(MAX_FAILED_TOKEN_CHECKS_PER_MINUTE + 5):
        assert_error(post_frame(paired.stream_id, WRONG, REMOTE_ADDR=ATTACKER), 401, "invalid_stream_token")

    frame = post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA)
    assert frame.status_code == 200, frame.json()
    assert frame.json()["stream_id"] == paired.stream_id
    assert isinstance(frame.json()["is_compliant"], bool)
    # The attacker stays refused.
    assert_error(post_frame(paired.stream_id, WRONG, REMOTE_ADDR=ATTACKER), 401, "invalid_stream_token")


def test_an_attacker_gets_a_few_bcrypt_checks_a_minute_and_the_camera_its_own(alice):
    """On a stream paired before token fingerprints (one with a fingerprint spends no bcrypt
    on a wrong token at all: tests/test_streams_wrong_tokens_cost_no_bcrypt.py)."""
    paired = create_and_pair(alice)
    Stream.objects.filter(pk=paired.stream_id).update(token_fingerprint=None)
    _forget_proofs()
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        for _ in range(MAX_FAILED_TOKEN_CHECKS_PER_MINUTE + 5):
            assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR=ATTACKER).status_code == 401
        assert checkpw.call_count == MAX_FAILED_TOKEN_CHECKS_PER_MINUTE
        for _ in range(3):  # one check, then its proof
            assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
    assert checkpw.call_count == MAX_FAILED_TOKEN_CHECKS_PER_MINUTE + 1


def test_a_camera_holding_its_proof_posts_through_an_attack_from_its_own_network(alice):
    paired = create_and_pair(alice)
    assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
    for _ in range(MAX_FAILED_TOKEN_CHECKS_PER_MINUTE + 5):
        assert post_frame(paired.stream_id, WRONG, REMOTE_ADDR=CAMERA).status_code == 401
    assert post_frame(paired.stream_id, paired.token, REMOTE_ADDR=CAMERA).status_code == 200
