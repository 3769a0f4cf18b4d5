"""Circuit breakers: stop calling a model that keeps failing, probe it later.

States: closed (calls flow; failures are counted), open (calls fail fast
with ``CircuitOpenError`` until the reopen time), half-open (a bounded number
of probe calls; one success closes, one failure reopens for longer).

It opens on ``failure_threshold`` consecutive failures, or when at least
``min_calls`` calls in the rolling ``window`` failed at ``failure_rate`` or
more. The open period starts at ``reset_timeout``, doubles (``backoff``) each
time a probe fails, up to ``max_reset_timeout``, and is never shorter than a
server's ``retry_after``. Only infrastructure failures count (5xx, overload,
timeouts, connection errors, broken streams, and rate limits if
``count_rate_limits``); a caller's bad request never opens a circuit.
Decisions are pure over an injected ``now``; the client supplies the clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .._core.errors import CircuitOpenError, ConfigError, LLMError

if TYPE_CHECKING:
    from .._shared.breaker import SharedBreaker

State = Literal["closed", "open", "half_open"]
#: The failure-rate window is counted in this many slots (1/20th of the window each).
WINDOW_SLOTS = 20
_INFRASTRUCTURE = frozenset(
    {"server_error", "overloaded", "timeout", "connection", "stream_interrupted"}
)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    #: Open when this share of calls in the window failed (None: count rule only).
    failure_rate: float | None = None
    window: float = 60.0
    min_calls: int = 10
    reset_timeout: float = 60.0
    max_reset_timeout: float = 600.0
    backoff: float = 2.0
    half_open_calls: int = 1
    count_rate_limits: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.failure_threshold >= 1, "failure_threshold must be at least 1"),
            (
                self.failure_rate is None or 0.0 < self.failure_rate <= 1.0,
                "failure_rate must be in (0, 1]",
            ),
            (self.window > 0, "window must be positive"),
            (self.min_calls >= 1, "min_calls must be at least 1"),
            (self.reset_timeout > 0, "reset_timeout must be positive"),
            (
                self.max_reset_timeout >= self.reset_timeout,
                "max_reset_timeout must be >= reset_timeout",
            ),
            (self.backoff >= 1.0, "backoff must be >= 1"),
            (self.half_open_calls >= 1, "half_open_calls must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"circuit breaker: {message}")

    def counts(self, error: LLMError) -> bool:
        """Whether this failure says something about the provider's health."""
        if error.kind == "rate_limit":
            return self.count_rate_limits
        return error.kind in _INFRASTRUCTURE


@dataclass(slots=True)
class BreakerStats:
    calls: int = 0
    successes: int = 0
    failures: int = 0
    rejected: int = 0
    opened: int = 0


Listener = Callable[[str, State, State], None]


@dataclass(slots=True)
class Ticket:
    """Permission for one call; ``probe`` when it is a half-open probe."""

    breaker: CircuitBreaker | SharedBreaker
    probe: bool
    settled: bool = False
    #: Names a shared probe's lease in Redis.
    id: str = ""


