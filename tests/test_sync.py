from __future__ import annotations

import inspect
import threading

import pytest

import steadyllm as sl


def script() -> list[sl.FakeReply | sl.FakeFault]:
    return [
        sl.FakeFault("rate_limit", times=1, retry_after=0.5),
        sl.FakeReply("first answer", chunk_delay=0.1),
        sl.FakeReply(tool_calls=[sl.ToolCall("c1", "f", '{"x": 1}')]),
    ]


def test_sync_and_async_clients_expose_the_same_calls() -> None:
    def public(obj: object) -> set[str]:
        return {n for n in dir(obj) if not n.startswith("_")}

    async_only = {
        "aclose",
        "plan",
        "provider",
        "retry",
        "clock",
        "plan_chain",
        "guard",
    }
    sync_only = {"close", "client"}
    with sl.SyncClient() as sync_client:
        assert public(sl.Client()) - async_only == public(sync_client) - sync_only
    for name in ("chat", "stream"):
        a = inspect.signature(getattr(sl.Client, name))
        s = inspect.signature(getattr(sl.SyncClient, name))
        assert list(a.parameters) == list(s.parameters), name


async def run_async() -> list[object]:
    clock = sl.FakeClock()
    async with sl.Client(providers={"fake": sl.FakeProvider(script())}, clock=clock) as client:
        r1 = await client.chat("fake:m", [sl.user("q")])
        async with client.stream("fake:m", [sl.user("q")]) as s:
            events = [e async for e in s]
        return [r1.to_dict(), events, s.response.to_dict(), clock.sleeps]


def run_sync() -> list[object]:
    clock = sl.FakeClock()
    with sl.SyncClient(providers={"fake": sl.FakeProvider(script())}, clock=clock) as client:
        r1 = client.chat("fake:m", [sl.user("q")])
        with client.stream("fake:m", [sl.user("q")]) as s:
            events = list(s)
        return [r1.to_dict(), events, s.response.to_dict(), clock.sleeps]


async def test_sync_results_equal_async_results() -> None:
    expected = await run_async()
    # The sync client runs its own loop on another thread, so call it from one too.
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.extend(run_sync()))
    worker.start()
    worker.join()
    assert got == expected
    assert expected[0]["attempts"] == 2  # type: ignore[index]


def test_sync_errors_are_the_same_types() -> None:
    with sl.SyncClient(providers={"fake": sl.FakeProvider([sl.FakeFault("authentication")])}) as c:
        with pytest.raises(sl.AuthenticationError):
            c.chat("fake:m", [sl.user("x")])
        with pytest.raises(sl.InvalidRequestError):
            c.chat("fake:m", [])


def test_sync_context_from_the_calling_thread() -> None:
    with sl.SyncClient() as client, sl.context(run_id="sync-run"):
        r = client.chat("fake:m", [sl.user("x")], context=sl.Context(agent="a"))
        with client.stream("fake:m", [sl.user("y")]) as s:
            assert s.final_response().context == sl.Context(run_id="sync-run")
    assert r.context == sl.Context(run_id="sync-run", agent="a")


def test_sync_stream_partial_and_close_twice() -> None:
    client = sl.SyncClient.from_env(providers={"fake": sl.FakeProvider([sl.FakeReply("a b c")])})
    assert client.settings.max_retries == 3
    with client.stream("fake:m", [sl.user("x")]) as s:
        first = next(iter(s))
        assert isinstance(first, sl.TextDelta)
        assert s.partial().text == "a "
    client.close()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.chat("fake:m", [sl.user("x")])
