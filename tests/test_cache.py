"""The response cache: keys, what is stored, backends, modes, replay, accounting."""

from __future__ import annotations

import importlib.util
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm._cache.backends import CacheUnavailableError, MemoryCache, SQLiteCache
from steadyllm._cache.entry import cache_key, decode, encode
from steadyllm._cache.response import ResponseCache
from steadyllm._shared.cache import RedisCache
from steadyllm.emulator import Behavior, Emulator


def req(*messages: sl.Message, **kw: Any) -> sl.Request:
    return sl.Request("openai", "gpt-4o", list(messages) or [sl.user("hi")], **kw)


def test_equal_requests_written_differently_share_a_key() -> None:
    base = cache_key(req(sl.user("hello"), temperature=1))
    assert cache_key(req(sl.user("hel", "lo"), temperature=1.0)) == base
    assert cache_key(req(sl.user("hello"), temperature=1, user="someone", stream=True)) == base
    assert cache_key(req(sl.user("hello"), temperature=1, extra={"b": 1, "a": 2})) == cache_key(
        req(sl.user("hello"), temperature=1, extra={"a": 2, "b": 1})
    )
    for different in (
        req(sl.user("hello"), temperature=0.5),
        req(sl.user("hello!"), temperature=1),
        req(sl.system("s"), sl.user("hello"), temperature=1),
        req(sl.user("hello"), temperature=1, max_tokens=5),
        req(sl.user("hello"), temperature=1, tools=[sl.ToolSpec("t")]),
        sl.Request("anthropic", "gpt-4o", [sl.user("hello")], temperature=1),
    ):
        assert cache_key(different) != base


def test_encoding_round_trip_and_bad_entries() -> None:
    r = sl.Response(
        text="hi",
        tool_calls=[sl.ToolCall("c", "f", "{}")],
        usage=sl.Usage(3, 4),
        model="m",
        provider="p",
        request_id="r",
        finish_reason="tool_calls",
    )
    back = decode(encode(r))
    assert back is not None and back.cached and back.tool_calls == r.tool_calls
    assert (back.usage.total_tokens, back.finish_reason, back.request_id) == (7, "tool_calls", "r")
    assert decode(b"not json") is None
    assert decode(json.dumps({"format": 99}).encode()) is None
    assert decode(json.dumps({"format": 1, "text": "x"}).encode()) is None


async def test_memory_lru_and_ttl() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    await cache.set("a", b"1", ttl=10)
    await cache.set("b", b"2", ttl=10)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", ttl=10)
    assert await cache.get("b") is None and len(cache) == 2
    now[0] = 10.0
    assert await cache.get("a") is None
    with pytest.raises(sl.ConfigError, match="max_entries"):
        MemoryCache(0)


async def test_sqlite_is_shared_between_instances_and_expires(tmp_path: Path) -> None:
    now = [1000.0]
    first = SQLiteCache(tmp_path / "c.db", clock=lambda: now[0])
    await first.set("k", b"v", ttl=5)
    second = SQLiteCache(tmp_path / "c.db", clock=lambda: now[0])  # another process, same file
    assert await second.get("k") == b"v"
    now[0] = 1005.0
    assert await second.get("k") is None
    await first.delete("k")
    first.close()
    second.close()
    (tmp_path / "bad.db").write_text("garbage, not sqlite")
    with pytest.raises(CacheUnavailableError, match="cannot be used"):
        SQLiteCache(tmp_path / "bad.db")


def client(*steps: Any, **settings: Any) -> tuple[sl.Client, sl.FakeProvider]:
    fake = sl.FakeProvider(steps)
    base: dict[str, Any] = {
        "enable_cache": True,
        "cache_backend": "memory",
        "prices": {"fake:m": {"input": 1.0, "output": 2.0}},
    }
    return sl.Client(
        sl.Settings.load(env={}, dotenv=False, **{**base, **settings}),
        providers={"fake": fake},
        clock=sl.FakeClock(),
    ), fake


