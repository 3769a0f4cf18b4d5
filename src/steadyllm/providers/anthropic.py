"""Anthropic Messages over the transport (codec in ``_anthropic_codec``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._config.settings import Secret, Settings
from .._core import fastjson as _json
from .._core.errors import ConfigError, LLMError
from .._core.types import Request, Response
from .._http.transport import HTTPRequest
from . import _anthropic_codec as codec
from ._http import HTTPProvider, StreamState, http_provider

ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@dataclass(slots=True)
class AnthropicWire:
    """``POST {base_url}/v1/messages``, authenticated per API version."""

    api_key: Secret
    base_url: str = ANTHROPIC_BASE_URL
    options: codec.AnthropicOptions = field(default_factory=codec.AnthropicOptions)
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str = "anthropic"

    def build(self, request: Request) -> HTTPRequest:
        body = _json.dumps(codec.encode_body(request, self.options))
        headers = {
            "content-type": "application/json",
            **codec.auth_headers(self.api_key.get(), self.options.version),
            **self.headers,
        }
        if request.stream:
            headers["accept"] = "text/event-stream"
        return HTTPRequest("POST", self.base_url.rstrip("/") + "/v1/messages", headers, body)

    def decode_response(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> Response:
        return codec.decode_response(request, status, headers, body, self.options)

    def decode_error(
        self, request: Request, status: int, headers: Mapping[str, str], body: bytes
    ) -> LLMError:
        return codec.decode_error(request, status, headers, body, self.options)

    def stream_state(self, request: Request, headers: Mapping[str, str]) -> StreamState:
        return codec.StreamDecoder(request, self.options, headers)


def make_anthropic(settings: Settings) -> HTTPProvider:
    if settings.anthropic_api_key is None:  # pragma: no cover - the registry checks first
        raise ConfigError("provider 'anthropic' needs ANTHROPIC_API_KEY")
    if settings.anthropic_api_version not in codec.VERSIONS:
        raise ConfigError(
            f"ANTHROPIC_API_VERSION={settings.anthropic_api_version!r} is not supported; "
            f"use one of {', '.join(codec.VERSIONS)}"
        )
    wire = AnthropicWire(
        settings.anthropic_api_key,
        settings.anthropic_base_url or ANTHROPIC_BASE_URL,
        codec.AnthropicOptions(version=settings.anthropic_api_version),
    )
    provider = http_provider(wire, settings)
    provider.default_max_tokens = wire.options.default_max_tokens
    return provider
