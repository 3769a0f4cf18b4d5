"""The pacing rate limiter on virtual time: exact, FIFO, cancellable, learning."""

from __future__ import annotations

import asyncio

import pytest

import steadyllm as sl
from steadyllm._core.types import RateLimitInfo
from steadyllm._resilience.limiter import LimiterBoard, Limits, RateLimiter

from .conftest import spawn


def limiter(clock: sl.FakeClock, **kw: object) -> RateLimiter:
    """Exact limits (no reserve) unless a test asks for a margin."""
    return RateLimiter("openai:gpt", Limits(**{"margin": 0.0, **kw}), clock)  # type: ignore[arg-type]


async def test_within_capacity_no_one_waits() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=60, tpm=6_000)
    for _ in range(60):
        await lim.acquire(100)
    assert lim.stats.granted == 60 and lim.stats.waited == 0
    assert lim.predicted_wait(100) == pytest.approx(1.0)  # one request per second refills


async def test_hundreds_of_waiters_are_served_in_arrival_order_at_the_exact_rate() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=60)
    for _ in range(60):
        await lim.acquire(1)
    served: list[tuple[int, float]] = []

    async def call(i: int) -> None:
        await lim.acquire(1)
        served.append((i, clock.now()))

    tasks = await spawn(call(i) for i in range(300))  # in order, a few per loop step
    await clock.tick(0)
    assert served == [] and lim.snapshot()["queue"] == 300
    await clock.tick(300)
    await asyncio.gather(*tasks)
    assert [i for i, _ in served] == list(range(300))  # FIFO
    assert [t for _, t in served] == pytest.approx([float(i + 1) for i in range(300)])
    assert lim.stats.max_queue == 300 and lim.stats.max_wait == pytest.approx(300.0)


async def test_a_big_request_at_the_head_is_not_overtaken_by_small_ones() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, tpm=600)  # 10 tokens per second
    await lim.acquire(600)
    order: list[str] = []

    async def call(name: str, tokens: int) -> None:
        await lim.acquire(tokens)
        order.append(name)

    big = asyncio.create_task(call("big", 500))
    small = asyncio.create_task(call("small", 10))
    await clock.tick(49)
    assert order == []  # the small one could have fitted long ago, but waits its turn
    await clock.tick(1.0)
    assert order == ["big"]  # 500 tokens at 10/s: exactly at t=50
    await clock.tick(1.0)
    await asyncio.gather(big, small)
    assert order == ["big", "small"]  # then 10 more tokens: t=51


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=60)
    for _ in range(60):
        await lim.acquire(1)
    first = asyncio.create_task(lim.acquire(1))
    second = asyncio.create_task(lim.acquire(1))
    third = asyncio.create_task(lim.acquire(1))
    await clock.tick(0.5)
    first.cancel()  # the head leaves: the next one becomes head
    second.cancel()
    await clock.tick(0.51)
    assert third.done() and first.cancelled() and second.cancelled()
    assert lim.snapshot()["queue"] == 0


async def test_a_request_that_can_never_fit_fails_at_once() -> None:
    lim = limiter(sl.FakeClock(), tpm=1_000, tpd=5_000)
    with pytest.raises(
        sl.InvalidRequestError, match=r"needs about 1200 tokens .* 1000 tokens per minute"
    ):
        await lim.acquire(1_200)
    assert lim.stats.refused == 1


async def test_a_wait_longer_than_the_deadline_fails_at_once_with_the_prediction() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=6)  # one per 10 s
    for _ in range(6):
        await lim.acquire(1)
    with pytest.raises(
        sl.RateLimitError, match=r"would wait 10\.00s .* deadline is 5\.00s away"
    ) as info:
        await lim.acquire(1, deadline=5.0)
    assert info.value.retry_after == pytest.approx(10.0)
    waiter = asyncio.create_task(lim.acquire(1, deadline=11.0))
    await clock.tick(0)
    assert lim.predicted_wait(1) == pytest.approx(20.0)  # behind the one already queued
    await clock.tick(10)
    await waiter


async def test_daily_limits_and_both_kinds_at_once() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpd=2, rpm=100)
    await lim.acquire(1)
    await lim.acquire(1)
    assert lim.predicted_wait(1) == pytest.approx(43_200.0)  # half a day for one request


