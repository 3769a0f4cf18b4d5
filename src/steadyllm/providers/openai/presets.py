"""The OpenAI-compatible servers steadyllm knows by name, and how a
``[providers.NAME]`` table turns a preset (or nothing) into a ``Dialect``.

Each vendor preset follows that vendor's own compatibility page: its base
URL, its key variable, the field that caps output, and the options it accepts
and silently does nothing with (refused here, since sending them would be a
no-op the caller cannot see). Options a vendor answers with a 400 are left to
the vendor: its error says which field, and steadyllm raises it typed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

_SAMPLING = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})


@dataclass(frozen=True, slots=True)
class Preset:
    """A compatible server: where it listens by default and what it accepts."""

    name: str
    #: The setting whose value is the base URL (self-hosted servers), or None.
    url_setting: str | None = None
    #: The base URL when no setting names one (hosted vendors).
    base_url: str | None = None
    key_setting: str | None = None
    #: Whether a call fails before sending when no key is set (hosted vendors).
    key_required: bool = False
    max_tokens_field: str = "max_tokens"
    stream_usage: bool = True
    ignored: frozenset[str] = frozenset()
    model_ignored: tuple[tuple[str, frozenset[str]], ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    description: str = ""

    @property
    def key_variable(self) -> str:
        return self.key_setting.upper() if self.key_setting else "its API key"


def _hosted(name: str, base_url: str, description: str) -> Preset:
    """A hosted vendor: a fixed base URL and a required ``NAME_API_KEY`` (its prices:
    ``_metering.prices``, which maps it to its genai-prices id)."""
    return Preset(
        name,
        base_url=base_url,
        key_setting=f"{name}_api_key",
        key_required=True,
        description=description,
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "vllm", "vllm_base_url", key_setting="vllm_api_key", description="vLLM server (/v1)"
        ),
        Preset(
            "ollama",
            "ollama_base_url",
            # Ollama's /v1 layer accepts these fields and silently does nothing with them.
            ignored=frozenset(
                {
                    "tool_choice",
                    "user",
                    "logit_bias",
                    "parallel_tool_calls",
                    "n",
                    "max_completion_tokens",
                }
            ),
            description="Ollama's OpenAI-compatible API",
        ),
        Preset(
            "openrouter",
            "openrouter_base_url",
            key_setting="openrouter_api_key",
            key_required=True,
            description="OpenRouter (many models behind one key)",
        ),
        Preset("llamacpp", "llamacpp_base_url", description="llama.cpp server"),
        Preset("lmstudio", "lmstudio_base_url", description="LM Studio local server"),
        Preset(
            "compatible",
            "compatible_base_url",
            key_setting="compatible_api_key",
            description="any other OpenAI-compatible server (COMPATIBLE_BASE_URL)",
        ),
        # console.groq.com/docs/openai: logprobs, logit_bias, top_logprobs,
        # messages[].name and n != 1 are refused with a 400 by Groq itself.
        replace(
            _hosted("groq", "https://api.groq.com/openai/v1", "Groq"),
            max_tokens_field="max_completion_tokens",
        ),
        # api-docs.deepseek.com: deepseek-reasoner accepts the sampling options
        # "to ensure compatibility" and ignores them.
        replace(
            _hosted("deepseek", "https://api.deepseek.com", "DeepSeek"),
            model_ignored=(("deepseek-reasoner", _SAMPLING),),
        ),
        # docs.mistral.ai: its own schema forbids extra fields (422 extra_forbidden):
        # no stream_options (usage comes in the last chunk anyway), seed is random_seed.
        replace(
            _hosted("mistral", "https://api.mistral.ai/v1", "Mistral AI"),
            stream_usage=False,
            renamed=(("seed", "random_seed"),),
        ),
        _hosted("xai", "https://api.x.ai/v1", "xAI (Grok)"),
        _hosted("together", "https://api.together.xyz/v1", "Together AI"),
        _hosted("fireworks", "https://api.fireworks.ai/inference/v1", "Fireworks AI"),
        # inference-docs.cerebras.ai: frequency_penalty, logit_bias, presence_penalty,
        # parallel_tool_calls and service_tier are refused with a 400 by Cerebras.
        replace(
            _hosted("cerebras", "https://api.cerebras.ai/v1", "Cerebras"),
            max_tokens_field="max_completion_tokens",
        ),
    )
}
