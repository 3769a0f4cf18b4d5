"""Templates, the ai.llm_call step, and the SQLite and JSONL recorders."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator


def test_render_both_forms_dots_json_and_escapes() -> None:
    out = sl.render(
        'Hi {{ name }} and {who}; data {"k": 1}; \\{name\\}; {{step.text}} {n}',
        {"name": "Ada", "who": "Bob", "step": {"text": "done"}, "n": 3},
    )
    assert out == 'Hi Ada and Bob; data {"k": 1}; {name}; done 3'
    with pytest.raises(sl.TemplateError, match=r"'city' is not supplied \(supplied: name\)"):
        sl.render("Weather in {{city}}", {"name": "x"})
    with pytest.raises(sl.TemplateError, match=r"'step\.missing'"):
        sl.render("{step.missing}", {"step": {"text": "t"}})


def test_step_config_checks() -> None:
    with pytest.raises(sl.ConfigError, match="exactly one of prompt or template"):
        sl.LLMCallConfig(model="fake:m")
    with pytest.raises(sl.ConfigError, match=r"s1: unknown field\(s\) temprature"):
        sl.LLMCallConfig.from_dict({"model": "fake:m", "prompt": "x", "temprature": 1}, "s1")
    assert (
        sl.LLMCallConfig(model="gpt-4o", provider="openai", prompt="x").model_ref == "openai:gpt-4o"
    )


@pytest.fixture(params=["sqlite", "jsonl"])
def recorder(request: pytest.FixtureRequest, tmp_path: Path) -> sl.Recorder:
    if request.param == "sqlite":
        return sl.SQLiteRecorder(tmp_path / "runs.db")
    return sl.JSONLRecorder(tmp_path / "runs.jsonl")


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


async def test_a_step_runs_through_the_pipeline_and_is_recorded(
    emulator: Emulator, recorder: sl.Recorder
) -> None:
    emulator.push(
        Behavior(fault="rate_limit", retry_after_ms=5),
        Behavior(text="Paris", usage={"prompt_tokens": 30, "completion_tokens": 2}),
    )
    config = {
        "model": "openai:gpt-4o-mini",
        "template": "Capital of {{country}}?",
        "vars": {"country": "France"},
        "system": "Be brief.",
        "temperature": 0.1,
        "max_tokens": 20,
        "timeout_ms": 5000,
        "max_retries": 2,
    }
    async with sl.Client(emulator.settings()) as client:
        result = await sl.run_llm_call(
            "geo", "capital", config, recorder, client=client, run_id="run1"
        )
    assert result.ok and result.text == "Paris"
    sent = emulator.requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    (step,) = await recorder.steps("run1")
    assert (step.status, step.text, step.attempts, step.prompt_tokens, step.total_tokens) == (
        "ok",
        "Paris",
        2,
        30,
        32,
    )
    assert step.cost_usd == pytest.approx((30 * 0.15 + 2 * 0.6) / 1e6) and step.ended_at
    (run,) = await recorder.runs()
    assert (run["run_id"], run["flow_id"], run["steps"], run["ok"]) == ("run1", "geo", 1, 1)


async def test_errors_and_missing_variables_are_recorded_not_lost(
    emulator: Emulator, recorder: sl.Recorder
) -> None:
    emulator.push(Behavior(fault="auth"))
    async with sl.Client(emulator.settings()) as client:
        failed = await sl.run_llm_call(
            "f", "s1", {"model": "openai:m", "prompt": "x"}, recorder, client=client, run_id="r"
        )
        missing = await sl.run_llm_call(
            "f",
            "s2",
            {"model": "openai:m", "template": "{{nope}}"},
            recorder,
            client=client,
            run_id="r",
        )
    assert failed.record.status == "error" and "401" in (failed.record.reason or "")
    assert missing.record.status == "error" and "'nope' is not supplied" in (
        missing.record.reason or ""
    )
    statuses = {s.step_id: s.status for s in await recorder.steps("r")}
    assert statuses == {"s1": "error", "s2": "error"}


async def test_a_cancelled_step_is_recorded_as_cancelled(recorder: sl.Recorder) -> None:
    arrived = asyncio.Event()

    class Signalling(sl.FakeProvider):
        async def complete(self, request: sl.Request) -> sl.Response:
            arrived.set()
            return await super().complete(request)

    async with sl.Client(providers={"fake": Signalling([sl.FakeHang()])}) as client:
        task = asyncio.create_task(
            sl.run_llm_call(
                "f", "slow", {"model": "fake:m", "prompt": "x"}, recorder, client=client, run_id="c"
            )
        )
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (step,) = await recorder.steps("c")
    assert step.status == "cancelled" and step.ended_at


async def test_a_json_step_returns_the_parsed_value(recorder: sl.Recorder) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["n"],
        "properties": {"n": {"type": "integer"}},
    }
    fake = sl.FakeProvider([sl.FakeReply('{"n": "x"}'), sl.FakeReply('{"n": 4}')])
    async with sl.Client(providers={"fake": fake}, clock=sl.FakeClock()) as client:
        result = await sl.run_llm_call(
            "f",
            "count",
            {"model": "fake:m", "prompt": "count", "json_schema": schema},
            recorder,
            client=client,
        )
    assert result.value == {"n": 4} and result.ok


def test_sqlite_migrations_are_numbered_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    first = sl.SQLiteRecorder(path)
    assert first.schema_version == 2
    first.close()
    again = sl.SQLiteRecorder(path)
    assert again.schema_version == 2
    again.close()
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT version FROM schema_version")] == [1, 2]
        db.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(sl.ConfigError, match="schema version 99, newer than this steadyllm"):
        sl.SQLiteRecorder(path)
    (tmp_path / "junk.db").write_text("this is not a database")
    with pytest.raises(sl.ConfigError, match="cannot be used"):
        sl.SQLiteRecorder(tmp_path / "junk.db")


# ------------------------------------------------------------------ every outcome (issue 13)


async def test_any_exception_ends_the_step_as_an_error_and_is_re_raised(
    recorder: sl.Recorder,
) -> None:
    class Broken(sl.FakeProvider):
        async def complete(self, request: sl.Request) -> sl.Response:
            raise KeyError("a bug in a custom provider")

    async with sl.Client(providers={"fake": Broken([])}) as client:
        with pytest.raises(KeyError):
            await sl.run_llm_call(
                "f", "s", {"model": "fake:m", "prompt": "x"}, recorder, client=client, run_id="b"
            )
    (step,) = await recorder.steps("b")
    assert step.status == "error" and step.ended_at
    assert step.reason == "KeyError: 'a bug in a custom provider'"


async def test_a_reply_with_a_lone_surrogate_is_stored_escaped(recorder: sl.Recorder) -> None:
    reply = "cut \ud83d here"
    async with sl.Client(providers={"fake": sl.FakeProvider([sl.FakeReply(reply)])}) as client:
        result = await sl.run_llm_call(
            "f", "s", {"model": "fake:m", "prompt": "x"}, recorder, client=client, run_id="u"
        )
    assert result.ok
    (step,) = await recorder.steps("u")
    assert step.status == "ok" and step.text in (reply, "cut \\ud83d here")


async def test_the_step_cost_is_the_sum_over_its_attempts(
    emulator: Emulator, recorder: sl.Recorder
) -> None:
    # The first attempt's connection is closed after the server read the request
    # (booked at an estimate); the second answers. The step costs both.
    emulator.push(
        Behavior(fault="drop"),
        Behavior(text="ok", usage={"prompt_tokens": 10, "completion_tokens": 2}),
    )
    prices = {"openai:gpt-4o-mini": {"input": 1.0, "output": 10.0}}
    async with sl.Client(emulator.settings(prices=prices, retry_base_delay_ms=1)) as client:
        result = await sl.run_llm_call(
            "f",
            "s",
            {"model": "openai:gpt-4o-mini", "prompt": "x", "max_tokens": 50},
            recorder,
            client=client,
            run_id="t",
        )
    assert result.ok, result.record.reason
    answer_cost = (10 * 1.0 + 2 * 10.0) / 1e6
    assert result.record.cost_usd is not None and result.record.cost_usd > answer_cost
    assert client.costs.summary()["total"]["cost_usd"] == pytest.approx(result.record.cost_usd)


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_recorder_whose_directory_cannot_be_created_is_one_config_error(
    tmp_path: Path, kind: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = blocker / "runs" / ("runs.db" if kind == "sqlite" else "runs.jsonl")
    with pytest.raises(sl.ConfigError, match="a-file") as info:
        sl.SQLiteRecorder(path) if kind == "sqlite" else sl.JSONLRecorder(path)
    assert "recorder" in str(info.value)


# ------------------------------------------------------------------ the seeds' recipe (issue 16)


class HookRecorder:
    """A user's recorder: async start, plain end."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def record_step_start(self, flow_id: str, step_id: str, payload: dict[str, Any]) -> None:
        self.calls.append(("start", flow_id, step_id, payload))

    def record_step_end(
        self, flow_id: str, step_id: str, status: str, payload: dict[str, Any]
    ) -> None:
        self.calls.append(("end", flow_id, step_id, status, payload))


