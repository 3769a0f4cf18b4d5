"""The per-attempt guard (circuit breaker plus rate limiter) and the fallback rule.

Each attempt: the model's breaker admits it (or fails fast), then the
limiter reserves capacity (waiting in line if needed, never past the
deadline), then the provider is called. The ``Guard`` returned by ``enter``
settles both when the attempt ends: success (breaker closes or stays closed,
the limiter learns from the headers and reconciles real usage), failure
(counted by the breaker if it is an infrastructure failure; a 429 pauses the
limiter for the whole key), or abandonment (cancelled: no verdict). What the
attempt cost is its book's to price (``_metering/attempt.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .._config.settings import Settings
from .._core.clock import Clock
from .._core.dispatch import Dispatch
from .._core.dispatch import current as current_dispatch
from .._core.errors import LLMError
from .._core.redact import get_logger
from .._core.sinks import SinkFailures
from .._core.types import RateLimitInfo, Request, Response
from .._metering.attempt import AttemptBook
from .breaker import BreakerBoard, BreakerFactory, BreakerPolicy, CircuitBreaker, State, Ticket
from .gate import Gate
from .limiter import LimiterBoard, LimiterFactory, Limits, RateLimiter, Reservation

logger = get_logger("steadyllm")
T = TypeVar("T")
Listener = Callable[[str, State, State], None]


@dataclass(slots=True)
class Guard:
    """One admitted attempt. It is settled exactly once: ``succeed``, ``fail`` (an
    ``LLMError``) or ``abandon`` (cancelled, the deadline passed, the caller left a
    stream): the verdict goes to the breaker and the limiter through the gate, and
    the attempt's cost to its book (``_metering/attempt.py``), which prices it."""

    #: Knows the breaker (local, shared, or the shared one's local fallback) that issued it.
    ticket: Ticket
    reservation: Reservation
    #: Settles the ticket and the reservation (one Redis call with shared state).
    gate: Gate
    clock: Clock
    book: AttemptBook

    @property
    def dispatch(self) -> Dispatch:
        return self.book.dispatch

    @property
    def settled(self) -> bool:
        return self.ticket.settled and self.reservation.settled

    async def succeed(self, response: Response) -> None:
        # The book first: a shared budget's write then leaves in the gate's round
        # trip, and a caller cancelled meanwhile cannot leave it to ``abandon`` at $0.
        written = self.book.succeeded(response)
        used = response.usage.total_tokens
        await self._settle(None, used if used > 0 else None, response.rate_limit, written)

    async def fail(self, error: LLMError) -> None:
        usage, written = self.book.failed(error)
        used = usage.total_tokens if usage.total_tokens > 0 else None
        await self._settle(error, used, error.rate_limit, written)

    async def _settle(
        self,
        error: LLMError | None,
        used: int | None,
        info: RateLimitInfo | None,
        written: Awaitable[None] | None,
    ) -> None:
        now = self.clock.now()
        await self.gate.settle(self.ticket, self.reservation, error, used, info, now)
        if written is not None:
            await asyncio.shield(written)

    def abandon(self, partial: Response | None = None) -> None:
        """No verdict on the provider; the book estimates what it may have cost. Stays
        synchronous so a cancelled call is never held up; Redis writes go to the
        background."""
        self.ticket.breaker.release(self.ticket)
        self.reservation.limiter.release(self.reservation)
        self.book.abandoned(partial)

    async def run(self, call: Awaitable[T]) -> T:
        """Await ``call`` as this attempt (the transport marks the dispatch); a failure
        settles the guard (an LLMError as a verdict, anything else, cancellation
        included, as no verdict) and propagates."""
        token = current_dispatch.set(self.dispatch)
        try:
            return await call
        except LLMError as error:
            await self.fail(error)
            raise
        except BaseException:
            self.abandon()
            raise
        finally:
            current_dispatch.reset(token)


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(
        failure_threshold=settings.circuit_breaker_failure_threshold,
        failure_rate=settings.circuit_breaker_failure_rate,
        window=settings.circuit_breaker_window_ms / 1000.0,
        min_calls=settings.circuit_breaker_min_calls,
        reset_timeout=settings.circuit_breaker_reset_timeout_ms / 1000.0,
        max_reset_timeout=max(
            settings.circuit_breaker_max_reset_timeout_ms, settings.circuit_breaker_reset_timeout_ms
        )
        / 1000.0,
        half_open_calls=settings.circuit_breaker_half_open_calls,
        count_rate_limits=settings.circuit_breaker_count_rate_limits,
    )


