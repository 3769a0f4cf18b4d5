"""Request -> Messages JSON body (spec/wire-protocols.md §2). Pure.

The system prompt is a top-level field; content is blocks; tool calls are
``tool_use`` blocks whose input is a JSON object; tool results are
``tool_result`` blocks in a user turn; ``max_tokens`` is required; API version
2026-10-21 forbids sampling parameters. JSON output has no native switch: a
forced tool carries the schema.
"""

from __future__ import annotations

import json
from typing import Any

from ..._core.errors import InvalidRequestError
from ..._core.types import (
    CachePoint,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    RedactedThinkingPart,
    Request,
    ServerToolPart,
    TextPart,
    ThinkingPart,
    ToolCall,
)
from .._server_tools import anthropic_tools, merge_extra
from .dialect import JSON_TOOL, Dialect, _uses_json_tool


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


def _document_block(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.url is not None:
        source = {"type": "url", "url": part.url}
    elif part.text is not None or part.media_type == "text/plain":
        text = part.text if part.text is not None else (part.data or b"").decode("utf-8")
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        source = {"type": "base64", "media_type": part.media_type, "data": part.as_base64()}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.title is not None:
        block["title"] = part.title
    if part.citations:
        block["citations"] = {"enabled": True}
    return block


def _block(part: Part) -> dict[str, Any] | None:
    """A part as a content block, or None for a part Anthropic cannot take back:
    thinking without a signature (another provider's reasoning) and empty text."""
    if isinstance(part, ImagePart):
        return _image_block(part)
    if isinstance(part, DocumentPart):
        return _document_block(part)
    if isinstance(part, ServerToolPart):  # OpenAI's built-in tool items are not blocks
        return dict(part.block) if part.wire == "anthropic" else None
    if isinstance(part, RedactedThinkingPart):
        return {"type": "redacted_thinking", "data": part.data}
    if isinstance(part, ThinkingPart):
        if part.signature is None:
            return None
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if isinstance(part, CachePoint) or not part.text:  # (cache points: see _blocks)
        return None
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if isinstance(part, TextPart):
        cited = [c.raw for c in part.citations if c.raw and c.type != "url_citation"]
        if cited:
            block["citations"] = cited
    return block


def _cache_control(point: CachePoint) -> dict[str, str]:
    return {"type": "ephemeral"} if point.ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}


def _blocks(parts: tuple[Part, ...], where: str) -> list[dict[str, Any]]:
    """Parts as content blocks; a cache point marks the block before it."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, CachePoint):
            if not blocks:
                raise InvalidRequestError(
                    f"{where} has a cache point after parts Anthropic does not take back "
                    "(unsigned thinking, empty text): move it after a part that is sent"
                )
            blocks[-1]["cache_control"] = _cache_control(part)
            continue
        block = _block(part)
        if block is not None:
            blocks.append(block)
    return blocks


def _tool_use(call: ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        raise InvalidRequestError(
            f"tool call {call.id!r} has arguments that are not JSON; Anthropic needs "
            "an object: pass the assistant reply back unchanged"
        ) from None
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _tool_result(msg: Message) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": msg.tool_call_id,
        "content": msg.text,
    }
    if msg.is_error:
        result["is_error"] = True
    points = [p for p in msg.content if isinstance(p, CachePoint)]
    if points:
        result["cache_control"] = _cache_control(points[-1])
    return result


def _system(messages: list[Message]) -> str | list[dict[str, Any]] | None:
    """The system prompt: one string, or text blocks when a cache point marks them."""
    prompts = [m for m in messages if m.role == "system"]
    if not prompts:
        return None
    if not any(isinstance(p, CachePoint) for m in prompts for p in m.content):
        return "\n\n".join(m.text for m in prompts)
    return [b for i, m in enumerate(prompts) for b in _blocks(m.content, f"system message {i}")]


def encode_messages(
    messages: list[Message],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(system, messages) with tool results folded into user turns and consecutive
    same-role turns merged, as the Messages API expects."""
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg.role == "system":
            continue
        if msg.role == "tool":
            role, blocks = "user", [_tool_result(msg)]
        else:
            role = msg.role
            blocks = _blocks(msg.content, f"messages[{i}]")
            blocks.extend(_tool_use(call) for call in msg.tool_calls)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:  # a lone plain text block is sent as a string, as the docs show
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    system = _system(messages)
    _check_cache_points(system, out)
    return system, out


