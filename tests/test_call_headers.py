"""Per-call HTTP headers and raw stream events, over real HTTP to the emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

import steadyllm as sl
from steadyllm._core.types import ResponseMeta
from steadyllm.emulator import Behavior, Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.mark.parametrize("model", ["anthropic:claude-sonnet-4-5", "openai:gpt-4.1", "azure:dep"])
async def test_extra_headers_reach_the_provider_beside_its_own(
    emulator: Emulator, model: str
) -> None:
    beta = {"anthropic-beta": "context-1m-2025-08-07", "X-Gateway-Tag": "team-a"}
    async with sl.Client(emulator.settings()) as client:
        await client.chat(model, [sl.user("x")], headers=beta)
        async with client.stream(model, [sl.user("x")], headers=beta) as s:
            await s.final_response()
    for sent in emulator.requests:
        assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07"
        assert sent.headers["x-gateway-tag"] == "team-a"
        assert sent.headers["content-type"] == "application/json"
        assert any(h in sent.headers for h in ("authorization", "x-api-key", "api-key"))


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer other"}, "set by steadyllm itself"),
        ({"x-api-key": "sk-other"}, "set by steadyllm itself"),
        ({"Content-Length": "3"}, "set by steadyllm itself"),
        ({"x-tag": "a\r\nx-api-key: injected"}, "without line breaks"),
        ({"bad name": "v"}, "not a valid HTTP header name"),
        ({"x-n": 3}, "must be a string"),
    ],
)
async def test_headers_that_would_replace_auth_or_framing_are_refused(
    emulator: Emulator, headers: dict[str, object], message: str
) -> None:
    async with sl.Client(emulator.settings()) as client:
        with pytest.raises(sl.InvalidRequestError, match=message):
            await client.chat("openai:gpt-4.1", [sl.user("x")], headers=headers)  # type: ignore[arg-type]
    assert emulator.requests == []  # nothing was sent


@pytest.mark.parametrize("model", ["anthropic:claude-sonnet-4-5", "openai:gpt-4.1"])
async def test_keep_raw_keeps_every_stream_event_in_order(emulator: Emulator, model: str) -> None:
    emulator.push(Behavior(text="one two three"), Behavior(text="one two three"))
    async with sl.Client(emulator.settings()) as client:
        async with client.stream(model, [sl.user("x")], keep_raw=True) as s:
            shown = [e async for e in s]
        async with client.stream(model, [sl.user("x")]) as plain:
            await plain.final_response()
    raw = s.response.raw
    assert isinstance(raw, list) and raw and plain.response.raw is None
    assert shown and not any(isinstance(e, ResponseMeta) for e in shown)  # raw stays inside
    texts = []
    for event in raw:
        data = event["data"]
        if model.startswith("anthropic"):
            delta = data.get("delta") or {}
            texts.append(delta.get("text", ""))
        elif isinstance(data, dict):
            texts += [c["delta"].get("content") or "" for c in data.get("choices") or ()]
    assert "".join(texts) == "one two three" == s.response.text
    if model.startswith("openai"):
        assert raw[-1] == {"event": "message", "data": "[DONE]"}
    else:
        assert raw[0]["event"] == "message_start" and raw[-1]["data"] == {"type": "message_stop"}
    json.dumps(raw)  # plain JSON values, ready to log
