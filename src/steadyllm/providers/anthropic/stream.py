"""Messages SSE events -> ProviderEvents (spec/wire-protocols.md §2). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import InvalidResponseError, StreamInterruptedError
from ..._core.parts import server_tool_part
from ..._core.types import (
    Citation,
    CitationDelta,
    Done,
    FinishReason,
    Part,
    PartDone,
    ProviderEvent,
    ReasoningDelta,
    RedactedThinkingPart,
    Request,
    ResponseMeta,
    TextDelta,
    TextPart,
    ThinkingPart,
    ToolCallDelta,
    Usage,
)
from ..._http.headers import anthropic_rate_limit
from ...sse import ServerSentEvent
from .._common import snippet, text_of
from .decode import _STOP, citations_of, error_from_body, service_tier, usage_from
from .dialect import JSON_TOOL, Dialect, _uses_json_tool


class _Block:
    """One content block being streamed: its pieces until content_block_stop."""

    __slots__ = ("citations", "json", "kind", "signature", "start", "text", "tool")

    def __init__(self, kind: str, start: dict[str, Any], tool: int = -1) -> None:
        self.kind = kind
        self.start = start
        self.tool = tool  # a client tool call's index
        self.text: list[str] = []
        self.json: list[str] = []
        self.citations: list[Citation] = []
        self.signature: str | None = None


class StreamDecoder:
    """Anthropic stream events → ProviderEvents. Text, thinking and client tool_use
    blocks stream as text, reasoning and tool-call deltas (tool index = order of
    tool_use blocks); every block but a client tool call also ends in one
    ``PartDone`` with the whole part (a signed thinking block, a text block with its
    citations, a server tool's call or result), which the reply's ``parts`` are
    made of. Tools Anthropic runs itself (web search, web fetch, code execution,
    MCP) are never tool calls for the client."""

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self._json_tool = _uses_json_tool(request)
        self.headers = headers
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._usage = Usage()
        self._stop: FinishReason | None = None
        self.done = False

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]:
        try:
            data = _json.loads(sse.data)
        except ValueError:
            raise self.interrupted(
                f"malformed JSON in a stream event: {snippet(sse.data.encode())}"
            ) from None
        if not isinstance(data, dict):
            raise self.interrupted("a stream event is not a JSON object")
        kind = data.get("type") or sse.event
        if kind == "message_start":
            message = data.get("message") or {}
            self._usage = usage_from(message.get("usage"), model=self._model)
            return [
                ResponseMeta(
                    self.headers.get("request-id") or message.get("id"),
                    message.get("model"),
                    anthropic_rate_limit(self.headers),
                    self._usage,
                    service_tier=service_tier(message.get("usage")),
                )
            ]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_stop":
            return self._block_stop(data.get("index", 0))
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self.done = True
            ends = [e for i in sorted(self._blocks) for e in self._block_stop(i)]
            return [*ends, self._usage, Done(self._stop or "stop")]
        if kind == "error":
            raise error_from_body(None, self.headers, data, self._dialect, self._model)
        return []  # ping, and event types added later

    def _message_delta(self, data: dict[str, Any]) -> list[ProviderEvent]:
        delta = data.get("delta") or {}
        stop = delta.get("stop_reason")
        if isinstance(stop, str):
            self._stop = _STOP.get(stop, "stop")
            if self._json_tool and self._stop == "tool_calls" and self._tools == 0:
                self._stop = "stop"
        self._usage = usage_from(data.get("usage"), self._usage, self._model)
        sequence, details = delta.get("stop_sequence"), delta.get("stop_details")
        if isinstance(sequence, str) or isinstance(details, dict):
            return [
                ResponseMeta(
                    stop_sequence=sequence if isinstance(sequence, str) else None,
                    stop_details=details if isinstance(details, dict) else None,
                )
            ]
        return []

    def _block_start(self, data: dict[str, Any]) -> list[ProviderEvent]:
        index = int(data.get("index", 0))
        block = data.get("content_block")
        block = block if isinstance(block, dict) else {}
        kind = str(block.get("type"))
        if kind == "tool_use":
            if self._json_tool and block.get("name") == JSON_TOOL:
                self._blocks[index] = _Block("json", block)
                return []
            tool_index = self._tools
            self._tools += 1
            self._blocks[index] = _Block("tool", block, tool_index)
            return [
                ToolCallDelta(
                    tool_index, id=self._id(block.get("id")), name=self._id(block.get("name"))
                )
            ]
        state = self._blocks[index] = _Block(kind, block)
        if kind == "text":
            state.citations.extend(citations_of(block.get("citations"), self._dialect.provider))
            if block.get("text"):
                state.text.append(self._text(block["text"]))
                return [TextDelta(state.text[-1])]
        elif kind == "thinking":
            if isinstance(block.get("signature"), str) and block["signature"]:
                state.signature = block["signature"]
            if block.get("thinking"):
                state.text.append(self._text(block["thinking"]))
                return [ReasoningDelta(state.text[-1])]
        return []

    def _block_stop(self, index: Any) -> list[ProviderEvent]:
        state = self._blocks.pop(int(index), None)
        if state is None or state.kind == "tool":
            return []
        part: Part
        if state.kind in ("text", "json"):
            part = TextPart("".join(state.text), tuple(state.citations))
        elif state.kind == "thinking":
            part = ThinkingPart("".join(state.text), state.signature)
        elif state.kind == "redacted_thinking":
            part = RedactedThinkingPart(str(state.start.get("data", "")))
        else:
            block = dict(state.start)
            if state.json:
                block["input"] = self._json_input("".join(state.json))
            part = server_tool_part(block)
        return [PartDone(part)]

    def _json_input(self, text: str) -> Any:
        try:
            return _json.loads(text)
        except ValueError:
            raise self.interrupted(
                f"a server tool's input is not JSON once joined: {snippet(text.encode())}"
            ) from None

    def _text(self, value: Any) -> str:
        return text_of(value, "a content block's text", provider="anthropic", model=self._model)

    def _id(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise InvalidResponseError(
            f"anthropic sent a tool_use id or name that is not text: {value!r:.60}",
            provider=self._dialect.provider,
            model=self._model,
        )

    def _block_delta(self, data: dict[str, Any]) -> list[ProviderEvent]:
        state = self._blocks.get(int(data.get("index", 0)))
        if state is None:  # a delta for a block that never started: treat it as text
            state = self._blocks[int(data.get("index", 0))] = _Block("text", {})
        delta = data.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta" and delta.get("text"):
            state.text.append(self._text(delta["text"]))
            return [TextDelta(state.text[-1])]
        if dtype == "thinking_delta" and delta.get("thinking"):
            state.text.append(self._text(delta["thinking"]))
            return [ReasoningDelta(state.text[-1])]
        if dtype == "signature_delta":
            state.signature = self._text(delta.get("signature", ""))
        elif dtype == "citations_delta":
            citation = citations_of([delta.get("citation")], self._dialect.provider)
            state.citations.extend(citation)
            return [CitationDelta(citation[0])]
        elif dtype == "input_json_delta" and delta.get("partial_json"):
            piece = self._text(delta["partial_json"])
            if state.kind == "json":
                state.text.append(piece)
                return [TextDelta(piece)]
            if state.kind == "tool":
                return [ToolCallDelta(state.tool, arguments=piece)]
            # A server tool's input (server_tool_use, mcp_tool_use): Anthropic runs it;
            # it is never a call for the client to make, but goes back with the turn.
            state.json.append(piece)
        return []

    def end(self) -> list[ProviderEvent]:
        if self.done:
            return []
        raise self.interrupted("the stream ended before message_stop")

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"anthropic stream interrupted: {why}",
            provider=self._dialect.provider,
            model=self._model,
        )
