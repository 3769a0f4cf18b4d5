"""The ``steadyllm`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from .parser import build_parser

EXIT_OK, EXIT_CALL_FAILED, EXIT_USAGE = 0, 1, 2
#: Ctrl-C: 128 + SIGINT, as shells report an interrupted command.
EXIT_INTERRUPTED = 130


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
        if args.command == "models":
            from .models import models_report

            return models_report(args)
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
            response = await _print_stream(client.stream(args.model, messages, **options))
        else:
            response = await client.chat(args.model, messages, **options)
            print(_as_json(response) if args.json else response.text)
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
            line, first = (first, None) if first is not None else (await _read_turn(), None)
            if line is None or not line.strip():
                break
            history.append(sl.user(line, *pending))
            pending = []
            response = await _print_stream(client.stream(args.model, history, **options))
            history.append(response.message)
            _report(response)
    return EXIT_OK


async def _read_turn() -> str | None:
    """The next line from the terminal (off the loop); None at the end of input."""
    try:
        return await asyncio.to_thread(input, "> ")
    except EOFError:
        return None


async def _print_stream(stream: Any) -> Any:
    """Print a stream's text as it arrives; its Response once it is over."""
    import steadyllm as sl

    async with stream:
        async for event in stream:
            if isinstance(event, sl.TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
    sys.stdout.write("\n")
    return stream.response


def _as_json(response: Any) -> str:
    """``--json``: the reply, checked and pretty-printed."""
    import steadyllm as sl

    try:
        parsed = json.loads(response.text)
    except ValueError:
        raise sl.InvalidResponseError(
            f"--json: the reply is not valid JSON: {response.text[:200]!r}",
            provider=response.provider,
            model=response.model,
        ) from None
    return json.dumps(parsed, indent=2, ensure_ascii=False)


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

    emulator = Emulator(
        rpm=args.rpm,
        tpm=args.tpm,
        api_keys=args.api_keys,
        cassette=args.cassette,
        realtime=args.realtime,
    )
    await emulator.start(args.host, args.port)
    keys = list(args.api_keys or ())
    accepted = "the key shown is accepted" if keys else "any key is accepted"
    if emulator.cassette is not None:
        count = len(emulator.cassette.exchanges)
        print(f"answering from the cassette {args.cassette} ({count} recorded exchanges)")
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