class CircuitBreaker:
    def __init__(self, key: str, policy: BreakerPolicy, on_change: Listener | None = None) -> None:
        self.key = key
        self.policy = policy
        self.on_change = on_change
        self.state: State = "closed"
        self.reopen_at = 0.0
        self.stats = BreakerStats()
        self._consecutive = 0
        self._timeout = policy.reset_timeout
        self._probes = 0
        #: The failure-rate window as [slot, calls, failures] per 1/20th of the window:
        #: constant memory at any call rate (only kept when a failure_rate is set).
        self._window: deque[list[int]] = deque()

    def _move(self, new: State) -> None:
        old, self.state = self.state, new
        if old != new and self.on_change is not None:
            self.on_change(self.key, old, new)

    def allow(self, now: float) -> Ticket:
        """Admit one call or raise ``CircuitOpenError`` with the reopen time."""
        if self.state == "open" and now >= self.reopen_at:
            self._move("half_open")
            self._probes = 0
        if self.state == "closed":
            self.stats.calls += 1
            return Ticket(self, probe=False)
        if self.state == "half_open" and self._probes < self.policy.half_open_calls:
            self._probes += 1
            self.stats.calls += 1
            return Ticket(self, probe=True)
        self.stats.rejected += 1
        raise circuit_open(self.key, self.state, max(0.0, self.reopen_at - now))

    async def admit(self, now: float, lease: float) -> Ticket:
        """``allow``, with the interface the shared breaker also has."""
        return self.allow(now)

    async def record(self, ticket: Ticket, error: LLMError | None, now: float) -> None:
        """The call's verdict: a success (``error`` None) or a failure."""
        if error is None:
            self.success(ticket, now)
        else:
            self.failure(ticket, error, now)

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self.state,
            "reopen_at": self.reopen_at,
            "calls": self.stats.calls,
            "successes": self.stats.successes,
            "failures": self.stats.failures,
            "rejected": self.stats.rejected,
            "opened": self.stats.opened,
        }

    def _record(self, now: float, failed: bool) -> None:
        if self.policy.failure_rate is None:
            return
        width = self.policy.window / WINDOW_SLOTS
        slot = int(now // width)
        window = self._window
        if window and window[-1][0] == slot:
            window[-1][1] += 1
            window[-1][2] += failed
        else:
            window.append([slot, 1, int(failed)])
        while window and window[0][0] <= slot - WINDOW_SLOTS:
            window.popleft()

    def success(self, ticket: Ticket, now: float) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        self.stats.successes += 1
        self._consecutive = 0
        self._record(now, False)
        if ticket.probe:
            self._timeout = self.policy.reset_timeout
            self._window.clear()
            self._move("closed")

    def failure(self, ticket: Ticket, error: LLMError, now: float) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        if not self.policy.counts(error):
            self.release(ticket)
            return
        self.stats.failures += 1
        self._consecutive += 1
        self._record(now, True)
        if ticket.probe:
            self._timeout = min(self._timeout * self.policy.backoff, self.policy.max_reset_timeout)
            self._open(now, error)
        elif self.state == "closed" and self._tripped():
            self._open(now, error)

    def release(self, ticket: Ticket) -> None:
        """A call ended with no verdict on the provider (cancelled, or the caller's own fault)."""
        ticket.settled = True
        if ticket.probe and self.state == "half_open":
            self._probes = max(0, self._probes - 1)

    def _tripped(self) -> bool:
        if self._consecutive >= self.policy.failure_threshold:
            return True
        rate = self.policy.failure_rate
        if rate is None:
            return False
        calls = sum(entry[1] for entry in self._window)
        if calls < self.policy.min_calls:
            return False
        return sum(entry[2] for entry in self._window) / calls >= rate

    def _open(self, now: float, error: LLMError) -> None:
        hint = error.retry_after if error.retry_after and error.retry_after > 0 else 0.0
        self.reopen_at = now + max(self._timeout, hint)
        self.stats.opened += 1
        self._consecutive = 0
        self._move("open")


def circuit_open(key: str, state: str, wait: float, where: str = "") -> CircuitOpenError:
    """The error of a call the ``key`` circuit refuses (``where``: "shared through Redis")."""
    provider, _, model = key.partition(":")
    return CircuitOpenError(
        f"circuit for {key} is {state.replace('_', '-')} after repeated failures"
        f"{f' ({where})' if where else ''}; it will let a probe through in {wait:.1f}s "
        "(configure a fallback model to keep going)",
        provider=provider or None,
        model=model or None,
        retry_after=wait,
    )


#: ``make(key, policy, on_change)``: the breaker of one key.
BreakerFactory = Callable[
    [str, "BreakerPolicy", "Listener | None"], "CircuitBreaker | SharedBreaker"
]


@dataclass
class BreakerBoard:
    """One breaker per ``provider:model`` (or per provider, with ``scope="provider"``)."""

    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    scope: Literal["model", "provider"] = "model"
    on_change: Listener | None = None
    #: Builds the breaker of a key: in-process by default; the client injects the
    #: Redis-shared one (``_shared.breaker``) when state is shared.
    make: BreakerFactory = CircuitBreaker
    breakers: dict[str, CircuitBreaker | SharedBreaker] = field(default_factory=dict)

    def get(self, provider: str, model: str) -> CircuitBreaker | SharedBreaker:
        key = provider if self.scope == "provider" else f"{provider}:{model}"
        breaker = self.breakers.get(key)
        if breaker is None:
            breaker = self.breakers[key] = self.make(key, self.policy, self.on_change)
        return breaker

    def snapshot(self) -> dict[str, dict[str, object]]:
        """State and counters of every breaker, JSON-serializable."""
        return {key: b.snapshot() for key, b in self.breakers.items()}
