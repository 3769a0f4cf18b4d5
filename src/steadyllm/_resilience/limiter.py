"""A rate limiter that paces instead of rejecting.

Token buckets (requests and tokens, per minute and per day, any combination)
refill continuously, the way providers count. A call reserves one request and
its estimated tokens before it is sent; callers that do not fit wait in
arrival order (FIFO, unlike aiolimiter's smallest-first heap). Only the head
of the queue waits on the clock, exactly until the buckets can serve it, and
is woken early when capacity changes; the others wait for their turn. A
cancelled waiter leaves the queue and hands the turn on. A request bigger
than a bucket can ever hold fails at once, and so does one whose predicted
wait is longer than its deadline.

The limiter learns: it adopts the provider's limits and remaining counts from
``x-ratelimit-*`` / ``anthropic-ratelimit-*`` headers (so it works with no
configured limits at all), and a 429 pauses the whole key until the server's
``retry_after`` so that concurrent callers do not turn one 429 into a storm.
After a call, the reservation is corrected with the real token usage: more
is charged when the call used more than reserved; unused tokens are returned
only with ``refund_unused`` (providers charge ``max_tokens`` up front).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from .._core.clock import Clock, sleep_until
from .._core.errors import ConfigError, InvalidRequestError, LLMError, RateLimitError
from .._core.types import RateLimitInfo

if TYPE_CHECKING:
    from .._shared.limiter import SharedLimiter

_MINUTE, _DAY = 60.0, 86_400.0
#: Waits shorter than this count as "ready": below a microsecond, float rounding of
#: ``now + wait`` can leave the clock where it was and the head would spin.
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Limits:
    """Requests and tokens per minute and per day; ``None`` means no limit."""

    rpm: int | None = None
    tpm: int | None = None
    rpd: int | None = None
    tpd: int | None = None
    refund_unused: bool = False
    #: Seconds of refill kept in reserve. We count a call when we grant it, the provider
    #: when it arrives; if grant-to-arrival times vary (network jitter, calls queued for
    #: a pooled connection in a burst) a fast call could arrive before its budget has
    #: refilled on the provider's side. The reserve must cover that spread; it costs
    #: nothing in the long run (the rate is unchanged): only the first burst is
    #: ``rate * margin`` smaller (1 s is 1/60 of a per-minute limit).
    margin: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin <= 60.0:
            raise ConfigError(f"rate limit margin={self.margin!r} must be between 0 and 60 seconds")
        for name in ("rpm", "tpm", "rpd", "tpd"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(
                    f"rate limit {name}={value!r} must be a whole number of at least 1"
                )


class _Bucket:
    __slots__ = ("capacity", "kind", "learned", "level", "period", "rate", "updated")

    def __init__(
        self, kind: str, capacity: float, period: float, now: float, learned: bool = False
    ) -> None:
        self.kind = kind  # "requests" or "tokens"
        self.capacity = capacity
        self.period = period
        self.rate = capacity / period
        self.level = capacity
        self.updated = now
        self.learned = learned

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing / self.rate


@dataclass(slots=True)
class LimiterStats:
    granted: int = 0
    waited: int = 0
    total_wait: float = 0.0
    max_wait: float = 0.0
    refused: int = 0
    backoffs: int = 0
    max_queue: int = 0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class _Waiter:
    __slots__ = ("tokens", "turn")

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.turn = asyncio.Event()


@dataclass(slots=True)
class Reservation:
    """One granted call's share of a limiter, settled once when the call ends."""

    limiter: RateLimiter | SharedLimiter
    tokens: int
    settled: bool = False
    #: Part of ``tokens`` is an output cap the provider never saw (it counts only what
    #: it generates), so unused tokens go back even without RATE_LIMIT_REFUND_UNUSED.
    refundable: bool = False


