"""POST /streams/{id}/frame: stream token only; 404/401/409/410; billed like /verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from unittest import mock

import bcrypt
from django.core.cache import cache
from django.utils import timezone

from billing.models import Plan, UsageCounter
from billing.services import current_period_start, usage_this_period
from streams.models import Stream
from streams.services import _local_proofs
from tests.conftest import make_photo
from tests.streams_support import create_and_pair, create_stream, post_frame
from tests.verify_support import assert_error
from verifications.models import Verification


def test_a_frame_answers_the_verification_object_with_the_stream_named(alice):
    paired = create_and_pair(alice)
    response = post_frame(paired.stream_id, paired.token)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"].startswith("ver_")
    assert body["policy"] == "scooter_parking"
    assert body["stream_id"] == paired.stream_id
    assert body["evaluation_source"] == "local"
    assert "is_compliant" in body
    verification = Verification.objects.get(pk=body["id"])
    assert verification.customer == alice.customer
    assert str(verification.stream_id) == paired.stream_id
    timing = response["Server-Timing"]
    for phase in ("auth", "parse", "vision", "write"):
        assert f"{phase};dur=" in timing

    # The same verification, read back through the customer API.
    fetched = alice.client.get(f"/api/v1/verifications/{body['id']}").json()
    assert fetched["stream_id"] == paired.stream_id


def test_verify_bodies_have_no_stream_id(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {"image": SimpleUploadedFile("p.jpg", make_photo()), "policy": "scooter_parking"}
    response = alice.client.post("/api/v1/verify", body, format="multipart")
    assert response.status_code == 200
    assert "stream_id" not in response.json()


def test_png_and_webp_frames_are_accepted(alice):
    paired = create_and_pair(alice)
    assert post_frame(paired.stream_id, paired.token, make_photo("PNG"), "f.png").status_code == 200
    assert post_frame(paired.stream_id, paired.token, make_photo("WEBP"), "f.webp").status_code == 200


def test_a_frame_that_is_not_an_image_is_400(alice):
    paired = create_and_pair(alice)
    assert_error(post_frame(paired.stream_id, paired.token, b"not an image"), 400, "invalid_image")


def test_unknown_stream_is_404(db):
    assert_error(post_frame(str(uuid.uuid4()), "vai_strm_x"), 404, "stream_not_found")
    assert_error(post_frame("not-a-uuid", "vai_strm_x"), 404, "stream_not_found")


def test_missing_or_bad_token_is_401(alice):
    paired = create_and_pair(alice)
    assert_error(post_frame(paired.stream_id, None), 401, "invalid_stream_token")
    assert_error(post_frame(paired.stream_id, paired.token + "x"), 401, "invalid_stream_token")
    assert_error(post_frame(paired.stream_id, "vai_strm_" + "a" * 100), 401, "invalid_stream_token")
    assert_error(post_frame(paired.stream_id, "vai_strm_" + "a" * 43), 401, "invalid_stream_token")


def test_the_api_key_is_not_a_stream_token(alice):
    paired = create_and_pair(alice)
    assert_error(post_frame(paired.stream_id, alice.api_key), 401, "invalid_stream_token")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = alice.client.post(
        f"/api/v1/streams/{paired.stream_id}/frame",
        {"frame": SimpleUploadedFile("f.jpg", make_photo())}, format="multipart",
    )
    assert_error(response, 401, "invalid_stream_token")


def test_an_unpaired_stream_refuses_every_token(alice):
    created = create_stream(alice)
    assert_error(post_frame(created["id"], "vai_strm_" + "a" * 43), 401, "invalid_stream_token")


def test_another_streams_token_is_401(alice, bob):
    mine, theirs = create_and_pair(alice), create_and_pair(bob)
    assert_error(post_frame(mine.stream_id, theirs.token), 401, "invalid_stream_token")


def test_paused_is_409_resume_restores_and_archived_is_410(alice):
    paired = create_and_pair(alice)
    assert post_frame(paired.stream_id, paired.token).status_code == 200

    assert alice.client.post(f"/api/v1/streams/{paired.stream_id}/pause").json()["status"] == "paused"
    assert_error(post_frame(paired.stream_id, paired.token), 409, "stream_paused")

    assert alice.client.post(f"/api/v1/streams/{paired.stream_id}/resume").json()["status"] == "active"
    assert post_frame(paired.stream_id, paired.token).status_code == 200

    assert alice.client.post(f"/api/v1/streams/{paired.stream_id}/archive").json()["status"] == "archived"
    assert_error(post_frame(paired.stream_id, paired.token), 410, "stream_archived")
    assert_error(alice.client.post(f"/api/v1/streams/{paired.stream_id}/resume"), 410, "stream_archived")
    # A bad token still learns nothing about the state.
    assert_error(post_frame(paired.stream_id, "vai_strm_" + "b" * 43), 401, "invalid_stream_token")


def test_a_state_change_in_the_database_holds_from_the_next_frame(alice):
    """Another process pausing the stream: no cache to invalidate, the row is re-read."""
    paired = create_and_pair(alice)
    assert post_frame(paired.stream_id, paired.token).status_code == 200
    Stream.objects.filter(pk=paired.stream_id).update(status=Stream.Status.PAUSED)
    assert post_frame(paired.stream_id, paired.token).status_code == 409


def test_pairing_leaves_a_proof_so_even_the_first_frame_skips_bcrypt(alice):
    paired = create_and_pair(alice)
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert checkpw.call_count == 0


def test_bcrypt_runs_once_then_a_cached_proof_is_used(alice):
    paired = create_and_pair(alice)
    cache.clear()  # the proof expired, or another deployment's cache
    _local_proofs.clear()
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        for _ in range(3):
            assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert checkpw.call_count == 1

    # The proof is keyed by a digest of the token, never the token itself.
    stream = Stream.objects.get(pk=paired.stream_id)
    digest = hashlib.sha256(paired.token.encode()).hexdigest()
    assert cache.get(f"streams:proof:{stream.pk}:{stream.token_version}:{digest}") == 1


def test_a_wrong_token_is_never_cached_as_proof(alice):
    paired = create_and_pair(alice)
    # Paired before token fingerprints, so wrong tokens reach bcrypt (see
    # tests/test_streams_wrong_tokens_cost_no_bcrypt.py for streams with one).
    Stream.objects.filter(pk=paired.stream_id).update(token_fingerprint=None)
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        for _ in range(2):
            assert post_frame(paired.stream_id, "vai_strm_" + "c" * 43).status_code == 401
    assert checkpw.call_count == 2


def test_frames_are_billed_to_the_streams_customer_and_capped(alice, settings):
    paired = create_and_pair(alice)
    plan = Plan.objects.create(name="tiny", monthly_verification_limit=2)
    alice.customer.subscription.plan = plan
    alice.customer.subscription.save()

    assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert usage_this_period(alice.customer) == 2

    response = post_frame(paired.stream_id, paired.token)
    assert response.status_code == 429
    assert response.json() == {
        "error": "Monthly verification limit reached for your plan.",
        "code": "usage_limit_exceeded",
        "status": 429,
        "current_usage": 2,
        "limit": 2,
        "upgrade_url": settings.VERIFYAI_UPGRADE_URL,
    }
    assert int(response["Retry-After"]) >= 1
    assert Verification.objects.filter(stream_id=paired.stream_id).count() == 2
    assert UsageCounter.objects.get(period_start=current_period_start()).count == 2


def test_frames_share_the_plans_rate_limit(alice):
    paired = create_and_pair(alice)
    plan = Plan.objects.create(name="slow", monthly_verification_limit=100, requests_per_minute=2)
    alice.customer.subscription.plan = plan
    alice.customer.subscription.save()

    first = post_frame(paired.stream_id, paired.token)
    assert first.status_code == 200
    assert first["X-RateLimit-Limit"] == "2"
    assert post_frame(paired.stream_id, paired.token).status_code == 200
    limited = post_frame(paired.stream_id, paired.token)
    assert_error(limited, 429, "rate_limited")
    assert "Retry-After" in limited


def test_no_active_subscription_is_403(alice):
    paired = create_and_pair(alice)
    alice.customer.subscription.status = "canceled"
    alice.customer.subscription.save()
    assert_error(post_frame(paired.stream_id, paired.token), 403, "no_active_subscription")


def test_last_frame_at_is_recorded_at_most_once_a_second(alice):
    paired = create_and_pair(alice)
    assert Stream.objects.get(pk=paired.stream_id).last_frame_at is None
    post_frame(paired.stream_id, paired.token)
    first = Stream.objects.get(pk=paired.stream_id).last_frame_at
    assert first is not None and timezone.now() - first < dt.timedelta(seconds=5)
    post_frame(paired.stream_id, paired.token)
    assert Stream.objects.get(pk=paired.stream_id).last_frame_at == first


def test_a_failing_last_frame_write_never_fails_the_frame(alice):
    from django.db import DatabaseError

    paired = create_and_pair(alice)
    with mock.patch("django.db.models.query.QuerySet.update", side_effect=DatabaseError("down")):
        response = post_frame(paired.stream_id, paired.token)
    # The usage release path uses update() too, but only on a failed evaluation.
    assert response.status_code == 200


def test_wrong_tokens_get_a_few_bcrypt_checks_a_minute_and_valid_proofs_keep_working(alice):
    from streams.services import MAX_FAILED_TOKEN_CHECKS_PER_MINUTE

    paired = create_and_pair(alice)
    Stream.objects.filter(pk=paired.stream_id).update(token_fingerprint=None)  # paired before them
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        for _ in range(MAX_FAILED_TOKEN_CHECKS_PER_MINUTE + 3):
            assert post_frame(paired.stream_id, "vai_strm_" + "d" * 43).status_code == 401
        assert post_frame(paired.stream_id, paired.token).status_code == 200  # its proof is cached
    assert checkpw.call_count == MAX_FAILED_TOKEN_CHECKS_PER_MINUTE


def test_a_frame_costs_a_fixed_handful_of_queries(alice, django_assert_max_num_queries):
    paired = create_and_pair(alice)
    post_frame(paired.stream_id, paired.token)  # last_frame_at written; the next frame skips it
    # stream row (with plan and policy), usage reservation, verification insert, webhook
    # endpoints, plus the savepoint pair of verify_image's transaction (BEGIN/COMMIT outside tests)
    with django_assert_max_num_queries(6) as captured:
        assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert sum("streams_stream" in q["sql"] for q in captured.captured_queries) == 1
    assert not any('FROM "policies_policy"' in q["sql"] for q in captured.captured_queries)

    # A camera at 1 fps: each frame is a second after the last, so last_frame_at is written
    # too (the spec updates it on every frame post): one more statement, no more.
    Stream.objects.filter(pk=paired.stream_id).update(last_frame_at=timezone.now() - dt.timedelta(seconds=2))
    with django_assert_max_num_queries(7) as captured:
        assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert sum("streams_stream" in q["sql"] for q in captured.captured_queries) == 2


def test_another_processs_proof_in_the_shared_cache_is_honoured(alice):
    paired = create_and_pair(alice)
    _local_proofs.clear()  # this process has never seen the token; the pairing one did
    with mock.patch("bcrypt.checkpw", wraps=bcrypt.checkpw) as checkpw:
        assert post_frame(paired.stream_id, paired.token).status_code == 200
    assert checkpw.call_count == 0
