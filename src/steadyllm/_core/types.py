"""Core value types: messages, tools, requests, responses, usage, stream events.

Plain dataclasses with ``slots``: cheap to build on the hot path, no import cost,
and easy to turn into JSON (``to_dict``). Validation of a whole request lives in
``checks.py``; these types only hold data. Parts (``parts.py``), stream events
(``events.py``) and usage (``usage.py``) have modules of their own and are
re-exported here.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .events import (
    CitationDelta,
    Done,
    FinishReason,
    LogprobsDelta,
    PartDone,
    ProviderEvent,
    ReasoningDelta,
    RefusalDelta,
    ResponseMeta,
    StreamEvent,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
)
from .parts import (
    CachePoint,
    Citation,
    DocumentPart,
    ImagePart,
    Part,
    RedactedThinkingPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    cache_point,
    document,
    image,
    part_dict,
)
from .server_tools import ServerTool
from .usage import ContentFilterResult, RateLimitInfo, Usage

# Parts, events and usage live in their own modules; every layer imports them from here.
__all__ = [
    "CacheMode",
    "CachePoint",
    "Citation",
    "CitationDelta",
    "ContentFilterResult",
    "DocumentPart",
    "Done",
    "FallbackInfo",
    "FinishReason",
    "ImagePart",
    "LogprobsDelta",
    "Message",
    "Part",
    "PartDone",
    "ProviderEvent",
    "RateLimitInfo",
    "ReasoningDelta",
    "RedactedThinkingPart",
    "RefusalDelta",
    "ReasoningEffort",
    "ReasoningSummary",
    "RefusalPart",
    "Request",
    "Response",
    "ResponseMeta",
    "Role",
    "ServerToolPart",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "ThinkingPart",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "Usage",
    "Vector",
    "assistant",
    "cache_point",
    "document",
    "image",
    "system",
    "tool_result",
    "user",
]

Role = Literal["system", "user", "assistant", "tool"]
#: Per-call cache behaviour (see docs/cache.md).
CacheMode = Literal["use", "bypass", "refresh"]


# ---------------------------------------------------------------- message parts
# (defined in parts.py, re-exported here: every layer imports its types from this module)

# ---------------------------------------------------------------- tools


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call. ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.strict is not None:
            out["strict"] = self.strict
        return out


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for. ``arguments`` is the raw JSON text as sent."""

    id: str
    name: str
    arguments: str = "{}"
    #: An opaque token the provider binds to this call and wants back with it
    #: (Gemini's ``thoughtSignature``); None for the providers that send none.
    signature: str | None = field(default=None, compare=False)

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON; an empty string means ``{}``."""
        return json.loads(self.arguments) if self.arguments.strip() else {}

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "name": self.name, "arguments": self.arguments}
        return out if self.signature is None else {**out, "signature": self.signature}


# ---------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """All text parts joined; images, thinking and tool blocks are skipped."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": [part_dict(p) for p in self.content]}
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.is_error:
            out["is_error"] = True
        return out


def _parts(content: tuple[str | Part, ...]) -> tuple[Part, ...]:
    return tuple(TextPart(c) if isinstance(c, str) else c for c in content)


def system(text: str, *, cache: Literal["5m", "1h"] | None = None) -> Message:
    """A system (instructions) message; ``cache="5m"`` or ``"1h"`` puts a prompt-cache
    breakpoint after it (the tools and the system prompt are then cached)."""
    if cache is None:
        return Message("system", (TextPart(text),))
    return Message("system", (TextPart(text), cache_point(cache)))


def user(*content: str | Part) -> Message:
    """A user message from text and image parts: ``user("What is this?", image(url=...))``."""
    return Message("user", _parts(content))


def assistant(text: str = "", tool_calls: list[ToolCall] | tuple[ToolCall, ...] = ()) -> Message:
    """An assistant turn, possibly with the tool calls it made."""
    return Message("assistant", (TextPart(text),) if text else (), tool_calls=tuple(tool_calls))


def tool_result(tool_call_id: str, content: str | Any, *, is_error: bool = False) -> Message:
    """The result of a tool call; non-string content is sent as JSON."""
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return Message("tool", (TextPart(text),), tool_call_id=tool_call_id, is_error=is_error)


@dataclass(frozen=True, slots=True)
class FallbackInfo:
    """Why a call was answered by a model other than the one asked for."""

    requested: str
    #: The error kind that made the last failed model hand over (e.g. "circuit_open").
    reason: str
    #: One entry per model that failed: {"model", "kind", "message"}.
    errors: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "reason": self.reason, "errors": list(self.errors)}


# ---------------------------------------------------------------- request and response

ToolChoice: TypeAlias = Literal["auto", "none", "required"] | str
ReasoningEffort: TypeAlias = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ReasoningSummary: TypeAlias = Literal["auto", "concise", "detailed"]
#: One embedding: 4-byte floats in a compact ``array('f')`` (a buffer numpy can wrap).
Vector: TypeAlias = "array[float]"


