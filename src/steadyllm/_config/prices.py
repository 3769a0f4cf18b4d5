"""The ``prices`` setting: per-model rates in USD per million tokens, and the
cost of a usage at those rates. Parsed here, with the rest of the settings, so
a bad table fails when the settings load; the price book that also consults
the genai-prices catalog is ``_metering.prices``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core.errors import ConfigError
from .._core.types import Usage


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens, with optional cliff tiers ``((threshold, price), ...)``."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, prompt_tokens: int) -> float:
        price = self.base
        for threshold, tier_price in self.tiers:
            if prompt_tokens > threshold:
                price = tier_price
        return price


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    #: Where the price came from: "override: KEY" or "genai-prices X.Y.Z (model ID)".
    source: str = ""
    #: USD per thousand web searches run by the provider (Anthropic's server tool).
    web_search: float | None = None
    #: Cache writes kept for one hour (Anthropic); None: priced as other writes.
    cache_write_1h: Rate | None = None
    #: The rates of each service tier priced differently (OpenAI's ``priority``,
    #: ``flex``), as (tier, price) pairs; a tier not listed is priced as this one.
    service_tiers: tuple[tuple[str, ModelPrice], ...] = ()

    def for_tier(self, tier: str | None) -> ModelPrice:
        """The price of a call served (or asked to be served) at ``tier``."""
        for name, price in self.service_tiers:
            if name == tier:
                return price
        return self

    def cost(self, usage: Usage) -> float:
        prompt = usage.prompt_tokens
        read = usage.cached_tokens
        write = usage.cache_write_tokens
        fresh = max(0, prompt - read - write)
        in_rate = self.input.at(prompt)
        total = fresh * in_rate
        total += read * (self.cache_read.at(prompt) if self.cache_read else in_rate)
        write_rate = self.cache_write.at(prompt) if self.cache_write else in_rate
        hour = min(usage.cache_write_1h_tokens, write)
        hour_rate = self.cache_write_1h.at(prompt) if self.cache_write_1h else write_rate
        total += (write - hour) * write_rate + hour * hour_rate
        total += usage.completion_tokens * self.output.at(prompt)
        searches = usage.web_search_requests * (self.web_search or 0.0) / 1000
        return total / 1_000_000 + searches

    def estimate(self, prompt_tokens: int, max_output_tokens: int) -> float:
        """The most a call can cost: its prompt uncached plus every allowed output token."""
        return self.cost(Usage(prompt_tokens=prompt_tokens, completion_tokens=max_output_tokens))

    def to_dict(self) -> dict[str, Any]:
        def rate(r: Rate | None) -> Any:
            return None if r is None else {"base": r.base, "tiers": [list(t) for t in r.tiers]}

        return {
            "input": rate(self.input),
            "output": rate(self.output),
            "cache_read": rate(self.cache_read),
            "cache_write": rate(self.cache_write),
            "cache_write_1h": rate(self.cache_write_1h),
            "web_search": self.web_search,
            "service_tiers": {name: price.to_dict() for name, price in self.service_tiers},
            "source": self.source,
            "unit": "USD per million tokens (web_search: per thousand searches)",
        }


def parse_prices(raw: Any, where: str) -> dict[str, ModelPrice]:
    """``{"provider:model" or "model": {"input": 0.15, "output": 0.6, "cache_read": ...}}``
    (``web_search`` is USD per thousand searches)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"invalid prices in {where}: expected tables of input/output USD per MTok"
        )
    out: dict[str, ModelPrice] = {}
    for key, table in raw.items():
        if isinstance(table, ModelPrice):
            out[str(key)] = table
            continue
        fields = {"input", "output", "cache_read", "cache_write", "cache_write_1h", "web_search"}
        ok = (
            isinstance(table, Mapping)
            and {"input"} <= set(table) <= fields
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                for v in table.values()
            )
        )
        if not ok:
            raise ConfigError(
                f"invalid price for {key!r} in {where}: give input and output (output may be "
                "left out for an embedding model; optionally cache_read, cache_write, "
                "cache_write_1h) as USD per million tokens (web_search: per thousand "
                "searches), e.g. {input = 0.15, output = 0.6}"
            )
        hour = table.get("cache_write_1h")
        out[str(key)] = ModelPrice(
            Rate(float(table["input"])),
            Rate(float(table.get("output", 0.0))),
            Rate(float(table["cache_read"])) if "cache_read" in table else None,
            Rate(float(table["cache_write"])) if "cache_write" in table else None,
            source=f"override: {key}",
            web_search=float(table["web_search"]) if "web_search" in table else None,
            cache_write_1h=Rate(float(hour)) if hour is not None else None,
        )
    return out
