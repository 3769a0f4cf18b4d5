"""``steadyllm demo``: a short tour of the public API over real HTTP.

It starts the provider emulator on a free loopback port and talks to it as
OpenAI, Anthropic and Azure OpenAI through the full pipeline: a chat, a
stream, tool calls, a 429 that is retried after the server's retry-after,
and a call that hangs until its deadline.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import steadyllm as sl
from steadyllm import LLMCallConfig, SQLiteRecorder
from steadyllm._flows.flowfile import Flow, FlowStep, run_flow
from steadyllm.emulator import Behavior, Emulator

UMBRELLA = {
    "title": "advice",
    "type": "object",
    "required": ["city", "umbrella"],
    "properties": {"city": {"type": "string"}, "umbrella": {"type": "boolean"}},
}


@sl.tool
def current_weather(city: str) -> dict[str, object]:
    """Current conditions for a city.

    Args:
        city: The city name.
    """
    return {"city": city, "sky": "drizzle", "temp_c": 11}


Say = Callable[[str], None]


async def run_demo(out: TextIO = sys.stdout) -> int:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    async with Emulator() as emulator:
        say(f"provider emulator listening on {emulator.url} (OpenAI, Anthropic, Azure protocols)")
        settings = emulator.settings()  # every provider pointed at the emulator
        async with sl.Client(settings) as client:
            with sl.context(run_id="demo-run", agent="tour"):
                await _chat(client, say)
                await _stream(client, emulator, out, say)
                await _tools(client, emulator, say)
                await _structured(client, emulator, say)
                await _retries(client, emulator, say)
                if not await _deadline(client, emulator, say):  # pragma: no cover
                    return 1
            await _flow(client, out, say)
            _costs(client, say)
        say(f"demo finished: {len(emulator.requests)} HTTP requests through the full pipeline")
    return 0


async def _chat(client: sl.Client, say: Say) -> None:
    say("1. chat with openai:gpt-4.1-mini (the emulator echoes the prompt)")
    r = await client.chat(
        "openai:gpt-4.1-mini", [sl.system("Be brief."), sl.user("Hello, steadyllm!")]
    )
    cost = "n/a" if r.usage.cost_usd is None else f"${r.usage.cost_usd:.6f}"
    say(
        f"   -> {r.text!r} finish={r.finish_reason} cost={cost} "
        f"tokens={r.usage.prompt_tokens}+{r.usage.completion_tokens} "
        f"request_id={r.request_id} "
        f"latency={r.latency_ms:.1f}ms"
    )


async def _stream(client: sl.Client, emulator: Emulator, out: TextIO, say: Say) -> None:
    say("2. stream from anthropic:claude-sonnet-4-5, chunk by chunk")
    emulator.push(
        Behavior(
            text="Once upon a time, a request was retried, and it lived happily ever after.",
            chunk_delay_ms=30,
        )
    )
    out.write("   -> ")
    async with client.stream("anthropic:claude-sonnet-4-5", [sl.user("A story?")]) as s:
        async for event in s:
            if isinstance(event, sl.TextDelta):
                out.write(event.text)
                out.flush()
    response = s.response
    say(
        f"\n      finish={response.finish_reason} ttft={response.ttft_ms or 0:.1f}ms "
        f"total={response.latency_ms:.0f}ms tokens={response.usage.total_tokens}"
    )


async def _tools(client: sl.Client, emulator: Emulator, say: Say) -> None:
    say(
        "3. a tool loop on azure:my-deployment: the model asks for two tools, "
        "steadyllm runs them in parallel and sends the results back"
    )
    emulator.push(
        Behavior(
            tool_calls=[
                {"name": "current_weather", "arguments": {"city": "Lyon"}},
                {"name": "current_weather", "arguments": {"town": "Nice"}},
            ]
        ),
        Behavior(text="Lyon: drizzle, 11°C. (Nice: I sent bad arguments.)"),
    )
    run = await client.chat_with_tools(
        "azure:my-deployment", [sl.user("Weather in Lyon and Nice?")], tools=[current_weather]
    )
    for ex in run.executions:
        say(f"   tool {ex.call.name}({ex.call.arguments}) -> {ex.result or ex.error}")
    say(f"   -> {run.text!r} after {run.iterations} model turns")


async def _structured(client: sl.Client, emulator: Emulator, say: Say) -> None:
    say("4. structured output: the first reply does not validate, the repair does")
    emulator.push(
        Behavior(text='{"city": "Lyon"}'),
        Behavior(text='{"city": "Lyon", "umbrella": true}'),
    )
    advice, response = await client.chat_json_response(
        "openai:gpt-4.1-mini", [sl.user("Umbrella in Lyon?")], schema=UMBRELLA
    )
    say(f"   -> {advice} validation={response.validation}")


async def _retries(client: sl.Client, emulator: Emulator, say: Say) -> None:
    say("5. retries: the server answers 429 twice with retry-after-ms: 200")
    emulator.push(Behavior(fault="rate_limit", retry_after_ms=200, times=2))
    r = await client.chat("openai:gpt-4.1-mini", [sl.user("Are you there?")])
    say(f"   -> {r.text!r} after {r.attempts} attempts in {r.latency_ms:.0f}ms")


async def _deadline(client: sl.Client, emulator: Emulator, say: Say) -> bool:
    say("6. deadline: the server never answers; timeout_ms=300")
    emulator.push(Behavior(fault="hang"))
    try:
        await client.chat("openai:gpt-4.1-mini", [sl.user("Hello?")], timeout_ms=300)
    except sl.LLMTimeoutError as exc:
        say(f"   -> {type(exc).__name__}: {exc}")
        return True
    say("   -> unexpected success")  # pragma: no cover - the script guarantees the hang
    return False  # pragma: no cover


async def _flow(client: sl.Client, out: TextIO, say: Say) -> None:
    say("7. a two-step flow, recorded in a SQLite run database")
    flow = Flow(
        "demo-flow",
        [
            FlowStep(
                "outline",
                LLMCallConfig(
                    model="openai:gpt-4.1-mini", template="Outline {{topic}} in three points."
                ),
                1,
            ),
            FlowStep(
                "title",
                LLMCallConfig(
                    model="anthropic:claude-sonnet-4-5", template="Title for: {{outline}}"
                ),
                2,
            ),
        ],
        {"topic": "retries"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        recorder = SQLiteRecorder(Path(tmp) / "runs.db")
        run_id, _ = await run_flow(flow, client, recorder, progress=out)
        for step in await recorder.steps(run_id):
            say(
                f"   {step.step_id}: {step.status}, {step.total_tokens} tokens, "
                f"{step.attempts} attempt(s) -> {step.text!r}"
            )
        recorder.close()


def _costs(client: sl.Client, say: Say) -> None:
    summary = client.costs.summary()
    total = summary["total"]
    estimated = (
        f" (${total['estimated_usd']:.6f} of it estimated: calls that reached the "
        "server but were never answered are booked at their worst case)"
        if total["estimated_usd"]
        else ""
    )
    by_model = ", ".join(
        f"{k} " + ("unpriced" if v["unpriced_calls"] else f"${v['cost_usd']:.6f}")
        for k, v in summary["by_model"].items()
    )
    say(
        f"8. costs: {total['calls']} calls, {total['total_tokens']} tokens, "
        f"${total['cost_usd']:.6f} priced from genai-prices{estimated}; by model: {by_model}"
    )
