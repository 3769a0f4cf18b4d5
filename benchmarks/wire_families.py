"""The Responses API and Gemini rows of ``make bench``: steadyllm against the
official SDK of each wire (openai's ``responses.create``, google-genai's
``generate_content``) on the same fixed responses.

A raw asyncio server (its own process, pinned to core 1) answers
``POST /v1/responses`` and ``POST /v1beta/models/M:generateContent`` with a
fixed reply, or with a stream of 200 text deltas (plus the events around
them) when asked to stream. Each client runs in this process, pinned to core 0,
one after the other. Reported: CPU per call one at a time and CPU per streamed
chunk (best of three rounds, as timeit does), and the ratio to the SDK beside it
in the same run. Target (issue 18): at most a third of the SDK's.

Run: python benchmarks/wire_families.py [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from transport_choice import free_port

HERE = Path(__file__).resolve().parent
CHUNKS = 200
TIMES = "\u00d7"  # the multiplication sign of the other tables

SERVER = r"""
import asyncio, json, sys
N = int(sys.argv[2])

def http(body, kind):
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)

RESPONSE = {"id": "resp_bench", "object": "response", "created_at": 1767225600,
    "status": "completed", "model": "gpt-4.1-mini", "output": [{"id": "msg_bench",
    "type": "message", "status": "completed", "role": "assistant", "content": [{"type":
    "output_text", "text": "Yes, light drizzle in Lyon right now.", "annotations": []}]}],
    "usage": {"input_tokens": 182, "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 17, "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 199}}
def ev(d):
    return ("event: " + d["type"] + "\ndata: " + json.dumps(d, separators=(",", ":")) + "\n\n")
shell = dict(RESPONSE, status="in_progress", output=[], usage=None)
done = dict(RESPONSE, output=[dict(RESPONSE["output"][0], content=[{"type": "output_text",
    "text": "word " * N, "annotations": []}])])
RSTREAM = (ev({"type": "response.created", "sequence_number": 0, "response": shell})
    + "".join(ev({"type": "response.output_text.delta", "sequence_number": i + 1,
        "item_id": "msg_bench", "output_index": 0, "content_index": 0, "delta": "word ",
        "logprobs": []}) for i in range(N))
    + ev({"type": "response.completed", "sequence_number": N + 1, "response": done}))

