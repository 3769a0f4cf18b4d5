"""OpenAI Responses API bodies -> Response and LLMError. Pure.

A response's ``output`` is a list of items, kept in order as the reply's
parts: ``reasoning`` (a ``ThinkingPart`` whose text is the summary and whose
``item`` goes back verbatim), ``message`` (text with its ``url_citation``
annotations, or a refusal), ``function_call`` (a client tool call, by
``call_id``), and every built-in tool's item (``web_search_call``,
``file_search_call``, ``code_interpreter_call``, ``image_generation_call``,
``mcp_call``, ...: a ``ServerToolPart``, never a client call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._core.errors import InvalidResponseError, LLMError
from ..._core.parts import Citation, Part, RefusalPart, TextPart, ThinkingPart, server_tool_part
from ..._core.types import FinishReason, Request, Response, ToolCall, Usage
from ..._http.headers import openai_rate_limit
from .._common import parse_json, snippet, text_of, token_count
from ..openai.decode import decode_error as decode_error  # the same error bodies
from ..openai.decode import error_from_body, refused_finish
from ..openai.dialect import Dialect
from ..openai.extras import citations_of

#: ``incomplete_details.reason`` -> our finish reason.
_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
#: Error codes of a failed response (``response.error.code``) and the HTTP status
#: each stands for, so an in-band failure is classified as the same error over HTTP.
_FAILED_STATUS = {
    "server_error": 500,
    "rate_limit_exceeded": 429,
    "invalid_prompt": 400,
    "context_length_exceeded": 400,
    "vector_store_timeout": 504,
    "invalid_image": 400,
    "invalid_image_format": 400,
    "invalid_base64_image": 400,
    "invalid_image_url": 400,
    "image_too_large": 400,
    "image_too_small": 400,
    "image_parse_error": 400,
    "image_content_policy_violation": 400,
    "invalid_image_mode": 400,
    "image_file_too_large": 400,
    "unsupported_image_media_type": 400,
    "empty_image_file": 400,
    "failed_to_download_image": 400,
    "image_file_not_found": 400,
}


@dataclass(slots=True)
class Output:
    """What a response's output items add up to."""

    parts: list[Part] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)


def summary_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's readable text: its summaries (or, from open models, its
    reasoning text), joined."""
    pieces = [s.get("text") for s in item.get("summary") or () if isinstance(s, dict)]
    if not any(pieces):
        pieces = [c.get("text") for c in item.get("content") or () if isinstance(c, dict)]
    return "\n\n".join(p for p in pieces if isinstance(p, str) and p)


def message_parts(item: Mapping[str, Any], where: Mapping[str, str]) -> tuple[list[Part], str, str]:
    """A ``message`` item's parts, its text and its refusal."""
    parts: list[Part] = []
    text: list[str] = []
    refusal: list[str] = []
    for content in item.get("content") or ():
        if not isinstance(content, dict):
            raise TypeError(f"message content is not an object: {content!r:.60}")
        if content.get("type") == "refusal":
            refused = text_of(content.get("refusal"), "a refusal", **where)
            refusal.append(refused)
            parts.append(RefusalPart(refused))
            continue
        piece = text_of(content.get("text"), "the output text", **where)
        citations: tuple[Citation, ...] = citations_of(content.get("annotations"), **where)
        text.append(piece)
        parts.append(TextPart(piece, citations))
    return parts, "".join(text), "".join(refusal)


def function_call(item: Mapping[str, Any]) -> ToolCall:
    arguments = item.get("arguments")
    return ToolCall(
        str(item.get("call_id") or item.get("id") or ""),
        str(item.get("name") or ""),
        arguments if isinstance(arguments, str) and arguments else "{}",
    )


def add_item(out: Output, item: Any, where: Mapping[str, str]) -> None:
    """One output item into ``out``."""
    if not isinstance(item, dict):
        raise TypeError(f"an output item is not an object: {item!r:.60}")
    kind = item.get("type")
    if kind == "message":
        parts, text, refusal = message_parts(item, where)
        out.parts.extend(parts)
        out.text.append(text)
        out.refusal.append(refusal)
    elif kind == "reasoning":
        thought = summary_text(item)
        out.reasoning.append(thought)
        out.parts.append(ThinkingPart(thought, item=dict(item)))
    elif kind == "function_call":
        out.calls.append(function_call(item))
    else:  # a built-in tool's call and result, in one item
        out.parts.append(server_tool_part(dict(item), "responses"))


def usage_from(data: Any, where: Mapping[str, str]) -> Usage | None:
    if not isinstance(data, dict):
        return None
    given = data.get("input_tokens_details")
    inputs = given if isinstance(given, dict) else {}
    given = data.get("output_tokens_details")
    outputs = given if isinstance(given, dict) else {}
    prompt = token_count(data, "input_tokens", **where)
    completion = token_count(data, "output_tokens", **where)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=token_count(data, "total_tokens", **where) or prompt + completion,
        cached_tokens=token_count(inputs, "cached_tokens", **where),
        cache_write_tokens=token_count(inputs, "cache_write_tokens", **where),
        reasoning_tokens=token_count(outputs, "reasoning_tokens", **where),
    )


def finish_of(data: Mapping[str, Any], called: bool, refused: bool) -> FinishReason:
    """The finish reason of a response's ``status`` (and ``incomplete_details``), for
    a reply that made tool calls (``called``) or refused."""
    if data.get("status") == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE.get(str(reason), "length")
    return refused_finish("tool_calls" if called else "stop", refused)


def failure(
    data: Mapping[str, Any], headers: Mapping[str, str], dialect: Dialect, model: str
) -> LLMError:
    """A failed response's ``error`` (or an ``error`` stream event), classified by the
    status its code stands for."""
    err = data.get("error") if isinstance(data.get("error"), dict) else data
    assert isinstance(err, dict)
    code = str(err.get("code") or "")
    body = {
        "error": {
            "message": err.get("message") or "the response failed",
            "code": code or None,
            "type": err.get("type") or code or None,
            "param": err.get("param"),
            "status_code": _FAILED_STATUS.get(code),
        }
    }
    return error_from_body(None, headers, body, dialect, model)


def decode_response(
    request: Request, status: int, headers: Mapping[str, str], body: bytes, dialect: Dialect
) -> Response:
    data = parse_json(body, provider=dialect.provider, model=request.model, status=status)
    where = {"provider": dialect.provider, "model": request.model}
    if not isinstance(data, dict) or not isinstance(data.get("output", []), list):
        raise InvalidResponseError(
            f"{dialect.provider} sent a response that is not a Responses object: {snippet(body)}",
            provider=dialect.provider,
            model=request.model,
            status=status,
        )
    if data.get("status") == "failed" or (data.get("error") and not data.get("output")):
        raise failure(data, headers, dialect, request.model)
    out = Output()
    for item in data.get("output") or ():
        add_item(out, item, where)
    text, reasoning = "".join(out.text), "\n\n".join(r for r in out.reasoning if r)
    return Response(
        text=text,
        finish_reason=finish_of(data, bool(out.calls), any(out.refusal)),
        tool_calls=out.calls,
        usage=usage_from(data.get("usage"), where) or Usage(),
        model=str(data.get("model") or request.model),
        provider=dialect.provider,
        request_id=headers.get("x-request-id") or _text(data.get("id")),
        response_id=_text(data.get("id")),
        reasoning=reasoning,
        rate_limit=openai_rate_limit(headers),
        raw=data,
        parts=tuple(out.parts),
        refusal="".join(out.refusal),
        service_tier=_text(data.get("service_tier")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
