"""The ``steadyllm`` command line's parser: one function per command."""

from __future__ import annotations

import argparse
from typing import TypeAlias

from .._version import __version__

#: The sub-command table each ``_add_*`` fills in (subscripted only for the type checker).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steadyllm",
        description="Call LLMs through steadyllm's pipeline (retries, deadlines, logs).",
        epilog="Settings come from the environment, .env and steadyllm.toml; "
        "see `steadyllm config`.",
    )
    parser.add_argument("--version", action="version", version=f"steadyllm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_chat(commands)
    _add_demo(commands)
    _add_emulate(commands)
    _add_run(commands)
    _add_runs(commands)
    _add_costs(commands)
    _add_stats(commands)
    _add_prices(commands)
    _add_models(commands)
    _add_config(commands)
    _add_providers(commands)
    return parser


def _window_args(parser: argparse.ArgumentParser) -> None:
    for flag, what in (("--since", "from"), ("--until", "until")):
        parser.add_argument(
            flag,
            metavar="WHEN",
            help=f"only calls {what} WHEN: a date (2026-12-01), a UTC time "
            "(2026-12-01T08:00) or a duration back from now (30m, 24h, 7d)",
        )


def _add_chat(commands: Commands) -> None:
    chat = commands.add_parser(
        "chat",
        help="send one prompt and print the reply",
        description="Send PROMPT to MODEL and print the reply on stdout; tokens, cost and "
        "latency go to stderr. Exit status: 0 on success, 1 if the call failed, 2 for bad "
        "input or configuration.",
    )
    chat.add_argument("model", metavar="MODEL", help="provider:model, or an alias (e.g. fake:echo)")
    chat.add_argument(
        "prompt",
        metavar="PROMPT",
        nargs="?",
        help="the user message ('-' reads stdin; leave it out with -i)",
    )
    chat.add_argument("--system", metavar="TEXT", help="a system message to send first")
    chat.add_argument("--stream", action="store_true", help="print the reply as it streams")
    chat.add_argument(
        "--json",
        action="store_true",
        help="ask for a JSON object (JSON output mode), check it parses, print it indented",
    )
    chat.add_argument("--temperature", type=float, metavar="T", help="sampling temperature, 0 to 2")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="cap on generated tokens")
    chat.add_argument("--timeout-ms", type=int, metavar="MS", help="total deadline of the call")
    chat.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling, 0 to 1")
    chat.add_argument("--seed", type=int, metavar="N", help="sampling seed, where supported")
    chat.add_argument(
        "--stop", action="append", default=[], metavar="TEXT", help="stop sequence (repeatable)"
    )
    chat.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH|URL",
        help="attach an image to the prompt (a file or an http(s)/data URL; repeatable)",
    )
    chat.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a provider option sent as is (VALUE read as JSON when it parses; repeatable)",
    )
    chat.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    chat.add_argument("--run-id", metavar="ID", help="the run this call belongs to (costs, logs)")
    chat.add_argument("--agent", metavar="NAME", help="the agent making the call (costs, logs)")
    chat.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="a conversation: read turns from the terminal, stream replies, print tokens "
        "and cost per turn; an empty line or Ctrl-D ends it",
    )


def _add_demo(commands: Commands) -> None:
    commands.add_parser(
        "demo",
        help="run an offline tour of the API",
        description=(
            "A real flow through the full pipeline, over HTTP against the emulator on "
            "loopback: chat, stream, tools, structured output, retries, a deadline, a "
            "recorded two-step flow and the costs. Nothing leaves the machine."
        ),
    )


def _add_emulate(commands: Commands) -> None:
    emulate = commands.add_parser(
        "emulate",
        help="run the provider emulator on loopback",
        description="Serve the OpenAI (/v1/chat/completions), Azure (/openai/...) and Anthropic "
        "(/v1/messages) wire protocols with scripted replies and faults until interrupted. "
        "Script it with POST /_emulator/script or an x-emulator-behavior header; read what it "
        "received at GET /_emulator/requests.",
    )
    emulate.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    emulate.add_argument("--port", type=int, default=8400, help="port (default 8400; 0 = any free)")
    emulate.add_argument("--rpm", type=int, help="enforce this many requests per minute")
    emulate.add_argument("--tpm", type=int, help="enforce this many tokens per minute")
    emulate.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key (repeatable); by default any key is accepted",
    )
    emulate.add_argument(
        "--cassette",
        metavar="FILE",
        help="answer from this recorded cassette (steadyllm.testing) instead of emulating: "
        "each request gets the recorded response with the same method, path and body",
    )
    emulate.add_argument(
        "--realtime",
        action="store_true",
        help="with --cassette, send each recorded chunk at its recorded time",
    )


