"""Prices, costs, budgets, the request log, statistics and alerts."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._cli.main import main
from steadyllm._config.prices import ModelPrice, Rate, parse_prices
from steadyllm._metering.costs import Budgets, CostTracker, Spend
from steadyllm._metering.observe import (
    ConsoleFormatter,
    configure_logging,
    percentile,
    remove_console,
)
from steadyllm._metering.prices import FREE, PriceBook
from steadyllm._metering.tokens import estimate_text_tokens
from steadyllm.emulator import Behavior, Emulator

from .conftest import outcomes, spawn


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


# ------------------------------------------------------------------ prices


def test_catalog_prices_and_hand_computed_costs() -> None:
    book = PriceBook()
    mini = book.lookup("openai", "gpt-4o-mini-2024-07-18")
    assert mini is not None and "genai-prices" in mini.source
    # 600 fresh x $0.15 + 400 cached x $0.075 + 200 output (50 of them reasoning) x $0.60 per MTok
    usage = sl.Usage(
        prompt_tokens=1000, completion_tokens=200, cached_tokens=400, reasoning_tokens=50
    )
    assert mini.cost(usage) == pytest.approx((600 * 0.15 + 400 * 0.075 + 200 * 0.6) / 1e6)
    claude = book.lookup("anthropic", "claude-sonnet-4-5")
    assert claude is not None
    # 500 fresh x $3 + 1000 read x $0.30 + 500 written x $3.75 + 100 output x $15
    usage = sl.Usage(
        prompt_tokens=2000, completion_tokens=100, cached_tokens=1000, cache_write_tokens=500
    )
    assert claude.cost(usage) == pytest.approx((1500 + 300 + 1875 + 1500) / 1e6)
    # above 200k prompt tokens every token pays the higher tier
    big = sl.Usage(prompt_tokens=300_000, completion_tokens=1000)
    assert claude.cost(big) == pytest.approx((300_000 * 6 + 1000 * 22.5) / 1e6)


def test_overrides_exact_then_longest_prefix_and_unknown_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    overrides = parse_prices(
        {
            "gpt-4o": {"input": 2.5, "output": 10},
            "gpt-4o-mini": {"input": 0.1, "output": 0.4, "cache_read": 0.05},
            "vllm:llama": {"input": 0, "output": 0},
            "openai:gpt-4o-mini-special": {"input": 9, "output": 9, "cache_write": 1},
        },
        "test",
    )
    book = PriceBook(overrides, catalog=False)

    def source(provider: str, model: str) -> str:
        price = book.lookup(provider, model)
        assert price is not None
        return price.source

    assert source("openai", "gpt-4o-mini-2024-07-18") == "override: gpt-4o-mini"
    assert source("openai", "gpt-4o-2024-08-06") == "override: gpt-4o"
    assert source("openai", "gpt-4o-mini-special") == "override: openai:gpt-4o-mini-special"
    free_override = book.lookup("vllm", "llama-3-8b")
    assert free_override is not None and free_override.cost(sl.Usage(100, 100)) == 0.0
    with caplog.at_level(logging.WARNING, logger="steadyllm"):
        assert book.lookup("vllm", "mistral") is None
        assert book.lookup("vllm", "mistral") is None
    assert [r.getMessage() for r in caplog.records].count(
        "no price known for vllm:mistral: its calls get cost_usd=None; add it under [prices] "
        "in steadyllm.toml to count its cost"
    ) == 1
    assert book.lookup("fake", "anything") is FREE  # free by definition, not by omission


@pytest.mark.parametrize(
    "table",
    [
        [1],
        {"m": {"output": 1}},
        {"m": {"input": 1, "output": -1}},
        {"m": {"input": 1, "output": 1, "colour": 2}},
    ],
)
def test_bad_price_tables(table: Any) -> None:
    with pytest.raises(sl.ConfigError, match="invalid price"):
        sl.Settings.load(env={}, dotenv=False, prices=table)


def test_an_embedding_models_price_may_leave_output_out() -> None:
    prices = parse_prices({"vllm:bge-m3": {"input": 0.5}}, "prices")
    assert prices["vllm:bge-m3"].output.base == 0.0 and prices["vllm:bge-m3"].input.base == 0.5


def test_rates_estimates_and_serialisation() -> None:
    price = ModelPrice(Rate(1.0, ((100, 2.0),)), Rate(10.0))
    assert price.estimate(50, 1000) == pytest.approx((50 * 1 + 1000 * 10) / 1e6)
    assert price.to_dict()["input"] == {"base": 1.0, "tiers": [[100, 2.0]]}


def test_prices_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["prices", "openai:gpt-4o-mini"]) == 0
    out = capsys.readouterr().out
    assert "source: genai-prices" in out and f"{'input':<16} 0.15" in out
    assert re.search(r"last checked on \d{4}-\d{2}-\d{2}", out)
    (tmp_path / "steadyllm.toml").write_text('[prices."vllm:mine"]\ninput = 1\noutput = 2\n')
    assert main(["prices", "vllm:mine"]) == 0
    assert "override: vllm:mine" in capsys.readouterr().out
    assert main(["prices", "vllm:other"]) == 1
    assert '[prices."vllm:other"]' in capsys.readouterr().out


# ------------------------------------------------------------------ costs over the wire


@pytest.mark.parametrize("stream", [False, True])
async def test_costs_of_real_calls_match_hand_computation(emulator: Emulator, stream: bool) -> None:
    emulator.push(
        Behavior(
            usage={
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "cached_tokens": 400,
                "reasoning_tokens": 50,
            },
            api="openai",
        ),
        Behavior(
            usage={
                "prompt_tokens": 2000,
                "completion_tokens": 100,
                "cached_tokens": 1000,
                "cache_write_tokens": 500,
            },
            api="anthropic",
        ),
    )
    async with sl.Client(emulator.settings()) as client:

        async def call(model: str) -> sl.Response:
            if stream:
                async with client.stream(model, [sl.user("x")], context=sl.Context(agent="a")) as s:
                    return await s.final_response()
            return await client.chat(model, [sl.user("x")], context=sl.Context(agent="a"))

        openai_r = await call("openai:gpt-4o-mini")
        anthropic_r = await call("anthropic:claude-sonnet-4-5")
    assert openai_r.usage.cost_usd == pytest.approx((600 * 0.15 + 400 * 0.075 + 200 * 0.6) / 1e6)
    assert anthropic_r.usage.cost_usd == pytest.approx((1500 + 300 + 1875 + 1500) / 1e6)
    summary = client.costs.summary()
    assert summary["total"]["cost_usd"] == pytest.approx(
        (openai_r.usage.cost_usd or 0) + (anthropic_r.usage.cost_usd or 0)
    )
    assert summary["by_agent"]["a"]["calls"] == 2
    assert summary["by_model"]["anthropic:claude-sonnet-4-5"]["cached_tokens"] == 1000
    json.dumps(summary)


async def test_spend_of_an_interrupted_stream_is_counted(emulator: Emulator) -> None:
    # Anthropic reports input usage in message_start, before the connection drops.
    emulator.push(Behavior(fault="drop", after_chunks=1, usage={"prompt_tokens": 1000}))
    async with (
        sl.Client(emulator.settings()) as client,
        client.stream("anthropic:claude-sonnet-4-5", [sl.user("stream me")]) as s,
    ):
        with pytest.raises(sl.StreamInterruptedError) as info:
            await s.final_response()
    partial = info.value.partial
    # The prompt is exact (reported); the output is the larger of the reported count and
    # an upper estimate of the text that arrived, and the whole is marked as estimated.
    assert partial.usage.prompt_tokens == 1000
    output = max(1, estimate_text_tokens(partial.text))
    assert partial.text and partial.usage.completion_tokens == output
    assert partial.usage.cost_usd == pytest.approx(1000 * 3 / 1e6 + output * 15 / 1e6)
    assert partial.cost_estimated and partial.total_cost_usd == partial.usage.cost_usd
    total = client.costs.summary()["total"]
    assert total["failed_calls"] == 1 and total["prompt_tokens"] == 1000
    assert total["cost_usd"] == total["estimated_usd"] == partial.usage.cost_usd
    assert total["estimated_calls"] == 1


def test_tracker_groups_and_unpriced_and_cache_hits() -> None:
    tracker = CostTracker()
    ctx = sl.Context(run_id="r1", project_id="p", agent="planner")
    tracker.add(Spend("openai", "m", 10, 5, cost_usd=0.5, context=ctx))
    tracker.add(Spend("vllm", "x", 10, 5, cost_usd=None, context=ctx, ok=False))
    tracker.add(Spend("openai", "m", cost_usd=0.25, cache_hit=True))
    s = tracker.summary()
    assert s["total"]["cost_usd"] == 0.5 and s["total"]["unpriced_calls"] == 1
    assert s["total"]["cache_hits"] == 1 and s["total"]["saved_usd"] == 0.25
    assert s["by_run"]["r1"]["calls"] == 2 and s["by_project"]["p"]["failed_calls"] == 1
    assert s["by_agent"]["(none)"]["cache_hits"] == 1


# ------------------------------------------------------------------ budgets


def priced(emu: Emulator, **extra: Any) -> sl.Settings:
    return emu.settings(prices={"openai:gpt-4o-mini": {"input": 1.0, "output": 10.0}}, **extra)


async def test_a_thousand_concurrent_calls_never_overshoot_the_budget(emulator: Emulator) -> None:
    async with sl.Client(priced(emulator, budget_usd=0.05, max_retries=0)) as client:
        tasks = await spawn(
            client.chat("openai:gpt-4o-mini", [sl.user("x")], max_tokens=100) for _ in range(1000)
        )
        results = await outcomes(tasks)
    refused = [r for r in results if isinstance(r, sl.BudgetExceededError)]
    served = [r for r in results if isinstance(r, sl.Response)]
    assert len(refused) + len(served) == 1000 and refused and served
    spent = client.costs.summary()["total"]["cost_usd"]
    assert spent == pytest.approx(sum(r.usage.cost_usd or 0 for r in served))
    budget = client.meter.budgets.snapshot()["global"]
    assert budget["spent"] <= 0.05 and budget["reserved"] == 0 and spent <= 0.05
    assert "the global budget of $0.0500 would be exceeded" in str(refused[0])
    assert len(emulator.requests) == len(served)  # refused calls were never sent


async def test_per_request_cap_and_per_run_and_agent_budgets(emulator: Emulator) -> None:
    async with sl.Client(priced(emulator, max_cost_per_request_usd=0.001)) as client:
        with pytest.raises(sl.BudgetExceededError, match="MAX_COST_PER_REQUEST_USD"):
            await client.chat("openai:gpt-4o-mini", [sl.user("x")], max_tokens=1000)
        await client.chat("openai:gpt-4o-mini", [sl.user("x")], max_tokens=50)
    budgets = Budgets(per_run_usd=1.0, per_agent_usd=0.5)
    a = sl.Context(run_id="r", agent="a")
    budgets.reserve(0.4, a, provider="p", model="m").settle(0.4)
    with pytest.raises(sl.BudgetExceededError, match="agent a"):
        budgets.reserve(0.2, a, provider="p", model="m")
    budgets.reserve(0.5, sl.Context(run_id="r", agent="b"), provider="p", model="m")
    with pytest.raises(sl.BudgetExceededError, match="run r"):
        budgets.reserve(0.2, sl.Context(run_id="r", agent="c"), provider="p", model="m")
    assert budgets.reserve(5.0, None, provider="p", model="m").amount == 5.0  # no run, no agent


async def test_a_budget_needs_a_price(emulator: Emulator) -> None:
    async with sl.Client(emulator.settings(budget_usd=1.0)) as client:
        with pytest.raises(sl.ConfigError, match="no price is known for vllm:x"):
            await client.chat("vllm:x", [sl.user("x")])


async def test_alert_fires_once_with_a_warning() -> None:
    alerts: list[tuple[float, float]] = []
    fake = sl.FakeProvider([sl.FakeReply("x", usage=sl.Usage(1_000_000, 0))] * 3)
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        alert_cost_threshold_usd=1.5,
        prices={"fake:m": {"input": 1, "output": 1}},
    )
    async with sl.Client(
        settings,
        providers={"fake": fake},
        clock=sl.FakeClock(),
        on_cost_alert=lambda t, th: alerts.append((t, th)),
    ) as client:
        for _ in range(3):
            await client.chat("fake:m", [sl.user("x")])
    assert alerts == [(2.0, 1.5)]


# ------------------------------------------------------------------ request log


async def test_request_log_records_every_call(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "logs" / "llm.jsonl"
    emulator.push(Behavior(fault="status", status=500))
    settings = priced(
        emulator, log_to_file=True, log_file_path=str(path), max_retries=1, retry_base_delay_ms=1
    )
    async with sl.Client(settings) as client:
        with sl.context(run_id="run-7", agent="writer", metadata={"prompt_version": "v3"}):
            ok = await client.chat("openai:gpt-4o-mini", [sl.user("hello")], temperature=0.3)
            emulator.push(Behavior(fault="auth"))
            with pytest.raises(sl.AuthenticationError):
                await client.chat("openai:gpt-4o-mini", [sl.user("again")])
            async with client.stream("openai:gpt-4o-mini", [sl.user("a b")]) as s:
                await s.final_response()
            async with client.stream("openai:gpt-4o-mini", [sl.user("left early")]) as s:
                async for _ in s:
                    break
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 4 and all(r["schema"] == 2 and r["timestamp"] for r in lines)
    assert all("ts" not in r for r in lines)
    first, failed, streamed, left = lines
    assert (first["success"], first["attempts"], first["run_id"], first["agent"]) == (
        True,
        2,
        "run-7",
        "writer",
    )
    assert first["prompt_version"] == "v3" and first["temperature"] == 0.3
    assert (
        first["cost_usd"] == pytest.approx(ok.usage.cost_usd)
        and first["request_id"] == ok.request_id
    )
    assert len(first["prompt_sha256"]) == 64 and first["response_sha256"] and "prompt" not in first
    assert (failed["success"], failed["error_kind"], failed["attempts"]) == (
        False,
        "authentication",
        1,
    )
    assert "sk-emulator-openai" not in path.read_text()  # the configured key never reaches the log
    assert (
        streamed["stream"]
        and streamed["ttft_ms"] is not None
        and streamed["finish_reason"] == "stop"
    )
    assert (left["success"], left["error_kind"]) == (False, "abandoned")


async def test_prompts_are_logged_only_when_asked(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    async with sl.Client(
        emulator.settings(log_to_file=True, log_file_path=str(path), log_prompts=True)
    ) as client:
        await client.chat("openai:m", [sl.user("secret plan")])
    record = json.loads(path.read_text())
    assert (
        record["prompt"][0]["content"][0]["text"] == "secret plan"
        and record["response"] == "secret plan"
    )


def test_an_unwritable_log_path_fails_at_start_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = sl.Settings.load(
        env={}, dotenv=False, log_to_file=True, log_file_path=str(blocker / "llm.jsonl")
    )
    with pytest.raises(sl.ConfigError, match=r"LOG_FILE_PATH=.* is not writable"):
        sl.Client(settings)


async def test_costs_and_stats_reports_match_the_tracker(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "llm.jsonl"
    settings = priced(emulator, log_to_file=True, log_file_path=str(path), enable_metrics=True)
    async with sl.Client(settings) as client:
        for agent in ("a", "b", "a"):
            await client.chat(
                "openai:gpt-4o-mini", [sl.user("x" * 40)], context=sl.Context(agent=agent)
            )
        emulator.push(Behavior(fault="quota", api="openai"))
        with pytest.raises(sl.QuotaExceededError):
            await client.chat("openai:gpt-4o-mini", [sl.user("x")])
        await client.chat(
            "anthropic:claude-sonnet-4-5", [sl.user("y")], context=sl.Context(agent="b")
        )

    def read_reports() -> None:  # the CLI reading the log: off the event loop
        assert main(["costs", str(path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        tracked = client.costs.summary()
        assert report["total"] == tracked["total"] and report["by_agent"] == tracked["by_agent"]
        assert report["by_model"] == tracked["by_model"]
        assert main(["costs", str(path)]) == 0
        table = capsys.readouterr().out
        assert "by model" in table and "openai:gpt-4o-mini" in table and "by agent" in table
        assert main(["stats", str(path), "--json"]) == 0
        stats = json.loads(capsys.readouterr().out)
        assert stats["overall"]["requests"] == 5 and stats["overall"]["failures"] == {
            "quota_exceeded": 1
        }
        assert client.stats is not None and client.stats.summary()["overall"]["requests"] == 5
        assert main(["stats", str(path)]) == 0
        assert "quota_exceeded=1" in capsys.readouterr().out

    await asyncio.to_thread(read_reports)


def test_reading_a_broken_log_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"provider": "p"}\nnot json\n')
    assert main(["costs", str(path)]) == 2
    assert "bad.jsonl:2 is not a JSON line" in capsys.readouterr().err


# ------------------------------------------------------------------ statistics and console


async def test_latency_percentiles_on_virtual_time() -> None:
    fake = sl.FakeProvider([sl.FakeReply("x", latency=ms / 1000) for ms in range(1, 101)])
    settings = sl.Settings.load(env={}, dotenv=False, enable_metrics=True)
    async with sl.Client(settings, providers={"fake": fake}, clock=sl.FakeClock()) as client:
        for _ in range(100):
            await client.chat("fake:m", [sl.user("x")])
    assert client.stats is not None
    latency = client.stats.summary()["by_model"]["fake:m"]["latency_ms"]
    assert latency == {
        "p50": pytest.approx(51, abs=1),
        "p95": pytest.approx(95, abs=1),
        "p99": pytest.approx(99, abs=1),
    }
    assert percentile([], 50) is None


def test_console_lines_coloured_only_on_a_terminal() -> None:
    record = logging.LogRecord("steadyllm.calls", logging.INFO, "f", 1, "openai:m ok", None, None)
    record.outcome = "ok"
    assert "\033[32m" in ConsoleFormatter(colour=True).format(record)
    plain = ConsoleFormatter(colour=False).format(record)
    assert "\033" not in plain and plain.endswith("INFO    openai:m ok")


async def test_log_to_console_prints_one_line_per_call() -> None:
    stream = io.StringIO()
    configure_logging("INFO", True, stream)
    try:
        settings = sl.Settings.load(env={}, dotenv=False, log_to_console=True)
        async with sl.Client(settings, clock=sl.FakeClock()) as client:
            await client.chat("fake:m", [sl.user("hello")])
    finally:
        remove_console()
    assert "fake:m ok" in stream.getvalue() and "$0.000000" in stream.getvalue()


async def test_the_library_logger_installs_no_handlers_unless_asked() -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False), clock=sl.FakeClock()) as client:
        await client.chat("fake:m", [sl.user("x")])
    assert logging.getLogger("steadyllm").handlers == []
    assert logging.getLogger("steadyllm.calls").handlers == []


def test_resolved_prices_are_remembered_on_disk_for_new_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    from steadyllm._metering.prices import cache_dir

    directory = str(tmp_path / "prices")
    first = PriceBook(cache_dir=directory)
    claude = first.lookup("anthropic", "claude-sonnet-4-5")
    assert claude is not None and claude.input.tiers  # a tiered price survives the trip
    assert first.lookup("openai", "no-such-model-xyz") is None
    (file,) = (tmp_path / "prices").glob("prices-v6-*.json")
    code = f"""
import sys
from steadyllm._metering.prices import PriceBook
book = PriceBook(cache_dir={directory!r})
assert not book.needs_catalog("anthropic", "claude-sonnet-4-5")
price = book.lookup("anthropic", "claude-sonnet-4-5")
print(repr(price))
print(book.lookup("openai", "no-such-model-xyz"))
print("genai_prices" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    price, unknown, imported = out.stdout.strip().splitlines()
    assert price == repr(claude) and unknown == "None" and imported == "False"
    file.write_text("{not json")  # a damaged file is ignored and rewritten
    again = PriceBook(cache_dir=directory)
    assert again.lookup("anthropic", "claude-sonnet-4-5") == claude
    assert "claude-sonnet-4-5" in file.read_text()
    assert cache_dir("off") is None and cache_dir("/x") == "/x"
    assert str(cache_dir("")).endswith("steadyllm")
    PriceBook(cache_dir=None).lookup("anthropic", "claude-sonnet-4-5")  # "off": nothing written
    assert len(list((tmp_path / "prices").iterdir())) == 1
