"""steadyllm against the raw HTTP clients and the openai SDK, side by side (`make bench`).

Starts benchmarks/fixed_server.py on loopback pinned to core 1 (and, when
redis-server is installed, a throw-away Redis there too, for the "steadyllm
Redis-shared" row: the default configuration with STEADYLLM_REDIS_URL set),
then runs each client in a fresh process pinned to core 0
(benchmarks/bench_client.py), every client once per round, several rounds
(each figure is the median of its rounds: this machine's speed drifts by a
third over minutes, and interleaving spreads the drift over every row), and
measures `import` time in fresh interpreters. Prints a markdown table with
ratios to raw aiohttp computed within this run, writes the figures as JSON
(benchmarks/results.json), and with --record appends the table to
benchmarks/RESULTS.md with the date, machine and command.

Run: python benchmarks/bench.py [--quick] [--record] [--rounds N]
"""

from __future__ import annotations

# ruff: noqa: RUF001 - the report uses the multiplication and less-or-equal signs
import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = [
    "raw aiohttp",
    "raw httpx",
    "openai SDK",
    "steadyllm default",
    # Right after the default, its baseline: this machine's speed drifts over minutes.
    "steadyllm Redis-shared",
    "steadyllm minimal",
]
MODULES = {
    "raw aiohttp": "aiohttp",
    "raw httpx": "httpx",
    "openai SDK": "openai",
    "steadyllm default": "steadyllm",
    "steadyllm minimal": "steadyllm",
    "steadyllm Redis-shared": "steadyllm",
}
SHARED = "steadyllm Redis-shared"
LEAK_CHECKED = ("raw aiohttp", "steadyllm default")


