"""The per-attempt guard (circuit breaker plus rate limiter) and the fallback rule.

Each attempt: the model's breaker admits it (or fails fast), then the
limiter reserves capacity (waiting in line if needed, never past the
deadline), then the provider is called. The ``Guard`` returned by ``enter``
settles both when the attempt ends: success (breaker closes or stays closed,
the limiter learns from the headers and reconciles real usage), failure
(counted by the breaker if it is an infrastructure failure; a 429 pauses the
limiter for the whole key), or abandonment (cancelled: no verdict).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ._breaker import BreakerBoard, BreakerPolicy, State, Ticket
from ._clock import Clock
from ._config import Settings
from ._errors import LLMError
from ._limiter import LimiterBoard, Limits, Reservation
from ._redact import get_logger
from ._tokens import estimate_prompt_tokens
from ._types import Request, Response, Usage

if TYPE_CHECKING:
    from ._costs import BudgetReservation
    from ._metering import Ledger, Meter
    from ._shared import SharedState
    from ._shared_budgets import SharedHold

logger = get_logger("steadyllm")
T = TypeVar("T")
Listener = Callable[[str, State, State], None]


@dataclass(slots=True)
class Guard:
    provider: str
    model: str
    clock: Clock
    #: Knows the breaker (local, shared, or the shared one's local fallback) that issued it.
    ticket: Ticket
    reservation: Reservation
    #: Set by the client: prices the attempt's usage into the call's ledger and budgets.
    meter: Meter | None = None
    ledger: Ledger | None = None
    budget: BudgetReservation | SharedHold | None = None

    @property
    def settled(self) -> bool:
        return self.ticket.settled and self.reservation.settled

    async def _account(self, usage: Usage) -> float | None:
        cost = self.meter.cost(self.provider, self.model, usage) if self.meter is not None else None
        if self.ledger is not None:
            self.ledger.add(usage, cost)
        if self.budget is not None:
            await self.budget.finish(cost)
        return cost

    async def succeed(self, response: Response) -> None:
        await self.ticket.breaker.record(self.ticket, None, self.clock.now())
        used = response.usage.total_tokens
        await self.reservation.limiter.settle(
            self.reservation, used if used > 0 else None, response.rate_limit
        )
        response.usage.cost_usd = await self._account(response.usage)

    async def fail(self, error: LLMError) -> None:
        await self.ticket.breaker.record(self.ticket, error, self.clock.now())
        partial = error.partial
        usage = partial.usage if isinstance(partial, Response) else Usage()
        await self.reservation.limiter.settle(
            self.reservation,
            usage.total_tokens if usage.total_tokens > 0 else None,
            error.rate_limit,
            error if error.kind == "rate_limit" else None,
        )
        cost = await self._account(usage)
        if isinstance(partial, Response) and usage.total_tokens:
            partial.usage.cost_usd = cost  # spend of a broken stream is still counted

    def abandon(self) -> None:
        self.ticket.breaker.release(self.ticket)
        self.reservation.limiter.release(self.reservation)
        if self.budget is not None:
            self.budget.release()

    async def run(self, call: Awaitable[T]) -> T:
        """Await ``call``; a failure settles the guard (an LLMError as a verdict,
        anything else, cancellation included, as no verdict) and propagates."""
        try:
            return await call
        except LLMError as error:
            await self.fail(error)
            raise
        except BaseException:
            self.abandon()
            raise


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
        shared: SharedState | None = None,
    ) -> None:
        self.clock = clock
        self._listener = on_circuit_change
        self.breakers = BreakerBoard(
            breaker or breaker_policy(settings),
            scope="provider" if settings.circuit_breaker_scope == "provider" else "model",
            on_change=self._changed,
            shared=shared,
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
            shared=shared,
        )

    def _changed(self, key: str, old: State, new: State) -> None:
        level = logger.warning if new == "open" else logger.info
        level("circuit %s: %s -> %s", key, old, new)
        if self._listener is not None:
            self._listener(key, old, new)

    @staticmethod
    def estimate(request: Request, default_max_tokens: int | None) -> int:
        """Tokens to reserve: the prompt estimate plus the output cap the provider will see."""
        return estimate_prompt_tokens(request.messages) + (
            request.max_tokens or default_max_tokens or 0
        )

    async def enter(
        self, request: Request, deadline: float, default_max_tokens: int | None
    ) -> Guard:
        breaker = self.breakers.get(request.provider, request.model)
        now = self.clock.now()
        ticket = await breaker.admit(now, deadline - now)
        limiter = self.limiters.get(request.provider, request.model)
        try:
            reservation = await limiter.acquire(
                self.estimate(request, default_max_tokens), deadline
            )
        except BaseException:
            ticket.breaker.release(ticket)
            raise
        return Guard(request.provider, request.model, self.clock, ticket, reservation)


def falls_back(error: LLMError, settings: Settings) -> bool:
    """Whether a failed model should hand the call to the next one in its chain."""
    if error.kind in ("circuit_open", "quota_exceeded"):
        return True
    if error.kind == "shared_state":
        return False  # Redis is down for every model alike
    if error.kind == "context_length":
        return settings.fallback_on_context_length
    if error.kind == "content_filter":
        return settings.fallback_on_content_filter
    return error.retryable  # retries exhausted, or a wait longer than the deadline allows