GEMINI = {"candidates": [{"content": {"role": "model", "parts": [{"text":
    "Yes, light drizzle in Lyon right now."}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 182, "candidatesTokenCount": 17,
    "totalTokenCount": 199}, "modelVersion": "gemini-2.0-flash", "responseId": "bench"}
def chunk(text, last=False):
    c = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if last:
        c["finishReason"] = "STOP"
    body = {"candidates": [c], "modelVersion": "gemini-2.0-flash", "responseId": "bench"}
    body["usageMetadata"] = {"promptTokenCount": 10, "candidatesTokenCount": N,
        "totalTokenCount": N + 10} if last else {"promptTokenCount": 10}
    return "data: " + json.dumps(body, separators=(",", ":")) + "\r\n\r\n"
GSTREAM = "".join(chunk("word ") for _ in range(N)) + chunk("", True)

ANSWERS = {
    (b"responses", False): http(json.dumps(RESPONSE).encode(), b"application/json"),
    (b"responses", True): http(RSTREAM.encode(), b"text/event-stream"),
    (b"gemini", False): http(json.dumps(GEMINI).encode(), b"application/json"),
    (b"gemini", True): http(GSTREAM.encode(), b"text/event-stream"),
}

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            path = head.split(b" ", 2)[1]
            api = b"responses" if b"/responses" in path else b"gemini"
            stream = b"streamGenerateContent" in path or b'"stream":true' in body.replace(b" ", b"")
            writer.write(ANSWERS[api, stream])
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

Call = Callable[[], Awaitable[Any]]
Stream = Callable[[], Awaitable[int]]
QUESTION = "Is it raining in Lyon?"


@asynccontextmanager
async def openai_sdk(base: str) -> AsyncIterator[tuple[Call, Stream]]:
    import openai

    async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="sk-bench") as client:

        async def call() -> Any:
            return await client.responses.create(model="gpt-4.1-mini", input=QUESTION)

        async def stream() -> int:
            events = await client.responses.create(
                model="gpt-4.1-mini", input=QUESTION, stream=True
            )
            return sum([e.type == "response.output_text.delta" async for e in events])

        yield call, stream


@asynccontextmanager
async def genai_sdk(base: str) -> AsyncIterator[tuple[Call, Stream]]:
    from google import genai

    options = genai.types.HttpOptions(base_url=base, api_version="v1beta")
    client = genai.Client(api_key="bench-key", http_options=options)

    async def call() -> Any:
        return await client.aio.models.generate_content(model="gemini-2.0-flash", contents=QUESTION)

    async def stream() -> int:
        chunks = await client.aio.models.generate_content_stream(
            model="gemini-2.0-flash", contents=QUESTION
        )
        return sum([bool(c.text) async for c in chunks])

    yield call, stream
    await client.aio.aclose()


def steadyllm_for(model: str) -> Callable[[str], Any]:
    @asynccontextmanager
    async def client_of(base: str) -> AsyncIterator[tuple[Call, Stream]]:
        import steadyllm as sl

        settings = sl.Settings.load(
            env={},
            dotenv=False,
            config_file=False,
            openai_api_key="sk-bench",
            openai_base_url=f"{base}/v1",
            gemini_api_key="bench-key",
            gemini_base_url=base,
            rate_limit_per_minute=10_000_000,
            tokens_per_minute=1_000_000_000,
        )
        async with sl.Client(settings) as client:
            messages = [sl.user(QUESTION)]

            async def call() -> Any:
                return await client.chat(model, messages)

            async def stream() -> int:
                async with client.stream(model, messages) as events:
                    return sum([isinstance(e, sl.TextDelta) async for e in events])

            yield call, stream

    return client_of


#: (row, client, the SDK it is compared with)
CLIENTS = [
    ("openai SDK, responses.create", openai_sdk, None),
    ("steadyllm, openai-responses:", steadyllm_for("openai-responses:gpt-4.1-mini"), 0),
    ("google-genai, generate_content", genai_sdk, None),
    ("steadyllm, gemini:", steadyllm_for("gemini:gemini-2.0-flash"), 2),
]


async def measure(factory: Callable[[str], Any], base: str) -> tuple[float, float]:
    """(CPU µs per call one at a time, CPU µs per streamed chunk), best of three."""
    async with factory(base) as (call, stream):
        for _ in range(200):  # warm up connections, imports, price lookups
            await call()
        assert await stream() >= CHUNKS, "every stream carries 200 text chunks"
        per_call, per_chunk = [], []
        for _ in range(3):
            cpu = time.process_time()
            for _ in range(500):
                await call()
            per_call.append((time.process_time() - cpu) / 500 * 1e6)
            cpu = time.process_time()
            for _ in range(20):
                await stream()
            per_chunk.append((time.process_time() - cpu) / (20 * (CHUNKS + 2)) * 1e6)
    return min(per_call), min(per_chunk)


def run() -> list[tuple[str, float, float, int | None]]:
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-c", SERVER, str(port), str(CHUNKS)],
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    rows = []
    try:
        for name, factory, versus in CLIENTS:
            call_us, chunk_us = asyncio.run(measure(factory, f"http://127.0.0.1:{port}"))
            rows.append((name, call_us, chunk_us, versus))
    finally:
        server.terminate()
        server.wait()
    return rows


def table(rows: list[tuple[str, float, float, int | None]]) -> tuple[str, bool]:
    lines = ["| client | CPU/call, 1 at a time (µs) | CPU/stream chunk (µs) |", "|---|---|---|"]
    met = True
    for name, call_us, chunk_us, versus in rows:
        if versus is None:
            lines.append(f"| {name} | {call_us:,.0f} | {chunk_us:.1f} |")
            continue
        _, sdk_call, sdk_chunk, _ = rows[versus]
        call_ratio, chunk_ratio = call_us / sdk_call, chunk_us / sdk_chunk
        met = met and call_ratio <= 1 / 3 and chunk_ratio <= 1 / 3
        lines.append(
            f"| {name} | {call_us:,.0f} ({call_ratio:.2f}{TIMES} the SDK) | "
            f"{chunk_us:.1f} ({chunk_ratio:.2f}{TIMES} the SDK) |"
        )
    return "\n".join(lines), met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    text, met = table(run())
    verdict = "met" if met else "NOT met"
    report = f"{text}\n\nTarget (at most 1/3 of the SDK's CPU per call and per chunk): {verdict}"
    print(report)
    if args.record:
        day = datetime.date.today().isoformat()
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as results:
            results.write(f"\n## Responses API and Gemini against their SDKs, {day}\n\n")
            results.write(report + "\n")


if __name__ == "__main__":
    main()
