"""Providers and their registry.

Built in: ``fake``; ``openai``, ``azure``, ``anthropic``; and the OpenAI-compatible
presets ``vllm``, ``ollama``, ``openrouter``, ``llamacpp``, ``lmstudio`` and
``compatible``. HTTP providers are imported on first use, not at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import (
    Provider,
    ProviderFactory,
    ProviderSpec,
    build_provider,
    known_providers,
    provider_spec,
    register_provider,
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
    "anthropic",
    _anthropic,
    required=(("anthropic_api_key", "ANTHROPIC_API_KEY"),),
    description="Anthropic Messages",
)
_PRESETS = {
    "vllm": ((), "vLLM server (VLLM_BASE_URL)"),
    "ollama": ((), "Ollama's OpenAI-compatible API (OLLAMA_BASE_URL)"),
    "openrouter": ((("openrouter_api_key", "OPENROUTER_API_KEY"),), "OpenRouter"),
    "llamacpp": ((), "llama.cpp server (LLAMACPP_BASE_URL)"),
    "lmstudio": ((), "LM Studio local server (LMSTUDIO_BASE_URL)"),
    "compatible": (
        (("compatible_base_url", "COMPATIBLE_BASE_URL"),),
        "any OpenAI-compatible server (COMPATIBLE_BASE_URL)",
    ),
}
for _name, (_required, _description) in _PRESETS.items():
    register_provider(_name, _compatible(_name), required=_required, description=_description)

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
