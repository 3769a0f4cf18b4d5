"""``steadyllm run`` and ``steadyllm runs``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .._core.errors import ConfigError
from .._flows.recorder import SQLiteRecorder, StepRecord


def _vars(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--var {pair!r} must look like NAME=VALUE")
        out[name.strip()] = value
    return out


def _row(r: StepRecord) -> str:
    cost = "n/a" if r.cost_usd is None else f"{r.cost_usd:.6f}"
    latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f}"
    return (
        f"{r.step_id[:24]:<24} {r.status:<10} {r.total_tokens:>8} {cost:>10} {latency:>8} "
        f"{r.attempts:>8}  {(r.reason or '')[:60]}"
    )


HEADER = (
    f"{'step':<24} {'status':<10} {'tokens':>8} {'cost USD':>10} {'ms':>8} {'attempts':>8}  reason"
)


async def run_command(args: argparse.Namespace) -> int:
    from .._client.client import Client
    from .._config.settings import Settings
    from .._flows.flowfile import load_flow, run_flow

    flow = load_flow(args.flow)
    settings = Settings.load()
    recorder = SQLiteRecorder(args.db or settings.recorder_path)
    try:
        async with Client(settings) as client:
            run_id, results = await run_flow(flow, client, recorder, variables=_vars(args.var))
    finally:
        recorder.close()
    print(f"run {run_id} of flow {flow.id}")
    print(HEADER)
    for result in results:
        print(_row(result.record))
    total_cost = sum(r.record.cost_usd or 0.0 for r in results)
    print(
        f"{'total':<24} {'':<10} {sum(r.record.total_tokens for r in results):>8} "
        f"{total_cost:>10.6f}"
    )
    if results and results[-1].ok:
        print(results[-1].text)
        return 0
    return 1


async def runs_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._config.settings import Settings

    if args.action == "show" and not args.run_id:
        raise ConfigError("usage: steadyllm runs show RUN_ID")
    path = Path(args.db or Settings.load().recorder_path)
    if not await asyncio.to_thread(path.exists):  # a read-only command creates no file
        print(
            f"no runs recorded yet: there is no run database at {path} "
            "(`steadyllm run FLOW` creates it)",
            file=sys.stderr,
        )
        return 1 if args.action == "show" else 0
    recorder = SQLiteRecorder(path)
    try:
        if args.action == "show":
            steps = await recorder.steps(args.run_id)
            if not steps:
                print(f"no run {args.run_id!r} in {recorder.path}", file=sys.stderr)
                return 1
            print(f"run {args.run_id} of flow {steps[0].flow_id}, started {steps[0].started_at}")
            print(HEADER)
            for step in steps:
                print(_row(step))
            return 0
        print(
            f"{'run':<14} {'flow':<20} {'started':<25} {'steps':>5} {'ok':>4} {'errors':>6} "
            f"{'tokens':>8} {'cost USD':>10}"
        )
        for run in await recorder.runs():
            print(
                f"{run['run_id']:<14} {str(run['flow_id'])[:20]:<20} {run['started_at']:<25} "
                f"{run['steps']:>5} {run['ok']:>4} {run['errors']:>6} "
                f"{run['total_tokens'] or 0:>8} {run['cost_usd'] or 0:>10.6f}"
            )
        return 0
    finally:
        recorder.close()
