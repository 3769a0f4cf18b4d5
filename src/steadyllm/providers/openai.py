"""OpenAI, Azure OpenAI and OpenAI-compatible servers: one codec, several endpoints.

The codec (``_openai_codec``) is shared; an endpoint says where to send and
how to authenticate (pydantic-ai's Model/Provider split): api.openai.com with
a Bearer key; Azure with ``api-key`` (or an Entra token) and either the
classic deployment URL plus ``api-version`` or the v1 URL; and presets for
vLLM, Ollama, OpenRouter, llama.cpp, LM Studio and any other compatible server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._config.settings import Secret, Settings
from .._core import fastjson as _json
from .._core.errors import ConfigError, LLMError
from .._core.types import Request, Response
from .._http.transport import HTTPRequest
from . import _openai_codec as codec
from ._http import HTTPProvider, StreamState, http_provider

OPENAI_BASE_URL = "https://api.openai.com/v1"


def dumps(body: object) -> bytes:
    return _json.dumps(body)


@dataclass(slots=True)
class OpenAIWire:
    """``POST {base_url}/chat/completions`` with a Bearer key (optional for local servers)."""

    provider: str
    base_url: str
    api_key: Secret | None = None
    dialect: codec.Dialect = field(default_factory=codec.Dialect)
    headers: Mapping[str, str] = field(default_factory=dict)

    def _headers(self, request: Request) -> dict[str, str]:
        out = {"content-type": "application/json", **self.headers}
        if self.api_key is not None:
            out["authorization"] = f"Bearer {self.api_key.get()}"
        if request.stream:
            out["accept"] = "text/event-stream"
        return out

    def build(self, request: Request) -> HTTPRequest:
        body = dumps(codec.encode_body(request, self.dialect))
        url = self.base_url.rstrip("/") + "/chat/completions"
        return HTTPRequest("POST", url, self._headers(request), body)

    def decode_response(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> Response:
        return codec.decode_response(request, status, headers, body, self.dialect)

    def decode_error(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> LLMError:
        return codec.decode_error(request, status, headers, body, self.dialect)

    def stream_state(self, request: Request, headers: Mapping[str, str]) -> StreamState:
        return codec.StreamDecoder(request, self.dialect, headers)


@dataclass(slots=True)
class AzureWire(OpenAIWire):
    """Azure OpenAI: the model name is the deployment. ``api_version="v1"`` uses
    ``{endpoint}/openai/v1/chat/completions`` (model in the body); any dated version
    uses ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=``."""

    api_version: str = "2024-10-21"
    ad_token: Secret | None = None

    def build(self, request: Request) -> HTTPRequest:
        body = dumps(codec.encode_body(request, self.dialect))
        root = self.base_url.rstrip("/")
        headers = {"content-type": "application/json", **self.headers}
        if self.ad_token is not None:
            headers["authorization"] = f"Bearer {self.ad_token.get()}"
        elif self.api_key is not None:
            headers["api-key"] = self.api_key.get()
        if request.stream:
            headers["accept"] = "text/event-stream"
        if self.api_version == "v1":
            return HTTPRequest("POST", f"{root}/openai/v1/chat/completions", headers, body)
        url = f"{root}/openai/deployments/{request.model}/chat/completions"
        return HTTPRequest("POST", url, headers, body, params={"api-version": self.api_version})


def _provider(settings: Settings, wire: OpenAIWire) -> HTTPProvider:
    return http_provider(wire, settings)


def make_openai(settings: Settings) -> HTTPProvider:
    wire = OpenAIWire(
        "openai", settings.openai_base_url or OPENAI_BASE_URL, settings.openai_api_key
    )
    return _provider(settings, wire)


def make_azure(settings: Settings) -> HTTPProvider:
    if settings.azure_openai_endpoint is None:
        raise ConfigError(
            "provider 'azure' needs AZURE_OPENAI_ENDPOINT (e.g. https://NAME.openai.azure.com)"
        )
    if settings.azure_openai_api_key is None and settings.azure_openai_ad_token is None:
        raise ConfigError("provider 'azure' needs AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN")
    dialect = codec.Dialect(
        provider="azure",
        send_model=settings.azure_openai_api_version == "v1",
        key_variable="AZURE_OPENAI_API_KEY",
    )
    wire = AzureWire(
        "azure",
        settings.azure_openai_endpoint,
        settings.azure_openai_api_key,
        dialect,
        api_version=settings.azure_openai_api_version,
        ad_token=settings.azure_openai_ad_token,
    )
    return _provider(settings, wire)


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


def make_compatible(name: str, settings: Settings) -> HTTPProvider:
    preset = PRESETS[name]
    base_url = getattr(settings, preset.url_setting)
    if base_url is None:
        raise ConfigError(f"provider {name!r} needs {preset.url_setting.upper()}")
    key = getattr(settings, preset.key_setting) if preset.key_setting else None
    dialect = codec.Dialect(
        provider=name,
        max_tokens_field="max_tokens",
        ignored=preset.ignored,
        key_variable=preset.key_setting.upper() if preset.key_setting else "its API key",
    )
    return _provider(settings, OpenAIWire(name, base_url, key, dialect))
