"""Pacing benchmark: many concurrent callers against a provider that enforces a limit.

Starts `steadyllm emulate --rpm R --tpm T` in its own process, configures steadyllm
with the same limits, fires N concurrent calls, and reports how many 429s the
server sent and what share of the allowed rate the callers achieved, where
"allowed" is what the provider's buckets (full at the start, refilled
continuously) would have let through in the elapsed time.

Run: python benchmarks/pacing.py [--callers 200] [--rpm 120] [--tpm 20000] [--max-tokens 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request

import steadyllm as sl
from steadyllm._metering.tokens import estimate_prompt_tokens

PROMPT = "Summarise the weather in Lyon in one sentence."


async def run(args: argparse.Namespace, base: str) -> tuple[float, int]:
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        openai_api_key="sk-bench",
        openai_base_url=f"{base}/v1",
        rate_limit_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        timeout_ms=600_000,
    )
    async with sl.Client(settings) as client:
        start = time.monotonic()
        results = await asyncio.gather(
            *(
                client.chat("openai:gpt-4o", [sl.user(PROMPT)], max_tokens=args.max_tokens)
                for _ in range(args.callers)
            ),
            return_exceptions=True,
        )
        elapsed = time.monotonic() - start
    failures = sum(isinstance(r, BaseException) for r in results)
    return elapsed, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--rpm", type=int, default=120)
    parser.add_argument("--tpm", type=int, default=20_000)
    parser.add_argument("--max-tokens", type=int, default=100)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "steadyllm",
            "emulate",
            "--port",
            "0",
            "--rpm",
            str(args.rpm),
            "--tpm",
            str(args.tpm),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().rsplit(" ", 1)[1].strip()
        elapsed, failures = asyncio.run(run(args, base))
        with urllib.request.urlopen(f"{base}/_emulator/health") as reply:  # noqa: S310 - loopback
            health = json.load(reply)
    finally:
        server.terminate()
        server.wait()
    cost = estimate_prompt_tokens([sl.user(PROMPT)]) + args.max_tokens
    allowed = min(args.rpm + args.rpm / 60 * elapsed, (args.tpm + args.tpm / 60 * elapsed) / cost)
    achieved = min(1.0, args.callers / allowed)  # calls made / calls the limits allowed
    print(
        f"| callers | rpm | tpm | tokens/call | elapsed (s) | 429s | failed calls | "
        f"share of allowed rate |\n|---|---|---|---|---|---|---|---|\n"
        f"| {args.callers} | {args.rpm} | {args.tpm} | {cost} | {elapsed:.1f} | "
        f"{health['rate_limited']} | {failures} | {achieved:.1%} |"
    )


if __name__ == "__main__":
    main()
