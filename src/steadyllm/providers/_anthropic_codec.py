"""Anthropic Messages as pure functions (spec/wire-protocols.md §2).

Differences from OpenAI handled here: the system prompt is a top-level field;
content is blocks; tool calls are ``tool_use`` blocks whose input is a JSON
object; tool results are ``tool_result`` blocks in a user turn; ``max_tokens``
is required; usage counts cached input separately (normalised here so that
``prompt_tokens`` includes cache reads and writes, as OpenAI's does); API
version 2026-10-21 forbids sampling parameters and authenticates with Bearer.
JSON output has no native switch: a forced tool carries the schema and its
input is returned as the reply text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core import fastjson as _json
from .._core.errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    InvalidResponseError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from .._core.redact import redact
from .._core.types import (
    Done,
    FinishReason,
    ImagePart,
    Message,
    ProviderEvent,
    ReasoningDelta,
    Request,
    Response,
    ResponseMeta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .._http.headers import anthropic_rate_limit, retry_after_seconds
from ..sse import ServerSentEvent
from ._common import obey_should_retry, parse_json, snippet, text_of, token_count, unparsed_error

VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_MAX_TOKENS = 4096
JSON_TOOL = "json_output"
_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_TYPES: dict[str, type[LLMError]] = {
    "invalid_request_error": InvalidRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": QuotaExceededError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "request_too_large": InvalidRequestError,
    "rate_limit_error": RateLimitError,
    "api_error": ServerError,
    "timeout_error": LLMTimeoutError,
    "overloaded_error": OverloadedError,
}
_STATUS: dict[int, type[LLMError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: QuotaExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: LLMTimeoutError,
    409: ServerError,
    413: InvalidRequestError,
    429: RateLimitError,
    529: OverloadedError,
}
_SPEND_CAPS = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})


@dataclass(frozen=True, slots=True)
class AnthropicOptions:
    version: str = "2023-06-01"
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    provider: str = "anthropic"


def _uses_json_tool(request: Request) -> bool:
    return request.response_format is not None


# ------------------------------------------------------------------ encoding


def _image_block(part: ImagePart) -> dict[str, Any]:
    url = part.as_data_url()
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def encode_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, messages) with tool results folded into user turns and
    consecutive same-role turns merged, as the Messages API expects."""
    system = [m.text for m in messages if m.role == "system"]
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        if msg.role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": msg.tool_call_id,
                "content": msg.text,
            }
            if msg.is_error:
                result["is_error"] = True
            blocks.append(result)
            role = "user"
        else:
            role = msg.role
            for part in msg.content:
                if isinstance(part, ImagePart):
                    blocks.append(_image_block(part))
                elif part.text:
                    blocks.append({"type": "text", "text": part.text})
            for call in msg.tool_calls:
                try:
                    arguments = json.loads(call.arguments) if call.arguments.strip() else {}
                except ValueError:
                    raise InvalidRequestError(
                        f"tool call {call.id!r} has arguments that are not JSON; Anthropic needs "
                        "an object: pass the assistant reply back unchanged"
                    ) from None
                blocks.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}
                )
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:  # a lone text block is sent as a plain string, as the docs show
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return ("\n\n".join(system) if system else None), out


def encode_body(request: Request, options: AnthropicOptions) -> dict[str, Any]:
    system, messages = encode_messages(request.messages)
    if not messages:
        raise InvalidRequestError(
            "Anthropic needs at least one user message besides the system prompt",
            provider=options.provider,
            model=request.model,
        )
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or options.default_max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    sampling = {"temperature": request.temperature, "top_p": request.top_p}
    for name, value in sampling.items():
        if value is None:
            continue
        if options.version != "2023-06-01":
            raise InvalidRequestError(
                f"Anthropic API version {options.version} does not accept {name}; remove it "
                "or set ANTHROPIC_API_VERSION=2023-06-01",
                provider=options.provider,
                model=request.model,
            )
        if name == "temperature" and value > 1.0:
            raise InvalidRequestError(
                f"temperature={value} is out of range for Anthropic; use 0 to 1",
                provider=options.provider,
                model=request.model,
            )
        body[name] = value
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.seed is not None:
        raise InvalidRequestError(
            "Anthropic has no seed parameter; remove seed from the call",
            provider=options.provider,
            model=request.model,
        )
    tools: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    if _uses_json_tool(request):
        fmt = request.response_format or {}
        schema = fmt.get("schema") if fmt.get("type") == "json_schema" else {"type": "object"}
        tools.append(
            {
                "name": JSON_TOOL,
                "description": "Reply by calling this tool with the answer as its input.",
                "input_schema": schema,
            }
        )
        body["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    elif request.tool_choice is not None:
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": "auto"}
            if choice == "auto"
            else {"type": "none"}
            if choice == "none"
            else {"type": "any"}
            if choice == "required"
            else {"type": "tool", "name": choice}
        )
    if tools:
        body["tools"] = tools
    if request.stream:
        body["stream"] = True
    body.update(request.extra)
    return body


