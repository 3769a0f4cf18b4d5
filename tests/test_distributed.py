"""The issue's proofs with real processes: four workers (tests/distributed_worker.py)
share limits, a budget and a breaker through a real redis-server, against an
emulator running in its own process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import RedisServer
from .test_e2e_resilience import emulator_process, health

WORKER = str(Path(__file__).with_name("distributed_worker.py"))
pytestmark = pytest.mark.timeout(180)


def worker_settings(url: str, redis: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "openai_api_key": "sk-distributed-test",
        "openai_base_url": f"{url}/v1",
        "redis_url": redis,
        "redis_prefix": prefix,
        "timeout_ms": 120_000,
        **extra,
    }


def run_workers(configs: list[dict[str, Any]], during: Any = None) -> list[dict[str, Any]]:
    """Start every worker, release them together, optionally act mid-run, collect results."""
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        if during is not None:
            during()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=150)
            assert proc.returncode == 0, f"worker failed: {out}"
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:  # pragma: no cover - only after a failure above
                proc.kill()


async def script(url: str, behavior: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http:
        reply = await http.post(f"{url}/_emulator/script", json=behavior)
        assert reply.status == 200, await reply.text()


async def fleet(redis: str, prefix: str) -> dict[str, Any]:
    import steadyllm as sl

    settings = sl.Settings.load(
        env={}, dotenv=False, config_file=False, redis_url=redis, redis_prefix=prefix
    )
    async with sl.Client(settings) as client:
        return await client.fleet_costs()


async def test_four_processes_share_a_request_and_token_limit(redis_url: str) -> None:
    # 120 requests/min and 20,000 tokens/min; each call reserves ~5 prompt + 160 output
    # tokens, so both limits bind: 160 calls need ~20 s beyond the first minute's burst.
    prefix = f"pace-{uuid.uuid4().hex[:8]}"
    async with emulator_process("--rpm", "120", "--tpm", "20000") as url:
        limits = {"rate_limit_per_minute": 120, "tokens_per_minute": 20_000}
        config = {
            "settings": worker_settings(url, redis_url, prefix, **limits),
            "model": "openai:gpt-4o",
            "calls": 40,
            "max_tokens": 160,
        }
        results = await asyncio.to_thread(run_workers, [config] * 4)
        served = await health(url)
    assert served["rate_limited"] == 0 and served["requests"] == 160
    assert all(r["served"] == 40 and r["errors"] == {} for r in results)
    elapsed = max(r["elapsed"] for r in results)
    tokens_per_call = 165
    # What the stricter of the two limits allowed in that time, and what we used of it.
    allowed = min(120 + 2.0 * elapsed, (20_000 + 20_000 / 60 * elapsed) / tokens_per_call)
    assert 160 / allowed >= 0.95, (elapsed, allowed)


async def test_four_processes_with_250_concurrent_calls_never_overshoot_one_budget(
    redis_url: str,
) -> None:
    prefix = f"budget-{uuid.uuid4().hex[:8]}"
    # $20 per million output tokens and 100 output tokens per call: about $0.002 a
    # call, so the 1,000 calls would spend about $2 against a $1.00 budget.
    prices = {"openai:gpt-4o-mini": {"input": 1.0, "output": 20.0}}
    async with emulator_process() as url:
        await script(url, {"usage": {"completion_tokens": 100}, "times": 1000})
        config = {
            "settings": worker_settings(
                url, redis_url, prefix, budget_usd=1.0, prices=prices, max_retries=0
            ),
            "model": "openai:gpt-4o-mini",
            "calls": 250,
            "max_tokens": 100,
        }
        results = await asyncio.to_thread(run_workers, [config] * 4)
        served = await health(url)
    spent = sum(r["spent"] for r in results)
    assert spent <= 1.0 + 1e-9
    assert set().union(*(r["errors"] for r in results)) <= {"budget_exceeded"}, results
    assert served["requests"] == sum(r["served"] for r in results)  # refused calls never sent
    totals = (await fleet(redis_url, prefix))["total"]
    assert totals["cost_usd"] == pytest.approx(spent) and totals["calls"] == 1000


async def test_failures_seen_by_one_process_open_the_circuit_for_all(redis_url: str) -> None:
    prefix = f"breaker-{uuid.uuid4().hex[:8]}"
    async with emulator_process() as url:
        await script(url, {"fault": "status", "status": 503, "times": 3})
        settings = worker_settings(
            url, redis_url, prefix, circuit_breaker_failure_threshold=3, max_retries=0
        )
        first = {"settings": settings, "model": "openai:gpt-4o", "calls": 3}
        (tripper,) = await asyncio.to_thread(run_workers, [first])
        others = await asyncio.to_thread(run_workers, [{**first, "calls": 5}] * 3)
        served = await health(url)
    assert tripper["errors"] == {"server_error": 3}
    assert all(r["errors"] == {"circuit_open": 5} for r in others)
    assert "shared through Redis" in others[0]["first_error"]
    assert served["requests"] == 3  # the other processes never reached the provider


async def test_redis_killed_and_restarted_mid_run(redis_url: str, tmp_path: Path) -> None:
    # A persistent server (append-only file, fsync on every write) of the test's own.
    server = RedisServer(tmp_path, persist=True)
    await asyncio.to_thread(server.start)  # it polls the new process: not in the loop
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    prices = {"openai:gpt-4o-mini": {"input": 1.0, "output": 20.0}}
    try:
        async with emulator_process("--rpm", "600") as url:
            config = {
                "settings": worker_settings(
                    url,
                    server.url,
                    prefix,
                    rate_limit_per_minute=600,
                    budget_usd=10.0,
                    prices=prices,
                    max_retries=20,
                    retry_max_delay_ms=1_000,
                ),
                "model": "openai:gpt-4o-mini",
                "calls": 165,
            }
            restarted = threading.Event()

            def outage() -> None:
                # 660 calls: a burst of ~590, then 10 a second for ~7 s; Redis dies
                # for a second in the middle of that.
                threading.Event().wait(2.0)  # real time: the workers are other processes
                server.stop(kill=True)
                threading.Event().wait(1.0)
                server.start()
                restarted.set()

            results = await asyncio.to_thread(run_workers, [config] * 4, outage)
            assert restarted.is_set()
            served = await health(url)
        assert all(r["served"] == 165 and r["errors"] == {} for r in results), results
        assert served["rate_limited"] == 0 and served["requests"] == 660
        assert any(r["redis_failures"] for r in results)  # the outage was seen
        totals = (await fleet(server.url, prefix))["total"]
        # Nothing lost and nothing counted twice across the reconnect.
        assert totals["calls"] == 660
        assert totals["cost_usd"] == pytest.approx(sum(r["tracked_cost"] for r in results))
    finally:
        await asyncio.to_thread(server.stop)
