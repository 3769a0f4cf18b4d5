"""Only the client composes: it chooses each backend, in-process or shared
through Redis, and injects it into the layer that uses it.

The breaker and limiter boards, the budgets, the cost counters and the response
cache each work on an in-process backend by default and never import the Redis
ones; with ``STEADYLLM_REDIS_URL`` set, this module builds the ``_shared``
twins and hands them in. Redis support is imported only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from .._cache.backends import CacheBackend, CacheUnavailableError, MemoryCache, NoCache, SQLiteCache
from .._config.settings import Settings
from .._core.clock import Clock
from .._core.errors import ConfigError
from .._core.redact import get_logger
from .._core.sinks import SinkFailures
from .._metering.meter import Meter
from .._resilience.breaker import BreakerPolicy
from .._resilience.guard import Resilience

if TYPE_CHECKING:
    from .._shared.state import SharedState

logger = get_logger("steadyllm")


@dataclass(slots=True)
class Parts:
    #: The link to Redis when STEADYLLM_REDIS_URL is set, else None.
    shared: SharedState | None
    resilience: Resilience
    meter: Meter


def compose(
    settings: Settings,
    clock: Clock,
    sinks: SinkFailures,
    *,
    breaker: BreakerPolicy | None,
    on_circuit_change: Callable[[str, str, str], None] | None,
    on_cost_alert: Callable[[float, float], None] | None,
) -> Parts:
    """The client's breakers, limiters, budgets and cost counters, in-process or in
    Redis, as the settings say."""
    if settings.redis_url is None:
        return Parts(
            None,
            Resilience(
                settings, clock, breaker=breaker, on_circuit_change=on_circuit_change, sinks=sinks
            ),
            Meter(settings, on_cost_alert=on_cost_alert, sinks=sinks),
        )
    from .._shared.attempt import SharedGate
    from .._shared.breaker import SharedBreaker
    from .._shared.budgets import SharedBudgets
    from .._shared.costs import SharedCosts
    from .._shared.limiter import SharedLimiter
    from .._shared.state import SharedState

    shared = SharedState(
        settings.redis_url.get(),
        settings.redis_prefix,
        clock,
        timeout=settings.redis_timeout_ms / 1000.0,
        limiter_fails_open=settings.redis_limiter_on_failure == "open",
        budgets_fail_open=settings.redis_budgets_on_failure == "open",
    )
    resilience = Resilience(
        settings,
        clock,
        breaker=breaker,
        on_circuit_change=on_circuit_change,
        breakers=partial(SharedBreaker, shared),
        limiters=partial(SharedLimiter, shared),
        gate=SharedGate(shared),
        sinks=sinks,
    )
    meter = Meter(
        settings,
        on_cost_alert=on_cost_alert,
        sinks=sinks,
        shared_budgets=partial(SharedBudgets, shared),
        shared_costs=SharedCosts(shared),
    )
    return Parts(shared, resilience, meter)


def cache_backend(settings: Settings) -> CacheBackend:
    """The response cache's backend (CACHE_* settings; Redis with shared state)."""
    kind = settings.cache_backend
    if settings.redis_url and "cache_backend" not in settings.sources:
        kind = "redis"  # one setting moves shared state to Redis
    if kind == "redis":
        if not settings.redis_url:
            raise ConfigError("LLM_CACHE_BACKEND=redis needs STEADYLLM_REDIS_URL")
        from .._shared.cache import RedisCache

        return RedisCache(settings.redis_url.get(), settings.redis_prefix)
    if kind == "sqlite":
        try:
            return SQLiteCache(settings.cache_path)
        except CacheUnavailableError as exc:
            logger.warning("%s", exc)  # once: the cache stays open, as a miss
            return NoCache()
    return MemoryCache(settings.cache_max_entries)
