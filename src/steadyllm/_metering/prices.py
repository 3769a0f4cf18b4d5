"""Prices per model and the cost of a call.

Lookup order for ``provider:model``: local overrides (``[prices]`` in
steadyllm.toml or ``Settings(prices=...)``), exact key then the longest
matching prefix (``gpt-4o-mini`` prices ``gpt-4o-mini-2024-07-18``), then the
``genai-prices`` package's offline snapshot. The package costs ~0.5 s to
import and ~0.25 ms per calculation, so it is imported on first use and each
model is resolved once into plain float rates; after that a cost is a few
multiplications. Resolved rates are also remembered on disk, per installed
snapshot (``CatalogCache``), so a new process prices a model it has seen
before without importing the package at all. A model with no price gives ``cost_usd=None`` and one
warning, never a silent 0.

Costs use our normalised usage (``_types.Usage``): ``prompt_tokens`` includes
cache reads (``cached_tokens``) and writes (``cache_write_tokens``), each billed
at its own rate; ``completion_tokens`` includes reasoning tokens, billed as
output. Tiered prices (Anthropic's long-context rates) apply the tier's rate
to all tokens once the prompt crosses its threshold. Service tiers the catalog
prices apart (OpenAI's ``priority``, ``flex``) are resolved with the model and
applied to the tier the reply says served it, or else the one the call asked for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config.prices import RATE_FIELDS, ModelPrice, Rate, parse_prices
from .._core import fastjson as _json
from .._core.redact import get_logger

if TYPE_CHECKING:
    from .._config.settings import Settings
    from .._core.types import Request

logger = get_logger("steadyllm")

#: Providers whose calls cost nothing, by definition rather than by omission.
_BUILTIN: dict[str, ModelPrice] = {}

#: Our provider names → genai-prices provider ids (self-hosted servers have no list
#: price); ``[providers.NAME] prices`` adds or replaces one.
CATALOG_PROVIDERS = {
    "openai": "openai",
    "openai-responses": "openai",
    "azure": "azure",
    "azure-responses": "azure",
    "anthropic": "anthropic",
    "openrouter": "openrouter",
    "gemini": "google",
    "vertex": "google",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "xai": "x-ai",
    "together": "together",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
}


FREE = ModelPrice(Rate(0.0), Rate(0.0), source="fake provider: free by definition")
_BUILTIN["fake"] = FREE


def _from_catalog(price: Any) -> Rate | None:
    if price is None:
        return None
    tiers = getattr(price, "tiers", None)
    if tiers is not None:
        return Rate(float(price.base), tuple((int(t.start), float(t.price)) for t in tiers))
    return Rate(float(price))


def _per_unit(price: Any) -> float | None:
    """A flat per-unit catalog price (a Decimal), or None when absent or tiered."""
    try:
        return None if price is None else float(price)
    except (TypeError, ValueError):
        return None


def _rate_to_json(rate: Rate | None) -> Any:
    return None if rate is None else [rate.base, [list(t) for t in rate.tiers]]


def _rate_from_json(value: Any) -> Rate | None:
    if value is None:
        return None
    base, tiers = value
    return Rate(float(base), tuple((int(t), float(p)) for t, p in tiers))


def _price_to_json(price: ModelPrice) -> dict[str, Any]:
    out = {name: _rate_to_json(getattr(price, name)) for name in RATE_FIELDS}
    out["web_search"] = price.web_search
    out["source"] = price.source
    out["service_tiers"] = [[name, _price_to_json(tier)] for name, tier in price.service_tiers]
    return out


def _price_from_json(value: Any) -> ModelPrice:
    rates: dict[str, Any] = {name: _rate_from_json(value[name]) for name in RATE_FIELDS}
    return ModelPrice(
        input=rates.pop("input") or Rate(0.0),
        output=rates.pop("output") or Rate(0.0),
        **rates,
        source=str(value["source"]),
        web_search=value["web_search"],
        service_tiers=tuple(
            (str(name), _price_from_json(tier)) for name, tier in value["service_tiers"]
        ),
    )


class CatalogCache:
    """Catalog prices remembered on disk: importing genai-prices costs ~150 ms and
    ~20 MiB, resolving a model from a file of our own well under a millisecond.
    The file is named after the installed snapshot (size and mtime of its data
    module, found without importing it), so an upgrade starts a new file.
    Unreadable or corrupt files are ignored; writes are atomic (temp + rename)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self._entries: dict[str, ModelPrice | None] | None = None
        self._path: Path | bool | None = False  # False: not computed yet

    def path(self) -> Path | None:
        if self._path is False:
            self._path = None
            if self.directory is not None:
                import importlib.util

                spec = importlib.util.find_spec("genai_prices")
                origin = spec.origin if spec is not None else None
                if origin:
                    stat = Path(origin).with_name("data.py").stat()
                    stamp = f"{stat.st_size}-{int(stat.st_mtime)}"
                    self._path = Path(self.directory) / f"prices-v6-{stamp}.json"
        return self._path if isinstance(self._path, Path) else None

    def entries(self) -> dict[str, ModelPrice | None]:
        if self._entries is None:
            self._entries = {}
            path = self.path()
            try:
                raw = _json.loads(path.read_bytes()) if path is not None else {}
                for key, value in raw.items():
                    self._entries[key] = None if value is None else _price_from_json(value)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self._entries = {}  # a missing or damaged file: resolve again
        return self._entries

    def remember(self, key: str, price: ModelPrice | None) -> None:
        entries = self.entries()
        entries[key] = price
        path = self.path()
        if path is None:
            return
        data = {k: None if p is None else _price_to_json(p) for k, p in entries.items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            temp.write_bytes(_json.dumps(data))
            os.replace(temp, path)
        except OSError as exc:  # a read-only home: prices still work, only slower to start
            logger.debug("price cache not written (%s)", exc)


def cache_dir(setting: str) -> str | None:
    """The PRICE_CACHE_DIR setting as a directory: empty is the user's cache, "off" none."""
    if setting.strip().lower() == "off":
        return None
    if setting:
        return setting
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "steadyllm")


