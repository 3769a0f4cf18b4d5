"""Every outcome of a call is booked once: what reached the provider costs money,
what never left the process costs nothing, and sinks or hooks that fail change
nothing (issue 13, "Money" and "Nothing a user plugs in ... can break a call")."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request, ToolSpec
from steadyllm._metering.tokens import (
    DEFAULT_OUTPUT_ESTIMATE,
    estimate_request_tokens,
    estimate_text_tokens,
)
from steadyllm.emulator import Behavior, Emulator

from .conftest import outcomes, spawn

PRICES = {"openai:gpt-4o-mini": {"input": 1.0, "output": 10.0}}  # $ per million tokens


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def priced(emu: Emulator, **extra: Any) -> sl.Settings:
    return emu.settings(prices=PRICES, **extra)


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition`` holds (the emulator runs in this loop)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


def worst_case(messages: list[sl.Message], max_tokens: int | None = None) -> float:
    request = Request("openai", "gpt-4o-mini", messages)
    prompt = estimate_request_tokens(request)
    return (prompt * 1.0 + (max_tokens or DEFAULT_OUTPUT_ESTIMATE) * 10.0) / 1e6


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------ cancelled, timed out


async def test_forty_calls_cancelled_after_reaching_the_server_are_booked(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.push(Behavior(fault="hang", times=40))
    log = tmp_path / "calls.jsonl"
    messages = [sl.user("how much does this cost?")]
    settings = priced(emulator, budget_usd=5.0, log_to_file=True, log_file_path=str(log))
    async with sl.Client(settings) as client:
        tasks = [
            asyncio.create_task(client.chat("openai:gpt-4o-mini", messages)) for _ in range(40)
        ]
        await until(lambda: len(emulator.requests) == 40)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        each = worst_case(messages)
        total = client.costs.summary()["total"]
        assert total["calls"] == 40 and total["failed_calls"] == 40
        assert total["cost_usd"] == pytest.approx(40 * each)
        assert total["estimated_usd"] == pytest.approx(40 * each)
        assert total["estimated_calls"] == 40
        budget = client.meter.budgets.snapshot()["global"]
        assert budget["spent"] == pytest.approx(40 * each) and budget["reserved"] == 0
        assert budget["estimated"] == pytest.approx(40 * each)
    records = log_lines(log)
    assert len(records) == 40
    assert {r["error_kind"] for r in records} == {"cancelled"}
    assert all(r["cost_estimated"] and r["cost_usd"] == pytest.approx(each) for r in records)


async def test_a_call_that_never_left_the_process_costs_nothing(tmp_path: Path) -> None:
    # Nothing listens on this port: the connection is refused, no byte is written.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-test",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        prices=PRICES,
        budget_usd=1.0,
        max_retries=0,
    )
    async with sl.Client(settings) as client:
        with pytest.raises(sl.LLMConnectionError):
            await client.chat("openai:gpt-4o-mini", [sl.user("hi")])
        total = client.costs.summary()["total"]
        assert total["calls"] == 1 and total["cost_usd"] == 0 and total["estimated_calls"] == 0
        assert client.meter.budgets.snapshot()["global"]["spent"] == 0


async def test_an_error_answer_costs_nothing_and_is_not_an_estimate(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="status", status=400, message="bad field"))
    async with sl.Client(priced(emulator, budget_usd=1.0)) as client:
        with pytest.raises(sl.InvalidRequestError):
            await client.chat("openai:gpt-4o-mini", [sl.user("hi")])
        total = client.costs.summary()["total"]
        assert total["cost_usd"] == 0 and total["estimated_calls"] == 0


async def test_a_timed_out_call_is_booked_at_its_worst_case(emulator: Emulator) -> None:
    emulator.push(Behavior(fault="hang"))
    messages = [sl.user("slow")]
    async with sl.Client(priced(emulator, budget_usd=1.0)) as client:
        with pytest.raises(sl.LLMTimeoutError):
            await client.chat("openai:gpt-4o-mini", messages, timeout_ms=200, max_tokens=50)
        assert len(emulator.requests) == 1
        total = client.costs.summary()["total"]
        assert total["cost_usd"] == pytest.approx(worst_case(messages, 50))
        assert total["estimated_calls"] == 1


async def test_the_successful_response_carries_the_spend_of_every_attempt(
    emulator: Emulator,
) -> None:
    # The first attempt's connection drops before any event; the retry succeeds.
    emulator.push(Behavior(text="one two three four", fault="drop", after_chunks=0))
    emulator.push(Behavior(text="fine"))
    async with (
        sl.Client(priced(emulator, retry_base_delay_ms=1)) as client,
        client.stream("openai:gpt-4o-mini", [sl.user("hi")], max_tokens=100) as stream,
    ):
        response = await stream.final_response()
    assert response.attempts == 2 and response.usage.cost_usd is not None
    assert response.total_cost_usd is not None
    assert response.total_cost_usd > response.usage.cost_usd
    assert response.cost_estimated


# ------------------------------------------------------------------ streams


async def test_a_stream_left_after_its_first_event_books_its_worst_case(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.push(Behavior(text="alpha beta gamma delta epsilon", chunks=5))
    log = tmp_path / "calls.jsonl"
    messages = [sl.user("stream please")]
    settings = priced(emulator, budget_usd=1.0, log_to_file=True, log_file_path=str(log))
    async with sl.Client(settings) as client:
        async with client.stream("openai:gpt-4o-mini", messages, max_tokens=500) as stream:
            async for _event in stream:
                break
        prompt = estimate_request_tokens(Request("openai", "gpt-4o-mini", messages))
        total = client.costs.summary()["total"]
        assert total["prompt_tokens"] == prompt
        # We stopped reading while the server was still sending: it may have generated
        # more than arrived, up to the cap, and that is what is booked.
        assert total["completion_tokens"] == 500
        assert total["estimated_calls"] == 1
        assert total["cost_usd"] == pytest.approx(worst_case(messages, 500))
        budget = client.meter.budgets.snapshot()["global"]
        assert budget["spent"] == pytest.approx(total["cost_usd"]) and budget["reserved"] == 0
    (record,) = log_lines(log)
    assert record["error_kind"] == "abandoned" and record["cost_estimated"]


async def test_a_stream_that_ends_without_its_final_event_is_a_failure(
    emulator: Emulator, tmp_path: Path
) -> None:
    # A connection closed cleanly after two chunks: no finish reason, no [DONE].
    emulator.push(Behavior(text="a b c d", fault="drop", after_chunks=2, times=3))
    log = tmp_path / "calls.jsonl"
    settings = priced(
        emulator,
        log_to_file=True,
        log_file_path=str(log),
        circuit_breaker_failure_threshold=1,
    )
    async with sl.Client(settings) as client:
        async with client.stream("openai:gpt-4o-mini", [sl.user("x")]) as stream:
            with pytest.raises(sl.StreamInterruptedError):
                async for _event in stream:
                    pass
        breaker = client.resilience.breakers.snapshot()["openai:gpt-4o-mini"]
        assert breaker["state"] == "open"
        assert client.costs.summary()["total"]["estimated_calls"] == 1
    (record,) = log_lines(log)
    assert record["error_kind"] == "stream_interrupted" and record["cost_estimated"]


async def test_a_stream_cancelled_while_opening_leaves_one_record(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.push(Behavior(fault="hang"))
    log = tmp_path / "calls.jsonl"
    settings = priced(emulator, log_to_file=True, log_file_path=str(log))
    async with sl.Client(settings) as client:

        async def open_it() -> None:
            async with client.stream("openai:gpt-4o-mini", [sl.user("x")]):
                pass  # pragma: no cover - never entered

        task = asyncio.create_task(open_it())
        await until(lambda: len(emulator.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (record,) = log_lines(log)
    assert record["error_kind"] == "cancelled" and record["cost_estimated"]


# ------------------------------------------------------------------ estimates


def test_the_prompt_estimate_counts_tools_schemas_and_bounds_cjk() -> None:
    plain = Request("openai", "m", [sl.user("hello")])
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "x" * 300}},
    }
    with_tools = Request(
        "openai", "m", [sl.user("hello")], tools=[ToolSpec("weather", "Get weather", schema)]
    )
    with_format = Request(
        "openai",
        "m",
        [sl.user("hello")],
        response_format={"type": "json_schema", "name": "r", "schema": schema},
    )
    base = estimate_request_tokens(plain)
    assert estimate_request_tokens(with_tools) > base + 100
    assert estimate_request_tokens(with_format) > base + 100
    # CJK: at least one token per character (GPT and Claude tokenizers use 1-1.5).
    text = "東京の天気はどうですか" * 20
    assert estimate_text_tokens(text) >= 1.5 * len(text)
    assert estimate_text_tokens("a" * 300) == 100


async def test_limiter_and_budget_assume_the_same_output_cap(emulator: Emulator) -> None:
    async with sl.Client(priced(emulator, budget_usd=1.0)) as client:
        plan = client._plan("openai:gpt-4o-mini", [sl.user("hi")])
        tokens = client.resilience.estimate(plan.request, plan.provider.default_max_tokens)
        assert tokens == estimate_request_tokens(plan.request) + DEFAULT_OUTPUT_ESTIMATE


async def test_cjk_calls_never_overshoot_a_budget(emulator: Emulator) -> None:
    # The emulator bills a CJK character as one and a half tokens (what real
    # tokenizers charge at most), well above the old four-characters rule.
    text = "東京の天気はどうですか" * 30
    tokens = math.ceil(len(text) * 1.5) + 4
    emulator.push(Behavior(text="はい", usage={"prompt_tokens": tokens}, times=200))
    async with sl.Client(priced(emulator, budget_usd=0.01, max_retries=0)) as client:
        tasks = await spawn(
            client.chat("openai:gpt-4o-mini", [sl.user(text)], max_tokens=20) for _ in range(200)
        )
        results = await outcomes(tasks)
        assert any(isinstance(r, sl.BudgetExceededError) for r in results)
        assert client.costs.summary()["total"]["cost_usd"] <= 0.01


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0, -5])
async def test_a_timeout_that_is_not_a_positive_finite_number_is_refused(value: float) -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False, config_file=False)) as client:
        with pytest.raises(sl.InvalidRequestError, match="positive, finite"):
            client._plan("fake:echo", [sl.user("x")], timeout_ms=value)  # type: ignore[arg-type]


# ------------------------------------------------------------------ sinks and hooks


async def test_a_log_file_that_cannot_be_written_never_fails_a_call(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # /dev/full answers every write with ENOSPC: a full disk.
    settings = priced(emulator, log_to_file=True, log_file_path="/dev/full")
    async with sl.Client(settings) as client:
        with caplog.at_level(logging.WARNING, logger="steadyllm"):
            replies = [await client.chat("openai:gpt-4o-mini", [sl.user("hi")]) for _ in range(30)]
        assert all(r.text for r in replies)
    # The writer thread reports what the disk refused; closing waits for it.
    assert client.sink_failures() == {"the request log: OSError": 30}
    warnings = [r for r in caplog.records if "request log failed" in r.getMessage()]
    assert len(warnings) == 1  # once per cause


async def test_raising_hooks_never_change_a_call(emulator: Emulator) -> None:
    def alert(total: float, threshold: float) -> None:
        raise RuntimeError("pager is down")

    def circuit(key: str, old: str, new: str) -> None:
        raise ValueError("dashboard is down")

    settings = priced(
        emulator, alert_cost_threshold_usd=1e-9, circuit_breaker_failure_threshold=1, max_retries=0
    )
    async with sl.Client(settings, on_cost_alert=alert, on_circuit_change=circuit) as client:
        answer = await client.chat("openai:gpt-4o-mini", [sl.user("priced")])
        assert answer.text == "priced"  # the alert fired and its hook raised
        emulator.push(Behavior(fault="status", status=500))
        with pytest.raises(sl.ServerError):  # the circuit opened and its hook raised
            await client.chat("openai:gpt-4o-mini", [sl.user("a")])
        with pytest.raises(sl.CircuitOpenError):
            await client.chat("openai:gpt-4o-mini", [sl.user("b")])
        assert client.sink_failures() == {
            "the on_cost_alert hook: RuntimeError": 1,
            "the on_circuit_change hook: ValueError": 1,
        }


def test_a_file_size_limit_never_fails_a_call_nor_breaks_the_log(tmp_path: Path) -> None:
    """30 calls in a process whose files may not grow past 3,000 bytes (RLIMIT_FSIZE,
    with SIGXFSZ ignored, as a real limit is met): every call is answered, the
    failures are counted, and the log stays readable (a cut record is skipped)."""
    import subprocess
    import sys

    log = tmp_path / "calls.jsonl"
    code = f"""
import json, resource, signal
import steadyllm as sl
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.RLIM_INFINITY))
settings = sl.Settings.load(env={{}}, dotenv=False, config_file=False,
                            log_to_file=True, log_file_path={str(log)!r})
with sl.SyncClient(settings) as client:
    texts = [client.chat("fake:m", [sl.user("hello " * 20)]).text for _ in range(30)]
print(json.dumps({{"answered": sum(bool(t) for t in texts),
                  "failures": client.sink_failures()}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answered"] == 30
    assert sum(result["failures"].values()) >= 1 and log.stat().st_size <= 3000
    from steadyllm._metering.observe import read_log

    records = read_log(log)  # readable: whole records only
    assert 0 < len(records) < 30 and all(r["success"] for r in records)
