"""OpenAI Chat Completions as pure functions: Request → JSON body, response
bytes → Response, SSE events → ProviderEvents, error bodies → LLMError.

No I/O and no URLs or auth here: OpenAI, Azure and compatible servers share
this codec and differ only in a ``Dialect`` (which fields they accept) and an
endpoint (where and how to send). Reference: spec/wire-protocols.md §1, §3, §4.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core import fastjson as _json
from .._core.errors import (
    AuthenticationError,
    ContentFilterError,
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
from .._http.headers import openai_rate_limit, retry_after_seconds
from ..sse import ServerSentEvent
from ._common import (
    MAX_TOKENS_PER_CALL,
    obey_should_retry,
    parse_json,
    snippet,
    text_of,
    token_count,
    unparsed_error,
)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}
_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
        "billing_hard_limit_reached",
    }
)


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one OpenAI-style server differs from api.openai.com."""

    provider: str = "openai"
    #: Field that caps output: OpenAI wants max_completion_tokens; most servers max_tokens.
    max_tokens_field: str = "max_completion_tokens"
    #: Request options this server silently ignores: sending one is an error, not a no-op.
    ignored: frozenset[str] = frozenset()
    #: Whether the body carries "model" (Azure's classic URLs put the deployment in the path).
    send_model: bool = True
    #: Variable to name in authentication errors.
    key_variable: str = "OPENAI_API_KEY"


def normalize_finish(value: Any) -> FinishReason:
    """Known reasons map to ours; any other string means "finished" (servers invent their own)."""
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


# ------------------------------------------------------------------ encoding


def encode_message(msg: Message) -> dict[str, Any]:
    if msg.role == "tool":
        return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.text}
    out: dict[str, Any] = {"role": msg.role}
    if msg.role == "user" and any(isinstance(p, ImagePart) for p in msg.content):
        parts: list[dict[str, Any]] = []
        for part in msg.content:
            if isinstance(part, ImagePart):
                image: dict[str, Any] = {"url": part.as_data_url()}
                if part.detail:
                    image["detail"] = part.detail
                parts.append({"type": "image_url", "image_url": image})
            else:
                parts.append({"type": "text", "text": part.text})
        out["content"] = parts
    elif msg.role == "assistant" and msg.tool_calls:
        out["content"] = msg.text or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in msg.tool_calls
        ]
    else:
        out["content"] = msg.text
    if msg.name:
        out["name"] = msg.name
    return out


