"""One contract suite for every backend of the limiter, the breaker and the budgets:
stateful property tests (hypothesis ``RuleBasedStateMachine``) drive random
operations against the in-process object and against its Redis twin (a real
``redis-server``), and compare each with a simple reference model.

Each machine owns an event loop of its own; a rule runs its coroutines to
completion on it, and time is a ``FakeClock`` (shared scripts take their time
from it), so every example is deterministic and costs no real waiting.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import steadyllm as sl
from steadyllm._core.clock import FakeClock
from steadyllm._metering.costs import Budgets
from steadyllm._resilience.breaker import BreakerPolicy, CircuitBreaker, Ticket
from steadyllm._resilience.limiter import Limits, RateLimiter, Reservation

T = TypeVar("T")
BACKENDS = ["local", "redis"]
CONTRACT = settings(
    max_examples=int(os.environ.get("STEADYLLM_CONTRACT_EXAMPLES", "25")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


async def settled(hold: Any, cost: float | None) -> None:
    """Settle a budget hold (local or shared) at ``cost`` and wait for its write."""
    written = hold.settle_soon(cost)
    if written is not None:
        await written


def redis_url_or_skip(backend: str) -> str | None:
    if backend == "local":
        return None
    url = os.environ.get("STEADYLLM_TEST_REDIS_URL")
    if not url:
        pytest.skip("no redis-server: run the suite with `make test`, which starts one")
    return url


class LoopMachine(RuleBasedStateMachine):
    """A state machine with an event loop of its own and, for Redis, a SharedState."""

    url: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(1_000.0, auto_advance=False)
        self.shared: Any = None
        if self.url is not None:
            prefix = f"contract-{uuid.uuid4().hex[:10]}"
            self.shared = self.run(self._open_shared(prefix))

    async def _open_shared(self, prefix: str) -> Any:
        from steadyllm._shared.state import SharedState

        assert self.url is not None
        return SharedState(self.url, prefix, self.clock)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def call_then_drain(self, function: Any, *args: Any) -> None:
        """A synchronous release (it may start background Redis work), inside the loop."""
        function(*args)
        await self.drain()

    async def drain(self) -> None:
        """Let background clean-up (Redis releases) finish."""
        if self.shared is not None and self.shared._tasks:
            await asyncio.wait(set(self.shared._tasks))

    def teardown(self) -> None:
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self.run(asyncio.wait(tasks))
        for task in tasks:  # retrieved: refusals past a deadline are expected outcomes
            if not task.cancelled():
                task.exception()
        if self.shared is not None:
            self.run(self.shared.aclose())
        self.loop.close()


# ------------------------------------------------------------------ budgets


@dataclass
class Hold:
    hold: Any
    amount: float


class BudgetMachine(LoopMachine):
    """spent + reserved never passes the limit, under any interleaving of success,
    failure, cancellation, timeout and abandoned streams (costs never exceed what was
    reserved: the reservation is the worst case)."""

    LIMIT = 1.0
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.local = Budgets(global_usd=self.LIMIT)
        self.book: Any = self.local
        if self.shared is not None:
            from steadyllm._shared.budgets import SharedBudgets

            self.book = SharedBudgets(self.shared, self.local)
        self.spent = 0.0
        self.reserved = 0.0

    async def _reserve(self, amount: float) -> Any:
        if self.shared is None:
            return self.local.reserve(amount, None, provider="p", model="m")
        return await self.book.reserve(amount, None, provider="p", model="m", hold_for=60.0)

    @rule(target=holds, amount=st.floats(0.01, 0.6))
    def reserve(self, amount: float) -> Any:
        after = self.spent + self.reserved + amount
        borderline = abs(after - self.LIMIT) < 1e-6  # float sums may round either way
        try:
            hold = self.run(self._reserve(amount))
        except sl.BudgetExceededError:
            assert after > self.LIMIT or borderline, "refused a call that fits"
            return Hold(None, 0.0)
        assert after <= self.LIMIT or borderline, "admitted a call past the limit"
        self.reserved += amount
        return Hold(hold, amount)

    def _settled(self, h: Hold, cost: float) -> None:
        self.reserved -= h.amount
        self.spent += cost

    @rule(h=consumes(holds), share=st.floats(0.0, 1.0))
    def succeed(self, h: Hold, share: float) -> None:
        if h.hold is None:
            return
        self.run(settled(h.hold, h.amount * share))
        self._settled(h, h.amount * share)

    @rule(h=consumes(holds))
    def fail_without_usage(self, h: Hold) -> None:
        if h.hold is None:
            return
        self.run(settled(h.hold, None))
        self._settled(h, 0.0)

    @rule(h=consumes(holds), share=st.one_of(st.none(), st.floats(0.0, 1.0)))
    def cancel_timeout_or_abandon(self, h: Hold, share: float | None) -> None:
        """Cancelled, timed out or an abandoned stream: booked at an estimate (share of
        the worst case) if it may have reached the provider, else nothing."""
        if h.hold is None:
            return
        cost = None if share is None else h.amount * share
        self.run(self.call_then_drain(h.hold.release, cost))
        self._settled(h, cost or 0.0)

    @rule(h=consumes(holds), share=st.floats(0.0, 1.0))
    def settle_twice(self, h: Hold, share: float) -> None:
        """A retried settlement counts once."""
        if h.hold is None:
            return
        self.run(settled(h.hold, h.amount * share))
        self.run(settled(h.hold, h.amount))
        self.run(self.call_then_drain(h.hold.release, h.amount))
        self._settled(h, h.amount * share)

    @invariant()
    def never_past_the_limit(self) -> None:
        if self.shared is None:
            state = self.local.snapshot().get("global")
        else:
            state = self.run(self.book.read()).get("global")
        if state is None:
            assert self.spent == 0 and self.reserved == 0
            return
        assert state["spent"] + state["reserved"] <= self.LIMIT + 1e-9
        assert state["spent"] == pytest.approx(self.spent, abs=1e-9)
        assert state["reserved"] == pytest.approx(self.reserved, abs=1e-9)
        assert state["reserved"] >= -1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_contract(backend: str) -> None:
    url = redis_url_or_skip(backend)
    machine = type("Budget_" + backend, (BudgetMachine,), {"url": url})
    run_state_machine_as_test(machine, settings=CONTRACT)


# ------------------------------------------------------------------ breaker


@dataclass
class Model:
    """The reference breaker: consecutive-failure rule, bounded probes, doubling reset."""

    policy: BreakerPolicy
    state: str = "closed"
    consecutive: int = 0
    timeout: float = 0.0
    reopen_at: float = 0.0
    probes: int = 0

    def __post_init__(self) -> None:
        self.timeout = self.policy.reset_timeout

    def admit(self, now: float) -> str:
        if self.state == "open" and now >= self.reopen_at:
            self.state, self.probes = "half_open", 0
        if self.state == "closed":
            return "call"
        if self.state == "half_open" and self.probes < self.policy.half_open_calls:
            self.probes += 1
            return "probe"
        return "refused"

    def success(self, probe: bool) -> None:
        self.consecutive = 0
        if probe:
            self.timeout = self.policy.reset_timeout
            self.state = "closed"

    def failure(self, probe: bool, now: float) -> None:
        self.consecutive += 1
        if probe:
            self.timeout = min(self.timeout * self.policy.backoff, self.policy.max_reset_timeout)
            self._open(now)
        elif self.state == "closed" and self.consecutive >= self.policy.failure_threshold:
            self._open(now)

    def release(self, probe: bool) -> None:
        if probe and self.state == "half_open":
            self.probes = max(0, self.probes - 1)

    def _open(self, now: float) -> None:
        self.state, self.reopen_at, self.consecutive = "open", now + self.timeout, 0


@dataclass
class Admitted:
    ticket: Ticket | None
    probe: bool = False
    done: bool = field(default=False)


class BreakerMachine(LoopMachine):
    """The breaker follows the reference model through any sequence of admissions,
    successes, counted and neutral failures, releases and waits."""

    POLICY = BreakerPolicy(
        failure_threshold=3, reset_timeout=10.0, max_reset_timeout=40.0, half_open_calls=2
    )
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model(self.POLICY)
        self.breaker: Any = CircuitBreaker("fake:m", self.POLICY)
        if self.shared is not None:
            from steadyllm._shared.breaker import SharedBreaker

            self.breaker = SharedBreaker(self.shared, "fake:m", self.POLICY, None)

    @rule(seconds=st.sampled_from([0.0, 0.5, 5.0, 10.0, 25.0, 50.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(target=tickets)
    def admit(self) -> Admitted:
        now = self.clock.now()
        expected = self.model.admit(now)
        try:
            ticket = self.run(self.breaker.admit(now, 1e6))  # leases that never expire
        except sl.CircuitOpenError:
            assert expected == "refused"
            return Admitted(None)
        assert expected == ("probe" if ticket.probe else "call"), (expected, ticket.probe)
        return Admitted(ticket, ticket.probe)

    @rule(a=consumes(tickets), outcome=st.sampled_from(["ok", "fail", "neutral", "release"]))
    def settle(self, a: Admitted, outcome: str) -> None:
        if a.ticket is None:
            return
        now = self.clock.now()
        if outcome == "ok":
            self.run(self.breaker.record(a.ticket, None, now))
            self.model.success(a.probe)
        elif outcome == "fail":
            self.run(self.breaker.record(a.ticket, sl.ServerError("500"), now))
            self.model.failure(a.probe, now)
        elif outcome == "neutral":  # the caller's own fault: no verdict on the provider
            self.run(self.breaker.record(a.ticket, sl.InvalidRequestError("bad"), now))
            self.model.release(a.probe)
        else:  # cancelled
            self.run(self.call_then_drain(self.breaker.release, a.ticket))
            self.model.release(a.probe)

    async def _stored_state(self) -> Any:
        redis = await self.shared.client()
        return await redis.hget(self.shared.key("breaker", "fake:m"), "state")

    @invariant()
    def same_state_as_the_model(self) -> None:
        if self.shared is None:
            state = self.breaker.state
        else:
            raw = self.run(self._stored_state())
            state = raw.decode() if raw else "closed"
        assert state == self.model.state


@pytest.mark.parametrize("backend", BACKENDS)
def test_breaker_contract(backend: str) -> None:
    url = redis_url_or_skip(backend)
    machine = type("Breaker_" + backend, (BreakerMachine,), {"url": url})
    run_state_machine_as_test(machine, settings=CONTRACT)


# ------------------------------------------------------------------ limiter


@dataclass
class Arrival:
    index: int
    tokens: int
    task: asyncio.Task[Reservation | None]
    granted_at: float | None = None
    grant_seq: int | None = None


class LimiterMachine(LoopMachine):
    """The limiter never grants more than its capacity plus rate x time in any
    window, and grants in arrival order, under random arrivals, cancellations,
    deadlines and the passing of time."""

    TPM = 600  # 10 tokens a second, 600 at once

    def __init__(self) -> None:
        super().__init__()
        limits = Limits(tpm=self.TPM, margin=0.0)
        self.limiter: Any = RateLimiter("fake:m", limits, self.clock)
        if self.shared is not None:
            from steadyllm._shared.limiter import SharedLimiter

            self.limiter = SharedLimiter(self.shared, "fake:m", limits, self.clock)
        self.arrivals: list[Arrival] = []
        self.seq = 0
        self.start = self.clock.now()

    async def _acquire(
        self, arrival_index: int, tokens: int, patience: float | None
    ) -> Reservation | None:
        deadline = None if patience is None else self.clock.now() + patience
        try:
            reservation: Reservation = await self.limiter.acquire(tokens, deadline)
        except sl.RateLimitError:  # it could not be served within its deadline: refused
            return None
        arrival = self.arrivals[arrival_index]
        arrival.granted_at, arrival.grant_seq = self.clock.now(), self.seq
        self.seq += 1
        return reservation

    async def _settle(self) -> None:
        """Run until every task is done or waits on the fake clock (Redis I/O included)."""
        for _ in range(5000):
            for _ in range(20):
                await asyncio.sleep(0)
            waiting = sum(not a.task.done() for a in self.arrivals)
            timers = sum(seq not in self.clock._cancelled for _, seq, _ in self.clock._timers)
            if self.shared is None or waiting <= timers:
                return
            await asyncio.sleep(0.001)  # a script is on its way to or from Redis
        raise AssertionError("the limiter never settled")

    async def _tick(self, seconds: float) -> None:
        """Move time one timer at a time, settling after each: virtual time stands
        still while a woken caller talks to Redis."""
        target = self.clock.now() + seconds
        while (due := self.clock._next_timer()) is not None and due <= target:
            self.clock.advance(due - self.clock.now())
            await self._settle()
        self.clock.advance(target - self.clock.now())
        await self._settle()

    @rule(
        tokens=st.integers(1, 600),
        patience=st.one_of(st.none(), st.floats(0.0, 120.0)),
    )
    def arrive(self, tokens: int, patience: float | None) -> None:
        index = len(self.arrivals)
        task = self.loop.create_task(self._acquire(index, tokens, patience))
        self.arrivals.append(Arrival(index, tokens, task))
        self.run(self._settle())

    @rule(seconds=st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    def wait(self, seconds: float) -> None:
        self.run(self._tick(seconds))

    @precondition(lambda self: any(not a.task.done() for a in self.arrivals))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        waiting = [a for a in self.arrivals if not a.task.done()]
        victim = data.draw(st.sampled_from(waiting))
        victim.task.cancel()
        self.run(self._settle())
        self.run(self.drain())

    def _granted(self) -> list[Arrival]:
        return [a for a in self.arrivals if a.grant_seq is not None]

    @invariant()
    def within_capacity_plus_rate_in_every_window(self) -> None:
        granted = sorted(self._granted(), key=lambda a: (a.granted_at, a.grant_seq))
        rate = self.TPM / 60.0
        for i, first in enumerate(granted):
            total = 0
            for later in granted[i:]:
                total += later.tokens
                assert first.granted_at is not None and later.granted_at is not None
                span = later.granted_at - first.granted_at
                assert total <= self.TPM + rate * span + 1e-6, (total, span)

    @invariant()
    def granted_in_arrival_order(self) -> None:
        granted = sorted(self._granted(), key=lambda a: a.index)
        times = [a.granted_at for a in granted]
        assert times == sorted(times)  # type: ignore[type-var]
        if self.shared is None:  # in one process the order is exact, also within an instant
            seqs = [a.grant_seq for a in granted]
            assert seqs == sorted(seqs)  # type: ignore[type-var]


@pytest.mark.parametrize("backend", BACKENDS)
def test_limiter_contract(backend: str) -> None:
    url = redis_url_or_skip(backend)
    machine = type("Limiter_" + backend, (LimiterMachine,), {"url": url})
    run_state_machine_as_test(machine, settings=CONTRACT)
