"""steadyllm.testing as users meet it: the pytest plugin's fixtures in a test
suite of their own (run by pytester), the emulator in a thread, and a cassette
replayed by the emulator for a client in another language (plain HTTP)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest

import steadyllm as sl
from steadyllm._cassette import format as _format
from steadyllm.emulator import Behavior, Emulator
from steadyllm.testing import EmulatorThread, cassette

pytest_plugins = ["pytester"]

USER_TESTS = """
import pytest
import steadyllm as sl


def test_against_the_emulator(llm_emulator):
    with sl.SyncClient(llm_emulator.settings()) as client:
        assert client.chat("openai:gpt-4o-mini", [sl.user("hi")]).text == "hi"
    assert llm_emulator.requests[0].body["messages"][0]["content"] == "hi"


@pytest.mark.llm_cassette(match_on=("method", "path", "body"))
def test_recorded(llm_cassette, llm_emulator):
    with sl.SyncClient(llm_emulator.settings()) as client:
        reply = client.chat("anthropic:claude-haiku-4-5", [sl.user("recorded once")])
    assert reply.text == "recorded once"
    # Recording talks to the emulator; replaying never does.
    assert len(llm_emulator.requests) == (1 if llm_cassette.recording else 0)
"""


def run_user_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", *args)


def test_the_fixtures_in_a_users_suite(pytester: pytest.Pytester) -> None:
    missing = run_user_suite(pytester)
    missing.assert_outcomes(passed=1, failed=1)  # mode none, no cassette yet
    assert "--llm-record-mode=once" in missing.stdout.str()

    recorded = run_user_suite(pytester, "--llm-record-mode=once")
    recorded.assert_outcomes(passed=2)
    path = pytester.path / "cassettes" / "test_user" / "test_recorded.yaml"
    assert "recorded once" in path.read_text()

    replayed = run_user_suite(pytester)  # mode none again: from the file
    replayed.assert_outcomes(passed=2)


def test_the_plugin_is_registered_and_cheap(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    assert "--llm-record-mode" in result.stdout.str()
    import importlib.metadata

    points = importlib.metadata.entry_points(group="pytest11")
    assert any(p.value == "steadyllm.testing.plugin" for p in points)


async def test_an_emulator_thread_serves_sync_and_async_code() -> None:
    def in_thread() -> list[str]:
        with EmulatorThread() as emu:
            emu.push(Behavior(text="scripted"))
            with sl.SyncClient(emu.settings(), retry=sl.RetryPolicy(max_retries=0)) as c:
                first = c.chat("openai:gpt-4o-mini", [sl.user("a")]).text
                second = c.chat("openai:gpt-4o-mini", [sl.user("b")]).text
            emu.clear()
            return [first, second, str(len(emu.requests))]

    assert await asyncio.to_thread(in_thread) == ["scripted", "b", "0"]


async def test_the_emulator_replays_a_cassette_to_any_http_client(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    async with Emulator() as real:
        client = sl.Client(real.settings())
        try:
            async with cassette(path, mode="once"):
                await client.chat("openai:gpt-4o-mini", [sl.user("for the go service")])
                async with client.stream("openai:gpt-4o-mini", [sl.user("streamed")]) as s:
                    streamed = [e async for e in s]
        finally:
            await client.aclose()
    (first, _) = await asyncio.to_thread(_format.load, path)
    body = first.body

    def plain_http(url: str, payload: dict[str, object]) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - a loopback http:// URL
            url, json.dumps(payload).encode(), {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    async with Emulator(cassette=path) as replay:
        url = f"{replay.openai_base_url}/chat/completions"
        status, data = await asyncio.to_thread(plain_http, url, body)
        assert status == 200 and json.loads(data)["choices"][0]["message"]["content"]
        assert data == first.body_bytes  # byte for byte
        status, data = await asyncio.to_thread(plain_http, url, {**body, "model": "other"})
        assert status == 404 and b"body.model" in data
        steady = sl.Client(replay.settings())
        try:
            async with steady.stream("openai:gpt-4o-mini", [sl.user("streamed")]) as s:
                again = [e async for e in s]
        finally:
            await steady.aclose()
        assert [type(e) for e in again] == [type(e) for e in streamed]
        assert len(replay.requests) == 3


def test_emulate_takes_a_cassette(tmp_path: Path) -> None:
    from steadyllm._cli.parser import build_parser

    args = build_parser().parse_args(["emulate", "--cassette", str(tmp_path / "c.yaml")])
    assert args.cassette.endswith("c.yaml") and not args.realtime
    with pytest.raises(sl.ConfigError, match="no cassette at"):
        Emulator(cassette=tmp_path / "c.yaml")


async def test_a_recorded_cut_is_served_as_a_cut(tmp_path: Path) -> None:
    path = tmp_path / "cut.yaml"
    async with Emulator() as real:
        real.push(Behavior(fault="drop", after_chunks=2, text="a b c d e f", chunks=6))
        client = sl.Client(real.settings(), retry=sl.RetryPolicy(max_retries=0))
        try:
            async with cassette(path, mode="once"):
                with pytest.raises(sl.StreamInterruptedError) as live:
                    async with client.stream("openai:gpt-4o-mini", [sl.user("cut")]) as s:
                        _ = [e async for e in s]
        finally:
            await client.aclose()
    async with Emulator(cassette=path, realtime=True) as replay:
        client = sl.Client(replay.settings(), retry=sl.RetryPolicy(max_retries=0))
        try:
            with pytest.raises(sl.StreamInterruptedError) as served:
                async with client.stream("openai:gpt-4o-mini", [sl.user("cut")]) as s:
                    _ = [e async for e in s]
        finally:
            await client.aclose()
    assert served.value.partial.text == live.value.partial.text != ""
