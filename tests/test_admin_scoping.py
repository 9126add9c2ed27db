"""Operators see their own customer's data in the admin and nothing else; superusers see all."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote  # ids contain "_", which admin URLs escape
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import ApiKey, Customer
from policies.models import Policy
from streams.models import PairingCode, Stream
from tests.admin_support import (
    PASSWORD,
    SCOPED_ADMINS,
    add_rows,
    operator_client,
    policy_form,
    rows_of,
    superuser_client,
)
from verifyai.admin import operator_group
from webhooks.models import WebhookDelivery, WebhookEndpoint

STEMS = sorted(SCOPED_ADMINS)


@pytest.fixture
def world(alice, bob):
    add_rows(alice.customer)
    add_rows(bob.customer)
    return alice.customer, bob.customer


@pytest.fixture
def operator_a(world):
    return operator_client(world[0], "alice-op")


@pytest.fixture
def operator_b(world):
    return operator_client(world[1], "bob-op")


def listed(client, stem: str) -> set:
    response = client.get(f"/admin/{stem}/")
    assert response.status_code == 200, response.content[:500]
    return {obj.pk for obj in response.context["cl"].result_list}


def pks(rows) -> set:
    return {row.pk for row in rows}


@pytest.mark.parametrize("stem", STEMS)
def test_an_operators_changelist_shows_only_their_customers_rows(world, operator_a, operator_b, stem):
    alice, bob = world
    builtins = pks(Policy.objects.filter(customer__isnull=True)) if stem == "policies/policy" else set()

    assert listed(operator_a, stem) == pks(rows_of(alice, stem)) | builtins
    assert listed(operator_b, stem) == pks(rows_of(bob, stem)) | builtins


@pytest.mark.parametrize("stem", STEMS)
def test_a_superuser_sees_every_customers_rows(world, stem):
    alice, bob = world
    model, _ = SCOPED_ADMINS[stem]

    assert listed(superuser_client(), stem) == pks(model._default_manager.all())
    assert pks(rows_of(alice, stem)) and pks(rows_of(bob, stem))


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("view", ["change", "history"])
def test_another_customers_object_is_a_404_like_a_missing_one(world, operator_a, stem, view):
    alice, bob = world
    own, theirs = rows_of(alice, stem)[0], rows_of(bob, stem)[0]

    assert operator_a.get(f"/admin/{stem}/{quote(own.pk)}/{view}/").status_code == 200
    assert operator_a.get(f"/admin/{stem}/{quote(theirs.pk)}/{view}/").status_code == 404
    assert operator_a.get(f"/admin/{stem}/999999/{view}/").status_code == 404
    assert operator_a.post(f"/admin/{stem}/{quote(theirs.pk)}/{view}/", {"name": "mine now"}).status_code in (
        403, 404, 405,
    )


@pytest.mark.parametrize("stem", STEMS)
def test_another_customers_delete_page_answers_like_a_missing_one(world, operator_a, stem):
    alice, bob = world
    theirs = rows_of(bob, stem)[0]

    page = operator_a.get(f"/admin/{stem}/{quote(theirs.pk)}/delete/")
    missing = operator_a.get(f"/admin/{stem}/999999/delete/")
    posted = operator_a.post(f"/admin/{stem}/{quote(theirs.pk)}/delete/", {"post": "yes"})

    assert page.status_code == missing.status_code == posted.status_code
    assert page.status_code in (403, 404)
    assert type(theirs)._default_manager.filter(pk=theirs.pk).exists()


def test_revoking_keys_never_touches_another_customers_keys(world, operator_a):
    alice, bob = world
    own, theirs = ApiKey.objects.get(customer=alice), ApiKey.objects.get(customer=bob)

    operator_a.post("/admin/billing/apikey/", {"action": "revoke", "_selected_action": [own.pk, theirs.pk]})

    own.refresh_from_db(), theirs.refresh_from_db()
    assert own.is_revoked and not theirs.is_revoked


def test_minting_keys_never_mints_for_another_customer(world, operator_a):
    alice, bob = world

    operator_a.post("/admin/billing/customer/", {"action": "mint_api_key", "_selected_action": [bob.pk]})

    assert ApiKey.objects.filter(customer=bob).count() == 1


def test_resending_never_resends_another_customers_deliveries(world, operator_a):
    alice, bob = world
    theirs = WebhookDelivery.objects.get(endpoint__customer=bob)

    operator_a.post("/admin/webhooks/webhookdelivery/", {"action": "resend", "_selected_action": [theirs.pk]})

    assert WebhookDelivery.objects.filter(endpoint__customer=bob).count() == 1


@pytest.mark.parametrize("action", ["new_pairing_code", "pause", "archive"])
def test_stream_actions_never_touch_another_customers_streams(world, operator_a, action):
    alice, bob = world
    theirs = Stream.objects.get(customer=bob)

    response = operator_a.post("/admin/streams/stream/", {"action": action, "_selected_action": [str(theirs.pk)]})

    assert str(theirs.pk) not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == Stream.Status.ACTIVE
    assert PairingCode.objects.filter(stream=theirs).count() == 1


def test_a_new_pairing_code_works_on_the_operators_own_stream(world, operator_a):
    alice, _ = world
    own = Stream.objects.get(customer=alice)

    page = operator_a.post("/admin/streams/stream/", {"action": "new_pairing_code",
                                                      "_selected_action": [str(own.pk)]})

    assert page.status_code == 200 and b"pairing-qr" in page.content
    assert PairingCode.objects.filter(stream=own).count() == 2


def test_deleting_selected_never_deletes_another_customers_rows(world, operator_a):
    alice, bob = world
    theirs = Policy.objects.get(customer=bob)

    operator_a.post("/admin/policies/policy/", {"action": "delete_selected", "_selected_action": [theirs.pk],
                                                "post": "yes"})

    assert Policy.objects.filter(pk=theirs.pk).exists()


def autocomplete(client, app_label: str, model_name: str, field_name: str) -> set[str]:
    response = client.get("/admin/autocomplete/", {"app_label": app_label, "model_name": model_name,
                                                   "field_name": field_name, "term": ""})
    assert response.status_code == 200, response.content[:300]
    return {row["id"] for row in response.json()["results"]}


def test_policy_autocomplete_offers_own_and_built_in_policies_only(world, operator_a):
    alice, bob = world

    offered = autocomplete(operator_a, "streams", "stream", "policy")

    assert str(Policy.objects.get(customer=alice).pk) in offered
    assert str(Policy.objects.get(customer=bob).pk) not in offered
    assert {str(p.pk) for p in Policy.objects.filter(customer__isnull=True)} <= offered


def test_customer_autocomplete_offers_only_the_operators_customer(world, operator_a):
    alice, _ = world

    assert autocomplete(operator_a, "policies", "policy", "customer") == {alice.pk}


def test_a_superusers_autocomplete_offers_everything(world):
    offered = autocomplete(superuser_client(), "streams", "stream", "policy")

    assert offered == {str(p.pk) for p in Policy.objects.all()}


def test_forms_offer_only_the_operators_own_choices(world, operator_a):
    alice, bob = world

    page = operator_a.get("/admin/streams/stream/add/").content.decode()

    assert alice.name in page and bob.name not in page


def test_an_operator_cannot_file_rows_under_another_customer(world, operator_a):
    alice, bob = world

    operator_a.post("/admin/webhooks/webhookendpoint/add/", {
        "customer": bob.pk, "url": "http://127.0.0.1:9999/new", "events": ["verification.completed"],
        "active": "on",
    })
    operator_a.post("/admin/policies/policy/add/", policy_form(
        customer=bob.pk, policy_id="sneaky", name="Sneaky",
    ))

    assert WebhookEndpoint.objects.get(url="http://127.0.0.1:9999/new").customer == alice
    assert Policy.objects.get(policy_id="sneaky").customer == alice


def test_an_operator_cannot_pick_another_customers_policy_for_a_stream(world, operator_a):
    alice, bob = world

    page = operator_a.post("/admin/streams/stream/add/", {
        "name": "Gate", "policy": Policy.objects.get(customer=bob).pk,
    })

    assert page.status_code == 200 and b"Select a valid choice" in page.content
    assert not Stream.objects.filter(name="Gate").exists()


def test_an_operator_creates_a_stream_for_their_customer_and_sees_its_qr(world, operator_a):
    alice, bob = world

    page = operator_a.post("/admin/streams/stream/add/", {
        "customer": bob.pk, "name": "Gate", "policy": Policy.objects.get(customer=alice).pk,
    })

    assert page.status_code == 200 and b"pairing-qr" in page.content
    assert Stream.objects.get(name="Gate").customer == alice


def test_customer_lists_are_hidden_from_an_operators_filters(world, operator_a):
    _, bob = world

    for stem in ("webhooks/webhookendpoint", "webhooks/webhookdelivery", "policies/policy"):
        assert bob.name not in operator_a.get(f"/admin/{stem}/").content.decode()


def test_built_in_policies_are_read_only_and_own_ones_editable(world, operator_a):
    alice, _ = world
    builtin = Policy.objects.filter(customer__isnull=True).first()
    own = Policy.objects.get(customer=alice)

    assert operator_a.get(f"/admin/policies/policy/{quote(builtin.pk)}/change/").status_code == 200
    assert operator_a.post(f"/admin/policies/policy/{quote(builtin.pk)}/change/", {"name": "x"}).status_code == 403
    response = operator_a.post(f"/admin/policies/policy/{quote(own.pk)}/change/", policy_form(
        policy_id=own.policy_id, name="Renamed",
    ))
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.name == "Renamed" and own.customer == alice


def test_an_operator_cannot_add_or_delete_customers_nor_change_plans(world, operator_a):
    alice, _ = world

    assert operator_a.get("/admin/billing/customer/add/").status_code == 403
    assert operator_a.post(f"/admin/billing/customer/{quote(alice.pk)}/delete/", {"post": "yes"}).status_code == 403
    assert operator_a.get("/admin/billing/plan/").status_code == 403
    assert Customer.objects.filter(pk=alice.pk).exists()


@pytest.mark.parametrize("url", [
    "/admin/auth/user/", "/admin/auth/user/add/", "/admin/auth/group/", "/admin/auth/group/add/",
    "/admin/billing/operator/", "/admin/billing/operator/add/",
])
def test_operators_cannot_manage_users_groups_or_operators(operator_a, url):
    assert operator_a.get(url).status_code == 403


def test_operators_cannot_edit_themselves_into_more(world, operator_a):
    me = User.objects.get(username="alice-op")

    assert operator_a.get(f"/admin/auth/user/{quote(me.pk)}/change/").status_code == 403
    operator_a.post(f"/admin/auth/user/{quote(me.pk)}/change/", {"is_superuser": "on"})
    me.refresh_from_db()
    assert not me.is_superuser


def test_a_staff_user_who_is_no_operator_sees_nothing(world):
    user = User.objects.create_user("stray", password=PASSWORD, is_staff=True)
    user.groups.add(operator_group())
    client = Client()
    client.force_login(user)

    for stem in STEMS:
        assert listed(client, stem) == set()


def test_the_admin_index_lists_an_operators_models_and_not_auth(operator_a):
    page = operator_a.get("/admin/").content.decode()

    assert "Webhook endpoints" in page and "Verifications" in page
    assert "/admin/auth/" not in page


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("stem", STEMS)
def test_changelist_queries_do_not_grow_with_rows(alice, bob, stem, django_assert_max_num_queries):
    add_rows(alice.customer)
    add_rows(bob.customer)
    operator = operator_client(alice.customer, "alice-op")
    one_row = count_queries(operator, f"/admin/{stem}/")

    add_rows(alice.customer, 19)  # 20 of everything (the customer itself stays one row)
    with django_assert_max_num_queries(one_row):
        assert operator.get(f"/admin/{stem}/").status_code == 200


def test_an_operator_cannot_change_their_plan_from_the_customer_page(world, operator_a):
    from billing.models import Plan, Subscription

    alice, _ = world
    subscription = Subscription.objects.get(customer=alice)
    bigger = Plan.objects.create(name="enterprise", monthly_verification_limit=10**9)
    page = operator_a.get(f"/admin/billing/customer/{quote(alice.pk)}/change/")
    form = {
        "name": "Alice Renamed", "email": alice.email, "store_images": "on",
        "subscription-TOTAL_FORMS": "1", "subscription-INITIAL_FORMS": "1",
        "subscription-MIN_NUM_FORMS": "0", "subscription-MAX_NUM_FORMS": "1",
        "subscription-0-id": subscription.pk, "subscription-0-customer": alice.pk,
        "subscription-0-plan": bigger.pk, "subscription-0-status": "active",
        "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0", "api_keys-MAX_NUM_FORMS": "0",
    }

    response = operator_a.post(f"/admin/billing/customer/{quote(alice.pk)}/change/", form)

    assert page.status_code == 200 and bigger.name not in page.content.decode()
    assert response.status_code == 302, response.content[:1000]
    subscription.refresh_from_db()
    alice.refresh_from_db()
    assert alice.name == "Alice Renamed" and subscription.plan != bigger


def test_operators_lists_drop_the_customer_column_superusers_keep_it(world, operator_a):
    alice, _ = world

    assert "column-customer" not in operator_a.get("/admin/billing/apikey/").content.decode()
    assert "column-customer" in superuser_client().get("/admin/billing/apikey/").content.decode()


@pytest.mark.parametrize("stem", ["policies/policy", "streams/stream", "webhooks/webhookendpoint"])
def test_an_operators_add_pages_offer_nothing_of_another_customer(world, operator_a, stem):
    alice, bob = world

    page = operator_a.get(f"/admin/{stem}/add/")

    assert page.status_code == 200
    html = page.content.decode()
    assert alice.name in html and bob.name not in html and bob.pk not in html


def test_the_operators_group_holds_exactly_the_listed_permissions(db):
    from verifyai.admin import OPERATOR_PERMISSIONS

    granted = {f"{p.content_type.app_label}.{p.codename}" for p in operator_group().permissions.all()}

    assert granted == {
        f"{label.split('.')[0]}.{action}_{label.split('.')[1]}"
        for label, actions in OPERATOR_PERMISSIONS.items() for action in actions
    }
    assert not any(name.startswith("auth.") or name.endswith("_operator") for name in granted)
