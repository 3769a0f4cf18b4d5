"""Request -> Chat Completions JSON body (spec/wire-protocols.md §1). Pure."""

from __future__ import annotations

from typing import Any

from ..._core.errors import InvalidRequestError
from ..._core.types import (
    DocumentPart,
    ImagePart,
    Message,
    RefusalPart,
    Request,
    TextPart,
    ThinkingPart,
)
from .._server_tools import chat_tools, merge_extra
from .._strict import schema_and_strict, tool_fields
from .dialect import Dialect


def encode_message(msg: Message, provider: str = "") -> dict[str, Any]:
    if msg.role == "tool":
        return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.text}
    out: dict[str, Any] = {"role": msg.role}
    if msg.role == "user" and any(isinstance(p, ImagePart | DocumentPart) for p in msg.content):
        parts: list[dict[str, Any]] = []
        for part in msg.content:
            if isinstance(part, ImagePart):
                image: dict[str, Any] = {"url": part.as_data_url()}
                if part.detail:
                    image["detail"] = part.detail
                parts.append({"type": "image_url", "image_url": image})
            elif isinstance(part, DocumentPart):
                parts.append(_file(part))
            elif isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
        out["content"] = parts
    elif msg.role == "assistant":
        # Thinking and server tool blocks are another provider's: Chat Completions
        # takes none of them back, but for the reasoning_details of a compatible
        # server, which go back to it alone. A refusal goes back in its own field.
        refusal = "".join(p.text for p in msg.content if isinstance(p, RefusalPart))
        out["content"] = msg.text or (None if msg.tool_calls or refusal else "")
        if refusal:
            out["refusal"] = refusal
        details = _reasoning_details(msg, provider)
        if details:
            out["reasoning_details"] = details
        if msg.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in msg.tool_calls
            ]
    else:
        out["content"] = msg.text
    if msg.name:
        out["name"] = msg.name
    return out


def _reasoning_details(msg: Message, provider: str) -> list[Any]:
    """The ``reasoning_details`` a provider sent with this turn, back to it alone
    (OpenRouter keeps a model's reasoning across tool calls this way)."""
    return [
        detail
        for part in msg.content
        if isinstance(part, ThinkingPart) and part.item and part.item.get("provider") == provider
        for detail in part.item.get("reasoning_details") or ()
    ]


def _file(part: DocumentPart) -> dict[str, Any]:
    """A PDF as a Chat Completions file input (``_check_supported`` refused the rest)."""
    return {
        "type": "file",
        "file": {
            "filename": part.title or "document.pdf",
            "file_data": f"data:application/pdf;base64,{part.as_base64()}",
        },
    }


def _check_documents(request: Request, dialect: Dialect) -> None:
    for message in request.messages:
        for part in message.content:
            if not isinstance(part, DocumentPart):
                continue
            why = None
            if not dialect.documents:
                why = f"{dialect.provider} takes no document inputs through Chat Completions"
            elif part.data is None or part.media_type != "application/pdf":
                why = (
                    "Chat Completions takes documents as PDF bytes only (document(data=...)); "
                    "put plain text in a text part, or download the URL first"
                )
            elif part.citations:
                why = "Chat Completions cannot cite documents; leave citations off"
            if why is not None:
                raise InvalidRequestError(why, provider=dialect.provider, model=request.model)


def encode_body(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The JSON body for ``POST /chat/completions``."""
    _check_supported(request, dialect)
    body: dict[str, Any] = {}
    if dialect.send_model:
        body["model"] = request.model
    body["messages"] = [encode_message(m, dialect.provider) for m in request.messages]
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": tool_fields(t, dialect.auto_strict)}
            for t in request.tools
        ]
    if request.server_tools:
        entries, options = chat_tools(request.server_tools, dialect.provider, request.model)
        if entries:
            body["tools"] = [*body.get("tools", ()), *entries]
        if options is not None:
            body["web_search_options"] = options
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
    if request.reasoning_effort is not None:
        body["reasoning_effort"] = request.reasoning_effort
    if request.prompt_cache_key is not None:
        body["prompt_cache_key"] = request.prompt_cache_key
    fmt = request.response_format
    if fmt is not None:
        if fmt["type"] == "json_schema":
            schema: dict[str, Any] = {"name": fmt.get("name", "output")}
            schema.update(schema_and_strict(fmt, dialect.auto_strict))
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        else:
            body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        if dialect.stream_usage:
            body["stream_options"] = {"include_usage": True}
    merge_extra(body, request.extra)
    for name, spelled in dialect.renamed:  # Mistral: seed is random_seed
        if name in body:
            body[spelled] = body.pop(name)
    return body


def _check_supported(request: Request, dialect: Dialect) -> None:
    _check_documents(request, dialect)
    choices = request.extra.get("n")
    if choices not in (None, 1):
        raise InvalidRequestError(
            f"extra n={choices!r}: steadyllm returns one choice per call, and the other "
            f"choices would be billed and lost; make {choices} calls instead "
            "(asyncio.gather)",
            provider=dialect.provider,
            model=request.model,
        )
    if request.reasoning_summary is not None:
        raise InvalidRequestError(
            "reasoning summaries come from the Responses API; use the model string "
            f"openai-responses:{request.model} (or azure-responses:) for reasoning_summary",
            provider=dialect.provider,
            model=request.model,
        )
    if request.thinking_budget is not None:
        raise InvalidRequestError(
            f"{dialect.provider} (Chat Completions) takes no thinking budget; use "
            "reasoning_effort='low' / 'medium' / 'high' for a reasoning model",
            provider=dialect.provider,
            model=request.model,
        )
    used = {
        "reasoning_effort": request.reasoning_effort is not None,
        "prompt_cache_key": request.prompt_cache_key is not None,
        "tool_choice": request.tool_choice is not None and request.tool_choice != "auto",
        "user": request.user is not None,
        "seed": request.seed is not None,
        "temperature": request.temperature is not None,
        "top_p": request.top_p is not None,
        "response_format": request.response_format is not None,
        "tools": bool(request.tools),
        "stop": bool(request.stop),
        **dict.fromkeys(request.extra, True),
    }
    for option in sorted(dialect.ignored_for(request.model)):
        if used.get(option):
            raise InvalidRequestError(
                f"{dialect.provider} ignores {option!r} for {request.model}, so sending it "
                "would have no effect; remove it from the call",
                provider=dialect.provider,
                model=request.model,
            )
