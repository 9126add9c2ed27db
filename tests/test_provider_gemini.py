"""The Gemini provider, end to end through POST /api/v1/verify and the real `google-genai` SDK.

Only the HTTP layer is fake: a ``httpx2.MockTransport`` answering in the
``generateContent`` wire format (candidates, parts, finishReason, usageMetadata).
"""

from __future__ import annotations

import httpx2
import pytest

from billing.services import usage_this_period
from tests.providers_fake import (
    COMPLIANT,
    CONTRADICTION,
    NON_COMPLIANT,
    SCOOTER_CODE_IDS,
    UNKNOWN_CODE,
    FakeAPI,
    LocalModelServer,
    assert_clean_jpeg,
    fast_retries,
    gemini_error,
    gemini_image,
    gemini_response,
    verify,
)
from tests.verify_support import providers_plugged_in
from verifications.engine.gemini_provider import GeminiProvider
from verifications.models import Verification

KEY = "AIzaSy-test-0123456789"


@pytest.fixture
def gemini_api(monkeypatch, settings):
    """A GeminiProvider whose SDK talks to a scripted fake, registered for the test."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    settings.VERIFYAI_GEMINI_MODEL = "gemini-2.5-flash"
    fast_retries(settings)
    fake = FakeAPI()
    provider = GeminiProvider(http_client=fake.http_client())
    with providers_plugged_in(provider):
        yield fake


def test_a_compliant_answer_is_stored_with_model_usage_and_latency(alice, gemini_api):
    fake = gemini_api.answers(gemini_response(COMPLIANT, usage=(1290, 52, 180)))

    response = verify(alice.client, "gemini")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is True
    assert body["category"] == "compliant"
    assert body["evaluation_source"] == "cloud_vlm"
    stored = Verification.objects.get(pk=body["id"])
    assert stored.status == "success"
    assert stored.provider == "gemini"
    assert stored.model == "gemini-2.5-flash"
    assert stored.input_tokens == 1290
    assert stored.output_tokens == 52 + 180  # thinking tokens are billed as output
    assert stored.latency_ms is not None
    assert usage_this_period(alice.customer) == 1
    assert fake.calls == 1


def test_the_request_carries_a_json_schema_and_an_inline_jpeg(alice, gemini_api, settings):
    fake = gemini_api.answers(gemini_response(COMPLIANT))

    assert verify(alice.client, "gemini").status_code == 200

    request = fake.requests[0]
    assert request.url.host == "generativelanguage.googleapis.com"
    assert request.url.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == KEY
    assert "key=" not in str(request.url)  # the key travels in a header, not the URL
    read_timeout = request.extensions["timeout"]["read"]  # the runner's per-call budget
    assert read_timeout is not None and 0 < read_timeout <= settings.VERIFYAI_PROVIDER_TIMEOUT_SECONDS
    body = fake.body()
    system_text = " ".join(part["text"] for part in body["systemInstruction"]["parts"])
    for code in SCOOTER_CODE_IDS:
        assert code in system_text

    mime_type, image = gemini_image(body)
    assert mime_type == "image/jpeg"
    assert_clean_jpeg(image)

    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]  # the JSON Schema field, not Gemini's OpenAPI subset
    assert schema["additionalProperties"] is False
    # Gemini generates in this order: the evidence (violations, category) before the verdict.
    assert schema["propertyOrdering"] == [
        "violation_reasons", "category", "is_compliant", "confidence", "feedback"]
    assert sorted(schema["required"]) == sorted(schema["properties"])
    assert schema["properties"]["violation_reasons"]["items"]["enum"] == SCOOTER_CODE_IDS
    assert schema["properties"]["category"]["enum"] == ["compliant", "improvable", "unsafe", "lacks_info"]


def test_a_non_compliant_answer_lists_its_violations(alice, gemini_api):
    gemini_api.answers(gemini_response(NON_COMPLIANT))

    response = verify(alice.client, "gemini")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is False
    assert body["category"] == "unsafe"
    assert body["violation_reasons"] == ["kickstand_up", "blocking_sidewalk"]


@pytest.mark.parametrize(
    "answer",
    [
        gemini_response(text="The scooter is parked well."),
        gemini_response(UNKNOWN_CODE),
        gemini_response(CONTRADICTION),
        gemini_response({"is_compliant": True, "confidence": 7, "category": "compliant",
                         "violation_reasons": [], "feedback": "Fine."}),
    ],
    ids=["not-json", "unknown-code", "contradiction", "confidence-out-of-range"],
)
def test_a_malformed_answer_fails_is_recorded_and_not_billed(alice, gemini_api, answer):
    fake = gemini_api.answers(answer)

    response = verify(alice.client, "gemini")

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "verification_failed"
    stored = Verification.objects.get(pk=body["verification_id"])
    assert stored.status == "error"
    assert stored.error_code == "malformed_answer"
    assert usage_this_period(alice.customer) == 0
    assert fake.calls == 1


@pytest.mark.parametrize(
    "answer",
    [gemini_response(finish_reason="SAFETY"), gemini_response(block_reason="PROHIBITED_CONTENT")],
    ids=["safety-finish", "blocked-prompt"],
)
def test_a_refusal_is_recorded_as_refused(alice, gemini_api, answer):
    fake = gemini_api.answers(answer)

    response = verify(alice.client, "gemini")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "refused"
    assert fake.calls == 1
    assert usage_this_period(alice.customer) == 0


def test_an_answer_cut_at_max_tokens_is_truncated(alice, gemini_api):
    gemini_api.answers(gemini_response(text='{"is_compliant": tr', finish_reason="MAX_TOKENS"))

    response = verify(alice.client, "gemini")

    assert Verification.objects.get(pk=response.json()["verification_id"]).error_code == "truncated_answer"


def test_a_timeout_is_retried_then_fails(alice, gemini_api):
    fake = gemini_api.answers(httpx2.ReadTimeout)

    response = verify(alice.client, "gemini")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_timeout"
    assert fake.calls == 3
    assert usage_this_period(alice.customer) == 0


def test_a_429_then_success_answers_after_exactly_two_calls(alice, gemini_api):
    fake = gemini_api.answers(
        gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        gemini_response(COMPLIANT),
    )

    response = verify(alice.client, "gemini")

    assert response.status_code == 200, response.json()
    assert fake.calls == 2
    stored = Verification.objects.get(pk=response.json()["id"])
    assert stored.details["attempts"][0]["error"] == "provider_rate_limited"


def test_a_503_is_retried(alice, gemini_api):
    fake = gemini_api.answers(
        gemini_error(503, "UNAVAILABLE", "The model is overloaded."), gemini_response(COMPLIANT)
    )

    assert verify(alice.client, "gemini").status_code == 200
    assert fake.calls == 2


def test_a_bad_key_is_not_retried_and_never_shows(alice, gemini_api, caplog):
    fake = gemini_api.answers(gemini_error(400, "INVALID_ARGUMENT", "API key not valid."))

    response = verify(alice.client, "gemini")

    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_error"
    assert fake.calls == 1
    assert KEY not in stored.error_message and KEY not in caplog.text


def test_google_api_key_alone_configures_the_provider(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert GeminiProvider().is_configured() is False
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    assert GeminiProvider().is_configured() is True


@pytest.mark.django_db(transaction=True)
def test_google_gemini_base_url_is_honoured(alice, monkeypatch, settings):
    fast_retries(settings)
    settings.VERIFYAI_GEMINI_MODEL = "gemini-2.5-flash"

    def answer(path, body):
        return gemini_response(COMPLIANT)

    with LocalModelServer(answer) as server:
        monkeypatch.setenv("GEMINI_API_KEY", "gateway-key")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        provider = GeminiProvider()
        with providers_plugged_in(provider):
            response = verify(alice.client, "gemini")
        provider.client.close()

    assert response.status_code == 200, response.json()
    assert len(server.seen) == 1
    assert server.seen[0]["path"].endswith("/models/gemini-2.5-flash:generateContent")
    assert server.seen[0]["headers"]["x-goog-api-key"] == "gateway-key"
