"""Helpers for codec tests: fixtures, and running SSE bytes through a stream decoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import steadyllm as sl
from steadyllm._client.assemble import StreamAssembler
from steadyllm._core.types import ProviderEvent
from steadyllm.sse import ServerSentEvent, SSEDecoder

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


class State(Protocol):
    done: bool

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]: ...

    def end(self) -> list[ProviderEvent]: ...


def run_stream(state: State, body: bytes, cuts: list[int] | None = None) -> list[ProviderEvent]:
    """Feed ``body`` split at ``cuts`` through the SSE decoder into ``state``."""
    points = sorted(set(cuts or []))
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    decoder = SSEDecoder()
    events: list[ProviderEvent] = []
    for chunk in chunks:
        for sse in decoder.feed(chunk):
            if state.done:
                break
            events += state.feed(sse)
    events += state.end()
    return events


def assemble(events: list[ProviderEvent], provider: str = "p", model: str = "m") -> sl.Response:
    assembler = StreamAssembler()
    for event in events:
        assembler.add(event)
    return assembler.response(provider=provider, model=model)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def sdk_stream_completion(data: bytes, *, drop_nulls: bool = False) -> Any:
    """The completion the openai SDK accumulates from a Chat Completions stream: its
    stream builds each chunk without validating it (``construct_type``), so a chunk
    the SDK's types do not quite fit (Azure's preamble, whose ``object`` is empty)
    passes as it does for SDK users. ``drop_nulls``: leave out null fields first, for
    chunks recorded as the SDK dumped them (it writes null for every field the server
    left out, and a null ``type`` then breaks its own accumulator)."""
    from openai._models import construct_type
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state: Any = ChatCompletionStreamState()
    for event in SSEDecoder().feed(data):
        if event.data.startswith("[DONE]"):
            break
        value = json.loads(event.data)
        value = _without_nulls(value) if drop_nulls else value
        chunk = construct_type(type_=ChatCompletionChunk, value=value)
        state.handle_chunk(chunk)
    return state.get_final_completion()
