from __future__ import annotations

import asyncio

import pytest

import steadyllm as sl
from steadyllm.providers import register_provider
from steadyllm.providers._base import _REGISTRY

from .conftest import make_client


async def test_chat_echoes_through_the_fake_provider() -> None:
    client, fake = make_client()
    r = await client.chat("fake:echo", [sl.system("Be brief."), sl.user("Hello")])
    assert r.text == "Hello"
    assert (r.provider, r.model, r.finish_reason, r.attempts) == ("fake", "echo", "stop", 1)
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens == 2
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.cost_usd == 0.0  # the fake provider is free by definition (an explicit price)
    assert fake.requests[0].messages[0].text == "Be brief."


async def test_parameters_reach_the_provider_request() -> None:
    client, fake = make_client()
    tool = sl.ToolSpec("lookup", "Find a thing", {"type": "object", "properties": {}})
    await client.chat(
        "fake:m",
        [sl.user("x")],
        temperature=0.3,
        top_p=0.9,
        max_tokens=50,
        stop="END",
        seed=7,
        user="u1",
        tools=[tool],
        tool_choice="lookup",
        response_format={"type": "json_object"},
        extra={"logprobs": True},
    )
    req = fake.requests[0]
    assert (req.temperature, req.top_p, req.max_tokens, req.stop, req.seed, req.user) == (
        0.3,
        0.9,
        50,
        ["END"],
        7,
        "u1",
    )
    assert req.tools == [tool] and req.tool_choice == "lookup"
    assert req.extra == {"logprobs": True} and req.stream is False


async def test_latency_is_measured_on_the_client_clock(clock: sl.FakeClock) -> None:
    client, _ = make_client(sl.FakeReply("slow", latency=1.25), clock=clock)
    r = await client.chat("fake:m", [sl.user("x")])
    assert r.latency_ms == pytest.approx(1250.0)


async def test_aliases_from_configuration() -> None:
    client, fake = make_client(aliases={"fast": "fake:small-model"})
    r = await client.chat("fast", [sl.user("hi")])
    assert r.model == "small-model" and fake.requests[0].model == "small-model"


async def test_default_model_and_default_provider() -> None:
    client, _ = make_client(default_model="fake:echo")
    assert (await client.chat(None, [sl.user("a")])).model == "echo"
    client, _ = make_client(provider="fake")
    assert (await client.chat("bare-name", [sl.user("a")])).model == "bare-name"


async def test_unknown_provider_lists_the_known_ones() -> None:
    client, _ = make_client()
    with pytest.raises(sl.ConfigError, match=r"unknown provider 'nope'; known providers: .*fake"):
        await client.chat("nope:model", [sl.user("x")])


async def test_missing_api_key_names_the_variable() -> None:
    register_provider(
        "keyed", lambda s: sl.FakeProvider(), required=(("openai_api_key", "OPENAI_API_KEY"),)
    )
    try:
        client = sl.Client(sl.Settings.load(env={}, dotenv=False))
        with pytest.raises(sl.ConfigError, match="provider 'keyed' needs OPENAI_API_KEY"):
            await client.chat("keyed:m", [sl.user("x")])
        client = sl.Client(
            sl.Settings.load(env={"OPENAI_API_KEY": "sk-key-present-1"}, dotenv=False)
        )
        assert (await client.chat("keyed:m", [sl.user("ok")])).text == "ok"
    finally:
        del _REGISTRY["keyed"]


def test_registering_twice_needs_replace() -> None:
    with pytest.raises(sl.ConfigError, match="already registered"):
        register_provider("fake", lambda s: sl.FakeProvider())
    with pytest.raises(sl.ConfigError, match="no ':'"):
        register_provider("a:b", lambda s: sl.FakeProvider())


async def test_retryable_faults_are_retried_with_the_server_hint(clock: sl.FakeClock) -> None:
    client, fake = make_client(
        sl.FakeFault("rate_limit", times=2, retry_after=1.5), sl.FakeReply("done"), clock=clock
    )
    r = await client.chat("fake:m", [sl.user("x")])
    assert r.text == "done" and r.attempts == 3
    assert clock.sleeps == [1.5, 1.5]  # retry-after wins over back-off
    assert r.latency_ms == pytest.approx(3000.0)
    assert len(fake.requests) == 3


async def test_backoff_is_used_when_there_is_no_hint(clock: sl.FakeClock) -> None:
    retry = sl.RetryPolicy(max_retries=3, base_delay_ms=1000, max_delay_ms=8000, random=lambda: 0.5)
    fake = sl.FakeProvider([sl.FakeFault("server_error", times=3), sl.FakeReply("ok")])
    client = sl.Client(providers={"fake": fake}, clock=clock, retry=retry)
    r = await client.chat("fake:m", [sl.user("x")])
    assert r.attempts == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]  # full jitter: ceiling 1, 2, 4 times 0.5


async def test_non_retryable_errors_fail_at_once(clock: sl.FakeClock) -> None:
    client, fake = make_client(sl.FakeFault("authentication"), clock=clock)
    with pytest.raises(sl.AuthenticationError) as info:
        await client.chat("fake:m", [sl.user("x")])
    assert info.value.attempt == 1 and info.value.status == 401
    assert clock.sleeps == [] and len(fake.requests) == 1


async def test_quota_429_is_not_retried(clock: sl.FakeClock) -> None:
    client, fake = make_client(sl.FakeFault("quota_exceeded"), clock=clock)
    with pytest.raises(sl.QuotaExceededError):
        await client.chat("fake:m", [sl.user("x")])
    assert len(fake.requests) == 1