async def test_a_hit_costs_nothing_and_counts_what_it_saved() -> None:
    c, fake = client()
    first = await c.chat("fake:m", [sl.user("hello")])
    hit = await c.chat("fake:m", [sl.user("hello")])
    assert (first.cached, hit.cached, hit.text, hit.attempts, hit.usage.cost_usd) == (
        False,
        True,
        "hello",
        0,
        0.0,
    )
    assert len(fake.requests) == 1
    total = c.costs.summary()["total"]
    assert total["cache_hits"] == 1 and total["saved_usd"] == pytest.approx(first.usage.cost_usd)
    assert total["cost_usd"] == pytest.approx(first.usage.cost_usd)


async def test_modes_bypass_refresh_and_the_default_off() -> None:
    c, fake = client()
    await c.chat("fake:m", [sl.user("x")])
    assert not (await c.chat("fake:m", [sl.user("x")], cache="bypass")).cached
    assert not (await c.chat("fake:m", [sl.user("x")], cache="refresh")).cached
    assert (await c.chat("fake:m", [sl.user("x")])).cached
    assert len(fake.requests) == 3
    with pytest.raises(sl.InvalidRequestError, match="cache='always'"):
        await c.chat("fake:m", [sl.user("x")], cache="always")  # type: ignore[arg-type]
    off, fake_off = client(enable_cache=False)
    await off.chat("fake:m", [sl.user("x")])
    assert not (await off.chat("fake:m", [sl.user("x")])).cached
    assert not (await off.chat("fake:m", [sl.user("x")], cache="use")).cached  # opt in: stores
    assert (await off.chat("fake:m", [sl.user("x")], cache="use")).cached  # and then hits
    assert len(fake_off.requests) == 3


async def test_only_complete_successful_answers_are_stored() -> None:
    c, fake = client(
        sl.FakeReply("", finish_reason="content_filter"),
        sl.FakeFault("authentication"),
        sl.FakeReply("a b c", cut_after=1),
        sl.FakeReply("fine"),
    )
    await c.chat("fake:m", [sl.user("x")])
    with pytest.raises(sl.AuthenticationError):
        await c.chat("fake:m", [sl.user("x")])
    async with c.stream("fake:m", [sl.user("x")], max_retries=0) as s:
        with pytest.raises(sl.StreamInterruptedError):
            await s.final_response()
    assert (await c.chat("fake:m", [sl.user("x")])).text == "fine"
    assert (await c.chat("fake:m", [sl.user("x")])).cached
    assert len(fake.requests) == 4


async def test_a_cached_answer_is_replayed_as_a_stream_and_streams_are_stored() -> None:
    c, fake = client(sl.FakeReply("streamed once", tool_calls=[sl.ToolCall("t", "f", '{"a": 1}')]))
    async with c.stream("fake:m", [sl.user("x")]) as s:
        first = await s.final_response()
    async with c.stream("fake:m", [sl.user("x")]) as s:
        events = [e async for e in s]
    again = s.response
    assert len(fake.requests) == 1 and again.cached and not first.cached
    assert again.text == "streamed once" and again.tool_calls == first.tool_calls
    assert any(isinstance(e, sl.TextDelta) for e in events) and isinstance(events[-1], sl.Done)
    assert (await c.chat("fake:m", [sl.user("x")])).cached  # chat and stream share entries


async def test_a_corrupt_entry_is_a_miss_and_removed(caplog: pytest.LogCaptureFixture) -> None:
    c, fake = client()
    cache = c.response_cache()
    request = c._plan("fake:m", [sl.user("x")]).request
    await cache.backend.set(cache_key(request), b"\x00garbage", ttl=60)
    with caplog.at_level(logging.WARNING, logger="steadyllm"):
        r = await c.chat("fake:m", [sl.user("x")])
    assert not r.cached and len(fake.requests) == 1
    assert "corrupt or incompatible cache entry" in caplog.text
    assert (await c.chat("fake:m", [sl.user("x")])).cached  # replaced by a good one


