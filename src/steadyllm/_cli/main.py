"""The ``steadyllm`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__

EXIT_OK, EXIT_CALL_FAILED, EXIT_USAGE = 0, 1, 2
#: Ctrl-C: 128 + SIGINT, as shells report an interrupted command.
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steadyllm",
        description="Call LLMs through steadyllm's pipeline (retries, deadlines, logs).",
        epilog="Settings come from the environment, .env and steadyllm.toml; "
        "see `steadyllm config`.",
    )
    parser.add_argument("--version", action="version", version=f"steadyllm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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

    commands.add_parser(
        "demo",
        help="run an offline tour of the API",
        description=(
            "A real flow through the full pipeline, over HTTP against the emulator on "
            "loopback: chat, stream, tools, structured output, retries, a deadline, a "
            "recorded two-step flow and the costs. Nothing leaves the machine."
        ),
    )
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
    runs = commands.add_parser(
        "runs",
        help="list recorded flow runs, or show one",
        description="`steadyllm runs` lists runs, newest first; `steadyllm runs show RUN_ID` "
        "prints each step of one run.",
    )
    runs.add_argument("action", nargs="?", choices=["show"], help="show one run")
    runs.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run to show")
    runs.add_argument("--db", metavar="PATH", help="run database (default STEADYLLM_DB)")

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
    prices = commands.add_parser(
        "prices",
        help="show the price steadyllm uses for a model, and where it comes from",
        description="Resolve MODEL (provider:model) through [prices] overrides and the "
        "genai-prices snapshot, and print its rates in USD per million tokens and the source.",
    )
    prices.add_argument("model", metavar="MODEL", help="provider:model, e.g. openai:gpt-4o-mini")

    commands.add_parser(
        "config",
        help="show the resolved settings and where each came from",
        description="Print every setting, its variable, value (secrets hidden) and source.",
    )
    commands.add_parser(
        "providers",
        help="list the registered providers",
        description="Print the provider names usable as the prefix of provider:model.",
    )
    return parser


def _window_args(parser: argparse.ArgumentParser) -> None:
    for flag, what in (("--since", "from"), ("--until", "until")):
        parser.add_argument(
            flag,
            metavar="WHEN",
            help=f"only calls {what} WHEN: a date (2026-12-01), a UTC time "
            "(2026-12-01T08:00) or a duration back from now (30m, 24h, 7d)",
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .._core.errors import ConfigError, InvalidRequestError, LLMError

    try:
        if args.command == "chat":
            return asyncio.run(_chat(args))
        if args.command == "demo":
            from .demo import run_demo

            return asyncio.run(run_demo())
        if args.command == "config":
            return _config()
        if args.command in ("run", "runs"):
            from .run import run_command, runs_command

            return asyncio.run(run_command(args) if args.command == "run" else runs_command(args))
        if args.command in ("costs", "stats", "prices"):
            from .reports import costs_report, prices_report, stats_report

            report = {"costs": costs_report, "stats": stats_report, "prices": prices_report}
            return report[args.command](args)
        if args.command == "emulate":
            return asyncio.run(_emulate(args))
        return _providers()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"steadyllm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, InvalidRequestError) as exc:
        print(f"steadyllm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LLMError as exc:
        print(f"steadyllm: call failed: {exc}", file=sys.stderr)
        return EXIT_CALL_FAILED


def _image(source: str) -> Any:
    import mimetypes
    from pathlib import Path

    import steadyllm as sl

    if source.startswith(("http://", "https://", "data:")):
        return sl.image(url=source)
    path = Path(source)
    media_type = mimetypes.guess_type(path.name)[0] or ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise sl.InvalidRequestError(f"--image {source}: {exc.strerror or exc}") from None
    if not media_type.startswith("image/"):
        raise sl.InvalidRequestError(f"--image {source}: not an image file (by its name)")
    return sl.image(data=data, media_type=media_type)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    import steadyllm as sl

    extra: dict[str, Any] = {}
    for pair in args.option:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise sl.InvalidRequestError(f"-o {pair!r} must look like KEY=VALUE")
        try:
            extra[key.strip()] = json.loads(raw)
        except ValueError:
            extra[key.strip()] = raw  # plain text
    options: dict[str, Any] = {
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "stop": args.stop or None,
        "max_tokens": args.max_tokens,
        "timeout_ms": args.timeout_ms,
    }
    if extra:
        options["extra"] = extra
    if args.no_cache:
        options["cache"] = "bypass"
    if args.run_id or args.agent:
        options["context"] = sl.Context(run_id=args.run_id, agent=args.agent)
    if args.json:
        options["response_format"] = {"type": "json_object"}
    return options


async def _chat(args: argparse.Namespace) -> int:
    import steadyllm as sl

    options = _options(args)
    if args.interactive:
        return await _conversation(args, options)
    prompt = args.prompt
    if prompt is None:
        raise sl.InvalidRequestError(
            "chat needs a PROMPT ('-' reads stdin), or -i for a conversation"
        )
    if prompt == "-":  # `echo x | steadyllm chat ...`: the newline echo adds is not the prompt
        prompt = sys.stdin.read()
        prompt = prompt.removesuffix("\n").removesuffix("\r")
    if not prompt.strip():
        raise sl.InvalidRequestError("the prompt is empty; pass it as PROMPT, or '-' to read stdin")
    images = [_image(source) for source in args.image]
    messages = ([sl.system(args.system)] if args.system else []) + [sl.user(prompt, *images)]
    async with sl.Client() as client:
        if args.stream and not args.json:
            async with client.stream(args.model, messages, **options) as stream:
                async for event in stream:
                    if isinstance(event, sl.TextDelta):
                        sys.stdout.write(event.text)
                        sys.stdout.flush()
            response = stream.response
            sys.stdout.write("\n")
        else:
            response = await client.chat(args.model, messages, **options)
            if args.json:
                try:
                    parsed = json.loads(response.text)
                except ValueError:
                    raise sl.InvalidResponseError(
                        f"--json: the reply is not valid JSON: {response.text[:200]!r}",
                        provider=response.provider,
                        model=response.model,
                    ) from None
                print(json.dumps(parsed, indent=2, ensure_ascii=False))
            else:
                print(response.text)
    _report(response)
    return EXIT_OK


async def _conversation(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """Turns from the terminal (or stdin), replies streamed, the history kept."""
    import steadyllm as sl

    history: list[sl.Message] = [sl.system(args.system)] if args.system else []
    pending = [_image(source) for source in args.image]
    first = args.prompt if args.prompt not in (None, "-") else None
    async with sl.Client() as client:
        while True:
            if first is not None:
                line, first = first, None
            else:
                try:
                    line = await asyncio.to_thread(input, "> ")
                except EOFError:
                    break
            if not line.strip():
                break
            history.append(sl.user(line, *pending))
            pending = []
            async with client.stream(args.model, history, **options) as stream:
                async for event in stream:
                    if isinstance(event, sl.TextDelta):
                        sys.stdout.write(event.text)
                        sys.stdout.flush()
            sys.stdout.write("\n")
            history.append(stream.response.message)
            _report(stream.response)
    return EXIT_OK


def _report(response: Any) -> None:
    usage = response.usage
    cost = "n/a" if usage.cost_usd is None else f"${usage.cost_usd:.6f}"
    attempts = "1 attempt" if response.attempts == 1 else f"{response.attempts} attempts"
    print(
        f"[{response.provider}:{response.model}] tokens {usage.prompt_tokens} in + "
        f"{usage.completion_tokens} out = {usage.total_tokens} · cost {cost} · "
        f"{response.latency_ms:.0f} ms · {attempts} · finish {response.finish_reason}",
        file=sys.stderr,
    )


async def _emulate(args: argparse.Namespace) -> int:
    from ..emulator import Emulator

    emulator = Emulator(rpm=args.rpm, tpm=args.tpm, api_keys=args.api_keys)
    await emulator.start(args.host, args.port)
    keys = list(args.api_keys or ())
    accepted = "the key shown is accepted" if keys else "any key is accepted"
    print(
        f"steadyllm emulator listening on {emulator.url}\n"
        f"# paste into the shell that runs your code ({accepted}):\n"
        f"export OPENAI_BASE_URL={emulator.openai_base_url}\n"
        f"export OPENAI_API_KEY={keys[0] if keys else 'sk-emulator'}\n"
        f"export ANTHROPIC_BASE_URL={emulator.anthropic_base_url}\n"
        f"export ANTHROPIC_API_KEY={keys[0] if keys else 'sk-ant-emulator'}\n"
        f"export AZURE_OPENAI_ENDPOINT={emulator.azure_endpoint}\n"
        f"export AZURE_OPENAI_API_KEY={keys[0] if keys else 'emulator-azure-key'}\n"
        "# Press Ctrl+C to stop.",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
    return EXIT_OK  # pragma: no cover - only reached through cancellation


def _config() -> int:
    from .._config.settings import Settings

    settings = Settings.load()
    rows = settings.describe()
    width = max(len(r[1]) for r in rows)
    for _name, env, value, source in rows:
        print(f"{env:<{width}}  {value}  ({source})")
    for table, source, entries in settings.describe_tables():
        print(f"[{table}]  ({source})")
        for key, value in entries:
            print(f"  {key} = {value}")
    return EXIT_OK


def _providers() -> int:
    from ..providers import known_providers, provider_spec

    for name in known_providers():
        print(f"{name}\t{provider_spec(name).description}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