def _add_run(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="run a flow file (a list of ai.llm_call steps)",
        description="Run the steps of a YAML flow file in order, showing progress on stderr "
        "and a summary table on stdout; each step is recorded in the run database "
        "(STEADYLLM_DB). Exit status 1 if a step failed.",
    )
    run.add_argument("flow", metavar="FLOW", help="the flow file (YAML)")
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a template variable (repeatable); overrides the file's vars",
    )
    run.add_argument("--db", metavar="PATH", help="run database (default STEADYLLM_DB)")


def _add_runs(commands: Commands) -> None:
    runs = commands.add_parser(
        "runs",
        help="list recorded flow runs, or show one",
        description="`steadyllm runs` lists runs, newest first; `steadyllm runs show RUN_ID` "
        "prints each step of one run.",
    )
    runs.add_argument("action", nargs="?", choices=["show"], help="show one run")
    runs.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run to show")
    runs.add_argument("--db", metavar="PATH", help="run database (default STEADYLLM_DB)")


def _add_costs(commands: Commands) -> None:
    costs = commands.add_parser(
        "costs",
        help="report spend from a request log, by model and by agent",
        description="Read a JSONL request log (LOG_FILE_PATH) and print calls, tokens and cost "
        "by model and by agent. Calls with no known price are counted as unpriced. With "
        "--fleet, read every process's totals and the shared budgets from Redis "
        "(STEADYLLM_REDIS_URL) instead.",
    )
    costs.add_argument(
        "logfile",
        metavar="LOGFILE",
        nargs="?",
        help="the JSONL request log (default LOG_FILE_PATH)",
    )
    costs.add_argument(
        "--fleet",
        action="store_true",
        help="totals of every process sharing STEADYLLM_REDIS_URL and STEADYLLM_REDIS_PREFIX",
    )
    _window_args(costs)
    costs.add_argument(
        "--by",
        action="append",
        choices=["day", "model", "provider", "agent", "run", "project"],
        help="group by this (repeatable; default model and agent); day draws a spend chart",
    )
    costs.add_argument("--csv", action="store_true", help="print the report as CSV")
    costs.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_stats(commands: Commands) -> None:
    stats = commands.add_parser(
        "stats",
        help="report latency and outcomes from a request log",
        description="Read a JSONL request log and print, per model and overall, requests, "
        "successes, failures by kind, retries, fallbacks and latency / time-to-first-token "
        "percentiles.",
    )
    stats.add_argument(
        "logfile",
        metavar="LOGFILE",
        nargs="?",
        help="the JSONL request log (default LOG_FILE_PATH)",
    )
    _window_args(stats)
    stats.add_argument(
        "--bucket",
        choices=["hour", "day"],
        help="also show latency percentiles and error counts per hour or per day",
    )
    stats.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_prices(commands: Commands) -> None:
    prices = commands.add_parser(
        "prices",
        help="show the price steadyllm uses for a model, and where it comes from",
        description="Resolve MODEL (provider:model) through [prices] overrides and the "
        "genai-prices snapshot, and print its rates in USD per million tokens and the source.",
    )
    prices.add_argument("model", metavar="MODEL", help="provider:model, e.g. openai:gpt-4o-mini")


def _add_models(commands: Commands) -> None:
    models = commands.add_parser(
        "models",
        help="list the models steadyllm knows: context window, output cap, prices",
        description="Print each known model's context window, output cap, prices (USD per "
        "million tokens), input modalities and what it supports, from the bundled model "
        "facts and [models] in steadyllm.toml; prices from genai-prices and [prices].",
    )
    models.add_argument("--provider", metavar="P", help="only the models of provider P")
    models.add_argument("--search", metavar="TEXT", help="only models whose id contains TEXT")
    models.add_argument("--json", action="store_true", help="print the models as JSON")


def _add_config(commands: Commands) -> None:
    commands.add_parser(
        "config",
        help="show the resolved settings and where each came from",
        description="Print every setting, its variable, value (secrets hidden) and source.",
    )


def _add_providers(commands: Commands) -> None:
    commands.add_parser(
        "providers",
        help="list the registered providers",
        description="Print the provider names usable as the prefix of provider:model.",
    )
