"""GET /api/v1/verifications: a customer's past verifications, newest first, page by page."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import make_photo
from tests.verify_support import assert_error
from verifications.models import Verification

URL = "/api/v1/verifications"
T0 = dt.datetime(2026, 1, 10, 14, 30, tzinfo=dt.UTC)
_seq = itertools.count()


def make_verification(customer, *, created_at=None, **fields) -> Verification:
    """A stored verification, written straight through the ORM."""
    values = {
        "policy_slug": "scooter_parking",
        "status": Verification.Status.SUCCESS,
        "is_compliant": False,
        "created_at": created_at or T0 + dt.timedelta(seconds=next(_seq)),
    }
    values.update(fields)
    return Verification.objects.create(customer=customer, **values)




def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


def test_the_list_answers_data_has_more_and_next_cursor(alice):
    verification = make_verification(alice.customer, metadata={"device_id": "dev_123"})

    response = alice.client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "has_more", "next_cursor"}
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    [item] = body["data"]
    assert item["id"] == verification.id
    assert item["policy"] == "scooter_parking"
    assert item["status"] == "success"
    assert item["metadata"] == {"device_id": "dev_123"}
    for field in ("created_at", "is_compliant", "confidence", "violation_reasons", "feedback", "image_url"):
        assert field in item


def test_an_account_without_verifications_gets_an_empty_page(alice):
    response = alice.client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False, "next_cursor": None}


def test_the_default_page_holds_twenty_items(alice):
    for _ in range(21):
        make_verification(alice.customer)

    body = alice.client.get(URL).json()

    assert len(body["data"]) == 20
    assert body["has_more"] is True
    assert body["next_cursor"]


def test_a_page_holds_at_most_one_hundred_items(alice):
    Verification.objects.bulk_create(
        Verification(
            customer=alice.customer,
            policy_slug="scooter_parking",
            status="success",
            created_at=T0 + dt.timedelta(seconds=i),
        )
        for i in range(101)
    )

    body = alice.client.get(URL, {"limit": 100}).json()

    assert len(body["data"]) == 100
    assert body["has_more"] is True


@pytest.mark.parametrize("limit", ["101", "0", "-1", "many"])
def test_a_limit_outside_one_to_one_hundred_is_refused(alice, limit):
    response = alice.client.get(URL, {"limit": limit})

    body = assert_error(response, 400, "invalid_request")
    assert "limit" in body["error"]


def test_newest_verifications_come_first(alice):
    old = make_verification(alice.customer, created_at=T0)
    new = make_verification(alice.customer, created_at=T0 + dt.timedelta(hours=1))
    middle = make_verification(alice.customer, created_at=T0 + dt.timedelta(minutes=30))

    assert ids(alice.client.get(URL)) == [new.id, middle.id, old.id]


def test_the_policy_filter_keeps_only_that_policy(alice):
    scooter = make_verification(alice.customer, policy_slug="scooter_parking")
    make_verification(alice.customer, policy_slug="delivery_pod")

    assert ids(alice.client.get(URL, {"policy": "scooter_parking"})) == [scooter.id]
    assert ids(alice.client.get(URL, {"policy": "no_such_policy"})) == []


def test_the_status_filter_keeps_only_that_status(alice):
    make_verification(alice.customer, status="success")
    failed = make_verification(alice.customer, status="error")

    assert ids(alice.client.get(URL, {"status": "error"})) == [failed.id]


def test_an_unknown_status_is_refused(alice):
    assert_error(alice.client.get(URL, {"status": "pending"}), 400, "invalid_request")


@pytest.mark.parametrize(
    ("value", "compliant"), [("true", True), ("false", False), ("True", True), ("0", False)]
)
def test_the_is_compliant_filter_keeps_matching_results(alice, value, compliant):
    passed = make_verification(alice.customer, is_compliant=True)
    failed = make_verification(alice.customer, is_compliant=False)

    expected = [passed.id] if compliant else [failed.id]
    assert ids(alice.client.get(URL, {"is_compliant": value})) == expected


def test_a_non_boolean_is_compliant_is_refused(alice):
    assert_error(alice.client.get(URL, {"is_compliant": "maybe"}), 400, "invalid_request")


def _around_the_tenth(customer) -> dict[str, Verification]:
    def at(*parts: int) -> dt.datetime:
        return dt.datetime(*parts, tzinfo=dt.UTC)

    return {
        "day_before": make_verification(customer, created_at=at(2026, 1, 9, 23, 59)),
        "morning": make_verification(customer, created_at=at(2026, 1, 10, 0, 0)),
        "late": make_verification(customer, created_at=at(2026, 1, 10, 23, 59, 59)),
        "next_day": make_verification(customer, created_at=at(2026, 1, 11, 0, 0)),
    }


def test_a_start_date_keeps_items_from_the_start_of_that_day(alice):
    v = _around_the_tenth(alice.customer)

    response = alice.client.get(URL, {"start_date": "2026-01-10"})

    assert ids(response) == [v["next_day"].id, v["late"].id, v["morning"].id]


def test_an_end_date_given_as_a_date_includes_that_whole_day(alice):
    v = _around_the_tenth(alice.customer)

    on_the_day = alice.client.get(URL, {"start_date": "2026-01-10", "end_date": "2026-01-10"})
    assert ids(on_the_day) == [v["late"].id, v["morning"].id]
    assert ids(alice.client.get(URL, {"end_date": "2026-01-09"})) == [v["day_before"].id]


def test_date_filters_accept_iso_date_times(alice):
    early = make_verification(alice.customer, created_at=T0)
    noon = make_verification(alice.customer, created_at=T0 + dt.timedelta(hours=1))
    make_verification(alice.customer, created_at=T0 + dt.timedelta(hours=2))

    response = alice.client.get(
        URL, {"start_date": "2026-01-10T14:30:00Z", "end_date": "2026-01-10T16:30:00+00:00"}
    )

    assert ids(response) == [noon.id, early.id]


def test_date_time_filters_honour_their_utc_offset(alice):
    at_t0 = make_verification(alice.customer, created_at=T0)  # 14:30Z == 16:30+02:00

    assert ids(alice.client.get(URL, {"start_date": "2026-01-10T16:30:00+02:00"})) == [at_t0.id]
    assert ids(alice.client.get(URL, {"start_date": "2026-01-10T16:31:00+02:00"})) == []


@pytest.mark.parametrize("param", ["start_date", "end_date"])
def test_a_date_that_is_not_iso_8601_is_refused(alice, param):
    body = assert_error(alice.client.get(URL, {param: "10/01/2026"}), 400, "invalid_request")
    assert param in body["error"]


@pytest.mark.parametrize("value", ["2026-02-30", "2026-01-10T25:00:00Z"])
def test_an_impossible_calendar_date_is_refused_not_a_crash(alice, value):
    assert_error(alice.client.get(URL, {"start_date": value}), 400, "invalid_request")


@pytest.mark.parametrize("cursor", ["not-a-cursor", "!!!", "aGVsbG8", "2026-13-45T99:00:00Z"])
def test_a_cursor_this_api_did_not_hand_out_is_refused(alice, cursor):
    make_verification(alice.customer)

    assert_error(alice.client.get(URL, {"cursor": cursor}), 400, "invalid_cursor")


def test_a_bare_iso_timestamp_cursor_lists_items_created_before_it(alice):
    older = make_verification(alice.customer, created_at=T0)
    at_cursor = make_verification(alice.customer, created_at=T0 + dt.timedelta(minutes=1))
    make_verification(alice.customer, created_at=T0 + dt.timedelta(minutes=2))

    response = alice.client.get(URL, {"cursor": "2026-01-10T14:31:00Z"})

    assert response.status_code == 200
    assert ids(response) == [older.id]
    assert at_cursor.id not in ids(response)


def test_a_bare_timestamp_cursor_with_an_unencoded_plus_offset_still_works(alice):
    older = make_verification(alice.customer, created_at=T0)
    make_verification(alice.customer, created_at=T0 + dt.timedelta(minutes=2))

    # A client that forgot to encode "+" sends it as a space.
    response = alice.client.get(f"{URL}?cursor=2026-01-10T14:31:00+00:00")

    assert response.status_code == 200
    assert ids(response) == [older.id]


@pytest.mark.parametrize("fraction", [dt.timedelta(0), dt.timedelta(microseconds=123456)])
def test_walking_every_page_sees_each_item_once_even_when_timestamps_collide(alice, fraction):
    # 45 items: three bursts of 15 sharing one exact created_at each.
    Verification.objects.bulk_create(
        Verification(
            customer=alice.customer,
            policy_slug="scooter_parking",
            status="success",
            created_at=T0 + dt.timedelta(seconds=burst) + (fraction if burst != 1 else dt.timedelta(0)),
        )
        for burst in range(3)
        for _ in range(15)
    )
    expected = list(
        Verification.objects.filter(customer=alice.customer)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        body = alice.client.get(URL, params).json()
        pages += 1
        seen.extend(item["id"] for item in body["data"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert len(body["data"]) == 7
        cursor = body["next_cursor"]
        assert cursor
        assert pages < 20, "pagination does not terminate"

    assert pages == 7
    assert len(seen) == len(set(seen)) == 45
    assert seen == expected


def test_the_walk_keeps_its_filters_across_pages(alice):
    for i in range(10):
        make_verification(alice.customer, created_at=T0, is_compliant=bool(i % 2))

    first = alice.client.get(URL, {"limit": 3, "is_compliant": "true"}).json()
    second = alice.client.get(
        URL, {"limit": 3, "is_compliant": "true", "cursor": first["next_cursor"]}
    ).json()

    assert first["has_more"] is True and second["has_more"] is False
    page_ids = [item["id"] for item in first["data"] + second["data"]]
    assert len(set(page_ids)) == 5
    assert all(item["is_compliant"] for item in first["data"] + second["data"])


def test_a_full_last_page_reports_no_more(alice):
    for _ in range(4):
        make_verification(alice.customer)

    first = alice.client.get(URL, {"limit": 2}).json()
    second = alice.client.get(URL, {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert len(second["data"]) == 2
    assert second["has_more"] is False
    assert second["next_cursor"] is None


def test_list_items_carry_a_signed_image_url_when_an_image_was_stored(alice):
    upload = SimpleUploadedFile("photo.jpg", make_photo(), content_type="image/jpeg")
    created = alice.client.post("/api/v1/verify", {"image": upload, "policy": "scooter_parking"})
    assert created.status_code == 200, created.content

    [item] = alice.client.get(URL).json()["data"]

    assert item["id"] == created.json()["id"]
    assert "signature=" in item["image_url"] and "expires=" in item["image_url"]


def test_the_number_of_queries_does_not_grow_with_the_page_size(alice, django_assert_max_num_queries):
    Verification.objects.bulk_create(
        Verification(
            customer=alice.customer,
            policy_slug="scooter_parking",
            status="success",
            created_at=T0 + dt.timedelta(seconds=i),
            image=f"verifications/{alice.customer.pk}/img{i}.jpg",
        )
        for i in range(60)
    )
    alice.client.get(URL)  # the first use of a key records last_used_at; keep it out of the count

    with CaptureQueriesContext(connection) as small:
        assert len(alice.client.get(URL, {"limit": 2}).json()["data"]) == 2
    with CaptureQueriesContext(connection) as large:
        assert len(alice.client.get(URL, {"limit": 50}).json()["data"]) == 50

    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(6):
        alice.client.get(URL, {"limit": 100})
