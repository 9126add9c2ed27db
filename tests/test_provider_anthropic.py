"""The Anthropic provider, end to end through POST /api/v1/verify and the real `anthropic` SDK.

Only the HTTP layer is fake: a ``httpx2.MockTransport`` answering in the
Messages API wire format (the decision as a ``tool_use`` block).
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
    anthropic_error,
    anthropic_image,
    anthropic_message,
    assert_clean_jpeg,
    fast_retries,
    verify,
)
from tests.verify_support import providers_plugged_in
from verifications.engine.anthropic_provider import AnthropicProvider
from verifications.models import Verification

KEY = "sk-ant-api03-test-0123456789"


@pytest.fixture
def anthropic_api(monkeypatch, settings):
    """An AnthropicProvider whose SDK talks to a scripted fake, registered for the test."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    settings.VERIFYAI_ANTHROPIC_MODEL = "claude-sonnet-4-6"
    fast_retries(settings)
    fake = FakeAPI()
    with providers_plugged_in(AnthropicProvider(http_client=fake.http_client())):
        yield fake


def test_a_compliant_answer_is_stored_with_model_usage_and_latency(alice, anthropic_api):
    fake = anthropic_api.answers(anthropic_message(COMPLIANT, usage=(1588, 143)))

    response = verify(alice.client, "anthropic")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is True
    assert body["category"] == "compliant"
    assert body["evaluation_source"] == "cloud_vlm"
    stored = Verification.objects.get(pk=body["id"])
    assert stored.status == "success"
    assert stored.provider == "anthropic"
    assert stored.model == "claude-sonnet-4-6"
    assert (stored.input_tokens, stored.output_tokens) == (1588, 143)
    assert stored.latency_ms is not None
    assert usage_this_period(alice.customer) == 1
    assert fake.calls == 1


def test_the_request_forces_one_strict_tool_and_sends_a_base64_jpeg(alice, anthropic_api, settings):
    fake = anthropic_api.answers(anthropic_message(COMPLIANT))

    assert verify(alice.client, "anthropic").status_code == 200

    request = fake.requests[0]
    assert request.url.host == "api.anthropic.com"
    assert request.url.path == "/v1/messages"
    assert request.headers["Authorization"] == f"Bearer {KEY}"  # anthropic 2.x sends the key as Bearer
    assert request.headers.get("anthropic-version")
    read_timeout = request.extensions["timeout"]["read"]  # the runner's per-call budget
    assert read_timeout is not None and 0 < read_timeout <= settings.VERIFYAI_PROVIDER_TIMEOUT_SECONDS
    body = fake.body()
    assert body["model"] == "claude-sonnet-4-6"
    assert body["max_tokens"] > 0
    assert "temperature" not in body and "top_p" not in body
    for code in SCOOTER_CODE_IDS:
        assert code in body["system"]

    media_type, image = anthropic_image(body)
    assert media_type == "image/jpeg"
    assert_clean_jpeg(image)

    (tool,) = body["tools"]
    assert body["tool_choice"]["type"] == "tool" and body["tool_choice"]["name"] == tool["name"]
    schema = tool["input_schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(schema["properties"])
    assert schema["properties"]["violation_reasons"]["items"]["enum"] == SCOOTER_CODE_IDS
    assert schema["properties"]["category"]["enum"] == ["compliant", "improvable", "unsafe", "lacks_info"]


def test_a_non_compliant_answer_lists_its_violations(alice, anthropic_api):
    anthropic_api.answers(anthropic_message(NON_COMPLIANT))

    response = verify(alice.client, "anthropic")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is False
    assert body["category"] == "unsafe"
    assert body["violation_reasons"] == ["kickstand_up", "blocking_sidewalk"]


@pytest.mark.parametrize(
    "message",
    [
        anthropic_message(
            content=[{"type": "text", "text": "The scooter looks fine to me."}], stop_reason="end_turn"
        ),
        anthropic_message(UNKNOWN_CODE),
        anthropic_message(CONTRADICTION),
        anthropic_message({"is_compliant": True}),
    ],
    ids=["no-tool-call", "unknown-code", "contradiction", "missing-fields"],
)
def test_a_malformed_answer_fails_is_recorded_and_not_billed(alice, anthropic_api, message):
    fake = anthropic_api.answers(message)

    response = verify(alice.client, "anthropic")

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "verification_failed"
    stored = Verification.objects.get(pk=body["verification_id"])
    assert stored.status == "error"
    assert stored.error_code == "malformed_answer"
    assert usage_this_period(alice.customer) == 0
    assert fake.calls == 1


def test_a_refusal_is_recorded_as_refused(alice, anthropic_api):
    fake = anthropic_api.answers(anthropic_message(content=[], stop_reason="refusal"))

    response = verify(alice.client, "anthropic")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "refused"
    assert fake.calls == 1
    assert usage_this_period(alice.customer) == 0


def test_an_answer_cut_at_max_tokens_is_truncated(alice, anthropic_api):
    anthropic_api.answers(anthropic_message(content=[], stop_reason="max_tokens"))

    response = verify(alice.client, "anthropic")

    assert Verification.objects.get(pk=response.json()["verification_id"]).error_code == "truncated_answer"


def test_a_timeout_is_retried_then_fails(alice, anthropic_api):
    fake = anthropic_api.answers(httpx2.ReadTimeout)

    response = verify(alice.client, "anthropic")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_timeout"
    assert fake.calls == 3
    assert usage_this_period(alice.customer) == 0


def test_a_429_then_success_answers_after_exactly_two_calls(alice, anthropic_api):
    fake = anthropic_api.answers(
        anthropic_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit."),
        anthropic_message(COMPLIANT),
    )

    response = verify(alice.client, "anthropic")

    assert response.status_code == 200, response.json()
    assert fake.calls == 2


def test_overloaded_529_is_retried(alice, anthropic_api):
    fake = anthropic_api.answers(
        anthropic_error(529, "overloaded_error", "Overloaded"), anthropic_message(COMPLIANT)
    )

    response = verify(alice.client, "anthropic")

    assert response.status_code == 200, response.json()
    assert fake.calls == 2
    stored = Verification.objects.get(pk=response.json()["id"])
    assert stored.details["attempts"][0]["error"] == "provider_unavailable"


def test_a_bad_request_is_not_retried_and_the_key_never_shows(alice, anthropic_api, caplog):
    fake = anthropic_api.answers(anthropic_error(401, "authentication_error", "invalid x-api-key"))

    response = verify(alice.client, "anthropic")

    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_error"
    assert fake.calls == 1
    assert KEY not in stored.error_message and KEY not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_anthropic_base_url_is_honoured(alice, monkeypatch, settings):
    fast_retries(settings)
    settings.VERIFYAI_ANTHROPIC_MODEL = "claude-sonnet-4-6"

    def answer(path, body):
        return anthropic_message(COMPLIANT, model=body["model"])

    with LocalModelServer(answer) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "gateway-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        provider = AnthropicProvider()
        try:
            with providers_plugged_in(provider):
                response = verify(alice.client, "anthropic")
        finally:
            provider.client.close()

    assert response.status_code == 200, response.json()
    assert [seen["path"] for seen in server.seen] == ["/v1/messages"]
    assert server.seen[0]["headers"]["authorization"] == "Bearer gateway-key"
