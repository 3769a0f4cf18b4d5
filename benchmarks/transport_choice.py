"""Which HTTP library should the transport use? Raw aiohttp, raw httpx, and
steadyllm's own HTTP/1.1 transport (asyncio protocols + httptools).

Measures, against benchmarks/fixed_server.py (its own process, pinned to the
other core): CPU time per call one at a time, and calls per second at 64
concurrent. Run: python benchmarks/transport_choice.py
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

PAYLOAD = (
    b'{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"Is it raining in Lyon?"}]}'
)
HEADERS = {"authorization": "Bearer sk-bench", "content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(
    one: Callable[[], Awaitable[None]], n_seq: int, n_conc: int
) -> tuple[float, float]:
    """CPU seconds per call one at a time, and calls per second at 64 concurrent."""
    for _ in range(200):  # warm up connections and caches
        await one()
    cpu = time.process_time()
    for _ in range(n_seq):
        await one()
    per_call = (time.process_time() - cpu) / n_seq
    sem = asyncio.Semaphore(64)

    async def bounded() -> None:
        async with sem:
            await one()

    start = time.perf_counter()
    await asyncio.gather(*(bounded() for _ in range(n_conc)))
    return per_call, n_conc / (time.perf_counter() - start)


async def aiohttp_client(url: str, n_seq: int, n_conc: int) -> tuple[float, float]:
    import aiohttp

    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with session.post(url, data=PAYLOAD, headers=HEADERS) as r:
                await r.read()

        return await measure(one, n_seq, n_conc)


async def httpx_client(url: str, n_seq: int, n_conc: int) -> tuple[float, float]:
    import httpx

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one() -> None:
            r = await client.post(url, content=PAYLOAD, headers=HEADERS)
            r.read()

        return await measure(one, n_seq, n_conc)


async def steadyllm_transport(
    url: str, n_seq: int, n_conc: int, tls: Any = None
) -> tuple[float, float]:
    """``tls``: a ``TLSConfig`` for an https server (benchmarks/http2_choice.py)."""
    from steadyllm._http.request import HTTPRequest
    from steadyllm._http.transport import HTTPTransport

    transport = HTTPTransport(tls=tls)

    async def one() -> None:
        response = await transport.send(HTTPRequest("POST", url, HEADERS, PAYLOAD))
        try:
            await response.read()
        finally:
            response.close()

    try:
        return await measure(one, n_seq, n_conc)
    finally:
        await transport.aclose()


CLIENTS = (
    ("raw aiohttp", aiohttp_client),
    ("raw httpx", httpx_client),
    ("steadyllm transport (asyncio + httptools)", steadyllm_transport),
)


def main() -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            str(Path(__file__).with_name("fixed_server.py")),
            str(port),
        ],
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
    os.sched_setaffinity(0, {0})
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        print("| client | CPU per call (µs), 1 at a time | calls/s at 64 concurrent |")
        print("|---|---|---|")
        for name, fn in CLIENTS * 2:
            per_call, rate = asyncio.run(fn(url, 3000, 5000))
            print(f"| {name} | {per_call * 1e6:,.0f} | {rate:,.0f} |", flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