async def test_a_recorder_with_step_hooks_gets_the_documented_payloads() -> None:
    hooks = HookRecorder()
    fake = sl.FakeProvider([sl.FakeReply("done", usage=sl.Usage(12, 3))])
    async with sl.Client(providers={"fake": fake}, clock=sl.FakeClock()) as client:
        ok = await sl.run_llm_call(
            "f", "s1", {"model": "fake:m", "prompt": "x"}, hooks, client=client, run_id="r"
        )
        failed = await sl.run_llm_call(
            "f", "s2", {"model": "fake:m", "template": "{{nope}}"}, hooks, client=client
        )
    assert ok.ok and not failed.ok
    start, end, _, error_end = hooks.calls
    assert start[:3] == ("start", "f", "s1") and start[3]["model"] == "fake:m"
    assert end[:4] == ("end", "f", "s1", "ok")
    assert end[4]["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "cost_usd": 0.0,
    }
    assert end[4]["text"] == "done" and end[4]["run_id"] == "r"
    assert error_end[3] == "error" and "'nope' is not supplied" in error_end[4]["reason"]


async def test_something_that_is_not_a_recorder_is_a_config_error() -> None:
    with pytest.raises(sl.ConfigError, match="record_step_start"):
        await sl.run_llm_call("f", "s", {"model": "fake:m", "prompt": "x"}, object())


