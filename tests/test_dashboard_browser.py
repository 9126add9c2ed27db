"""The operator dashboard (/admin/) in a real browser: what an operator sees and clicks.

Headless Chromium (Debian's /usr/bin/chromium) against the live server; skipped, with
the reason, where there is no browser or no playwright package (tests/browser_support.py).
Set VERIFYAI_SCREENSHOT_DIR to keep a full-page screenshot of every page visited.
"""

from __future__ import annotations

import re

from django.contrib.admin.utils import quote  # ids contain "_", which admin URLs escape
from rest_framework.test import APIClient

from billing.models import ApiKey
from streams.models import Stream
from streams.services import CODE_ALPHABET
from tests.admin_support import PASSWORD, add_rows
from tests.browser_support import (
    Visit,
    assert_admin_is_styled,
    browser_visit,  # noqa: F401 - fixture "visit"
    chromium_browser,  # noqa: F401 - fixture "browser"
    log_in_as,
    natural_width,
    screenshot,
)
from tests.streams_support import create_and_pair, pair, post_frame
from tests.verify_support import post_multipart
from verifications.models import Verification
from verifyai.admin import create_operator

PAIRING_CODE = re.compile(rf"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}")


def operator_of(cast, username: str):
    return create_operator(
        customer=cast.customer, username=username, password=PASSWORD,
        email=f"{username}@example.test",
    ).user


def test_an_operator_logs_in_and_sees_only_their_customers_verifications(visit: Visit, alice, bob):
    mine = add_rows(alice.customer).verification
    theirs = add_rows(bob.customer).verification
    operator_of(alice, "alice-op")
    page = visit.page

    page.goto("/admin/")
    assert "/admin/login/" in page.url  # not logged in yet: the login form
    page.locator("#id_username").fill("alice-op")
    page.locator("#id_password").fill(PASSWORD)
    screenshot(page, "login")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(visit.url("/admin/"))
    assert "VerifyAI" in page.locator("#site-name").inner_text()
    assert "VerifyAI" in page.title()
    assert_admin_is_styled(visit)
    screenshot(page, "dashboard")

    # The dashboard links the verification list (from its app list, perhaps more than once).
    page.locator("#content-main a[href='/admin/verifications/verification/']").first.click()
    page.wait_for_url(visit.url("/admin/verifications/verification/"))
    results = page.locator("#result_list")
    results.wait_for()
    listed = results.inner_text()
    assert mine.pk in listed
    assert theirs.pk not in listed
    assert bob.customer.name not in page.locator("#content").inner_text()
    screenshot(page, "verification-list")
    assert not visit.traffic.failed, visit.traffic.failed


def test_an_operator_creates_a_stream_and_sees_its_pairing_qr_code_and_code(visit: Visit, alice, bob):
    policy = add_rows(alice.customer).policy
    other = add_rows(bob.customer).policy
    log_in_as(visit, operator_of(alice, "alice-op"))
    page = visit.page

    page.goto("/admin/streams/stream/add/")
    page.locator("#id_name").fill("Hub-East gate camera")
    # The policy is an autocomplete (select2) widget: open it, search, pick the result.
    page.locator(".field-policy .select2-selection").click()
    search = page.locator(".select2-container--open .select2-search__field")
    search.fill("rules")
    options = page.locator(".select2-results__option:not(.loading-results)")
    options.filter(has_text=policy.policy_id).wait_for()
    offered = options.all_inner_texts()
    assert policy.policy_id in offered and other.policy_id not in offered, offered
    options.filter(has_text=policy.policy_id).click()
    assert page.locator(".field-policy .select2-selection__rendered").inner_text().strip().endswith(
        policy.policy_id
    )
    assert_admin_is_styled(visit)
    screenshot(page, "stream-add")
    page.locator("input[name=_save]").click()

    page.locator("h1", has_text="Pair a camera").wait_for()
    stream = Stream.objects.get(name="Hub-East gate camera")
    assert (stream.customer_id, stream.policy_id) == (alice.customer.pk, policy.pk)
    card = page.locator(f"[data-stream-id='{stream.pk}']")
    qr = card.locator("img.pairing-qr")
    assert qr.get_attribute("src").startswith("data:image/")
    assert natural_width(page, f"[data-stream-id='{stream.pk}'] img.pairing-qr") > 0
    assert qr.is_visible()
    code = card.locator("code.pairing-code").inner_text().strip()
    assert PAIRING_CODE.fullmatch(code), code
    screenshot(page, "stream-pairing")
    assert not visit.traffic.failed, visit.traffic.failed

    # The code on the screen is the one that pairs this stream's camera.
    paired = pair(code)
    assert paired.status_code == 200, paired.json()
    assert paired.json()["stream_id"] == str(stream.pk)


