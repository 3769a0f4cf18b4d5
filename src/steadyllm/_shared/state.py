"""Shared state in Redis (or Valkey): one connection pool, the server-side
scripts, and what happens when the server cannot be reached.

Every read-modify-write of shared state is one Lua script, so it is atomic
on the server whatever the number of processes. Times come from the
server's own clock (``TIME``) so machines need not agree on theirs; a client
built on a ``FakeClock`` passes its own time instead, which is how the tests
drive the shared limiter and breaker deterministically against a real server.

A feature that cannot reach the server raises ``SharedStateUnavailableError``
internally; each feature then applies its policy (``fail_closed`` or
``fail_open``), counts the failure in ``failures`` and warns once per outage.
redis-py reconnects by itself on the next command, so recovery needs nothing
but a successful call, which ends the outage with an info line.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from .._core.clock import Clock, SystemClock
from .._core.errors import ConfigError, SharedStateError
from .._core.redact import get_logger
from .batch import ScriptBatcher

logger = get_logger("steadyllm")
T = TypeVar("T")


#: How long a closing client keeps trying to write its queued budget settlements and
#: cost counters to a Redis that is away, before it gives up (and says so).
CLOSE_GRACE_SECONDS = 5.0


class RetryingWriter:
    """Writes a queue to Redis in the background: ``kick()`` starts one task that
    calls ``flush`` (True once nothing is left) until it succeeds, backing off in
    real time (the outage is real even under a fake clock). Used by the queued
    budget settlements and the fleet cost counters."""

    def __init__(self, flush: Callable[[], Awaitable[bool]], linger: float = 0.0) -> None:
        self._flush = flush
        #: Seconds a kick waits before writing, so what arrives meanwhile goes along
        #: in the same write (0: write at once).
        self._linger = linger
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        if self._linger:
            await asyncio.sleep(self._linger)
        delay = 0.25
        while not await self._flush():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def drain(self, grace: float | None = None) -> bool:
        """At close: write what is queued, retrying for up to ``grace`` seconds (by
        default ``CLOSE_GRACE_SECONDS``: a Redis that is restarting is back within it),
        then stop the background task. False when something is still unwritten."""
        loop = asyncio.get_running_loop()
        end = loop.time() + (CLOSE_GRACE_SECONDS if grace is None else grace)
        delay = 0.1
        try:
            while not await self._flush():
                if loop.time() + delay > end:
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            return True
        finally:
            self.cancel()


class SharedStateUnavailableError(Exception):
    """The Redis server could not be reached for ``feature`` (internal; see policies)."""

    def __init__(self, feature: str, cause: BaseException) -> None:
        super().__init__(f"{feature}: {type(cause).__name__}: {cause}")
        self.feature = feature
        self.cause = cause

    def error(self, what: str) -> SharedStateError:
        """The typed error a fail-closed feature raises to its caller."""
        return SharedStateError(
            f"shared {self.feature} state in Redis cannot be used ({_describe(self.cause)}); "
            f"{what}. "
            f"The call is refused (fail closed); set {_POLICY_VARS[self.feature]}=open to "
            "run on this process's own state instead while Redis is down",
            retryable=True,
            retry_after=0.5,
        )


def as_text(value: Any) -> str:
    """A reply element as text (redis-py gives bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    """``TypeName: message``, the message redacted (it may quote a URL)."""
    from .._core.redact import redact

    return redact(f"{type(exc).__name__}: {exc}")


#: Only these two features fail closed, so only they raise ``SharedStateError``.
_POLICY_VARS = {"limiter": "REDIS_LIMITER_ON_FAILURE", "budgets": "REDIS_BUDGETS_ON_FAILURE"}


def _import_redis() -> None:
    """Load redis-py (in a worker thread): the modules ``_build_client`` uses."""
    import importlib

    for name in ("redis.asyncio", "redis.asyncio.retry", "redis.backoff", "redis.exceptions"):
        importlib.import_module(name)


def _build_client(url: str, timeout: float, max_connections: int) -> Any:
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # One retry on a fresh connection covers the first batch after a server
    # restart (its pooled socket is dead, so nothing ran). Should a live server
    # drop the connection after running a batch, the batch runs twice: budgets and
    # counters are idempotent by id, admissions and failures count twice (more
    # conservative); only a limiter refund would be credited twice.
    # A bounded pool: hundreds of concurrent calls share a few dozen connections
    # (queueing for one is not an outage) instead of opening one each at once.
    # No socket timeout: redis-py would arm a timer for every reply it reads; the
    # batcher bounds a whole round trip instead, and ``read`` a whole report.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=max(10 * timeout, 5.0),
        socket_connect_timeout=timeout,
        socket_timeout=None,  # (redis-py 8 would default to 5 s)
        retry=Retry(NoBackoff(), 1),
    )
    return Redis(connection_pool=pool)


