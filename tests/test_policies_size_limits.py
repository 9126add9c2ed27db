"""Policy writes are bounded: every list and text field, and the prompt a policy produces.

Before, the lists had no length limit and uniqueness was checked with ``list.count`` in a
loop: one ~13 MB body pinned a web thread for about half an hour.
"""

from __future__ import annotations

import json

import pytest

from tests.test_policies_api import URL, create, custom, listed
from tests.verify_support import assert_error
from verifications.engine.base import PolicySpec
from verifications.engine.prompt import prompt_length, system_instructions
from verifyai import limits

ROWS = limits.POLICY_MAX_ROWS


def key(prefix: str, i: int) -> str:
    return f"{prefix}{i:03d}".ljust(limits.POLICY_MAX_KEY_LENGTH, "x")


def rows(prefix: str, n: int, description: str = "Fine.", keyname: str = "id") -> list[dict]:
    return [{keyname: f"{prefix}{i}", "description": description} for i in range(n)]


def categories(n: int) -> list[dict]:
    return [{"id": f"k{i}", "is_compliant": i % 2 == 0} for i in range(n)]


def nothing_custom_stored(cast) -> bool:
    return [p for p in listed(cast).values() if not p["builtin"]] == []


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("criteria", custom(criteria=rows("c", ROWS + 1))),
        ("violation_codes", custom(violation_codes=rows("v", ROWS + 1, keyname="code"))),
        ("categories", custom(categories=categories(ROWS + 1))),
        ("description", custom(description="d" * (limits.POLICY_MAX_DESCRIPTION + 1))),
        ("feedback_guidance", custom(feedback_guidance="g" * (limits.POLICY_MAX_FEEDBACK_GUIDANCE + 1))),
        ("name", custom(name="n" * (limits.POLICY_MAX_NAME + 1))),
        ("criteria", custom(criteria=[{"id": "c1", "description": "x" * 501}])),
        ("id", custom(id="p" * (limits.POLICY_MAX_KEY_LENGTH + 1))),
    ],
)
def test_a_policy_over_a_bound_is_refused_naming_the_field(alice, field, payload):
    body = assert_error(create(alice, payload), 400, "invalid_request")

    assert body["error"].startswith(f"{field}: "), body["error"]
    assert nothing_custom_stored(alice)


def test_a_patch_over_a_bound_is_refused_and_the_policy_is_unchanged(alice):
    create(alice, custom(id="warehouse_door"))
    before = alice.client.get(f"{URL}/warehouse_door").json()

    body = assert_error(
        alice.client.patch(f"{URL}/warehouse_door", {"violation_codes": rows("v", ROWS + 1, keyname="code")},
                           format="json"),
        400,
        "invalid_request",
    )

    assert body["error"].startswith("violation_codes: ")
    assert alice.client.get(f"{URL}/warehouse_door").json() == before


def test_a_13_mb_policy_body_is_refused_at_once(alice):
    # ~350,000 unique criteria. The old quadratic check took about 25 minutes on this body
    # (measured by hand: 20,000 rows 5 s, 40,000 rows 19 s); now the list bound refuses it
    # before a single row is validated.
    payload = custom(criteria=[{"id": f"c{i}", "description": "x"} for i in range(350_000)])
    assert len(json.dumps(payload)) > 13_000_000

    body = assert_error(create(alice, payload), 400, "invalid_request")

    assert body["error"] == f"criteria: Ensure this field has no more than {ROWS} elements."
    assert nothing_custom_stored(alice)


def test_a_policy_whose_prompt_would_be_too_long_is_refused(alice):
    # Every row within its own bounds, but together far more than a model should be sent.
    payload = custom(criteria=rows("c", ROWS, description="x" * limits.POLICY_MAX_ROW_DESCRIPTION))

    body = assert_error(create(alice, payload), 400, "invalid_request")

    assert body["error"].startswith("policy: ") and str(limits.POLICY_MAX_PROMPT_CHARS) in body["error"]
    assert nothing_custom_stored(alice)


