"""Cassettes: record real exchanges at the transport (the emulator on loopback
plays the provider), scrub them, replay them offline with nothing listening;
the modes, the matchers, the mismatch message, and the file format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._cassette import format as _format
from steadyllm._cassette.format import Exchange
from steadyllm.emulator import Behavior, Emulator
from steadyllm.testing import Cassette, CassetteError, cassette

NO_RETRY = sl.RetryPolicy(max_retries=0)
KEY = "sk-cassette-secret-123456"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(api_keys=[KEY, "emulator-azure-key"]) as emu:
        yield emu


def client_for(base: str, **settings: Any) -> sl.Client:
    values = {"openai_api_key": KEY, "openai_base_url": base, **settings}
    return sl.Client(
        sl.Settings.load(env={}, dotenv=False, config_file=False, **values), retry=NO_RETRY
    )


async def conversation(client: sl.Client) -> tuple[sl.Response, list[Any], sl.Response]:
    """A whole reply, a stream's events, and a tool call: what a test would do."""
    try:
        whole = await client.chat("openai:gpt-4o-mini", [sl.user("hello cassette")])
        async with client.stream("openai:gpt-4o-mini", [sl.user("stream it")]) as s:
            events = [e async for e in s]
        tools = await client.chat("openai:gpt-4o-mini", [sl.user("weather?")], max_tokens=50)
    finally:
        await client.aclose()
    return whole, events, tools


def dead_base() -> str:
    return "http://127.0.0.1:9/v1"  # nothing listens: a replay must not connect


