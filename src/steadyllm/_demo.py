"""``steadyllm demo``: a short tour of the public API, offline, in real time."""

from __future__ import annotations

import sys
from typing import TextIO

import steadyllm as sl


async def run_demo(out: TextIO = sys.stdout) -> int:
    """Chat, stream, a retried failure and a deadline, against the fake provider."""
    fake = sl.FakeProvider(
        scripts={
            "flaky": [
                sl.FakeFault("rate_limit", times=2, retry_after=0.2),
                sl.FakeReply("Answered on the third attempt."),
            ],
            "storyteller": [
                sl.FakeReply(
                    "Once upon a time, a request was retried, and it lived happily ever after.",
                    chunk_delay=0.03,
                ),
            ],
            "stuck": [sl.FakeHang()],
        }
    )
    settings = sl.Settings.load(env={}, dotenv=False, config_file=None)

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    async with sl.Client(settings, providers={"fake": fake}) as client:
        with sl.context(run_id="demo-run", agent="tour"):
            say("1. chat: fake:echo repeats the last user message")
            r = await client.chat(
                "fake:echo", [sl.system("Be brief."), sl.user("Hello, steadyllm!")]
            )
            say(
                f"   -> {r.text!r}  finish={r.finish_reason} tokens={r.usage.prompt_tokens}+"
                f"{r.usage.completion_tokens} latency={r.latency_ms:.1f}ms "
                f"run_id={r.context.run_id if r.context else None}"
            )

            say("2. stream: chunks arrive as they are produced")
            out.write("   -> ")
            async with client.stream("fake:storyteller", [sl.user("Tell a story")]) as s:
                async for event in s:
                    if isinstance(event, sl.TextDelta):
                        out.write(event.text)
                        out.flush()
            say(
                f"\n      finish={s.response.finish_reason} ttft={s.response.ttft_ms:.1f}ms "
                f"total={s.response.latency_ms:.0f}ms"
            )

            say("3. retries: two scripted 429s with retry-after 0.2s, then success")
            r = await client.chat("fake:flaky", [sl.user("Are you there?")])
            say(f"   -> {r.text!r} after {r.attempts} attempts in {r.latency_ms:.0f}ms")

            say("4. deadline: a provider that never answers, with timeout_ms=300")
            try:
                await client.chat("fake:stuck", [sl.user("Hello?")], timeout_ms=300)
            except sl.LLMTimeoutError as exc:
                say(f"   -> {type(exc).__name__}: {exc}")
            else:  # pragma: no cover - the script guarantees the hang
                say("   -> unexpected success")
                return 1
    say("demo finished: every call went through the public API")
    return 0
