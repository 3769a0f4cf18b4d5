"""Providers and their registry.

Built in: ``fake``; ``openai``, ``azure``, ``anthropic``; ``openai-responses`` and
``azure-responses`` (the Responses API); ``gemini`` and ``vertex``; the OpenAI-compatible
presets ``vllm``, ``ollama``, ``openrouter``, ``llamacpp``, ``lmstudio``,
``compatible``, ``groq``, ``deepseek``, ``mistral``, ``xai``, ``together``,
``fireworks`` and ``cerebras``; and any name a ``[providers.NAME]`` table gives
a ``base_url``. HTTP providers are imported on first use, not at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.errors import ConfigError
from ._base import (
    Provider,
    ProviderFactory,
    ProviderSpec,
    known_providers,
    provider_spec,
    register_provider,
)
from ._base import (
    build_provider as _build_registered,
)

if TYPE_CHECKING:
    from .._config.settings import Settings
    from .fake import FakeFault, FakeHang, FakeProvider, FakeReply, FakeStep

_FAKE_NAMES = ("FakeFault", "FakeHang", "FakeProvider", "FakeReply", "FakeStep")


def __getattr__(name: str) -> object:
    """The fake provider's classes load on first use, like every other provider."""
    if name in _FAKE_NAMES:
        from . import fake

        return getattr(fake, name)
    raise AttributeError(f"module 'steadyllm.providers' has no attribute {name!r}")


def _fake(settings: Settings) -> Provider:
    from .fake import FakeProvider

    return FakeProvider()


def _openai(settings: Settings) -> Provider:
    from .openai import make_openai

    return make_openai(settings)


def _azure(settings: Settings) -> Provider:
    from .openai import make_azure

    return make_azure(settings)


def _openai_responses(settings: Settings) -> Provider:
    from .responses import make_openai_responses

    return make_openai_responses(settings)


def _azure_responses(settings: Settings) -> Provider:
    from .responses import make_azure_responses

    return make_azure_responses(settings)


def _gemini(settings: Settings) -> Provider:
    from .gemini import make_gemini

    return make_gemini(settings)


def _vertex(settings: Settings) -> Provider:
    from .gemini import make_vertex

    return make_vertex(settings)


def _anthropic(settings: Settings) -> Provider:
    from .anthropic import make_anthropic

    return make_anthropic(settings)


def _compatible(name: str) -> ProviderFactory:
    def factory(settings: Settings) -> Provider:
        from .openai import make_compatible

        return make_compatible(name, settings)

    return factory


register_provider(
    "fake",
    _fake,
    description="deterministic offline provider: echoes, or follows a script",
)
register_provider(
    "openai",
    _openai,
    required=(("openai_api_key", "OPENAI_API_KEY"),),
    description="OpenAI Chat Completions",
)
register_provider("azure", _azure, description="Azure OpenAI (deployments or the v1 API)")
register_provider(
    "openai-responses",
    _openai_responses,
    required=(("openai_api_key", "OPENAI_API_KEY"),),
    description="OpenAI Responses API",
)
register_provider(
    "azure-responses", _azure_responses, description="Azure OpenAI Responses API (v1 route)"
)
register_provider(
    "anthropic",
    _anthropic,
    required=(("anthropic_api_key", "ANTHROPIC_API_KEY"),),
    description="Anthropic Messages",
)
register_provider("gemini", _gemini, description="Google Gemini API (GEMINI_API_KEY)")
register_provider("vertex", _vertex, description="Google Vertex AI (GOOGLE_CLOUD_PROJECT)")
#: The OpenAI-compatible presets, each built by ``make_compatible``.
_COMPATIBLE = {
    "vllm": "vLLM server (VLLM_BASE_URL)",
    "ollama": "Ollama's OpenAI-compatible API (OLLAMA_BASE_URL)",
    "openrouter": "OpenRouter (OPENROUTER_API_KEY)",
    "llamacpp": "llama.cpp server (LLAMACPP_BASE_URL)",
    "lmstudio": "LM Studio local server (LMSTUDIO_BASE_URL)",
    "compatible": "any OpenAI-compatible server (COMPATIBLE_BASE_URL)",
    "groq": "Groq (GROQ_API_KEY)",
    "deepseek": "DeepSeek (DEEPSEEK_API_KEY)",
    "mistral": "Mistral AI (MISTRAL_API_KEY)",
    "xai": "xAI Grok (XAI_API_KEY)",
    "together": "Together AI (TOGETHER_API_KEY)",
    "fireworks": "Fireworks AI (FIREWORKS_API_KEY)",
    "cerebras": "Cerebras (CEREBRAS_API_KEY)",
}
for _name, _description in _COMPATIBLE.items():
    register_provider(_name, _compatible(_name), description=_description)


def build_provider(name: str, settings: Settings) -> Provider:
    """The provider for ``name:`` model strings: a registered one, or an
    OpenAI-compatible server a ``[providers.NAME]`` table gives a ``base_url``."""
    table = settings.providers.get(name)
    registered = name in known_providers()
    if not registered and table is not None and table.base_url is not None:
        return _compatible(name)(settings)
    if registered and name not in _COMPATIBLE and table is not None and table.defines_wire:
        raise ConfigError(
            f"[providers.{name}] sets wire options (base_url, api_key, ...), which only "
            f"OpenAI-compatible providers take; {name!r} has settings of its own "
            "(see `steadyllm config`), or name the table after a new provider"
        )
    return _build_registered(name, settings)


__all__ = [
    "FakeFault",
    "FakeHang",
    "FakeProvider",
    "FakeReply",
    "FakeStep",
    "Provider",
    "ProviderFactory",
    "ProviderSpec",
    "build_provider",
    "known_providers",
    "provider_spec",
    "register_provider",
]
