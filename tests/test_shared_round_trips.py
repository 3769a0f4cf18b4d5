"""Shared state's round trips against a real redis-server: concurrent script calls
share one (``_shared/batch.py``), and an attempt is admitted and settled in one
script call each (``_shared/attempt.py``), with the features' own rules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.clock import SystemClock
from steadyllm._shared.attempt import ADMIT, SETTLE
from steadyllm._shared.batch import Packed, pack
from steadyllm._shared.breaker import SharedBreaker
from steadyllm._shared.costs import ADD_COSTS
from steadyllm._shared.limiter import SharedLimiter
from steadyllm._shared.state import SharedState, SharedStateUnavailableError

ECHO = "return {KEYS[1], ARGV[1]}"
INCR = "return redis.call('INCR', KEYS[1])"
FAIL_ON_BAD = "if ARGV[1] == 'bad' then return redis.error_reply('ERR refused') end return 1"


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedState]:
    state = SharedState(redis_url, f"t-{uuid.uuid4().hex[:10]}", SystemClock(), timeout=0.5)
    yield state
    await state.aclose()


# ------------------------------------------------------------------ the batcher


async def test_script_calls_made_together_share_one_round_trip(shared: SharedState) -> None:
    await shared.run("limiter", ECHO, ["warm"], ["up"])  # the client, the script loaded
    before = shared.batcher.round_trips
    replies = await asyncio.gather(
        *(shared.run("limiter", ECHO, [f"k{i}"], [i]) for i in range(50))
    )
    assert shared.batcher.round_trips == before + 1
    assert [list(r) for r in replies] == [[f"k{i}".encode(), str(i).encode()] for i in range(50)]


async def test_a_script_the_server_forgot_is_loaded_and_sent_again(shared: SharedState) -> None:
    key = shared.key("n")
    assert await shared.run("limiter", INCR, [key], []) == 1
    redis = await shared.client()
    await redis.script_flush()  # as after a restart: the server knows no script
    assert await asyncio.gather(*(shared.run("limiter", INCR, [key], []) for _ in range(3))) == [
        2,
        3,
        4,
    ]  # each ran once: NOSCRIPT means it never ran
    assert int(await redis.get(key)) == 4


async def test_an_error_reply_fails_only_its_own_command(shared: SharedState) -> None:
    results = await asyncio.gather(
        shared.run("limiter", FAIL_ON_BAD, [], ["good"]),
        shared.run("budgets", FAIL_ON_BAD, [], ["bad"]),
        shared.run("limiter", FAIL_ON_BAD, [], ["good"]),
        return_exceptions=True,
    )
    assert results[0] == results[2] == 1
    assert isinstance(results[1], SharedStateUnavailableError)
    assert results[1].feature == "budgets" and "refused" in str(results[1])
    assert shared.failures == {"budgets": 1}


async def test_a_call_cancelled_before_its_batch_left_is_not_sent(shared: SharedState) -> None:
    key = shared.key("cancelled")
    task = asyncio.create_task(shared.run("limiter", INCR, [key], []))
    await asyncio.sleep(0)  # queued, not yet sent
    task.cancel()
    assert await shared.run("limiter", INCR, [key], []) == 1  # only this one ran


async def test_one_script_serving_two_features_counts_a_failure_against_both() -> None:
    state = SharedState("redis://127.0.0.1:9/0", "t", SystemClock(), timeout=0.5)
    try:
        with pytest.raises(SharedStateUnavailableError) as caught:
            await state.run(("limiter", "breaker"), ECHO, ["k"], ["v"])
        assert caught.value.feature == "limiter"
        assert state.failures == {"limiter": 1, "breaker": 1}
        assert state.down == {"limiter", "breaker"}
    finally:
        await state.aclose()


async def test_a_hung_server_fails_the_batch_within_the_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, read, never answer

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = sl.FakeClock(0.0)  # the round trip's bound is real time, not the client's clock
    state = SharedState(f"redis://127.0.0.1:{port}/0", "t", clock, timeout=0.2)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        with pytest.raises(SharedStateUnavailableError) as caught:
            await state.run("limiter", ECHO, ["k"], ["v"])
        assert loop.time() - started < 2.0  # the timeout, not the hang, ended it
        # ...and the error names the bound and the setting that sets it
        assert "no reply within 200 ms (REDIS_TIMEOUT_MS)" in str(caught.value.error("x"))
        assert state.failures == {"limiter": 1}
    finally:
        await state.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_round_trips_reuse_their_connections_and_a_broken_one_goes_back(
    shared: SharedState,
) -> None:
    await shared.run("limiter", ECHO, ["warm"], ["up"])
    redis = await shared.client()
    pool = redis.connection_pool
    checkouts: list[int] = []
    checkout = pool.get_connection

    async def counted(*args: Any, **kwargs: Any) -> Any:
        checkouts.append(1)
        return await checkout(*args, **kwargs)

    pool.get_connection = counted
    for i in range(20):  # one at a time: the same connection every time
        await shared.run("limiter", ECHO, [f"k{i}"], [i])
    assert checkouts == []
    # two batches in flight at once need two connections; both are kept after
    first = asyncio.ensure_future(shared.run("limiter", ECHO, ["a"], [1]))
    await asyncio.sleep(0)  # the first batch leaves
    await asyncio.gather(first, shared.run("limiter", ECHO, ["b"], [2]))
    assert len(checkouts) == 1 and len(shared.batcher._idle) == 2
    # an exchange that fails mid-way is not kept: redis-py checks it on its next use
    from redis.exceptions import ConnectionError as RedisConnectionError

    conn = shared.batcher._idle[-1]

    async def reset(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("connection reset by peer")

    conn.read_response = reset  # the next reply is lost on the way
    with pytest.raises(SharedStateUnavailableError):
        await shared.run("limiter", ECHO, ["c"], [3])
    assert conn not in shared.batcher._idle and conn in pool._available_connections
    del conn.read_response
    assert list(await shared.run("limiter", ECHO, ["d"], [4])) == [b"d", b"4"]


ARG = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(ARG, max_size=5), max_size=6), st.lists(st.booleans(), max_size=6))
def test_packed_commands_are_what_redis_py_would_send(
    groups: list[list[Any]], packed: list[bool]
) -> None:
    """Hand packing, with any groups of arguments packed once ahead, gives the bytes
    redis-py's own encoder gives for the same flat command."""
    from redis.asyncio.connection import Connection

    flat: list[Any] = [b"EVALSHA"]
    args: list[Any] = [b"EVALSHA"]
    for group, ahead in zip(groups, packed + [False] * len(groups), strict=False):
        flat += group
        args += [Packed(*group)] if ahead else group
    reference = b"".join(Connection().pack_command(*flat))
    assert pack(*args) == reference


