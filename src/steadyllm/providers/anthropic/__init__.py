"""Anthropic Messages (spec/wire-protocols.md §2): a pure codec (``encode``,
``decode``, ``stream``, joined in ``CODEC``), the endpoint (URL and
authentication per API version) and the dialect (what each API version
accepts)."""

from __future__ import annotations

from ..._config.settings import Settings
from ..._core.errors import ConfigError
from .._http import Codec, CountCodec, HTTPProvider, http_provider
from .decode import decode_error, decode_response
from .dialect import VERSIONS, Dialect
from .encode import encode_body, encode_count
from .endpoint import ANTHROPIC_BASE_URL, AnthropicEndpoint
from .stream import StreamDecoder

CODEC: Codec[Dialect] = Codec(
    encode_body,
    decode_response,
    decode_error,
    StreamDecoder,
    count=CountCodec(encode_count, "input_tokens"),
)


def make_anthropic(settings: Settings) -> HTTPProvider[Dialect]:
    if settings.anthropic_api_key is None:  # pragma: no cover - the registry checks first
        raise ConfigError("provider 'anthropic' needs ANTHROPIC_API_KEY")
    if settings.anthropic_api_version not in VERSIONS:
        raise ConfigError(
            f"ANTHROPIC_API_VERSION={settings.anthropic_api_version!r} is not supported; "
            f"use one of {', '.join(VERSIONS)}"
        )
    dialect = Dialect(version=settings.anthropic_api_version)
    endpoint = AnthropicEndpoint(
        settings.anthropic_api_key,
        settings.anthropic_base_url or ANTHROPIC_BASE_URL,
        dialect.version,
    )
    provider = http_provider(endpoint, CODEC, dialect, settings)
    provider.default_max_tokens = dialect.default_max_tokens
    return provider