async def test_a_failing_backend_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        async def get(self, key: str) -> bytes | None:
            raise OSError("disk gone")

        async def set(self, key: str, value: bytes, ttl: float) -> None:
            raise OSError("disk gone")

        async def delete(self, key: str) -> None:  # pragma: no cover
            raise OSError("disk gone")

        async def aclose(self) -> None:
            return None

    c, _ = client()
    c._pipeline._cache = ResponseCache(Broken(), 60)
    with caplog.at_level(logging.WARNING, logger="steadyllm"):
        assert (await c.chat("fake:m", [sl.user("x")])).text == "x"
    assert "treated as a miss" in caplog.text and "not stored" in caplog.text


async def test_cache_over_http_with_the_sqlite_default_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "l.jsonl"
    async with Emulator() as emu:
        settings = emu.settings(
            enable_cache=True,
            cache_path=str(tmp_path / "cache.db"),
            log_to_file=True,
            log_file_path=str(log),
        )
        async with sl.Client(settings) as first:
            await first.chat("openai:gpt-4o-mini", [sl.user("cache me")])
        async with sl.Client(settings) as second:  # a new client (or process), same cache file
            hit = await second.chat("openai:gpt-4o-mini", [sl.user("cache me")])
        emu.push(Behavior(text="fresh", api="anthropic"))
        async with sl.Client(settings) as third:
            assert (
                await third.chat("anthropic:claude-sonnet-4-5", [sl.user("cache me")])
            ).text == "fresh"
        assert len(emu.requests) == 2
    assert hit.cached and hit.text == "cache me"
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["cache_hit"] for r in records] == [False, True, False]
    assert records[1]["cost_usd"] == 0.0 and records[1]["saved_usd"] > 0
    with sqlite3.connect(tmp_path / "cache.db") as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 2


# ------------------------------------------------------------------ the deadline holds (issue 13)


async def test_a_cache_file_locked_by_another_process_is_a_miss_within_the_deadline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import sys

    path = tmp_path / "cache.db"
    SQLiteCache(path).close()  # the table exists; now another process locks the file
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()",
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and (await holder.stdout.readline()).strip() == b"locked"
        settings = sl.Settings.load(
            env={}, dotenv=False, enable_cache=True, cache_backend="sqlite", cache_path=str(path)
        )
        fake = sl.FakeProvider([sl.FakeReply("answered")])
        async with sl.Client(settings, providers={"fake": fake}) as c:
            with caplog.at_level(logging.WARNING, logger="steadyllm"):
                # The busy file would hold the store for 2 s; the call has 1 s in all.
                reply = await c.chat("fake:m", [sl.user("x")], timeout_ms=1000)
        assert reply.text == "answered" and not reply.cached
        assert "did not answer in time (store)" in caplog.text
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        await holder.wait()


# Checked without importing redis: importing it inside the test ran ~0.09 s on the
# event loop, which the blocking guard (rightly) counts against the test.
@pytest.mark.skipif(importlib.util.find_spec("redis") is None, reason="needs redis-py")
async def test_a_hung_redis_behind_the_cache_is_a_miss_within_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, read, never answer: a hung server

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        fake = sl.FakeProvider([sl.FakeReply("answered")])
        settings = sl.Settings.load(env={}, dotenv=False, enable_cache=True)
        async with sl.Client(settings, providers={"fake": fake}) as c:
            # Only the cache talks to the hung server (shared limits stay in-process).
            c._pipeline._cache = ResponseCache(
                RedisCache(f"redis://127.0.0.1:{port}/0"), 60, c.clock
            )
            with caplog.at_level(logging.WARNING, logger="steadyllm"):
                reply = await c.chat("fake:m", [sl.user("x")], timeout_ms=400)
        assert reply.text == "answered"
        assert "did not answer in time (lookup)" in caplog.text
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_cache_file_that_is_not_a_database_is_a_miss_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("garbage, not sqlite")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for path in (bad, blocked / "cache.db"):  # not a database; a directory that is a file
        settings = sl.Settings.load(
            env={}, dotenv=False, enable_cache=True, cache_backend="sqlite", cache_path=str(path)
        )
        fake = sl.FakeProvider([sl.FakeReply("one"), sl.FakeReply("two")])
        caplog.clear()
        async with sl.Client(settings, providers={"fake": fake}) as c:
            with caplog.at_level(logging.WARNING, logger="steadyllm"):
                texts = [(await c.chat("fake:m", [sl.user("x")])).text for _ in range(2)]
        assert texts == ["one", "two"]  # both were misses and both were answered
        assert caplog.text.count("cannot be used") == 1, path


