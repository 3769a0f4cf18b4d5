from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

import steadyllm as sl
from steadyllm._cli.main import main
from steadyllm._cli.parser import build_parser


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_chat_prints_the_reply_and_stats_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        [
            "chat",
            "fake:echo",
            "hello there",
            "--temperature",
            "0.2",
            "--max-tokens",
            "20",
            "--system",
            "be nice",
        ],
        capsys,
    )
    assert code == 0 and out == "hello there\n"
    assert "[fake:echo] tokens" in err and "cost $0.000000" in err and "1 attempt" in err


def test_chat_stream(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["chat", "fake:echo", "one two three", "--stream"], capsys)
    assert code == 0 and out == "one two three\n" and "finish stop" in err


def test_chat_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["chat", "fake:echo", "hi", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"echo": "hi"}


def test_chat_json_mode_rejects_non_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sl.FakeProvider, "_echo", staticmethod(lambda request: sl.FakeReply("no")))
    code, _, err = run(["chat", "fake:echo", "hi", "--json"], capsys)
    assert code == 1 and "not valid JSON" in err


def test_prompt_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("from a pipe"))
    code, out, _ = run(["chat", "fake:echo", "-"], capsys)
    assert code == 0 and out == "from a pipe\n"


def test_bad_input_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["chat", "nope:model", "hi"], capsys)
    assert code == 2 and "unknown provider 'nope'; known providers: anthropic, azure" in err
    code, _, err = run(["chat", "fake:echo", "hi", "--temperature", "9"], capsys)
    assert code == 2 and "temperature=9.0 is out of range" in err


def test_invalid_setting_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_MAX_RETRIES", "lots")
    code, _, err = run(["chat", "fake:echo", "hi"], capsys)
    assert code == 2 and "LLM_MAX_RETRIES" in err


def test_a_failed_call_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sl.FakeProvider, "_echo", staticmethod(lambda request: sl.FakeHang()))
    code, _, err = run(["chat", "fake:echo", "hi", "--timeout-ms", "50"], capsys)
    assert code == 1 and "call failed" in err and "total deadline" in err


def test_config_shows_sources_and_aliases(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "steadyllm.toml").write_text(
        'max_retries = 4\n[aliases]\nfast = "fake:echo"\n'
        '[fallbacks]\n"openai:gpt-4o" = ["anthropic:claude-sonnet-4-5", "fake:echo"]\n'
        '[limits."openai:gpt-4o"]\nrpm = 500\n'
        '[prices."vllm:llama"]\ninput = 0.5\noutput = 0.8\n'
    )
    code, out, _ = run(["config"], capsys)
    assert code == 0
    assert "LLM_MAX_RETRIES" in out and "4  (toml)" in out
    assert "LLM_TIMEOUT_MS" in out and "30000  (default)" in out
    # Every table, with where it came from.
    assert "[aliases]  (toml)\n  fast = fake:echo" in out
    assert "[fallbacks]  (toml)\n  openai:gpt-4o = anthropic:claude-sonnet-4-5 -> fake:echo" in out
    assert "[limits]  (toml)\n  openai:gpt-4o = rpm=500" in out
    assert "[prices]  (toml)\n  vllm:llama = " in out and "input" in out


def test_providers_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["providers"], capsys)
    assert code == 0 and "\nfake\t" in out and "\nopenai\t" in out


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo"], capsys)
    assert code == 0
    assert "after 3 attempts" in out and "LLMTimeoutError" in out and "demo finished" in out
    assert 'current_weather({"city": "Lyon"})' in out and "HTTP requests" in out
    assert "azure:my-deployment unpriced" in out and "8. costs:" in out
    assert "validation={'status': 'pass', 'attempt': 2}" in out and "title: ok" in out


@pytest.mark.parametrize("command", [[], ["chat"], ["demo"], ["config"], ["providers"]])
def test_help_on_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, "--help"])
    assert info.value.code == 0
    assert "usage: steadyllm" in capsys.readouterr().out


def test_version_from_the_installed_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "steadyllm", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"steadyllm {sl.__version__}"


# ------------------------------------------------------------------ a newcomer's hour (issue 16)


@pytest.mark.parametrize(("piped", "sent"), [("x\n", "x"), ("two\nlines\r\n", "two\nlines")])
def test_one_trailing_newline_from_stdin_is_not_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, piped: str, sent: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(piped))
    code, out, _ = run(["chat", "fake:echo", "-"], capsys)
    assert code == 0 and out == sent + "\n"


@pytest.mark.parametrize("piped", ["", "\n", "   \n"])
def test_an_empty_prompt_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, piped: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(piped))
    code, out, err = run(["chat", "fake:echo", "-"], capsys)
    assert code == 2 and out == "" and "the prompt is empty" in err


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import steadyllm._cli.main as cli

    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_providers", interrupted)
    assert main(["providers"]) == 130


def test_runs_in_an_empty_directory_creates_no_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["runs"]) == 0
    assert "no runs recorded yet" in capsys.readouterr().err
    assert main(["runs", "show", "r1"]) == 1
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_demo_help_says_what_the_demo_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "emulator" in text and "fake provider" not in text


def test_costs_and_stats_read_the_configured_log_and_say_how_to_start_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in ("costs", "stats"):
        code, _, err = run([command], capsys)
        assert code == 2 and "LOG_TO_FILE=true" in err and "Errno" not in err
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("LOG_TO_FILE", "true")
    monkeypatch.setenv("LOG_FILE_PATH", str(log))
    assert run(["chat", "fake:echo", "hello"], capsys)[0] == 0
    code, out, _ = run(["costs"], capsys)
    assert code == 0 and "fake:echo" in out
    code, out, _ = run(["stats", "--json"], capsys)
    assert code == 0 and json.loads(out)["overall"]["requests"] == 1