def start_redis() -> subprocess.Popen[bytes] | None:
    """A throw-away redis-server on a free loopback port, on the server's core (1);
    its URL goes to the clients in BENCH_REDIS_URL. None without redis-server."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: pin(1),
    )
    for _ in range(200):  # until it accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


def import_ms(module: str, runs: int) -> float:
    """Median wall time of `import module` in a fresh interpreter (start-up excluded)."""
    code = (
        "import time; t = time.perf_counter(); import " + module + "; "
        "print((time.perf_counter() - t) * 1000)"
    )
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout))
    return statistics.median(times)


def bare_interpreter_ms(runs: int) -> float:
    """Median wall time of a bare `python -c pass`, for reference."""
    import time

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def prime_price_cache() -> None:
    """Resolve the benchmark model's price once, as any earlier run on this machine
    would have: steadyllm remembers it on disk, so the measured processes start warm."""
    from steadyllm._metering.prices import PriceBook, cache_dir

    PriceBook(cache_dir=cache_dir(os.environ.get("STEADYLLM_PRICE_CACHE_DIR", ""))).lookup(
        "openai", "gpt-4.1-mini"
    )


def run_client(
    name: str, base: str, server_pid: int, leak: int, *, first_call: bool = False
) -> dict[str, Any]:
    argv = [sys.executable, str(HERE / "bench_client.py"), name, base, str(server_pid)]
    if leak:
        argv += ["--leak", str(leak)]
    if first_call:
        argv.append("--first-call")
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median_row(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One client's figures over its rounds: each number the median of the rounds
    that measured it (the leak run comes from the first round only)."""
    row = dict(samples[0])
    for key, value in samples[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [s[key] for s in samples if isinstance(s.get(key), int | float)]
            row[key] = statistics.median(values)
    for sample in samples[1:]:  # figures only a later round has
        for key, value in sample.items():
            row.setdefault(key, value)
    row["rounds"] = len(samples)
    return row


COLUMNS = [
    ("import_ms", "import (ms)", "{:.0f}"),
    ("import_first_call_ms", "import + first call (ms)", "{:.0f}"),
    ("cpu_per_call_us", "CPU/call, 1 at a time (µs)", "{:.0f}"),
    ("calls_per_s_64", "calls/s at 64", "{:,.0f}"),
    ("cpu_per_call_64_us", "CPU/call at 64 (µs)", "{:.0f}"),
    ("cpu_per_chunk_us", "CPU/stream chunk (µs)", "{:.1f}"),
    ("peak_rss_mib", "peak RSS (MiB)", "{:.0f}"),
    ("rss_growth_mib", "RSS growth (MiB)", "{:+.1f}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    base = next(r for r in rows if r["client"] == "raw aiohttp")
    head = "| client | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for row in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("–")
                continue
            text = fmt.format(value)
            if row is not base and key not in ("rss_growth_mib",) and base.get(key):
                text += f" ({value / base[key]:.2f}×)"
            cells.append(text)
        lines.append(f"| {row['client']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """Each of issue 8's targets: (what, met, the figure against its limit)."""
    by = {r["client"]: r for r in rows}
    raw, default, minimal = by["raw aiohttp"], by["steadyllm default"], by["steadyllm minimal"]
    sdk = by["openai SDK"]

    def ratio(row: dict[str, Any], base: dict[str, Any], key: str) -> float:
        return float(row[key]) / float(base[key])

    # (what, value, limit, True when the value must stay at or below the limit)
    checks = [
        ("CPU/call, default, vs raw aiohttp", ratio(default, raw, "cpu_per_call_us"), 1.5, True),
        ("CPU/call, minimal, vs raw aiohttp", ratio(minimal, raw, "cpu_per_call_us"), 1.2, True),
        (
            "calls/s at 64, default, vs raw aiohttp",
            ratio(default, raw, "calls_per_s_64"),
            0.8,
            False,
        ),
        (
            "calls/s at 64, minimal, vs raw aiohttp",
            ratio(minimal, raw, "calls_per_s_64"),
            0.8,
            False,
        ),
        (
            "CPU/stream chunk vs naive raw aiohttp",
            ratio(default, raw, "cpu_per_chunk_us"),
            2.0,
            True,
        ),
        ("peak RSS vs raw aiohttp", ratio(default, raw, "peak_rss_mib"), 1.3, True),
        (
            "import + first call vs the openai SDK",
            ratio(default, sdk, "import_first_call_ms"),
            1 / 3,
            True,
        ),
        ("import steadyllm (ms)", float(default["import_ms"]), 60.0, True),
    ]
    if SHARED in by:  # issue 14's target for shared state
        checks.append(
            (
                "calls/s at 64, Redis-shared vs default",
                ratio(by[SHARED], default, "calls_per_s_64"),
                0.6,
                False,
            )
        )
    if "rss_growth_mib" in default:
        checks.append(("RSS growth over the leak run (MiB)", default["rss_growth_mib"], 5.0, True))
    return [
        (
            name,
            value <= limit if at_most else value >= limit,
            f"{value:.2f} ({'≤' if at_most else '≥'} {limit:.2f})",
        )
        for name, value, limit, at_most in checks
    ]


def fleet_targets(fleet: dict[str, Any] | None) -> list[tuple[str, bool, str]]:
    """Issue 14's fleet checks: a shared limit holds exactly, and is nearly reached."""
    if fleet is None:
        return []
    done, allowed = fleet["limited_calls"], fleet["allowed_calls"]
    return [
        (
            "fleet under a shared limit: calls over the limit",
            done <= allowed,
            f"{done - allowed:+,.0f} (≤ 0)",
        ),
        (
            "fleet under a shared limit: share of the allowed calls completed",
            done >= 0.9 * allowed,
            f"{done / allowed:.2f} (≥ 0.90)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="no leak check, fewer import runs")
    parser.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    parser.add_argument("--leak-calls", type=int, default=100_000, help="calls in the leak check")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of every client (default 3, --quick 1)"
    )
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "fixed_server.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: pin(1),
    )
    redis = start_redis()
    shared_fleet: dict[str, Any] | None = None
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}/v1"
        prime_price_cache()
        runs = 3 if args.quick else 9
        bare = bare_interpreter_ms(runs)
        names = [n for n in CLIENTS if n != SHARED or redis is not None]
        if redis is None:
            print("redis-server not found: no Redis-shared row", file=sys.stderr)
        rounds = args.rounds or (1 if args.quick else 3)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for number in range(rounds):
            for name in names:  # one of each per round, in the same order every round
                check_leak = number == 0 and not args.quick and name in LEAK_CHECKED
                leak = args.leak_calls if check_leak else 0
                samples[name].append(run_client(name, base, server.pid, leak))
            print(f"measured round {number + 1} of {rounds}", file=sys.stderr, flush=True)
        rows = []
        for name in names:
            row = median_row(samples[name])
            row["import_ms"] = import_ms(MODULES[name], runs)
            # Start-up is a single sample per process: take the median of several.
            row["import_first_call_ms"] = statistics.median(
                run_client(name, base, server.pid, 0, first_call=True)["import_first_call_ms"]
                for _ in range(runs)
            )
            rows.append(row)
        if redis is not None:
            import fleet as fleet_bench

            shared_fleet = fleet_bench.run(base, os.environ["BENCH_REDIS_URL"])
            print("measured the fleet", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()
        if redis is not None:
            redis.terminate()
            redis.wait()
    verdicts = targets(rows) + fleet_targets(shared_fleet)
    report = table(rows)
    report += (
        f"\n\nBare interpreter start-up: {bare:.0f} ms (not included in the import column); "
        "steadyllm's price cache on disk was warm (as after any earlier run on the machine). "
    )
    shares = ", ".join(f"{r['client']} {r['server_cpu_share']:.0%}" for r in rows)
    report += f"Fixed server's share of its core at 64 concurrent: {shares}.\n\n"
    if shared_fleet is not None:
        f = shared_fleet
        report += (
            f"Fleet: {f['workers']} processes x 64 concurrent calls sharing one Redis, "
            f"{f['seconds']:.0f} s each run, on this machine's two cores with the fixed "
            f"server and Redis: {f['calls_per_s']:,.0f} calls/s in all ({f['errors']} "
            f"errors); under one shared limit of {f['limit_rpm']:,} requests/min they "
            f"completed {f['limited_calls']:,} calls of the {f['allowed_calls']:,.0f} the "
            f"bucket allows ({f['limited_errors']} errors).\n\n"
        )
    report += "\n".join(
        f"- {'met' if ok else 'NOT met'}: {name}: {detail}" for name, ok, detail in verdicts
    )
    print(report)
    (HERE / "results.json").write_text(
        json.dumps({"rows": rows, "bare_interpreter_ms": bare, "fleet": shared_fleet}, indent=2)
        + "\n"
    )
    if args.record:
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        command = "make bench" if not args.quick else "python benchmarks/bench.py --quick"
        with (HERE / "RESULTS.md").open("a") as results:
            results.write(
                f"\n## make bench, {datetime.date.today().isoformat()}\n\n"
                f"{machine}; `{command}`; client on core 0, fixed server on core 1; "
                f"each figure the median of {rounds} interleaved rounds.\n\n"
                f"{report}\n"
            )


if __name__ == "__main__":
    main()
