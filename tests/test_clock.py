from __future__ import annotations

import asyncio
import math

import pytest

import steadyllm as sl


async def test_manual_clock_wakes_sleepers_in_time_order() -> None:
    clock = sl.FakeClock(auto_advance=False)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 2.0), ("a", 1.0), ("c", 3.0))]
    await asyncio.sleep(0)
    await clock.tick(2.5)
    assert woke == [("a", 1.0), ("b", 2.0)]
    clock.advance(1.0)  # plain advance wakes "c" but it runs only afterwards
    await asyncio.gather(*tasks)
    assert woke[-1] == ("c", 3.5) and clock.now() == 3.5


async def test_timeout_at_fires_when_virtual_time_passes_the_deadline() -> None:
    clock = sl.FakeClock(auto_advance=False)

    async def guarded() -> None:
        async with clock.timeout_at(5.0):
            await clock.sleep(math.inf)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0)
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.1)
    with pytest.raises(TimeoutError):
        await task


async def test_auto_advance_jumps_to_the_deadline_on_a_hang() -> None:
    clock = sl.FakeClock(start=10.0)
    with pytest.raises(TimeoutError):
        async with clock.timeout_at(12.0):
            await clock.sleep(math.inf)
    assert clock.now() == 12.0


async def test_a_cancelled_sleeper_leaves_no_timer_behind() -> None:
    clock = sl.FakeClock(auto_advance=False)
    task = asyncio.create_task(clock.sleep(5.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock._next_timer() is None


async def test_past_deadline_fires_immediately_and_time_never_goes_back() -> None:
    clock = sl.FakeClock(start=3.0, auto_advance=False)

    async def two_yields() -> None:
        async with clock.timeout_at(1.0):
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    with pytest.raises(TimeoutError):
        await two_yields()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


async def test_system_clock_deadlines() -> None:
    clock = sl.SystemClock()
    async with clock.timeout_at(None):
        await clock.sleep(0)
    start = clock.now()
    with pytest.raises(TimeoutError):
        async with clock.timeout_at(start + 0.01):
            await asyncio.Event().wait()
    assert clock.now() >= start
