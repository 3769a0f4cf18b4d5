"""The parts of a message: text (with its citations), images, the model's thinking,
blocks of tools the provider runs itself, and refusals.

A reply's parts are kept in the order the provider sent them, so that
``response.message`` can be sent back unchanged: Anthropic requires an
assistant turn that used tools to keep its thinking blocks (with their
signatures) and the server tool blocks it produced. Each provider's encoder
sends the parts it can take and leaves out the ones that only mean something
to another provider (an Anthropic signature means nothing to OpenAI).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a piece of text came from: a web page (``url_citation``,
    ``web_search_result_location``) or a place in a document the caller gave
    (``char_location``, ``page_location``, ``content_block_location``).

    ``start`` and ``end`` are the provider's own positions: character offsets into
    the text part for OpenAI's ``url_citation``, characters, pages or blocks of the
    cited document for Anthropic's document locations. ``raw`` is the provider's
    object as sent, returned unchanged when the message goes back to it."""

    type: str
    cited_text: str = ""
    url: str | None = None
    title: str | None = None
    document_index: int | None = None
    start: int | None = None
    end: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw) if self.raw else {"type": self.type, "cited_text": self.cited_text}


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    #: The sources this text cites (Anthropic citations, OpenAI url_citation annotations).
    citations: tuple[Citation, ...] = ()
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image given by URL (``https:`` or ``data:``) or by raw bytes plus media type."""

    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    type: Literal["image"] = "image"

    def as_data_url(self) -> str:
        """The image as a URL: the given one, or a ``data:`` URL built from the bytes."""
        if self.url is not None:
            return self.url
        assert self.data is not None  # checked in image()
        assert self.media_type is not None
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A document for the model to read: a PDF (``data`` bytes or a ``url``) or plain
    text (``text``). ``citations=True`` lets Anthropic cite passages of it."""

    data: bytes | None = None
    url: str | None = None
    text: str | None = None
    media_type: str = "application/pdf"
    title: str | None = None
    citations: bool = False
    type: Literal["document"] = "document"

    def as_base64(self) -> str:
        assert self.data is not None  # checked in document()
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """The model's reasoning. ``signature`` is Anthropic's proof that the text is the
    model's own; only a signed part is sent back to Anthropic, and no thinking is
    sent to a provider that does not take it."""

    text: str
    signature: str | None = None
    #: What the reasoning must go back as, returned verbatim to the API that sent it and
    #: to no other: the Responses API's ``reasoning`` item (id, summary, encrypted
    #: content), ``{"gemini": part}``, or ``{"reasoning_details": [...], "provider": P}``.
    item: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    type: Literal["thinking"] = "thinking"


@dataclass(frozen=True, slots=True)
class RedactedThinkingPart:
    """Thinking the provider encrypted (Anthropic ``redacted_thinking``): opaque,
    but it must go back with the turn it belongs to."""

    data: str
    type: Literal["redacted_thinking"] = "redacted_thinking"


Wire: TypeAlias = Literal["anthropic", "responses", "gemini"]
_WIRES: tuple[Wire, ...] = ("anthropic", "responses", "gemini")