async def test_retries_stop_after_max_retries_with_the_attempt_count(clock: sl.FakeClock) -> None:
    client, fake = make_client(sl.FakeFault("overloaded", times=10), clock=clock, max_retries=2)
    with pytest.raises(sl.OverloadedError) as info:
        await client.chat("fake:m", [sl.user("x")])
    assert info.value.attempt == 3 and len(fake.requests) == 3
    assert info.value.provider == "fake" and info.value.model == "m"


async def test_per_call_max_retries_override(clock: sl.FakeClock) -> None:
    client, fake = make_client(
        sl.FakeFault("server_error", times=5), sl.FakeReply("x"), clock=clock
    )
    with pytest.raises(sl.ServerError):
        await client.chat("fake:m", [sl.user("x")], max_retries=0)
    assert len(fake.requests) == 1


async def test_a_hint_longer_than_the_time_left_fails_at_once(clock: sl.FakeClock) -> None:
    client, _ = make_client(
        sl.FakeFault("rate_limit", retry_after=20.0), sl.FakeReply("x"), clock=clock
    )
    with pytest.raises(sl.RateLimitError) as info:
        await client.chat("fake:m", [sl.user("x")], timeout_ms=5_000)
    assert info.value.retry_after == 20.0
    assert clock.sleeps == [] and clock.now() == 0.0  # no sleeping into the deadline


async def test_a_hang_ends_at_the_total_deadline(clock: sl.FakeClock) -> None:
    client, _ = make_client(sl.FakeHang(), clock=clock)
    with pytest.raises(sl.LLMTimeoutError, match="total deadline of 2s") as info:
        await client.chat("fake:m", [sl.user("x")], timeout_ms=2_000)
    assert clock.now() == pytest.approx(2.0)
    assert info.value.retryable is False and info.value.attempt == 1


async def test_the_deadline_spans_retries(clock: sl.FakeClock) -> None:
    # Each attempt takes 4s and fails; with 10s in all there is no room for a third.
    client, fake = make_client(
        *[sl.FakeFault("server_error", latency=4.0)] * 5, clock=clock, max_retries=5
    )
    client.retry = sl.RetryPolicy(5, base_delay_ms=500, max_delay_ms=500, random=lambda: 1.0)
    with pytest.raises(sl.LLMError) as info:
        await client.chat("fake:m", [sl.user("x")], timeout_ms=10_000)
    assert clock.now() <= 10.0
    assert len(fake.requests) == 3
    assert isinstance(info.value, sl.LLMTimeoutError | sl.ServerError)


async def test_manual_clock_deadline_with_concurrent_calls() -> None:
    clock = sl.FakeClock(auto_advance=False)
    client, _ = make_client(clock=clock)
    client._provider("fake").add_script([sl.FakeHang(), sl.FakeReply("fast", latency=1.0)])  # type: ignore[attr-defined]
    hung = asyncio.create_task(client.chat("fake:m", [sl.user("a")], timeout_ms=3_000))
    quick = asyncio.create_task(client.chat("fake:m", [sl.user("b")], timeout_ms=3_000))
    await asyncio.sleep(0)
    clock.advance(1.0)
    assert (await quick).text == "fast"
    assert not hung.done()
    clock.advance(2.0)
    with pytest.raises(sl.LLMTimeoutError):
        await hung


async def test_context_is_inherited_and_merged() -> None:
    client, _ = make_client()
    with sl.context(run_id="r1", metadata={"team": "a"}):
        with sl.context(agent="planner", metadata={"step": 1}):
            r = await client.chat("fake:m", [sl.user("x")])
            inner = sl.current_context()
        r2 = await client.chat("fake:m", [sl.user("x")], context=sl.Context(agent="critic"))
    assert r.context == sl.Context(run_id="r1", agent="planner", metadata={"team": "a", "step": 1})
    assert inner == r.context
    assert r2.context is not None and (r2.context.run_id, r2.context.agent) == ("r1", "critic")
    assert sl.current_context() is None


async def test_context_flows_into_child_tasks() -> None:
    client, _ = make_client()

    async def child() -> sl.Response:
        return await client.chat("fake:m", [sl.user("x")])

    with sl.context(run_id="parent"):
        results = await asyncio.gather(*(asyncio.create_task(child()) for _ in range(3)))
    assert {r.context.run_id for r in results if r.context} == {"parent"}


async def test_closed_client_refuses_calls_and_closes_providers() -> None:
    closed: list[str] = []

    class Tracking(sl.FakeProvider):
        async def aclose(self) -> None:
            closed.append("yes")

    client = sl.Client(providers={"fake": Tracking()})
    async with client:
        await client.chat("fake:m", [sl.user("x")])
    assert closed == ["yes"]
    await client.aclose()
    with pytest.raises(sl.LLMError, match="closed"):
        await client.chat("fake:m", [sl.user("x")])


async def test_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MAX_RETRIES", "0")
    client = sl.Client.from_env(providers={"fake": sl.FakeProvider([sl.FakeFault("server_error")])})
    assert client.settings.max_retries == 0
    with pytest.raises(sl.ServerError):
        await client.chat("fake:m", [sl.user("x")])


@pytest.mark.parametrize("bad_timeout", [0, -5, "10"])
async def test_bad_timeout_is_rejected_before_sending(bad_timeout: object) -> None:
    client, fake = make_client()
    with pytest.raises(sl.InvalidRequestError, match="timeout_ms"):
        await client.chat("fake:m", [sl.user("x")], timeout_ms=bad_timeout)  # type: ignore[arg-type]
    assert fake.requests == []
