"""When to retry and how long to wait: a pure decision with no I/O.

Exponential back-off with full jitter (``uniform(0, min(cap, base * 2**n))``),
retrying only retryable errors. A server's hint (``retry_after``) wins over the
back-off. If the wait would run past the caller's deadline the call fails at
once instead of sleeping into a timeout.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .._core.errors import ConfigError, LLMError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: A server hint longer than this is not honoured: the error goes to the caller.
    max_retry_after: float = 120.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"max_retries={self.max_retries} must be 0 or more")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ConfigError(
                f"retry delays must satisfy 0 <= base_delay <= max_delay "
                f"(got base_delay={self.base_delay}, max_delay={self.max_delay})"
            )

    def backoff(self, retries_done: int) -> float:
        """Full-jitter back-off before retry number ``retries_done + 1``."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** min(retries_done, 32)))
        return ceiling * self.random()

    def next_delay(
        self, error: LLMError, retries_done: int, time_left: float | None
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give up now."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        hint = error.retry_after
        if hint is not None and hint > self.max_retry_after:
            return None
        delay = hint if hint is not None and hint > 0 else self.backoff(retries_done)
        if time_left is not None and delay >= time_left:
            return None
        return delay
