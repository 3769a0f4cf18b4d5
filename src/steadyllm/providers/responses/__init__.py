"""The OpenAI Responses API (``POST /responses``): ``openai-responses:MODEL`` on
api.openai.com (or OPENAI_BASE_URL) and ``azure-responses:DEPLOYMENT`` on Azure's
v1 route.

A codec of its own (``encode``, ``decode``, ``stream``) over the endpoints and
the dialect of the Chat Completions family, whose error bodies it shares.
"""

from __future__ import annotations

from dataclasses import replace

from ..._config.settings import Settings
from .._http import Codec, CountCodec, HTTPProvider, http_provider
from ..openai import EMBED, make_azure, make_openai
from ..openai.dialect import Dialect
from .decode import decode_error, decode_response
from .encode import encode_body, encode_count
from .stream import StreamDecoder

#: Embeddings go to ``/embeddings`` on the same endpoint, as for Chat Completions.
CODEC: Codec[Dialect] = Codec(
    encode_body,
    decode_response,
    decode_error,
    StreamDecoder,
    embed=EMBED,
    count=CountCodec(encode_count, "input_tokens"),
)


def make_openai_responses(settings: Settings) -> HTTPProvider[Dialect]:
    """OpenAI's endpoint (key, base URL, organization and project headers) at ``/responses``."""
    chat = make_openai(settings)
    return _responses(chat, "openai-responses", settings)


def make_azure_responses(settings: Settings) -> HTTPProvider[Dialect]:
    """Azure's endpoint and credentials, always on the v1 route (``/openai/v1/responses``)."""
    chat = make_azure(settings.replace(azure_openai_api_version="v1"))
    return _responses(chat, "azure-responses", settings)


def _responses(chat: HTTPProvider[Dialect], name: str, settings: Settings) -> HTTPProvider[Dialect]:
    endpoint = replace(chat.endpoint, provider=name, path="/responses")  # type: ignore[type-var]
    dialect = replace(chat.dialect, provider=name, send_model=True)
    return http_provider(endpoint, CODEC, dialect, settings)
