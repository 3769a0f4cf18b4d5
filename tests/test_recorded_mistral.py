"""Real recorded Mistral exchanges (tests/fixtures/recorded/mistral/, from
pydantic-ai's VCR cassettes of api.mistral.ai): replies and a stream read by the
``mistral:`` preset's dialect at random chunk boundaries, and over loopback HTTP
through the client. The oracle is the recorded JSON itself, read plainly: the
openai SDK cannot read Magistral's thinking, which Mistral sends as content parts
of type ``thinking`` (steadyllm reads them as the reasoning, never as text)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai import decode
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.stream import StreamDecoder
from steadyllm.sse import SSEDecoder

from .test_recorded_embeddings import serving
from .wire import assemble, run_stream

web = pytest.importorskip("aiohttp.web")

HERE = Path(__file__).parent / "fixtures" / "recorded" / "mistral"
RECORDINGS = sorted(p.stem for p in HERE.glob("*.json"))
DIALECT = Dialect("mistral", max_tokens_field="max_tokens", stream_usage=False)


def load(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return record


def parts_text(content: Any, kind: str) -> str:
    """The text of ``content`` (a string or a list of parts) of parts of ``kind``."""
    if isinstance(content, str):
        return content if kind == "text" else ""
    found = []
    for part in content or ():
        if kind == "thinking" and part.get("type") == "thinking":
            found.append(parts_text(part["thinking"], "text"))
        elif kind == "text" and part.get("type", "text") == "text":
            found.append(part["text"])
    return "".join(found)


def expected(record: dict[str, Any]) -> dict[str, Any]:
    """What the recording says, read straight from its JSON."""
    if record.get("stream"):
        text, thinking, finish = "", "", None
        usage: dict[str, Any] = {}
        for event in SSEDecoder().feed(record["stream"].encode()):
            if event.data.startswith("[DONE]"):
                break
            chunk = json.loads(event.data)
            usage = chunk.get("usage") or usage
            for choice in chunk["choices"]:
                content = choice["delta"].get("content")
                text += parts_text(content, "text")
                thinking += parts_text(content, "thinking")
                finish = choice.get("finish_reason") or finish
        return {"text": text, "thinking": thinking, "finish": finish, "usage": usage, "calls": []}
    message = record["body"]["choices"][0]["message"]
    return {
        "text": parts_text(message["content"], "text"),
        "thinking": parts_text(message["content"], "thinking"),
        "finish": record["body"]["choices"][0]["finish_reason"],
        "usage": record["body"]["usage"],
        "calls": [
            (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in message.get("tool_calls") or ()
        ],
    }


def check(response: sl.Response, want: dict[str, Any]) -> None:
    assert response.text == want["text"]
    assert response.reasoning == want["thinking"]
    assert response.finish_reason == decode.normalize_finish(want["finish"])
    assert [(c.id, c.name, c.parsed_arguments()) for c in response.tool_calls] == want["calls"]
    usage = want["usage"]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert response.usage.cached_tokens == cached


def test_the_recordings_show_thinking_tools_and_cached_tokens() -> None:
    wants = [expected(load(name)) for name in RECORDINGS]
    assert len(wants) >= 8
    assert any(w["thinking"] for w in wants) and any(w["calls"] for w in wants)
    assert any((w["usage"].get("prompt_tokens_details") or {}).get("cached_tokens") for w in wants)


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recording_reads_as_it_was_sent(name: str) -> None:
    record = load(name)
    want = expected(record)
    model = str(record["request"]["body"]["model"])
    if record.get("stream"):
        data = record["stream"].encode()
        rng = random.Random(name)
        for points in ([], sorted(rng.randrange(len(data) + 1) for _ in range(16))):
            request = Request("mistral", model, [sl.user("x")], stream=True)
            check(assemble(run_stream(StreamDecoder(request, DIALECT, {}), data, points)), want)
        return
    body = json.dumps(record["body"]).encode()
    response = decode.decode_response(
        Request("mistral", model, [sl.user("x")]), 200, {}, body, DIALECT
    )
    check(response, want)
    if want["thinking"]:  # the thinking is a part of its own, ahead of the text
        assert [p.type for p in response.parts][:2] == ["thinking", "text"]


class Replay:
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.seen: list[Any] = []

    async def handle(self, request: Any) -> Any:
        self.seen.append(await request.json())
        if self.record.get("stream"):
            return web.Response(
                body=self.record["stream"].encode(), content_type="text/event-stream"
            )
        return web.json_response(self.record["body"])


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Replay, str]]:
    server = Replay(load(request.param))
    async with serving("/v1/chat/completions", server.handle) as url:
        yield server, url + "/v1"


@pytest.mark.parametrize(
    "served",
    ["test_mistral_model_thinking_part_iter__0", "test_mistral_history_uses_prompt_cache__1"],
    indirect=True,
)
async def test_over_http_through_the_mistral_preset(served: tuple[Replay, str]) -> None:
    server, url = served
    record, want = server.record, expected(server.record)
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        config_file=False,
        mistral_api_key="mk-recorded",
        providers={"mistral": {"base_url": url}},
    )
    model = "mistral:" + str(record["request"]["body"]["model"])
    async with sl.Client(settings) as client:
        if record.get("stream"):
            async with client.stream(model, [sl.user("How do I cross the street?")]) as stream:
                async for _ in stream:
                    pass
            response = stream.response
        else:
            response = await client.chat(model, [sl.user("cache probe two")])
    check(response, want)
    (sent,) = server.seen
    assert "stream_options" not in sent  # Mistral refuses it: never asked for
