"""Who may call POST /api/v1/verify: a live VerifyAI key of a customer with an active subscription."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import DatabaseError

from billing.models import ApiKey, Subscription
from billing.services import hash_api_key, revoke_api_key
from tests.verify_support import (
    assert_error,
    nothing_stored,
    post_multipart,
)


def test_the_x_api_key_header_authenticates(alice, photo):
    assert post_multipart(alice.client, photo).status_code == 200


def test_a_bearer_token_with_the_same_key_authenticates(alice, anonymous, photo):
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.api_key}")

    assert post_multipart(anonymous, photo).status_code == 200


def test_no_key_at_all_is_401_missing_api_key(alice, anonymous, photo):
    with nothing_stored(alice.customer):
        response = post_multipart(anonymous, photo)

    assert_error(response, 401, "missing_api_key")


def test_an_authorization_header_that_is_not_bearer_counts_as_missing(alice, anonymous, photo):
    anonymous.credentials(HTTP_AUTHORIZATION=f"Basic {alice.api_key}")

    with nothing_stored(alice.customer):
        response = post_multipart(anonymous, photo)

    assert_error(response, 401, "missing_api_key")


@pytest.mark.parametrize(
    "key",
    ["vai_thisIsNot-aRealKeyAtAll0123456789ab", "not-even-a-vai-key", "vai_"],
)
def test_a_wrong_key_is_401_invalid_api_key(alice, anonymous, photo, key):
    anonymous.credentials(HTTP_X_API_KEY=key)

    with nothing_stored(alice.customer):
        response = post_multipart(anonymous, photo)

    assert_error(response, 401, "invalid_api_key")


def test_a_wrong_bearer_token_is_401_invalid_api_key(alice, anonymous, photo):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer vai_wrong-wrong-wrong-wrong-wrong-wrong")

    response = post_multipart(anonymous, photo)

    assert_error(response, 401, "invalid_api_key")


def test_a_revoked_key_is_401(alice, photo):
    revoke_api_key(api_key=ApiKey.objects.get(customer=alice.customer))

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo)

    assert_error(response, 401, "invalid_api_key")


def test_a_stream_token_is_never_an_api_key(alice, anonymous, photo):
    # Even if a row with its digest existed, a vai_strm_ token must not open the API.
    token = "vai_strm_" + "s" * 32
    ApiKey.objects.create(
        customer=alice.customer, name="x", prefix=token[:12], key_hash=hash_api_key(token)
    )
    anonymous.credentials(HTTP_X_API_KEY=token)

    with nothing_stored(alice.customer):
        response = post_multipart(anonymous, photo)

    assert_error(response, 401, "invalid_api_key")


def test_a_stream_token_as_bearer_is_401(alice, anonymous, photo):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer vai_strm_" + "t" * 32)

    response = post_multipart(anonymous, photo)

    assert_error(response, 401, "invalid_api_key")


@pytest.mark.parametrize("status", [Subscription.Status.CANCELED, Subscription.Status.PAST_DUE])
def test_an_inactive_subscription_is_403_no_active_subscription_with_an_upgrade_url(
    alice, photo, settings, status
):
    Subscription.objects.filter(customer=alice.customer).update(status=status)

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo)

    assert_error(response, 403, "no_active_subscription", upgrade_url=settings.VERIFYAI_UPGRADE_URL)


def test_a_customer_without_a_subscription_is_403_no_active_subscription(alice, photo, settings):
    Subscription.objects.filter(customer=alice.customer).delete()

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo)

    assert_error(response, 403, "no_active_subscription", upgrade_url=settings.VERIFYAI_UPGRADE_URL)


def test_a_key_for_another_product_is_403_wrong_product(alice, photo, settings):
    ApiKey.objects.filter(customer=alice.customer).update(product="streams")

    with nothing_stored(alice.customer):
        response = post_multipart(alice.client, photo)

    assert_error(response, 403, "wrong_product", upgrade_url=settings.VERIFYAI_UPGRADE_URL)


def test_authentication_errors_carry_a_request_id_and_www_authenticate(anonymous, photo, db):
    response = post_multipart(anonymous, photo)

    assert response["X-Request-Id"]
    assert response.get("WWW-Authenticate")


def test_a_failing_last_used_write_never_refuses_the_request(alice):
    # Only the best-effort last_used_at write uses QuerySet.update on this path.
    with mock.patch("django.db.models.query.QuerySet.update", side_effect=DatabaseError("down")):
        response = alice.client.get("/api/v1/usage")

    assert response.status_code == 200
