"""Provider lookup and the choice of a default.

The cloud providers plug in here; until one is configured the embedded
``local`` evaluator answers, and says so in ``evaluation_source``.
"""

from __future__ import annotations

from django.conf import settings

from verifications.engine.anthropic_provider import AnthropicProvider
from verifications.engine.base import PROVIDER_NAMES, Provider
from verifications.engine.gemini_provider import GeminiProvider
from verifications.engine.local import LocalProvider
from verifications.engine.openai_provider import OpenAIProvider
from verifyai.api.errors import ProviderUnavailable

_PROVIDERS: dict[str, Provider] = {"local": LocalProvider()}


def register(provider: Provider) -> None:
    _PROVIDERS[provider.name] = provider


# The cloud providers: each builds its SDK client on first use, once per process.
register(OpenAIProvider())
register(AnthropicProvider())
register(GeminiProvider())


def get_provider(name: str) -> Provider:
    if name not in PROVIDER_NAMES:
        raise ProviderUnavailable(f"Unknown provider '{name}'.")
    provider = _PROVIDERS.get(name)
    if provider is None or not provider.is_configured():
        raise ProviderUnavailable(f"The provider '{name}' is not configured on this server.")
    return provider


def default_provider_name(policy_default: str = "") -> str:
    """The request's provider when it names none: the policy's, the deployment's,
    the first cloud provider with a key, else ``local``."""
    if policy_default:
        return policy_default
    if settings.VERIFYAI_DEFAULT_PROVIDER:
        return settings.VERIFYAI_DEFAULT_PROVIDER
    # PROVIDER_NAMES lists the cloud ones first; ``local`` is last and always configured.
    return next(
        name for name in PROVIDER_NAMES if name in _PROVIDERS and _PROVIDERS[name].is_configured()
    )