async def test_steps_without_a_client_share_one_default_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from steadyllm._flows import step as _flows

    monkeypatch.setattr(_flows, "_default_client", None)
    hooks = HookRecorder()
    for step in ("a", "b"):
        result = await sl.run_llm_call("f", step, {"model": "fake:echo", "prompt": step}, hooks)
        assert result.ok and result.text == step
    client = _flows._default_client
    assert client is not None and client.costs.summary()["total"]["calls"] == 2
    await client.aclose()


RECIPE = Path(__file__).resolve().parents[1] / "examples" / "llm_call_recipe.py"


@pytest.mark.parametrize("where", ["offline", "emulator"])
async def test_the_llm_call_recipe_runs(where: str) -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EXAMPLE_"))}
    async with Emulator() as emu:
        if where == "emulator":
            env |= {
                "OPENAI_BASE_URL": emu.openai_base_url,
                "OPENAI_API_KEY": "sk-recipe",
                "EXAMPLE_MODEL": "openai:gpt-4o-mini",
            }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(RECIPE), env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        served = len(emu.requests)
    lines = out.decode().splitlines()
    assert lines[-1] == '["ok", "error"]'
    assert "ok -> Summarise for a busy reader: Tides rise twice a day." in lines
    assert served == (1 if where == "emulator" else 0)
