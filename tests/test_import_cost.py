"""Importing steadyllm must stay cheap: heavy dependencies load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = {
    "dotenv",
    "aiohttp",
    "rich",
    "httptools",
    "httpx",
    "pydantic",
    "redis",
    "opentelemetry",
    "genai_prices",
    "yarl",
    "multidict",
    "openai",
    "anthropic",
    "sqlite3",
    "orjson",
}


def test_import_loads_no_heavy_module() -> None:
    code = "import sys, json, steadyllm; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & HEAVY, f"imported eagerly: {sorted(loaded & HEAVY)}"


FIRST_CALL = """
import asyncio, json, sys
import steadyllm as sl

REPLY = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})

async def answer(reader, writer):
    await reader.readuntil(b"\\r\\n\\r\\n")
    writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
                 b"content-length: %d\\r\\nconnection: close\\r\\n\\r\\n%s"
                 % (len(REPLY), REPLY.encode()))
    await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = sl.Settings.load(env={}, dotenv=False, config_file=False, openai_api_key="sk-x",
                                openai_base_url=f"http://127.0.0.1:{port}/v1")
    async with sl.Client(settings) as client:
        response = await client.chat("openai:gpt-4.1-mini", [sl.user("hi")], max_retries=0)
    server.close()
    print(json.dumps([response.text, sorted(sys.modules)]))

asyncio.run(main())
"""


def test_a_first_call_does_not_import_the_emulators_http_stack() -> None:
    # The client's transport is asyncio + httptools; aiohttp (~110-170 ms to import)
    # is only the emulator's server.
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True
    )
    text, modules = json.loads(out.stdout)
    loaded = {name.split(".")[0] for name in modules}
    assert text == "hi" and "httptools" in loaded
    assert not loaded & {"aiohttp", "yarl", "multidict", "httpx"}
