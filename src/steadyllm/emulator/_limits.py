"""Requests-per-minute and tokens-per-minute enforcement, as a provider does it.

Token buckets that refill continuously (limit per 60 s). A request needs one
request token and its estimated tokens (prompt estimate plus max output); if
either bucket lacks them the emulator answers 429 with the wait in
``retry-after-ms`` and the state of both buckets in rate-limit headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    limit: float
    level: float
    updated: float

    def refill(self, now: float) -> None:
        self.level = min(self.limit, self.level + (now - self.updated) * self.limit / 60.0)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 if it is now)."""
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing * 60.0 / self.limit

    def until_full(self) -> float:
        return (self.limit - self.level) * 60.0 / self.limit


@dataclass
class Verdict:
    allowed: bool
    wait: float
    headers: dict[str, str]


class RateLimits:
    def __init__(
        self, rpm: int | None, tpm: int | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        now = clock()
        self.requests = Bucket(rpm, rpm, now) if rpm else None
        self.tokens = Bucket(tpm, tpm, now) if tpm else None
        self.rejected = 0

    def take(self, tokens: int) -> Verdict:
        now = self.clock()
        waits = []
        for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
            if bucket is not None:
                bucket.refill(now)
                if amount > bucket.limit:
                    waits.append(float("inf"))
                else:
                    waits.append(bucket.wait_for(amount))
        wait = max(waits, default=0.0)
        allowed = wait == 0.0
        if allowed:
            if self.requests is not None:
                self.requests.level -= 1
            if self.tokens is not None:
                self.tokens.level -= tokens
        else:
            self.rejected += 1
        return Verdict(allowed, wait, self._headers())

    def _headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is None:
                continue
            out[f"x-ratelimit-limit-{name}"] = str(int(bucket.limit))
            out[f"x-ratelimit-remaining-{name}"] = str(max(0, int(bucket.level)))
            out[f"x-ratelimit-reset-{name}"] = f"{bucket.until_full():.3f}s"
        return out
