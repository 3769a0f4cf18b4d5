"""A compatible server that refuses ``stream_options``: the stream is sent once more
without it, the server is remembered, and its streams (which then report no
usage) are booked at an estimate rather than at nothing."""

from __future__ import annotations

import asyncio
import json

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

from .test_recorded_anthropic import read_request

REFUSAL = json.dumps(
    {"object": "error", "message": "Unrecognized request argument supplied: stream_options"}
).encode()
STREAM = (
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"Hello there"}}]}\n\n'
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


async def strict_server(seen: list[dict[str, object]]) -> tuple[asyncio.Server, str]:
    """Refuses any body with stream_options (400), else streams without usage."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = json.loads((await read_request(reader))[1])
        seen.append(body)
        status, kind, reply = (
            (400, b"application/json", REFUSAL)
            if "stream_options" in body
            else (200, b"text/event-stream", STREAM)
        )
        writer.write(
            b"HTTP/1.1 %d X\r\ncontent-type: %s\r\nconnection: close\r\n" % (status, kind)
            + b"content-length: %d\r\n\r\n" % len(reply)
            + reply
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"


async def test_a_server_that_refuses_stream_options_is_retried_without_and_remembered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, object]] = []
    server, url = await strict_server(seen)
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        compatible_base_url=url,
        max_retries=0,
        prices={"compatible:m": {"input": 1.0, "output": 2.0}},
    )
    try:
        async with sl.Client(settings) as client:
            replies = []
            for _ in range(2):
                async with client.stream("compatible:m", [sl.user("hi")]) as s:
                    replies.append(await s.final_response())
    finally:
        server.close()
        await server.wait_closed()
    assert ["stream_options" in b for b in seen] == [True, False, False]  # one retry, then known
    assert caplog.text.count("refused a stream option") == 1
    for r in replies:
        assert r.text == "Hello there" and r.finish_reason == "stop"
        assert r.usage.total_tokens > 0 and r.cost_estimated  # booked, never $0
        assert r.total_cost_usd is not None and r.total_cost_usd > 0


async def test_a_reply_with_output_but_no_usage_is_booked_at_an_estimate() -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0}
    async with Emulator(script=[Behavior(text="Some answer", usage=zero)]) as emulator:
        prices = {"openai:gpt-4.1": {"input": 2.0, "output": 8.0}}
        async with sl.Client(emulator.settings(prices=prices)) as client:
            r = await client.chat("openai:gpt-4.1", [sl.user("question")], max_tokens=50)
            spent = client.costs.total_cost
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 50
    assert r.cost_estimated and r.usage.cost_usd is not None and r.usage.cost_usd > 0
    assert spent == pytest.approx(r.usage.cost_usd)  # the tracker counted it
