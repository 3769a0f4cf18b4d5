"""Anthropic's prompt cache, emulated: a request's ``cache_control`` breakpoints
write the prompt prefix up to them, and a later request with the same prefix
reads it, so usage reports cache writes (split by TTL) and reads the way the
real API does.

What is emulated, after Anthropic's documentation: the prefix runs over tools,
then system, then messages; each breakpoint caches the prefix up to and
including its block, for 5 minutes or, with ``ttl: "1h"``, an hour, refreshed
on every hit; the longest cached prefix is read and the segments after it are
written at the TTL of the breakpoint that ends them; a prefix shorter than 1024
tokens is not cached. Tokens are the emulator's estimate (a quarter of the JSON
characters), not a tokenizer's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_TOKENS = 1024
_TTL = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True, slots=True)
class CacheUse:
    read: int
    write_5m: int
    write_1h: int


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request as the prefix it is cached by: tools, system, message blocks."""
    out = [t for t in body.get("tools") or () if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str):
        out.append({"type": "text", "text": system})
    elif isinstance(system, list):
        out += [b for b in system if isinstance(b, dict)]
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append({"role": message["role"], "type": "text", "text": content})
        elif isinstance(content, list):
            out += [{"role": message["role"], **b} for b in content if isinstance(b, dict)]
    return out


class PromptCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def use(self, body: dict[str, Any]) -> CacheUse | None:
        """What this request reads and writes, or None if it marks no breakpoint."""
        blocks = _blocks(body)
        points: list[tuple[str, int, str]] = []  # (prefix key, prefix tokens, ttl)
        digest = hashlib.sha256()
        tokens = 0
        for block in blocks:
            plain = {k: v for k, v in block.items() if k != "cache_control"}
            text = json.dumps(plain, sort_keys=True)
            digest.update(text.encode())
            tokens += -(-len(text) // 4)
            marker = block.get("cache_control")
            if isinstance(marker, dict) and tokens >= MIN_TOKENS:
                points.append((digest.hexdigest(), tokens, str(marker.get("ttl") or "5m")))
        if not any(isinstance(b.get("cache_control"), dict) for b in blocks):
            return None
        now = self._clock()
        hit = max(
            (i for i, (key, _, _) in enumerate(points) if self._expiry.get(key, 0.0) > now),
            default=-1,
        )
        read = points[hit][1] if hit >= 0 else 0
        written = {"5m": 0, "1h": 0}
        covered = read
        for key, size, ttl in points:
            if size > covered:
                written[ttl if ttl in _TTL else "5m"] += size - covered
                covered = size
            self._expiry[key] = now + _TTL.get(ttl, _TTL["5m"])
        return CacheUse(read, written["5m"], written["1h"])
