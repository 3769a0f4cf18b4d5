"""Where steadyllm's own time goes in one call, with the network taken out.

The transport is replaced by a stub that returns the fixed server's reply at
once, so what remains is steadyllm: planning, the guard, encoding, decoding,
accounting and the log. Prints the CPU per call (best of five rounds of
10,000 calls) and the cProfile table of the functions that cost the most.

Run: python benchmarks/profile_call.py [minimal|default|shared|shared-offline] [--top N]
(shared: the default with state in the Redis at $BENCH_REDIS_URL; shared-offline:
the same with Redis's replies made up in-process, so what remains of the shared
overhead is steadyllm's own Python, not redis-py or the network)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixed_server

import steadyllm as sl
from steadyllm._http import transport as _transport

HEADERS = {"content-type": "application/json", "x-request-id": "req_bench"}


class _StubResponse:
    __slots__ = ("headers", "status")

    def __init__(self) -> None:
        self.status = 200
        self.headers = HEADERS

    async def read(self) -> bytes:
        return fixed_server.BODY

    def close(self) -> None:
        pass


async def _send(self: Any, request: Any) -> Any:
    return _StubResponse()


async def _offline_pipeline(self: Any, redis: Any, batch: list[Any]) -> list[Any]:
    """In place of ScriptBatcher._pipeline: pack the batch as for the wire, answer
    each script call as a healthy, idle Redis would."""
    from steadyllm._shared.attempt import ADMIT, SETTLE
    from steadyllm._shared.batch import pack

    self.round_trips += 1
    self.commands += len(batch)
    _wire = b"".join(pack(b"EVALSHA", c.sha, len(c.keys), *c.keys, *c.args) for c in batch)
    await asyncio.sleep(0)
    replies = {ADMIT: [b"ok", b"0", b"closed", b"", b"ok", b"0.0", b"1"], SETTLE: [b"closed", b""]}
    return [replies.get(c.script, 1) for c in batch]


async def main(kind: str, top: int) -> None:
    _transport.HTTPTransport.send = _send  # type: ignore[method-assign]
    if kind == "shared-offline":
        from steadyllm._shared.batch import ScriptBatcher

        ScriptBatcher._pipeline = _offline_pipeline  # type: ignore[method-assign]
    if kind == "minimal":
        extra: dict[str, Any] = {"max_retries": 0, "enable_tracing": False}
    else:
        log = os.path.join(tempfile.mkdtemp(), "llm.jsonl")
        extra = {
            "rate_limit_per_minute": 10_000_000,
            "tokens_per_minute": 1_000_000_000,
            "log_to_file": True,
            "log_file_path": log,
        }
        if kind.startswith("shared"):  # the same, with limiter, breaker and costs in Redis
            extra["redis_url"] = os.environ["BENCH_REDIS_URL"]
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-bench",
        openai_base_url="http://127.0.0.1:9/v1",
        **extra,
    )
    async with sl.Client(settings) as client:
        messages = [sl.user("Is it raining in Lyon?")]
        model = "openai:gpt-4.1-mini"
        for _ in range(2_000):
            await client.chat(model, messages)
        best = float("inf")
        for _ in range(5):
            cpu = time.process_time()
            for _ in range(10_000):
                await client.chat(model, messages)
            best = min(best, (time.process_time() - cpu) / 10_000 * 1e6)
        print(f"steadyllm {kind}: {best:.1f} µs of CPU per call without the network\n")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10_000):
            await client.chat(model, messages)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "kind",
        nargs="?",
        choices=("minimal", "default", "shared", "shared-offline"),
        default="default",
    )
    parser.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    args = parser.parse_args()
    asyncio.run(main(args.kind, args.top))
