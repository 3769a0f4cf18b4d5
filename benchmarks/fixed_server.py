"""A fixed-response OpenAI-format server for client benchmarks (raw asyncio, no framework).

It answers every request with the same chat.completion body (or a 200-chunk
stream when the request body asks for ``"stream": true`` or the path ends in
/stream), keeps connections alive, and does as little work as possible so
that the client under test is the bottleneck.
Run: python benchmarks/fixed_server.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4.1-mini",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Yes, light drizzle in Lyon right now.",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 182, "completion_tokens": 17, "total_tokens": 199},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
CHUNK = (
    'data: {"id":"chatcmpl-Q1","object":"chat.completion.chunk","created":1767225600,'
    '"model":"gpt-4.1-mini","choices":[{"index":0,"delta":{"content":"word "},'
    '"finish_reason":null}]}\n\n'
)
LAST = (
    'data: {"id":"chatcmpl-Q1","object":"chat.completion.chunk","created":1767225600,'
    '"model":"gpt-4.1-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    'data: {"id":"chatcmpl-Q1","object":"chat.completion.chunk","created":1767225600,'
    '"model":"gpt-4.1-mini","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":200,'
    '"total_tokens":210}}\n\ndata: [DONE]\n\n'
)
STREAM_BODY = (CHUNK * 200 + LAST).encode()
STREAM = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"content-length: " + str(len(STREAM_BODY)).encode() + b"\r\n\r\n" + STREAM_BODY
)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            path = head.split(b" ", 2)[1]
            stream = path.endswith(b"/stream") or b'"stream":true' in body.replace(b" ", b"")
            writer.write(STREAM if stream else RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
