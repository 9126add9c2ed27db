"""A policy write is checked as the whole policy it leaves behind, so a stored policy always reads back.

Under schemathesis, PATCH accepted list rows missing their required keys (DRF's partial mode
reaches into nested serializers), stored them, and every later read answered 500.
"""

from __future__ import annotations

import pytest

from tests.test_policies_api import CUSTOM, URL, create, custom
from tests.verify_support import assert_error


@pytest.mark.parametrize(
    "patch",
    [
        {"criteria": [{"id": "door_clear"}]},
        {"criteria": [{"description": "A criterion without its id."}]},
        {"violation_codes": [{"code": "door_blocked"}]},
        {"violation_codes": [{"description": "A code without its code."}]},
        {"categories": [{"id": "clear"}, {"id": "blocked", "is_compliant": False}]},
        {"categories": [{"is_compliant": True}, {"id": "blocked", "is_compliant": False}]},
        {"name": "Renamed", "criteria": [{}]},
    ],
)
def test_a_patch_that_leaves_an_incomplete_row_is_refused_and_the_policy_still_reads(alice, patch):
    create(alice, custom(id="warehouse_door"))
    before = alice.client.get(f"{URL}/warehouse_door").json()

    body = assert_error(
        alice.client.patch(f"{URL}/warehouse_door", patch, format="json"), 400, "invalid_request"
    )

    assert next(iter(patch.keys() - {"name"})) in body["error"]
    single = alice.client.get(f"{URL}/warehouse_door")
    assert single.status_code == 200, single.content[:300]
    assert single.json() == before  # nothing of the refused patch was stored
    listing = alice.client.get(URL)
    assert listing.status_code == 200, listing.content[:300]
    assert {p["id"]: p for p in listing.json()["data"]}["warehouse_door"] == before
    # ... and the policy can still be patched afterwards.
    again = alice.client.patch(f"{URL}/warehouse_door", {"name": "Loading door"}, format="json")
    assert again.status_code == 200, again.content[:300]
    assert again.json()["name"] == "Loading door"
    assert again.json()["criteria"] == CUSTOM["criteria"]


def test_a_patch_is_checked_against_the_stored_policy_it_completes(alice):
    categories = [{"id": "clear", "is_compliant": True}, {"id": "blocked", "is_compliant": False}]
    create(alice, custom(id="warehouse_door", categories=categories))

    # Renaming the criteria keeps the stored categories; the merged policy is valid.
    response = alice.client.patch(
        f"{URL}/warehouse_door",
        {"criteria": [{"id": "door_shut", "description": "The door is shut."}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["criteria"] == [{"id": "door_shut", "description": "The door is shut."}]
    assert [c["id"] for c in body["categories"]] == ["clear", "blocked"]
    assert body["violation_codes"] == CUSTOM["violation_codes"]
    assert body["description"] == CUSTOM["description"]


def test_a_patch_body_that_is_not_an_object_is_refused(alice):
    create(alice, custom(id="warehouse_door"))

    assert_error(
        alice.client.patch(f"{URL}/warehouse_door", [{"name": "x"}], format="json"), 400, "invalid_request"
    )
    assert alice.client.get(f"{URL}/warehouse_door").status_code == 200


def test_a_policy_stored_by_the_old_patch_bug_is_repaired_and_reads_again(alice):
    import importlib

    from django.apps import apps

    from policies.models import Policy

    create(alice, custom(id="warehouse_door"))
    # What the old partial PATCH stored: rows missing required keys.
    Policy.objects.filter(policy_id="warehouse_door").update(
        criteria=[{"id": "door_clear"}, {"description": "no id"}],
        violation_codes=[{"code": "door_blocked"}],
        categories=[{"id": "clear", "is_compliant": True}, {"id": "blocked"}],
    )
    assert alice.client.get(f"{URL}/warehouse_door").status_code == 500

    importlib.import_module("policies.migrations.0002_repair_incomplete_rows").repair(apps, None)

    response = alice.client.get(f"{URL}/warehouse_door")
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["criteria"] == [{"id": "door_clear", "description": "door_clear"}]
    assert body["violation_codes"] == [{"code": "door_blocked", "description": "door_blocked"}]
    assert [(c["id"], c["is_compliant"]) for c in body["categories"]] == [("clear", True), ("blocked", False)]
    assert alice.client.patch(f"{URL}/warehouse_door", {"name": "Fixed"}, format="json").status_code == 200
    assert alice.client.get(URL).status_code == 200


def test_every_builtin_policy_passes_the_same_checks_as_a_customer_policy(db):
    from policies.api.serializers import PolicySerializer
    from policies.models import Policy

    for policy in Policy.objects.filter(customer__isnull=True):
        data = PolicySerializer(policy).data
        serializer = PolicySerializer(data={k: v for k, v in data.items() if k != "builtin"})
        assert serializer.is_valid(), (policy.policy_id, serializer.errors)
