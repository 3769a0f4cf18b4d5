"""Checks on a request before anything is sent: each failure is an
``InvalidRequestError`` that says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import InvalidRequestError
from .parts import ASSISTANT_ONLY
from .server_tools import ServerTool
from .types import (
    CachePoint,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    RefusalPart,
    Request,
    TextPart,
    ThinkingPart,
    ToolSpec,
)

_PARTS = (TextPart, ImagePart, DocumentPart, CachePoint, *ASSISTANT_ONLY)

_ROLES = ("system", "user", "assistant", "tool")


def _check_range(name: str, value: float | None, lo: float, hi: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidRequestError(
            f"{name}={value!r} is out of range; use a number from {lo:g} to {hi:g}"
        )


def check_text(text: object, where: str) -> None:
    """Text that can be sent: a str that is valid Unicode (a lone surrogate, e.g. from
    slicing UTF-16 or a bad decode, would go out as invalid UTF-8)."""
    if not isinstance(text, str):
        raise InvalidRequestError(f"{where} has text of type {type(text).__name__}, not str")
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"{where} contains a lone surrogate {text[exc.start]!r} at character {exc.start}, "
            "which is not valid Unicode; decode the source text with errors='replace'"
        ) from None


def _check_json(value: object, name: str) -> None:
    """A value the request body can carry exactly: JSON types only, finite numbers."""
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        reason = str(exc).replace(
            "Out of range float values are not JSON compliant", "NaN or infinity is not valid JSON"
        )
        raise InvalidRequestError(
            f"{name} cannot be sent as JSON ({reason}); use only dicts, lists, strings, "
            "finite numbers, booleans and None"
        ) from None


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
        for j, part in enumerate(msg.content):
            _check_part(part, msg.role, f"messages[{i}]")
            if isinstance(part, CachePoint) and (
                j == 0 or isinstance(msg.content[j - 1], CachePoint)
            ):
                raise InvalidRequestError(
                    f"messages[{i}] has a cache point with no part before it to cache up to; "
                    "put sl.cache_point() after the text or image it should cover"
                )
        for call in msg.tool_calls:
            check_text(call.arguments, f"messages[{i}] tool call {call.name!r}")
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


def _check_part(part: Part, role: str, where: str) -> None:
    if not isinstance(part, _PARTS):
        raise InvalidRequestError(f"{where} has an unsupported part {part!r}")
    if isinstance(part, ASSISTANT_ONLY) and role != "assistant":
        raise InvalidRequestError(
            f"{where} is a {role} message with a {part.type} part, which only the model "
            "writes; send it in the assistant message it came in (response.message)"
        )
    if isinstance(part, ImagePart | DocumentPart) and role != "user":
        what = "an image" if isinstance(part, ImagePart) else "a document"
        raise InvalidRequestError(
            f"{where} is a {role} message with {what}; images and documents go in user messages"
        )
    if isinstance(part, DocumentPart) and part.text is not None:
        check_text(part.text, where)
    if isinstance(part, TextPart | ThinkingPart | RefusalPart):
        check_text(part.text, where)
    elif isinstance(part, CachePoint) and part.ttl not in ("5m", "1h"):
        raise InvalidRequestError(
            f"{where} has a cache point with ttl={part.ttl!r}; use '5m' or '1h'"
        )


def check_tools(
    tools: Sequence[ToolSpec], tool_choice: str | None, server_tools: Sequence[ServerTool] = ()
) -> None:
    kinds = [t.kind for t in server_tools]
    twice = sorted({kind for kind in kinds if kinds.count(kind) > 1})
    if twice:
        raise InvalidRequestError(f"sl.{twice[0]}() is given twice in tools; give it once")
    names: set[str] = set()
    for tool in tools:
        if not isinstance(tool, ToolSpec):
            raise InvalidRequestError(
                "tools must be ToolSpec objects or server tools (sl.web_search(), "
                f"sl.web_fetch(), sl.code_execution()), got {type(tool).__name__}"
            )
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
    if not tools and not (server_tools and tool_choice == "required"):
        raise InvalidRequestError(f"tool_choice={tool_choice!r} needs tools")
    if tool_choice != "required" and tool_choice not in names:
        raise InvalidRequestError(
            f"tool_choice={tool_choice!r} is neither 'auto', 'none', 'required' nor a "
            f"declared tool name ({', '.join(sorted(names))})"
        )


def check_request(request: Request) -> None:
    check_messages(request.messages)
    check_tools(request.tools, request.tool_choice, request.server_tools)
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
        if not isinstance(request.response_format, dict):
            raise InvalidRequestError(
                "response_format must be a dict, e.g. {'type': 'json_object'}"
            )
        check_response_format(request.response_format)
    if request.seed is not None and (
        isinstance(request.seed, bool) or not isinstance(request.seed, int)
    ):
        raise InvalidRequestError(f"seed={request.seed!r} must be a whole number")
    if request.user is not None and not isinstance(request.user, str):
        raise InvalidRequestError(f"user={request.user!r} must be a string")
    _check_reasoning(request)
    check_headers(request.headers)
    if request.prompt_cache_key is not None and not isinstance(request.prompt_cache_key, str):
        raise InvalidRequestError(f"prompt_cache_key={request.prompt_cache_key!r} must be a string")
    if request.extra:
        if not all(isinstance(k, str) for k in request.extra):
            raise InvalidRequestError("extra must be a dict with string keys")
        _check_json(request.extra, "extra")


#: Headers a call may not set: authentication (configure the key instead, so it is
#: masked and rotated like the rest) and what the transport frames itself.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "proxy-authorization",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "accept-encoding",
    }
)
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def check_headers(headers: object) -> None:
    if not isinstance(headers, dict):
        raise InvalidRequestError("headers must be a dict of header names to values")
    for name, value in headers.items():
        if not isinstance(name, str) or not name or set(name.lower()) - _TOKEN_CHARS:
            raise InvalidRequestError(f"headers: {name!r} is not a valid HTTP header name")
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidRequestError(
                f"headers: {name!r} is set by steadyllm itself; configure the API key "
                "(or base URL) instead of sending it per call"
            )
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise InvalidRequestError(
                f"headers: the value of {name!r} must be a string without line breaks"
            )


_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_SUMMARIES = ("auto", "concise", "detailed")
#: Anthropic's floor for a thinking budget; no provider takes less.
MIN_THINKING_BUDGET = 1024


def _check_reasoning(request: Request) -> None:
    effort = request.reasoning_effort
    if effort is not None and effort not in _EFFORTS:
        raise InvalidRequestError(
            f"reasoning_effort={effort!r} is not one of {', '.join(map(repr, _EFFORTS))}"
        )
    summary = request.reasoning_summary
    if summary is not None and summary not in _SUMMARIES:
        raise InvalidRequestError(
            f"reasoning_summary={summary!r} is not one of {', '.join(map(repr, _SUMMARIES))}"
        )
    budget = request.thinking_budget
    if budget is None:
        return
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise InvalidRequestError(
            f"thinking_budget={budget!r} must be a whole number of tokens, at least "
            f"{MIN_THINKING_BUDGET}"
        )
    if request.max_tokens is not None and request.max_tokens <= budget:
        raise InvalidRequestError(
            f"max_tokens={request.max_tokens} must be more than thinking_budget={budget}: "
            "the thinking counts toward max_tokens"
        )


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
