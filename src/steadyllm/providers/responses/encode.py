"""Request -> OpenAI Responses API JSON body (``POST /responses``). Pure.

System text becomes ``instructions``; every other message becomes ``input``
items: user content as ``input_text`` / ``input_image`` / ``input_file``,
an assistant turn as its reasoning items (verbatim, encrypted content
included), its text, its built-in tool items and its ``function_call``s, and
a tool result as a ``function_call_output``. Stateless by default (``store:
false``): reasoning comes back encrypted (``include``) and goes out again with
the next turn, so a tool loop keeps the model's reasoning without the server
keeping anything.
"""

from __future__ import annotations

from typing import Any

from ..._core.errors import InvalidRequestError
from ..._core.types import (
    DocumentPart,
    ImagePart,
    Message,
    Request,
    ServerToolPart,
    TextPart,
    ThinkingPart,
)
from .._server_tools import responses_tools
from .._strict import schema_and_strict, tool_fields
from ..openai.dialect import Dialect

#: Model names that reason (their reasoning comes back encrypted when asked).
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5", "codex")


def reasons(request: Request) -> bool:
    """Whether to ask for encrypted reasoning: a reasoning model, or reasoning options."""
    name = request.model.rsplit("/", 1)[-1]
    return (
        name.startswith(REASONING_PREFIXES)
        or request.reasoning_effort is not None
        or request.reasoning_summary is not None
    )


def _user_content(message: Message) -> list[dict[str, Any]] | str:
    if all(isinstance(p, TextPart) for p in message.content):
        return message.text
    content: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"type": "input_image", "image_url": part.as_data_url()}
            image["detail"] = part.detail or "auto"
            content.append(image)
        elif isinstance(part, DocumentPart):
            content.append(_file(part))
    return content


def _file(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:  # plain text reads best as text
        return {"type": "input_text", "text": part.text}
    file: dict[str, Any] = {"type": "input_file", "filename": part.title or "document.pdf"}
    if part.url is not None:
        file["file_url"] = part.url
    else:
        file["file_data"] = f"data:{part.media_type};base64,{part.as_base64()}"
    return file


def _assistant_items(message: Message, stateless: bool) -> list[dict[str, Any]]:
    """An assistant turn as items, in its order: reasoning, text, built-in tools, calls.

    A reasoning item goes back only with its encrypted content (or when the server
    keeps state): without either, a stateless server no longer knows its id."""
    items: list[dict[str, Any]] = []
    text: list[str] = []
    for part in message.content:
        if isinstance(part, ThinkingPart) and part.item and part.item.get("type") == "reasoning":
            if stateless and not part.item.get("encrypted_content"):
                continue
            items.append(dict(part.item))
        elif isinstance(part, ServerToolPart) and part.wire == "responses":
            items.append(dict(part.block))
        elif isinstance(part, TextPart) and part.text:
            text.append(part.text)
    if text:
        items.append({"role": "assistant", "content": "".join(text)})
    items.extend(
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
        for c in message.tool_calls
    )
    return items


def encode_input(request: Request, stateless: bool) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) of ``request``'s messages."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            instructions.append(message.text)
        elif message.role == "user":
            items.append({"role": "user", "content": _user_content(message)})
        elif message.role == "assistant":
            items.extend(_assistant_items(message, stateless))
        else:
            output = message.text
            items.append(
                {"type": "function_call_output", "call_id": message.tool_call_id, "output": output}
            )
    return "\n\n".join(instructions), items


def _refusal(request: Request) -> str | None:
    """Why the Responses API cannot take ``request``, or None."""
    if request.stop:
        return (
            "the Responses API takes no stop sequences; use the Chat Completions model "
            f"string (openai:{request.model}) for stop="
        )
    if request.seed is not None:
        return "the Responses API takes no seed; leave seed= out or use Chat Completions"
    if request.thinking_budget is not None:
        return (
            "the Responses API takes no thinking budget; use reasoning_effort='low' / "
            "'medium' / 'high' and reasoning_summary='auto'"
        )
    if request.extra.get("n") not in (None, 1):
        return "the Responses API returns one reply per call; make several calls instead"
    return None


def _refuse(request: Request, dialect: Dialect) -> None:
    why = _refusal(request)
    if why is not None:
        raise InvalidRequestError(why, provider=dialect.provider, model=request.model)


def _text_format(fmt: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    if fmt["type"] != "json_schema":
        return {"type": "json_object"}
    out: dict[str, Any] = {"type": "json_schema", "name": fmt.get("name", "output")}
    out.update(schema_and_strict(fmt, dialect.auto_strict))
    return out


def encode_body(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The JSON body for ``POST /responses``."""
    _refuse(request, dialect)
    extra = dict(request.extra)
    stateful = bool(extra.get("store")) or "previous_response_id" in extra
    instructions, items = encode_input(request, stateless=not stateful)
    body: dict[str, Any] = {"model": request.model, "input": items}
    if instructions:
        body["instructions"] = instructions
    tools = list(extra.pop("tools", ()))  # built-in tools (web_search, ...) ride in extra
    # strict where the parameters fit it, as in Chat Completions; off elsewhere (the
    # Responses API defaults it on, which would refuse a looser schema)
    tools += [
        {"type": "function", "strict": False, **tool_fields(t, dialect.auto_strict)}
        for t in request.tools
    ]
    if request.server_tools:
        tools += responses_tools(request.server_tools, dialect.provider, request.model)
    if tools:
        body["tools"] = tools
    choice = request.tool_choice
    if choice is not None:
        named = choice not in ("auto", "none", "required")
        body["tool_choice"] = {"type": "function", "name": choice} if named else choice
    for name in ("temperature", "top_p", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.prompt_cache_key is not None:
        body["prompt_cache_key"] = request.prompt_cache_key
    reasoning: dict[str, Any] = {}
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    if request.reasoning_summary is not None:
        reasoning["summary"] = request.reasoning_summary
    if reasoning:
        body["reasoning"] = reasoning
    if request.response_format is not None:
        body["text"] = {"format": _text_format(request.response_format, dialect)}
    if not stateful:
        body["store"] = False
        if reasons(request):
            body["include"] = ["reasoning.encrypted_content"]
    if request.stream:
        body["stream"] = True
    body.update(extra)
    return body


#: What ``POST /responses/input_tokens`` takes of a Responses body.
_COUNTED = (
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "text",
    "reasoning",
    "previous_response_id",
    "conversation",
    "parallel_tool_calls",
    "truncation",
)


def encode_count(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The body of ``POST /responses/input_tokens``: the request's own, less what a
    count does not take (``store``, ``include``, ``stream``, the output cap, sampling)."""
    body = encode_body(request, dialect)
    return {key: body[key] for key in _COUNTED if key in body}
