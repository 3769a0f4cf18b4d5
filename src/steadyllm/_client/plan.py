"""What one call is, once resolved: its options, and the plan each attempt follows.

``Client.plan`` turns a model name, messages and options into a ``CallPlan``
(the checked ``Request``, the provider, the context, the one total deadline,
the retry policy and the ledger of usage and cost); a fallback chain is a list
of plans sharing a deadline and a ledger.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .._core.context import Context
from .._core.errors import InvalidRequestError
from .._core.server_tools import ServerTool
from .._core.types import (
    CacheMode,
    Message,
    ReasoningEffort,
    ReasoningSummary,
    Request,
    ToolChoice,
    ToolSpec,
)
from .._core.units import ms_from_seconds
from .._metering.meter import Ledger
from .._resilience.retry import RetryPolicy
from ..providers import Provider


class TurnFields(TypedDict, total=False):
    """What a model turn asks of the provider (the Request's fields but its tools)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    user: str | None
    response_format: dict[str, Any] | None
    extra: dict[str, Any] | None
    #: OpenAI reasoning models: "none", "minimal", "low", "medium", "high", "xhigh".
    reasoning_effort: ReasoningEffort | None
    #: OpenAI Responses API: "auto", "concise" or "detailed" reasoning summaries.
    reasoning_summary: ReasoningSummary | None
    #: Anthropic extended thinking: tokens the model may think for (at least 1024).
    thinking_budget: int | None
    #: OpenAI: route requests that share a long prefix to the same prompt cache.
    prompt_cache_key: str | None
    #: Extra HTTP headers for this call (never authentication or framing headers).
    headers: Mapping[str, str] | None
    #: Streams: keep the provider's raw events in ``response.raw``.
    keep_raw: bool


class RequestOptions(TurnFields, total=False):
    """Every field of one Request, as ``build_request`` takes them."""

    tools: Sequence[ToolSpec | ServerTool] | None
    tool_choice: ToolChoice | None


class LoopOptions(TurnFields, total=False):
    """Keyword options of every model turn of ``chat_with_tools`` and ``chat_json``."""

    context: Context | None
    timeout_ms: int | None
    max_retries: int | None
    #: Response cache for this call: "use", "bypass" or "refresh" (default from ENABLE_LLM_CACHE).
    cache: CacheMode | None


class EmbedOptions(TypedDict, total=False):
    """Keyword options of ``embed`` besides ``dimensions`` and ``concurrency``."""

    user: str | None
    headers: Mapping[str, str] | None
    extra: dict[str, Any] | None
    context: Context | None
    timeout_ms: int | None
    max_retries: int | None
    cache: CacheMode | None


class CountOptions(TurnFields, total=False):
    """Keyword options of ``count_tokens``: what shapes the prompt, and the call's own."""

    tools: Sequence[ToolSpec | ServerTool] | None
    tool_choice: ToolChoice | None
    context: Context | None
    timeout_ms: int | None
    max_retries: int | None


class CallOptions(LoopOptions, total=False):
    """Keyword options accepted by ``chat`` and ``stream``."""

    tools: Sequence[ToolSpec | ServerTool] | None
    tool_choice: ToolChoice | None


def build_request(
    provider: str, model: str, messages: object, stream: bool, fields: RequestOptions
) -> Request:
    """The Request of one call, its list-like options copied (the caller keeps theirs)."""
    stop = fields.get("stop")
    tools, server_tools = split_tools(fields.get("tools") or ())
    options: dict[str, Any] = {
        **fields,
        "tools": tools,
        "server_tools": server_tools,
        "stop": [stop] if isinstance(stop, str) else (list(stop) if stop is not None else None),
        "extra": dict(fields.get("extra") or {}),
        "headers": dict(fields.get("headers") or {}),
    }
    return Request(provider, model, as_list(messages), stream=stream, **options)


def split_tools(tools: Iterable[Any]) -> tuple[list[Any], list[ServerTool]]:
    """``tools=`` of a call: the functions the model may call (checked with the
    request), and the tools the provider runs itself."""
    given = list(tools)  # once: any iterable will do
    if not any(isinstance(t, ServerTool) for t in given):
        return given, []
    server = [t for t in given if isinstance(t, ServerTool)]
    return [t for t in given if not isinstance(t, ServerTool)], server


@dataclass(slots=True)
class CallPlan:
    """Everything one call needs, resolved before the first attempt."""

    request: Request
    provider: Provider
    context: Context | None
    deadline: float
    timeout_s: float
    retry: RetryPolicy
    started: float
    #: Usage and cost of every attempt of the call, shared by all plans of a chain.
    ledger: Ledger = field(default_factory=Ledger)
    #: The prompt estimate, computed once per call (every plan of a chain sends the
    #: same messages and tools); -1 until first asked for.
    prompt_estimate: int = -1
    #: The model's context window and output limit (``sl.model_info``), if known.
    window: int | None = None
    output_limit: int | None = None

    def prompt_tokens(self) -> int:
        """The upper estimate of what the provider reads (``estimate_request_tokens``)."""
        if self.prompt_estimate < 0:
            from .._metering.tokens import estimate_request_tokens

            self.prompt_estimate = estimate_request_tokens(self.request)
        return self.prompt_estimate


def as_list(messages: object) -> list[Message]:
    """A list copy; anything else (a bare string, say) is left for the validator to reject."""
    if type(messages) is list:
        return list(messages)
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        return messages  # type: ignore[return-value]
    return list(messages)


def timeout_seconds(timeout_ms: int | None, default_ms: int) -> float:
    value = default_ms if timeout_ms is None else timeout_ms
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)  # NaN would switch the deadline off, inf never ends
        or value <= 0
    ):
        raise InvalidRequestError(
            f"timeout_ms={timeout_ms!r} must be a positive, finite number of milliseconds"
        )
    return float(value) / 1000.0


def check_options(context: Any, max_retries: Any, extra: Any) -> None:
    """The options a type checker cannot vouch for, checked before anything is built."""
    if context is not None and not isinstance(context, Context):
        raise InvalidRequestError(
            f"context must be an sl.Context, not {type(context).__name__}; "
            "e.g. context=sl.Context(run_id='r1')"
        )
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise InvalidRequestError(
            f"max_retries={max_retries!r} must be a whole number of at least 0"
        )
    if extra is not None and not isinstance(extra, dict):
        raise InvalidRequestError(f"extra must be a dict, not {type(extra).__name__}")


def cache_mode(options: dict[str, Any], enabled: bool) -> CacheMode:
    """The call's ``cache`` option (taken out of ``options``), or the default."""
    mode = options.pop("cache", None)
    if mode is None:
        return "use" if enabled else "bypass"
    if mode not in ("use", "bypass", "refresh"):
        raise InvalidRequestError(f"cache={mode!r} must be 'use', 'bypass' or 'refresh'")
    return mode  # type: ignore[no-any-return]


def loop_timeout_ms(tool_timeout_ms: float | None, options: dict[str, Any]) -> float | None:
    """A tool loop's per-tool timeout in ms; ``tool_timeout`` in seconds (taken out of
    ``options``) is the old spelling, accepted with a DeprecationWarning."""
    if "tool_timeout" not in options:
        return tool_timeout_ms
    seconds = options.pop("tool_timeout")
    return ms_from_seconds(
        seconds, "the tool loop", "tool_timeout", "tool_timeout_ms", stacklevel=3
    )