def _connection_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions as rx

    # Every redis-py error, not only "unreachable": a server out of memory under
    # noeviction (OOM), an ACL user without EVALSHA (NOPERM), a replica answering
    # READONLY after a fail-over, MISCONF after a failed save, a script error. For
    # the call each is the same thing, shared state that cannot be used now, and
    # the feature's fail-open/closed policy applies.
    return (rx.RedisError, OSError, TimeoutError)


class SharedState:
    """The client's link to Redis for the limiter, breaker, budgets and cost counters."""

    def __init__(
        self,
        url: str,
        prefix: str,
        clock: Clock,
        *,
        timeout: float = 1.0,
        max_connections: int = 64,
        limiter_fails_open: bool = False,
        budgets_fail_open: bool = False,
    ) -> None:
        import importlib.util

        if importlib.util.find_spec("redis") is None:
            raise ConfigError(
                "STEADYLLM_REDIS_URL is set but the redis package is missing; "
                "pip install 'steadyllm[redis]'"
            )
        self.prefix = prefix
        self.clock = clock
        self.limiter_fails_open = limiter_fails_open
        self.budgets_fail_open = budgets_fail_open
        self._url, self._timeout, self._max_connections = url, timeout, max_connections
        self._redis: Any = None
        #: Every redis-py error (set once redis-py is imported, off the event loop).
        self.connection_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        self.batcher = ScriptBatcher(self.client, timeout)
        #: Operations that failed, by feature; features whose outage is ongoing.
        self.failures: Counter[str] = Counter()
        self.down: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def client(self) -> Any:
        """The redis-py client, built on first use. redis-py is imported in a worker
        thread (~100 ms of imports would otherwise block the event loop)."""
        if self._redis is None:
            await asyncio.to_thread(_import_redis)
            if self._redis is None:  # (another caller may have built it meanwhile)
                self._redis = _build_client(self._url, self._timeout, self._max_connections)
                self.connection_errors = _connection_errors()
        return self._redis

    @property
    def redis(self) -> Any:
        """The redis-py client (after the first operation has built it)."""
        if self._redis is None:
            raise RuntimeError("the Redis client is built on first use; await client() first")
        return self._redis

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def now_arg(self) -> str:
        """The script's notion of now: the server's clock, unless the client's is fake."""
        return "" if isinstance(self.clock, SystemClock) else repr(self.clock.now())

    async def run(
        self,
        feature: str | tuple[str, ...],
        script: str,
        keys: Sequence[str],
        args: Sequence[Any],
    ) -> Any:
        """Run a Lua script (in the next batch to Redis); a connection failure raises
        ``SharedStateUnavailableError`` for ``feature`` (the first, when one script
        serves several, and counts against each)."""
        try:
            result = await self.batcher.submit(script, keys, args)
        except self.connection_errors as exc:
            features = (feature,) if isinstance(feature, str) else feature
            for name in features:
                self.failed(name, exc)
            raise SharedStateUnavailableError(features[0], exc) from exc
        if self.down:  # (only while an outage is on: the common path skips it)
            for name in (feature,) if isinstance(feature, str) else feature:
                self.recovered(name)
        return result

    async def read(self, feature: str, work: Callable[[Any], Awaitable[T]]) -> T:
        """``work(redis)``, a plain read (reports, summaries); any Redis failure becomes
        ``SharedStateError``."""
        redis = await self.client()
        try:
            async with asyncio.timeout(max(10 * self._timeout, 5.0)):
                return await work(redis)
        except self.connection_errors as exc:
            self.failed(feature, exc)
            raise SharedStateError(
                f"shared {feature} in Redis cannot be read ({_describe(exc)}); try again when "
                "Redis is up",
                retryable=True,
            ) from None

    def failed(self, feature: str, exc: BaseException) -> None:
        self.failures[feature] += 1
        if feature not in self.down:
            self.down.add(feature)
            logger.warning("Redis cannot be used for the shared %s: %s", feature, _describe(exc))

    def recovered(self, feature: str) -> None:
        if feature in self.down:
            self.down.discard(feature)
            logger.info("Redis reachable again for the shared %s", feature)

    def background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` (a cancelled call's release, a settlement) as a task held here
        until it ends, so it finishes even when its caller is gone, and ``aclose``
        waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("shared-state clean-up failed: %s", task.exception())

    def snapshot(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "failures": dict(self.failures),
            "round_trips": self.batcher.round_trips,
            "script_calls": self.batcher.commands,
            "down": sorted(self.down),
            "limiter_on_failure": "open" if self.limiter_fails_open else "closed",
            "budgets_on_failure": "open" if self.budgets_fail_open else "closed",
        }

    async def aclose(self) -> None:
        await self.batcher.aclose()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)


#: Lua helper shared by scripts: the time the script runs at.
LUA_NOW = """
local function script_now(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""
