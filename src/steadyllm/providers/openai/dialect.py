"""What one OpenAI-style server accepts: the ``Dialect`` of OpenAI, Azure and
each compatible server (which field caps output, which options it silently
ignores), and the presets of the compatible servers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one OpenAI-style server differs from api.openai.com."""

    provider: str = "openai"
    #: Field that caps output: OpenAI wants max_completion_tokens; most servers max_tokens.
    max_tokens_field: str = "max_completion_tokens"
    #: Request options this server silently ignores: sending one is an error, not a no-op.
    ignored: frozenset[str] = frozenset()
    #: Whether the body carries "model" (Azure's classic URLs put the deployment in the path).
    send_model: bool = True
    #: Variable to name in authentication errors.
    key_variable: str = "OPENAI_API_KEY"
    #: Whether PDF file inputs are accepted (api.openai.com; not assumed elsewhere).
    documents: bool = True
    #: Whether streams ask for usage (``stream_options``); turned off for a server
    #: that refuses the field (see ``without_stream_options``).
    stream_usage: bool = True


def without_stream_options(dialect: Dialect, status: int, body: bytes) -> Dialect | None:
    """The dialect to retry a refused stream with: a server that rejects
    ``stream_options`` (a 400/422 naming it) gets streams without it."""
    if dialect.stream_usage and status in (400, 422) and b"stream_options" in body:
        return replace(dialect, stream_usage=False)
    return None


@dataclass(frozen=True, slots=True)
class Preset:
    """A compatible server: where it listens by default and what it ignores."""

    name: str
    url_setting: str
    key_setting: str | None = None
    ignored: frozenset[str] = frozenset()
    description: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("vllm", "vllm_base_url", "vllm_api_key", description="vLLM server (/v1)"),
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
            "openrouter_api_key",
            description="OpenRouter (many models behind one key)",
        ),
        Preset("llamacpp", "llamacpp_base_url", description="llama.cpp server"),
        Preset("lmstudio", "lmstudio_base_url", description="LM Studio local server"),
        Preset(
            "compatible",
            "compatible_base_url",
            "compatible_api_key",
            description="any other OpenAI-compatible server (COMPATIBLE_BASE_URL)",
        ),
    )
}
