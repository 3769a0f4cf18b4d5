"""OpenAI Chat Completions: OpenAI, Azure OpenAI and every compatible server.

One pure codec (``encode``, ``decode``, ``stream``, joined in ``CODEC``) serves
them all; each differs only in its endpoint (``endpoint``: where to send and
how to authenticate, pydantic-ai's Model/Provider split) and its dialect
(``dialect``: which fields the server accepts). Reference:
spec/wire-protocols.md §1, §3, §4.
"""

from __future__ import annotations

from ..._config.provider_tables import ProviderOptions
from ..._config.settings import Settings
from ..._core.errors import ConfigError
from .._http import Codec, EmbedCodec, HTTPProvider, http_provider
from .decode import decode_error, decode_response
from .dialect import Dialect, without_stream_options
from .embed import MAX_BATCH, decode_embeddings, encode_embeddings
from .encode import encode_body
from .endpoint import OPENAI_BASE_URL, AzureEndpoint, OpenAIEndpoint
from .entra import entra_token_provider
from .presets import PRESETS, Preset
from .stream import StreamDecoder

EMBED: EmbedCodec[Dialect] = EmbedCodec(
    encode_embeddings, decode_embeddings, lambda dialect, model: MAX_BATCH
)
CODEC: Codec[Dialect] = Codec(
    encode_body,
    decode_response,
    decode_error,
    StreamDecoder,
    relax=without_stream_options,
    embed=EMBED,
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
    """A compatible server: its preset (if it has one) adjusted by ``[providers.NAME]``."""
    preset = PRESETS.get(name) or Preset(name)
    table = settings.providers.get(name) or ProviderOptions()
    here = f"[providers.{name}]"
    base_url = table.base_url
    if base_url is None and preset.url_setting is not None:
        base_url = getattr(settings, preset.url_setting)
    base_url = base_url or preset.base_url
    if base_url is None:
        where = preset.url_setting.upper() if preset.url_setting else f"base_url in {here}"
        raise ConfigError(f"provider {name!r} needs {where}")
    key = table.api_key
    key_variable = table.api_key_env or preset.key_variable
    if key is None and preset.key_setting is not None:
        key = getattr(settings, preset.key_setting)
    if key is None and (preset.key_required or table.api_key_env):
        also = f"{preset.key_setting} or " if preset.key_setting else ""
        raise ConfigError(
            f"provider {name!r} needs {key_variable}; set it in the environment or in .env "
            f"(or {also}api_key in {here} of steadyllm.toml; Client(settings) uses only the "
            "settings given)"
        )
    dialect = Dialect(
        provider=name,
        max_tokens_field=table.max_tokens_field or preset.max_tokens_field,
        ignored=preset.ignored if table.ignored is None else table.ignored,
        key_variable=key_variable,
        documents=False,
        stream_usage=preset.stream_usage if table.stream_usage is None else table.stream_usage,
        renamed=preset.renamed,
        model_ignored=preset.model_ignored,
        auto_strict=False,
    )
    return http_provider(OpenAIEndpoint(name, base_url, key), CODEC, dialect, settings)
