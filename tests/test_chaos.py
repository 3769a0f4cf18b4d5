"""Chaos over loopback: a server that bills what it serves and misbehaves at random,
1,000 concurrent calls with random cancellations and deadlines against a budget.

The server counts the tokens of every response it starts (the prompt once it has
read a request it accepts, and every output token it writes), as a provider's
invoice would. The books must never show less than that bill for what reached
the server, never more than the budget, and every call must leave exactly one
log line (issue 13, "Proof").
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import steadyllm as sl

from .conftest import outcomes, spawn

PRICE_IN, PRICE_OUT = 1.0, 10.0  # $ per million tokens
LIMIT = 0.05
CALLS = 1000
MAX_TOKENS = 20
FAULTS = ["ok", "ok", "ok", "stream_ok", "stream_ok", "error", "hang", "stall", "cut"]


def server_prompt_tokens(body: dict[str, Any]) -> int:
    """The server's own (real) count: four characters per token, four per message."""
    messages = body.get("messages") or []
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return -(-chars // 4) + 4 * len(messages)


@dataclass
class BillingServer:
    seed: int
    billed_tokens: list[tuple[int, int]] = field(default_factory=list)
    started: int = 0

    def bill(self, prompt: int, output: int) -> None:
        self.billed_tokens.append((prompt, output))

    @property
    def billed_usd(self) -> float:
        return sum(p * PRICE_IN + o * PRICE_OUT for p, o in self.billed_tokens) / 1e6

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        rng = random.Random(self.seed + self.started)
        self.started += 1
        fault = rng.choice(FAULTS)
        if body.get("stream") and fault == "ok":
            fault = "stream_ok"
        if not body.get("stream") and fault in ("stream_ok", "stall", "cut"):
            fault = rng.choice(["ok", "hang"])
        if fault == "error":  # refused with an error status: nothing is billed
            return web.json_response(
                {"error": {"message": "overloaded", "type": "server_error"}}, status=500
            )
        prompt = server_prompt_tokens(body)
        words = rng.randint(1, min(MAX_TOKENS, int(body.get("max_tokens") or MAX_TOKENS)))
        index = len(self.billed_tokens)
        self.bill(prompt, 0)  # accepted: the prompt is billed
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault == "ok":
            self.billed_tokens[index] = (prompt, words)
            return web.json_response(
                {
                    "id": "chatcmpl-chaos",
                    "model": "chaos",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(["tok"] * words)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": words},
                }
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        stop_at = rng.randint(0, words) if fault in ("stall", "cut") else words
        for sent in range(words):
            if sent == stop_at:
                break
            chunk = {
                "id": "c",
                "model": "chaos",
                "choices": [{"index": 0, "delta": {"content": "tok "}}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.billed_tokens[index] = (prompt, sent + 1)
            await asyncio.sleep(0)
        if fault == "stall":
            await asyncio.sleep(3600)
        if fault == "cut":
            assert request.transport is not None
            request.transport.close()
            return response
        final = {
            "id": "c",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": words},
        }
        await response.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        return response


@pytest.fixture
async def billing_server() -> AsyncIterator[tuple[BillingServer, str]]:
    server = BillingServer(seed=13)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_a_thousand_chaotic_calls_are_booked_at_least_as_billed_and_within_budget(
    billing_server: tuple[BillingServer, str], tmp_path: Path
) -> None:
    server, base_url = billing_server
    log = tmp_path / "calls.jsonl"
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        compatible_base_url=base_url,
        prices={"compatible:chaos": {"input": PRICE_IN, "output": PRICE_OUT}},
        budget_usd=LIMIT,
        max_retries=1,
        retry_base_delay_ms=1,
        stream_idle_timeout_ms=300,
        log_to_file=True,
        log_file_path=str(log),
    )
    rng = random.Random(7)

    begun: set[int] = set()

    async def one(client: sl.Client, number: int) -> str:
        begun.add(number)  # the call starts in this same step (no await before it)
        context = sl.Context(metadata={"call": number})
        timeout = rng.choice([150, 400, 1500])
        prompt = [sl.user("what does this cost? " * rng.randint(1, 30))]
        options: dict[str, Any] = {
            "max_tokens": MAX_TOKENS,
            "timeout_ms": timeout,
            "context": context,
        }
        try:
            if number % 2:
                return (await client.chat("compatible:chaos", prompt, **options)).text
            async with client.stream("compatible:chaos", prompt, **options) as stream:
                async for event in stream:
                    if isinstance(event, sl.TextDelta) and rng.random() < 0.2:
                        break  # the caller leaves early
            return "stream"
        except sl.LLMError as exc:
            return exc.kind

    async with sl.Client(settings) as client:
        tasks: list[asyncio.Task[str]] = []
        cancels = 0

        async def cancel_some() -> None:
            """100 cancellations at random moments, each of a call still in flight;
            it runs while the calls are being started, so some are."""
            nonlocal cancels
            for _ in range(100):
                await asyncio.sleep(rng.uniform(0.0, 0.01))  # the chaos, not a sync point
                running = [t for t in tasks if not t.done()]
                if running and rng.choice(running).cancel():
                    cancels += 1

        canceller = asyncio.create_task(cancel_some())
        await spawn((one(client, n) for n in range(CALLS)), into=tasks)
        results = await outcomes(tasks)
        await canceller
        # Every cancellation surfaced as a cancellation: none was swallowed or turned
        # into another error on the way out of the library.
        assert cancels > 0
        assert sum(isinstance(o, asyncio.CancelledError) for o in results) == cancels
        assert "budget_exceeded" in results and "stream" in results
        books = client.costs.summary()["total"]
        budget = client.meter.budgets.snapshot()["global"]
    # Never less than the server billed for what reached it...
    assert books["cost_usd"] >= server.billed_usd - 1e-12, (books, server.billed_usd)
    assert books["cost_usd"] == pytest.approx(budget["spent"])
    # ...never more than the limit...
    assert budget["spent"] <= LIMIT + 1e-9 and budget["reserved"] == pytest.approx(0.0)
    # ...and one log line per call, cancelled ones included (a task cancelled before
    # it ever ran made no call).
    records = [json.loads(line) for line in log.read_text().splitlines()]
    calls = sorted(r["metadata"]["call"] for r in records)
    assert calls == sorted(begun) and len(begun) > CALLS * 0.9
    assert books["calls"] == len(begun) and server.started > 0
