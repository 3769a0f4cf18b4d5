"""The gate an attempt passes: its circuit breaker, then its rate limiter.

``Gate`` admits and settles in turn, on whatever breaker and limiter the boards
hold. With shared state the client injects the Redis twin
(``_shared/attempt.py``), which does each of the two steps in one script call
instead of one per feature, with the same rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.errors import LLMError
from .._core.types import RateLimitInfo
from .breaker import CircuitBreaker, Ticket
from .limiter import RateLimiter, Reservation

if TYPE_CHECKING:
    from .._shared.breaker import SharedBreaker
    from .._shared.limiter import SharedLimiter


def rate_limited(error: LLMError | None) -> LLMError | None:
    """The error when it is a 429 (it pauses the limiter's whole key)."""
    return error if error is not None and error.kind == "rate_limit" else None


class Gate:
    async def admit(
        self,
        breaker: CircuitBreaker | SharedBreaker,
        limiter: RateLimiter | SharedLimiter,
        tokens: int,
        deadline: float,
        now: float,
    ) -> tuple[Ticket, Reservation]:
        """The breaker's ticket (or ``CircuitOpenError``), then the limiter's
        reservation of one request and ``tokens`` (waiting, never past ``deadline``);
        a refused reservation hands the ticket back."""
        ticket = await breaker.admit(now, deadline - now)
        try:
            reservation = await limiter.acquire(tokens, deadline)
        except BaseException:
            ticket.breaker.release(ticket)
            raise
        return ticket, reservation

    async def settle(
        self,
        ticket: Ticket,
        reservation: Reservation,
        error: LLMError | None,
        used: int | None,
        info: RateLimitInfo | None,
        now: float,
    ) -> None:
        """The attempt's verdict to its breaker (``error`` None: success), its real
        token use (None: unknown) and the provider's rate-limit headers to its limiter."""
        await ticket.breaker.record(ticket, error, now)
        await reservation.limiter.settle(reservation, used, info, rate_limited(error))
