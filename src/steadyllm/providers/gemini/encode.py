"""Request -> ``generateContent`` JSON body (the Gemini API and Vertex AI). Pure.

System text becomes ``systemInstruction``; turns become ``contents`` with roles
``user`` and ``model``; tool results become ``functionResponse`` parts (named
after the call they answer, consecutive results in one turn, as Gemini matches
parallel calls); an assistant turn sends back its thought parts and each
function call's ``thoughtSignature`` unchanged, which Gemini 3 requires.
"""

from __future__ import annotations

import base64
import json
import mimetypes
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
    ToolCall,
)
from .._server_tools import gemini_tools
from .dialect import Dialect

#: Ids steadyllm gives calls that came without one: never sent back as ids.
LOCAL_ID = "gemini_call_"
#: reasoning_effort -> thinkingLevel ("none" turns thinking off with a zero budget).
_LEVELS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}
_CHOICE = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _media(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        data = base64.b64encode(part.data).decode("ascii")
        return {"inlineData": {"mimeType": part.media_type, "data": data}}
    url = part.url or ""
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        return {"inlineData": {"mimeType": head[5:].split(";")[0], "data": data}}
    kind = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": kind, "fileUri": url}}


def _document(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:
        return {"text": part.text}
    if part.url is not None:
        return {"fileData": {"mimeType": part.media_type, "fileUri": part.url}}
    return {"inlineData": {"mimeType": part.media_type, "data": part.as_base64()}}


def _user_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_media(part))
        elif isinstance(part, DocumentPart):
            parts.append(_document(part))
    return parts


def _call_part(call: ToolCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "args": call.parsed_arguments()}
    if not call.id.startswith(LOCAL_ID):
        function["id"] = call.id
    part: dict[str, Any] = {"functionCall": function}
    if call.signature:
        part["thoughtSignature"] = call.signature
    return part


def _model_parts(message: Message) -> list[dict[str, Any]]:
    """A model turn: its own thought parts and tool results verbatim, its text, then its
    function calls with their signatures (other providers' blocks stay out)."""
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ThinkingPart) and part.item and "gemini" in part.item:
            parts.append(dict(part.item["gemini"]))
        elif isinstance(part, ServerToolPart) and part.wire == "gemini":
            parts.append(dict(part.block))
        elif isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
    parts.extend(_call_part(c) for c in message.tool_calls)
    return parts


def _response_part(message: Message, names: dict[str, str]) -> dict[str, Any]:
    call_id = message.tool_call_id or ""
    text = message.text
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    result = value if isinstance(value, dict) else {"result": text}
    if message.is_error:
        result = {"error": text}
    response: dict[str, Any] = {"name": names.get(call_id, ""), "response": result}
    if call_id and not call_id.startswith(LOCAL_ID):
        response["id"] = call_id
    return {"functionResponse": response}


def encode_contents(request: Request) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, contents) of ``request``'s messages."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names = {c.id: c.name for m in request.messages for c in m.tool_calls}
    for message in request.messages:
        if message.role == "system":
            system.append(message.text)
            continue
        if message.role == "tool":
            part = _response_part(message, names)
            last = contents[-1] if contents else None
            if last and last["role"] == "user" and "functionResponse" in last["parts"][-1]:
                last["parts"].append(part)  # parallel results: one turn
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        model = message.role == "assistant"
        parts = _model_parts(message) if model else _user_parts(message)
        if parts:
            contents.append({"role": "model" if model else "user", "parts": parts})
    return system, contents


def _refuse(request: Request, dialect: Dialect) -> None:
    why = None
    if request.user is not None:
        why = "Gemini takes no user identifier; leave user= out (or use labels on Vertex)"
    elif request.prompt_cache_key is not None:
        why = "Gemini caches with cachedContent, not prompt_cache_key; leave it out"
    elif request.extra.get("n") not in (None, 1):
        why = "steadyllm returns one candidate per call; make several calls instead"
    elif request.reasoning_effort is not None and request.thinking_budget is not None:
        why = "give reasoning_effort (a thinking level) or thinking_budget, not both"
    if why is not None:
        raise InvalidRequestError(why, provider=dialect.provider, model=request.model)


def _generation_config(request: Request) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, key in (("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed")):
        value = getattr(request, name)
        if value is not None:
            config[key] = value
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        config["stopSequences"] = list(request.stop)
    fmt = request.response_format
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt["type"] == "json_schema":
            config["responseJsonSchema"] = fmt["schema"]
    thinking: dict[str, Any] = {}
    if request.thinking_budget is not None:
        thinking["thinkingBudget"] = request.thinking_budget
    effort = request.reasoning_effort
    if effort == "none":
        thinking["thinkingBudget"] = 0
    elif effort is not None:
        thinking["thinkingLevel"] = _LEVELS[effort]
    if request.reasoning_summary is not None:
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _tool_config(request: Request) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice in _CHOICE:
        return {"functionCallingConfig": {"mode": _CHOICE[choice]}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


def encode_body(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The JSON body for ``:generateContent`` and ``:streamGenerateContent``."""
    _refuse(request, dialect)
    system, contents = encode_contents(request)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    extra = dict(request.extra)
    tools = list(extra.pop("tools", ()))  # built-in tools (googleSearch, codeExecution, ...)
    if request.tools:
        declarations = [
            {"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}
            for t in request.tools
        ]
        tools.append({"functionDeclarations": declarations})
    if request.server_tools:
        tools += gemini_tools(request.server_tools, dialect.provider, request.model)
    if tools:
        body["tools"] = tools
    tool_config = _tool_config(request)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    body.update(extra)
    return body


def encode_count(request: Request, dialect: Dialect) -> dict[str, Any]:
    """The body of ``:countTokens``. The Gemini API counts ``contents`` alone, or a
    whole ``generateContentRequest`` (system instruction and tools counted too);
    Vertex AI takes those fields at the top level."""
    body = encode_body(request, dialect)
    if dialect.provider == "vertex":
        fields = ("contents", "systemInstruction", "tools", "generationConfig")
        return {key: body[key] for key in fields if key in body}
    if set(body) <= {"contents", "generationConfig"}:
        return {"contents": body["contents"]}
    model = "models/" + request.model.removeprefix("models/")
    return {"generateContentRequest": {"model": model, **body}}
