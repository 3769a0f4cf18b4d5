"""Where cached responses live on one machine: ``MemoryCache`` (LRU with TTL and
a size bound), ``SQLiteCache`` (several processes on one machine: WAL mode,
blocking calls in a worker thread) and ``NoCache`` (a cache that could not be
opened). The Redis backend, shared across machines, is ``_shared.cache``."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .._core.errors import ConfigError
from .._core.redact import get_logger

logger = get_logger("steadyllm")


class CacheUnavailableError(ConfigError):
    """The configured cache cannot be opened (the client serves misses instead)."""


class CacheBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


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

    async def aclose(self) -> None:
        return None

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

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)  # in a thread: a busy write may hold its lock

    def close(self) -> None:
        with self._lock:
            self._db.close()


class NoCache:
    """The backend of a cache that could not be opened: every lookup is a miss."""

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        return None

    async def delete(self, key: str) -> None:
        return None

    async def aclose(self) -> None:
        return None
