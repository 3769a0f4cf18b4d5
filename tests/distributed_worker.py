"""One worker process of the distributed tests (tests/test_distributed.py).

Run as ``python tests/distributed_worker.py '<json>'``: it builds a client
from the JSON's ``settings``, prints ``ready``, waits for a line on stdin
(so every worker starts at the same moment), makes ``calls`` concurrent
calls to ``model`` and prints one JSON line with what happened.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import steadyllm as sl


async def main(config: dict[str, Any]) -> dict[str, Any]:
    settings = sl.Settings.load(env={}, dotenv=False, config_file=False, **config["settings"])
    async with sl.Client(settings) as client:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        start = time.monotonic()

        async def call() -> sl.Response:
            return await client.chat(
                config["model"], [sl.user("x")], max_tokens=config.get("max_tokens", 50)
            )

        results = await asyncio.gather(
            *(call() for _ in range(config["calls"])), return_exceptions=True
        )
        elapsed = time.monotonic() - start
        served = [r for r in results if isinstance(r, sl.Response)]
        failed = [r for r in results if not isinstance(r, sl.Response)]
        for error in failed:
            if not isinstance(error, sl.LLMError):
                raise error
        summary = client.costs.summary()["total"]
        shared = client.shared.snapshot() if client.shared is not None else {}
    return {
        "elapsed": elapsed,
        "served": len(served),
        "errors": dict(Counter(e.kind for e in failed if isinstance(e, sl.LLMError))),
        "first_error": str(failed[0]) if failed else None,
        "spent": sum(r.usage.cost_usd or 0.0 for r in served),
        "tracked_cost": summary["cost_usd"],
        "tracked_calls": summary["calls"],
        "redis_failures": shared.get("failures", {}),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
