"""/api/v1/policies: the built-in policies, and customers' own policies."""

from __future__ import annotations

import copy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_flat, make_photo
from tests.verify_support import assert_error

URL = "/api/v1/policies"

BUILTIN_IDS = {
    "scooter_parking",
    "bike_parking",
    "forest_green_bay",
    "forest_designated_bay",
    "pol_forest1",
    "damage_detection",
    "delivery_pod",
}

# Exactly as the public API documentation (001) lists them, in its order.
DOCUMENTED_CODES = {
    "scooter_parking": [
        "no_vehicle_visible", "vehicle_fallen", "kickstand_up", "blocking_sidewalk",
        "blocking_entrance", "not_designated_area", "in_roadway", "not_secured_to_rack",
        "image_unclear",
    ],
    "damage_detection": [
        "scratches", "dents", "cracks", "broken_parts", "flat_tire", "missing_components",
        "structural_damage", "electrical_damage",
    ],
    "delivery_pod": [
        "no_package_visible", "not_at_door", "exposed_to_weather", "package_damaged",
        "blocking_path", "image_unclear",
    ],
}

DEFAULT_CATEGORIES = {"compliant": True, "improvable": True, "unsafe": False, "lacks_info": False}

CUSTOM = {
    "name": "Warehouse door",
    "description": "Nothing may block the loading door.",
    "criteria": [{"id": "door_clear", "description": "The loading door is not blocked."}],
    "violation_codes": [
        {"code": "door_blocked", "description": "Something blocks the door."},
        {"code": "image_unclear", "description": "The photo is too unclear to judge."},
    ],
}


def custom(**overrides) -> dict:
    return copy.deepcopy(CUSTOM) | overrides




def create(cast, payload: dict):
    return cast.client.post(URL, payload, format="json")


def listed(cast) -> dict[str, dict]:
    response = cast.client.get(URL)
    assert response.status_code == 200
    return {policy["id"]: policy for policy in response.json()["data"]}


# --- the built-ins -----------------------------------------------------------


def test_the_list_includes_the_seven_builtin_policies(alice):
    policies = listed(alice)

    assert set(policies) == BUILTIN_IDS
    for policy in policies.values():
        assert policy["builtin"] is True
        assert policy["name"]
        assert policy["criteria"] and all({"id", "description"} <= set(c) for c in policy["criteria"])
        assert policy["violation_codes"]
        assert all({"code", "description"} <= set(v) for v in policy["violation_codes"])
        assert policy["categories"]


@pytest.mark.parametrize("policy_id", sorted(DOCUMENTED_CODES))
def test_documented_builtins_have_exactly_the_documented_violation_codes(alice, policy_id):
    policy = listed(alice)[policy_id]

    assert [v["code"] for v in policy["violation_codes"]] == DOCUMENTED_CODES[policy_id]


@pytest.mark.parametrize("policy_id", sorted(BUILTIN_IDS))
def test_builtins_use_the_four_default_categories(alice, policy_id):
    policy = alice.client.get(f"{URL}/{policy_id}").json()

    assert {c["id"]: c["is_compliant"] for c in policy["categories"]} == DEFAULT_CATEGORIES


def test_a_builtin_can_be_read_by_its_id(alice):
    response = alice.client.get(f"{URL}/delivery_pod")

    assert response.status_code == 200
    assert response.json()["id"] == "delivery_pod"
    assert response.json()["builtin"] is True


def test_an_unknown_policy_id_is_not_found(alice):
    assert_error(alice.client.get(f"{URL}/no_such_policy"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "payload"),
    [
        ("patch", {"name": "Mine now"}),
        ("put", CUSTOM),
        ("put", {}),
        ("patch", {"criteria": []}),
    ],
)
def test_builtins_cannot_be_modified(alice, method, payload):
    response = getattr(alice.client, method)(f"{URL}/scooter_parking", payload, format="json")

    assert_error(response, 403, "builtin_policy_read_only")
    assert listed(alice)["scooter_parking"]["name"] == "Scooter Parking Compliance"


def test_builtins_cannot_be_deleted(alice):
    assert_error(alice.client.delete(f"{URL}/damage_detection"), 403, "builtin_policy_read_only")
    assert "damage_detection" in listed(alice)


def test_a_custom_policy_cannot_take_a_builtins_id(alice):
    body = assert_error(create(alice, custom(id="scooter_parking")), 409, "conflict")

    assert "scooter_parking" in body["error"]
    assert [p for p in listed(alice).values() if not p["builtin"]] == []


# --- customers' own policies -----------------------------------------------------