@dataclass(frozen=True, slots=True)
class ServerToolPart:
    """A block of a tool the provider runs itself: its call (``server_tool_use``,
    ``mcp_tool_use``) or its result (``web_search_tool_result``,
    ``web_fetch_tool_result``, ``code_execution_tool_result``, ``mcp_tool_result``,
    ...). Never a call for the client to make. ``block`` is the provider's block as
    sent, returned verbatim on the next turn."""

    kind: str
    #: The call's id (for a result: the id of the call it answers).
    id: str
    #: The tool's name (calls only).
    name: str | None = None
    block: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: The API whose block this is: ``anthropic`` (Messages), ``responses`` (OpenAI's
    #: built-in tool items) or ``gemini`` (code execution parts); each encoder sends
    #: back only its own.
    wire: Wire = "anthropic"
    type: Literal["server_tool"] = "server_tool"

    @property
    def is_result(self) -> bool:
        return "tool_use_id" in self.block

    @property
    def input(self) -> Any:
        """What the tool was asked (calls), e.g. ``{"query": "..."}`` for a web search."""
        return self.block.get("input")

    @property
    def content(self) -> Any:
        """What the tool returned (results), as the provider sent it."""
        return self.block.get("content")


@dataclass(frozen=True, slots=True)
class RefusalPart:
    """The model declined, in its own words (OpenAI's ``refusal``): never reply text."""

    text: str
    type: Literal["refusal"] = "refusal"


@dataclass(frozen=True, slots=True)
class CachePoint:
    """A prompt-cache breakpoint: everything up to the part before it (tools, system,
    earlier messages included) is cached by providers that are told where to cache
    (Anthropic ``cache_control``), for ``ttl`` ("5m" or "1h"). Providers that cache
    on their own (OpenAI) ignore it."""

    ttl: Literal["5m", "1h"] = "5m"
    type: Literal["cache_point"] = "cache_point"


Part: TypeAlias = (
    TextPart
    | ImagePart
    | DocumentPart
    | ThinkingPart
    | RedactedThinkingPart
    | ServerToolPart
    | RefusalPart
    | CachePoint
)
#: The parts only an assistant turn can hold (the model wrote them).
ASSISTANT_ONLY = (ThinkingPart, RedactedThinkingPart, ServerToolPart, RefusalPart)


def server_tool_part(block: dict[str, Any], wire: Wire = "anthropic") -> ServerToolPart:
    kind = str(block.get("type") or "")
    ident = block.get("tool_use_id") if "tool_use_id" in block else block.get("id")
    name = block.get("name")
    return ServerToolPart(
        kind, str(ident or ""), name if isinstance(name, str) else None, dict(block), wire
    )


def part_dict(part: Part) -> dict[str, Any]:
    """A part as JSON (logs, the cache key, the cache): ``part_from_dict`` reads it back."""
    if isinstance(part, TextPart):
        out: dict[str, Any] = {"type": "text", "text": part.text}
        if part.citations:
            out["citations"] = [c.to_dict() for c in part.citations]
        return out
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"type": "image", "url": part.as_data_url()}
        if part.detail:
            image["detail"] = part.detail
        return image
    if isinstance(part, ThinkingPart):
        thought = {"type": "thinking", "text": part.text, "signature": part.signature}
        return thought if part.item is None else {**thought, "item": part.item}
    if isinstance(part, RedactedThinkingPart):
        return {"type": "redacted_thinking", "data": part.data}
    if isinstance(part, ServerToolPart):
        tool = {"type": "server_tool", "block": part.block}
        return tool if part.wire == "anthropic" else {**tool, "wire": part.wire}
    if isinstance(part, CachePoint):
        return {"type": "cache_point", "ttl": part.ttl}
    if isinstance(part, DocumentPart):
        doc: dict[str, Any] = {"type": "document", "media_type": part.media_type}
        if part.data is not None:
            doc["data"] = part.as_base64()
        doc.update({k: v for k, v in (("url", part.url), ("text", part.text)) if v is not None})
        if part.title is not None:
            doc["title"] = part.title
        if part.citations:
            doc["citations"] = True
        return doc
    return {"type": "refusal", "text": part.text}


