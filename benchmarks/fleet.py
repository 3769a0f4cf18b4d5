"""A fleet of processes sharing one Redis: how many calls per second it admits,
and whether a shared limit holds exactly (part of `make bench`).

Each worker is a fresh process running one steadyllm client with
STEADYLLM_REDIS_URL set and 64 concurrent lanes of `chat()` against the fixed
server, all starting at the same moment. Two runs:

- throughput: limits far above what the fleet can reach; the fleet's total
  calls per second (the sum over workers of the calls they completed);
- exact limit: one shared requests-per-minute limit the fleet would exceed
  many times over; the calls completed may not pass what the token bucket
  allows (its full capacity at the start plus the refill over the run), and
  should come close to it.

Run alone: python benchmarks/fleet.py BASE_URL REDIS_URL [--workers 4] [--seconds 5]
(bench.py runs it with its own fixed server and Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LANES = 64
#: The exact-limit run's shared limit (requests per minute): 200 calls/s.
LIMIT_RPM = 12_000


async def work(base: str, redis: str, prefix: str, rpm: int, seconds: float, start: float) -> None:
    import steadyllm as sl

    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        openai_api_key="sk-bench",
        openai_base_url=base,
        redis_url=redis,
        redis_prefix=prefix,
        rate_limit_per_minute=rpm,
        tokens_per_minute=1_000_000_000,
        max_retries=0,
    )
    calls = errors = 0
    async with sl.Client(settings) as client:
        messages = [sl.user("Is it raining in Lyon?")]
        await client.chat("openai:gpt-4.1-mini", messages)  # connections, scripts, prices
        await asyncio.sleep(max(0.0, start - time.time()))
        stop = start + seconds

        async def lane() -> None:
            nonlocal calls, errors
            while time.time() < stop:
                try:
                    await client.chat("openai:gpt-4.1-mini", messages, timeout_ms=30_000)
                except sl.LLMError:
                    errors += 1
                else:
                    if time.time() <= stop:
                        calls += 1

        tasks = [asyncio.create_task(lane()) for _ in range(LANES)]
        await asyncio.sleep(max(0.0, stop - time.time()))
        for task in tasks:  # calls still waiting for a slot are not the fleet's to count
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"calls": calls, "errors": errors}))


def fleet(base: str, redis: str, workers: int, seconds: float, rpm: int) -> dict[str, Any]:
    """Start ``workers`` processes together; their summed calls and errors."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    start = time.time() + 3.0  # every worker imported and warmed up by then
    argv = [sys.executable, __file__, "--worker", base, redis, prefix, str(rpm), str(seconds)]
    procs = [
        subprocess.Popen([*argv, repr(start)], stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    calls = sum(r["calls"] for r in results)
    return {
        "calls": calls,
        "errors": sum(r["errors"] for r in results),
        "calls_per_s": calls / seconds,
    }


def run(base: str, redis: str, workers: int = 4, seconds: float = 5.0) -> dict[str, Any]:
    """Both runs; ``allowed`` is the most calls the exact-limit run may complete."""
    free = fleet(base, redis, workers, seconds, 10_000_000)
    bound = fleet(base, redis, workers, seconds, LIMIT_RPM)
    allowed = LIMIT_RPM + LIMIT_RPM / 60 * seconds
    return {
        "workers": workers,
        "seconds": seconds,
        "calls_per_s": free["calls_per_s"],
        "errors": free["errors"],
        "limit_rpm": LIMIT_RPM,
        "limited_calls": bound["calls"],
        "allowed_calls": allowed,
        "limited_errors": bound["errors"],
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        base, redis, prefix, rpm, seconds, start = sys.argv[2:8]
        asyncio.run(work(base, redis, prefix, int(rpm), float(seconds), float(start)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("redis_url")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(run(args.base_url, args.redis_url, args.workers, args.seconds), indent=2))


if __name__ == "__main__":
    os.environ.pop("STEADYLLM_REDIS_URL", None)  # the workers are given theirs
    main()
