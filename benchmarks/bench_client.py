"""One client under test, in a fresh process pinned to core 0 (see bench.py).

Run: python benchmarks/bench_client.py CLIENT BASE_URL SERVER_PID [--leak N | --first-call]
Prints one JSON object: import plus first call, CPU per call one at a time,
calls/s and CPU per call at 64 concurrent, CPU per streamed chunk (200-chunk
streams, 16 concurrent), peak RSS, RSS growth over N calls, and the fixed
server's CPU share while the client ran flat out.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

MODEL = "gpt-4.1-mini"
MESSAGES = [{"role": "user", "content": "Is it raining in Lyon?"}]
PAYLOAD = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
STREAM_PAYLOAD = json.dumps({"model": MODEL, "messages": MESSAGES, "stream": True}).encode()
HEADERS = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

Call = Callable[[], Awaitable[Any]]
Stream = Callable[[], Awaitable[int]]  # returns the number of chunks seen


@asynccontextmanager
async def raw_aiohttp(base: str) -> AsyncIterator[tuple[Call, Stream]]:
    import aiohttp

    url = f"{base}/chat/completions"
    async with aiohttp.ClientSession() as session:

        async def call() -> Any:
            async with session.post(url, data=PAYLOAD, headers=HEADERS) as r:
                return json.loads(await r.read())

        async def stream() -> int:
            chunks = 0
            async with session.post(url, data=STREAM_PAYLOAD, headers=HEADERS) as r:
                async for line in r.content:  # naive: one SSE event per "data:" line
                    if line.startswith(b"data: ") and line[6:].strip() != b"[DONE]":
                        json.loads(line[6:])
                        chunks += 1
            return chunks

        yield call, stream


@asynccontextmanager
async def raw_httpx(base: str) -> AsyncIterator[tuple[Call, Stream]]:
    import httpx

    url = f"{base}/chat/completions"
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:

        async def call() -> Any:
            r = await client.post(url, content=PAYLOAD, headers=HEADERS)
            return r.json()

        async def stream() -> int:
            chunks = 0
            async with client.stream("POST", url, content=STREAM_PAYLOAD, headers=HEADERS) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and line[6:].strip() != "[DONE]":
                        json.loads(line[6:])
                        chunks += 1
            return chunks

        yield call, stream


@asynccontextmanager
async def openai_sdk(base: str) -> AsyncIterator[tuple[Call, Stream]]:
    import openai

    async with openai.AsyncOpenAI(base_url=base, api_key="sk-bench") as client:

        async def call() -> Any:
            return await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

        async def stream() -> int:
            chunks = 0
            events = await client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
            )
            async for chunk in events:
                chunks += 1 if chunk.choices else 0
            return chunks

        yield call, stream


def steadyllm_factory(default: bool, shared: bool = False) -> Callable[[str], Any]:
    @asynccontextmanager
    async def steadyllm_client(base: str) -> AsyncIterator[tuple[Call, Stream]]:
        import steadyllm as sl

        options: dict[str, Any] = {"openai_api_key": "sk-bench", "openai_base_url": base}
        if default:
            # Everything on: retries, limiter (limits high enough never to wait),
            # breaker, cost tracking with a real price, and the JSONL request log.
            log = os.path.join(tempfile.mkdtemp(), "llm.jsonl")
            options |= {
                "rate_limit_per_minute": 10_000_000,
                "tokens_per_minute": 1_000_000_000,
                "log_to_file": True,
                "log_file_path": log,
            }
        else:
            options |= {"max_retries": 0, "enable_tracing": False}
        if shared:  # the same, with limiter, breaker and cost counters in Redis
            options["redis_url"] = os.environ["BENCH_REDIS_URL"]
        settings = sl.Settings.load(env={}, dotenv=False, config_file=False, **options)
        async with sl.Client(settings) as client:
            messages = [sl.user(MESSAGES[0]["content"])]
            model = f"openai:{MODEL}"

            async def call() -> Any:
                return await client.chat(model, messages)

            async def stream() -> int:
                chunks = 0
                async with client.stream(model, messages) as events:
                    async for event in events:
                        chunks += isinstance(event, sl.TextDelta)
                return chunks

            yield call, stream

    return steadyllm_client


CLIENTS = {
    "raw aiohttp": raw_aiohttp,
    "raw httpx": raw_httpx,
    "openai SDK": openai_sdk,
    "steadyllm default": steadyllm_factory(True),
    "steadyllm minimal": steadyllm_factory(False),
    "steadyllm Redis-shared": steadyllm_factory(True, shared=True),
}


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_of(pid: int) -> float:
    """User plus system CPU seconds of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def concurrently(fn: Call, total: int, width: int) -> None:
    remaining = iter(range(total))

    async def lane() -> None:
        for _ in remaining:
            await fn()

    await asyncio.gather(*(lane() for _ in range(width)))


async def first_call(name: str, base: str, started: float) -> dict[str, Any]:
    """Only the time from start-up to the first answer (one sample of many)."""
    async with CLIENTS[name](base) as (call, _):
        await call()
        return {"client": name, "import_first_call_ms": (time.perf_counter() - started) * 1000}


async def measure(name: str, base: str, server: int, leak: int, started: float) -> dict[str, Any]:
    out: dict[str, Any] = {"client": name}
    async with CLIENTS[name](base) as (call, stream):
        await call()
        out["import_first_call_ms"] = (time.perf_counter() - started) * 1000
        for _ in range(300):  # warm up connections, caches, price lookups
            await call()
        gc.collect()
        # Best of three rounds, as timeit does: on a shared machine the slowest rounds
        # measure the neighbours, the fastest the code.
        per_call = []
        for _ in range(3):
            n = 1_000
            cpu = time.process_time()
            for _ in range(n):
                await call()
            per_call.append((time.process_time() - cpu) / n * 1e6)
        out["cpu_per_call_us"] = min(per_call)

        rounds = []
        for _ in range(3):
            n = 3_000
            cpu, wall, server_cpu = time.process_time(), time.perf_counter(), cpu_of(server)
            await concurrently(call, n, 64)
            wall = time.perf_counter() - wall
            rounds.append(
                (
                    n / wall,
                    (time.process_time() - cpu) / n * 1e6,
                    (cpu_of(server) - server_cpu) / wall,
                )
            )
        best = max(rounds)
        out["calls_per_s_64"], out["cpu_per_call_64_us"], out["server_cpu_share"] = best

        assert await stream() >= 200, "a stream carries 200 text chunks"
        chunk_costs = []
        for _ in range(3):
            streams = 80
            cpu = time.process_time()
            await concurrently(stream, streams, 16)
            # Every client reads the same 202 events (200 texts, the finish, the usage).
            chunk_costs.append((time.process_time() - cpu) / (streams * 202) * 1e6)
        out["cpu_per_chunk_us"] = min(chunk_costs)

        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if leak:
            await concurrently(call, 5_000, 64)  # settle caches and pools first
            gc.collect()
            before = rss_mib()
            await concurrently(call, leak, 64)
            gc.collect()
            out["rss_growth_mib"] = rss_mib() - before
            out["leak_calls"] = leak
    return out


def main() -> None:
    started = time.perf_counter()
    name, base, server = sys.argv[1], sys.argv[2], int(sys.argv[3])
    leak = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--leak" else 0
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    if "--first-call" in sys.argv:
        print(json.dumps(asyncio.run(first_call(name, base, started))))
        return
    print(json.dumps(asyncio.run(measure(name, base, server, leak, started))))


if __name__ == "__main__":
    main()
