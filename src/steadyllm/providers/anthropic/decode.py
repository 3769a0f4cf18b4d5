"""Messages response and error bodies -> Response and LLMError (spec §2). Pure.

Usage counts cached input separately; it is normalised here so that
``prompt_tokens`` includes cache reads and writes, as OpenAI's does. The
forced JSON tool's input is returned as the reply text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import (
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
)
from ..._core.parts import citation_from, server_tool_part
from ..._core.redact import redact
from ..._core.types import (
    Citation,
    FinishReason,
    Part,
    RedactedThinkingPart,
    Request,
    Response,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)
from ..._http.headers import anthropic_rate_limit, retry_after_seconds
from .._common import obey_should_retry, parse_json, token_count, unparsed_error
from .dialect import JSON_TOOL, Dialect, _uses_json_tool

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "pause_turn",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
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
    creation = data.get("cache_creation")
    write_1h = (
        count("ephemeral_1h_input_tokens", creation) if isinstance(creation, Mapping) else None
    )
    server = data.get("server_tool_use")
    searches = count("web_search_requests", server) if isinstance(server, Mapping) else None
    fetches = count("web_fetch_requests", server) if isinstance(server, Mapping) else None
    return Usage(
        prompt_tokens=uncached + cache_write + cache_read,
        completion_tokens=output if output is not None else old.completion_tokens,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking or old.reasoning_tokens,
        web_search_requests=searches if searches is not None else old.web_search_requests,
        cache_write_1h_tokens=write_1h if write_1h is not None else old.cache_write_1h_tokens,
        web_fetch_requests=fetches if fetches is not None else old.web_fetch_requests,
    )


def decode_response(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    dialect: Dialect,
) -> Response:
    data = parse_json(body, provider=dialect.provider, model=request.model, status=status)
    if not isinstance(data, dict) or data.get("type") == "error":
        raise error_from_body(status, headers, data, dialect, request.model)
    parts, calls = _content(request, data.get("content"), dialect.provider)
    stop = data.get("stop_reason")
    finish = _STOP.get(stop, "stop") if isinstance(stop, str) else "stop"
    if _uses_json_tool(request) and finish == "tool_calls" and not calls:
        finish = "stop"
    details = data.get("stop_details")
    sequence = data.get("stop_sequence")
    return Response(
        text="".join(p.text for p in parts if isinstance(p, TextPart)),
        finish_reason=finish,
        tool_calls=calls,
        usage=usage_from(data.get("usage"), model=request.model),
        model=str(data.get("model") or request.model),
        provider=dialect.provider,
        request_id=headers.get("request-id") or data.get("id"),
        reasoning="".join(p.text for p in parts if isinstance(p, ThinkingPart)),
        rate_limit=anthropic_rate_limit(headers),
        raw=data,
        parts=tuple(parts),
        stop_sequence=sequence if isinstance(sequence, str) else None,
        stop_details=details if isinstance(details, dict) else None,
        service_tier=service_tier(data.get("usage")),
    )


def service_tier(usage: Any) -> str | None:
    tier = usage.get("service_tier") if isinstance(usage, Mapping) else None
    return tier if isinstance(tier, str) and tier else None


def _content(request: Request, blocks: Any, provider: str) -> tuple[list[Part], list[ToolCall]]:
    """The reply's parts in order, and its client tool calls. Every block that is not
    text, thinking or a client tool_use (server tools, MCP, blocks added later) is
    kept verbatim, to be sent back with the turn."""
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(
                TextPart(
                    _field(block, "text", provider), citations_of(block.get("citations"), provider)
                )
            )
        elif kind == "thinking":
            signature = block.get("signature")
            parts.append(
                ThinkingPart(
                    _field(block, "thinking", provider),
                    signature if isinstance(signature, str) else None,
                )
            )
        elif kind == "redacted_thinking":
            parts.append(RedactedThinkingPart(_field(block, "data", provider)))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {})
            if _uses_json_tool(request) and block.get("name") == JSON_TOOL:
                parts = [p for p in parts if not isinstance(p, TextPart)] + [TextPart(arguments)]
            else:
                calls.append(
                    ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments)
                )
        elif isinstance(kind, str):
            parts.append(server_tool_part(block))
    return parts, calls


def _field(block: Mapping[str, Any], key: str, provider: str) -> str:
    value = block.get(key, "")
    if isinstance(value, str):
        return value
    raise InvalidResponseError(
        f"anthropic sent a {block.get('type')} block whose {key} is not text: {value!r:.60}",
        provider=provider,
    )


def citations_of(raw: Any, provider: str) -> tuple[Citation, ...]:
    """A text block's ``citations`` (or a ``citations_delta``'s one, in a list)."""
    if not raw:
        return ()
    try:
        return tuple(citation_from(c) for c in raw)
    except TypeError as exc:
        raise InvalidResponseError(
            f"anthropic sent a text block with malformed citations: {exc}", provider=provider
        ) from None


def error_from_body(
    status: int | None, headers: Mapping[str, str], data: Any, dialect: Dialect, model: str
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
        provider=dialect.provider,
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
    dialect: Dialect,
) -> LLMError:
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return error_from_body(status, headers, data, dialect, request.model)
    return unparsed_error(
        _STATUS.get(status) or (ServerError if status >= 500 else InvalidRequestError),
        provider=dialect.provider,
        model=request.model,
        status=status,
        headers=headers,
        body=body,
        request_id_header="request-id",
    )
