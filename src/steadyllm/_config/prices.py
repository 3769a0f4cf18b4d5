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


def _at(rate: Rate | None, prompt_tokens: int, otherwise: float) -> float:
    """``rate`` for a prompt of ``prompt_tokens``, or ``otherwise`` where none is known."""
    return otherwise if rate is None else rate.at(prompt_tokens)


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
    #: Audio tokens' own rates (OpenAI gpt-audio, Gemini); None: priced as text.
    input_audio: Rate | None = None
    output_audio: Rate | None = None
    cache_audio_read: Rate | None = None

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
        # Audio is a share of the prompt (and cached audio a share of both the
        # audio and the cache reads), each token priced once at its own rate.
        audio_in = min(usage.audio_prompt_tokens, prompt)
        audio_read = min(usage.cached_audio_tokens, audio_in, read)
        fresh_audio = min(audio_in - audio_read, max(0, prompt - read - write))
        fresh = max(0, prompt - read - write - fresh_audio)
        in_rate = self.input.at(prompt)
        read_rate = _at(self.cache_read, prompt, in_rate)
        write_rate = _at(self.cache_write, prompt, in_rate)
        out_rate = self.output.at(prompt)
        hour = min(usage.cache_write_1h_tokens, write)
        audio_out = min(usage.audio_completion_tokens, usage.completion_tokens)
        total = (
            fresh * in_rate
            + fresh_audio * _at(self.input_audio, prompt, in_rate)
            + (read - audio_read) * read_rate
            + audio_read * _at(self.cache_audio_read, prompt, read_rate)
            + (write - hour) * write_rate
            + hour * _at(self.cache_write_1h, prompt, write_rate)
            + (usage.completion_tokens - audio_out) * out_rate
            + audio_out * _at(self.output_audio, prompt, out_rate)
        )
        searches = usage.web_search_requests * (self.web_search or 0.0) / 1000
        return total / 1_000_000 + searches

    def estimate(self, prompt_tokens: int, max_output_tokens: int) -> float:
        """The most a call can cost: its prompt uncached plus every allowed output token."""
        return self.cost(Usage(prompt_tokens=prompt_tokens, completion_tokens=max_output_tokens))

    def to_dict(self) -> dict[str, Any]:
        def rate(r: Rate | None) -> Any:
            return None if r is None else {"base": r.base, "tiers": [list(t) for t in r.tiers]}

        return {
            **{name: rate(getattr(self, name)) for name in RATE_FIELDS},
            "web_search": self.web_search,
            "service_tiers": {name: price.to_dict() for name, price in self.service_tiers},
            "source": self.source,
            "unit": "USD per million tokens (web_search: per thousand searches)",
        }


#: Every per-token rate of a ModelPrice (USD per million tokens), as a
#: ``[prices]`` table names them.
RATE_FIELDS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "input_audio",
    "output_audio",
    "cache_audio_read",
)


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
        ok = (
            isinstance(table, Mapping)
            and {"input"} <= set(table) <= {*RATE_FIELDS, "web_search"}
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                for v in table.values()
            )
        )
        if not ok:
            raise ConfigError(
                f"invalid price for {key!r} in {where}: give input and output (output may be "
                "left out for an embedding model; optionally cache_read, cache_write, "
                "cache_write_1h, input_audio, output_audio, cache_audio_read) as USD per "
                "million tokens (web_search: per thousand searches), e.g. "
                "{input = 0.15, output = 0.6}"
            )
        # Any: mypy cannot tell these keys are ModelPrice's Rate fields.
        rates: dict[str, Any] = {n: Rate(float(table[n])) for n in RATE_FIELDS if n in table}
        rates.setdefault("output", Rate(0.0))
        out[str(key)] = ModelPrice(
            **rates,
            source=f"override: {key}",
            web_search=float(table["web_search"]) if "web_search" in table else None,
        )
    return out
