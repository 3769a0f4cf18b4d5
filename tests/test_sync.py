from __future__ import annotations

import inspect
import threading
from typing import Any

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

    async_only = {"aclose", "retry", "clock"}
    sync_only = {"close", "client"}
    with sl.SyncClient() as sync_client:
        assert public(sl.Client()) - async_only == public(sync_client) - sync_only
    for name in [*sorted(public(sl.SyncClient) - sync_only), "__init__"]:
        a, b = getattr(sl.Client, name, None), getattr(sl.SyncClient, name)
        if a is None or isinstance(a, property) or not callable(a):
            continue  # an attribute of the instance, or a property: no signature
        assert same_signature(a, b), name


#: The async types and their sync twins, as annotations spell them.
TWINS = {
    "Client": "SyncClient",
    "ChatStream": "SyncChatStream",
    "ToolStream": "SyncToolStream",
}


def same_signature(async_fn: Any, sync_fn: Any) -> bool:
    """Parameters (names, kinds, defaults, annotations) and return type agree, with
    each async type read as its sync twin."""
    a, b = inspect.signature(async_fn), inspect.signature(sync_fn)
    twin = TWINS.get(str(a.return_annotation), str(a.return_annotation))
    if twin != str(b.return_annotation):
        raise AssertionError(f"returns {a.return_annotation} vs {b.return_annotation}")
    mine = [(p.name, p.kind, p.default, str(p.annotation)) for p in a.parameters.values()]
    theirs = [(p.name, p.kind, p.default, str(p.annotation)) for p in b.parameters.values()]
    if mine != theirs:
        raise AssertionError(f"{mine} != {theirs}")
    return True


def test_the_signature_check_sees_a_difference() -> None:
    class A:
        async def chat(self, model: str, *, timeout_ms: int = 1) -> int:
            return timeout_ms

    class B:
        def chat(self, model: str, *, timeout_ms: int = 2) -> int:
            return timeout_ms

    with pytest.raises(AssertionError):
        same_signature(A.chat, B.chat)


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


# ------------------------------------------------------------------ the loop thread (issue 13)


def _sync_threads() -> int:
    import threading

    return sum(t.name == "steadyllm-sync" and t.is_alive() for t in threading.enumerate())


def test_a_constructor_that_fails_leaves_no_thread() -> None:
    class Broken(sl.FakeProvider):
        def attach(self, clock: sl.Clock) -> None:
            raise RuntimeError("cannot attach")

    before = _sync_threads()
    with pytest.raises(RuntimeError, match="cannot attach"):
        sl.SyncClient(providers={"fake": Broken()})
    assert _sync_threads() == before


def test_clients_dropped_without_close_stop_their_threads() -> None:
    import gc

    before = _sync_threads()
    clients = [sl.SyncClient() for _ in range(20)]
    assert _sync_threads() == before + 20
    del clients
    gc.collect()
    assert _sync_threads() == before


CTRL_C = """
import json, os, signal, threading
import steadyllm as sl

arrived = threading.Event()

class Signalling(sl.FakeProvider):
    async def complete(self, request):
        arrived.set()
        return await super().complete(request)

def press_ctrl_c():
    arrived.wait(60)
    os.kill(os.getpid(), signal.SIGINT)

with sl.SyncClient(providers={"fake": Signalling([sl.FakeHang(), sl.FakeReply("next")])}) as c:
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    try:
        c.chat("fake:m", [sl.user("slow")])
        raised = None
    except BaseException as exc:
        raised = type(exc).__name__
    total = c.costs.summary()["total"]
    after = c.chat("fake:m", [sl.user("x")]).text
print(json.dumps({"raised": raised, "calls": total["calls"],
                  "failed": total["failed_calls"], "after": after}))
"""


def test_ctrl_c_in_the_calling_thread_cancels_the_running_call() -> None:
    # In a process of its own: the SIGINT must reach only the program that is waiting
    # on the call (a pytest-xdist worker has its own uses for SIGINT).
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "raised": "KeyboardInterrupt",
        "calls": 1,
        "failed": 1,  # booked as cancelled
        "after": "next",  # the client still works
    }


def test_a_client_used_after_fork_raises_at_once() -> None:
    import os

    with sl.SyncClient() as client:
        pid = os.fork()
        if pid == 0:  # the child: must not hang
            try:
                client.chat("fake:m", [sl.user("x")])
            except RuntimeError as exc:
                os._exit(0 if "os.fork()" in str(exc) else 1)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.chat("fake:m", [sl.user("parent")]).text == "parent"


def test_the_sync_constructor_takes_the_hooks_and_breaker() -> None:
    from steadyllm._resilience.breaker import BreakerPolicy

    changes: list[tuple[str, str, str]] = []
    fake = sl.FakeProvider([sl.FakeFault("server_error")])
    with (
        sl.SyncClient(
            providers={"fake": fake},
            breaker=BreakerPolicy(failure_threshold=1),
            on_circuit_change=lambda k, o, n: changes.append((k, o, n)),
            on_cost_alert=lambda total, limit: None,
            retry=sl.RetryPolicy(max_retries=0),
        ) as client,
        pytest.raises(sl.ServerError),
    ):
        client.chat("fake:m", [sl.user("x")])
    assert changes == [("fake:m", "closed", "open")]


def test_a_call_cancelled_before_it_starts_is_dropped_unstarted() -> None:
    import asyncio
    from concurrent.futures import Future

    from steadyllm._client.loop_call import submit

    loop = asyncio.new_event_loop()
    ran: list[str] = []
    dropped = threading.Event()

    async def work() -> str:
        ran.append("ran")
        return "done"

    try:
        future: Future[str] = Future()
        future.cancel()  # interrupted before the loop got to it
        submit(loop, work(), future, dropped.set)
        loop.run_until_complete(asyncio.sleep(0))
        assert dropped.is_set() and ran == []
        second: Future[str] = Future()
        submit(loop, work(), second, dropped.set)
        loop.run_until_complete(asyncio.sleep(0))
        assert second.result(timeout=1) == "done" and ran == ["ran"]
    finally:
        loop.close()


def test_a_cancelled_caller_cancels_the_running_task_and_its_error_is_kept() -> None:
    import asyncio
    from concurrent.futures import CancelledError, Future

    from steadyllm._client.loop_call import submit

    loop = asyncio.new_event_loop()
    started, stopped = asyncio.Event(), asyncio.Event()

    async def hang() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    async def fail() -> None:
        raise ValueError("boom")

    try:
        future: Future[None] = Future()
        submit(loop, hang(), future, lambda: None)
        loop.run_until_complete(started.wait())
        assert future.cancel()
        loop.run_until_complete(stopped.wait())  # the task itself was cancelled
        with pytest.raises(CancelledError):
            future.result(timeout=0)
        failing: Future[None] = Future()
        submit(loop, fail(), failing, lambda: None)
        loop.run_until_complete(asyncio.sleep(0))
        with pytest.raises(ValueError, match="boom"):
            failing.result(timeout=1)
    finally:
        loop.close()
