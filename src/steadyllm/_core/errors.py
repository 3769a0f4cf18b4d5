"""The steadyllm error tree.

Every failure a caller sees is an ``LLMError`` with structured fields (``kind``,
``retryable``, ``status``, ``provider``, ``model``, ``request_id``, ``retry_after``,
``attempt``) and one subclass per kind, so ``except`` clauses can be precise::

    LLMError
    ├── RateLimitError            rate_limit          retryable   429 rate limits
    ├── QuotaExceededError        quota_exceeded                  429/402 quota, billing
    ├── LLMTimeoutError           timeout             retryable   connect, total, first token, idle
    ├── LLMConnectionError        connection          retryable   DNS, refused, reset before headers
    │   └── ProxyError            connection          (status)    a proxy refused the tunnel
    ├── InvalidRequestError       invalid_request                 400/422, bad input caught locally
    │   ├── ContextLengthError    context_length                  prompt too long for the model
    │   └── ConfigError           configuration                   bad setting, no API key
    ├── AuthenticationError       authentication                  401
    ├── PermissionDeniedError     permission                      403
    ├── NotFoundError             not_found                       404 unknown model or resource
    ├── ContentFilterError        content_filter                  provider safety filter
    ├── ServerError               server_error        retryable   5xx
    ├── OverloadedError           overloaded          retryable   529, overloaded_error
    ├── CircuitOpenError          circuit_open                    breaker open: fail fast
    ├── BudgetExceededError       budget_exceeded                 a cost budget would be exceeded
    ├── StreamInterruptedError    stream_interrupted              a stream ended early
    ├── InvalidResponseError      invalid_response                unparseable provider reply
    │   └── StructuredOutputError invalid_response                JSON that never validated
    ├── ToolLoopError             tool_loop                       max_iterations reached
    └── FallbackError             (the last model's)              every model of a chain failed

``FallbackError`` is also an ``ExceptionGroup`` of each model's error, in the
order tried: ``except sl.LLMError`` catches it, ``except* sl.RateLimitError``
picks the models that were rate limited (as pydantic-ai's
``FallbackExceptionGroup``). A chain of one model raises that model's error.

``retryable`` is a class default that an instance may override (a 429 with
``x-should-retry: false`` is a ``RateLimitError`` that is not retryable). Errors
pickle and unpickle with every field intact, so they cross process boundaries
(multiprocessing, task queues). Messages never contain secrets: whoever builds an
error from provider text passes it through the redactor first (``_core.redact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from .usage import ContentFilterResult, content_filter_results

ErrorKind = Literal[
    "rate_limit",
    "quota_exceeded",
    "timeout",
    "connection",
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "context_length",
    "content_filter",
    "server_error",
    "overloaded",
    "circuit_open",
    "budget_exceeded",
    "stream_interrupted",
    "invalid_response",
    "configuration",
    "tool_loop",
    "shared_state",
]

_UNSET: Any = object()


class LLMError(Exception):
    """Base of every error steadyllm raises on purpose."""

    kind: ClassVar[ErrorKind] = "server_error"
    default_retryable: ClassVar[bool] = False
    #: Rate-limit budgets from the failed response's headers (a RateLimitInfo), if sent.
    rate_limit: Any = None
    #: For errors in the middle of a stream: the Response assembled from what arrived.
    partial: Any = None
    #: What the failed call cost over all its attempts (None: unpriced), and whether part
    #: of it is an estimate; set when the call is booked.
    cost_usd: float | None = 0.0
    cost_estimated: bool = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
        provider: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        attempt: int | None = None,
        body: Any = None,
    ) -> None:
        from .redact import redact, scrub

        # Masked where made: a provider may echo a key in its message, body or request
        # id (and a pickled copy, built from these fields, then holds nothing else).
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable
        self.status = status
        self.provider = provider
        self.model = model
        self.request_id = redact(request_id) if isinstance(request_id, str) else request_id
        self.retry_after = retry_after
        self.attempt = attempt  # 1-based, of the attempt that failed (set by the client)
        self.body = scrub(body) if body is not None else None

    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        details = [f"kind={self.kind}"]
        if self.status is not None:
            details.append(f"status={self.status}")
        if where:
            details.append(f"model={where}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        if self.retry_after is not None:
            details.append(f"retry_after={self.retry_after:g}s")
        if self.attempt is not None:
            details.append(f"attempt={self.attempt}")
        return f"{self.message} [{', '.join(details)}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def locate(self, provider: str, model: str, attempt: int) -> LLMError:
        """Record where the error happened and mask secrets in its message.
        The client calls this on every error leaving a call, whatever built it."""
        from .redact import redact

        self.attempt = attempt
        self.provider = self.provider or provider
        self.model = self.model or model
        self.message = redact(self.message)
        self.args = (self.message,)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable view, for logs and flow recorders."""
        return {
            "kind": self.kind,
            "message": self.message,
            "retryable": self.retryable,
            "status": self.status,
            "provider": self.provider,
            "model": self.model,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
            "attempt": self.attempt,
        }


class RateLimitError(LLMError):
    """Too many requests or tokens for now; wait (``retry_after``) and retry."""

    kind = "rate_limit"
    default_retryable = True


class QuotaExceededError(LLMError):
    """Quota, credits or a spend cap are exhausted: retrying will not help."""

    kind = "quota_exceeded"


class LLMTimeoutError(LLMError):
    """A connect, read, total, first-token or stream-idle timeout expired."""

    kind = "timeout"
    default_retryable = True


class LLMConnectionError(LLMError):
    """The server could not be reached or the connection broke before a response."""

    kind = "connection"
    default_retryable = True


