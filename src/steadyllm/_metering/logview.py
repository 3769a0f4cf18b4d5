"""Reading a request log for people: a time window, groupings, tables and a chart.

``steadyllm costs`` and ``steadyllm stats`` select records by ``--since`` and
``--until`` (dates, times, or durations back from now such as ``24h``), group
them (``--by day|model|provider|agent|run|project``, or time buckets for
stats) and print tables, a daily spend chart, CSV or JSON. Tables and the
chart are drawn by rich, imported only here (only the CLI imports this module).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from .._core.context import Context
from .._core.errors import ConfigError
from .costs import Spend, Totals, accumulate

GROUPS = ("day", "model", "provider", "agent", "run", "project")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, flag: str, now: datetime | None = None) -> datetime:
    """``2026-12-01``, ``2026-12-01T08:00`` (UTC unless it says otherwise), or a
    duration back from now: ``90s``, ``30m``, ``24h``, ``7d``, ``2w``."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip().lower())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r} is neither a date (2026-12-01), a time (2026-12-01T08:00) "
            "nor a duration back from now (30m, 24h, 7d)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def record_time(record: dict[str, Any]) -> datetime | None:
    """When the call ended (``timestamp``; ``ts`` in schema 1 logs)."""
    raw = record.get("timestamp") or record.get("ts")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def window(
    records: Iterable[dict[str, Any]], since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The records that ended in ``[since, until)`` (records without a time are kept
    only when no window is asked for)."""
    if since is None and until is None:
        return list(records)
    out = []
    for record in records:
        when = record_time(record)
        if when is None:
            continue
        if (since is None or when >= since) and (until is None or when < until):
            out.append(record)
    return out


def spend_of(record: dict[str, Any]) -> Spend:
    return Spend(
        str(record.get("provider")),
        str(record.get("model")),
        int(record.get("prompt_tokens") or 0),
        int(record.get("completion_tokens") or 0),
        int(record.get("cached_tokens") or 0),
        int(record.get("reasoning_tokens") or 0),
        record.get("cost_usd"),
        bool(record.get("success")),
        bool(record.get("cache_hit")),
        Context(
            record.get("run_id"),
            record.get("project_id"),
            record.get("agent"),
            record.get("operation"),
        ),
        float(record.get("estimated_cost_usd") or 0.0),
        bool(record.get("cost_estimated")),
    )


def _key(record: dict[str, Any], group: str) -> str:
    if group == "day":
        when = record_time(record)
        return when.strftime("%Y-%m-%d") if when else "(no time)"
    if group == "model":
        return f"{record.get('provider')}:{record.get('model')}"
    field = {"provider": "provider", "agent": "agent", "run": "run_id", "project": "project_id"}
    return str(record.get(field[group]) or "(none)")


def group_costs(records: list[dict[str, Any]], groups: list[str]) -> dict[str, Any]:
    """``{"total": Totals, "by_<group>": {key: Totals}}`` as plain dicts."""
    total = Totals()
    by: dict[str, dict[str, Totals]] = {g: {} for g in groups}
    for record in records:
        spend = spend_of(record)
        accumulate(total, spend)
        for group in groups:
            cell = by[group].setdefault(_key(record, group), Totals())
            accumulate(cell, spend)
    out: dict[str, Any] = {"total": asdict(total)}
    for group in groups:
        out[f"by_{group}"] = {k: asdict(v) for k, v in sorted(by[group].items())}
    return out


COLUMNS = (
    ("calls", "calls"),
    ("failed_calls", "failed"),
    ("prompt_tokens", "prompt"),
    ("completion_tokens", "completion"),
    ("cost_usd", "cost USD"),
    ("estimated_usd", "estimated USD"),
    ("unpriced_calls", "unpriced"),
)


def costs_csv(report: dict[str, Any], groups: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", "key", *(name for name, _ in COLUMNS)])
    for group in groups:
        for key, totals in report[f"by_{group}"].items():
            writer.writerow([group, key, *(totals[name] for name, _ in COLUMNS)])
    writer.writerow(["total", "all calls", *(report["total"][name] for name, _ in COLUMNS)])
    return buffer.getvalue()


def print_costs(report: dict[str, Any], groups: list[str], file: Any) -> None:
    from rich.bar import Bar
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, width=150, highlight=False)
    for group in groups:
        rows = report[f"by_{group}"]
        table = Table(title=f"by {group}", title_justify="left")
        table.add_column(group)
        for _, label in COLUMNS:
            table.add_column(label, justify="right")
        if group == "day":
            table.add_column("spend", min_width=24)
        top = max((t["cost_usd"] for t in rows.values()), default=0.0) or 1.0
        for key, t in rows.items():
            cells = [key, *(_cell(t[name]) for name, _ in COLUMNS)]
            if group == "day":
                table.add_row(*cells, Bar(size=top, begin=0, end=t["cost_usd"], width=24))
            else:
                table.add_row(*cells)
        console.print(table)
    total = Table(title="total", title_justify="left")
    total.add_column("")
    for _, label in COLUMNS:
        total.add_column(label, justify="right")
    total.add_row("all calls", *(_cell(report["total"][name]) for name, _ in COLUMNS))
    console.print(total)


def _cell(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def bucket_of(record: dict[str, Any], size: str) -> str:
    when = record_time(record)
    if when is None:
        return "(no time)"
    return when.strftime("%Y-%m-%d %H:00" if size == "hour" else "%Y-%m-%d")


def print_buckets(buckets: dict[str, dict[str, Any]], file: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="per time bucket", title_justify="left")
    for name in ("bucket", "requests", "ok", "errors", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="left" if name == "bucket" else "right")
    for key, view in buckets.items():
        lat = view["latency_ms"]
        errors = sum(view["failures"].values())
        table.add_row(
            key,
            str(view["requests"]),
            str(view["successes"]),
            str(errors),
            *("-" if lat[p] is None else f"{lat[p]:.0f}" for p in ("p50", "p95", "p99")),
        )
    Console(file=file, width=120, highlight=False).print(table)
