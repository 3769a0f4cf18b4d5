"""The response cache's Redis backend, shared by every process on every machine."""

from __future__ import annotations

import asyncio
from typing import Any

from .._core.errors import ConfigError


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