def auth_headers(api_key: str, version: str) -> dict[str, str]:
    if version == "2023-06-01":
        return {"x-api-key": api_key, "anthropic-version": version}
    return {"authorization": f"Bearer {api_key}", "anthropic-version": version}


# ------------------------------------------------------------------ decoding


def usage_from(data: Any, base: Usage | None = None, model: str = "") -> Usage:
    """Normalise Anthropic usage: prompt = input + cache writes + cache reads. Fields
    left out keep their earlier value (``message_delta`` repeats only what changed)."""
    data = data if isinstance(data, Mapping) else {}
    old = base or Usage()

    def count(key: str, source: Mapping[str, Any] = data) -> int | None:
        if source.get(key) is None:
            return None
        return token_count(source, key, provider="anthropic", model=model)

    fresh = count("input_tokens")
    write = count("cache_creation_input_tokens")
    read = count("cache_read_input_tokens")
    cache_write = write if write is not None else old.cache_write_tokens
    cache_read = read if read is not None else old.cached_tokens
    uncached = (
        fresh
        if fresh is not None
        else old.prompt_tokens - old.cache_write_tokens - old.cached_tokens
    )
    output = count("output_tokens")
    details = data.get("output_tokens_details")
    thinking = count("thinking_tokens", details) if isinstance(details, Mapping) else None
    return Usage(
        prompt_tokens=uncached + cache_write + cache_read,
        completion_tokens=output if output is not None else old.completion_tokens,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking or old.reasoning_tokens,
    )


def decode_response(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    options: AnthropicOptions,
) -> Response:
    data = parse_json(body, provider=options.provider, model=request.model, status=status)
    if not isinstance(data, dict) or data.get("type") == "error":
        raise error_from_body(status, headers, data, options, request.model)
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for block in data.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {})
            if _uses_json_tool(request) and block.get("name") == JSON_TOOL:
                text = [arguments]
            else:
                calls.append(
                    ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments)
                )
    stop = data.get("stop_reason")
    finish = _STOP.get(stop, "stop") if isinstance(stop, str) else "stop"
    if _uses_json_tool(request) and finish == "tool_calls" and not calls:
        finish = "stop"
    return Response(
        text="".join(text),
        finish_reason=finish,
        tool_calls=calls,
        usage=usage_from(data.get("usage"), model=request.model),
        model=str(data.get("model") or request.model),
        provider=options.provider,
        request_id=headers.get("request-id") or data.get("id"),
        reasoning="".join(reasoning),
        rate_limit=anthropic_rate_limit(headers),
        raw=data,
    )


def error_from_body(
    status: int | None, headers: Mapping[str, str], data: Any, options: AnthropicOptions, model: str
) -> LLMError:
    err = data.get("error") if isinstance(data, dict) else None
    err = err if isinstance(err, dict) else {}
    etype = str(err.get("type") or "")
    message = str(err.get("message") or "no message")
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    code = str((details or {}).get("error_code") or "")
    cls = (
        _ERROR_TYPES.get(etype)
        or (_STATUS.get(status or 0))
        or (ServerError if status is None or status >= 500 else InvalidRequestError)
    )
    if code in _SPEND_CAPS:
        cls = QuotaExceededError
    elif cls is InvalidRequestError and message.lower().startswith("prompt is too long"):
        cls = ContextLengthError
    hint = {
        "authentication": " (check ANTHROPIC_API_KEY)",
        "quota_exceeded": " (billing or spend cap: retrying will not help)",
        "context_length": " (shorten the prompt or lower max_tokens)",
    }.get(cls.kind, "")
    where = f"anthropic returned {status}" if status else "anthropic sent an error event"
    error = cls(
        redact(f"{where}: {etype or 'error'}: {message}{hint}"),
        status=status,
        provider=options.provider,
        model=model,
        request_id=headers.get("request-id")
        or (data.get("request_id") if isinstance(data, dict) else None),
        retry_after=retry_after_seconds(headers),
        body={"error": {"type": etype, "error_code": code or None}},
    )
    obey_should_retry(error, headers)
    error.rate_limit = anthropic_rate_limit(headers)
    return error


def decode_error(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    options: AnthropicOptions,
) -> LLMError:
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return error_from_body(status, headers, data, options, request.model)
    return unparsed_error(
        _STATUS.get(status) or (ServerError if status >= 500 else InvalidRequestError),
        provider=options.provider,
        model=request.model,
        status=status,
        headers=headers,
        body=body,
        request_id_header="request-id",
    )


class StreamDecoder:
    """Anthropic stream events → ProviderEvents. Content blocks become text,
    reasoning or tool-call deltas (tool index = order of tool_use blocks)."""

    def __init__(
        self, request: Request, options: AnthropicOptions, headers: Mapping[str, str]
    ) -> None:
        self._options = options
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
            raise error_from_body(None, self.headers, data, self._options, self._model)
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
            provider=self._options.provider,
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
            return [ToolCallDelta(tool_index, arguments=self._text(delta["partial_json"]))]
        return []

    def end(self) -> list[ProviderEvent]:
        if self.done:
            return []
        raise self.interrupted("the stream ended before message_stop")

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"anthropic stream interrupted: {why}",
            provider=self._options.provider,
            model=self._model,
        )
