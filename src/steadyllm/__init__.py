"""steadyllm: one dependable async interface to LLM providers.

    import steadyllm as sl

    async with sl.Client.from_env() as client:
        r = await client.chat("fake:echo", [sl.user("Hi")])
        print(r.text, r.usage.total_tokens, r.latency_ms)

Everything public is re-exported here and listed in ``__all__``; modules with
a leading underscore are private. Names are loaded on first access (PEP 562),
so ``import steadyllm`` costs a few milliseconds and a program pays only for
the parts it uses (``sl.Client`` brings in the client and its dependencies).
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._agents.loop import ToolRunResult, ToolStream
    from ._agents.tools import Tool, ToolExecution, tool
    from ._client.client import CallOptions, Client, LoopOptions
    from ._client.stream import ChatStream
    from ._client.sync import SyncClient
    from ._client.sync_streams import SyncChatStream
    from ._config.rotating import Token, TokenProvider
    from ._config.routing import ModelRef, parse_model
    from ._config.settings import Secret, Settings
    from ._core.clock import Clock, FakeClock, SystemClock
    from ._core.context import Context, context, current_context
    from ._core.counts import TokenCount
    from ._core.embeddings import Embeddings
    from ._core.errors import (
        AuthenticationError,
        BudgetExceededError,
        CircuitOpenError,
        ConfigError,
        ContentFilterError,
        ContextLengthError,
        FallbackError,
        InvalidRequestError,
        InvalidResponseError,
        LLMConnectionError,
        LLMError,
        LLMTimeoutError,
        NotFoundError,
        OverloadedError,
        PermissionDeniedError,
        ProxyError,
        QuotaExceededError,
        RateLimitError,
        ServerError,
        SharedStateError,
        StreamInterruptedError,
        StructuredOutputError,
        ToolLoopError,
    )
    from ._core.server_tools import ServerTool, UserLocation, code_execution, web_fetch, web_search
    from ._core.types import (
        CachePoint,
        Citation,
        CitationDelta,
        ContentFilterResult,
        DocumentPart,
        Done,
        ImagePart,
        LogprobsDelta,
        Message,
        PartDone,
        ReasoningDelta,
        RedactedThinkingPart,
        RefusalDelta,
        RefusalPart,
        Request,
        Response,
        ServerToolPart,
        StreamEvent,
        TextDelta,
        TextPart,
        ThinkingPart,
        TokenLogprob,
        ToolCall,
        ToolCallDelta,
        ToolSpec,
        Usage,
        Vector,
        assistant,
        cache_point,
        document,
        image,
        system,
        tool_result,
        user,
    )
    from ._flows.recorder import JSONLRecorder, Recorder, SQLiteRecorder, StepRecord
    from ._flows.step import LLMCallConfig, StepResult, TemplateError, render, run_llm_call
    from ._metering.models import ModelInfo, model_info
    from ._resilience.retry import RetryPolicy
    from .providers import (
        FakeFault,
        FakeHang,
        FakeProvider,
        FakeReply,
        Provider,
        known_providers,
        register_provider,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "._agents.loop": ("ToolRunResult", "ToolStream"),
    "._client.client": ("CallOptions", "Client", "LoopOptions"),
    "._core.clock": ("Clock", "FakeClock", "SystemClock"),
    "._config.settings": ("Secret", "Settings"),
    "._config.rotating": ("Token", "TokenProvider"),
    "._core.context": ("Context", "context", "current_context"),
    "._core.embeddings": ("Embeddings",),
    "._core.server_tools": (
        "ServerTool",
        "UserLocation",
        "code_execution",
        "web_fetch",
        "web_search",
    ),
    "._core.counts": ("TokenCount",),
    "._metering.models": ("ModelInfo", "model_info"),
    "._core.errors": (
        "AuthenticationError",
        "BudgetExceededError",
        "CircuitOpenError",
        "ConfigError",
        "ContentFilterError",
        "ContextLengthError",
        "InvalidRequestError",
        "InvalidResponseError",
        "LLMConnectionError",
        "LLMError",
        "LLMTimeoutError",
        "NotFoundError",
        "OverloadedError",
        "PermissionDeniedError",
        "ProxyError",
        "QuotaExceededError",
        "RateLimitError",
        "ServerError",
        "SharedStateError",
        "StreamInterruptedError",
        "StructuredOutputError",
        "ToolLoopError",
        "FallbackError",
    ),
    "._flows.step": ("LLMCallConfig", "StepResult", "TemplateError", "render", "run_llm_call"),
    "._flows.recorder": ("JSONLRecorder", "Recorder", "SQLiteRecorder", "StepRecord"),
    "._resilience.retry": ("RetryPolicy",),
    "._config.routing": ("ModelRef", "parse_model"),
    "._client.stream": ("ChatStream",),
    "._client.sync": ("SyncClient",),
    "._client.sync_streams": ("SyncChatStream",),
    "._agents.tools": ("Tool", "ToolExecution", "tool"),
    "._core.types": (
        "CachePoint",
        "Citation",
        "CitationDelta",
        "ContentFilterResult",
        "DocumentPart",
        "Done",
        "ImagePart",
        "LogprobsDelta",
        "Message",
        "PartDone",
        "ReasoningDelta",
        "RedactedThinkingPart",
        "RefusalDelta",
        "RefusalPart",
        "Request",
        "Response",
        "ServerToolPart",
        "StreamEvent",
        "TextDelta",
        "TextPart",
        "ThinkingPart",
        "TokenLogprob",
        "ToolCall",
        "ToolCallDelta",
        "ToolSpec",
        "Usage",
        "Vector",
        "assistant",
        "cache_point",
        "document",
        "image",
        "system",
        "tool_result",
        "user",
    ),
    ".providers": (
        "FakeFault",
        "FakeHang",
        "FakeProvider",
        "FakeReply",
        "Provider",
        "known_providers",
        "register_provider",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> _typing.Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'steadyllm' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    # clients
    "Client",
    "SyncClient",
    "ChatStream",
    "SyncChatStream",
    "CallOptions",
    "LoopOptions",
    # tools and structured output
    "Tool",
    "tool",
    "ToolExecution",
    "ToolRunResult",
    "ToolStream",
    # tools the provider runs
    "web_search",
    "web_fetch",
    "code_execution",
    "ServerTool",
    "UserLocation",
    # flows
    "LLMCallConfig",
    "run_llm_call",
    "render",
    "StepResult",
    "StepRecord",
    "Recorder",
    "SQLiteRecorder",
    "JSONLRecorder",
    "TemplateError",
    # messages and values
    "system",
    "user",
    "assistant",
    "tool_result",
    "image",
    "document",
    "cache_point",
    "Message",
    "TextPart",
    "ImagePart",
    "DocumentPart",
    "ThinkingPart",
    "RedactedThinkingPart",
    "ServerToolPart",
    "RefusalPart",
    "CachePoint",
    "Citation",
    "TokenLogprob",
    "ContentFilterResult",
    "ToolSpec",
    "ToolCall",
    "Request",
    "Response",
    "Usage",
    "Embeddings",
    "Vector",
    "TokenCount",
    "ModelInfo",
    "model_info",
    # stream events
    "StreamEvent",
    "TextDelta",
    "ReasoningDelta",
    "ToolCallDelta",
    "RefusalDelta",
    "CitationDelta",
    "LogprobsDelta",
    "PartDone",
    "Done",
    # context
    "Context",
    "context",
    "current_context",
    # configuration and routing
    "Settings",
    "Secret",
    "Token",
    "TokenProvider",
    "ModelRef",
    "parse_model",
    "RetryPolicy",
    # providers
    "Provider",
    "register_provider",
    "known_providers",
    "FakeProvider",
    "FakeReply",
    "FakeFault",
    "FakeHang",
    # time
    "Clock",
    "SystemClock",
    "FakeClock",
    # errors
    "LLMError",
    "RateLimitError",
    "QuotaExceededError",
    "LLMTimeoutError",
    "LLMConnectionError",
    "ProxyError",
    "InvalidRequestError",
    "ContextLengthError",
    "ConfigError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ContentFilterError",
    "ServerError",
    "OverloadedError",
    "CircuitOpenError",
    "BudgetExceededError",
    "SharedStateError",
    "StreamInterruptedError",
    "InvalidResponseError",
    "StructuredOutputError",
    "ToolLoopError",
    "FallbackError",
    "__version__",
]
