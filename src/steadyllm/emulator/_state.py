"""What the emulator remembers: every request it received, the scripted
behaviours still to play, and its rate-limit buckets; and the prompt reading
(token count, last user text) that rate limits and echo replies use.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._behavior import Behavior
from ._limits import RateLimits
from ._prompt_cache import PromptCache

if TYPE_CHECKING:
    from aiohttp import web


@dataclass
class RecordedRequest:
    """One request as the emulator received it."""

    api: str  # "openai", "azure" or "anthropic"
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.time)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        keys = ("content", "text", "system", "parts")
        return [s for k in keys if k in value for s in _strings(value[k])]
    return []


def prompt_tokens(body: dict[str, Any]) -> int:
    # input: the Responses API and OpenAI embeddings; requests, instances: Google's
    messages = (
        body.get("messages")
        or body.get("input")
        or body.get("requests")
        or body.get("instances")
        or []
    )
    if isinstance(messages, str):
        messages = [{"content": messages}]
    texts = _strings(messages) + _strings(body.get("system") or [])
    texts += _strings(body.get("instructions") or [])
    return sum(-(-len(t) // 4) for t in texts) + 4 * len(messages)


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(
                b.get("text", "")
                for b in content or []
                if isinstance(b, dict) and b.get("type") == "text"
            )
    return ""


#: Tokens the emulator issues start with this, so it knows to check them.
TOKEN_PREFIX = "emu-token-"  # noqa: S105 - a marker, not a password


class EmulatorState:
    """Everything the handlers share: the script queue, limits and the request log."""

    def __init__(
        self, script: list[Behavior], limits: RateLimits | None, api_keys: set[str] | None
    ) -> None:
        self.queue: deque[Behavior] = deque()
        self.push(script)
        self.limits = limits
        self.api_keys = api_keys
        self.requests: list[RecordedRequest] = []
        self.prompt_cache = PromptCache()
        #: Bearer tokens issued by ``Emulator.issue_token`` and when each expires.
        self.tokens: dict[str, float] = {}
        self.now: Callable[[], float] = time.time

    def token_problem(self, token: str | None) -> str | None:
        """Why an issued-token-shaped bearer is refused (unknown or expired), or None."""
        if token is None or not token.startswith(TOKEN_PREFIX):
            return None
        expires = self.tokens.get(token)
        if expires is not None and self.now() < expires:
            return None
        # Azure OpenAI's words for an Entra token it does not accept.
        return (
            "Unauthorized. Access token is missing, invalid, audience is incorrect "
            "(https://cognitiveservices.azure.com), or have expired."
        )

    def clear(self) -> None:
        """Forget the queue, the request log and the prompt cache."""
        self.queue.clear()
        self.requests.clear()
        self.prompt_cache = PromptCache()

    def push(self, behaviors: list[Behavior]) -> None:
        for behavior in behaviors:
            self.queue.extend([behavior] * behavior.times)

    def next_behavior(self, request: web.Request, api: str, model: str) -> Behavior:
        """The header's behaviour, else the first queued one meant for this request."""
        header = request.headers.get("x-emulator-behavior")
        if header:
            return Behavior.from_json(header)
        for index, behavior in enumerate(self.queue):
            if behavior.matches(api, model):
                del self.queue[index]
                return behavior
        return Behavior()
