"""Script calls from concurrent calls, coalesced into one Redis round trip.

redis-py spends ~250 µs of CPU on a lone asyncio command (a pool checkout, a
write, a wake-up, a parse) and ~30 µs on one inside a pipeline. So every
script call made during one turn of the event loop is queued, and the queue
goes out as a single pipeline (no MULTI: the scripts are independent and each
is atomic on its own) on the next turn. One call alone pays no more than
before; sixty-four calls in flight share a handful of round trips. This is
the auto-pipelining that ioredis and Lettuce do for their users; redis-py has
none, so it is written here (docs/architecture.md, "What is written by hand").

A command whose caller was cancelled before the batch left is not sent. A
script the server does not know (a restart, ``SCRIPT FLUSH``) is loaded and
its commands sent again: NOSCRIPT means it never ran. A connection failure
fails every command of the batch; an error reply fails only its own command.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: The most commands one pipeline carries; a longer queue goes out in several.
MAX_BATCH = 256


def sha1(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Command:
    script: str
    sha: bytes
    keys: Sequence[str]
    args: Sequence[Any]
    future: asyncio.Future[Any]


class ScriptBatcher:
    """Queues ``EVALSHA`` calls and sends each turn's queue as one pipeline.

    ``client`` returns the redis-py client (built on first use); ``timeout``
    (seconds) bounds each round trip, writing the batch and reading every reply."""

    def __init__(self, client: Callable[[], Awaitable[Any]], timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._queue: list[Command] = []
        self._scheduled = False
        self._shas: dict[str, bytes] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connections back from a clean exchange, kept checked out of redis-py's pool:
        #: its checkout (a lock, a health probe, connection-count metrics) costs
        #: ~40 µs, as much as the rest of the round trip's Python.
        self._idle: list[Any] = []
        self._pool: Any = None
        #: Round trips made and commands they carried (for the shared-state report).
        self.round_trips = 0
        self.commands = 0

    def submit(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> asyncio.Future[Any]:
        """Queue one script call; the future holds its reply, or the error that failed it."""
        loop = asyncio.get_running_loop()
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = sha1(script).encode()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(Command(script, sha, keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._send_queue)
        return future

    def _send_queue(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), MAX_BATCH):
            task = asyncio.get_running_loop().create_task(
                self._send(queue[start : start + MAX_BATCH])
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[Command]) -> None:
        live = [c for c in batch if not c.future.done()]
        try:
            if live:
                await self._execute(live)
        except BaseException as exc:  # every waiter learns why
            for command in live:
                if not command.future.done():
                    command.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _execute(self, batch: list[Command]) -> None:
        from redis.exceptions import NoScriptError  # (imported already by the client)

        redis = await self._client()
        replies = await self._pipeline(redis, batch)
        missing = [c for c, r in zip(batch, replies, strict=True) if isinstance(r, NoScriptError)]
        if missing:
            for script in {c.script for c in missing}:
                await redis.script_load(script)
            for command, reply in zip(missing, await self._pipeline(redis, missing), strict=True):
                _resolve(command, reply)
        for command, reply in zip(batch, replies, strict=True):
            if not isinstance(reply, NoScriptError):
                _resolve(command, reply)

    async def _pipeline(self, redis: Any, batch: list[Command]) -> list[Any]:
        """Send ``batch`` as one write on one pooled connection and read every reply
        (an error reply as its exception). redis-py's own pipeline would spend more
        on packing the arguments than the round trip it saves, so the commands are
        packed here and only the connection, its retry and its parser are redis-py's."""
        self.round_trips += 1
        self.commands += len(batch)
        payload = b"".join(pack(b"EVALSHA", c.sha, len(c.keys), *c.keys, *c.args) for c in batch)
        pool = redis.connection_pool
        if pool is not self._pool:  # a new client: connections of the old one are not reused
            self._idle, self._pool = [], pool
        # One bound on the whole round trip, a connection's set-up included: a timeout
        # interrupts redis-py mid-reply, and it then drops the connection, so no later
        # batch reads this one's replies.
        try:
            async with asyncio.timeout(self._timeout):
                conn = self._idle.pop() if self._idle else await pool.get_connection()
                clean = False
                try:
                    replies = list(
                        await conn.retry.call_with_retry(
                            lambda: _exchange(conn, payload, len(batch)),
                            lambda _error: conn.disconnect(),
                        )
                    )
                    clean = True
                    return replies
                finally:
                    if clean:  # every reply read: the socket is in step, keep it
                        self._idle.append(conn)
                    else:  # redis-py checks it (and reconnects) on its next checkout
                        await pool.release(conn)
        except TimeoutError:  # (asyncio's says nothing: name the bound and its setting)
            raise TimeoutError(
                f"no reply within {self._timeout * 1000:.0f} ms (REDIS_TIMEOUT_MS)"
            ) from None

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        idle, self._idle = self._idle, []
        for conn in idle:  # back to redis-py, which closes them with its pool
            await self._pool.release(conn)


async def _exchange(conn: Any, payload: bytes, replies: int) -> list[Any]:
    from redis.exceptions import ResponseError

    await conn.send_packed_command(payload)
    out: list[Any] = []
    for _ in range(replies):  # every reply is read, so the pooled socket stays in step
        try:
            out.append(await conn.read_response())
        except ResponseError as error:
            out.append(error)
    return out


class Packed:
    """Arguments packed once, sent as they are in every command that carries them
    (a limiter's bucket table, a breaker's policy: the same on every call)."""

    __slots__ = ("count", "data")

    def __init__(self, *args: Any) -> None:
        self.count = len(args)
        self.data = b"".join(_bulk(arg) for arg in args)


def _bulk(arg: Any) -> bytes:
    if isinstance(arg, str):
        data = arg.encode()
    elif isinstance(arg, bytes):
        data = arg
    elif isinstance(arg, int):
        data = b"%d" % arg
    else:
        data = repr(arg).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def pack(*args: Any) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    parts = [b""]
    count = 0
    for arg in args:
        if type(arg) is Packed:
            parts.append(arg.data)
            count += arg.count
        else:
            parts.append(_bulk(arg))
            count += 1
    parts[0] = b"*%d\r\n" % count
    return b"".join(parts)


def _resolve(command: Command, reply: Any) -> None:
    if command.future.done():
        return
    if isinstance(reply, Exception):
        command.future.set_exception(reply)
    else:
        command.future.set_result(reply)