def encode_body(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The JSON body for ``POST /chat/completions``."""
    _check_supported(request, dialect)
    body: dict[str, Any] = {}
    if dialect.send_model:
        body["model"] = request.model
    body["messages"] = [encode_message(m) for m in request.messages]
    if request.tools:
        body["tools"] = [{"type": "function", "function": t.to_dict()} for t in request.tools]
    if request.tool_choice is not None:
        choice = request.tool_choice
        body["tool_choice"] = (
            choice
            if choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": choice}}
        )
    if request.max_tokens is not None:
        body[dialect.max_tokens_field] = request.max_tokens
    for name in ("temperature", "top_p", "seed", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop"] = request.stop
    fmt = request.response_format
    if fmt is not None:
        if fmt["type"] == "json_schema":
            schema: dict[str, Any] = {"name": fmt.get("name", "output"), "schema": fmt["schema"]}
            if fmt.get("strict") is not None:
                schema["strict"] = fmt["strict"]
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        else:
            body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    body.update(request.extra)
    return body


def _check_supported(request: Request, dialect: Dialect) -> None:
    used = {
        "tool_choice": request.tool_choice is not None and request.tool_choice != "auto",
        "user": request.user is not None,
        "seed": request.seed is not None,
        "response_format": request.response_format is not None,
        "tools": bool(request.tools),
        "stop": bool(request.stop),
        **dict.fromkeys(request.extra, True),
    }
    for option in sorted(dialect.ignored):
        if used.get(option):
            raise InvalidRequestError(
                f"{dialect.provider} ignores {option!r}, so sending it would have no effect; "
                "remove it from the call",
                provider=dialect.provider,
                model=request.model,
            )


# ------------------------------------------------------------------ decoding


def usage_from(data: Any, provider: str = "openai", model: str = "") -> Usage | None:
    if not isinstance(data, dict):  # parsed JSON: an object is a dict
        return None
    prompt = data.get("prompt_tokens_details")
    completion = data.get("completion_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = completion if isinstance(completion, dict) else {}
    values = (
        data.get("prompt_tokens"),
        data.get("completion_tokens"),
        data.get("total_tokens"),
        prompt.get("cached_tokens"),
        prompt.get("cache_write_tokens"),
        completion.get("reasoning_tokens"),
    )
    if all(v is None or (type(v) is int and 0 <= v <= MAX_TOKENS_PER_CALL) for v in values):
        return Usage(*(v or 0 for v in values))  # the usual case: checked in one pass
    where = {"provider": provider, "model": model}
    return Usage(
        prompt_tokens=token_count(data, "prompt_tokens", **where),
        completion_tokens=token_count(data, "completion_tokens", **where),
        total_tokens=token_count(data, "total_tokens", **where),
        cached_tokens=token_count(prompt, "cached_tokens", **where),
        cache_write_tokens=token_count(prompt, "cache_write_tokens", **where),
        reasoning_tokens=token_count(completion, "reasoning_tokens", **where),
    )


def decode_response(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    data = parse_json(body, provider=dialect.provider, model=request.model, status=status)
    if not isinstance(data, dict):
        raise InvalidResponseError(
            f"{dialect.provider} sent JSON that is not an object: {snippet(body)}",
            provider=dialect.provider,
            model=request.model,
            status=status,
        )
    if data.get("error"):  # an error inside a 200 (OpenRouter): classify it by its own code
        raise error_from_body(None, headers, data, dialect, request.model)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise InvalidResponseError(
            f"{dialect.provider} sent a completion with no choices: {snippet(body)}",
            provider=dialect.provider,
            model=request.model,
            status=status,
        )
    choice = choices[0]
    if choice.get("error"):
        raise error_from_body(None, headers, choice, dialect, request.model)
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        raise InvalidResponseError(
            f"{dialect.provider} sent a message that is not an object: {snippet(body)}",
            provider=dialect.provider,
            model=request.model,
            status=status,
        )
    where = {"provider": dialect.provider, "model": request.model}
    text = message.get("content")
    if type(text) is not str:  # null, or a list of parts (compatible servers); else an error
        text = text_of(text, "the message content", **where)
    finish = normalize_finish(choice.get("finish_reason"))
    if not text and message.get("refusal"):
        text, finish = text_of(message["refusal"], "a refusal", **where), "content_filter"
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    calls = [
        ToolCall(
            str(c.get("id") or f"call_{i}"),
            str((c.get("function") or {}).get("name") or ""),
            _arguments_text((c.get("function") or {}).get("arguments")),
        )
        for i, c in enumerate(message.get("tool_calls") or ())
        if isinstance(c, dict)
    ]
    return Response(
        text=text,
        finish_reason=finish,
        tool_calls=calls,
        usage=usage_from(data.get("usage"), **where) or Usage(),
        model=str(data.get("model") or request.model),
        provider=dialect.provider,
        request_id=headers.get("x-request-id") or _opt_text(data.get("id")),
        reasoning=reasoning
        if type(reasoning) is str
        else text_of(reasoning, "the reasoning", **where),
        rate_limit=openai_rate_limit(headers),
        raw=data,
    )


def _opt_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _arguments_text(value: Any) -> str:
    if value is None or value == "":
        return "{}"
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------ errors

_HINTS = {
    "authentication": "check {key}",
    "permission": "this key has no access to the model or resource",
    "not_found": "check the model or deployment name",
    "quota_exceeded": "add credit or raise the spend limit; retrying will not help",
    "context_length": "shorten the prompt or lower max_tokens",
}


def error_from_body(
    status: int | None,
    headers: Mapping[str, str],
    data: Any,
    dialect: Dialect,
    model: str,
) -> LLMError:
    """Classify an error response (or an in-band error object) into an LLMError."""
    err: Any = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, str):  # Ollama's native {"error": "..."}
        err = {"message": err}
    if not isinstance(err, dict):
        err = data if isinstance(data, dict) and data.get("object") == "error" else {}
        if not err and isinstance(data, dict) and "detail" in data:  # FastAPI servers
            err = {
                "message": data["detail"]
                if isinstance(data["detail"], str)
                else json.dumps(data["detail"])
            }
    message = str(err.get("message") or "no message")
    code = err.get("code")
    kind_code = str(code) if code is not None else ""
    etype = str(err.get("type") or "")
    if status is None and isinstance(code, int):
        status = code  # in-band errors from vLLM / OpenRouter carry the status as code
    cls = _classify(status, kind_code, etype, message)
    hint = _HINTS.get(cls.kind, "").format(key=dialect.key_variable)
    where = (
        f"{dialect.provider} returned {status}" if status else f"{dialect.provider} sent an error"
    )
    error = cls(
        redact(f"{where}: {message}" + (f" ({hint})" if hint else "")),
        status=status,
        provider=dialect.provider,
        model=model,
        request_id=headers.get("x-request-id") or headers.get("apim-request-id"),
        retry_after=retry_after_seconds(headers),
        body={"error": {k: err.get(k) for k in ("type", "code", "param") if k in err}},
    )
    obey_should_retry(error, headers)
    error.rate_limit = openai_rate_limit(headers)
    if error.retry_after is None and cls.kind == "rate_limit" and error.rate_limit is not None:
        resets = [r for r in (error.rate_limit.requests_reset, error.rate_limit.tokens_reset) if r]
        error.retry_after = min(resets) if resets else None
    return error


def _classify(status: int | None, code: str, etype: str, message: str) -> type[LLMError]:
    lowered = message.lower()
    if code in _QUOTA_CODES or etype == "insufficient_quota" or status == 402:
        return QuotaExceededError
    if code == "context_length_exceeded" or "maximum context length" in lowered:
        return ContextLengthError
    if code == "content_filter" or etype == "content_filter":
        return ContentFilterError
    if status == 429 or code == "rate_limit_exceeded":
        return RateLimitError
    if status == 401 or code == "invalid_api_key":
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404 or code == "model_not_found":
        return NotFoundError
    if status == 408:
        return LLMTimeoutError
    if status == 529 or "overloaded" in lowered:
        return OverloadedError
    if status is None or status >= 500 or status == 409:
        return ServerError  # 409 is a lock timeout: retried, like the SDKs do
    return InvalidRequestError


def decode_error(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> LLMError:
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return unparsed_error(
            _classify(status, "", "", ""),
            provider=dialect.provider,
            model=request.model,
            status=status,
            headers=headers,
            body=body,
            request_id_header="x-request-id",
        )
    return error_from_body(status, headers, data, dialect, request.model)


# ------------------------------------------------------------------ streaming


class StreamDecoder:
    """Turns the SSE events of one completion into ProviderEvents (choice 0)."""

    __slots__ = ("_dialect", "_last_index", "_meta_sent", "_model", "done", "finish", "headers")

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self.headers = headers
        self.finish: FinishReason | None = None
        self.done = False
        self._meta_sent = False
        self._last_index = -1

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]:
        data = sse.data
        if data.startswith("[DONE]"):
            self.done = True
            if self.finish is None:
                raise self.interrupted("the stream sent [DONE] before a finish reason")
            return [Done(self.finish)]
        try:
            chunk = _json.loads(data)
        except ValueError:
            raise self.interrupted(
                f"malformed JSON in a stream event: {snippet(data.encode())}"
            ) from None
        if not isinstance(chunk, dict):
            raise self.interrupted("a stream event is not a JSON object")
        if chunk.get("error"):
            raise error_from_body(None, self.headers, chunk, self._dialect, self._model)
        events: list[ProviderEvent] = []
        if not self._meta_sent and (chunk.get("id") or chunk.get("model")):
            self._meta_sent = True
            events.append(
                ResponseMeta(
                    self.headers.get("x-request-id") or chunk.get("id") or None,
                    chunk.get("model") or None,
                    openai_rate_limit(self.headers),
                )
            )
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise self.shape("choices is not a list")
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("error"):
                raise error_from_body(None, self.headers, choice, self._dialect, self._model)
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise self.shape(f"a stream delta is {type(delta).__name__}, not an object")
            where = {"provider": self._dialect.provider, "model": self._model}
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning:
                events.append(ReasoningDelta(text_of(reasoning, "a reasoning delta", **where)))
            content = delta.get("content") or delta.get("refusal")
            if content:
                events.append(TextDelta(text_of(content, "a content delta", **where)))
            calls = delta.get("tool_calls") or []
            if not isinstance(calls, list):
                raise self.shape("a delta's tool_calls is not a list")
            for call in calls:
                if not isinstance(call, dict):
                    raise self.shape("a tool call delta is not an object")
                events.append(self._tool_delta(call))
            if choice.get("finish_reason") is not None:
                self.finish = normalize_finish(choice["finish_reason"])
        usage = usage_from(chunk.get("usage"), self._dialect.provider, self._model)
        if usage is not None:
            events.append(usage)
        return events

    def shape(self, why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"{self._dialect.provider} sent a stream event of an unexpected shape: {why}",
            provider=self._dialect.provider,
            model=self._model,
        )

    def _tool_delta(self, call: dict[str, Any]) -> ToolCallDelta:
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise self.shape("a tool call's function is not an object")
        index = call.get("index")
        if not isinstance(index, int):  # defensive: a server that omits the index
            index = self._last_index + 1 if call.get("id") else max(self._last_index, 0)
        self._last_index = index
        arguments = function.get("arguments")
        return ToolCallDelta(
            index,
            id=call.get("id") or None,
            name=function.get("name") or None,
            arguments=arguments
            if isinstance(arguments, str)
            else (json.dumps(arguments) if arguments is not None else ""),
        )

    def end(self) -> list[ProviderEvent]:
        """End of body without ``[DONE]``: fine if the choice finished, else a cut stream."""
        if self.done:
            return []
        if self.finish is not None:
            return [Done(self.finish)]
        raise self.interrupted("the stream ended before the completion finished")

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self._dialect.provider} stream interrupted: {why}",
            provider=self._dialect.provider,
            model=self._model,
        )
