from __future__ import annotations

import pytest

import steadyllm as sl

from .conftest import make_client


async def collect(stream: sl.ChatStream) -> list[sl.StreamEvent]:
    return [event async for event in stream]


async def collect_text(stream: sl.ChatStream, into: list[str]) -> None:
    async for event in stream:
        if isinstance(event, sl.TextDelta):
            into.append(event.text)


async def test_stream_yields_text_usage_done_and_assembles_the_response(
    clock: sl.FakeClock,
) -> None:
    client, _ = make_client(
        sl.FakeReply("one two three", chunk_delay=0.5, latency=0.25), clock=clock
    )
    async with client.stream("fake:m", [sl.user("x")]) as s:
        events = await collect(s)
    texts = [e.text for e in events if isinstance(e, sl.TextDelta)]
    assert texts == ["one ", "two ", "three"]
    assert isinstance(events[-1], sl.Done) and events[-1].finish_reason == "stop"
    assert isinstance(events[-2], sl.Usage)
    r = s.response
    assert r.text == "one two three" and r.finish_reason == "stop" and r.attempts == 1
    assert r.ttft_ms == pytest.approx(250.0)
    assert r.latency_ms == pytest.approx(1250.0)
    assert r.usage.completion_tokens == events[-2].completion_tokens
    assert r.request_id == "fake-1"


async def test_tool_calls_are_reassembled_from_fragments() -> None:
    calls = [
        sl.ToolCall("c1", "lookup", '{"city": "Lyon"}'),
        sl.ToolCall("c2", "lookup", '{"city": "Nice"}'),
    ]
    client, _ = make_client(sl.FakeReply(tool_calls=calls))
    async with client.stream("fake:m", [sl.user("x")]) as s:
        events = await collect(s)
    deltas = [e for e in events if isinstance(e, sl.ToolCallDelta)]
    assert len(deltas) == 4 and deltas[1].id is None  # id and name only in the first fragment
    assert s.response.tool_calls == calls
    assert s.response.finish_reason == "tool_calls"
    assert s.response.tool_calls[0].parsed_arguments() == {"city": "Lyon"}


async def test_failures_before_the_first_event_are_retried(clock: sl.FakeClock) -> None:
    client, fake = make_client(
        sl.FakeFault("overloaded", times=2, retry_after=0.5),
        sl.FakeReply("hello there"),
        clock=clock,
    )
    async with client.stream("fake:m", [sl.user("x")]) as s:
        text = "".join(e.text for e in await collect(s) if isinstance(e, sl.TextDelta))
    assert text == "hello there" and s.response.attempts == 3 and len(fake.requests) == 3
    assert clock.sleeps == [0.5, 0.5]


async def test_a_stream_cut_after_content_is_not_retried_and_carries_the_partial() -> None:
    client, fake = make_client(sl.FakeReply("a b c d e", cut_after=2), sl.FakeReply("never"))
    received: list[str] = []
    async with client.stream("fake:m", [sl.user("x")]) as s:
        with pytest.raises(sl.StreamInterruptedError) as info:
            await collect_text(s, received)
    assert received == ["a ", "b "]
    assert info.value.partial.text == "a b "
    assert info.value.partial.finish_reason == "error"
    assert info.value.attempt == 1 and info.value.provider == "fake"
    assert len(fake.requests) == 1  # no retry once content reached the caller
    with pytest.raises(RuntimeError, match="has not finished"):
        _ = s.response


async def test_a_stream_cut_before_any_content_is_retried() -> None:
    client, fake = make_client(sl.FakeReply("abc", cut_after=0), sl.FakeReply("ok"))
    async with client.stream("fake:m", [sl.user("x")]) as s:
        assert (await s.final_response()).text == "ok"
    assert s.response.attempts == 2 and len(fake.requests) == 2