class ProxyError(LLMConnectionError):
    """A proxy refused the tunnel; ``status`` is its answer (407 is not retried)."""


class InvalidRequestError(LLMError):
    """The request is malformed or has a value out of range; fix the call."""

    kind: ClassVar[ErrorKind] = "invalid_request"


class ContextLengthError(InvalidRequestError):
    """The prompt plus requested output is longer than the model's context window."""

    kind = "context_length"
    #: The provider's count was above the model's window: nothing sent, chains skip it.
    before_sending: bool = False


class ConfigError(InvalidRequestError):
    """A setting is invalid or missing (unknown provider, missing API key, bad value)."""

    kind = "configuration"


class AuthenticationError(LLMError):
    """The API key or token was rejected."""

    kind = "authentication"


class PermissionDeniedError(LLMError):
    """The key is valid but lacks access to this model or resource."""

    kind = "permission"


class NotFoundError(LLMError):
    """The model, deployment or endpoint does not exist (or is hidden from this key)."""

    kind = "not_found"


class ContentFilterError(LLMError):
    """The provider's safety filter blocked the prompt or the completion."""

    kind = "content_filter"

    @property
    def results(self) -> tuple[ContentFilterResult, ...]:
        """The filter's verdict per category, when the provider sent them (Azure)."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        error = error if isinstance(error, dict) else {}
        prompt = error.get("param") == "prompt"
        raw = error.get("content_filter_result")
        return content_filter_results(raw, "prompt" if prompt else "completion")


class ServerError(LLMError):
    """The provider failed (5xx); usually transient."""

    kind = "server_error"
    default_retryable = True


class OverloadedError(LLMError):
    """The provider is overloaded (Anthropic 529 / ``overloaded_error``)."""

    kind = "overloaded"
    default_retryable = True


class CircuitOpenError(LLMError):
    """The circuit breaker for this model is open; the call failed fast."""

    kind = "circuit_open"


class BudgetExceededError(LLMError):
    """Sending the call would exceed a cost budget."""

    kind = "budget_exceeded"


class SharedStateError(LLMError):
    """Redis, which holds the shared limiter or budgets, is unreachable and the
    feature fails closed; retried within the deadline, it never falls back."""

    kind = "shared_state"
    default_retryable = True


class StreamInterruptedError(LLMError):
    """A stream ended before it was complete; ``partial`` holds what arrived."""

    kind = "stream_interrupted"

    def __init__(self, message: str, *, partial: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        #: The partial Response assembled from the events received before the break.
        self.partial = partial


class InvalidResponseError(LLMError):
    """The provider's reply could not be understood (bad JSON, HTML from a proxy)."""

    kind = "invalid_response"


class StructuredOutputError(InvalidResponseError):
    """``chat_json`` got no valid output after its repair attempts; ``raw`` is the last
    output and ``errors`` the validation errors."""

    def __init__(self, message: str, *, raw: str = "", errors: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.raw = raw
        self.errors = errors


class ToolLoopError(LLMError):
    """The model was still calling tools after ``max_iterations``; ``result`` holds the
    run so far (every tool execution and the message history)."""

    kind = "tool_loop"

    def __init__(self, message: str, *, result: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.result = result


class FallbackError(ExceptionGroup, LLMError):
    """Every model of a fallback chain failed, or one failed in a way that does not
    fall back after others had: ``exceptions`` holds each model's error in the order
    tried. The last one decides ``kind``, ``retryable``, ``status`` and the retry
    hint; ``provider`` and ``model`` are the last model's."""

    exceptions: tuple[LLMError, ...]

    def __new__(cls, message: str, errors: Sequence[LLMError]) -> FallbackError:
        return super().__new__(cls, message, list(errors))

    def __init__(self, message: str, errors: Sequence[LLMError]) -> None:
        last = errors[-1]
        LLMError.__init__(
            self,
            message,
            retryable=last.retryable,
            status=last.status,
            provider=last.provider,
            model=last.model,
            request_id=last.request_id,
            retry_after=last.retry_after,
            attempt=last.attempt,
        )

    # ExceptionGroup's own ``message`` is read-only; LLMError sets it (and redacts it).
    @property
    def message(self) -> str:
        text: str = self.__dict__.get("_message", "")
        return text

    @message.setter
    def message(self, value: str) -> None:
        self.__dict__["_message"] = value

    @property
    def kind(self) -> ErrorKind:  # type: ignore[override]
        return self.exceptions[-1].kind

    @property
    def last(self) -> LLMError:
        """The error of the last model tried (what ended the chain)."""
        return self.exceptions[-1]

    __str__ = LLMError.__str__
    __repr__ = LLMError.__repr__

    def __reduce__(self) -> Any:
        return (FallbackError, (self.message, list(self.exceptions)), dict(self.__dict__))


ERROR_CLASSES: dict[str, type[LLMError]] = {
    cls.kind: cls
    for cls in (
        RateLimitError,
        QuotaExceededError,
        LLMTimeoutError,
        LLMConnectionError,
        InvalidRequestError,
        ContextLengthError,
        ConfigError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ContentFilterError,
        ServerError,
        OverloadedError,
        CircuitOpenError,
        BudgetExceededError,
        StreamInterruptedError,
        InvalidResponseError,
        ToolLoopError,
    )
}


def error_class(kind: str) -> type[LLMError]:
    """The subclass for ``kind``; raises ``ConfigError`` naming the known kinds."""
    try:
        return ERROR_CLASSES[kind]
    except KeyError:
        known = ", ".join(sorted(ERROR_CLASSES))
        raise ConfigError(f"unknown error kind {kind!r}; use one of: {known}") from None
