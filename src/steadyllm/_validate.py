"""Checks on a request before anything is sent: each failure is an
``InvalidRequestError`` that says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._errors import InvalidRequestError
from ._types import ImagePart, Message, Request, TextPart, ToolSpec

_ROLES = ("system", "user", "assistant", "tool")


def _check_range(name: str, value: float | None, lo: float, hi: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidRequestError(
            f"{name}={value!r} is out of range; use a number from {lo:g} to {hi:g}"
        )


def check_messages(messages: object) -> None:
    if type(messages) is not list and (  # a list (the usual case) skips the ABC check
        not isinstance(messages, Sequence) or isinstance(messages, str | bytes)
    ):
        raise InvalidRequestError("messages must be a list of messages, e.g. [sl.user('Hello')]")
    if not messages:
        raise InvalidRequestError("messages is empty; pass at least one, e.g. [sl.user('Hello')]")
    open_calls: set[str] = set()
    for i, msg in enumerate(messages):
        if not isinstance(msg, Message):
            raise InvalidRequestError(
                f"messages[{i}] is a {type(msg).__name__}, not a Message; build messages "
                "with sl.system(), sl.user(), sl.assistant() or sl.tool_result()"
            )
        if msg.role not in _ROLES:
            raise InvalidRequestError(f"messages[{i}] has unknown role {msg.role!r}")
        for part in msg.content:
            if not isinstance(part, TextPart | ImagePart):
                raise InvalidRequestError(f"messages[{i}] has an unsupported part {part!r}")
            if isinstance(part, ImagePart) and msg.role != "user":
                raise InvalidRequestError(
                    f"messages[{i}] is a {msg.role} message with an image; "
                    "images go in user messages"
                )
        if msg.role == "assistant":
            open_calls = {c.id for c in msg.tool_calls}
        elif msg.role == "tool":
            if not msg.tool_call_id or msg.tool_call_id not in open_calls:
                raise InvalidRequestError(
                    f"messages[{i}] is a tool result for call id {msg.tool_call_id!r}, but the "
                    "assistant message before it has no tool call with that id; pass the "
                    "assistant reply (response.message) before its tool results"
                )
        else:
            open_calls = set()


def check_tools(tools: Sequence[ToolSpec], tool_choice: str | None) -> None:
    names: set[str] = set()
    for tool in tools:
        if not isinstance(tool, ToolSpec):
            raise InvalidRequestError(f"tools must be ToolSpec objects, got {type(tool).__name__}")
        if not tool.name or not tool.name.replace("_", "a").replace("-", "a").isalnum():
            raise InvalidRequestError(
                f"tool name {tool.name!r} is invalid; use letters, digits, '_' and '-'"
            )
        if tool.name in names:
            raise InvalidRequestError(f"tool name {tool.name!r} is declared twice")
        if not isinstance(tool.parameters, dict) or tool.parameters.get("type") != "object":
            raise InvalidRequestError(
                f'tool {tool.name!r}: parameters must be a JSON Schema with "type": "object"'
            )
        names.add(tool.name)
    if tool_choice is None or tool_choice in ("auto", "none"):
        return
    if not tools:
        raise InvalidRequestError(f"tool_choice={tool_choice!r} needs tools")
    if tool_choice != "required" and tool_choice not in names:
        raise InvalidRequestError(
            f"tool_choice={tool_choice!r} is neither 'auto', 'none', 'required' nor a "
            f"declared tool name ({', '.join(sorted(names))})"
        )


def check_request(request: Request) -> None:
    check_messages(request.messages)
    check_tools(request.tools, request.tool_choice)
    _check_range("temperature", request.temperature, 0.0, 2.0)
    _check_range("top_p", request.top_p, 0.0, 1.0)
    if request.max_tokens is not None and (
        isinstance(request.max_tokens, bool)
        or not isinstance(request.max_tokens, int)
        or request.max_tokens < 1
    ):
        raise InvalidRequestError(
            f"max_tokens={request.max_tokens!r} must be a whole number of at least 1"
        )
    if request.stop is not None and (
        not isinstance(request.stop, list)
        or not all(isinstance(s, str) and s for s in request.stop)
    ):
        raise InvalidRequestError("stop must be a list of non-empty strings")
    if request.response_format is not None:
        check_response_format(request.response_format)


def check_response_format(fmt: dict[str, Any]) -> None:
    kind = fmt.get("type")
    if kind == "json_object":
        return
    if kind == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise InvalidRequestError("response_format json_schema needs a 'schema' dict")
        return
    raise InvalidRequestError(
        f"response_format type {kind!r} is not supported; use 'json_object' or 'json_schema'"
    )
