"""The response cache: identical requests, one provider call.

The key is a SHA-256 of the normalised request: provider, model, messages,
tools and every parameter that changes the output, serialised canonically
(sorted keys, numbers as floats, text parts joined), so equal requests written
differently share an entry; ``user`` and ``stream`` are left out (a stream is
served from a cached complete response as a replayed stream). Only complete,
successful responses are stored: never errors, cut streams, or filtered
output. An entry that does not decode (corrupt, or from another format
version) is a miss and is deleted, never an exception.

Backends: ``MemoryCache`` (LRU with TTL and a size bound) and ``SQLiteCache``
(the embedded default for several processes on one machine: WAL mode, blocking
calls in a worker thread) and ``RedisCache`` (shared across machines).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ._clock import Clock, SystemClock
from ._errors import ConfigError
from ._redact import get_logger
from ._types import CacheMode as CacheMode  # re-exported
from ._types import Request, Response, TextPart, ToolCall, Usage

logger = get_logger("steadyllm")
T = TypeVar("T")
FORMAT = 1

_STORABLE = frozenset({"stop", "tool_calls", "length"})


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def cache_key(request: Request) -> str:
    """SHA-256 of the request's output-relevant content, written canonically."""
    messages = []
    for m in request.messages:
        text_only = all(isinstance(p, TextPart) for p in m.content)
        content: Any = m.text if text_only else m.to_dict()["content"]
        messages.append(
            {
                "role": m.role,
                "content": content,
                "tool_calls": [c.to_dict() for c in m.tool_calls],
                "tool_call_id": m.tool_call_id,
                "name": m.name,
                "is_error": m.is_error,
            }
        )
    body = {
        "provider": request.provider,
        "model": request.model,
        "messages": messages,
        "tools": [t.to_dict() for t in request.tools],
        "tool_choice": request.tool_choice,
        "temperature": _number(request.temperature),
        "top_p": _number(request.top_p),
        "max_tokens": request.max_tokens,
        "stop": request.stop,
        "seed": request.seed,
        "response_format": request.response_format,
        "extra": request.extra,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def storable(response: Response) -> bool:
    return response.finish_reason in _STORABLE and not response.cached


def encode(response: Response) -> bytes:
    usage = response.usage.to_dict()
    return json.dumps(
        {
            "format": FORMAT,
            "text": response.text,
            "finish_reason": response.finish_reason,
            "tool_calls": [c.to_dict() for c in response.tool_calls],
            "usage": usage,
            "model": response.model,
            "provider": response.provider,
            "request_id": response.request_id,
            "reasoning": response.reasoning,
        },
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> Response | None:
    """The cached Response, or None if the entry is corrupt or of another format."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            return None
        if not isinstance(raw.get("text"), str):  # a null or missing text is corrupt
            return None
        return Response(
            text=raw["text"],
            finish_reason=raw["finish_reason"],
            tool_calls=[ToolCall(**c) for c in raw["tool_calls"]],
            usage=Usage(**raw["usage"]),
            model=str(raw["model"]),
            provider=str(raw["provider"]),
            request_id=raw.get("request_id"),
            reasoning=str(raw.get("reasoning") or ""),
            cached=True,
        )
    except (ValueError, TypeError, KeyError):
        return None


class CacheUnavailableError(ConfigError):
    """The configured cache cannot be opened (the client serves misses instead)."""


class CacheBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryCache:
    """LRU with a per-entry TTL and a bound on the number of entries."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] | None = None) -> None:
        if max_entries < 1:
            raise ConfigError(f"cache max_entries={max_entries} must be at least 1")
        import time

        self.max_entries = max_entries
        self._now = clock or time.monotonic
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    async def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return None
            expires, value = found
            if expires <= self._now():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._data[key] = (self._now() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    async def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


class SQLiteCache:
    """A cache file shared by every process on the machine (WAL mode)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] | None = None) -> None:
        import sqlite3
        import time

        self.path = Path(path)
        self._now = clock or time.time  # wall clock: shared across processes
        self._lock = threading.Lock()
        try:
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # A short busy timeout: a file locked by another process is a miss, and a
            # worker thread is not held for long (the call itself stops waiting sooner).
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=2.0)
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                    "value BLOB NOT NULL, expires REAL NOT NULL)"
                )
        except (sqlite3.DatabaseError, OSError) as exc:
            # Raised once, where the client opens the cache: it then serves every call as
            # a miss with one warning, instead of failing every call.
            raise CacheUnavailableError(
                f"cache database {self.path} cannot be used ({exc}); every call is a cache "
                "miss until LLM_CACHE_PATH points to a writable file"
            ) from None

    def _get(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, expires FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            if row[1] <= self._now():
                with self._db:
                    self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
                return None
            return bytes(row[0])

    def _set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value, expires) VALUES (?, ?, ?)",
                (key, value, self._now() + ttl),
            )

    def _delete(self, key: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await asyncio.to_thread(self._set, key, value, ttl)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisCache:
    """Cached responses in Redis, shared by every process on every machine.
    Keys are ``{prefix}:cache:{sha256}`` with a millisecond TTL; the ``redis``
    package (``pip install steadyllm[redis]``) is imported on first use, and
    redis-py reconnects by itself after the server comes back."""

    def __init__(self, url: str, prefix: str = "steadyllm") -> None:
        import importlib.util

        if importlib.util.find_spec("redis") is None:
            raise ConfigError(
                "a redis:// URL is configured but the redis package is missing; "
                "pip install 'steadyllm[redis]'"
            )
        self.prefix = prefix
        self._url = url
        self._redis: Any = None

    async def _client(self) -> Any:
        """Built on first use; redis-py is imported in a worker thread, not the loop."""
        if self._redis is None:
            import importlib

            module = await asyncio.to_thread(importlib.import_module, "redis.asyncio")
            if self._redis is None:
                self._redis = module.from_url(
                    self._url,
                    socket_connect_timeout=2.0,
                    socket_timeout=2.0,
                    retry_on_timeout=False,
                )
        return self._redis

    def _key(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"

    async def get(self, key: str) -> bytes | None:
        value = await (await self._client()).get(self._key(key))
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await (await self._client()).set(self._key(key), value, px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await (await self._client()).delete(self._key(key))

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class NoCache:
    """The backend of a cache that could not be opened: every lookup is a miss."""

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None


class ResponseCache:
    """Looks up and stores responses for the client. Every backend operation is
    bounded by the call's deadline: a backend that fails or cannot answer in time
    (a locked SQLite file, a hung Redis) is a miss, never the call's failure.
    Identical requests in flight at once make one provider call (``lead``)."""

    def __init__(self, backend: CacheBackend, ttl: float, clock: Clock | None = None) -> None:
        self.backend: Any = backend
        self.ttl = ttl
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.hits = 0
        self.misses = 0
        #: Calls in flight by cache key: followers wait for the leader's answer.
        self._flights: dict[str, asyncio.Future[Response | None]] = {}

    async def _bounded(self, operation: Awaitable[T], deadline: float | None, doing: str) -> T:
        """``operation`` within at most half of the time the call has left, so a slow
        cache still leaves the provider call its time."""
        if deadline is not None:
            now = self.clock.now()
            deadline = now + max(0.0, deadline - now) / 2.0
        scope = self.clock.timeout_at(deadline)
        try:
            async with scope:
                return await operation
        except TimeoutError:
            if not scope.expired():
                raise
            raise _SlowCacheError(f"the response cache did not answer in time ({doing})") from None

    async def lookup(self, request: Request, deadline: float | None = None) -> Response | None:
        key = cache_key(request)
        try:
            data = await self._bounded(self.backend.get(key), deadline, "lookup")
        except Exception as exc:
            logger.warning("response cache unavailable (treated as a miss): %s", exc)
            self.misses += 1
            return None
        if data is None:
            self.misses += 1
            return None
        response = decode(data)
        if response is None:
            logger.warning("dropping a corrupt or incompatible cache entry %s", key[:12])
            try:
                await self._bounded(self.backend.delete(key), deadline, "delete")
            except Exception as exc:
                logger.warning("a corrupt cache entry could not be removed: %s", exc)
            self.misses += 1
            return None
        self.hits += 1
        return response

    # ------------------------------------------------------------ single flight

    def lead(self, request: Request) -> tuple[str, asyncio.Future[Response | None] | None]:
        """``(key, None)`` when this call leads (it must ``land`` the key when done),
        else ``(key, future)``: the leader's answer, or None if it had none to share."""
        key = cache_key(request)
        flight = self._flights.get(key)
        if flight is not None and not flight.done():
            return key, flight
        self._flights[key] = asyncio.get_running_loop().create_future()
        return key, None

    def land(self, key: str, response: Response | None) -> None:
        """The leader is done: hand a copy of its answer (if shareable) to the followers."""
        flight = self._flights.pop(key, None)
        if flight is not None and not flight.done():
            # What the cache would store, no more: a complete answer of the model asked
            # for (not a fallback's), not one that failed validation.
            passed = (
                response is not None
                and response.fallback is None
                and (response.validation or {}).get("status") != "fail"
            )
            shared = response if response is not None and passed and storable(response) else None
            flight.set_result(decode(encode(shared)) if shared is not None else None)

    async def follow(
        self, flight: asyncio.Future[Response | None], deadline: float
    ) -> Response | None:
        """Wait (within the deadline) for the leader's answer, as a fresh copy."""
        try:
            answer = await self._bounded(
                asyncio.shield(flight), deadline, "waiting for an identical call"
            )
        except _SlowCacheError:
            return None
        if answer is None:
            return None
        self.hits += 1
        return decode(encode(answer))

    async def aclose(self) -> None:
        """Close the backend's file or connections (the memory backend has none)."""
        if isinstance(self.backend, SQLiteCache):  # in a thread: a busy write may hold its lock
            await asyncio.to_thread(self.backend.close)
        elif isinstance(self.backend, RedisCache):
            await self.backend.aclose()

    async def store(
        self, request: Request, response: Response, deadline: float | None = None
    ) -> None:
        if not storable(response):
            return
        try:
            await self._bounded(
                self.backend.set(cache_key(request), encode(response), self.ttl), deadline, "store"
            )
        except Exception as exc:
            logger.warning("response cache unavailable (not stored): %s", exc)


class _SlowCacheError(Exception):
    """A cache operation ran into the call's deadline (handled as a miss)."""
