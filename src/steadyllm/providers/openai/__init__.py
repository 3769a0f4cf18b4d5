"""OpenAI Chat Completions: OpenAI, Azure OpenAI and every compatible server.

One pure codec (``encode``, ``decode``, ``stream``, joined in ``CODEC``) serves
them all; each differs only in its endpoint (``endpoint``: where to send and
how to authenticate, pydantic-ai's Model/Provider split) and its dialect
(``dialect``: which fields the server accepts). Reference:
spec/wire-protocols.md §1, §3, §4.
"""

from __future__ import annotations

from ..._config.settings import Settings
from ..._core.errors import ConfigError
from .._http import Codec, HTTPProvider, http_provider
from .decode import decode_error, decode_response
from .dialect import PRESETS, Dialect, without_stream_options
from .encode import encode_body
from .endpoint import OPENAI_BASE_URL, AzureEndpoint, OpenAIEndpoint
from .entra import entra_token_provider
from .stream import StreamDecoder

CODEC: Codec[Dialect] = Codec(
    encode_body, decode_response, decode_error, StreamDecoder, relax=without_stream_options
)


def make_openai(settings: Settings) -> HTTPProvider[Dialect]:
    headers = {}
    if settings.openai_org_id:
        headers["openai-organization"] = settings.openai_org_id
    if settings.openai_project_id:
        headers["openai-project"] = settings.openai_project_id
    endpoint = OpenAIEndpoint(
        "openai", settings.openai_base_url or OPENAI_BASE_URL, settings.openai_api_key, headers
    )
    return http_provider(endpoint, CODEC, Dialect(), settings)


def make_azure(settings: Settings) -> HTTPProvider[Dialect]:
    if settings.azure_openai_endpoint is None:
        raise ConfigError(
            "provider 'azure' needs AZURE_OPENAI_ENDPOINT (e.g. https://NAME.openai.azure.com)"
        )
    ad_token = settings.azure_openai_ad_token
    if settings.azure_openai_auth == "entra" and ad_token is None:
        ad_token = entra_token_provider()
    if settings.azure_openai_api_key is None and ad_token is None:
        raise ConfigError(
            "provider 'azure' needs AZURE_OPENAI_API_KEY, AZURE_OPENAI_AD_TOKEN, or "
            "AZURE_OPENAI_AUTH=entra (Microsoft Entra ID through azure-identity)"
        )
    dialect = Dialect(
        provider="azure",
        send_model=settings.azure_openai_api_version == "v1",
        key_variable="AZURE_OPENAI_API_KEY",
        documents=False,
    )
    endpoint = AzureEndpoint(
        settings.azure_openai_endpoint,
        settings.azure_openai_api_key,
        api_version=settings.azure_openai_api_version,
        ad_token=ad_token,
    )
    return http_provider(endpoint, CODEC, dialect, settings)


def make_compatible(name: str, settings: Settings) -> HTTPProvider[Dialect]:
    preset = PRESETS[name]
    base_url = getattr(settings, preset.url_setting)
    if base_url is None:
        raise ConfigError(f"provider {name!r} needs {preset.url_setting.upper()}")
    key = getattr(settings, preset.key_setting) if preset.key_setting else None
    dialect = Dialect(
        provider=name,
        max_tokens_field="max_tokens",
        ignored=preset.ignored,
        key_variable=preset.key_setting.upper() if preset.key_setting else "its API key",
        documents=False,
    )
    return http_provider(OpenAIEndpoint(name, base_url, key), CODEC, dialect, settings)