def test_an_operator_opens_a_verification_and_sees_its_stored_image(visit: Visit, alice, photo):
    response = post_multipart(alice.client, photo)  # the real API, as a customer would
    assert response.status_code == 200, response.content
    verification = Verification.objects.get(pk=response.json()["id"])
    assert verification.image
    log_in_as(visit, operator_of(alice, "alice-op"))
    page = visit.page

    page.goto(f"/admin/verifications/verification/{quote(verification.pk)}/change/")
    assert verification.pk in page.locator("#content").inner_text()
    image = ".field-image_preview img"
    assert page.locator(image).get_attribute("src").startswith("/media/signed/")
    assert natural_width(page, image) == 640  # make_photo() is 640 x 480
    assert page.locator(image).is_visible()
    assert_admin_is_styled(visit)
    screenshot(page, "verification-detail")
    assert not visit.traffic.failed, visit.traffic.failed


def test_an_operator_creates_an_api_key_and_sees_it_only_once(visit: Visit, alice):
    log_in_as(visit, operator_of(alice, "alice-op"))
    page = visit.page
    settings_path = f"/admin/billing/customer/{quote(alice.customer.pk)}/settings/"

    opened = page.goto(settings_path)
    assert opened is not None and opened.status == 200, opened and opened.status
    page.locator("input[name=name]").wait_for()
    assert page.locator("#new-api-key").count() == 0
    assert_admin_is_styled(visit)
    screenshot(page, "customer-settings")

    page.locator("input[name=name]").fill("Gate kiosk key")
    with page.expect_navigation():
        page.get_by_role("button", name="Create API key").click()
    shown = page.locator("#new-api-key")
    shown.wait_for()
    raw_key = shown.inner_text().strip()
    assert raw_key.startswith("vai_"), raw_key
    screenshot(page, "customer-settings-new-key")

    key = ApiKey.objects.get(customer=alice.customer, name="Gate kiosk key")
    assert raw_key.startswith(key.prefix) and raw_key not in key.key_hash
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    assert client.get("/api/v1/policies").status_code == 200  # the key shown is a working key

    # Shown once: the answer to the form (no-store) is the only page that ever holds it.
    page.goto(settings_path)
    page.locator("input[name=name]").wait_for()
    assert page.locator("#new-api-key").count() == 0
    assert raw_key not in page.content()
    assert not visit.traffic.failed, visit.traffic.failed


def test_an_operator_writes_a_policy_with_its_criteria_and_codes(visit: Visit, alice):
    log_in_as(visit, operator_of(alice, "alice-op"))
    page = visit.page

    page.goto("/admin/policies/policy/add/")
    page.locator("#id_policy_id").fill("loading_bay")
    page.locator("#id_name").fill("Loading bay")
    page.locator("#id_criteria-0-id").fill("bay_clear")
    page.locator("#id_criteria-0-description").fill("The loading bay is clear of pallets")
    page.locator("#id_violation_codes-0-code").fill("pallet_in_lane")
    page.locator("#id_violation_codes-0-description").fill("A pallet stands in the driving lane")
    # The categories come pre-filled with the defaults, as the API's are.
    assert page.locator("#id_categories-0-id").input_value() == "compliant"
    assert_admin_is_styled(visit)
    screenshot(page, "policy-add")
    page.locator("input[name=_save]").click()

    page.locator(".messagelist .success").wait_for()
    policy = alice.customer.policies.get(policy_id="loading_bay")
    assert policy.criteria == [{"id": "bay_clear", "description": "The loading bay is clear of pallets"}]
    assert policy.codes == ["pallet_in_lane"]
    page.goto(f"/admin/policies/policy/{policy.pk}/change/")
    assert page.locator("#id_violation_codes-0-code").input_value() == "pallet_in_lane"
    assert not visit.traffic.failed, visit.traffic.failed


def test_a_streams_page_shows_the_frames_its_camera_posted(visit: Visit, alice, photo):
    paired = create_and_pair(alice)
    for _ in range(3):
        assert post_frame(paired.stream_id, paired.token, photo).status_code == 200
    log_in_as(visit, operator_of(alice, "alice-op"))
    page = visit.page

    page.goto(f"/admin/streams/stream/{paired.stream_id}/change/")

    frames = page.locator(".frames figure")
    assert frames.count() == 3
    for index in range(3):
        assert natural_width(page, f".frames figure:nth-child({index + 1}) img") == 640
    assert frames.first.locator(".decision").is_visible()
    assert page.locator(".field-paired img[alt=True]").count() == 1  # the paired icon
    assert_admin_is_styled(visit)
    screenshot(page, "stream-detail")
    assert not visit.traffic.failed, visit.traffic.failed