async def test_reconcile_charges_overruns_and_refunds_only_when_allowed() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, tpm=1_000)
    r = await lim.acquire(100)
    lim.reconcile(r, 400)  # used more than reserved: charged
    lim.reconcile(r, 10)  # settles once
    assert lim.snapshot()["buckets"]["tokens_per_minute"]["available"] == pytest.approx(600)  # type: ignore[index]
    refunding = limiter(clock, tpm=1_000, refund_unused=True)
    r2 = await refunding.acquire(500)
    refunding.reconcile(r2, 100)
    assert refunding.snapshot()["buckets"]["tokens_per_minute"]["available"] == pytest.approx(900)  # type: ignore[index]
    keeping = limiter(clock, tpm=1_000)
    r3 = await keeping.acquire(500)
    keeping.reconcile(r3, 100)  # providers charge max_tokens up front: no refund by default
    assert keeping.snapshot()["buckets"]["tokens_per_minute"]["available"] == pytest.approx(500)  # type: ignore[index]


async def test_a_refund_wakes_the_head_early() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, tpm=600, refund_unused=True)
    big = await lim.acquire(600)
    waiter = asyncio.create_task(lim.acquire(300))
    await clock.tick(1)
    assert not waiter.done()
    lim.reconcile(big, 100)  # 500 tokens come back
    await clock.tick(0)
    assert waiter.done()


async def test_learning_limits_and_remaining_from_headers() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = RateLimiter("openai:gpt", Limits(margin=0.0), clock)  # no limits configured
    await lim.acquire(10)
    lim.adopt(
        RateLimitInfo(
            requests_limit=60, requests_remaining=0, tokens_limit=None, tokens_remaining=None
        )
    )
    assert lim.predicted_wait(1) == pytest.approx(1.0)
    snap = lim.snapshot()["buckets"]["requests_per_minute"]  # type: ignore[index]
    assert snap["learned"] and snap["limit"] == 60
    configured = limiter(clock, rpm=100)
    configured.adopt(RateLimitInfo(requests_limit=30, requests_remaining=29))
    assert configured.snapshot()["buckets"]["requests_per_minute"]["limit"] == 30  # type: ignore[index]
    configured.adopt(None)
    configured.adopt(RateLimitInfo(requests_limit=500, requests_remaining=-1))  # nonsense ignored
    assert configured.snapshot()["buckets"]["requests_per_minute"]["limit"] == 30  # type: ignore[index]


async def test_a_429_holds_every_caller_of_the_key_until_the_hint() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=1_000)
    lim.on_rate_limited(sl.RateLimitError("slow down", retry_after=3.0))
    waiters = [asyncio.create_task(lim.acquire(1)) for _ in range(50)]
    await clock.tick(2.9)
    assert not any(w.done() for w in waiters)
    await clock.tick(0.2)
    await asyncio.gather(*waiters)
    lim.on_rate_limited(sl.RateLimitError("no hint"))
    assert lim.blocked_until == pytest.approx(4.1) and lim.stats.backoffs == 2


async def test_the_margin_keeps_a_reserve_without_slowing_the_rate() -> None:
    clock = sl.FakeClock(auto_advance=False)
    lim = limiter(clock, rpm=60, margin=0.5)  # keep half a request in reserve
    served: list[float] = []

    async def call() -> None:
        await lim.acquire(1)
        served.append(clock.now())

    tasks = [asyncio.create_task(call()) for _ in range(70)]
    await clock.tick(0)
    assert len(served) == 59  # the 60th would dip into the reserve
    await clock.tick(20)
    await asyncio.gather(*tasks)
    assert served[59:] == pytest.approx([0.5 + i for i in range(11)])  # still one per second
    with pytest.raises(sl.ConfigError, match="margin"):
        Limits(margin=-1)


def test_invalid_limits_name_the_setting() -> None:
    with pytest.raises(sl.ConfigError, match="rpm=0"):
        Limits(rpm=0)
    with pytest.raises(sl.ConfigError, match=r"tpm=1\.5"):
        Limits(tpm=1.5)  # type: ignore[arg-type]


def test_board_per_key_limits_and_scope() -> None:
    clock = sl.FakeClock()
    board = LimiterBoard(
        clock, Limits(rpm=10), {"openai:gpt-4o": Limits(rpm=5), "anthropic": Limits(rpm=7)}
    )
    assert board.get("openai", "gpt-4o").limits.rpm == 5
    assert board.get("openai", "mini").limits.rpm == 10
    assert board.get("anthropic", "claude").limits.rpm == 7
    shared = LimiterBoard(clock, scope="provider")
    assert shared.get("openai", "a") is shared.get("openai", "b")
    assert set(board.snapshot()) == {"openai:gpt-4o", "openai:mini", "anthropic:claude"}