def part_from_dict(data: dict[str, Any]) -> Part:
    """The inverse of ``part_dict``; raises KeyError or TypeError on a foreign shape."""
    kind = data["type"]
    if kind == "text":
        cites = tuple(citation_from(c) for c in data.get("citations") or ())
        return TextPart(str(data["text"]), cites)
    if kind == "image":
        return ImagePart(url=str(data["url"]), detail=data.get("detail"))
    if kind == "thinking":
        item = data.get("item")
        return ThinkingPart(
            str(data["text"]), data.get("signature"), dict(item) if isinstance(item, dict) else None
        )
    if kind == "redacted_thinking":
        return RedactedThinkingPart(str(data["data"]))
    if kind == "server_tool":
        wire: Wire = next((w for w in _WIRES if w == data.get("wire")), "anthropic")
        return server_tool_part(dict(data["block"]), wire)
    if kind == "refusal":
        return RefusalPart(str(data["text"]))
    if kind == "cache_point":
        return CachePoint(data["ttl"])
    if kind == "document":
        raw = data.get("data")
        return DocumentPart(
            data=base64.b64decode(raw) if isinstance(raw, str) else None,
            url=data.get("url"),
            text=data.get("text"),
            media_type=str(data["media_type"]),
            title=data.get("title"),
            citations=bool(data.get("citations")),
        )
    raise KeyError(kind)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def citation_from(raw: Any) -> Citation:
    """A Citation from an Anthropic citation or an OpenAI ``url_citation``
    annotation (whose fields sit under ``url_citation``)."""
    if not isinstance(raw, dict):
        raise TypeError(f"a citation is not an object: {raw!r:.60}")
    kind = str(raw.get("type") or "")
    nested = raw.get("url_citation")
    body: dict[str, Any] = nested if isinstance(nested, dict) else raw
    start = next(
        (
            _int(body.get(k))
            for k in ("start_index", "start_char_index", "start_page_number", "start_block_index")
            if k in body
        ),
        None,
    )
    end = next(
        (
            _int(body.get(k))
            for k in ("end_index", "end_char_index", "end_page_number", "end_block_index")
            if k in body
        ),
        None,
    )
    return Citation(
        type=kind,
        cited_text=_str(body.get("cited_text")) or "",
        url=_str(body.get("url")),
        title=_str(body["title"]) if "title" in body else _str(body.get("document_title")),
        document_index=_int(body.get("document_index")),
        start=start,
        end=end,
        raw=dict(raw),
    )


def reply_parts(
    reasoning: str,
    text: str,
    citations: tuple[Citation, ...] = (),
    refusal: str = "",
    item: dict[str, Any] | None = None,
) -> tuple[Part, ...]:
    """The parts of a reply whose provider sends no blocks (Chat Completions):
    the same for a response and for a stream of it. A plain-text reply has none:
    ``Response.message`` builds that one from the text (the usual case, per call).
    ``item``: the reasoning's own data to send back (OpenRouter's ``reasoning_details``)."""
    if not (reasoning or citations or refusal or item):
        return ()
    parts: list[Part] = []
    if reasoning or item:
        parts.append(ThinkingPart(reasoning, item=item))
    if text or citations:
        parts.append(TextPart(text, citations))
    if refusal:
        parts.append(RefusalPart(refusal))
    return tuple(parts)


# ---------------------------------------------------------------- builders


def cache_point(ttl: Literal["5m", "1h"] = "5m") -> CachePoint:
    """A prompt-cache breakpoint after the part before it:
    ``sl.user(long_document, sl.cache_point())``."""
    if ttl not in ("5m", "1h"):
        raise InvalidRequestError(f"cache_point(ttl={ttl!r}): use '5m' or '1h'")
    return CachePoint(ttl)


def document(
    *,
    data: bytes | None = None,
    url: str | None = None,
    text: str | None = None,
    media_type: str | None = None,
    title: str | None = None,
    citations: bool = False,
) -> DocumentPart:
    """A document part: a PDF from ``data`` (bytes) or a ``url``, or plain ``text``."""
    if sum(x is not None for x in (data, url, text)) != 1:
        raise InvalidRequestError("document() needs exactly one of data=, url= or text=")
    kind = media_type or ("text/plain" if text is not None else "application/pdf")
    if kind not in ("application/pdf", "text/plain"):
        raise InvalidRequestError(
            f"document(media_type={kind!r}): use 'application/pdf' or 'text/plain' "
            "(images go in sl.image())"
        )
    if text is not None and kind != "text/plain":
        raise InvalidRequestError("document(text=...) is plain text: leave media_type out")
    return DocumentPart(data, url, text, kind, title, citations)


def image(
    *,
    url: str | None = None,
    data: bytes | None = None,
    media_type: str | None = None,
    detail: Literal["auto", "low", "high"] | None = None,
) -> ImagePart:
    """An image part, from a URL or from bytes plus their media type."""
    if (url is None) == (data is None):
        raise InvalidRequestError("image() needs exactly one of url= or data=")
    if data is not None and not (media_type or "").startswith("image/"):
        raise InvalidRequestError("image(data=...) needs media_type, e.g. media_type='image/png'")
    return ImagePart(url=url, data=data, media_type=media_type, detail=detail)
