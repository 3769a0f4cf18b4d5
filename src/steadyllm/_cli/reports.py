"""The reporting commands: ``steadyllm costs``, ``stats`` and ``prices``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from .._core.errors import ConfigError
from .._metering.observe import Stats, read_log

if TYPE_CHECKING:
    from .._config.prices import ModelPrice


def _log(logfile: str | None) -> list[dict[str, Any]]:
    """The records of ``logfile``, else of the log the client writes (LOG_FILE_PATH)."""
    from pathlib import Path

    from .._config.settings import Settings

    path = Path(logfile) if logfile else Path(Settings.load().log_file_path)
    if not path.exists():
        raise ConfigError(
            f"no request log at {path}: calls write one when LOG_TO_FILE=true (LOG_FILE_PATH "
            "chooses where; default ./logs/llm.jsonl), or pass the LOGFILE to read"
        )
    return read_log(path)


def _table(title: str, rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        title,
        f"{'':<40} {'calls':>7} {'failed':>7} {'prompt':>10} {'completion':>10} "
        f"{'cost USD':>12} {'unpriced':>8}",
    ]
    for key, t in rows.items():
        lines.append(
            f"{key[:40]:<40} {t['calls']:>7} {t['failed_calls']:>7} {t['prompt_tokens']:>10} "
            f"{t['completion_tokens']:>10} {t['cost_usd']:>12.6f} {t['unpriced_calls']:>8}"
        )
    return "\n".join(lines)


def _selected(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The log's records within --since / --until."""
    from .._metering.logview import parse_when, window

    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    return window(_log(args.logfile), since, until)


def costs_report(args: argparse.Namespace) -> int:
    if args.fleet and args.logfile:
        raise ConfigError("steadyllm costs reads a LOGFILE or, with --fleet, Redis: not both")
    if args.fleet:
        summary, budgets = asyncio.run(_fleet())
        if args.json:
            print(json.dumps({**summary, "budgets": budgets}, indent=2))
            return 0
        if budgets:
            print(f"shared budgets\n{'':<40} {'limit':>12} {'spent':>12} {'reserved':>12}")
            for name, b in budgets.items():
                print(
                    f"{name[:40]:<40} {b['limit']:>12.4f} {b['spent']:>12.6f} "
                    f"{b['reserved']:>12.6f}"
                )
            print()
        print(_table("by model", summary["by_model"]))
        print()
        print(_table("by agent", summary["by_agent"]))
        print()
        print(_table("total", {"all calls": summary["total"]}))
        return 0
    from .._metering.logview import costs_csv, group_costs, print_costs

    groups = list(dict.fromkeys(args.by or ["model", "agent"]))
    report = group_costs(_selected(args), groups)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.csv:
        sys.stdout.write(costs_csv(report, groups))
    else:
        print_costs(report, groups, sys.stdout)
    return 0


async def _fleet() -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    from .._client.client import Client
    from .._config.settings import Settings

    async with Client(Settings.load()) as client:
        summary = await client.fleet_costs()
        book = client.meter.shared_budgets
        return summary, await book.read() if book is not None else {}


def stats_report(args: argparse.Namespace) -> int:
    from .._metering.logview import bucket_of, print_buckets

    stats = Stats()
    buckets: dict[str, Stats] = {}
    for record in _selected(args):
        stats.add(record)
        if args.bucket:
            buckets.setdefault(bucket_of(record, args.bucket), Stats()).add(record)
    summary = stats.summary()
    per_bucket = {key: b.summary()["overall"] for key, b in sorted(buckets.items())}
    if args.json:
        shown = {**summary, "by_bucket": per_bucket} if args.bucket else summary
        print(json.dumps(shown, indent=2))
        return 0

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    print(
        f"{'':<40} {'requests':>8} {'ok':>6} {'retries':>7} {'fallbacks':>9} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'ttft p50':>8}  failures"
    )
    for key, m in [("overall", summary["overall"]), *summary["by_model"].items()]:
        lat, first = m["latency_ms"], m["ttft_ms"]
        failures = ", ".join(f"{k}={v}" for k, v in m["failures"].items()) or "-"
        print(
            f"{key[:40]:<40} {m['requests']:>8} {m['successes']:>6} {m['retries']:>7} "
            f"{m['fallbacks']:>9} {ms(lat['p50']):>7} {ms(lat['p95']):>7} {ms(lat['p99']):>7} "
            f"{ms(first['p50']):>8}  {failures}"
        )
    if args.bucket:
        print()
        print_buckets(per_bucket, sys.stdout)
    return 0


def prices_report(args: argparse.Namespace) -> int:
    from .._config.routing import parse_model
    from .._config.settings import Settings
    from .._metering.prices import price_book

    settings = Settings.load()
    ref = parse_model(args.model, aliases=settings.aliases, default_provider=settings.provider)
    book = price_book(settings)
    price = book.lookup(ref.provider, ref.model)
    if price is None:
        print(
            f"{ref}: no price known; calls get cost_usd=None. Add it under [prices] in "
            "steadyllm.toml, e.g.\n\n"
            f'[prices."{ref}"]\ninput = 0.15   # USD per million tokens\noutput = 0.6'
        )
        return 1
    print(f"{ref}  (USD per million tokens; source: {price.source})")
    if "genai-prices" in price.source:
        from .._metering.prices import catalog_date

        print(
            f"  prices in this snapshot were last checked on {catalog_date() or 'an unknown date'}"
        )
    _print_rates(price, "  ")
    for tier, at_tier in price.service_tiers:
        print(f"  service tier {tier} (extra={{'service_tier': '{tier}'}}):")
        _print_rates(at_tier, "    ")
    return 0


def _print_rates(price: ModelPrice, indent: str) -> None:
    from .._config.prices import RATE_FIELDS

    for name in RATE_FIELDS:
        rate = getattr(price, name)
        if rate is None:
            continue
        tiers = "".join(f", {p:g} above {t:,} prompt tokens" for t, p in rate.tiers)
        print(f"{indent}{name:<16} {rate.base:g}{tiers}")
    if price.web_search is not None:
        print(f"{indent}{'web_search':<16} {price.web_search:g} per thousand searches")
