"""Assemble a whole Response from stream events (one path for every provider).

Providers only decode their wire events into ``ProviderEvent``s; this class
joins text, reassembles tool calls by index (id and name from the first
fragment that has them, arguments concatenated), keeps the last usage seen,
and knows whether the stream finished. The reply's parts are the finished
blocks (``PartDone``) where the provider streams blocks, else built from the
text, reasoning, citations and refusal exactly as a whole response's are.
"""

from __future__ import annotations

from typing import Any

from .._core.parts import reply_parts
from .._core.types import (
    Citation,
    CitationDelta,
    ContentFilterResult,
    Done,
    FinishReason,
    LogprobsDelta,
    Part,
    PartDone,
    ProviderEvent,
    RateLimitInfo,
    ReasoningDelta,
    RefusalDelta,
    Response,
    ResponseMeta,
    TextDelta,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    Usage,
)


class _PartialCall:
    __slots__ = ("arguments", "id", "name", "signature")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []
        self.signature: str | None = None


class StreamAssembler:
    """Feed events with ``add``; read the Response so far with ``response()``."""

    __slots__ = (
        "_calls",
        "_citations",
        "_content_filter",
        "_logprobs",
        "_parts",
        "_raw",
        "_reasoning",
        "_refusal",
        "_text",
        "finish_reason",
        "model",
        "rate_limit",
        "reasoning_item",
        "request_id",
        "response_id",
        "service_tier",
        "stop_details",
        "stop_sequence",
        "system_fingerprint",
        "usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: FinishReason | None = None
        self.request_id: str | None = None
        self.response_id: str | None = None
        self.model: str | None = None
        self.rate_limit: RateLimitInfo | None = None
        self._parts: list[Part] = []
        self._citations: list[Citation] = []
        self._refusal: list[str] = []
        self.stop_sequence: str | None = None
        self.stop_details: dict[str, Any] | None = None
        self._logprobs: list[TokenLogprob] | None = None
        self._raw: list[dict[str, Any]] | None = None
        self._content_filter: dict[tuple[str, str], ContentFilterResult] = {}
        self.system_fingerprint: str | None = None
        self.service_tier: str | None = None
        self.reasoning_item: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def add(self, event: ProviderEvent) -> None:
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, ToolCallDelta):
            call = self._calls.get(event.index)
            if call is None:
                call = self._calls[event.index] = _PartialCall()
            if event.id:
                call.id = event.id
            if event.name and not call.name:  # some servers repeat the full name: never append
                call.name = event.name
            if event.arguments:
                call.arguments.append(event.arguments)
            call.signature = event.signature or call.signature
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Done):
            self.finish_reason = event.finish_reason
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        elif isinstance(event, PartDone):
            self._parts.append(event.part)
        elif isinstance(event, CitationDelta):
            self._citations.append(event.citation)
        elif isinstance(event, RefusalDelta):
            self._refusal.append(event.text)
        elif isinstance(event, LogprobsDelta):
            if self._logprobs is None:
                self._logprobs = []
            self._logprobs.extend(event.tokens)
        elif isinstance(event, ResponseMeta):
            self._meta(event)

    def _meta(self, event: ResponseMeta) -> None:
        for verdict in event.content_filter:  # the latest per (source, category)
            self._content_filter[verdict.source, verdict.category] = verdict
        if event.raw is not None:
            if self._raw is None:
                self._raw = []
            self._raw.append(event.raw)
            return
        self.request_id = self.request_id or event.request_id
        self.response_id = self.response_id or event.response_id
        self.model = self.model or event.model
        self.rate_limit = self.rate_limit or event.rate_limit
        if event.usage is not None and self.usage is None:
            self.usage = event.usage
        self.stop_sequence = event.stop_sequence or self.stop_sequence
        self.stop_details = event.stop_details or self.stop_details
        self.system_fingerprint = self.system_fingerprint or event.system_fingerprint
        self.service_tier = self.service_tier or event.service_tier
        self.reasoning_item = event.reasoning_item or self.reasoning_item

    def response(self, *, provider: str, model: str) -> Response:
        calls = [
            ToolCall(c.id, c.name, "".join(c.arguments) or "{}", c.signature)
            for _, c in sorted(self._calls.items())
        ]
        finish: FinishReason = self.finish_reason or "error"
        text, reasoning, refusal = (
            "".join(self._text),
            "".join(self._reasoning),
            "".join(self._refusal),
        )
        parts = (
            tuple(self._parts)
            if self._parts
            else reply_parts(reasoning, text, tuple(self._citations), refusal, self.reasoning_item)
        )
        return Response(
            text=text,
            finish_reason=finish,
            tool_calls=calls,
            usage=self.usage if self.usage is not None else Usage(),
            model=self.model or model,
            provider=provider,
            request_id=self.request_id,
            response_id=self.response_id,
            reasoning=reasoning,
            rate_limit=self.rate_limit,
            parts=parts,
            refusal=refusal,
            stop_sequence=self.stop_sequence,
            stop_details=self.stop_details,
            logprobs=tuple(self._logprobs) if self._logprobs is not None else None,
            system_fingerprint=self.system_fingerprint,
            service_tier=self.service_tier,
            raw=self._raw,
            content_filter=tuple(self._content_filter.values()),
        )
