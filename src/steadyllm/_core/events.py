"""What a stream yields: text, reasoning and tool-call fragments, refusals,
citations, finished content blocks, usage, and the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .parts import Citation, Part
from .usage import ContentFilterResult, RateLimitInfo, Usage

#: ``pause_turn``: Anthropic paused a long turn (server tools); send the turn back to
#: let it continue. ``refusal``: the model declined (Anthropic's ``stop_reason``).
#: ``unknown``: the stream ended properly (``[DONE]``) but never said why.
FinishReason = Literal[
    "stop", "length", "tool_calls", "content_filter", "error", "pause_turn", "refusal", "unknown"
]

# ---------------------------------------------------------------- stream events


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of tool call number ``index``: id and name come first, then
    argument text in pieces that only parse once joined."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    #: The provider's token bound to the call (Gemini's ``thoughtSignature``).
    signature: str | None = None
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """A piece of the model's refusal (OpenAI ``delta.refusal``): not reply text."""

    text: str
    type: Literal["refusal"] = "refusal"


@dataclass(frozen=True, slots=True)
class CitationDelta:
    """A citation of the text being streamed, as it arrives."""

    citation: Citation
    type: Literal["citation"] = "citation"


@dataclass(frozen=True, slots=True)
class PartDone:
    """One content block of the reply, complete: thinking with its signature,
    redacted thinking, a server tool's call or result, a text block with its
    citations. Sent when the block ends, for providers that reply in blocks
    (Anthropic); the reply's ``parts`` are these, in order."""

    part: Part
    type: Literal["part"] = "part"


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One output token's log probability, and the most likely alternatives
    (``top``: (token, logprob) pairs) when ``top_logprobs`` was asked for."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class LogprobsDelta:
    """Log probabilities of the tokens just streamed (with ``logprobs`` on)."""

    tokens: tuple[TokenLogprob, ...]
    type: Literal["logprobs"] = "logprobs"


@dataclass(frozen=True, slots=True)
class Done:
    """The last event: the stream finished normally."""

    finish_reason: FinishReason
    type: Literal["done"] = "done"


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """Provider metadata (response id, served model) seen in the stream; not shown to callers."""

    request_id: str | None = None
    model: str | None = None
    rate_limit: RateLimitInfo | None = None
    #: Usage known early (Anthropic's message_start), kept if the stream breaks later.
    usage: Usage | None = None
    #: Why the reply stopped, in detail (Anthropic's message_delta).
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    #: OpenAI's backend configuration and the tier that served the call.
    system_fingerprint: str | None = None
    service_tier: str | None = None
    #: One raw stream event ({"event", "data"}), sent only with ``keep_raw=True``.
    raw: dict[str, Any] | None = None
    #: Content filter verdicts seen in this event (Azure OpenAI).
    content_filter: tuple[ContentFilterResult, ...] = ()
    #: The reply object's own id (OpenAI Responses ``resp_...``).
    response_id: str | None = None
    #: The reasoning's ``ThinkingPart.item`` (OpenRouter's ``reasoning_details``, merged
    #: from the stream's pieces), sent once, at the end of the stream.
    reasoning_item: dict[str, Any] | None = None
    type: Literal["meta"] = "meta"


StreamEvent: TypeAlias = (
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | RefusalDelta
    | CitationDelta
    | PartDone
    | LogprobsDelta
    | Usage
    | Done
)
ProviderEvent: TypeAlias = StreamEvent | ResponseMeta
