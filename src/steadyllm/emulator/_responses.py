"""The OpenAI Responses API as the emulator serves it (``/v1/responses``, Azure's
``/openai/v1/responses``), with the rules the real API enforces on input:
unknown parameters are refused; a ``function_call_output`` must answer a
``function_call`` of the same input; a ``reasoning`` item must be followed by
the item it led to, and under ``store: false`` it must carry the encrypted
content the emulator issued (a stateless server keeps no ids); encrypted
reasoning is only offered by reasoning models; a ``strict`` function schema
must forbid additional properties.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import TYPE_CHECKING, Any

from ..providers.responses.encode import REASONING_PREFIXES
from ._behavior import Behavior
from ._render_responses import ResponsesRender
from ._reply import Reply
from ._server import Handler, served_tier
from ._state import EmulatorState, last_user_text

if TYPE_CHECKING:
    from aiohttp import web

#: The request body's top-level parameters the API knows.
_KNOWN = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "temperature", "top_p",
        "max_output_tokens", "stream", "stream_options", "store", "include", "reasoning",
        "text", "user", "safety_identifier", "metadata", "previous_response_id",
        "parallel_tool_calls", "truncation", "prompt_cache_key", "service_tier",
        "background", "max_tool_calls", "top_logprobs", "conversation", "prompt",
    }
)  # fmt: skip
_ENCRYPTED = "reasoning.encrypted_content"


def reasons(body: dict[str, Any]) -> bool:
    name = str(body.get("model") or "").rsplit("/", 1)[-1]
    return name.startswith(REASONING_PREFIXES) or bool(body.get("reasoning"))


def seal(item_id: str, model: str) -> str:
    """The encrypted content the emulator issues for a reasoning item (it checks it back)."""
    return base64.b64encode(json.dumps({"id": item_id, "model": model}).encode()).decode()


def _texts(content: Any) -> Any:
    if isinstance(content, str):
        return content
    return [
        {"type": "text", "text": c.get("text", "")}
        for c in content or ()
        if isinstance(c, dict) and c.get("type") in ("input_text", "output_text")
    ]


def chat_view(body: dict[str, Any]) -> dict[str, Any]:
    """The body as Chat Completions messages: what the shared checks and the echo read."""
    items = body.get("input")
    items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("role"):
            messages.append({"role": item["role"], "content": _texts(item.get("content"))})
        elif item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": str(item.get("output", ""))})
    if not messages and body.get("previous_response_id"):
        messages.append({"role": "user", "content": ""})
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    return {
        "model": body.get("model"),
        "messages": messages,
        "response_format": fmt if isinstance(fmt, dict) and fmt.get("type") != "text" else None,
    }


def _reasoning_problem(items: list[Any], index: int, stateless: bool) -> tuple[int, str] | None:
    item = items[index]
    rid = str(item.get("id") or "")
    sealed = item.get("encrypted_content")
    if sealed is None and stateless:
        return 404, (
            f"Item with id '{rid}' not found. Items are not persisted when `store` is set to "
            "false. Try again with `store` set to true, or remove this item from your input."
        )
    if sealed is not None:
        try:
            opened = json.loads(base64.b64decode(sealed))
        except ValueError:
            opened = None
        if not isinstance(opened, dict) or opened.get("id") != rid:
            return 400, f"The encrypted content for item {rid} could not be verified."
    following = items[index + 1] if index + 1 < len(items) else None
    if not isinstance(following, dict) or following.get("role") == "user":
        return (
            400,
            f"Item '{rid}' of type 'reasoning' was provided without its required following item.",
        )
    return None


def _tool_problem(tools: Any) -> tuple[int, str] | None:
    for tool in tools or ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        strict = tool.get("strict", True)  # the Responses API's default
        schema = tool.get("parameters") or {}
        if strict and schema.get("additionalProperties") is not False:
            return 400, (
                f"Invalid schema for function '{tool.get('name')}': In context=(), "
                "'additionalProperties' is required to be supplied and to be false."
            )
    return None


def responses_problem(body: dict[str, Any]) -> tuple[int, str] | None:
    """What the API would refuse in ``body`` (status, message), or None."""
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        return 400, f"Unknown parameter: '{unknown[0]}'."
    if _ENCRYPTED in (body.get("include") or ()) and not reasons(body):
        return 400, "Encrypted content is not supported with this model."
    items = body.get("input")
    if not isinstance(items, str | list) and not body.get("previous_response_id"):
        return 400, "Missing required parameter: 'input'."
    calls: set[str] = set()
    stateless = body.get("store") is False
    listed: list[Any] = items if isinstance(items, list) else []
    for index, item in enumerate(listed):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "function_call":
            calls.add(str(item.get("call_id")))
        elif kind == "function_call_output" and str(item.get("call_id")) not in calls:
            cid = item.get("call_id")
            return 400, f"No tool call found for function call output with call_id {cid}."
        elif kind == "reasoning":
            problem = _reasoning_problem(listed, index, stateless)
            if problem is not None:
                return problem
    return _tool_problem(body.get("tools"))


def builtin_items(body: dict[str, Any], asked: str) -> list[dict[str, Any]]:
    """What the built-in tools a request offers did, in the shapes the API returns:
    a ``web_search_call`` searching for the message, a ``code_interpreter_call``
    that printed it."""
    kinds = {t.get("type") for t in body.get("tools") or () if isinstance(t, dict)}
    items: list[dict[str, Any]] = []
    if kinds & {"web_search", "web_search_preview"}:
        page = f"https://search.example/{uuid.uuid5(uuid.NAMESPACE_URL, asked).hex[:12]}"
        action = {"type": "search", "query": asked, "sources": [{"type": "url", "url": page}]}
        ident = f"ws_{uuid.uuid4().hex}"
        items.append(
            {"id": ident, "type": "web_search_call", "status": "completed", "action": action}
        )
    if "code_interpreter" in kinds:
        code = f"print({asked!r})"
        items.append(
            {
                "id": f"ci_{uuid.uuid4().hex}",
                "type": "code_interpreter_call",
                "status": "completed",
                "code": code,
                "container_id": f"cntr_{uuid.uuid4().hex[:24]}",
                "outputs": [{"type": "logs", "logs": f"{asked}\n"}],
            }
        )
    return items


class ResponsesHandler(Handler):
    """Serves the Responses API for ``api`` ("openai" or "azure")."""

    sends_done = False

    def __init__(self, api: str, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.render = ResponsesRender()

    def check(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        problem = super().check(request, chat_view(body))
        if problem is not None:
            return problem
        refused = responses_problem(body)
        return None if refused is None else self.error(refused[0], None, refused[1])

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        view = chat_view(body)
        reply = super().reply(view, behavior, model)
        reply.id = f"resp_{uuid.uuid4().hex}"
        reply.service_tier = served_tier(body.get("service_tier"))
        reply.builtin_items = builtin_items(body, last_user_text(view)[:80])
        if reasons(body):
            rid = f"rs_{uuid.uuid4().hex[:24]}"
            item: dict[str, Any] = {"id": rid, "type": "reasoning", "summary": []}
            if (body.get("reasoning") or {}).get("summary"):
                thought = f"**Considering the request**\n\nThe user wrote: {reply.text[:60]}"
                item["summary"] = [{"type": "summary_text", "text": thought}]
            if _ENCRYPTED in (body.get("include") or ()):
                item["encrypted_content"] = seal(rid, reply.model)
            reply.reasoning_item = item
            if "reasoning_tokens" not in behavior.usage:
                reply.reasoning_tokens = 16
            if "completion_tokens" not in behavior.usage:
                reply.completion_tokens += reply.reasoning_tokens  # billed as output
        return reply