# ------------------------------------------------------------------ the gate

Scripts = list[str]


def record_scripts(client: sl.Client) -> Scripts:
    """The scripts ``client`` sends to Redis, by name, in order."""
    assert client.shared is not None
    batcher = client.shared.batcher
    names = {ADMIT: "admit", SETTLE: "settle", ADD_COSTS: "costs"}
    sent: Scripts = []
    submit = batcher.submit

    def recording(script: str, keys: Any, args: Any) -> Any:
        sent.append(names.get(script, "other"))
        return submit(script, keys, args)

    batcher.submit = recording  # type: ignore[method-assign]
    return sent


def client_on(
    redis_url: str, prefix: str, clock: sl.FakeClock, fake: sl.FakeProvider, **extra: Any
) -> sl.Client:
    options: dict[str, Any] = {"rate_limit_margin_ms": 0, "max_retries": 0} | extra
    return sl.Client(
        sl.Settings.load(
            env={},
            dotenv=False,
            config_file=False,
            redis_url=redis_url,
            redis_prefix=prefix,
            **options,
        ),
        providers={"fake": fake},
        clock=clock,
    )


@pytest.fixture
async def make_client(redis_url: str) -> AsyncIterator[Callable[..., sl.Client]]:
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    made: list[sl.Client] = []

    def make(clock: sl.FakeClock, failures: int = 0, **extra: Any) -> sl.Client:
        """A client whose fake provider fails its first ``failures`` calls with a 500."""
        fake = sl.FakeProvider([sl.FakeFault("server_error", times=failures)] if failures else [])
        made.append(client_on(redis_url, prefix, clock, fake, **extra))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


def parts(client: sl.Client) -> tuple[SharedBreaker, SharedLimiter]:
    breaker = client.resilience.breakers.get("fake", "m")
    limiter = client.resilience.limiters.get("fake", "m")
    assert isinstance(breaker, SharedBreaker) and isinstance(limiter, SharedLimiter)
    return breaker, limiter


