"""What operators see on the dashboard's pages: results, policies, streams, the front page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.utils import quote
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from policies.models import Policy
from streams.models import Stream
from tests.admin_support import SCOPED_ADMINS, add_rows, operator_client, policy_form
from tests.conftest import make_photo
from tests.verify_support import fetch
from verifications.models import Verification
from webhooks.services import create_endpoint, queue_verification_completed

CHANGELIST = "/admin/verifications/verification/"


@pytest.fixture
def operator_a(alice):
    return operator_client(alice.customer, "alice-op")


def verify(cast, **fields) -> dict:
    upload = SimpleUploadedFile("photo.jpg", make_photo(), content_type="image/jpeg")
    response = cast.client.post("/api/v1/verify", {"image": upload, "policy": "scooter_parking", **fields})
    assert response.status_code == 200, response.content
    return response.json()


def listed(client, query: str = "") -> list[str]:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return [v.pk for v in response.context["cl"].result_list]


def make_result(customer, **fields) -> Verification:
    defaults = {"policy_slug": "scooter_parking", "created_at": timezone.now(),
                "status": Verification.Status.SUCCESS}
    return Verification.objects.create(customer=customer, **(defaults | fields))


# --- Verifications --------------------------------------------------------------------


def test_the_list_filters_on_decision_latency_and_provider(alice, operator_a):
    passed = make_result(alice.customer, is_compliant=True, latency_ms=300, provider="openai")
    failed = make_result(alice.customer, is_compliant=False, latency_ms=1200, provider="local")
    broken = make_result(alice.customer, status=Verification.Status.ERROR, latency_ms=4000)

    assert listed(operator_a, "?decision=compliant") == [passed.pk]
    assert listed(operator_a, "?decision=not_compliant") == [failed.pk]
    assert listed(operator_a, "?decision=error") == [broken.pk]
    assert listed(operator_a, "?latency=lt500") == [passed.pk]
    assert listed(operator_a, "?latency=1000-3000") == [failed.pk]
    assert listed(operator_a, "?latency=gte3000") == [broken.pk]
    assert listed(operator_a, "?provider__exact=openai") == [passed.pk]


def test_search_finds_ids_and_metadata(alice, bob, operator_a):
    scooter = make_result(alice.customer, metadata={"vehicle_id": "SC-1042", "city": "Lisbon"})
    other = make_result(alice.customer, metadata={"vehicle_id": "SC-7", "city": "Porto"})
    make_result(bob.customer, metadata={"vehicle_id": "SC-1042"})  # bob's: never found by alice

    assert listed(operator_a, f"?q={scooter.pk}") == [scooter.pk]
    assert listed(operator_a, "?q=vehicle_id%3DSC-1042") == [scooter.pk]
    assert listed(operator_a, "?q=porto") == [other.pk]
    assert listed(operator_a, "?q=SC-") == [other.pk, scooter.pk]
    assert listed(operator_a, "?q=nothing-like-this") == []


def test_the_list_shows_thumbnail_decision_and_latency(alice, operator_a):
    created = verify(alice)

    text = operator_a.get(CHANGELIST).content.decode()

    assert created["id"] in text
    assert 'class="thumb"' in text and "decision decision-" in text
    assert f"{Verification.objects.get(pk=created['id']).latency_ms} ms" in text


def test_the_detail_page_shows_the_image_the_result_json_and_its_webhook_deliveries(alice, operator_a):
    endpoint = create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/hooks",
                               events=["verification.completed"])
    created = verify(alice, metadata='{"vehicle_id": "SC-1042"}')
    verification = Verification.objects.get(pk=created["id"])
    delivery = endpoint.deliveries.get(subject_id=verification.pk)

    page = operator_a.get(f"{CHANGELIST}{quote(verification.pk)}/change/")

    text = page.content.decode()
    assert page.status_code == 200
    image = page.context["adminform"].form.instance.image
    assert 'class="image-preview"' in text and image
    src = text.split('class="image-preview" src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response, body = fetch(operator_a, src)
    assert response.status_code == 200 and body[:2] == b"\xff\xd8"
    assert "Result, as the API returns it" in text and f"&quot;id&quot;: &quot;{verification.pk}&quot;" in text
    assert "SC-1042" in text
    assert delivery.pk in text and "http://127.0.0.1:9999/hooks" in text


def test_a_result_without_endpoints_says_why_it_has_no_deliveries(alice, operator_a):
    verification = make_result(alice.customer)

    text = operator_a.get(f"{CHANGELIST}{quote(verification.pk)}/change/").content.decode()

    assert "no endpoint was subscribed" in text


def test_resent_deliveries_are_listed_under_the_same_result(alice, operator_a):
    from webhooks.services import redeliver

    create_endpoint(customer=alice.customer, url="http://127.0.0.1:9999/hooks",
                    events=["verification.completed"])
    verification = make_result(alice.customer)
    first, = queue_verification_completed(verification=verification)
    again = redeliver(delivery=first)

    text = operator_a.get(f"{CHANGELIST}{quote(verification.pk)}/change/").content.decode()

    assert first.pk in text and again.pk in text


# --- Policies ---------------------------------------------------------------------------


def test_an_operator_creates_a_policy_with_its_rows(alice, operator_a):
    response = operator_a.post("/admin/policies/policy/add/", policy_form(
        policy_id="loading_bay", name="Loading bay",
        criteria=[("bay_clear", "The bay is clear"), ("", "")],
        codes=[("pallet_in_lane", "A pallet stands in the lane")],
    ))

    assert response.status_code == 302, response.content.decode()[:3000]
    policy = Policy.objects.get(policy_id="loading_bay")
    assert policy.customer == alice.customer
    assert policy.criteria == [{"id": "bay_clear", "description": "The bay is clear"}]
    assert policy.violation_codes == [{"code": "pallet_in_lane", "description": "A pallet stands in the lane"}]
    assert [c["id"] for c in policy.categories] == ["ok", "bad"]
    # And the API serves it as written.
    assert alice.client.get("/api/v1/policies/loading_bay").json()["criteria"][0]["id"] == "bay_clear"


def test_rows_can_be_deleted_and_edited_in_place(alice, operator_a):
    policy = Policy.objects.create(customer=alice.customer, policy_id="gate", name="Gate",
                                   criteria=[{"id": "a", "description": "A"}, {"id": "b", "description": "B"}],
                                   violation_codes=[], categories=[
                                       {"id": "ok", "description": "", "is_compliant": True},
                                       {"id": "no", "description": "", "is_compliant": False}])
    data = policy_form(policy_id="gate", name="Gate", criteria=[("a", "A, reworded"), ("b", "B")], codes=[])
    data["criteria-1-DELETE"] = "on"

    response = operator_a.post(f"/admin/policies/policy/{policy.pk}/change/", data)

    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.criteria == [{"id": "a", "description": "A, reworded"}]


@pytest.mark.parametrize("change, message", [
    ({"criteria": [("Bad Id!", "x")]}, "Criteria: row 1, id:"),
    ({"criteria": []}, "A policy needs at least one criterion"),
    ({"codes": [("dup", "x"), ("dup", "y")]}, "Duplicate violation codes: dup"),
    ({"categories": [("ok", "", True)]}, "at least one compliant and one non-compliant"),
    ({"policy_id": "scooter_parking"}, "id of a built-in policy"),
])
def test_the_api_rules_apply_and_nothing_is_stored_on_error(alice, operator_a, change, message):
    data = policy_form(**({"policy_id": "mine", "name": "Mine"} | change))

    response = operator_a.post("/admin/policies/policy/add/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Policy.objects.filter(customer=alice.customer).exists()


def test_built_in_policies_show_their_rows_read_only(operator_a):
    builtin = Policy.objects.get(customer__isnull=True, policy_id="scooter_parking")

    text = operator_a.get(f"/admin/policies/policy/{builtin.pk}/change/").content.decode()

    assert "blocking_sidewalk" in text and "vehicle_in_frame" in text
    assert 'name="criteria-TOTAL_FORMS"' not in text and 'type="submit"' not in text.split("</form>")[-1]


# --- Streams ------------------------------------------------------------------------------


def test_a_streams_page_shows_its_latest_frames_with_decisions(alice, bob, operator_a):
    builtin = Policy.objects.get(customer__isnull=True, policy_id="scooter_parking")
    stream = Stream.objects.create(customer=alice.customer, name="Dock 4", policy=builtin)
    now = timezone.now()
    frames = [make_result(alice.customer, stream=stream, is_compliant=i % 2 == 0,
                          created_at=now - dt.timedelta(seconds=i)) for i in range(15)]
    elsewhere = make_result(alice.customer)  # not a frame of this stream

    text = operator_a.get(f"/admin/streams/stream/{stream.pk}/change/").content.decode()

    shown = [f.pk for f in frames if f'data-verification-id="{f.pk}"' in text]
    assert shown == [f.pk for f in frames[:12]]  # the newest twelve
    assert elsewhere.pk not in text
    assert "Compliant" in text and "Not compliant" in text
    assert f"?stream__id__exact={stream.pk}" in text


def test_a_stream_without_frames_says_how_to_get_some(alice, operator_a):
    builtin = Policy.objects.get(customer__isnull=True, policy_id="scooter_parking")
    stream = Stream.objects.create(customer=alice.customer, name="Dock 5", policy=builtin)

    text = operator_a.get(f"/admin/streams/stream/{stream.pk}/change/").content.decode()

    assert "No frames yet" in text and "/api/v1/streams/{id}/frame" in text


# --- Front page and navigation ---------------------------------------------------------------


def test_the_front_page_sums_up_the_last_day_for_the_operators_customer(alice, bob, operator_a):
    make_result(alice.customer, is_compliant=True, latency_ms=400)
    make_result(alice.customer, is_compliant=False, latency_ms=900)
    make_result(alice.customer, status=Verification.Status.ERROR)
    make_result(alice.customer, is_compliant=True, created_at=timezone.now() - dt.timedelta(days=2))
    for _ in range(5):
        make_result(bob.customer, is_compliant=True)

    page = operator_a.get("/admin/")

    summary = page.context["summary"]
    assert (summary.verifications, summary.compliant, summary.errors) == (3, 1, 1)
    assert summary.compliance_rate == 50 and summary.p95_latency_ms == 900
    text = page.content.decode()
    assert "50% (1 of 2)" in text and "Alice" in text  # the header names their customer


def test_navigation_starts_with_what_operators_use_most(operator_a):
    apps = [app["app_label"] for app in operator_a.get("/admin/").context["app_list"]]

    assert apps[:3] == ["verifications", "streams", "policies"]
    assert "auth" not in apps


# --- No N+1 on list pages -------------------------------------------------------------------------


@pytest.mark.parametrize("stem", sorted(SCOPED_ADMINS))
def test_list_pages_run_the_same_number_of_queries_for_1_or_10_rows(alice, stem, operator_a):
    add_rows(alice.customer, 1)
    operator_a.get(f"/admin/{stem}/")  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert operator_a.get(f"/admin/{stem}/").status_code == 200

    add_rows(alice.customer, 9)
    with CaptureQueriesContext(connection) as many:
        assert operator_a.get(f"/admin/{stem}/").status_code == 200

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