class PriceBook:
    """Resolves and caches one price per ``provider:model``. Thread-safe."""

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice] | None = None,
        *,
        catalog: bool = True,
        cache_dir: str | None = None,
        catalog_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.catalog = catalog
        #: Which genai-prices provider prices each of our providers.
        self.catalog_ids = {**CATALOG_PROVIDERS, **(catalog_ids or {})}
        self._cache: dict[str, ModelPrice | None] = {}
        self._lock = threading.Lock()
        self.disk = CatalogCache(cache_dir)

    def cached(self, provider: str, model: str) -> tuple[bool, ModelPrice | None]:
        """(known, price) without any lookup: lets async code avoid a blocking first lookup."""
        key = f"{provider}:{model}"
        if key in self._cache:
            return True, self._cache[key]
        return False, None

    def needs_catalog(self, provider: str, model: str) -> bool:
        """Whether a lookup may import and search the catalog (slow the first time)."""
        known, _ = self.cached(provider, model)
        return (
            not known
            and self.catalog
            and provider in self.catalog_ids
            and (self._override(provider, model) is None)
            and self._disk_key(provider, model) not in self.disk.entries()
        )

    def lookup(self, provider: str, model: str) -> ModelPrice | None:
        key = f"{provider}:{model}"
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        price = self._override(provider, model) or _BUILTIN.get(provider)
        if price is None and self.catalog and provider in self.catalog_ids:
            remembered, disk_key = self.disk.entries(), self._disk_key(provider, model)
            if disk_key in remembered:
                price = remembered[disk_key]
            else:
                price = self._catalog(provider, model)
                self.disk.remember(disk_key, price)
        with self._lock:
            first = key not in self._cache
            self._cache[key] = price
        if price is None and first:
            logger.warning(
                "no price known for %s: its calls get cost_usd=None; add it under [prices] "
                "in steadyllm.toml to count its cost",
                key,
            )
        return price

    def _disk_key(self, provider: str, model: str) -> str:
        """Remembered per catalog id: a provider re-pointed at another id is looked up anew."""
        return f"{self.catalog_ids[provider]}:{model}"

    def _override(self, provider: str, model: str) -> ModelPrice | None:
        full = f"{provider}:{model}"
        for key in (full, model):
            if key in self.overrides:
                return self.overrides[key]
        best: tuple[int, ModelPrice] | None = None
        for key, price in self.overrides.items():
            target = full if ":" in key else model
            if target.startswith(key) and (best is None or len(key) > best[0]):
                best = (len(key), price)
        return best[1] if best else None

    def _catalog(self, provider: str, model: str) -> ModelPrice | None:
        catalog_id = self.catalog_ids.get(provider)
        if not self.catalog or catalog_id is None:
            return None
        try:
            from importlib.metadata import version

            import genai_prices
        except ImportError:  # pragma: no cover - a declared dependency
            return None
        try:
            calc = genai_prices.calc_price(
                genai_prices.Usage(input_tokens=1, output_tokens=1), model, provider_id=catalog_id
            )
        except LookupError:
            return None
        source = f"genai-prices {version('genai-prices')} bundled snapshot ({calc.model.id})"
        base = _catalog_price(calc.model_price, source)
        if base is None:
            return None
        tiers: list[tuple[str, ModelPrice]] = []
        for tier in _service_tiers(calc.model):
            at_tier = genai_prices.calc_price(
                genai_prices.Usage(input_tokens=1, output_tokens=1),
                model,
                provider_id=catalog_id,
                price_context={"service_tier": tier},
            )
            price = _catalog_price(at_tier.model_price, f"{source}, {tier} tier")
            if price is not None and _rates(price) != _rates(base):
                tiers.append((tier, price))
        return replace(base, service_tiers=tuple(tiers))


