"""The Gemini API (``/v1beta/models/MODEL:generateContent`` and
``:streamGenerateContent?alt=sse``, key in ``x-goog-api-key``) and Vertex AI
(``/v1/projects/P/locations/L/publishers/google/models/MODEL:...``, a bearer
token) as the emulator serves them, with the rules the real API enforces:
unknown fields and roles are refused; function responses must answer the
calls of the turn before, one for one; and on thinking models every function
call sent back must carry the ``thoughtSignature`` the emulator issued.
"""

from __future__ import annotations

import base64
import uuid
from typing import TYPE_CHECKING, Any

from ._behavior import Behavior
from ._render_gemini import SIGNATURE_PREFIX, GeminiRender
from ._reply import Reply
from ._server import Handler, _bearer
from ._state import EmulatorState

if TYPE_CHECKING:
    from aiohttp import web

_FIELDS = frozenset(
    {
        "contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
        "safetySettings", "cachedContent", "labels",
    }
)  # fmt: skip


def thinking_model(model: str) -> bool:
    return model.startswith(("gemini-2.5", "gemini-3"))


def _texts(parts: Any) -> str:
    return "".join(
        p["text"] for p in parts or () if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def chat_view(body: dict[str, Any]) -> dict[str, Any]:
    """The body as Chat Completions messages: what the echo and token counts read."""
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        messages.append({"role": "system", "content": _texts(system.get("parts"))})
    for content in body.get("contents") or ():
        if not isinstance(content, dict):
            continue
        parts = content.get("parts") or []
        if any(isinstance(p, dict) and "functionResponse" in p for p in parts):
            messages.append({"role": "tool", "content": str(parts)})
        else:
            role = "assistant" if content.get("role") == "model" else "user"
            messages.append({"role": role, "content": _texts(parts)})
    config = body.get("generationConfig") or {}
    json_mode = isinstance(config, dict) and config.get("responseMimeType") == "application/json"
    return {"messages": messages, "response_format": {"type": "json"} if json_mode else None}


def _signed(part: dict[str, Any]) -> bool:
    try:
        return base64.b64decode(part.get("thoughtSignature", "")).startswith(
            SIGNATURE_PREFIX.encode()
        )
    except ValueError:
        return False


def _turn_problem(contents: list[Any], index: int, model: str) -> str | None:
    content = contents[index]
    if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
        return "Please use a valid role: user, model."
    parts = [p for p in content.get("parts") or () if isinstance(p, dict)]
    if not parts:
        return f"contents[{index}].parts must not be empty"
    responses = sum("functionResponse" in p for p in parts)
    if responses:
        before = contents[index - 1] if index else {}
        calls = [p for p in before.get("parts") or () if "functionCall" in p]
        if before.get("role") != "model" or len(calls) != responses:
            return (
                "Please ensure that the number of function response parts is equal to the "
                "number of function call parts of the function call turn."
            )
    for position, part in enumerate(parts):
        if "functionCall" in part and thinking_model(model) and not _signed(part):
            name = part["functionCall"].get("name")
            return (
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call "
                f"`default_api:{name}` , position {position + 1}."
            )
    return None


def gemini_problem(body: dict[str, Any], model: str) -> str | None:
    """What the API would refuse in ``body`` (always a 400 INVALID_ARGUMENT), or None."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for index in range(len(contents)):
        problem = _turn_problem(contents, index, model)
        if problem is not None:
            return problem
    return None


class GeminiHandler(Handler):
    """Serves ``api`` "gemini" (the Gemini API) or "vertex" (Vertex AI)."""

    sends_done = False

    def __init__(self, api: str, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.render = GeminiRender()

    def model_of(self, request: web.Request, body: dict[str, Any]) -> str:
        return request.match_info.get("target", "").rsplit(":", 1)[0]

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return request.match_info.get("target", "").endswith(":streamGenerateContent")

    def limit_headers(self, openai_style: dict[str, str]) -> dict[str, str]:
        return {}  # Google sends no rate-limit headers

    def error(
        self, status: int, fault: str | None, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        if fault == "auth" and self.api == "gemini":  # Google's answer to a wrong key
            status, message = 400, "API key not valid. Please pass a valid API key."
        return super().error(status, fault, message, headers)

    #: The methods of a model this handler serves.
    methods: tuple[str, ...] = (":generateContent", ":streamGenerateContent")

    def check(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        target = request.match_info.get("target", "")
        if not target.endswith(self.methods):
            return self.error(404, None, f"Method not found: {target}")
        if self.api == "gemini":
            key = request.headers.get("x-goog-api-key") or request.query.get("key")
            if key is None:
                return self.error(403, None, "Method doesn't allow unregistered callers.")
        else:
            key = _bearer(request)
        refused = self.state.token_problem(key)
        keys = self.state.api_keys
        if refused or (keys is not None and key not in keys and key not in self.state.tokens):
            return self.error(401, "auth", refused or "Request had invalid credentials.")
        return self.body_problem(request, body)

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        problem = gemini_problem(body, self.model_of(request, body))
        return None if problem is None else self.error(400, None, problem)

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        reply = super().reply(chat_view(body), behavior, model)
        reply.id = uuid.uuid4().hex[:22]
        config = body.get("generationConfig") or {}
        thinking = config.get("thinkingConfig") if isinstance(config, dict) else None
        if thinking_model(reply.model):
            reply.signatures = True
            if "reasoning_tokens" not in behavior.usage:
                reply.reasoning_tokens = 24
            if "completion_tokens" not in behavior.usage:
                reply.completion_tokens += reply.reasoning_tokens
            if isinstance(thinking, dict) and thinking.get("includeThoughts"):
                reply.thinking = "**Reading the question**\n\nThe user wants an answer."
        return reply