def _check_cache_points(system: Any, messages: list[dict[str, Any]]) -> None:
    """At most four breakpoints, a one-hour one never after a five-minute one."""
    blocks = [*(system if isinstance(system, list) else ())]
    for turn in messages:
        if isinstance(turn["content"], list):
            blocks.extend(turn["content"])
    ttls = [b["cache_control"].get("ttl", "5m") for b in blocks if "cache_control" in b]
    if len(ttls) > 4:
        raise InvalidRequestError(
            f"the request has {len(ttls)} cache points; Anthropic allows at most 4"
        )
    if "1h" in ttls and "5m" in ttls[: ttls.index("1h")]:
        raise InvalidRequestError(
            "a cache point with ttl='1h' comes after one with '5m'; Anthropic needs the "
            "longer-lived ones first (system before messages)"
        )


def encode_body(request: Request, dialect: Dialect) -> dict[str, Any]:
    system, messages = encode_messages(request.messages)
    if not messages:
        raise InvalidRequestError(
            "Anthropic needs at least one user message besides the system prompt",
            provider=dialect.provider,
            model=request.model,
        )
    _check_unsupported(request, dialect)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or dialect.default_max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    body.update(_sampling(request, dialect))
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.user:
        body["metadata"] = {"user_id": request.user}
    tools, choice = _tools(request)
    if choice is not None:
        body["tool_choice"] = choice
    if tools:
        body["tools"] = tools
    if request.thinking_budget is not None:
        body["thinking"] = _thinking(request, body)
    if request.stream:
        body["stream"] = True
    return merge_extra(body, request.extra)


#: Options of other providers that Anthropic has no field for, and what to do instead.
_UNSUPPORTED = {
    "seed": "Anthropic has no seed parameter; remove seed from the call",
    "reasoning_effort": "Anthropic takes a thinking budget, not a reasoning effort: pass "
    "thinking_budget=N (tokens, at least 1024) instead of reasoning_effort",
    "reasoning_summary": "reasoning summaries are an OpenAI Responses option; Anthropic "
    "returns its thinking (summarized on Claude 4 models) with thinking_budget=N",
    "prompt_cache_key": "Anthropic has no prompt_cache_key; mark what to cache with "
    "sl.cache_point() (or sl.system(..., cache='5m')) instead",
}


def _check_unsupported(request: Request, dialect: Dialect) -> None:
    for option, why in _UNSUPPORTED.items():
        if getattr(request, option) is not None:
            raise InvalidRequestError(why, provider=dialect.provider, model=request.model)


def _thinking(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Extended thinking, with the rules Anthropic enforces checked before sending."""
    budget = request.thinking_budget
    assert budget is not None
    why = None
    if body["max_tokens"] <= budget:
        why = (
            f"max_tokens ({body['max_tokens']}) must be more than thinking_budget ({budget}); "
            "raise max_tokens"
        )
    elif _uses_json_tool(request):
        why = (
            "structured output on Anthropic forces a tool call, which extended thinking does "
            "not allow; leave thinking_budget off for chat_json"
        )
    elif body.get("tool_choice", {}).get("type") in ("any", "tool"):
        why = "extended thinking does not allow a forced tool_choice; use 'auto' or 'none'"
    elif body.get("temperature", 1) != 1 or "top_p" in body:
        why = "extended thinking takes no temperature (other than 1) or top_p; remove them"
    if why is not None:
        raise InvalidRequestError(why, provider="anthropic", model=request.model)
    return {"type": "enabled", "budget_tokens": budget}


def _sampling(request: Request, dialect: Dialect) -> dict[str, float]:
    """temperature and top_p, which only API version 2023-06-01 accepts."""
    out: dict[str, float] = {}
    for name, value in (("temperature", request.temperature), ("top_p", request.top_p)):
        if value is None:
            continue
        if dialect.version != "2023-06-01":
            raise InvalidRequestError(
                f"Anthropic API version {dialect.version} does not accept {name}; remove it "
                "or set ANTHROPIC_API_VERSION=2023-06-01",
                provider=dialect.provider,
                model=request.model,
            )
        if name == "temperature" and value > 1.0:
            raise InvalidRequestError(
                f"temperature={value} is out of range for Anthropic; use 0 to 1",
                provider=dialect.provider,
                model=request.model,
            )
        out[name] = value
    return out


#: steadyllm's tool_choice words → Anthropic's (any other value names a tool).
_CHOICES = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


def _tools(request: Request) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The tools to send (with the forced JSON tool for structured output) and the
    tool choice."""
    tools: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    if request.server_tools:
        tools += anthropic_tools(request.server_tools, request.provider, request.model)
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
        return tools, {"type": "tool", "name": JSON_TOOL}
    choice = request.tool_choice
    if choice is None:
        return tools, None
    return tools, _CHOICES.get(choice, {"type": "tool", "name": choice})


#: What ``/v1/messages/count_tokens`` takes of a Messages body.
_COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


def encode_count(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The body of ``POST /v1/messages/count_tokens``: the request's own, less what a
    count does not take (``max_tokens``, sampling, ``stream``)."""
    body = encode_body(request, dialect)
    return {key: body[key] for key in _COUNTED if key in body}
