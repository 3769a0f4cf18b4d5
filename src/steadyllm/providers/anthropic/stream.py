"""Messages SSE events -> ProviderEvents (spec/wire-protocols.md §2). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import InvalidResponseError, StreamInterruptedError
from ..._core.types import (
    Done,
    FinishReason,
    ProviderEvent,
    ReasoningDelta,
    Request,
    ResponseMeta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..._http.headers import anthropic_rate_limit
from ...sse import ServerSentEvent
from .._common import snippet, text_of
from .decode import _STOP, error_from_body, usage_from
from .dialect import JSON_TOOL, Dialect, _uses_json_tool


class StreamDecoder:
    """Anthropic stream events → ProviderEvents. Content blocks become text,
    reasoning or tool-call deltas (tool index = order of tool_use blocks); the
    blocks of tools Anthropic runs itself (web search, web fetch, code execution,
    MCP) are not tool calls for the client."""

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self._json_tool = _uses_json_tool(request)
        self.headers = headers
        self._blocks: dict[int, tuple[str, int]] = {}  # block index -> (kind, tool index)
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
                )
            ]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_delta":
            delta = data.get("delta") or {}
            stop = delta.get("stop_reason")
            if isinstance(stop, str):
                self._stop = _STOP.get(stop, "stop")
                if self._json_tool and self._stop == "tool_calls" and self._tools == 0:
                    self._stop = "stop"
            self._usage = usage_from(data.get("usage"), self._usage, self._model)
            return []
        if kind == "message_stop":
            self.done = True
            return [self._usage, Done(self._stop or "stop")]
        if kind == "error":
            raise error_from_body(None, self.headers, data, self._dialect, self._model)
        return []  # ping, content_block_stop, and event types added later

    def _block_start(self, data: dict[str, Any]) -> list[ProviderEvent]:
        index = int(data.get("index", 0))
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            if self._json_tool and block.get("name") == JSON_TOOL:
                self._blocks[index] = ("json", -1)
                return []
            tool_index = self._tools
            self._tools += 1
            self._blocks[index] = ("tool", tool_index)
            return [
                ToolCallDelta(
                    tool_index, id=self._id(block.get("id")), name=self._id(block.get("name"))
                )
            ]
        self._blocks[index] = (str(kind), -1)
        if kind == "text" and block.get("text"):
            return [TextDelta(self._text(block["text"]))]
        return []

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
        kind, tool_index = self._blocks.get(int(data.get("index", 0)), ("text", -1))
        delta = data.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta" and delta.get("text"):
            return [TextDelta(self._text(delta["text"]))]
        if dtype == "thinking_delta" and delta.get("thinking"):
            return [ReasoningDelta(self._text(delta["thinking"]))]
        if dtype == "input_json_delta" and delta.get("partial_json"):
            if kind == "json":
                return [TextDelta(self._text(delta["partial_json"]))]
            if kind == "tool":
                return [ToolCallDelta(tool_index, arguments=self._text(delta["partial_json"]))]
            # A server tool's input (server_tool_use, mcp_tool_use): Anthropic runs it;
            # it is never a call for the client to make.
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
