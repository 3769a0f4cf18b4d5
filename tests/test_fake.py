from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._core.chunking import split_text as _split

from .conftest import make_client


@given(st.text(), st.one_of(st.none(), st.integers(min_value=1, max_value=50)))
def test_chunks_always_join_back_to_the_text(text: str, chunks: int | None) -> None:
    pieces = _split(text, chunks)
    assert "".join(pieces) == text
    if chunks is not None and text:
        assert len(pieces) == min(chunks, len(text))


async def test_scripts_per_model_then_echo() -> None:
    fake = sl.FakeProvider(
        [sl.FakeReply("default")], scripts={"special": [sl.FakeReply("special")]}
    )
    client = sl.Client(providers={"fake": fake}, clock=sl.FakeClock())
    assert (await client.chat("fake:special", [sl.user("a")])).text == "special"
    assert (await client.chat("fake:special", [sl.user("b")])).text == "default"
    assert (await client.chat("fake:other", [sl.user("c")])).text == "c"
    assert fake.pending == 0 and [r.model for r in fake.requests] == ["special"] * 2 + ["other"]


async def test_json_mode_echo_and_scripted_json() -> None:
    client, _ = make_client(sl.FakeReply(json={"ok": True}))
    assert (await client.chat("fake:m", [sl.user("x")])).text == '{"ok": true}'
    r = await client.chat("fake:m", [sl.user("hi")], response_format={"type": "json_object"})
    assert r.text == '{"echo": "hi"}'


async def test_usage_finish_reason_and_fault_details_can_be_scripted() -> None:
    usage = sl.Usage(prompt_tokens=100, completion_tokens=20, cached_tokens=50, reasoning_tokens=5)
    client, _ = make_client(
        sl.FakeReply("cut", usage=usage, finish_reason="length"),
        sl.FakeFault("rate_limit", status=429, message="custom words", retry_after=1),
        sl.FakeFault("context_length"),
        clock=sl.FakeClock(),
        max_retries=0,
    )
    r = await client.chat("fake:m", [sl.user("x")])
    assert r.usage is usage and r.usage.total_tokens == 120 and r.finish_reason == "length"
    with pytest.raises(sl.RateLimitError, match="custom words") as info:
        await client.chat("fake:m", [sl.user("x")])
    assert info.value.retry_after == 1 and info.value.status == 429
    with pytest.raises(sl.ContextLengthError):
        await client.chat("fake:m", [sl.user("x")])


async def test_hang_then_reply_after_a_while(clock: sl.FakeClock) -> None:
    client, _ = make_client(sl.FakeHang(3.0, then=sl.FakeReply("late")), clock=clock)
    r = await client.chat("fake:m", [sl.user("x")], timeout_ms=10_000)
    assert r.text == "late" and clock.now() == 3.0


def test_script_mistakes_fail_fast() -> None:
    with pytest.raises(sl.ConfigError, match="unknown error kind 'ratelimit'"):
        sl.FakeFault("ratelimit")
    with pytest.raises(sl.ConfigError, match="times=0"):
        sl.FakeFault("rate_limit", times=0)
    with pytest.raises(sl.ConfigError, match="FakeReply, FakeFault or FakeHang"):
        sl.FakeProvider(["hello"])  # type: ignore[list-item]


async def test_fake_works_without_a_client_clock() -> None:
    fake = sl.FakeProvider([sl.FakeReply("x", latency=0.001)])
    req = sl.Request("fake", "m", [sl.user("q")])
    assert (await fake.complete(req)).text == "x"
    assert isinstance(fake.clock, sl.SystemClock)