def _service_tiers(model: Any) -> list[str]:
    """The service tiers the catalog prices apart for ``model`` (today's variants)."""
    names = {
        variant.when["service_tier"]
        for variant in getattr(model, "price_variants", None) or ()
        if isinstance(variant.when.get("service_tier"), str)
    }
    return sorted(names)


def _catalog_price(mp: Any, source: str) -> ModelPrice | None:
    """A catalog entry's prices: each rate is the catalog's ``<rate>_mtok``."""
    rates: dict[str, Any] = {
        name: _from_catalog(getattr(mp, f"{name}_mtok", None)) for name in RATE_FIELDS
    }
    if rates["input"] is None:
        return None
    # Embedding models have an input price only: they generate nothing.
    rates["output"] = rates["output"] or Rate(0.0)
    return ModelPrice(
        **rates,
        source=source,
        web_search=_per_unit(getattr(mp, "web_searches_kcount", None)),
    )


def _rates(price: ModelPrice) -> tuple[Any, ...]:
    return tuple(getattr(price, name) for name in RATE_FIELDS)


def requested_tier(request: Request) -> str | None:
    """The service tier a call asks for (``extra={"service_tier": "priority"}``)."""
    tier = request.extra.get("service_tier")
    return tier if isinstance(tier, str) else None


def price_book(settings: Settings) -> PriceBook:
    """The price book ``settings`` describe: ``[prices]`` overrides, the cache directory,
    and the genai-prices id of each ``[providers.NAME]`` table that names one."""
    ids = {name: table.prices for name, table in settings.providers.items() if table.prices}
    return PriceBook(
        parse_prices(settings.prices, "prices"),
        cache_dir=cache_dir(settings.price_cache_dir),
        catalog_ids=ids,
    )


def catalog_date() -> str | None:
    """The newest "checked YYYY-MM-DD" date cited in the genai-prices snapshot: the
    package records no snapshot date, but this says how current its prices are."""
    import re
    from pathlib import Path

    try:
        import genai_prices
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    data = Path(genai_prices.__file__).with_name("data.py")
    dates = re.findall(r"(?:checked|updated|as of) (\d{4}-\d{2}-\d{2})", data.read_text("utf-8"))
    return max(dates) if dates else None
