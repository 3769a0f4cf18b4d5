"""State: the response cache and shared state in Redis.

Each setting is written once, here: its type (the annotation), variable,
default, meaning and range; ``Settings`` and the README table derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .spec import setting
from .specs_metering import _Metering

if TYPE_CHECKING:
    from .secret import Secret


@dataclass(frozen=True, slots=True)
class _State(_Metering):
    enable_cache: bool = setting(
        "ENABLE_LLM_CACHE",
        False,
        "Cache complete responses of identical non-streaming requests.",
    )
    cache_ttl_ms: int = setting(
        "CACHE_TTL_MS",
        3_600_000,
        "How long a cached response stays valid (ms).",
        minimum=1,
        maximum=31_536_000_000,
    )
    cache_backend: str = setting(
        "LLM_CACHE_BACKEND",
        "sqlite",
        "Where cached responses live: sqlite (shared by processes on this machine), "
        "memory (this process) or redis (every machine; the default when "
        "STEADYLLM_REDIS_URL is set).",
        kind="choice",
        choices=("sqlite", "memory", "redis"),
    )
    cache_path: str = setting(
        "LLM_CACHE_PATH",
        "./.steadyllm-cache.db",
        "SQLite file of the response cache.",
    )
    cache_max_entries: int = setting(
        "LLM_CACHE_MAX_ENTRIES",
        10_000,
        "Most responses kept by the memory cache (least recently used go first).",
        minimum=1,
        maximum=100_000_000,
    )
    redis_url: Secret | None = setting(
        "STEADYLLM_REDIS_URL",
        None,
        "redis:// (or rediss://) URL of the Redis or Valkey server that shared state "
        "uses; needs the redis extra.",
    )
    redis_prefix: str = setting(
        "STEADYLLM_REDIS_PREFIX",
        "steadyllm",
        "Prefix of every Redis key, to keep applications sharing a server apart.",
    )
    redis_timeout_ms: int = setting(
        "REDIS_TIMEOUT_MS",
        1000,
        "Connect timeout, and the limit on each round trip to Redis (one batch of "
        "script calls); past it the server counts as unreachable and the feature's "
        "failure policy applies.",
        minimum=1,
        maximum=60_000,
    )
    redis_limiter_on_failure: str = setting(
        "REDIS_LIMITER_ON_FAILURE",
        "closed",
        "When Redis is unreachable, the shared rate limiter refuses calls with "
        "SharedStateError (closed, retried within the deadline) or paces on this "
        "process's own limiter (open).",
        kind="choice",
        choices=("closed", "open"),
    )
    redis_budgets_on_failure: str = setting(
        "REDIS_BUDGETS_ON_FAILURE",
        "closed",
        "When Redis is unreachable, shared budgets refuse calls with SharedStateError "
        "(closed) or check them against this process's own budgets (open); spend is "
        "queued and written when Redis is back either way.",
        kind="choice",
        choices=("closed", "open"),
    )
