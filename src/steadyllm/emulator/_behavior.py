"""What the emulator does for one request: a reply, or a fault.

A ``Behavior`` is plain data, so it can come from Python, from JSON posted to
``/_emulator/script``, or from an ``x-emulator-behavior`` request header.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULTS = frozenset(
    {
        "status",  # any HTTP status with its real error body (status=...)
        "rate_limit",  # 429 with retry-after, retry-after-ms and rate-limit headers
        "quota",  # 429 quota / spend cap: not retryable
        "overloaded",  # Anthropic 529 overloaded_error; OpenAI 503
        "context_length",  # 400 prompt too long
        "content_filter",  # Azure 400; OpenAI finish_reason content_filter; Anthropic refusal
        "auth",  # 401
        "html",  # an HTML error page from a proxy (status, default 502)
        "hang",  # no response headers for hang_ms (default: until the client gives up)
        "stall",  # stream stops after after_chunks chunks for stall_ms (default: forever)
        "drop",  # connection dropped after after_chunks chunks (not streamed: before answering)
        "malformed",  # invalid JSON in an SSE event after after_chunks chunks
        "error_event",  # an in-band error event after after_chunks chunks (HTTP 200)
    }
)


class BehaviorError(ValueError):
    """A script the emulator cannot follow; the message says which field is wrong."""


@dataclass
class Behavior:
    #: Reply text; None echoes the last user message (``{"echo": ...}`` in JSON mode).
    text: str | None = None
    #: ``[{"name": ..., "arguments": {...} | "json", "id": optional}]``
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: Override token counts: prompt_tokens, completion_tokens, cached_tokens,
    #: cache_write_tokens, cache_write_1h_tokens, reasoning_tokens,
    #: audio_prompt_tokens, audio_completion_tokens.
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    #: Stream the text in this many chunks (default: one per word).
    chunks: int | None = None
    chunk_delay_ms: float = 0.0
    #: Delay before the response headers.
    latency_ms: float = 0.0
    #: Send ": keep-alive" SSE comments between chunks.
    comments: bool = False
    #: OpenAI streams: leave out the final ``data: [DONE]`` (as Ollama does after errors).
    no_done: bool = False
    fault: str | None = None
    status: int | None = None
    retry_after: float | None = None
    retry_after_ms: float | None = None
    should_retry: bool | None = None
    message: str | None = None
    after_chunks: int = 0
    stall_ms: float | None = None
    hang_ms: float | None = None
    error_type: str | None = None
    #: Extra response headers.
    headers: dict[str, str] = field(default_factory=dict)
    #: How many requests this behaviour serves when queued.
    times: int = 1
    #: Serve only requests to this API ("openai", "azure", "anthropic"); others skip it.
    api: str | None = None
    #: Serve only requests for this model (Azure: the deployment); others skip it.
    model: str | None = None

    def matches(self, api: str, model: str) -> bool:
        return (self.api is None or self.api == api) and (self.model is None or self.model == model)

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise BehaviorError(
                f"unknown fault {self.fault!r}; use one of: {', '.join(sorted(FAULTS))}"
            )
        if self.fault == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise BehaviorError("fault 'status' needs status between 400 and 599")
        if self.api is not None and self.api not in ("openai", "azure", "anthropic"):
            raise BehaviorError(f"api {self.api!r} must be openai, azure or anthropic")
        if self.times < 1 or self.after_chunks < 0:
            raise BehaviorError("times must be >= 1 and after_chunks >= 0")

    @classmethod
    def from_dict(cls, data: Any) -> Behavior:
        if not isinstance(data, dict):
            raise BehaviorError(f"a behaviour must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise BehaviorError(f"unknown behaviour fields: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:  # pragma: no cover - guarded by the field check
            raise BehaviorError(str(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> Behavior:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise BehaviorError(f"behaviour is not valid JSON: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in asdict(self).items()
            if v not in (None, [], {}, False, 0, 0.0) or k == "times"
        }
