"""The OpenAI provider, end to end through POST /api/v1/verify and the real `openai` SDK.

Only the HTTP layer is fake: a ``httpx2.MockTransport`` answering in the Chat
Completions wire format, or a real server on 127.0.0.1 for OPENAI_BASE_URL.
"""

from __future__ import annotations

import json

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
    openai_completion,
    openai_error,
    openai_image,
    verify,
)
from tests.verify_support import providers_plugged_in
from verifications.engine.base import EvaluationError, ModelImage, PolicySpec
from verifications.engine.openai_provider import OpenAIProvider
from verifications.models import Verification

KEY = "sk-test-openai-0123456789"


@pytest.fixture
def openai_api(monkeypatch, settings):
    """An OpenAIProvider whose SDK talks to a scripted fake, registered for the test."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    settings.VERIFYAI_OPENAI_MODEL = "gpt-5-mini"
    fast_retries(settings)
    fake = FakeAPI()
    with providers_plugged_in(OpenAIProvider(http_client=fake.http_client())):
        yield fake


def test_a_compliant_answer_is_stored_with_model_usage_and_latency(alice, openai_api):
    fake = openai_api.answers(openai_completion(COMPLIANT, usage=(1214, 96)))

    response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is True
    assert body["category"] == "compliant"
    assert body["violation_reasons"] == []
    assert body["evaluation_source"] == "cloud_vlm"
    assert body["feedback"] == COMPLIANT["feedback"]
    stored = Verification.objects.get(pk=body["id"])
    assert stored.status == "success"
    assert stored.provider == "openai"
    assert stored.model == "gpt-5-mini-2025-08-07"  # as the API reports it
    assert (stored.input_tokens, stored.output_tokens) == (1214, 96)
    assert stored.latency_ms is not None and stored.latency_ms >= 0
    assert usage_this_period(alice.customer) == 1
    assert fake.calls == 1


def test_the_request_is_a_strict_json_schema_chat_completion_with_a_jpeg(alice, openai_api, settings):
    fake = openai_api.answers(openai_completion(COMPLIANT))

    assert verify(alice.client, "openai").status_code == 200

    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.host == "api.openai.com"
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    read_timeout = request.extensions["timeout"]["read"]  # the runner's per-call budget
    assert read_timeout is not None and 0 < read_timeout <= settings.VERIFYAI_PROVIDER_TIMEOUT_SECONDS
    body = fake.body()
    assert body["model"] == "gpt-5-mini"
    assert "max_completion_tokens" in body and "max_tokens" not in body
    assert "temperature" not in body
    system = body["messages"][0]
    assert system["role"] == "system"
    for code in SCOOTER_CODE_IDS:
        assert code in system["content"]
    assert "lacks_info" in system["content"] and "image_unclear" in system["content"]

    header, image = openai_image(body)
    assert header == "data:image/jpeg;base64"
    assert_clean_jpeg(image)
    image_part = next(p for p in body["messages"][1]["content"] if p["type"] == "image_url")
    assert image_part["image_url"]["detail"] == "high"

    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(schema["properties"])
    assert schema["properties"]["violation_reasons"]["items"]["enum"] == SCOOTER_CODE_IDS
    assert schema["properties"]["category"]["enum"] == ["compliant", "improvable", "unsafe", "lacks_info"]
    assert "minimum" not in json.dumps(schema) and "maximum" not in json.dumps(schema)


def test_a_non_compliant_answer_lists_its_violations(alice, openai_api):
    openai_api.answers(openai_completion(NON_COMPLIANT))

    response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["is_compliant"] is False
    assert body["category"] == "unsafe"
    assert body["violation_reasons"] == ["kickstand_up", "blocking_sidewalk"]
    assert body["confidence"] == pytest.approx(0.87)
    assert Verification.objects.get(pk=body["id"]).violation_reasons == ["kickstand_up", "blocking_sidewalk"]


@pytest.mark.parametrize(
    "completion",
    [
        openai_completion(content="Sure! The scooter looks fine to me."),
        openai_completion(UNKNOWN_CODE),
        openai_completion(CONTRADICTION),
        openai_completion(content='{"is_compliant": true, "confidence": 0.9'),
    ],
    ids=["not-json", "unknown-code", "contradiction", "cut-json"],
)
def test_a_malformed_answer_fails_is_recorded_and_not_billed(alice, openai_api, completion):
    fake = openai_api.answers(completion)

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "verification_failed"
    stored = Verification.objects.get(pk=body["verification_id"])
    assert stored.status == "error"
    assert stored.error_code == "malformed_answer"
    assert usage_this_period(alice.customer) == 0
    assert fake.calls == 1  # a malformed answer is not retried


def test_a_refusal_is_recorded_as_refused(alice, openai_api):
    fake = openai_api.answers(openai_completion(refusal="I'm sorry, I can't help with that request."))

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "refused"
    assert fake.calls == 1
    assert usage_this_period(alice.customer) == 0


def test_an_answer_cut_at_the_token_limit_is_truncated(alice, openai_api):
    openai_api.answers(openai_completion(content='{"is_compliant": tr', finish_reason="length"))

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    assert Verification.objects.get(pk=response.json()["verification_id"]).error_code == "truncated_answer"


def test_a_timeout_is_retried_then_fails(alice, openai_api):
    fake = openai_api.answers(httpx2.ReadTimeout)

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_timeout"
    assert fake.calls == 3  # the first call and two retries
    assert [a["error"] for a in stored.details["attempts"]] == ["provider_timeout"] * 3
    assert usage_this_period(alice.customer) == 0


def test_a_429_then_success_answers_after_exactly_two_calls(alice, openai_api):
    fake = openai_api.answers(
        openai_error(429, "requests", "Rate limit reached for gpt-5-mini."),
        openai_completion(COMPLIANT),
    )

    response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    assert fake.calls == 2
    stored = Verification.objects.get(pk=response.json()["id"])
    assert stored.details["attempts"][0]["error"] == "provider_rate_limited"


def test_a_bad_key_is_not_retried_and_never_logged(alice, openai_api, caplog):
    fake = openai_api.answers(openai_error(401, "invalid_request_error", f"Incorrect API key provided: {KEY}."))

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == "provider_error"
    assert fake.calls == 1
    assert KEY not in stored.error_message
    assert KEY not in caplog.text


def test_one_sdk_client_is_built_and_reused(openai_api):
    fake = openai_api.answers(openai_completion(COMPLIANT))
    provider = OpenAIProvider(http_client=fake.http_client())
    policy = PolicySpec(
        policy_id="p", name="P", description="", criteria=[], violation_codes=[],
        categories=[{"id": "compliant", "is_compliant": True}, {"id": "bad", "is_compliant": False}],
        feedback_guidance="",
    )
    image = ModelImage(data=b"\xff\xd8\xff\xe0fake", width=1, height=1)

    first = provider.evaluate(image, policy, timeout=5)
    client = provider.client
    provider.evaluate(image, policy, timeout=5)

    assert first.category == "compliant"
    assert provider.client is client
    assert client.max_retries == 0
    schema = fake.body()["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["violation_reasons"]["maxItems"] == 0  # a policy with no codes


def test_without_a_key_the_provider_is_not_configured(alice, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert OpenAIProvider().is_configured() is False
    with pytest.raises(EvaluationError) as caught:
        _ = OpenAIProvider().client
    assert caught.value.code == "provider_error"


@pytest.mark.django_db(transaction=True)
def test_openai_base_url_reaches_an_openai_compatible_local_server(alice, monkeypatch, settings):
    """OPENAI_BASE_URL alone points the SDK at vLLM, Ollama or llama.cpp: no injected client."""
    fast_retries(settings)
    settings.VERIFYAI_OPENAI_MODEL = "qwen2.5-vl-7b-instruct"

    def answer(path, body):
        return openai_completion(COMPLIANT, model=body["model"], usage=(640, 38))

    with LocalModelServer(answer) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "local-key")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        provider = OpenAIProvider()
        try:
            with providers_plugged_in(provider):
                response = verify(alice.client, "openai")
        finally:
            provider.client.close()

    assert response.status_code == 200, response.json()
    assert [seen["path"] for seen in server.seen] == ["/v1/chat/completions"]
    assert server.seen[0]["headers"]["authorization"] == "Bearer local-key"
    stored = Verification.objects.get(pk=response.json()["id"])
    assert stored.model == "qwen2.5-vl-7b-instruct"
    assert (stored.input_tokens, stored.output_tokens) == (640, 38)


def test_concurrent_first_calls_build_a_single_client(monkeypatch):
    import threading

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    provider = OpenAIProvider(http_client=FakeAPI(openai_completion(COMPLIANT)).http_client())
    start = threading.Barrier(32)
    seen = []

    def grab():
        start.wait()
        seen.append(provider.client)

    threads = [threading.Thread(target=grab) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 32 and len({id(client) for client in seen}) == 1
