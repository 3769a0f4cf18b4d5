"""The response cache: identical requests, one provider call.

``ResponseCache`` looks responses up and stores them for the client (keys and
the stored form: ``entry``; backends: ``backends`` and ``_shared.cache``),
bounds every backend operation by the call's deadline, and lets identical
requests in flight at once share one provider call (single flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from .._core.clock import Clock, SystemClock
from .._core.redact import get_logger
from .._core.types import CacheMode as CacheMode  # re-exported
from .._core.types import Request, Response
from .backends import CacheBackend
from .entry import cache_key, decode, encode, storable

logger = get_logger("steadyllm")
T = TypeVar("T")


class ResponseCache:
    """Looks up and stores responses for the client. Every backend operation is
    bounded by the call's deadline: a backend that fails or cannot answer in time
    (a locked SQLite file, a hung Redis) is a miss, never the call's failure.
    Identical requests in flight at once make one provider call (``lead``)."""

    def __init__(self, backend: CacheBackend, ttl: float, clock: Clock | None = None) -> None:
        self.backend: CacheBackend = backend
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