def default_limits(settings: Settings) -> Limits:
    values = (
        settings.rate_limit_per_minute,
        settings.tokens_per_minute,
        settings.requests_per_day,
        settings.tokens_per_day,
    )
    return Limits(
        *values,
        refund_unused=settings.rate_limit_refund_unused,
        margin=settings.rate_limit_margin_ms / 1000.0,
    )


class Resilience:
    """The breakers and limiters of one client."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        breaker: BreakerPolicy | None = None,
        on_circuit_change: Listener | None = None,
        breakers: BreakerFactory = CircuitBreaker,
        limiters: LimiterFactory = RateLimiter,
        gate: Gate | None = None,
        sinks: SinkFailures | None = None,
    ) -> None:
        """``breakers`` and ``limiters`` build each key's breaker and limiter, and
        ``gate`` admits and settles an attempt through them: in-process by default,
        the Redis-shared ones when the client injects them."""
        self.clock = clock
        self.gate = gate if gate is not None else Gate()
        self._listener = on_circuit_change
        self.sinks = sinks if sinks is not None else SinkFailures()
        self.breakers = BreakerBoard(
            breaker or breaker_policy(settings),
            scope="provider" if settings.circuit_breaker_scope == "provider" else "model",
            on_change=self._changed,
            make=breakers,
        )
        per_key = {
            key: Limits(
                **values,
                refund_unused=settings.rate_limit_refund_unused,
                margin=settings.rate_limit_margin_ms / 1000.0,
            )
            for key, values in settings.limits.items()
        }
        self.limiters = LimiterBoard(
            clock,
            default_limits(settings),
            per_key,
            scope="provider" if settings.rate_limit_scope == "provider" else "model",
            make=limiters,
        )

    def _changed(self, key: str, old: State, new: State) -> None:
        level = logger.warning if new == "open" else logger.info
        level("circuit %s: %s -> %s", key, old, new)
        if self._listener is not None:
            self.sinks.call("the on_circuit_change hook", self._listener, key, old, new)

    @staticmethod
    def estimate(
        request: Request,
        default_max_tokens: int | None,
        prompt_tokens: int | None = None,
        model_cap: int | None = None,
    ) -> int:
        """Tokens to reserve: the prompt estimate plus the output cap (the same cap the
        budget assumes)."""
        return AttemptBook.of(
            request, default_max_tokens, prompt_tokens, model_cap=model_cap
        ).tokens

    async def enter(self, book: AttemptBook, deadline: float) -> Guard:
        """Admit one attempt at ``book.request`` (breaker, then limiter, for the
        book's tokens); the guard settles both and hands the outcome to the book."""
        request = book.request
        breaker = self.breakers.get(request.provider, request.model)
        limiter = self.limiters.get(request.provider, request.model)
        ticket, reservation = await self.gate.admit(
            breaker, limiter, book.tokens, deadline, self.clock.now()
        )
        # A cap the provider never sees is not charged by it: give back what goes unused.
        reservation.refundable = not book.cap_sent
        return Guard(ticket, reservation, self.gate, self.clock, book)


def falls_back(error: LLMError, settings: Settings) -> bool:
    """Whether a failed model should hand the call to the next one in its chain."""
    if error.kind in ("circuit_open", "quota_exceeded"):
        return True
    if error.kind == "shared_state":
        return False  # Redis is down for every model alike
    if error.kind == "context_length":
        return settings.fallback_on_context_length or bool(getattr(error, "before_sending", 0))
    if error.kind == "content_filter":
        return settings.fallback_on_content_filter
    return error.retryable  # retries exhausted, or a wait longer than the deadline allows
