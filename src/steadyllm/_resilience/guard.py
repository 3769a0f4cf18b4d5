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

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from .._config.settings import Settings
from .._core.clock import Clock
from .._core.dispatch import Dispatch
from .._core.dispatch import current as current_dispatch
from .._core.errors import LLMError
from .._core.redact import get_logger
from .._core.sinks import SinkFailures
from .._core.types import RateLimitInfo, Request, Response, Usage
from .._metering.tokens import estimate_request_tokens, lost_attempt_usage, output_cap
from .breaker import BreakerBoard, BreakerFactory, BreakerPolicy, CircuitBreaker, State, Ticket
from .gate import Gate
from .limiter import LimiterBoard, LimiterFactory, Limits, RateLimiter, Reservation

if TYPE_CHECKING:
    from .._metering.costs import BudgetReservation
    from .._metering.meter import Ledger, Meter
    from .._shared.budgets import SharedHold

logger = get_logger("steadyllm")
T = TypeVar("T")
Listener = Callable[[str, State, State], None]


#: Failures after which the provider may have done (and billed) work it never reported.
LOST_KINDS = frozenset({"timeout", "connection", "stream_interrupted", "invalid_response"})


@dataclass(slots=True)
class Guard:
    """One admitted attempt. It is settled exactly once: ``succeed``, ``fail`` (an
    ``LLMError``) or ``abandon`` (cancelled, the deadline passed, the caller left a
    stream), and each books what the attempt cost: the usage the provider reported,
    or, when it may have reached the provider and no final usage arrived, an
    estimate that errs high (docs/resilience.md, "How each outcome is booked")."""

    provider: str
    model: str
    clock: Clock
    #: Knows the breaker (local, shared, or the shared one's local fallback) that issued it.
    ticket: Ticket
    reservation: Reservation
    #: Settles the ticket and the reservation (one Redis call with shared state).
    gate: Gate
    #: Prices the attempt's usage into the call's ledger and settles its budget hold.
    meter: Meter | None = None
    ledger: Ledger | None = None
    budget: BudgetReservation | SharedHold | None = None
    #: The request and its output cap, for the estimate of an attempt that was lost.
    request: Request | None = None
    output_cap: int = 0
    prompt_tokens: int = 0
    #: Marked by the transport once the request's bytes were written.
    dispatch: Dispatch = field(default_factory=Dispatch)
    booked: bool = False
    #: Wall-clock start, for the attempt's span.
    started_ns: int = field(default_factory=time.time_ns)

    def _span(self, outcome: str) -> None:
        """Remember the attempt for the trace: one child span of the call's span."""
        if self.ledger is not None:
            self.ledger.attempts.append(
                (self.started_ns, time.time_ns(), f"{self.provider}:{self.model}", outcome)
            )

    @property
    def settled(self) -> bool:
        return self.ticket.settled and self.reservation.settled

    def _price(self, usage: Usage, estimated: bool) -> float | None:
        """Price ``usage`` into the call's ledger (once per attempt)."""
        self.booked = True
        cost = self.meter.cost(self.provider, self.model, usage) if self.meter is not None else None
        if self.ledger is not None:
            self.ledger.add(usage, cost, estimated=estimated)
        usage.cost_usd = cost
        return cost

    def _lost_usage(self, partial: Response | None, stopped_by_us: bool) -> Usage | None:
        """The usage to book for an attempt that ended without its final usage:
        None when it provably never reached the provider."""
        if not self.dispatch.may_have_reached or self.request is None:
            return None
        return lost_attempt_usage(
            self.request,
            self.output_cap,
            partial,
            stopped_by_us=stopped_by_us,
            prompt=self.prompt_tokens or None,
        )

    async def succeed(self, response: Response) -> None:
        self._span("ok")
        used = response.usage.total_tokens
        cost = self._price(response.usage, estimated=False)
        await self._settle(None, used if used > 0 else None, response.rate_limit, cost)

    async def fail(self, error: LLMError) -> None:
        self._span(error.kind)
        partial = error.partial if isinstance(error.partial, Response) else None
        usage: Usage | None = None
        estimated = False
        if error.kind in LOST_KINDS or (partial is not None and _has_output(partial)):
            # A stall we gave up on (timeout) was stopped by us; a cut or an in-band
            # error was the provider ending the stream itself.
            usage = self._lost_usage(partial, stopped_by_us=error.kind == "timeout")
            estimated = usage is not None
        if usage is None:  # the provider answered with an error: what it reported, if anything
            usage = partial.usage if partial is not None else Usage()
        cost = self._price(usage, estimated) if usage.total_tokens else None
        if partial is not None and usage.total_tokens:
            partial.usage = usage  # spend of a broken stream is still counted
        used = usage.total_tokens if usage.total_tokens > 0 else None
        await self._settle(error, used, error.rate_limit, cost)

    async def _settle(
        self,
        error: LLMError | None,
        used: int | None,
        info: RateLimitInfo | None,
        cost: float | None,
    ) -> None:
        """Budget, breaker and limiter: with shared state their scripts leave for Redis
        together, in one round trip. The budget is settled before the first await, so
        a caller cancelled meanwhile cannot leave it to ``abandon`` at no cost."""
        written = self.budget.settle_soon(cost) if self.budget is not None else None
        now = self.clock.now()
        await self.gate.settle(self.ticket, self.reservation, error, used, info, now)
        if written is not None:
            await asyncio.shield(written)

    def abandon(self, partial: Response | None = None) -> None:
        """No verdict on the provider (cancelled, our deadline, the caller left); the
        attempt is booked at an estimate if it may have reached the provider. Stays
        synchronous so a cancelled call is never held up; Redis writes go to the
        background."""
        self._span("abandoned")
        self.ticket.breaker.release(self.ticket)
        self.reservation.limiter.release(self.reservation)
        cost: float | None = None
        if not self.booked:
            usage = self._lost_usage(partial, stopped_by_us=True)
            if usage is not None:
                cost = self._price(usage, estimated=True)
                if partial is not None:
                    partial.usage = usage
        if self.budget is not None:
            self.budget.release(cost)

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


