"""Operators create customers, plans and keys from the command line."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from billing.models import ApiKey, Customer, Plan
from billing.services import revoke_api_key


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_json(*args: str) -> dict:
    return json.loads(run(*args))


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def key_works(key: str) -> bool:
    response = client_with(key).get("/api/v1/verifications")
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


def test_createcustomer_prints_a_customer_id_and_a_vai_key_as_json(db):
    printed = run_json("createcustomer", "--name", "Acme Scooters", "--json")

    assert set(printed) == {"customer_id", "api_key"}
    assert printed["api_key"].startswith("vai_")
    assert len(printed["api_key"]) >= 30
    assert Customer.objects.get(pk=printed["customer_id"]).name == "Acme Scooters"


def test_the_printed_key_works_against_the_api(db):
    printed = run_json("createcustomer", "--name", "Acme", "--json")

    response = client_with(printed["api_key"]).get("/api/v1/verifications")

    assert response.status_code == 200
    assert response.json()["data"] == []


def test_without_json_the_key_is_printed_for_a_human(db):
    output = run("createcustomer", "--name", "Acme")

    key = next(word for word in output.split() if word.startswith("vai_"))
    assert key_works(key)
    assert "shown once" in output


def test_only_a_hash_of_the_key_is_stored(db):
    printed = run_json("createcustomer", "--name", "Acme", "--email", "ops@acme.test", "--json")
    raw_key = printed["api_key"]

    stored = ApiKey.objects.get(customer_id=printed["customer_id"])
    assert stored.key_hash != raw_key
    assert raw_key not in stored.key_hash
    assert raw_key.startswith(stored.prefix) and len(stored.prefix) < len(raw_key) // 2
    assert raw_key not in run("dumpdata")  # no row anywhere holds the raw key


def test_a_new_customer_has_an_active_subscription_on_the_default_plan(db):
    printed = run_json("createcustomer", "--name", "Acme", "--json")

    subscription = Customer.objects.get(pk=printed["customer_id"]).subscription
    assert subscription.is_active
    assert subscription.plan.name == settings.VERIFYAI_DEFAULT_PLAN


def test_createcustomer_puts_the_customer_on_a_named_plan(db):
    created = run("createplan", "fleet", "--monthly-limit", "5000", "--per-minute", "120")
    assert "fleet" in created

    printed = run_json("createcustomer", "--name", "Acme", "--plan", "fleet", "--json")

    plan = Customer.objects.get(pk=printed["customer_id"]).subscription.plan
    assert plan.name == "fleet"
    assert plan.monthly_verification_limit == 5000
    assert plan.requests_per_minute == 120
    assert key_works(printed["api_key"])


def test_createcustomer_refuses_an_unknown_plan_and_creates_nothing(db):
    with pytest.raises(CommandError, match="no_such_plan"):
        run("createcustomer", "--name", "Acme", "--plan", "no_such_plan", "--json")

    assert not Customer.objects.filter(name="Acme").exists()


def test_createplan_updates_an_existing_plan(db):
    run("createplan", "fleet", "--monthly-limit", "10")
    output = run("createplan", "fleet", "--monthly-limit", "20")

    assert "Updated" in output
    assert Plan.objects.get(name="fleet").monthly_verification_limit == 20


def test_createplan_refuses_negative_limits(db):
    with pytest.raises((CommandError, SystemExit)):
        run("createplan", "fleet", "--monthly-limit", "-1")

    assert not Plan.objects.filter(name="fleet").exists()


def test_createapikey_prints_a_new_working_key(db):
    customer = run_json("createcustomer", "--name", "Acme", "--json")

    printed = run_json("createapikey", customer["customer_id"], "--name", "ci", "--json")

    assert printed["customer_id"] == customer["customer_id"]
    assert printed["api_key"].startswith("vai_")
    assert printed["api_key"] != customer["api_key"]
    assert key_works(printed["api_key"])
    assert key_works(customer["api_key"])  # the first key keeps working
    assert ApiKey.objects.filter(customer_id=customer["customer_id"]).count() == 2


def test_a_second_key_sees_the_same_customers_data(db):
    customer = run_json("createcustomer", "--name", "Acme", "--json")
    second = run_json("createapikey", customer["customer_id"], "--json")

    created = client_with(customer["api_key"]).post(
        "/api/v1/policies",
        {
            "id": "door",
            "name": "Door",
            "criteria": [{"id": "clear", "description": "Clear."}],
            "violation_codes": [{"code": "blocked", "description": "Blocked."}],
        },
        format="json",
    )
    assert created.status_code == 201

    assert client_with(second["api_key"]).get("/api/v1/policies/door").status_code == 200


def test_createapikey_refuses_an_unknown_customer(db):
    with pytest.raises(CommandError, match="cus_nobody"):
        run("createapikey", "cus_nobody", "--json")

    assert not ApiKey.objects.exists()


def test_a_revoked_key_is_refused_with_401(db):
    printed = run_json("createcustomer", "--name", "Acme", "--json")
    assert key_works(printed["api_key"])

    revoke_api_key(api_key=ApiKey.objects.get(customer_id=printed["customer_id"]))

    response = client_with(printed["api_key"]).get("/api/v1/verifications")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert response.json()["status"] == 401


def test_revoking_one_key_leaves_the_others_working(db):
    customer = run_json("createcustomer", "--name", "Acme", "--json")
    second = run_json("createapikey", customer["customer_id"], "--json")

    first_key = ApiKey.objects.get(customer_id=customer["customer_id"], name="default")
    revoke_api_key(api_key=first_key)

    assert not key_works(customer["api_key"])
    assert key_works(second["api_key"])


def test_using_a_key_records_when_it_was_last_used(db):
    printed = run_json("createcustomer", "--name", "Acme", "--json")
    stored = ApiKey.objects.get(customer_id=printed["customer_id"])
    assert stored.last_used_at is None

    assert key_works(printed["api_key"])

    stored.refresh_from_db()
    assert stored.last_used_at is not None
