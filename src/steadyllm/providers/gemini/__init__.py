"""Google Gemini: ``gemini:MODEL`` on the Gemini API and ``vertex:MODEL`` on Vertex
AI, one ``generateContent`` codec over two endpoints.

The Gemini API's key comes from ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``) and goes
in ``x-goog-api-key``. Vertex AI needs a project (``GOOGLE_CLOUD_PROJECT``), a
location (``GOOGLE_CLOUD_LOCATION``) and an OAuth token: ``VERTEX_ACCESS_TOKEN`` (a
string or, in code, a callable that rotates it), or else Application Default
Credentials through google-auth (the ``vertex`` extra), refreshed ahead of expiry,
one refresh at a time.
"""

from __future__ import annotations

from ..._config.settings import Settings
from ..._core.errors import ConfigError
from .._http import Codec, CountCodec, EmbedCodec, HTTPProvider, http_provider
from .adc import adc_token_provider
from .decode import decode_error, decode_response
from .dialect import Dialect
from .embed import decode_embeddings, encode_embeddings, max_batch
from .encode import encode_body, encode_count
from .endpoint import GEMINI_BASE_URL, GeminiEndpoint, VertexEndpoint, vertex_base_url
from .stream import StreamDecoder

EMBED: EmbedCodec[Dialect] = EmbedCodec(
    encode_embeddings, decode_embeddings, lambda dialect, model: max_batch(dialect.provider, model)
)
CODEC: Codec[Dialect] = Codec(
    encode_body,
    decode_response,
    decode_error,
    StreamDecoder,
    embed=EMBED,
    count=CountCodec(encode_count, "totalTokens"),
)


def make_gemini(settings: Settings) -> HTTPProvider[Dialect]:
    key = settings.gemini_api_key or settings.google_api_key
    if key is None:
        raise ConfigError(
            "provider 'gemini' needs GEMINI_API_KEY (or GOOGLE_API_KEY); set it in the "
            "environment or .env, or as gemini_api_key in steadyllm.toml"
        )
    endpoint = GeminiEndpoint(settings.gemini_base_url or GEMINI_BASE_URL, key)
    return http_provider(endpoint, CODEC, Dialect(), settings)


def make_vertex(settings: Settings) -> HTTPProvider[Dialect]:
    if not settings.vertex_project:
        raise ConfigError(
            "provider 'vertex' needs GOOGLE_CLOUD_PROJECT (the Google Cloud project id)"
        )
    token = settings.vertex_access_token or adc_token_provider()
    location = settings.vertex_location
    endpoint = VertexEndpoint(
        settings.vertex_base_url or vertex_base_url(location),
        settings.vertex_project,
        location,
        token,
    )
    dialect = Dialect(provider="vertex", key_variable="VERTEX_ACCESS_TOKEN")
    return http_provider(endpoint, CODEC, dialect, settings)
