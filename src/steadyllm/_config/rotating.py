"""Credentials that expire or rotate: a key or token fetched by a callable
(a secret manager, Microsoft Entra ID, a cloud's token service), refreshed
ahead of its expiry, one refresh at a time however many calls wait on it.

``TokenProvider`` is a ``Secret``: an endpoint reads ``get()`` as it reads
any key, and the provider awaits ``fresh()`` before building a request.
The callable may be sync (run in a worker thread, so a blocking credential
library never stalls the event loop) or async, and may return a string (kept
``ttl`` seconds), a ``Token`` with its expiry, or an object with ``token``
and ``expires_on`` (azure-identity's ``AccessToken``). Each value fetched is
registered as a secret, so it is masked wherever it could appear. A refresh
that fails while the old token is still valid logs a warning and keeps the
old one; with nothing valid left it is an ``AuthenticationError``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._core.errors import AuthenticationError
from .._core.redact import get_logger, register_secret
from .secret import Secret

logger = get_logger("steadyllm")

#: How long a plain string from a key callable is used before it is fetched again.
KEY_TTL = 300.0
#: Refresh this long before expiry (at most half of a short token's lifetime).
REFRESH_AHEAD = 60.0


@dataclass(frozen=True, slots=True)
class Token:
    """A credential and when it expires (seconds since the epoch, like ``time.time()``)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token('********', expires_at={self.expires_at:.0f})"


class TokenProvider(Secret):
    """A secret fetched by ``fetch`` and refreshed ahead of expiry (single flight)."""

    __slots__ = ("_expires", "_fetch", "_fetched", "_flight", "_now", "_task", "ttl", "what")

    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        ttl: float = KEY_TTL,
        now: Callable[[], float] = time.time,
        what: str = "credential",
    ) -> None:
        super().__init__("")
        self._fetch = fetch
        self._now = now
        self.ttl = ttl
        self.what = what
        self._expires = 0.0
        self._fetched = 0.0
        self._flight: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps weak references

    def get(self) -> str:
        if not self._value:
            raise AuthenticationError(
                f"the {self.what} has not been fetched yet (TokenProvider.fresh() first)"
            )
        return self._value

    def _due(self) -> bool:
        lifetime = self._expires - self._fetched
        ahead = min(REFRESH_AHEAD, lifetime / 2)
        return not self._value or self._now() >= self._expires - ahead

    def expire(self) -> None:
        """Forget the current value (the server refused it): the next call fetches."""
        self._expires = 0.0

    async def fresh(self) -> None:
        """Fetch a new value if the current one is missing or about to expire."""
        if not self._due():
            return
        flight = self._flight
        if flight is None or flight.get_loop() is not asyncio.get_running_loop():
            flight = self._flight = asyncio.get_running_loop().create_future()
            flight.add_done_callback(_consume)
            self._task = asyncio.ensure_future(self._refresh(flight))
        await asyncio.shield(flight)

    async def _refresh(self, flight: asyncio.Future[None]) -> None:
        try:
            value, expires = await self._call()
        except Exception as exc:
            self._flight = None
            if self._value and self._now() < self._expires:
                logger.warning(
                    "refreshing the %s failed (%s); the current one is still valid",
                    self.what,
                    type(exc).__name__,
                )
                flight.set_result(None)
                return
            flight.set_exception(
                AuthenticationError(f"fetching the {self.what} failed: {type(exc).__name__}: {exc}")
            )
            return
        register_secret(value)
        self._value, self._fetched, self._expires = value, self._now(), expires
        self._flight = None
        flight.set_result(None)

    async def _call(self) -> tuple[str, float]:
        fetch = self._fetch
        if inspect.iscoroutinefunction(fetch) or inspect.iscoroutinefunction(
            getattr(fetch, "__call__", None)  # noqa: B004 - an object with async __call__
        ):
            got = await fetch()
        else:
            got = await asyncio.to_thread(fetch)
            if inspect.isawaitable(got):
                got = await got
        return self._read(got)

    def _read(self, got: Any) -> tuple[str, float]:
        if isinstance(got, str):
            return got, self._now() + self.ttl
        if isinstance(got, Token):
            return got.value, got.expires_at
        value, expires = getattr(got, "token", None), getattr(got, "expires_on", None)
        if isinstance(value, str) and isinstance(expires, int | float):
            return value, float(expires)
        raise TypeError(
            f"returned {type(got).__name__}; expected a str, a steadyllm.Token, or an "
            "object with .token and .expires_on"
        )

    def __repr__(self) -> str:
        return f"TokenProvider({self.what})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> Any:
        raise TypeError("a TokenProvider holds a callable and cannot be pickled")


def _consume(flight: asyncio.Future[None]) -> None:
    """Nobody may be waiting when a refresh fails: mark its exception as seen."""
    if not flight.cancelled():
        flight.exception()