async def test_a_call_is_admitted_in_one_script_call_and_settled_in_one(
    make_client: Callable[..., sl.Client],
) -> None:
    client = make_client(sl.FakeClock(1_000.0), rate_limit_per_minute=600, budget_usd=1.0)
    sent = record_scripts(client)
    await client.chat("fake:m", [sl.user("hi")])
    assert client.meter.shared_costs is not None
    await client.meter.shared_costs.flush()
    # The budget's reserve and settle are their own scripts ("other"); the breaker and
    # the limiter never are.
    assert sent.count("admit") == 1 and sent.count("settle") == 1
    assert sent.count("other") == 2 and sent.count("costs") == 1


async def test_an_open_circuit_refuses_before_the_limiter_charges_anything(
    make_client: Callable[..., sl.Client],
) -> None:
    clock = sl.FakeClock(1_000.0)
    failing = make_client(
        clock, failures=2, rate_limit_per_minute=60, circuit_breaker_failure_threshold=2
    )
    other = make_client(clock, rate_limit_per_minute=60, circuit_breaker_failure_threshold=2)
    for _ in range(2):
        with pytest.raises(sl.ServerError):
            await failing.chat("fake:m", [sl.user("x")])
    _, limiter = parts(other)
    assert other.shared is not None
    redis = await other.shared.client()

    async def requests_left() -> float:
        return float(await redis.hget(limiter.hash, "r60:level"))

    assert await requests_left() == 58.0  # 60 per minute, two spent by the failures
    with pytest.raises(sl.CircuitOpenError):
        await other.chat("fake:m", [sl.user("x")])
    assert await requests_left() == 58.0  # refused by the breaker: nothing charged


async def test_a_probe_the_limiter_refuses_hands_its_lease_back(
    make_client: Callable[..., sl.Client],
) -> None:
    clock = sl.FakeClock(1_000.0)
    options = {
        "rate_limit_per_minute": 2,
        "circuit_breaker_failure_threshold": 1,
        "circuit_breaker_half_open_calls": 1,
        "circuit_breaker_reset_timeout_ms": 1_000,
    }
    client = make_client(clock, failures=1, **options)
    with pytest.raises(sl.ServerError):
        await client.chat("fake:m", [sl.user("x")])  # opens the circuit, spends 1 of 2
    breaker, limiter = parts(client)
    await limiter.acquire(1)  # the last request of the minute
    clock.advance(1.5)  # the circuit lets one probe through now
    with pytest.raises(sl.RateLimitError):  # the slot is ~29 s away, past the deadline
        await client.chat("fake:m", [sl.user("x")], timeout_ms=2_000)
    assert breaker.state == "half_open"
    assert client.shared is not None
    redis = await client.shared.client()
    assert await redis.zcard(breaker.keys[1]) == 0  # no probe lease is held
    clock.advance(60.0)  # capacity again: a new probe passes
    response = await client.chat("fake:m", [sl.user("x")])
    assert response.text and breaker.state == "closed"  # type: ignore[comparison-overlap]


async def test_a_probe_cancelled_while_it_waits_for_its_slot_hands_its_lease_back(
    make_client: Callable[..., sl.Client],
) -> None:
    clock = sl.FakeClock(1_000.0, auto_advance=False)
    options = {
        "rate_limit_per_minute": 60,
        "circuit_breaker_failure_threshold": 1,
        "circuit_breaker_half_open_calls": 1,
        "circuit_breaker_reset_timeout_ms": 1_000,
    }
    client = make_client(clock, failures=1, **options)
    with pytest.raises(sl.ServerError):
        await client.chat("fake:m", [sl.user("x")])
    breaker, limiter = parts(client)
    for _ in range(59):
        await limiter.acquire(1)  # the minute's capacity is gone
    clock.advance(1.5)  # the circuit lets a probe through; 1.5 requests refilled
    await limiter.acquire(1)  # half a request left: the probe must wait for its slot
    probe = asyncio.create_task(client.chat("fake:m", [sl.user("x")], timeout_ms=10_000))
    for _ in range(2_000):  # until the probe sleeps for its slot
        if clock.sleeps:
            break
        await asyncio.sleep(0.001)
    assert clock.sleeps == [pytest.approx(0.5)]
    assert breaker.state == "half_open"
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert client.shared is not None
    await asyncio.wait(set(client.shared._tasks), timeout=2.0)  # the lease's release
    redis = await client.shared.client()
    assert await redis.zcard(breaker.keys[1]) == 0  # handed back, not left to expire
    clock.advance(1.0)  # well within the lease's 10 s
    assert (await client.chat("fake:m", [sl.user("x")])).text  # a new probe may go
    assert breaker.state == "closed"  # type: ignore[comparison-overlap]