def _largest_legal_policy() -> dict:
    """Every list at its row limit with the longest ids, every text field at its limit, and the
    row descriptions as long as the prompt limit then allows: a prompt of exactly the limit."""
    base = {
        "id": "p" * limits.POLICY_MAX_KEY_LENGTH,
        "name": "n" * limits.POLICY_MAX_NAME,
        "description": "d" * limits.POLICY_MAX_DESCRIPTION,
        "feedback_guidance": "g" * limits.POLICY_MAX_FEEDBACK_GUIDANCE,
        "criteria": [{"id": key("c", i), "description": ""} for i in range(ROWS)],
        "violation_codes": [{"code": key("v", i), "description": ""} for i in range(ROWS)],
        "categories": [{"id": key("k", i), "is_compliant": i % 2 == 0, "description": ""} for i in range(ROWS)],
    }

    def length(width: int) -> int:
        lists = {name: [{**row, "description": "w" * width} for row in base[name]]
                 for name in ("criteria", "violation_codes", "categories")}
        return prompt_length(PolicySpec(policy_id=base["id"], name=base["name"],
                                        description=base["description"],
                                        feedback_guidance=base["feedback_guidance"], **lists))

    width = 1
    while length(width + 1) <= limits.POLICY_MAX_PROMPT_CHARS:
        width += 1
    for name in ("criteria", "violation_codes", "categories"):
        for row in base[name]:
            row["description"] = "w" * width
    # The last few characters of the budget go to the first criterion: exactly at the limit.
    base["criteria"][0]["description"] += "w" * (limits.POLICY_MAX_PROMPT_CHARS - length(width))
    return base


def test_the_largest_legal_policy_is_accepted_reads_back_and_can_be_patched(alice):
    payload = _largest_legal_policy()

    response = create(alice, payload)

    assert response.status_code == 201, response.content[:300]
    assert len(payload["criteria"][0]["description"]) <= limits.POLICY_MAX_ROW_DESCRIPTION
    stored = alice.client.get(f"{URL}/{payload['id']}").json()
    assert [len(stored[name]) for name in ("criteria", "violation_codes", "categories")] == [ROWS] * 3
    assert stored["criteria"] == payload["criteria"]
    patched = alice.client.patch(f"{URL}/{payload['id']}", {"name": "Still valid"}, format="json")
    assert patched.status_code == 200, patched.content[:300]
    # One more character anywhere and the prompt would be over its limit.
    payload["criteria"][0]["description"] += "w"
    payload["id"] = "q" * limits.POLICY_MAX_KEY_LENGTH
    assert_error(create(alice, payload), 400, "invalid_request")


def test_duplicates_are_still_named_in_a_full_list(alice):
    criteria = rows("c", ROWS)
    criteria[-1]["id"] = criteria[7]["id"] = criteria[3]["id"]

    body = assert_error(create(alice, custom(criteria=criteria)), 400, "invalid_request")

    assert body["error"] == "criteria: Duplicate criterion ids: c3."


def test_the_prompt_of_an_oversized_stored_policy_is_still_bounded():
    # A policy stored before the limits existed: far over every bound.
    spec = PolicySpec(
        policy_id="legacy", name="Legacy", description="d" * 1_000_000,
        criteria=[{"id": f"c{i}", "description": "x" * 400} for i in range(5_000)],
        violation_codes=[{"code": f"v{i}", "description": "y"} for i in range(5_000)],
        categories=[{"id": "ok", "is_compliant": True}, {"id": "lacks_info", "is_compliant": False}],
        feedback_guidance="g" * 1_000_000,
    )

    text = system_instructions(spec)

    assert len(text) <= limits.POLICY_MAX_PROMPT_CHARS
    assert "left out" in text
    assert text.endswith("Reply only with the JSON object described by the answer schema.")
    assert "answer category lacks_info" in text