class RateLimiter:
    def __init__(self, key: str, limits: Limits | None, clock: Clock) -> None:
        self.key = key
        self.clock = clock
        self.limits = limits or Limits()
        now = clock.now()
        self._buckets: dict[tuple[str, float], _Bucket] = {}
        for kind, period, value in (
            ("requests", _MINUTE, self.limits.rpm),
            ("tokens", _MINUTE, self.limits.tpm),
            ("requests", _DAY, self.limits.rpd),
            ("tokens", _DAY, self.limits.tpd),
        ):
            if value is not None:
                self._buckets[(kind, period)] = _Bucket(kind, float(value), period, now)
        self._queue: deque[_Waiter] = deque()
        self._kick = asyncio.Event()
        self.blocked_until = 0.0
        self.stats = LimiterStats()

    # ------------------------------------------------------------ queries

    def _cost(self, bucket: _Bucket, tokens: int) -> float:
        return 1.0 if bucket.kind == "requests" else float(tokens)

    def _wait_now(self, tokens: int, now: float, ahead: int = 0, ahead_requests: int = 0) -> float:
        wait = max(0.0, self.blocked_until - now)
        margin = self.limits.margin
        for bucket in self._buckets.values():
            bucket.refill(now)
            cost = self._cost(bucket, tokens)
            reserve = min(bucket.rate * margin, bucket.capacity - cost)
            extra = ahead_requests if bucket.kind == "requests" else ahead
            wait = max(wait, bucket.wait_for(cost + extra + reserve))
        return wait

    def predicted_wait(self, tokens: int) -> float:
        """Seconds a call of ``tokens`` would wait if it arrived now (behind the queue)."""
        ahead = sum(w.tokens for w in self._queue)
        return self._wait_now(tokens, self.clock.now(), ahead, len(self._queue))

    def check_fits(self, tokens: int) -> None:
        for bucket in self._buckets.values():
            if self._cost(bucket, tokens) > bucket.capacity:
                self.stats.refused += 1
                per = "minute" if bucket.period == _MINUTE else "day"
                raise InvalidRequestError(
                    f"this call needs about {tokens} tokens but the limit for {self.key} is "
                    f"{int(bucket.capacity)} {bucket.kind} per {per}: it can never be sent; "
                    "shorten the prompt or lower max_tokens",
                )

    # ------------------------------------------------------------ acquiring

    async def acquire(self, tokens: int, deadline: float | None = None) -> Reservation:
        """Wait for capacity (FIFO) and reserve one request and ``tokens``."""
        self.check_fits(tokens)
        now = self.clock.now()
        if not self._queue and self._wait_now(tokens, now) <= _EPSILON:
            self._take(tokens, now)
            return Reservation(self, tokens)
        predicted = self.predicted_wait(tokens)
        if deadline is not None and now + predicted > deadline:
            self.stats.refused += 1
            raise RateLimitError(
                f"rate limit for {self.key}: this call would wait {predicted:.2f}s for capacity "
                f"but its deadline is {max(0.0, deadline - now):.2f}s away",
                retryable=True,
                retry_after=predicted,
            )
        waiter = _Waiter(tokens)
        self._queue.append(waiter)
        self.stats.max_queue = max(self.stats.max_queue, len(self._queue))
        started = now
        try:
            if self._queue[0] is not waiter:
                await waiter.turn.wait()
            while True:
                now = self.clock.now()
                wait = self._wait_now(tokens, now)
                if wait <= _EPSILON:
                    break
                self._kick.clear()
                await sleep_until(self.clock, now + wait, self._kick)
            self._take(tokens, now)
        finally:
            head = bool(self._queue) and self._queue[0] is waiter
            with contextlib.suppress(ValueError):  # removed exactly once
                self._queue.remove(waiter)
            if head and self._queue:
                self._queue[0].turn.set()
        waited = now - started
        self.stats.waited += 1
        self.stats.total_wait += waited
        self.stats.max_wait = max(self.stats.max_wait, waited)
        return Reservation(self, tokens)

    def _take(self, tokens: int, now: float) -> None:
        for bucket in self._buckets.values():
            bucket.refill(now)
            bucket.level -= self._cost(bucket, tokens)
        self.stats.granted += 1

    # ------------------------------------------------------------ learning

    def _wake(self) -> None:
        self._kick.set()

    def adjust_tokens(self, delta: int, refund: bool = False) -> None:
        """Charge ``delta`` more tokens (or refund, if allowed and negative)."""
        if delta < 0 and not (refund or self.limits.refund_unused):
            return
        now = self.clock.now()
        for bucket in self._buckets.values():
            if bucket.kind == "tokens":
                bucket.refill(now)
                bucket.level = min(bucket.capacity, bucket.level - delta)
        if delta < 0:
            self._wake()

    def reconcile(self, reservation: Reservation, actual_tokens: int | None) -> None:
        """Correct a reservation with the tokens the call really used (once)."""
        if reservation.settled:
            return
        reservation.settled = True
        if actual_tokens is not None:
            self.adjust_tokens(actual_tokens - reservation.tokens, reservation.refundable)

    async def settle(
        self,
        reservation: Reservation,
        used: int | None,
        info: RateLimitInfo | None,
        rate_limited: LLMError | None = None,
    ) -> None:
        """The call ended: learn from its headers (pause on a 429), reconcile its usage."""
        if rate_limited is not None:
            self.on_rate_limited(rate_limited)
        else:
            self.adopt(info)
        self.reconcile(reservation, used)

    def release(self, reservation: Reservation) -> None:
        """The call was abandoned: no usage known, nothing learned."""
        self.reconcile(reservation, None)

    def adopt(self, info: RateLimitInfo | None) -> None:
        """Take the provider's word: its limits, and remaining counts lower than ours."""
        if info is None:
            return
        now = self.clock.now()
        for kind, limit, remaining in (
            ("requests", info.requests_limit, info.requests_remaining),
            ("tokens", info.tokens_limit, info.tokens_remaining),
        ):
            bucket = self._buckets.get((kind, _MINUTE))
            if limit is not None and limit > 0:
                if bucket is None:
                    bucket = _Bucket(kind, float(limit), _MINUTE, now, learned=True)
                    bucket.level = float(remaining) if remaining is not None else bucket.level
                    self._buckets[(kind, _MINUTE)] = bucket
                elif limit < bucket.capacity or bucket.learned:
                    bucket.refill(now)
                    bucket.capacity, bucket.rate = float(limit), limit / _MINUTE
                    bucket.level = min(bucket.level, bucket.capacity)
            if bucket is not None and remaining is not None and remaining >= 0:
                bucket.refill(now)
                bucket.level = min(bucket.level, float(remaining))

    def on_rate_limited(self, error: LLMError) -> None:
        """A 429 arrived: hold every caller of this key until the server's hint."""
        now = self.clock.now()
        pause = error.retry_after if error.retry_after and error.retry_after > 0 else 1.0
        if math.isfinite(pause):
            self.blocked_until = max(self.blocked_until, now + pause)
        self.stats.backoffs += 1
        self.adopt(error.rate_limit)

    def snapshot(self) -> dict[str, object]:
        now = self.clock.now()
        buckets = {}
        for (kind, period), bucket in self._buckets.items():
            bucket.refill(now)
            per = "minute" if period == _MINUTE else "day"
            buckets[f"{kind}_per_{per}"] = {
                "limit": bucket.capacity,
                "available": bucket.level,
                "learned": bucket.learned,
            }
        return {
            "queue": len(self._queue),
            "blocked_for": max(0.0, self.blocked_until - now),
            "buckets": buckets,
            **self.stats.to_dict(),
        }


#: ``make(key, limits, clock)``: the limiter of one key.
LimiterFactory = Callable[[str, "Limits | None", Clock], "RateLimiter | SharedLimiter"]


@dataclass
class LimiterBoard:
    """One limiter per ``provider:model`` (or per provider: one API key's limits)."""

    clock: Clock
    default: Limits | None = None
    per_key: dict[str, Limits] = field(default_factory=dict)
    scope: Literal["model", "provider"] = "model"
    #: Builds the limiter of a key: in-process by default; the client injects the
    #: Redis-shared one (``_shared.limiter``) when state is shared.
    make: LimiterFactory = RateLimiter
    limiters: dict[str, RateLimiter | SharedLimiter] = field(default_factory=dict)

    def get(self, provider: str, model: str) -> RateLimiter | SharedLimiter:
        key = provider if self.scope == "provider" else f"{provider}:{model}"
        limiter = self.limiters.get(key)
        if limiter is None:
            limits = self.per_key.get(key) or self.per_key.get(provider) or self.default
            limiter = self.limiters[key] = self.make(key, limits, self.clock)
        return limiter

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {key: limiter.snapshot() for key, limiter in self.limiters.items()}
