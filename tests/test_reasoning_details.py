"""OpenRouter's ``reasoning_details`` (readable, summarized, signed or encrypted
reasoning of the model behind it) kept on the reply's ``ThinkingPart`` and sent
back with the turn to the provider that sent it, to no other: real recorded
replies and streams (tests/fixtures/recorded/corpus/, from pydantic-ai's
cassettes), read at random chunk boundaries."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._core.types import Request
from steadyllm.providers.openai import decode
from steadyllm.providers.openai.dialect import Dialect
from steadyllm.providers.openai.encode import encode_body
from steadyllm.providers.openai.stream import StreamDecoder
from steadyllm.sse import SSEDecoder

from .wire import FIXTURES, assemble, run_stream

CORPUS = FIXTURES / "recorded" / "corpus"
OPENROUTER = Dialect("openrouter")
REPLY = "openrouter__test_eager_input_streaming_sent_to_openrouter[non-anthropic-enabled]__0.json"
STREAMS = [
    "openrouter__test_openrouter_streaming_reasoning__0.sse",  # Claude: text, then a signature
    "openrouter__test_openrouter_stream_with_reasoning__0.sse",  # GPT-5: encrypted
]


def recorded_details(data: bytes) -> list[dict[str, Any]]:
    """The stream's reasoning_details joined by index, read straight from its JSON."""
    merged: dict[int, dict[str, Any]] = {}
    for event in SSEDecoder().feed(data):
        if event.data.startswith("[DONE]"):
            break
        for choice in json.loads(event.data).get("choices") or ():
            for detail in (choice.get("delta") or {}).get("reasoning_details") or ():
                entry = merged.setdefault(detail["index"], {})
                for key, value in detail.items():
                    if key in ("text", "summary", "data"):
                        entry[key] = entry.get(key, "") + value
                    elif value or key not in entry:
                        entry[key] = value
    return [merged[i] for i in sorted(merged)]


def next_turn(response: sl.Response, dialect: Dialect) -> dict[str, Any]:
    """The assistant message of the next request, in ``dialect``."""
    messages = [sl.user("x"), response.message, sl.user("and then?")]
    body = encode_body(Request(dialect.provider, "m", messages), dialect)
    message: dict[str, Any] = body["messages"][1]
    return message


def test_a_replys_details_go_back_to_openrouter_and_nowhere_else() -> None:
    data = (CORPUS / REPLY).read_bytes()
    sent = json.loads(data)["choices"][0]["message"]["reasoning_details"]
    response = decode.decode_response(
        Request("openrouter", "m", [sl.user("x")]), 200, {}, data, OPENROUTER
    )
    (thinking,) = [p for p in response.parts if isinstance(p, sl.ThinkingPart)]
    assert thinking.item == {"reasoning_details": sent, "provider": "openrouter"}
    assert next_turn(response, OPENROUTER)["reasoning_details"] == sent
    for other in (Dialect(), Dialect("vllm"), Dialect("groq")):
        assert "reasoning_details" not in next_turn(response, other)


@pytest.mark.parametrize("name", STREAMS)
def test_a_streams_details_are_joined_and_go_back(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    want = recorded_details(data)
    assert want and all(d.get("signature") or d.get("data") for d in want)  # signed or sealed
    rng = random.Random(name)
    for points in ([], sorted(rng.randrange(len(data) + 1) for _ in range(20))):
        request = Request("openrouter", "m", [sl.user("x")], stream=True)
        response = assemble(run_stream(StreamDecoder(request, OPENROUTER, {}), data, points))
        assert next_turn(response, OPENROUTER)["reasoning_details"] == want
        assert "reasoning_details" not in next_turn(response, Dialect())


def test_the_details_survive_the_cache() -> None:
    from steadyllm._cache.entry import decode as decode_entry
    from steadyllm._cache.entry import encode as encode_entry

    data = (CORPUS / REPLY).read_bytes()
    response = decode.decode_response(
        Request("openrouter", "m", [sl.user("x")]), 200, {}, data, OPENROUTER
    )
    back = decode_entry(encode_entry(response))
    assert back is not None
    assert next_turn(back, OPENROUTER) == next_turn(response, OPENROUTER)
