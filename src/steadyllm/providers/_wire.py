"""What a wire family is made of: a codec (pure functions from a request to a
body and from a reply to a response or a stream of events), told the server's
dialect, and an endpoint (URL, authentication, headers). ``HTTPProvider`` joins
them over the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._core.errors import LLMError
from .._core.types import ProviderEvent, Request, Response
from .._http.request import HTTPRequest
from ..sse import ServerSentEvent

#: What a codec raises when JSON has a shape it did not expect (it raises LLMErrors
#: for the shapes it checks); turned into ``InvalidResponseError`` by the provider.
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError)
#: A wire family's dialect: what one server of the family accepts.
D = TypeVar("D")


class StreamState(Protocol):
    done: bool

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]: ...

    def end(self) -> list[ProviderEvent]: ...


class Endpoint(Protocol):
    """Where and how to send: URL, authentication and headers. Pure, no I/O."""

    provider: str

    def request(self, request: Request, body: bytes) -> HTTPRequest: ...


@dataclass(frozen=True, slots=True)
class Codec(Generic[D]):
    """A wire family's pure functions, each told the server's dialect ``D``: the body
    of a request, the response or error of a reply, the decoder of a stream."""

    encode_body: Callable[[Request, D], dict[str, Any]]
    decode_response: Callable[[Request, int, Mapping[str, str], bytes, D], Response]
    decode_error: Callable[[Request, int, Mapping[str, str], bytes, D], LLMError]
    stream: Callable[[Request, D, Mapping[str, str]], StreamState]
    #: For a stream request the server refused (status, body): a dialect to send it
    #: once more with, remembered for later calls, or None (OpenAI-compatible servers
    #: that reject ``stream_options``).
    relax: Callable[[D, int, bytes], D | None] | None = None
    #: Embeddings (``Request.embed``): the body, the reply, and the most inputs one
    #: request may carry; None for a family with no embeddings endpoint.
    embed: EmbedCodec[D] | None = None
    #: Token counts (``Request.count``): None for a family with no count endpoint.
    count: CountCodec[D] | None = None


@dataclass(frozen=True, slots=True)
class EmbedCodec(Generic[D]):
    """Embeddings (``Request.embed``) in a wire family: the body, the reply, and the
    most inputs one request may carry."""

    encode_body: Callable[[Request, D], dict[str, Any]]
    decode_response: Callable[[Request, int, Mapping[str, str], bytes, D], Response]
    #: The most inputs one request may carry, for a model in a dialect.
    max_batch: Callable[[D, str], int]


@dataclass(frozen=True, slots=True)
class CountCodec(Generic[D]):
    """A wire family's token-count endpoint: the body (the request as the family
    sends it, less what a count does not take) and the reply's field with the count."""

    encode_body: Callable[[Request, D], dict[str, Any]]
    field: str
