"""steadyllm: one dependable async interface to LLM providers.

    import steadyllm as sl

    async with sl.Client.from_env() as client:
        r = await client.chat("fake:echo", [sl.user("Hi")])
        print(r.text, r.usage.total_tokens, r.latency_ms)

Everything public is re-exported here and listed in ``__all__``; modules with
a leading underscore are private.
"""

from ._agentic import ToolRunResult, ToolStream
from ._client import CallOptions, Client, LoopOptions
from ._clock import Clock, FakeClock, SystemClock
from ._config import Secret, Settings
from ._context import Context, context, current_context
from ._errors import (
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    InvalidResponseError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    SharedStateError,
    StreamInterruptedError,
    StructuredOutputError,
    ToolLoopError,
)
from ._flows import LLMCallConfig, StepResult, TemplateError, render, run_llm_call
from ._recorder import JSONLRecorder, Recorder, SQLiteRecorder, StepRecord
from ._retry import RetryPolicy
from ._routing import ModelRef, parse_model
from ._settings_table import SETTINGS
from ._stream import ChatStream
from ._sync import SyncChatStream, SyncClient
from ._tools import Tool, ToolExecution, tool
from ._types import (
    Done,
    ImagePart,
    Message,
    ReasoningDelta,
    Request,
    Response,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
    assistant,
    image,
    system,
    tool_result,
    user,
)
from ._version import __version__
from .providers import (
    FakeFault,
    FakeHang,
    FakeProvider,
    FakeReply,
    Provider,
    known_providers,
    register_provider,
)

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
    "Message",
    "TextPart",
    "ImagePart",
    "ToolSpec",
    "ToolCall",
    "Request",
    "Response",
    "Usage",
    # stream events
    "StreamEvent",
    "TextDelta",
    "ReasoningDelta",
    "ToolCallDelta",
    "Done",
    # context
    "Context",
    "context",
    "current_context",
    # configuration and routing
    "Settings",
    "Secret",
    "SETTINGS",
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
    "__version__",
]
