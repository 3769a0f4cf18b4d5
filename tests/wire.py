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
