"""The emulator's control surface, its rate limiter and its command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, BehaviorError, Emulator
from steadyllm.emulator._limits import RateLimits


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


def test_behavior_validation() -> None:
    with pytest.raises(BehaviorError, match="unknown fault 'explode'"):
        Behavior(fault="explode")
    with pytest.raises(BehaviorError, match="needs status between 400 and 599"):
        Behavior(fault="status", status=200)
    with pytest.raises(BehaviorError, match="times must be"):
        Behavior(times=0)
    with pytest.raises(BehaviorError, match="unknown behaviour fields: colour"):
        Behavior.from_dict({"colour": "red"})
    with pytest.raises(BehaviorError, match="must be a JSON object"):
        Behavior.from_dict([1])
    with pytest.raises(BehaviorError, match="not valid JSON"):
        Behavior.from_json("{nope")
    assert Behavior.from_json('{"text": "hi", "times": 2}').to_dict() == {"text": "hi", "times": 2}
    with pytest.raises(BehaviorError, match="api 'gemini'"):
        Behavior(api="gemini")


async def test_queued_behaviours_can_target_an_api_or_a_model(emulator: Emulator) -> None:
    emulator.push(
        Behavior(text="for claude", api="anthropic"), Behavior(text="for mini", model="mini")
    )
    settings = emulator.settings()
    async with sl.Client(settings) as client:
        assert (await client.chat("openai:big", [sl.user("echo")])).text == "echo"
        assert (await client.chat("openai:mini", [sl.user("x")])).text == "for mini"
        assert (await client.chat("anthropic:c", [sl.user("x")])).text == "for claude"


def test_rate_limits_refill_continuously() -> None:
    now = [0.0]
    limits = RateLimits(rpm=60, tpm=600, clock=lambda: now[0])
    for _ in range(60):
        assert limits.take(10).allowed
    verdict = limits.take(10)
    assert not verdict.allowed and verdict.wait == pytest.approx(1.0)  # one request per second
    assert verdict.headers["x-ratelimit-remaining-requests"] == "0"
    now[0] = 1.0
    assert limits.take(10).allowed
    assert limits.take(601).wait == float("inf")  # can never fit
    assert limits.rejected == 2
    tokens_only = RateLimits(rpm=None, tpm=100, clock=lambda: now[0])
    assert tokens_only.take(100).allowed
    assert tokens_only.take(50).wait == pytest.approx(30.0)
    assert "x-ratelimit-limit-requests" not in tokens_only.take(1).headers


async def test_control_endpoints_and_behavior_header(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        queued = await http.post(
            f"{emulator.url}/_emulator/script", json=[{"text": "scripted"}, {"fault": "auth"}]
        )
        assert (await queued.json()) == {"queued": 2}
        bad = await http.post(f"{emulator.url}/_emulator/script", json={"fault": "explode"})
        assert bad.status == 400 and "unknown fault" in (await bad.json())["error"]["message"]
        health = await http.get(f"{emulator.url}/_emulator/health")
        assert (await health.json()) == {"ok": True, "queued": 2, "requests": 0, "rate_limited": 0}
        settings = emulator.settings()
        async with sl.Client(settings) as client:
            assert (await client.chat("openai:m", [sl.user("x")])).text == "scripted"
            with pytest.raises(sl.AuthenticationError):
                await client.chat("openai:m", [sl.user("x")])
            assert (await client.chat("openai:m", [sl.user("x")])).text == "x"  # queue empty: echo
        header = json.dumps({"text": "from a header"})
        direct = await http.post(
            f"{emulator.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            headers={"x-emulator-behavior": header, "authorization": "Bearer k"},
        )
        assert (await direct.json())["choices"][0]["message"]["content"] == "from a header"
        broken = await http.post(
            f"{emulator.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user"}]},
            headers={"x-emulator-behavior": "{bad"},
        )
        assert broken.status == 400
        not_json = await http.post(f"{emulator.url}/v1/chat/completions", data=b"{")
        assert not_json.status == 400
        empty = await http.post(
            f"{emulator.url}/v1/chat/completions", json={"model": "m", "messages": []}
        )
        assert "at least one message" in (await empty.json())["error"]["message"]
        no_version = await http.post(
            f"{emulator.url}/openai/deployments/d/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
        )
        assert no_version.status == 404
        anthropic_checks = [
            ({}, {"max_tokens": 5}, "anthropic-version"),
            ({"anthropic-version": "2023-06-01"}, {}, "max_tokens: Field required"),
            (
                {"anthropic-version": "2026-10-21"},
                {"max_tokens": 5, "top_k": 3},
                "top_k: Extra inputs",
            ),
        ]
        for headers, extra, message in anthropic_checks:
            reply = await http.post(
                f"{emulator.url}/v1/messages",
                headers=headers,
                json={"model": "c", "messages": [{"role": "user", "content": "x"}], **extra},
            )
            assert reply.status == 400 and message in (await reply.json())["error"]["message"]
        recorded = await http.get(f"{emulator.url}/_emulator/requests")
        assert len(await recorded.json()) == len(emulator.requests) >= 10
        await http.post(f"{emulator.url}/_emulator/reset")
    assert emulator.requests == [] and emulator.rate_limited == 0


def test_emulate_command_serves_until_stopped() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "steadyllm", "emulate", "--port", "0", "--rpm", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("steadyllm emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1].strip()
        assert proc.stdout.readline().startswith("# paste into the shell")
        assert proc.stdout.readline().strip() == f"export OPENAI_BASE_URL={url}/v1"
        assert proc.stdout.readline().strip() == "export OPENAI_API_KEY=sk-emulator"
        client = sl.SyncClient(
            sl.Settings.load(
                env={}, dotenv=False, openai_api_key="sk-cli-123456", openai_base_url=f"{url}/v1"
            )
        )
        with client:
            r = client.chat("openai:m", [sl.user("over the command line")])
        assert r.text == "over the command line" and r.rate_limit is not None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_emulate_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from steadyllm._cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["emulate", "--port", str(taken.getsockname()[1])])
    assert code == 2 and "error" in capsys.readouterr().err


def test_without_the_emulator_extra_the_error_names_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['aiohttp'] = None  # as if `pip install steadyllm` without [emulator]\n"
        "sys.modules['aiohttp.web'] = None\n"
        "from steadyllm._cli.main import main\n"
        "raise SystemExit(main(['emulate', '--port', '0']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "pip install 'steadyllm[emulator]'" in done.stderr
