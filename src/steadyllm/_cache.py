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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ._errors import ConfigError
from ._redact import get_logger
from ._types import CacheMode as CacheMode  # re-exported
from ._types import Request, Response, TextPart, ToolCall, Usage

logger = get_logger("steadyllm")
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
        return Response(
            text=str(raw["text"]),
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
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                    "value BLOB NOT NULL, expires REAL NOT NULL)"
                )
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cache database {self.path} cannot be used: {exc}") from None

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
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:
            raise ConfigError(
                "a redis:// URL is configured but the redis package is missing; "
                "pip install 'steadyllm[redis]'"
            ) from None
        self.prefix = prefix
        self._redis = redis_asyncio.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=2.0, retry_on_timeout=False
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._key(key))
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(self._key(key), value, px=max(1, int(ttl * 1000)))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def aclose(self) -> None:
        await self._redis.aclose()


class ResponseCache:
    """Looks up and stores responses for the client; a failing backend is a miss."""

    def __init__(self, backend: CacheBackend, ttl: float) -> None:
        self.backend: Any = backend
        self.ttl = ttl
        self.hits = 0
        self.misses = 0

    async def lookup(self, request: Request) -> Response | None:
        key = cache_key(request)
        try:
            data = await self.backend.get(key)
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
            await self.backend.delete(key)
            self.misses += 1
            return None
        self.hits += 1
        return response

    async def aclose(self) -> None:
        """Close the backend's file or connections (the memory backend has none)."""
        if isinstance(self.backend, SQLiteCache):
            self.backend.close()
        elif isinstance(self.backend, RedisCache):
            await self.backend.aclose()

    async def store(self, request: Request, response: Response) -> None:
        if not storable(response):
            return
        try:
            await self.backend.set(cache_key(request), encode(response), self.ttl)
        except Exception as exc:
            logger.warning("response cache unavailable (not stored): %s", exc)
