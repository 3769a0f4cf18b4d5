"""The shared limiter, breaker, budgets and cost counters against a real redis-server.

Two clients with the same prefix stand for two processes (each has its own
connection pool and local state; only Redis joins them). A FakeClock drives
the scripts' notion of time, so every wait is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import RateLimitInfo
from steadyllm._metering.attempt import AttemptBook
from steadyllm._resilience.limiter import RateLimiter
from steadyllm._shared.breaker import SharedBreaker
from steadyllm._shared.budgets import SharedHold
from steadyllm._shared.limiter import SharedLimiter
from steadyllm._shared.state import SharedState

from .conftest import RedisServer, spawn

PRICES = {"fake:m": {"input": 10.0, "output": 10.0}}  # $0.00001 per token


def settings(url: str, prefix: str, **extra: Any) -> sl.Settings:
    # A generous Redis timeout: 200 calls at once under coverage, beside another busy
    # process, can keep the loop from reading a reply within the default 1 s; the tests
    # of a timeout set their own.
    base: dict[str, Any] = {"rate_limit_margin_ms": 0, "max_retries": 0, "redis_timeout_ms": 10_000}
    return sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        redis_url=url,
        redis_prefix=prefix,
        **{**base, **extra},
    )


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


Pair = tuple[sl.Client, sl.Client]


@pytest.fixture
async def make_pair(redis_url: str, prefix: str) -> AsyncIterator[Callable[..., Pair]]:
    """Two clients sharing one prefix: two processes, as far as Redis can tell."""
    made: list[sl.Client] = []

    def make(clock: sl.FakeClock, *providers: sl.FakeProvider, **extra: Any) -> Pair:
        for index in range(2):
            fake = providers[index] if index < len(providers) else sl.FakeProvider()
            made.append(
                sl.Client(
                    settings(extra.pop("url", redis_url), prefix, **extra),
                    providers={"fake": fake},
                    clock=clock,
                )
            )
        return made[-2], made[-1]

    yield make
    for client in made:
        await client.aclose()


def shared_limiter(client: sl.Client, model: str = "m") -> SharedLimiter:
    limiter = client.resilience.limiters.get("fake", model)
    assert isinstance(limiter, SharedLimiter)
    return limiter


def shared_of(client: sl.Client) -> SharedState:
    assert client.shared is not None
    return client.shared


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run (Redis replies arrive on it) until ``condition`` holds."""
    for _ in range(5_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


# ------------------------------------------------------------------ limiter


async def test_two_processes_share_one_limit_and_are_served_in_arrival_order(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    a, b = make_pair(clock, rate_limit_per_minute=60)
    la, lb = shared_limiter(a), shared_limiter(b)
    for _ in range(60):  # the bucket starts full: 60 at once, from either process
        await la.acquire(1)
    assert clock.sleeps == []
    assert await lb.predicted_wait(1) == pytest.approx(1.0)
    waiters = []
    for limiter in (lb, la, lb):  # one request per second from here, in arrival order
        waiters.append(asyncio.create_task(limiter.acquire(1)))
        await until(lambda: len(clock.sleeps) == len(waiters))
    assert clock.sleeps == pytest.approx([1.0, 2.0, 3.0])
    await clock.tick(2.5)
    # each woken waiter asks Redis once more (a 429 pause?): a real round trip
    await until(lambda: waiters[0].done() and waiters[1].done())
    assert not waiters[2].done()  # its slot, at 3.0, is still to come
    await clock.tick(0.5)
    await asyncio.gather(*waiters)
    assert la.stats.granted == 61 and lb.stats.granted == 2 and lb.stats.waited == 2


async def test_a_wait_past_the_deadline_is_refused_and_charges_nothing(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    a, b = make_pair(clock, rate_limit_per_minute=60)
    la, lb = shared_limiter(a), shared_limiter(b)
    for _ in range(60):
        await la.acquire(1)
    with pytest.raises(sl.RateLimitError, match=r"would wait 1\.00s") as refused:
        await lb.acquire(1, deadline=clock.now() + 0.5)
    assert refused.value.retryable and refused.value.retry_after == pytest.approx(1.0)
    assert await la.predicted_wait(1) == pytest.approx(1.0)  # nothing was taken
    assert lb.stats.refused == 1


async def test_usage_is_reconciled_and_headers_are_learned_for_every_process(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    a, b = make_pair(clock, tokens_per_minute=1_000)
    la, lb = shared_limiter(a), shared_limiter(b)
    reservation = await la.acquire(100)
    await la.settle(reservation, 400, None)  # used more than reserved: charged
    await la.settle(reservation, 900, None)  # settles once
    assert await lb.predicted_wait(600) == 0.0
    assert await lb.predicted_wait(700) == pytest.approx(100 / (1_000 / 60))
    # The server says the limit is lower (500) and 50 remain: both processes adopt it.
    other = await lb.acquire(10)
    await lb.settle(other, None, RateLimitInfo(tokens_limit=500, tokens_remaining=50))
    assert await la.predicted_wait(100) == pytest.approx(50 / (500 / 60))
    with pytest.raises(sl.InvalidRequestError, match="can never be sent"):
        await la.acquire(600)
    # A learned limit needs no configuration at all.
    c, d = make_pair(clock)
    lc, ld = shared_limiter(c, "n"), shared_limiter(d, "n")
    first = await lc.acquire(5)
    await lc.settle(first, 5, RateLimitInfo(requests_limit=2, requests_remaining=0))
    assert await ld.predicted_wait(1) == pytest.approx(30.0)


async def test_a_429_in_one_process_pauses_the_key_for_all(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    a, b = make_pair(clock, rate_limit_per_minute=600)
    la, lb = shared_limiter(a), shared_limiter(b)
    reservation = await la.acquire(1)
    await la.settle(reservation, None, None, sl.RateLimitError("429", retry_after=5.0))
    assert await lb.predicted_wait(1) == pytest.approx(5.0)
    assert la.stats.backoffs == 1
    # A caller already sleeping for its slot re-reads the pause when it wakes.
    c, d = make_pair(clock, rate_limit_per_minute=60)
    lc, ld = shared_limiter(c, "n"), shared_limiter(d, "n")  # another key: not paused
    held = [await lc.acquire(1) for _ in range(60)]
    sleeper = asyncio.create_task(ld.acquire(1))
    await until(lambda: len(clock.sleeps) == 1)  # d sleeps 1 s for its slot
    await lc.settle(held[0], None, None, sl.RateLimitError("429", retry_after=10.0))
    await clock.tick(1.0)
    await until(lambda: len(clock.sleeps) == 2)
    assert not sleeper.done() and clock.sleeps[-1] == pytest.approx(9.0)
    await clock.tick(9.0)
    await sleeper


async def test_a_cancelled_waiter_gives_its_reservation_back(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    a, b = make_pair(clock, rate_limit_per_minute=60)
    la, lb = shared_limiter(a), shared_limiter(b)
    for _ in range(60):
        await la.acquire(1)
    waiter = asyncio.create_task(lb.acquire(1))
    await until(lambda: len(clock.sleeps) == 1)
    assert await la.predicted_wait(1) == pytest.approx(2.0)  # behind the waiter
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait(shared_of(b)._tasks)
    assert await la.predicted_wait(1) == pytest.approx(1.0)  # its slot came back


async def test_through_the_client_calls_are_paced_across_processes(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(clock, rate_limit_per_minute=2, timeout_ms=60_000)
    await a.chat("fake:m", [sl.user("one")])
    await b.chat("fake:m", [sl.user("two")])
    start = clock.now()
    await b.chat("fake:m", [sl.user("three")])
    assert clock.now() - start == pytest.approx(30.0)  # b waited for a's share to refill
    assert await a.predicted_wait("fake:m", [sl.user("x")]) == pytest.approx(30.0)
    snapshot = a.resilience.limiters.snapshot()["fake:m"]
    assert snapshot["shared"] is True and snapshot["granted"] == 1


# ------------------------------------------------------------------ breaker


async def test_failures_in_one_process_open_the_circuit_for_all(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    failing = sl.FakeProvider(script=[sl.FakeFault("server_error", times=3)])
    healthy = sl.FakeProvider()
    changes: list[tuple[str, str, str]] = []
    a, b = make_pair(clock, failing, healthy, circuit_breaker_failure_threshold=3)
    for client in (a, b):
        for breaker in [client.resilience.breakers.get("fake", "m")]:
            breaker.on_change = lambda *change: changes.append(change)
    for _ in range(3):
        with pytest.raises(sl.ServerError):
            await a.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.CircuitOpenError, match="shared through Redis") as rejected:
        await b.chat("fake:m", [sl.user("x")])
    assert rejected.value.retry_after == pytest.approx(60.0)
    assert healthy.requests == []  # b never called the provider
    assert changes == [("fake:m", "closed", "open")]  # seen by the process that tripped it
    clock.advance(60.0)
    assert (await b.chat("fake:m", [sl.user("probe")])).text == "probe"  # b's probe closes it
    assert changes[1:] == [("fake:m", "open", "half_open"), ("fake:m", "half_open", "closed")]
    assert (await a.chat("fake:m", [sl.user("again")])).text == "again"
    snap = a.resilience.breakers.snapshot()["fake:m"]
    assert snap["shared"] is True and snap["failures"] == 3 and snap["opened"] == 1


async def test_a_probe_lease_outlives_a_dead_process_only_until_it_expires(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(clock, circuit_breaker_failure_threshold=1)
    ba, bb = a.resilience.breakers.get("fake", "m"), b.resilience.breakers.get("fake", "m")
    assert isinstance(ba, SharedBreaker) and isinstance(bb, SharedBreaker)
    ticket = await ba.admit(clock.now(), 10.0)
    await ba.record(ticket, sl.ServerError("boom"), clock.now())
    clock.advance(60.0)
    probe = await ba.admit(clock.now(), 10.0)  # a takes the probe ... and "dies"
    assert probe.probe
    with pytest.raises(sl.CircuitOpenError):
        await bb.admit(clock.now(), 10.0)  # one probe at a time
    clock.advance(10.5)
    taken = await bb.admit(clock.now(), 10.0)
    assert taken.probe  # the dead probe's lease expired
    with pytest.raises(sl.CircuitOpenError):
        await ba.admit(clock.now(), 10.0)
    bb.release(taken)  # a cancelled probe hands its lease back at once
    await asyncio.wait(shared_of(b)._tasks)
    assert (await ba.admit(clock.now(), 10.0)).probe


async def test_the_failure_rate_is_counted_across_processes(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    failing = sl.FakeProvider(script=[sl.FakeFault("server_error", times=2)])
    a, b = make_pair(
        clock,
        sl.FakeProvider(),
        failing,
        circuit_breaker_failure_threshold=100,
        circuit_breaker_failure_rate=0.5,
        circuit_breaker_min_calls=4,
    )
    await a.chat("fake:m", [sl.user("ok")])
    await a.chat("fake:m", [sl.user("ok")])
    with pytest.raises(sl.ServerError):
        await b.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.ServerError):  # 2 of 4 failed: the rate is reached
        await b.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.CircuitOpenError):
        await a.chat("fake:m", [sl.user("x")])


async def test_the_shared_failure_window_has_bounded_memory(
    make_pair: Callable[..., Pair],
) -> None:
    from steadyllm._resilience.breaker import WINDOW_SLOTS

    clock = sl.FakeClock(1_000.0)
    a, _ = make_pair(
        clock,
        sl.FakeProvider([sl.FakeReply("ok")] * 600),
        circuit_breaker_failure_rate=0.5,
        circuit_breaker_min_calls=10,
        circuit_breaker_window_ms=10_000,
    )
    for _ in range(600):  # 600 calls over 30 s of a 10 s window
        await a.chat("fake:m", [sl.user("ok")])
        clock.advance(0.05)
    shared = shared_of(a)
    keys = [k.decode() async for k in shared.redis.scan_iter(match=f"{shared.prefix}:*")]
    slots = [k for k in keys if k.endswith(":slots")]
    assert len(slots) == 1, keys
    fields = await shared.redis.hgetall(slots[0])
    # At most one calls and one failures counter per slot of the window (plus the
    # slot being filled), whatever the number of calls; all successes here.
    assert 0 < len(fields) <= 2 * (WINDOW_SLOTS + 1)
    # ...and they count the calls of the last window (10 s at 20 calls/s), not all 600.
    assert 190 <= sum(int(v) for v in fields.values()) <= 210


# ------------------------------------------------------------------ budgets


async def test_two_processes_never_overshoot_a_shared_budget(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    expensive = {"fake:m": {"input": 1_000.0, "output": 1_000.0}}  # $0.001 per token
    a, b = make_pair(clock, budget_usd=0.5, prices=expensive)
    calls = [
        client.chat("fake:m", [sl.user("hello")], max_tokens=10)
        for client in (a, b)
        for _ in range(100)
    ]
    results = await asyncio.gather(*await spawn(calls), return_exceptions=True)
    served = [r for r in results if isinstance(r, sl.Response)]
    refused = [r for r in results if isinstance(r, sl.BudgetExceededError)]
    others = [r for r in results if not isinstance(r, (sl.Response, sl.BudgetExceededError))]
    assert len(served) + len(refused) == 200 and served and refused, others[:3]
    assert "global budget of $0.5000 (shared through Redis)" in str(refused[0])
    assert a.meter.shared_budgets is not None
    state = (await a.meter.shared_budgets.read())["global"]
    spent = sum(r.usage.cost_usd or 0.0 for r in served)
    assert state["spent"] == pytest.approx(spent) and state["reserved"] == pytest.approx(0.0)
    assert spent <= 0.5 + 1e-9
    assert len(served) >= 0.5 // 0.016  # every call whose worst case fitted was sent
    assert a.meter.budgets.snapshot() == {}  # nothing was reserved locally


async def test_settling_is_idempotent_and_abandoned_holds_expire(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(clock, budget_usd=1.0, prices=PRICES)
    book_a, book_b = a.meter.shared_budgets, b.meter.shared_budgets
    assert book_a is not None and book_b is not None
    hold = await book_a.reserve(0.3, None, provider="fake", model="m", hold_for=5.0)
    assert isinstance(hold, SharedHold)
    await book_a.settle(hold, 0.1)
    await book_a.settle(hold, 0.1)  # a retried settle counts once
    assert (await book_a.read())["global"] == {
        "limit": 1.0,
        "spent": 0.1,
        "reserved": 0.0,
        "estimated": 0.0,
    }
    dead = await book_a.reserve(0.8, None, provider="fake", model="m", hold_for=5.0)
    assert dead is not None
    with pytest.raises(sl.BudgetExceededError):  # 0.1 spent + 0.8 held + 0.2 > 1.0
        await book_b.reserve(0.2, None, provider="fake", model="m", hold_for=5.0)
    clock.advance(5.0 + 600.0 + 1.0)  # past the dead process's deadline and grace
    assert await book_b.reserve(0.2, None, provider="fake", model="m", hold_for=5.0)
    await book_a.settle(dead, 0.05)  # a late settle of the expired hold: spend still counts
    await book_a.settle(dead, 0.05)
    state = (await book_a.read())["global"]
    assert state["spent"] == pytest.approx(0.15) and state["reserved"] == pytest.approx(0.2)


# ------------------------------------------------------------------ cost counters


async def test_fleet_costs_add_up_every_process(make_pair: Callable[..., Pair]) -> None:
    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(clock, prices=PRICES)
    with sl.context(agent="writer", run_id="r1"):
        ra = await a.chat("fake:m", [sl.user("one")])
    rb = await b.chat("fake:m", [sl.user("two")])
    assert b.meter.shared_costs is not None
    await b.meter.shared_costs.flush()  # b's counters are written in the background
    fleet = await a.fleet_costs()
    assert fleet["total"]["calls"] == 2
    assert fleet["total"]["cost_usd"] == pytest.approx(
        (ra.usage.cost_usd or 0) + (rb.usage.cost_usd or 0)
    )
    assert fleet["by_agent"]["writer"]["calls"] == 1 and fleet["by_agent"]["(none)"]["calls"] == 1
    assert (
        fleet["by_model"]["fake:m"]["total_tokens"] == ra.usage.total_tokens + rb.usage.total_tokens
    )
    assert await b.fleet_costs() == await a.fleet_costs()  # flushing again adds nothing


def test_fleet_costs_need_redis() -> None:
    with pytest.raises(sl.ConfigError, match="STEADYLLM_REDIS_URL"):
        asyncio.run(sl.Client(sl.Settings.load(env={}, dotenv=False)).fleet_costs())


# ------------------------------------------------------------------ outages


async def test_limiter_and_budgets_fail_closed_by_default_and_recover(
    own_redis: RedisServer, make_pair: Callable[..., Pair], caplog: pytest.LogCaptureFixture
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, _ = make_pair(
        clock, url=own_redis.url, rate_limit_per_minute=600, budget_usd=1.0, prices=PRICES
    )
    await a.chat("fake:m", [sl.user("before")])
    assert (await a.fleet_costs())["total"]["calls"] == 1  # written (fleet_costs flushes)
    await asyncio.to_thread(own_redis.stop)  # waiting for redis-server to exit: off the loop
    with pytest.raises(sl.SharedStateError, match="REDIS_BUDGETS_ON_FAILURE=open") as refused:
        await a.chat("fake:m", [sl.user("down")])
    assert refused.value.retryable and refused.value.kind == "shared_state"
    with caplog.at_level(logging.WARNING, logger="steadyllm"), pytest.raises(sl.SharedStateError):
        await a.chat("fake:m", [sl.user("down")])
    shared = shared_of(a)
    assert shared.failures["budgets"] >= 2 and "budgets" in shared.down
    assert caplog.text.count("cannot be used for the shared budgets") == 1  # once per outage
    own_redis.start()
    reply = await a.chat("fake:m", [sl.user("after")])
    assert a.meter.shared_costs is not None and await a.meter.shared_costs.flush()
    assert reply.text == "after" and shared.down == set()
    # The server restarted empty (no persistence): the two refused calls, queued while
    # it was down, count too, and the one after.
    assert (await a.fleet_costs())["total"]["calls"] == 3
    assert shared.snapshot()["limiter_on_failure"] == "closed"


async def test_fail_open_uses_local_state_and_loses_no_spend(
    own_redis: RedisServer, make_pair: Callable[..., Pair]
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(
        clock,
        url=own_redis.url,
        rate_limit_per_minute=600,
        budget_usd=1.0,
        prices=PRICES,
        redis_limiter_on_failure="open",
        redis_budgets_on_failure="open",
        circuit_breaker_failure_threshold=1,
    )
    await asyncio.to_thread(own_redis.stop)  # waiting for redis-server to exit: off the loop
    reply = await a.chat("fake:m", [sl.user("while down")])
    assert reply.text == "while down" and (reply.usage.cost_usd or 0) > 0
    shared = shared_of(a)
    assert {"limiter", "budgets", "breaker"} <= set(shared.failures)
    assert (
        isinstance(shared_limiter(a).local, RateLimiter)
        and shared_limiter(a).local.stats.granted == 1
    )
    assert a.meter.budgets.snapshot()["global"]["spent"] == pytest.approx(reply.usage.cost_usd)
    book = a.meter.shared_budgets
    assert book is not None and len(book.pending) == 1  # queued for Redis
    own_redis.start()
    assert await book.flush() and book.pending == []
    assert (await book.read())["global"]["spent"] == pytest.approx(reply.usage.cost_usd)
    fleet = await b.fleet_costs()  # a's counters are still queued ...
    assert fleet["total"]["calls"] == 0
    assert (await a.fleet_costs())["total"]["calls"] == 1  # ... until a writes them


@pytest.mark.usefixtures("brief_close_grace")
async def test_the_breaker_falls_back_to_local_state_when_redis_is_down(
    own_redis: RedisServer, make_pair: Callable[..., Pair]
) -> None:
    clock = sl.FakeClock(1_000.0)
    failing = sl.FakeProvider(script=[sl.FakeFault("server_error", times=2)])
    a, _ = make_pair(
        clock,
        failing,
        url=own_redis.url,
        circuit_breaker_failure_threshold=2,
        redis_limiter_on_failure="open",
    )
    await asyncio.to_thread(own_redis.stop)  # waiting for redis-server to exit: off the loop
    for _ in range(2):
        with pytest.raises(sl.ServerError):
            await a.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.CircuitOpenError, match="is open after"):  # the local breaker's words
        await a.chat("fake:m", [sl.user("x")])
    assert shared_of(a).failures["breaker"] >= 3


async def test_a_stream_is_paced_and_charged_through_redis(
    make_pair: Callable[..., Pair],
) -> None:
    clock = sl.FakeClock(1_000.0)
    expensive = {"fake:m": {"input": 1_000.0, "output": 1_000.0}}
    a, b = make_pair(clock, rate_limit_per_minute=60, budget_usd=1.0, prices=expensive)
    async with a.stream("fake:m", [sl.user("streamed words")], max_tokens=20) as stream:
        text = "".join([e.text async for e in stream if isinstance(e, sl.TextDelta)])
    assert text == "streamed words" and stream.response is not None
    cost = stream.response.usage.cost_usd
    assert cost is not None and cost > 0
    assert b.meter.shared_budgets is not None
    state = (await b.meter.shared_budgets.read())["global"]
    assert state == {
        "limit": 1.0,
        "spent": pytest.approx(cost),
        "reserved": 0.0,
        "estimated": 0.0,
    }
    assert await b.predicted_wait("fake:m", [sl.user("x")]) == 0.0
    assert shared_limiter(a).stats.granted == 1


async def test_costs_cli_reads_the_fleet_and_the_shared_budgets(
    redis_url: str,
    prefix: str,
    make_pair: Callable[..., Pair],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from steadyllm._cli.main import main

    a, b = make_pair(sl.FakeClock(1_000.0), budget_usd=2.0, prices=PRICES)
    with sl.context(agent="writer"):
        await a.chat("fake:m", [sl.user("one")])
    await b.chat("fake:m", [sl.user("two")])
    for client in (a, b):
        assert client.meter.shared_costs is not None
        await client.meter.shared_costs.flush()
    monkeypatch.setenv("STEADYLLM_REDIS_URL", redis_url)
    monkeypatch.setenv("STEADYLLM_REDIS_PREFIX", prefix)
    assert await asyncio.to_thread(main, ["costs", "--fleet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["calls"] == 2 and report["by_agent"]["writer"]["calls"] == 1
    assert report["budgets"]["global"]["limit"] == 2.0
    assert report["budgets"]["global"]["spent"] == pytest.approx(report["total"]["cost_usd"])
    assert await asyncio.to_thread(main, ["costs", "--fleet"]) == 0
    table = capsys.readouterr().out
    assert "shared budgets" in table and "fake:m" in table
    assert await asyncio.to_thread(main, ["costs", "x.jsonl", "--fleet"]) == 2  # not both
    assert "not both" in capsys.readouterr().err


async def test_a_counter_batch_resent_after_a_lost_reply_counts_once(
    make_pair: Callable[..., Pair],
) -> None:
    a, b = make_pair(sl.FakeClock(1_000.0), prices=PRICES)
    for _ in range(3):
        await a.chat("fake:m", [sl.user("x")])
    costs = a.meter.shared_costs
    assert costs is not None and costs.pending > 0
    from steadyllm._shared.costs import _counters

    sealed = ("batch-1", _counters(costs._open))  # what a writer would seal
    costs._open.clear()
    costs._sealed = sealed
    assert await costs.flush() and costs.pending == 0
    costs._sealed = sealed  # the reply was lost: the same batch is sent again
    assert await costs.flush()
    assert (await b.fleet_costs())["total"]["calls"] == 3


async def test_a_ticket_from_the_local_fallback_is_settled_locally(
    own_redis: RedisServer, make_pair: Callable[..., Pair]
) -> None:
    clock = sl.FakeClock(1_000.0)
    a, _ = make_pair(clock, url=own_redis.url, circuit_breaker_failure_threshold=1)
    breaker = a.resilience.breakers.get("fake", "m")
    assert isinstance(breaker, SharedBreaker)
    await asyncio.to_thread(own_redis.stop)  # waiting for redis-server to exit: off the loop
    request = a._plan("fake:m", [sl.user("x")]).request
    guard = await a.resilience.enter(
        AttemptBook.of(request, None), clock.now() + 30.0
    )  # Redis down
    assert guard.ticket.breaker is breaker.local
    own_redis.start()
    await guard.fail(sl.ServerError("boom"))  # Redis is back by the verdict
    assert breaker.local.state == "open"  # the verdict went where the ticket came from
    assert (await breaker.admit(clock.now(), 10.0)).breaker is breaker  # Redis state untouched
    clock.advance(61.0)
    probe = await a.resilience.enter(AttemptBook.of(request, None), clock.now() + 30.0)
    assert probe.ticket.breaker is breaker  # Redis answers again: a shared ticket
    local_probe = await breaker.local.admit(clock.now(), 10.0)
    assert local_probe.probe
    guard.ticket = local_probe
    guard.abandon()  # a cancelled call hands the lease back to the breaker that gave it
    assert local_probe.settled and breaker.local._probes == 0


async def test_reading_fleet_figures_while_redis_is_down_is_a_clear_error(
    own_redis: RedisServer, make_pair: Callable[..., Pair]
) -> None:
    a, _ = make_pair(sl.FakeClock(1_000.0), url=own_redis.url, budget_usd=1.0, prices=PRICES)
    await asyncio.to_thread(own_redis.stop)  # waiting for redis-server to exit: off the loop
    with pytest.raises(sl.SharedStateError, match="shared costs in Redis cannot be read"):
        await a.fleet_costs()
    assert a.meter.shared_budgets is not None
    with pytest.raises(sl.SharedStateError, match="shared budgets in Redis cannot be read"):
        await a.meter.shared_budgets.read()
    assert shared_of(a).failures["costs"] >= 1 and shared_of(a).failures["budgets"] == 1


async def test_a_run_budget_expires_a_week_after_its_last_call(
    redis_url: str, prefix: str, make_pair: Callable[..., Pair]
) -> None:
    import redis.asyncio as redis_asyncio

    a, _ = make_pair(sl.FakeClock(1_000.0), budget_usd=1.0, budget_per_run_usd=0.5, prices=PRICES)
    with sl.context(run_id="r-42"):
        await a.chat("fake:m", [sl.user("x")], max_tokens=5)
    direct = redis_asyncio.from_url(redis_url)
    try:
        run_ttl = await direct.pttl(f"{prefix}:budget:run r-42")
        global_ttl = await direct.pttl(f"{prefix}:budget:global")
    finally:
        await direct.aclose()
    assert 6 * 86_400_000 < run_ttl <= 7 * 86_400_000
    assert global_ttl == -1  # the global budget is kept
    assert a.meter.shared_budgets is not None
    assert set(await a.meter.shared_budgets.read()) == {"global", "run r-42"}


# ------------------------------------------------------------------ any redis error (issue 13)


async def _configure(url: str, *commands: list[str]) -> None:
    import redis.asyncio as redis_asyncio

    admin = redis_asyncio.from_url(url)
    try:
        for command in commands:
            await admin.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        await admin.aclose()


@pytest.mark.parametrize("trouble", ["oom", "noperm", "readonly"])
@pytest.mark.usefixtures("brief_close_grace")
async def test_any_redis_error_is_a_shared_state_error_under_the_policy(
    own_redis: RedisServer, prefix: str, trouble: str
) -> None:
    url = own_redis.url
    if trouble == "oom":  # maxmemory with noeviction: every write answers OOM
        await _configure(url, ["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        await _configure(url, ["CONFIG", "SET", "maxmemory", "1"])
        expected = "OutOfMemoryError"
    elif trouble == "noperm":  # an ACL user that may not run scripts
        await _configure(
            url,
            [
                "ACL",
                "SETUSER",
                "limited",
                "on",
                ">pw-LEAKCHECK1",
                "~*",
                "+@all",
                "-evalsha",
                "-eval",
            ],
        )
        url = f"redis://limited:pw-LEAKCHECK1@127.0.0.1:{own_redis.port}/0"
        expected = "NoPermissionError"
    else:  # a replica: writes answer READONLY (the primary is a port nobody listens on)
        await _configure(url, ["REPLICAOF", "127.0.0.1", "9"])
        expected = "ReadOnlyError"
    clock = sl.FakeClock()
    fake = sl.FakeProvider([sl.FakeReply("ok")] * 4)
    closed = sl.Client(
        settings(url, prefix, budget_usd=1.0, prices=PRICES), providers={"fake": fake}, clock=clock
    )
    try:
        with pytest.raises(sl.SharedStateError) as info:
            await closed.chat("fake:m", [sl.user("x")])
        assert expected in str(info.value) and "fail closed" in str(info.value)
        assert "pw-LEAKCHECK1" not in str(info.value)
        assert fake.requests == []  # refused before sending
    finally:
        await closed.aclose()
    opened = sl.Client(
        settings(
            url,
            prefix,
            budget_usd=1.0,
            prices=PRICES,
            redis_budgets_on_failure="open",
            redis_limiter_on_failure="open",
        ),
        providers={"fake": fake},
        clock=clock,
    )
    try:  # fail open: the call goes on under this process's own state
        assert (await opened.chat("fake:m", [sl.user("x")])).text == "ok"
        assert opened.shared is not None and opened.shared.failures
    finally:
        await opened.aclose()


async def test_a_cancelled_call_books_its_estimate_in_the_shared_budget(
    make_pair: Callable[..., Pair],
) -> None:
    arrived = asyncio.Event()

    class Signalling(sl.FakeProvider):
        async def complete(self, request: sl.Request) -> sl.Response:
            arrived.set()
            return await super().complete(request)

    clock = sl.FakeClock(1_000.0)
    a, b = make_pair(clock, Signalling([sl.FakeHang()]), budget_usd=1.0, prices=PRICES)
    task = asyncio.create_task(a.chat("fake:m", [sl.user("x")], max_tokens=100))
    await arrived.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert a.shared is not None
    await asyncio.wait(set(a.shared._tasks))  # the settlement runs in the background
    assert b.meter.shared_budgets is not None
    state = (await b.meter.shared_budgets.read())["global"]
    booked = a.costs.summary()["total"]["estimated_usd"]
    assert booked > 0 and state["reserved"] == pytest.approx(0.0)
    assert state["spent"] == pytest.approx(booked) == pytest.approx(state["estimated"])


async def test_a_call_cancelled_while_its_budget_is_reserved_leaves_no_hold(
    own_redis: RedisServer, prefix: str
) -> None:
    import redis.asyncio as redis_asyncio

    admin = redis_asyncio.from_url(own_redis.url)
    client = sl.Client(
        settings(own_redis.url, prefix, budget_usd=1.0, prices=PRICES),
        providers={"fake": sl.FakeProvider()},
        clock=sl.FakeClock(),
    )
    try:
        # Writes wait on the server: the reserve script is sent and not yet answered.
        await admin.execute_command("CLIENT", "PAUSE", "5000", "WRITE")  # type: ignore[no-untyped-call]
        task = asyncio.create_task(client.chat("fake:m", [sl.user("x")], max_tokens=10))
        for _ in range(500):  # until the reserve is blocked on the server
            if (await admin.info("clients"))["blocked_clients"] >= 1:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await admin.execute_command("CLIENT", "UNPAUSE")  # type: ignore[no-untyped-call]
        shared = shared_of(client)
        if shared._tasks:  # the settlement at zero runs in the background
            await asyncio.wait(set(shared._tasks))
        assert client.meter.shared_budgets is not None
        state = (await client.meter.shared_budgets.read())["global"]
        assert state["reserved"] == pytest.approx(0.0) and state["spent"] == 0.0
    finally:
        await client.aclose()
        await admin.aclose()


async def test_a_closing_writer_keeps_trying_within_its_grace() -> None:
    from steadyllm._shared.state import RetryingWriter

    outcomes = [False, False, True]  # Redis away twice, then back (a restart)

    async def flush() -> bool:
        return outcomes.pop(0)

    assert await RetryingWriter(flush).drain(grace=5.0) and not outcomes
    tries: list[int] = []

    async def never() -> bool:
        tries.append(1)
        return False

    writer = RetryingWriter(never)
    writer.kick()  # a background write is under way: drain stops it too
    assert not await writer.drain(grace=0.25)
    assert len(tries) >= 2 and writer._task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await writer._task  # the background retries were stopped
    assert writer._task.cancelled()