async def test_a_verdict_redis_cannot_take_is_recorded_by_the_local_breaker(
    make_client: Callable[..., sl.Client],
) -> None:
    client = make_client(sl.FakeClock(1_000.0), failures=1, circuit_breaker_failure_threshold=1)
    breaker, _ = parts(client)
    assert client.shared is not None
    real = client.shared.run

    async def settle_fails(feature: Any, script: str, keys: Any, args: Any) -> Any:
        if script == SETTLE:
            raise SharedStateUnavailableError("limiter", ConnectionError("gone"))
        return await real(feature, script, keys, args)

    client.shared.run = settle_fails  # type: ignore[method-assign]
    with pytest.raises(sl.ServerError):
        await client.chat("fake:m", [sl.user("x")])
    assert breaker.local.state == "open"  # this process still protects the provider
    assert breaker.stats.failures == 1


@pytest.mark.usefixtures("brief_close_grace")
async def test_with_redis_unreachable_admission_follows_each_features_policy() -> None:
    """The breaker falls back to this process's own; the limiter fails closed (a
    configured limit is at stake) or, set to open, paces on its own."""
    for policy, outcome in (("closed", sl.SharedStateError), ("open", None)):
        client = client_on(
            "redis://127.0.0.1:9/0",
            f"t-{uuid.uuid4().hex[:10]}",
            sl.FakeClock(1_000.0),
            sl.FakeProvider(),
            rate_limit_per_minute=60,
            redis_limiter_on_failure=policy,
            redis_timeout_ms=200,
        )
        try:
            breaker, limiter = parts(client)
            if outcome is None:
                assert (await client.chat("fake:m", [sl.user("x")])).text
                assert limiter.local.stats.granted == 1  # paced here instead
            else:
                with pytest.raises(outcome) as caught:
                    await client.chat("fake:m", [sl.user("x")])
                assert caught.value.retryable and "REDIS_LIMITER_ON_FAILURE" in str(caught.value)
            assert breaker.local.stats.calls == 1  # admitted by the local breaker
        finally:
            await client.aclose()


async def test_the_shared_gate_passes_in_process_parts_to_the_plain_gate() -> None:
    from steadyllm._resilience.breaker import BreakerPolicy, CircuitBreaker
    from steadyllm._resilience.limiter import Limits, RateLimiter
    from steadyllm._shared.attempt import SharedGate

    clock = sl.FakeClock(0.0)
    gate = SharedGate(SharedState("redis://127.0.0.1:9/0", "t", clock))
    breaker = CircuitBreaker("k", BreakerPolicy(failure_threshold=1))
    limiter = RateLimiter("k", Limits(rpm=60), clock)
    ticket, reservation = await gate.admit(breaker, limiter, 10, 5.0, clock.now())
    await gate.settle(ticket, reservation, sl.ServerError("boom"), None, None, clock.now())
    assert breaker.state == "open" and reservation.settled  # no Redis was needed
    await gate.shared.aclose()


async def test_counters_of_calls_in_a_row_go_out_in_one_write(
    make_client: Callable[..., sl.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    from steadyllm._shared import costs

    monkeypatch.setattr(costs, "LINGER", 60.0)  # longer than the test: only a flush writes
    client = make_client(sl.FakeClock(1_000.0))
    sent = record_scripts(client)
    for _ in range(5):
        await client.chat("fake:m", [sl.user("hi")])
    assert sent.count("costs") == 0  # waiting for more to go along
    fleet = await client.fleet_costs()  # writes what waits, then reads
    assert sent.count("costs") == 1 and fleet["total"]["calls"] == 5


async def test_lingering_counters_are_written_by_themselves(
    make_client: Callable[..., sl.Client],
) -> None:
    client = make_client(sl.FakeClock(1_000.0))
    sent = record_scripts(client)
    await client.chat("fake:m", [sl.user("hi")])
    await client.chat("fake:m", [sl.user("hi")])
    counters = client.meter.shared_costs
    assert counters is not None and counters.pending > 0 and sent.count("costs") == 0
    writer = counters._writer._task
    assert writer is not None
    await asyncio.wait_for(writer, 5.0)  # the background writer: its wait, then one write
    assert sent.count("costs") == 1 and counters.pending == 0  # both calls' counters