async def test_an_entry_whose_text_is_null_is_corrupt_and_removed() -> None:
    c, fake = client()
    request = c._plan("fake:m", [sl.user("x")]).request
    entry = json.loads(encode(sl.Response(text="was here")))
    entry["text"] = None
    await c.response_cache().backend.set(cache_key(request), json.dumps(entry).encode(), ttl=60)
    reply = await c.chat("fake:m", [sl.user("x")])
    assert reply.text == "x" and not reply.cached and len(fake.requests) == 1
    assert decode(json.dumps(entry).encode()) is None


async def test_identical_concurrent_requests_make_one_provider_call(tmp_path: Path) -> None:
    import asyncio

    log = tmp_path / "calls.jsonl"
    async with Emulator() as emu:
        emu.push(Behavior(text="shared answer", latency_ms=50))
        settings = emu.settings(
            enable_cache=True, cache_backend="memory", log_to_file=True, log_file_path=str(log)
        )
        async with sl.Client(settings) as c:
            replies = await asyncio.gather(
                *(c.chat("openai:gpt-4o-mini", [sl.user("same")]) for _ in range(10))
            )
        assert len(emu.requests) == 1
    assert {r.text for r in replies} == {"shared answer"}
    assert sum(not r.cached for r in replies) == 1
    assert len({id(r) for r in replies}) == 10  # every caller owns its Response
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 10 and sum(r["cache_hit"] for r in records) == 9


async def test_followers_call_for_themselves_when_the_leader_fails() -> None:
    import asyncio

    c, _ = client(sl.FakeFault("server_error"), sl.FakeReply("second"), sl.FakeReply("third"))
    results = await asyncio.gather(
        c.chat("fake:m", [sl.user("x")], max_retries=0),
        c.chat("fake:m", [sl.user("x")], max_retries=0),
        return_exceptions=True,
    )
    assert isinstance(results[0], sl.ServerError)
    assert isinstance(results[1], sl.Response) and results[1].text in ("second", "third")


async def test_identical_concurrent_streams_make_one_provider_call() -> None:
    import asyncio

    c, fake = client(sl.FakeReply("one answer for all", chunks=4, chunk_delay=0.5))

    async def read() -> str:
        async with c.stream("fake:m", [sl.user("same")]) as s:
            return (await s.final_response()).text

    texts = await asyncio.gather(read(), read(), read(), c.chat("fake:m", [sl.user("same")]))
    assert [t if isinstance(t, str) else t.text for t in texts] == ["one answer for all"] * 4
    assert len(fake.requests) == 1
    assert c.costs.summary()["total"]["cache_hits"] == 3


async def test_a_fallbacks_answer_is_not_shared_with_identical_calls() -> None:
    import asyncio

    fake = sl.FakeProvider(
        scripts={
            "primary": [sl.FakeFault("overloaded", times=10)],
            "backup": [sl.FakeReply("from backup", latency=0.5)] * 3,
        }
    )
    settings = sl.Settings.load(
        env={},
        dotenv=False,
        enable_cache=True,
        cache_backend="memory",
        fallbacks={"fake:primary": ["fake:backup"]},
        max_retries=0,
    )
    async with sl.Client(settings, providers={"fake": fake}, clock=sl.FakeClock()) as c:
        replies = await asyncio.gather(
            c.chat("fake:primary", [sl.user("x")]), c.chat("fake:primary", [sl.user("x")])
        )
    assert all(r.model == "backup" and not r.cached for r in replies)
