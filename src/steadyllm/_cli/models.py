"""``steadyllm models``: the models steadyllm knows facts about, with their context
window, output cap and prices."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any


def _price(book: Any, provider: str, model: str) -> tuple[float | None, float | None]:
    price = book.lookup(provider, model)
    return (None, None) if price is None else (price.input.base, price.output.base)


def _cell(value: Any, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.4g}"
    return f"{value:>{width},}" if isinstance(value, int) else f"{value:>{width}}"


def _flags(info: Any) -> str:
    if info.embeddings:
        return f"embeddings{f' ({info.dimensions})' if info.dimensions else ''}"
    named = (("tools", info.tools), ("json", info.structured_output), ("reasoning", info.reasoning))
    return ",".join(name for name, on in named if on)


def models_report(args: argparse.Namespace) -> int:
    from .._config.settings import Settings
    from .._metering.models import bundled, known_models
    from .._metering.prices import price_book

    settings = Settings.load()
    found = known_models(args.provider, settings)
    if args.search:
        found = [m for m in found if args.search.lower() in m.model_id.lower()]
    if not found:
        print(f"no known models{f' of provider {args.provider!r}' if args.provider else ''}")
        return 1
    book = price_book(settings)
    quiet = logging.getLogger("steadyllm")
    level, quiet.level = quiet.level, logging.ERROR  # one line per unpriced model is noise
    try:
        prices = {m.model_id: _price(book, m.provider, m.model) for m in found}
    finally:
        quiet.setLevel(level)
    if args.json:
        rows = [
            {**{k: getattr(m, k) for k in m.__slots__}, "model_id": m.model_id,
             "input_usd_per_mtok": prices[m.model_id][0],
             "output_usd_per_mtok": prices[m.model_id][1]}
            for m in found
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(m.model_id) for m in found)
    print(
        f"{'model':<{width}} {'window':>10} {'max out':>8} {'in $/M':>8} {'out $/M':>8}  "
        "input; supports"
    )
    for m in found:
        cost_in, cost_out = prices[m.model_id]
        print(
            f"{m.model_id:<{width}} {_cell(m.context_window, 10)} {_cell(m.max_output_tokens, 8)} "
            f"{_cell(cost_in, 8)} {_cell(cost_out, 8)}  {'+'.join(m.input_modalities)}; "
            f"{_flags(m)}"
        )
    print(f"\nfacts: {bundled()[0]}, and [models] in steadyllm.toml; prices: genai-prices")
    return 0