def _has_output(partial: Response) -> bool:
    return bool(partial.text or partial.tool_calls or partial.reasoning)


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
        request: Request, default_max_tokens: int | None, prompt_tokens: int | None = None
    ) -> int:
        """Tokens to reserve: the prompt estimate plus the output cap (the same cap the
        budget assumes)."""
        prompt = estimate_request_tokens(request) if prompt_tokens is None else prompt_tokens
        return prompt + output_cap(request, default_max_tokens)[0]

    async def enter(
        self,
        request: Request,
        deadline: float,
        default_max_tokens: int | None,
        prompt_tokens: int | None = None,
        *,
        meter: Meter | None = None,
        ledger: Ledger | None = None,
        budget: BudgetReservation | SharedHold | None = None,
    ) -> Guard:
        """Admit one attempt (breaker, then limiter); the guard books it into
        ``ledger`` through ``meter`` and settles ``budget`` (the pre-flight's hold)."""
        breaker = self.breakers.get(request.provider, request.model)
        limiter = self.limiters.get(request.provider, request.model)
        cap, seen = output_cap(request, default_max_tokens)
        prompt = estimate_request_tokens(request) if prompt_tokens is None else prompt_tokens
        ticket, reservation = await self.gate.admit(
            breaker, limiter, prompt + cap, deadline, self.clock.now()
        )
        # A cap the provider never sees is not charged by it: give back what goes unused.
        reservation.refundable = not seen
        return Guard(
            request.provider,
            request.model,
            self.clock,
            ticket,
            reservation,
            self.gate,
            meter,
            ledger,
            budget,
            request=request,
            output_cap=cap,
            prompt_tokens=prompt,
        )


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