async def test_record_once_then_replay_offline(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "chat.yaml"
    async with cassette(path, mode="once", match_on=("method", "path", "body")) as recording:
        live = await conversation(client_for(emulator.openai_base_url))
    assert len(recording.new) == 3 and len(emulator.requests) == 3
    text = path.read_text()
    assert KEY not in text and "'[REDACTED]'" in text  # the key never reaches the file
    document = await asyncio.to_thread(yaml.safe_load, text)  # pure-Python YAML: off the loop
    assert document["exchanges"][1]["request"]["body"]["stream"] is True

    async with cassette(path, match_on=("method", "path", "body")) as replay:  # mode none
        again = await conversation(client_for(dead_base()))
    assert len(replay.played) == 3 and not replay.new and len(emulator.requests) == 3
    whole, events, tools = again
    assert whole.text == live[0].text and whole.usage == live[0].usage
    assert whole.total_cost_usd == live[0].total_cost_usd
    assert [type(e).__name__ for e in events] == [type(e).__name__ for e in live[1]]
    streamed = "".join(e.text for e in events if isinstance(e, sl.TextDelta))
    assert streamed and streamed == "".join(e.text for e in live[1] if isinstance(e, sl.TextDelta))
    assert tools.text == live[2].text


async def test_streams_are_kept_byte_for_byte(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    emulator.push(Behavior(text="one two three four", chunks=4, comments=True))
    async with cassette(path, mode="all") as recording:
        client = client_for(emulator.openai_base_url)
        try:
            async with client.stream("openai:gpt-4o-mini", [sl.user("x")], keep_raw=True) as s:
                _ = [e async for e in s]
        finally:
            await client.aclose()
    body = recording.new[0].body_bytes
    assert body.count(b"data: ") == len(s.response.raw or []) and b": keep-alive" in body
    assert _format.load(path)[0].body_bytes == body


async def test_a_request_with_no_recording_names_the_closest(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "one.yaml"
    async with cassette(path, mode="once"):
        await conversation(client_for(emulator.openai_base_url))
    client = client_for(emulator.openai_base_url)
    try:
        async with cassette(path):
            with pytest.raises(CassetteError) as caught:
                await client.chat("openai:gpt-4o-mini", [sl.user("hello cassettes")])
    finally:
        await client.aclose()
    message = caught.value.message
    assert "closest is exchange 1" in message
    assert "body.messages[0].content: 'hello cassettes' != recorded 'hello cassette'" in message
    assert len(emulator.requests) == 3  # nothing went out


async def test_each_recording_plays_once_unless_repeats_are_allowed(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "repeat.yaml"
    ask = [sl.user("same question")]
    async with cassette(path, mode="once"):
        client = client_for(emulator.openai_base_url)
        await client.chat("openai:gpt-4o-mini", ask)
        await client.aclose()
    client = client_for(emulator.openai_base_url)
    try:
        async with cassette(path):
            await client.chat("openai:gpt-4o-mini", ask)
            with pytest.raises(CassetteError, match="played already"):
                await client.chat("openai:gpt-4o-mini", ask)
        async with cassette(path, allow_repeats=True):
            for _ in range(3):
                await client.chat("openai:gpt-4o-mini", ask)
    finally:
        await client.aclose()
    assert len(emulator.requests) == 1


async def test_new_episodes_appends_and_all_starts_over(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "episodes.yaml"

    async def ask(text: str, mode: str) -> None:
        client = client_for(emulator.openai_base_url)
        try:
            async with cassette(path, mode=mode):
                await client.chat("openai:gpt-4o-mini", [sl.user(text)])
        finally:
            await client.aclose()

    await ask("first", "once")
    await ask("first", "once")  # replayed: the cassette exists
    await ask("second", "new_episodes")
    await ask("first", "new_episodes")  # replayed
    assert len(emulator.requests) == 2 and len(_format.load(path)) == 2
    await ask("third", "all")
    assert [e.body["messages"][0]["content"] for e in _format.load(path)] == ["third"]
    assert len(emulator.requests) == 3


async def test_errors_and_cut_streams_replay_as_they_happened(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "faults.yaml"
    emulator.push(
        Behavior(fault="rate_limit", retry_after=7),
        Behavior(fault="drop", after_chunks=2, text="a b c d e f", chunks=6),
    )

    async def run(base: str) -> tuple[sl.LLMError, sl.LLMError]:
        client = client_for(base)
        try:
            with pytest.raises(sl.RateLimitError) as limited:
                await client.chat("openai:gpt-4o-mini", [sl.user("limited")])
            with pytest.raises(sl.StreamInterruptedError) as cut:
                async with client.stream("openai:gpt-4o-mini", [sl.user("cut")]) as s:
                    _ = [e async for e in s]
        finally:
            await client.aclose()
        return limited.value, cut.value

    match = ("method", "path", "body")
    async with cassette(path, mode="once", match_on=match):
        live = await run(emulator.openai_base_url)
    async with cassette(path, match_on=match):
        replayed = await run(dead_base())
    assert replayed[0].retry_after == live[0].retry_after == 7
    assert replayed[1].partial.text == live[1].partial.text
    assert "error" in yaml.safe_load(path.read_text())["exchanges"][1]["response"]


async def test_azure_keys_and_query_credentials_are_scrubbed(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "azure.yaml"
    async with cassette(path, mode="once"):
        client = sl.Client(emulator.settings(), retry=NO_RETRY)
        try:
            await client.chat("azure:gpt-4o-mini", [sl.user("hi")])
        finally:
            await client.aclose()
    stored = _format.load(path)[0]
    assert (
        stored.headers["api-key"] == "[REDACTED]" and "emulator-azure-key" not in path.read_text()
    )
    assert "api-version=" in stored.url
    assert _format.scrub_url("https://u:pw-123456@h.example/v1?key=AIza-secret&alt=sse") == (
        "https://h.example/v1?key=%5BREDACTED%5D&alt=sse"
    )
    headers = {"Cookie": "session=abc", "Set-Cookie": "x", "Proxy-Authorization": "Basic x"}
    assert _format.scrub_headers(headers, _format.SECRET_REQUEST_HEADERS | {"set-cookie"}) == {
        "cookie": "[REDACTED]",
        "set-cookie": "[REDACTED]",
        "proxy-authorization": "[REDACTED]",
    }


def test_bad_options_and_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(sl.ConfigError, match="cassette mode 'sometimes'"):
        Cassette(tmp_path / "x.yaml", mode="sometimes")
    with pytest.raises(sl.ConfigError, match="unknown cassette matcher 'headers'"):
        Cassette(tmp_path / "x.yaml", match_on=("headers",))
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 7\n")
    with pytest.raises(sl.ConfigError, match="not a steadyllm cassette"), Cassette(bad):
        pass
    bad.write_text("version: 1\nexchanges:\n- request: {}\n")
    with pytest.raises(sl.ConfigError, match="exchange 1 is malformed"), Cassette(bad):
        pass
    with Cassette(tmp_path / "a.yaml"), pytest.raises(sl.ConfigError, match="do not nest"):
        Cassette(tmp_path / "b.yaml").__enter__()


async def test_no_cassette_in_mode_none_says_how_to_record(tmp_path: Path) -> None:
    client = client_for(dead_base())
    try:
        async with cassette(tmp_path / "missing.yaml"):
            with pytest.raises(CassetteError) as caught:
                await client.chat("openai:gpt-4o-mini", [sl.user("x")])
    finally:
        await client.aclose()
    assert "--llm-record-mode=once" in caught.value.message
    assert not (tmp_path / "missing.yaml").exists()


chunks = st.lists(
    st.tuples(st.floats(0, 100, allow_nan=False), st.binary(min_size=1, max_size=200)),
    max_size=6,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(pieces=chunks, text=st.lists(st.text(min_size=1, max_size=80), max_size=4))
def test_the_file_keeps_every_byte(tmp_path: Path, pieces: list[Any], text: list[str]) -> None:
    pieces = pieces + [(1.0, t.encode("utf-8")) for t in text]
    exchange = Exchange("POST", "http://h/v1", {}, {"a": [1, "x"]}, 200, {}, pieces)
    path = tmp_path / "roundtrip.yaml"
    _format.save(path, [exchange])
    (loaded,) = _format.load(path)
    assert [c for _, c in loaded.chunks] == [c for _, c in pieces]
    assert loaded.body == {"a": [1, "x"]} and not list(tmp_path.glob(".*.tmp"))


async def test_realtime_replay_keeps_the_recorded_pace(tmp_path: Path) -> None:
    path = tmp_path / "paced.yaml"
    sse = [b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n', b"data: [DONE]\n\n"]
    exchange = Exchange(
        "POST",
        "http://127.0.0.1:9/v1/chat/completions",
        {},
        None,
        200,
        {"content-type": "text/event-stream"},
        [(0.0, sse[0]), (0.05, sse[1])],
    )
    _format.save(path, [exchange])
    from steadyllm._cassette.recorder import ReplayResponse

    (loaded,) = _format.load(path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = [c async for c in ReplayResponse(loaded, realtime=True).iter_chunks()]
    assert got == sse and loop.time() - started >= 0.05