async def test_chat_sends_every_option_it_is_given(tmp_path: Path) -> None:
    import asyncio
    import os

    from .test_e2e_resilience import emulator_process

    png = tmp_path / "dot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    async with emulator_process() as url:
        env = {"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-cli-options"}
        os.environ.update(env)
        try:
            code = await asyncio.to_thread(
                main,
                [
                    "chat", "openai:gpt-4o-mini", "look", "--top-p", "0.5", "--seed", "7",
                    "--stop", "END", "--stop", "FIN", "-o", "logprobs=true", "-o", "tag=plain",
                    "--image", str(png), "--no-cache", "--run-id", "r1", "--agent", "a1",
                ],
            )  # fmt: skip
        finally:
            for key in env:
                os.environ.pop(key)
        async with aiohttp.ClientSession() as http, http.get(f"{url}/_emulator/requests") as r:
            (sent,) = await r.json()
    assert code == 0
    body = sent["body"]
    assert (body["top_p"], body["seed"], body["stop"]) == (0.5, 7, ["END", "FIN"])
    assert body["logprobs"] is True and body["tag"] == "plain"
    parts = body["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "look"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_interactive_chat_keeps_the_conversation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    turns = iter(["first question", "second question"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(turns)
        except StopIteration:
            raise EOFError from None

    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("LOG_TO_FILE", "true")
    monkeypatch.setenv("LOG_PROMPTS", "true")
    monkeypatch.setenv("LOG_FILE_PATH", str(log))
    monkeypatch.setattr("builtins.input", fake_input)
    code, out, err = run(["chat", "fake:echo", "-i"], capsys)
    assert code == 0 and out == "first question\nsecond question\n"
    assert err.count("tokens") == 2  # tokens and cost after each turn
    second = json.loads(log.read_text().splitlines()[1])
    assert [m["role"] for m in second["prompt"]] == ["user", "assistant", "user"]


def _write_log(path: Path) -> None:
    records = [
        ("2026-11-29T10:00:00.000Z", "openai", "gpt-4o", "a1", 0.5, True),
        ("2026-11-30T10:00:00.000Z", "openai", "gpt-4o", "a2", 0.25, False),
        ("2026-11-30T11:30:00.000Z", "anthropic", "claude", "a1", 1.0, True),
        ("2026-12-01T09:00:00.000Z", "openai", "gpt-4o-mini", "a1", 0.125, True),
    ]
    lines = []
    for when, provider, model, agent, cost, ok in records:
        lines.append(
            json.dumps(
                {
                    "schema": 2,
                    "timestamp": when,
                    "provider": provider,
                    "model": model,
                    "agent": agent,
                    "run_id": "r1",
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "cost_usd": cost,
                    "success": ok,
                    "error_kind": None if ok else "server_error",
                    "latency_ms": 100.0,
                    "attempts": 1,
                }
            )
        )
    lines.insert(1, json.dumps({"schema": 1, "ts": "2026-11-28T00:00:00Z", "provider": "x",
                                "model": "old", "cost_usd": 2.0, "success": True}))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def test_costs_by_day_and_a_window_with_csv_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    _write_log(log)
    code, out, _ = run(["costs", str(log), "--json", "--by", "day", "--by", "provider"], capsys)
    report = json.loads(out)
    assert code == 0 and report["total"]["calls"] == 5
    assert report["by_day"]["2026-11-30"]["cost_usd"] == 1.25
    assert report["by_day"]["2026-11-28"]["cost_usd"] == 2.0  # a schema 1 record (ts)
    assert set(report["by_provider"]) == {"openai", "anthropic", "x"}
    code, out, _ = run(
        ["costs", str(log), "--json", "--since", "2026-11-30", "--until", "2026-12-01"], capsys
    )
    window = json.loads(out)
    assert window["total"]["calls"] == 2 and window["total"]["cost_usd"] == 1.25
    assert set(window["by_model"]) == {"openai:gpt-4o", "anthropic:claude"}
    code, out, _ = run(["costs", str(log), "--csv", "--by", "agent"], capsys)
    rows = out.splitlines()
    assert rows[0].startswith("group,key,calls,failed_calls")
    assert "agent,a1,3,0,30,15,1.625,0.0,0" in rows
    assert rows[-1].startswith("total,all calls,5")
    code, out, _ = run(["costs", str(log), "--by", "day"], capsys)
    assert code == 0 and "by day" in out and "2026-11-30" in out and "█" in out  # the chart
    code, _, err = run(["costs", str(log), "--since", "yesterday-ish"], capsys)
    assert code == 2 and "neither a date" in err


def test_a_duration_is_back_from_now() -> None:
    from datetime import UTC, datetime

    from steadyllm._metering.logview import parse_when

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_when("24h", "--since", now) == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_when("30m", "--since", now).minute == 30
    assert parse_when("2026-12-01", "--since", now) == datetime(2026, 12, 1, tzinfo=UTC)


def test_stats_per_time_bucket(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    _write_log(log)
    code, out, _ = run(["stats", str(log), "--bucket", "day", "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["by_bucket"]["2026-11-30"]["requests"] == 2
    assert report["by_bucket"]["2026-11-30"]["failures"] == {"server_error": 1}
    code, out, _ = run(["stats", str(log), "--bucket", "hour"], capsys)
    assert code == 0 and "per time bucket" in out and "2026-11-30 11:00" in out
