"""Token counts as the emulator serves them: Anthropic's
``/v1/messages/count_tokens``, the Gemini API's and Vertex AI's ``:countTokens``,
and the Responses API's ``/responses/input_tokens``. Each counts the prompt the
way the emulator counts a reply's prompt tokens, so a count and the usage of
the same call agree; authentication, scripted faults and latency apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._gemini import GeminiHandler, chat_view
from ._reply import Reply
from ._responses import ResponsesHandler
from ._responses import chat_view as responses_view
from ._server import Handler
from ._state import EmulatorState, prompt_tokens

if TYPE_CHECKING:
    from aiohttp import web

    from ._behavior import Behavior


def _count_reply(tokens: int, model: str) -> Reply:
    return Reply("", [], "stop", tokens, 0, 0, 0, 0, model, "count")


class AnthropicCount(Handler):
    """``POST /v1/messages/count_tokens``: a Messages body without ``max_tokens``."""

    def __init__(self, state: EmulatorState) -> None:
        super().__init__("anthropic", state)

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return False

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        for name in ("max_tokens", "stream", "temperature"):
            if name in body:
                return self.error(400, None, f"{name}: Extra inputs are not permitted")
        if not body.get("model"):
            return self.error(400, None, "model: Field required")
        if not body.get("messages"):
            return self.error(400, None, "messages: Field required")
        return None

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        return _count_reply(prompt_tokens(body), str(body.get("model")))

    def payload(self, reply: Reply) -> Any:
        return {"input_tokens": reply.prompt_tokens}


class GoogleCount(GeminiHandler):
    """``:countTokens``: ``contents`` or a ``generateContentRequest`` (the Gemini API),
    ``contents`` with ``systemInstruction`` and ``tools`` (Vertex AI)."""

    def __init__(self, api: str, state: EmulatorState) -> None:
        super().__init__(api, state)
        self.methods = (":countTokens",)

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return False

    @staticmethod
    def _inner(body: dict[str, Any]) -> dict[str, Any]:
        inner = body.get("generateContentRequest")
        return inner if isinstance(inner, dict) else body

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if self.api == "gemini" and set(body) - {"contents", "generateContentRequest"}:
            unknown = sorted(set(body) - {"contents", "generateContentRequest"})[0]
            return self.error(400, None, f'Invalid JSON payload received. Unknown name "{unknown}"')
        inner = {k: v for k, v in self._inner(body).items() if k != "model"}
        return super().body_problem(request, inner)

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        return _count_reply(prompt_tokens(chat_view(self._inner(body))), model)

    def payload(self, reply: Reply) -> Any:
        count = reply.prompt_tokens
        if self.api == "vertex":
            return {"totalTokens": count, "totalBillableCharacters": count * 4}
        return {
            "totalTokens": count,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": count}],
        }


class ResponsesCount(ResponsesHandler):
    """``POST /v1/responses/input_tokens`` (and Azure's v1 route)."""

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return False

    def check(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        for name in ("stream", "store", "max_output_tokens"):
            if name in body:
                return self.error(400, None, f"Unknown parameter: '{name}'.")
        return Handler.check(self, request, responses_view(body))

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        return _count_reply(prompt_tokens(responses_view(body)), str(body.get("model")))

    def payload(self, reply: Reply) -> Any:
        return {"object": "response.input_tokens", "input_tokens": reply.prompt_tokens}