async def test_the_deadline_covers_stream_consumption(clock: sl.FakeClock) -> None:
    client, _ = make_client(sl.FakeReply("w1 w2 w3 w4", chunk_delay=2.0), clock=clock)
    got: list[str] = []
    async with client.stream("fake:m", [sl.user("x")], timeout_ms=5_000) as s:
        with pytest.raises(sl.LLMTimeoutError, match="stream cut; 9 characters received"):
            await collect_text(s, got)
    assert got == ["w1 ", "w2 ", "w3 "]
    assert clock.now() == pytest.approx(5.0)


async def test_a_hang_before_the_first_event_times_out_on_enter(clock: sl.FakeClock) -> None:
    client, _ = make_client(sl.FakeHang(), clock=clock)
    with pytest.raises(sl.LLMTimeoutError):
        async with client.stream("fake:m", [sl.user("x")], timeout_ms=1_000):
            pass  # pragma: no cover - never entered
    assert clock.now() == pytest.approx(1.0)


async def test_leaving_early_closes_the_provider_stream() -> None:
    closed: list[bool] = []

    class Tracking(sl.FakeProvider):
        async def stream(self, request: sl.Request):  # type: ignore[no-untyped-def]
            try:
                async for event in super().stream(request):
                    yield event
            finally:
                closed.append(True)

    client = sl.Client(
        providers={"fake": Tracking([sl.FakeReply("many words in this reply")])},
        clock=sl.FakeClock(),
    )
    async with client.stream("fake:m", [sl.user("x")]) as s:
        async for event in s:
            if isinstance(event, sl.TextDelta):
                break
    assert closed == [True]
    assert s.partial().text == "many "
    assert "open" in repr(s)


async def test_an_empty_stream_is_interrupted_and_retried_then_fails() -> None:
    class Empty(sl.FakeProvider):
        async def stream(self, request: sl.Request):  # type: ignore[no-untyped-def]
            self.requests.append(request)
            nothing: list[sl.StreamEvent] = []
            for event in nothing:
                yield event

    empty = Empty()
    client = sl.Client(
        providers={"fake": empty}, clock=sl.FakeClock(), settings=sl.Settings(max_retries=1)
    )
    with pytest.raises(sl.StreamInterruptedError, match="before sending anything"):
        async with client.stream("fake:m", [sl.user("x")]):
            pass  # pragma: no cover
    assert len(empty.requests) == 2


async def test_a_stream_without_done_is_interrupted() -> None:
    class NoDone(sl.FakeProvider):
        async def stream(self, request: sl.Request):  # type: ignore[no-untyped-def]
            async for event in super().stream(request):
                if not isinstance(event, sl.Done):
                    yield event

    client = sl.Client(providers={"fake": NoDone()}, clock=sl.FakeClock())
    async with client.stream("fake:m", [sl.user("partial answer")]) as s:
        with pytest.raises(sl.StreamInterruptedError, match="before it was complete") as info:
            await collect(s)
    assert info.value.partial.text == "partial answer"


async def test_provider_errors_mid_stream_are_tagged() -> None:
    class MidError(sl.FakeProvider):
        async def stream(self, request: sl.Request):  # type: ignore[no-untyped-def]
            yield sl.TextDelta("hi")
            raise sl.OverloadedError("Overloaded (in-band error event)")

    client = sl.Client(providers={"fake": MidError()}, clock=sl.FakeClock())
    async with client.stream("fake:m", [sl.user("x")]) as s:
        with pytest.raises(sl.OverloadedError) as info:
            await collect(s)
    assert info.value.attempt == 1 and info.value.model == "m"
    assert [e async for e in s] == []  # finished: iteration stops


async def test_json_reply_streams_as_text() -> None:
    client, _ = make_client(sl.FakeReply(json={"a": [1, 2]}, chunks=3))
    async with client.stream("fake:m", [sl.user("x")]) as s:
        events = await collect(s)
    assert len([e for e in events if isinstance(e, sl.TextDelta)]) == 3
    assert s.response.text == '{"a": [1, 2]}'
