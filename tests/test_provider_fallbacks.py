"""Across providers: fallbacks after a failing primary, and what every provider is sent.

The three SDKs are real; only their HTTP layer is a ``httpx2.MockTransport``.
"""

from __future__ import annotations

import time
from unittest import mock

import pytest

from tests.providers_fake import (
    COMPLIANT,
    FakeAPI,
    anthropic_error,
    anthropic_image,
    anthropic_message,
    assert_clean_jpeg,
    fast_retries,
    gemini_error,
    gemini_image,
    gemini_response,
    jpeg_markers,
    openai_completion,
    openai_error,
    openai_image,
    photo_with_gps,
    verify,
)
from tests.verify_support import providers_plugged_in
from verifications.engine.anthropic_provider import AnthropicProvider
from verifications.engine.base import PolicySpec
from verifications.engine.gemini_provider import GeminiProvider
from verifications.engine.openai_provider import OpenAIProvider
from verifications.engine.prompt import answer_schema, system_instructions
from verifications.models import Verification

PROVIDERS = {
    "openai": (OpenAIProvider, "OPENAI_API_KEY", openai_completion, openai_image),
    "anthropic": (AnthropicProvider, "ANTHROPIC_API_KEY", anthropic_message, anthropic_image),
    "gemini": (GeminiProvider, "GEMINI_API_KEY", gemini_response, gemini_image),
}


@pytest.fixture
def clouds(monkeypatch, settings):
    """All three providers on scripted fakes, keys set; yields {name: FakeAPI}."""
    fast_retries(settings)
    settings.VERIFYAI_ANTHROPIC_MODEL = "claude-sonnet-4-6"
    fakes = {}
    providers = []
    for name, (cls, key, _, _) in PROVIDERS.items():
        monkeypatch.setenv(key, f"test-key-{name}")
        fakes[name] = FakeAPI()
        providers.append(cls(http_client=fakes[name].http_client()))
    with providers_plugged_in(*providers):
        yield fakes