def test_a_custom_policy_is_created_with_the_id_it_asks_for(alice):
    response = create(alice, custom(id="warehouse_door"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == "warehouse_door"
    assert body["builtin"] is False
    assert body["name"] == "Warehouse door"
    assert [v["code"] for v in body["violation_codes"]] == ["door_blocked", "image_unclear"]
    assert listed(alice)["warehouse_door"]["builtin"] is False


def test_a_custom_policy_without_an_id_gets_a_generated_pol_id(alice):
    first = create(alice, custom())
    second = create(alice, custom())

    assert first.status_code == second.status_code == 201
    first_id, second_id = first.json()["id"], second.json()["id"]
    assert first_id.startswith("pol_") and second_id.startswith("pol_")
    assert first_id != second_id
    assert alice.client.get(f"{URL}/{first_id}").status_code == 200


def test_a_custom_policy_gets_the_default_categories_unless_it_names_its_own(alice):
    default = create(alice, custom()).json()
    assert {c["id"]: c["is_compliant"] for c in default["categories"]} == DEFAULT_CATEGORIES

    categories = [
        {"id": "clear", "is_compliant": True, "description": "The door is clear."},
        {"id": "blocked", "is_compliant": False, "description": "The door is blocked."},
        {"id": "cannot_tell", "is_compliant": False},
    ]
    own = create(alice, custom(categories=categories))

    assert own.status_code == 201, own.content
    assert [(c["id"], c["is_compliant"]) for c in own.json()["categories"]] == [
        ("clear", True), ("blocked", False), ("cannot_tell", False)
    ]


def test_the_same_id_twice_for_one_customer_is_a_conflict(alice):
    assert create(alice, custom(id="warehouse_door")).status_code == 201

    assert_error(create(alice, custom(id="warehouse_door")), 409, "conflict")


@pytest.mark.parametrize(
    ("case", "payload"),
    [
        ("no criteria", custom(criteria=[])),
        ("criteria missing", {k: v for k, v in CUSTOM.items() if k != "criteria"}),
        ("violation codes missing", {k: v for k, v in CUSTOM.items() if k != "violation_codes"}),
        ("name missing", {k: v for k, v in CUSTOM.items() if k != "name"}),
        (
            "duplicate codes",
            custom(violation_codes=[{"code": "x_1", "description": "a"}, {"code": "x_1", "description": "b"}]),
        ),
        (
            "duplicate criteria",
            custom(criteria=[{"id": "c1", "description": "a"}, {"id": "c1", "description": "b"}]),
        ),
        ("only compliant categories", custom(categories=[{"id": "ok", "is_compliant": True}])),
        (
            "only non-compliant categories",
            custom(categories=[{"id": "bad", "is_compliant": False}, {"id": "worse", "is_compliant": False}]),
        ),
        ("no categories", custom(categories=[])),
        (
            "duplicate categories",
            custom(categories=[
                {"id": "ok", "is_compliant": True},
                {"id": "ok", "is_compliant": False},
            ]),
        ),
        ("upper-case id", custom(id="Warehouse")),
        ("id with spaces", custom(id="warehouse door")),
        ("one-character id", custom(id="w")),
        ("id starting with an underscore", custom(id="_warehouse")),
        ("id too long", custom(id="w" * 65)),
        ("bad code", custom(violation_codes=[{"code": "Door Blocked", "description": "x"}])),
        ("unknown provider", custom(default_provider="skynet")),
    ],
)
def test_an_invalid_policy_is_refused(alice, case, payload):
    assert_error(create(alice, payload), 400, "invalid_request")
    assert [p for p in listed(alice).values() if not p["builtin"]] == []


def test_a_custom_policy_can_be_patched(alice):
    create(alice, custom(id="warehouse_door"))

    response = alice.client.patch(
        f"{URL}/warehouse_door",
        {"name": "Loading door", "violation_codes": [{"code": "door_open", "description": "Left open."}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Loading door"
    assert [v["code"] for v in body["violation_codes"]] == ["door_open"]
    assert body["criteria"] == CUSTOM["criteria"]  # untouched
    assert alice.client.get(f"{URL}/warehouse_door").json()["name"] == "Loading door"


def test_a_custom_policy_can_be_replaced_with_put(alice):
    create(alice, custom(id="warehouse_door"))
    replacement = custom(
        name="Loading door",
        criteria=[{"id": "door_shut", "description": "The door is shut."}],
    )

    response = alice.client.put(f"{URL}/warehouse_door", replacement, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == "warehouse_door"
    assert response.json()["criteria"] == replacement["criteria"]


def test_an_update_must_still_be_a_valid_policy(alice):
    create(alice, custom(id="warehouse_door"))

    assert_error(
        alice.client.patch(f"{URL}/warehouse_door", {"criteria": []}, format="json"), 400, "invalid_request"
    )
    assert alice.client.get(f"{URL}/warehouse_door").json()["criteria"] == CUSTOM["criteria"]


def test_a_policy_id_cannot_be_changed(alice):
    create(alice, custom(id="warehouse_door"))

    assert_error(
        alice.client.patch(f"{URL}/warehouse_door", {"id": "front_door"}, format="json"),
        400,
        "invalid_request",
    )
    assert_error(
        alice.client.put(f"{URL}/warehouse_door", custom(id="front_door"), format="json"),
        400,
        "invalid_request",
    )
    assert alice.client.get(f"{URL}/warehouse_door").status_code == 200
    assert_error(alice.client.get(f"{URL}/front_door"), 404, "not_found")


def test_repeating_the_same_id_in_an_update_is_fine(alice):
    create(alice, custom(id="warehouse_door"))

    response = alice.client.patch(f"{URL}/warehouse_door", {"id": "warehouse_door", "name": "X"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "X"


def test_a_custom_policy_can_be_deleted(alice):
    create(alice, custom(id="warehouse_door"))

    response = alice.client.delete(f"{URL}/warehouse_door")

    assert response.status_code == 204
    assert response.content == b""
    assert_error(alice.client.get(f"{URL}/warehouse_door"), 404, "not_found")
    assert_error(alice.client.delete(f"{URL}/warehouse_door"), 404, "not_found")
    assert "warehouse_door" not in listed(alice)


# --- custom policies at work ---------------------------------------------------------


def verify(cast, policy: str, image: bytes):
    upload = SimpleUploadedFile("photo.jpg", image, content_type="image/jpeg")
    return cast.client.post("/api/v1/verify", {"image": upload, "policy": policy})


def test_a_verification_against_a_custom_policy_uses_its_codes_and_categories(alice):
    categories = [
        {"id": "door_clear", "is_compliant": True},
        {"id": "needs_review", "is_compliant": False},
    ]
    create(alice, custom(id="warehouse_door", categories=categories))

    # A blank photo: the local evaluator can only say it is unclear.
    response = verify(alice, "warehouse_door", make_flat((10, 10, 10)))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["policy"] == "warehouse_door"
    assert body["status"] == "success"
    assert body["is_compliant"] is False
    assert body["category"] == "needs_review"
    assert body["violation_reasons"] == ["image_unclear"]


def test_a_custom_policy_without_image_unclear_never_reports_that_code(alice):
    create(alice, custom(id="warehouse_door", violation_codes=[{"code": "door_blocked", "description": "x"}]))

    response = verify(alice, "warehouse_door", make_flat((10, 10, 10)))

    assert response.status_code == 200, response.content
    assert response.json()["violation_reasons"] == []
    assert response.json()["category"] == "lacks_info"


def test_an_unknown_policy_cannot_be_used_to_verify(alice):
    assert_error(verify(alice, "no_such_policy", make_photo()), 400, "unknown_policy")


def test_old_verifications_keep_their_policy_id_after_the_policy_is_deleted(alice):
    create(alice, custom(id="warehouse_door"))
    verification = verify(alice, "warehouse_door", make_photo()).json()

    assert alice.client.delete(f"{URL}/warehouse_door").status_code == 204

    [item] = alice.client.get("/api/v1/verifications").json()["data"]
    assert item["id"] == verification["id"]
    assert item["policy"] == "warehouse_door"
    filtered = alice.client.get("/api/v1/verifications", {"policy": "warehouse_door"}).json()["data"]
    assert [v["id"] for v in filtered] == [verification["id"]]
    detail = alice.client.get(f"/api/v1/verifications/{verification['id']}")
    assert detail.status_code == 200
    assert detail.json()["policy"] == "warehouse_door"


def test_a_deleted_policy_can_no_longer_be_used_to_verify(alice):
    create(alice, custom(id="warehouse_door"))
    alice.client.delete(f"{URL}/warehouse_door")

    assert_error(verify(alice, "warehouse_door", make_photo()), 400, "unknown_policy")


def test_policies_need_an_api_key(anonymous):
    response = anonymous.get(URL)

    assert_error(response, 401, "missing_api_key")


def test_a_policy_a_stream_uses_cannot_be_deleted(alice):
    from streams.models import Stream

    created = alice.client.post(
        "/api/v1/policies",
        {"name": "Gate", "criteria": [{"id": "clear", "description": "Lane is clear."}],
         "violation_codes": [{"code": "blocked", "description": "Lane is blocked."}]},
        format="json",
    ).json()
    stream = alice.client.post(
        "/api/v1/streams", {"name": "Gate camera", "policy_id": created["id"]}, format="json"
    ).json()

    response = alice.client.delete(f"/api/v1/policies/{created['id']}")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and body["streams"] == [stream["id"]]
    assert Stream.objects.get(pk=stream["id"]).policy.policy_id == created["id"]


def test_deleting_a_customer_still_removes_its_streams_and_policies(alice):
    from billing.models import Customer
    from policies.models import Policy
    from streams.models import Stream

    created = alice.client.post(
        "/api/v1/policies",
        {"name": "Gate", "criteria": [{"id": "clear", "description": "Lane is clear."}],
         "violation_codes": []},
        format="json",
    ).json()
    alice.client.post("/api/v1/streams", {"name": "Cam", "policy_id": created["id"]}, format="json")

    Customer.objects.filter(pk=alice.customer.pk).delete()

    assert not Stream.objects.exists()
    assert not Policy.objects.filter(policy_id=created["id"]).exists()
