"""One customer never sees, changes or even confirms the existence of another's things."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_photo
from tests.verify_support import assert_error
from verifications.models import Verification

T0 = dt.datetime(2026, 1, 10, 14, 30, tzinfo=dt.UTC)

POLICY = {
    "id": "warehouse_door",
    "name": "Warehouse door",
    "criteria": [{"id": "door_clear", "description": "The door is not blocked."}],
    "violation_codes": [{"code": "door_blocked", "description": "Something blocks the door."}],
}


def assert_not_found(response) -> None:
    assert_error(response, 404, "not_found")


def store(customer, **fields) -> Verification:
    values = {"policy_slug": "scooter_parking", "status": "success", "created_at": T0} | fields
    return Verification.objects.create(customer=customer, **values)


@pytest.fixture
def alices_policy(alice) -> dict:
    response = alice.client.post("/api/v1/policies", POLICY, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_another_customers_verification_is_not_found_rather_than_forbidden(alice, bob):
    verification = store(alice.customer)

    assert_not_found(bob.client.get(f"/api/v1/verifications/{verification.id}"))
    assert alice.client.get(f"/api/v1/verifications/{verification.id}").status_code == 200


def test_the_not_found_answer_is_the_same_as_for_an_id_that_never_existed(alice, bob):
    verification = store(alice.customer)

    theirs = bob.client.get(f"/api/v1/verifications/{verification.id}").json()
    missing = bob.client.get("/api/v1/verifications/ver_0000000000000000").json()

    assert theirs["code"] == missing["code"]
    assert theirs["status"] == missing["status"]
    assert theirs["error"].replace(verification.id, "<id>") == missing["error"].replace(
        "ver_0000000000000000", "<id>"
    )


def test_another_customers_verified_photo_is_not_found(alice, bob):
    upload = SimpleUploadedFile("photo.jpg", make_photo(), content_type="image/jpeg")
    created = alice.client.post("/api/v1/verify", {"image": upload, "policy": "scooter_parking"})
    assert created.status_code == 200, created.content

    assert_not_found(bob.client.get(f"/api/v1/verifications/{created.json()['id']}"))
    assert bob.client.get("/api/v1/verifications").json()["data"] == []


def test_the_list_shows_only_the_callers_own_verifications(alice, bob):
    alices = {store(alice.customer, created_at=T0 + dt.timedelta(seconds=i)).id for i in range(5)}
    bobs = {store(bob.customer, created_at=T0 + dt.timedelta(seconds=i)).id for i in range(3)}

    bob_sees = {item["id"] for item in bob.client.get("/api/v1/verifications").json()["data"]}
    alice_sees = {item["id"] for item in alice.client.get("/api/v1/verifications").json()["data"]}

    assert bob_sees == bobs
    assert alice_sees == alices


@pytest.mark.parametrize(
    "params",
    [
        {"policy": "scooter_parking"},
        {"policy": "warehouse_door"},
        {"status": "success"},
        {"is_compliant": "true"},
        {"is_compliant": "false"},
        {"start_date": "2000-01-01"},
        {"end_date": "2100-01-01"},
        {"cursor": "2100-01-01T00:00:00Z"},
        {"limit": "100"},
    ],
)
def test_no_filter_lets_another_customers_verifications_through(alice, bob, params):
    store(alice.customer, is_compliant=True)
    store(alice.customer, is_compliant=False, policy_slug="warehouse_door")

    response = bob.client.get("/api/v1/verifications", params)

    assert response.status_code == 200
    assert response.json()["data"] == []


def test_a_cursor_from_another_customers_list_shows_nothing_of_theirs(alice, bob):
    for i in range(4):
        store(alice.customer, created_at=T0 + dt.timedelta(seconds=i))
    alice_page = alice.client.get("/api/v1/verifications", {"limit": 2}).json()
    mine = store(bob.customer, created_at=T0 - dt.timedelta(days=1))

    response = bob.client.get("/api/v1/verifications", {"cursor": alice_page["next_cursor"]})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["data"]] == [mine.id]


def test_another_customers_policy_is_not_found_for_read_update_and_delete(alice, bob, alices_policy):
    url = f"/api/v1/policies/{alices_policy['id']}"

    assert_not_found(bob.client.get(url))
    assert_not_found(bob.client.patch(url, {"name": "Hijacked"}, format="json"))
    assert_not_found(bob.client.put(url, POLICY | {"name": "Hijacked"}, format="json"))
    assert_not_found(bob.client.delete(url))

    still = alice.client.get(url)
    assert still.status_code == 200
    assert still.json()["name"] == "Warehouse door"


def test_another_customers_policy_is_not_in_the_policy_list(alice, bob, alices_policy):
    bob_ids = {p["id"] for p in bob.client.get("/api/v1/policies").json()["data"]}
    alice_ids = {p["id"] for p in alice.client.get("/api/v1/policies").json()["data"]}

    assert alices_policy["id"] in alice_ids
    assert alices_policy["id"] not in bob_ids


def test_another_customers_policy_cannot_be_used_to_verify(alice, bob, alices_policy):
    upload = SimpleUploadedFile("photo.jpg", make_photo(), content_type="image/jpeg")

    response = bob.client.post("/api/v1/verify", {"image": upload, "policy": alices_policy["id"]})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_policy"


def test_a_second_customer_may_use_the_same_policy_id_and_gets_a_policy_of_his_own(
    alice, bob, alices_policy
):
    bobs = bob.client.post(
        "/api/v1/policies", POLICY | {"name": "Bob's door"}, format="json"
    )

    assert bobs.status_code == 201, bobs.content
    assert bobs.json()["id"] == alices_policy["id"]
    assert bob.client.get(f"/api/v1/policies/{POLICY['id']}").json()["name"] == "Bob's door"
    assert alice.client.get(f"/api/v1/policies/{POLICY['id']}").json()["name"] == "Warehouse door"

    assert bob.client.delete(f"/api/v1/policies/{POLICY['id']}").status_code == 204
    assert alice.client.get(f"/api/v1/policies/{POLICY['id']}").status_code == 200


def test_an_idempotency_key_used_by_another_customer_never_replays_their_answer(alice, bob):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared-key-0001"}
    alices = alice.client.post("/api/v1/policies", POLICY, format="json", **headers)
    assert alices.status_code == 201

    bobs = bob.client.post("/api/v1/policies", POLICY | {"name": "Bob's door"}, format="json", **headers)

    assert bobs.status_code == 201, bobs.content
    assert bobs.get("Idempotent-Replayed") is None
    assert bobs.json()["name"] == "Bob's door"
    assert bobs["X-Request-Id"] != alices["X-Request-Id"]
    assert bob.client.get(f"/api/v1/policies/{POLICY['id']}").json()["name"] == "Bob's door"
