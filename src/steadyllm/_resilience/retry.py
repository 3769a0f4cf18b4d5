"""When to retry and how long to wait: a pure decision with no I/O.

Exponential back-off with full jitter (``uniform(0, min(cap, base * 2**n))``),
retrying only retryable errors. A server's hint (``retry_after``) wins over the
back-off. If the wait would run past the caller's deadline the call fails at
once instead of sleeping into a timeout.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

from .._core.errors import ConfigError, LLMError
from .._core.units import ms_from_seconds

#: The seconds spellings of the delays (before durations became milliseconds).
_SECONDS = {
    "base_delay": "base_delay_ms",
    "max_delay": "max_delay_ms",
    "max_retry_after": "max_retry_after_ms",
}


@dataclass(frozen=True, slots=True, init=False)
class RetryPolicy:
    """How a call retries. Delays are milliseconds, as everywhere in steadyllm's API
    (``base_delay=``, ``max_delay=`` and ``max_retry_after=`` in seconds still work,
    with a DeprecationWarning); the decisions below answer in seconds, the clock's unit."""

    max_retries: int
    base_delay_ms: float
    max_delay_ms: float
    #: A server hint longer than this is not honoured: the error goes to the caller.
    max_retry_after_ms: float
    random: Callable[[], float] = field(compare=False)

    def __init__(
        self,
        max_retries: int = 3,
        base_delay_ms: float = 500.0,
        max_delay_ms: float = 8_000.0,
        max_retry_after_ms: float = 120_000.0,
        random: Callable[[], float] = _random.random,
        **seconds: float,
    ) -> None:
        given = {"base_delay_ms": base_delay_ms, "max_delay_ms": max_delay_ms}
        given["max_retry_after_ms"] = max_retry_after_ms
        for old, value in seconds.items():
            if old not in _SECONDS:
                raise TypeError(f"RetryPolicy() got an unexpected keyword argument {old!r}")
            ms = ms_from_seconds(value, "RetryPolicy", old, _SECONDS[old], stacklevel=2)
            given[_SECONDS[old]] = 0.0 if ms is None else ms
        object.__setattr__(self, "max_retries", max_retries)
        for name, value in given.items():
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "random", random)
        if self.max_retries < 0:
            raise ConfigError(f"max_retries={self.max_retries} must be 0 or more")
        if self.base_delay_ms < 0 or self.max_delay_ms < self.base_delay_ms:
            raise ConfigError(
                f"retry delays must satisfy 0 <= base_delay_ms <= max_delay_ms "
                f"(got base_delay_ms={self.base_delay_ms:g}, "
                f"max_delay_ms={self.max_delay_ms:g})"
            )

    def with_retries(self, max_retries: int) -> RetryPolicy:
        """This policy with another number of retries (a call's ``max_retries``)."""
        return RetryPolicy(
            max_retries, self.base_delay_ms, self.max_delay_ms, self.max_retry_after_ms, self.random
        )

    def backoff(self, retries_done: int) -> float:
        """Full-jitter back-off before retry number ``retries_done + 1``."""
        base, cap = self.base_delay_ms / 1000.0, self.max_delay_ms / 1000.0
        ceiling = min(cap, base * (2.0 ** min(retries_done, 32)))
        return ceiling * self.random()

    def next_delay(
        self, error: LLMError, retries_done: int, time_left: float | None
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give up now."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        hint = error.retry_after
        if hint is not None and hint > self.max_retry_after_ms / 1000.0:
            return None
        delay = hint if hint is not None and hint > 0 else self.backoff(retries_done)
        if time_left is not None and delay >= time_left:
            return None
        return delay