@dataclass(slots=True)
class Request:
    """One provider-neutral chat request. ``model`` is the provider's own name."""

    provider: str
    model: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    #: Tools the provider runs itself (``sl.web_search()``, ...), in call order.
    server_tools: list[ServerTool] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    user: str | None = None
    #: ``{"type": "json_object"}`` or ``{"type": "json_schema", "name": ..., "schema": {...}}``
    response_format: dict[str, Any] | None = None
    #: Provider-specific fields passed through to the request body untouched.
    extra: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    #: How hard a reasoning model thinks (OpenAI ``reasoning_effort``).
    reasoning_effort: ReasoningEffort | None = None
    #: A summary of the model's reasoning (OpenAI Responses ``reasoning.summary``).
    reasoning_summary: ReasoningSummary | None = None
    #: Tokens the model may spend thinking before it answers (Anthropic extended
    #: thinking, ``thinking.budget_tokens``).
    thinking_budget: int | None = None
    #: OpenAI ``prompt_cache_key``: requests sharing a key share cached prefixes.
    prompt_cache_key: str | None = None
    #: Extra HTTP headers for this call (``anthropic-beta``, a gateway's tags); they
    #: may not replace authentication or framing headers.
    headers: dict[str, str] = field(default_factory=dict)
    #: Keep the provider's raw stream events in ``Response.raw`` (streams only;
    #: ``chat()`` always keeps the raw JSON body).
    keep_raw: bool = False
    #: An embeddings call: each user message's text is one input (``client.embed``).
    embed: bool = False
    #: Embeddings: the size of each vector, for models that can shorten them.
    dimensions: int | None = None
    #: A token count (``client.count_tokens``): the provider's count endpoint, no reply.
    count: bool = False
    #: Embeddings on Gemini and Vertex AI: what the vectors are for ("retrieval_query",
    #: "retrieval_document", "semantic_similarity", ...), sent as ``taskType``.
    task: str | None = None

    @property
    def model_id(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(slots=True)
class Response:
    text: str = ""
    finish_reason: FinishReason = "stop"
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    provider: str = ""
    request_id: str | None = None
    #: The provider's id of the reply object where it differs from the request's
    #: (OpenAI Responses: ``resp_...``, what ``previous_response_id`` takes).
    response_id: str | None = None
    latency_ms: float = 0.0
    #: Milliseconds from sending to the first streamed event (streams only).
    ttft_ms: float | None = None
    cached: bool = False
    #: How many attempts the call took (1 when it succeeded at once).
    attempts: int = 1
    #: Reasoning / thinking text, when the provider returns it.
    reasoning: str = ""
    #: Rate-limit budgets from the response headers, when the provider sends them.
    rate_limit: RateLimitInfo | None = None
    #: Set when a fallback model answered: which model was asked for, and why it failed.
    fallback: FallbackInfo | None = None
    #: Set by chat_json: {"status": "pass" | "fail", "attempt": n, "errors"?: "..."}.
    validation: dict[str, Any] | None = None
    #: Set by chat_json once the reply validated: the parsed value (a pydantic
    #: model instance, or the JSON value for a JSON Schema).
    parsed: Any = None
    #: The provider's raw reply: the parsed JSON body for ``chat()``; for a stream
    #: with ``keep_raw=True``, its events ({"event", "data"}) in order; else None.
    raw: Any = None
    context: Any = None
    #: The whole call's cost over every attempt and fallback (``usage.cost_usd`` is this
    #: answer's own); None when a price is unknown. Set when the call is booked.
    total_cost_usd: float | None = None
    #: Part of ``total_cost_usd`` is an estimate: an attempt reached the provider but
    #: ended (timed out, cancelled, cut) before the provider reported its usage.
    cost_estimated: bool = False
    #: The reply's parts in the order the provider sent them: thinking (signed),
    #: text with its citations, server tool blocks, a refusal. Empty for a reply that
    #: is plain text (and tool calls) or built by hand; ``message`` then uses ``text``.
    parts: tuple[Part, ...] = ()
    #: The model declined: its explanation (OpenAI ``refusal``), never in ``text``.
    refusal: str = ""
    #: The stop sequence that ended the reply, when one did.
    stop_sequence: str | None = None
    #: The provider's details of why it stopped (Anthropic ``stop_details``: a
    #: refusal's category and explanation), as sent.
    stop_details: dict[str, Any] | None = None
    #: Per-token log probabilities, when the call asked for them
    #: (``extra={"logprobs": True, "top_logprobs": 3}`` on OpenAI).
    logprobs: tuple[TokenLogprob, ...] | None = None
    #: OpenAI's ``system_fingerprint`` (the backend configuration that answered).
    system_fingerprint: str | None = None
    #: The service tier that served the call (``default``, ``flex``, ``priority``;
    #: Anthropic's ``standard``), as the provider reported it.
    service_tier: str | None = None
    #: Azure OpenAI's content filter verdicts on the prompt and the completion.
    content_filter: tuple[ContentFilterResult, ...] = ()
    #: An embeddings call's vectors, one per input, in order (``array('f')``).
    embeddings: tuple[Vector, ...] = ()

    @property
    def message(self) -> Message:
        """This reply as an assistant message, to append to the conversation: every
        part kept in order, so thinking and server tool blocks go back unchanged."""
        if not self.parts:
            return assistant(self.text, self.tool_calls)
        return Message("assistant", self.parts, tool_calls=tuple(self.tool_calls))

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Every citation of the reply's text, in order."""
        return tuple(c for p in self.parts if isinstance(p, TextPart) for c in p.citations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "model": self.model,
            "provider": self.provider,
            "request_id": self.request_id,
            "response_id": self.response_id,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "cached": self.cached,
            "attempts": self.attempts,
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "stop_sequence": self.stop_sequence,
            "system_fingerprint": self.system_fingerprint,
            "service_tier": self.service_tier,
            "parts": [part_dict(p) for p in self.parts],
            "fallback": self.fallback.to_dict() if self.fallback else None,
            "total_cost_usd": self.total_cost_usd,
            "cost_estimated": self.cost_estimated,
        }