def test_a_500_on_the_primary_falls_back_to_the_next_provider(alice, clouds, settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = ["anthropic"]
    clouds["openai"].answers(openai_error(500, "server_error", "The server had an error."))
    clouds["anthropic"].answers(anthropic_message(COMPLIANT))

    response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    assert response.json()["evaluation_source"] == "cloud_vlm"
    stored = Verification.objects.get(pk=response.json()["id"])
    assert stored.provider == "anthropic"
    assert stored.model == "claude-sonnet-4-6"
    assert clouds["openai"].calls == 3  # the primary is retried first: a 500 is transient
    assert clouds["anthropic"].calls == 1
    assert clouds["gemini"].calls == 0
    assert [a["provider"] for a in stored.details["attempts"]] == ["openai"] * 3 + ["anthropic"]
    assert [a.get("error") for a in stored.details["attempts"]] == ["provider_unavailable"] * 3 + [None]


def test_an_unconfigured_fallback_is_skipped(alice, clouds, settings, monkeypatch):
    settings.VERIFYAI_PROVIDER_FALLBACKS = ["anthropic", "gemini"]
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    clouds["openai"].answers(openai_error(503, "server_error", "Service unavailable."))
    clouds["gemini"].answers(gemini_response(COMPLIANT))

    response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    assert Verification.objects.get(pk=response.json()["id"]).provider == "gemini"
    assert clouds["anthropic"].calls == 0


def test_the_fallback_is_tried_at_once_when_the_primary_has_no_retries_left(alice, clouds, settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = ["anthropic"]
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 0
    settings.VERIFYAI_PROVIDER_BACKOFF_SECONDS = 5.0  # a pause would be plain to see
    clouds["openai"].answers(openai_error(500, "server_error", "The server had an error."))
    clouds["anthropic"].answers(anthropic_message(COMPLIANT))

    with mock.patch("time.sleep", wraps=time.sleep) as sleeping:
        response = verify(alice.client, "openai")

    assert response.status_code == 200, response.json()
    assert clouds["openai"].calls == 1 and clouds["anthropic"].calls == 1
    assert sleeping.call_count == 0  # no backoff before a retry that never comes


ERRORS = {"openai": openai_error, "anthropic": anthropic_error, "gemini": gemini_error}


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("status, code, calls", [
    (429, "provider_rate_limited", 2), (504, "provider_timeout", 2), (409, "provider_unavailable", 2),
    (503, "provider_unavailable", 2), (400, "provider_error", 1),
])
def test_every_provider_reads_http_errors_the_same_way(alice, clouds, settings, provider, status,
                                                     code, calls):
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 1
    clouds[provider].answers(*[ERRORS[provider](status, "some_error", "No.")] * 2)

    response = verify(alice.client, provider)

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.error_code == code
    assert clouds[provider].calls == calls  # transient ones are retried, a 400 is not


def test_when_every_provider_fails_the_last_error_is_recorded(alice, clouds, settings):
    settings.VERIFYAI_PROVIDER_FALLBACKS = ["gemini"]
    settings.VERIFYAI_PROVIDER_MAX_RETRIES = 0
    clouds["openai"].answers(openai_error(500, "server_error", "The server had an error."))
    clouds["gemini"].answers((429, {"error": {"code": 429, "message": "Quota.", "status": "RESOURCE_EXHAUSTED"}}))

    response = verify(alice.client, "openai")

    assert response.status_code == 500
    stored = Verification.objects.get(pk=response.json()["verification_id"])
    assert stored.status == "error"
    assert stored.error_code == "provider_rate_limited"
    assert [a["provider"] for a in stored.details["attempts"]] == ["openai", "gemini"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_the_image_sent_has_no_exif_or_gps_and_fits_1568_px(alice, clouds, provider):
    _, _, answer, sent_image = PROVIDERS[provider]
    clouds[provider].answers(answer(COMPLIANT))
    original = photo_with_gps(size=(2400, 1800))
    assert 0xE1 in jpeg_markers(original)  # the upload does carry EXIF with GPS

    response = verify(alice.client, provider, image=original)

    assert response.status_code == 200, response.json()
    mime_type, data = sent_image(clouds[provider].body())
    assert "image/jpeg" in mime_type
    sent = assert_clean_jpeg(data)
    assert max(sent.size) == 1568  # downscaled to the working size, aspect kept
    assert sent.size == (1568, 1176)


def _policy(codes: list[str]) -> PolicySpec:
    return PolicySpec(
        policy_id="bin_day",
        name="Bin Day",
        description="Bins are put out correctly for collection.",
        criteria=[{"id": "lid_closed", "description": "The lid is closed."}],
        violation_codes=[{"code": code, "description": f"{code} happened."} for code in codes],
        categories=[
            {"id": "compliant", "is_compliant": True, "description": "All good."},
            {"id": "unsafe", "is_compliant": False, "description": "Breaks a rule."},
            {"id": "lacks_info", "is_compliant": False, "description": "Cannot tell."},
        ],
        feedback_guidance="Speak to the resident kindly.",
    )


def test_the_answer_schema_fits_every_providers_strict_mode():
    schema = answer_schema(_policy(["lid_open", "image_unclear"]))

    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(schema["properties"])  # OpenAI strict: all required
    assert schema["properties"]["violation_reasons"]["items"]["enum"] == ["lid_open", "image_unclear"]
    assert schema["properties"]["category"]["enum"] == ["compliant", "unsafe", "lacks_info"]
    assert schema["properties"]["is_compliant"]["type"] == "boolean"
    confidence = schema["properties"]["confidence"]
    assert confidence["type"] == "number"
    assert "0.0 to 1.0" in confidence["description"]
    assert "minimum" not in confidence and "maximum" not in confidence

    empty = answer_schema(_policy([]))["properties"]["violation_reasons"]
    assert empty["type"] == "array" and empty["maxItems"] == 0
    assert "enum" not in empty["items"]


def test_the_instructions_carry_the_whole_policy():
    text = system_instructions(_policy(["lid_open", "image_unclear"]))

    for expected in (
        "Bin Day", "Bins are put out correctly", "lid_closed: The lid is closed.",
        "lid_open: lid_open happened.", "use only these codes; one per failed criterion",
        "compliant (counts as compliant): All good.", "unsafe (counts as NOT compliant)",
        "Speak to the resident kindly.",
        "answer category lacks_info with the violation code image_unclear rather than guess",
    ):
        assert expected in text, expected
    assert "never mention violation codes" in text
