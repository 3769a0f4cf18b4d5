"""Flow files and the run / runs commands."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

import steadyllm as sl
from steadyllm._cli.main import main
from steadyllm._flows.flowfile import load_flow, run_flow

ROOT = Path(__file__).resolve().parents[1]

FLOW = """\
flow: demo
vars:
  topic: tides
steps:
  - id: outline
    model: fake:echo
    template: "Outline {{topic}}"
  - id: draft
    model: fake:echo
    system: Be brief.
    template: "Draft from: {{outline}}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return path


async def test_later_steps_use_earlier_outputs_and_vars_override(tmp_path: Path) -> None:
    flow = load_flow(write(tmp_path, FLOW))
    assert flow.id == "demo" and [s.id for s in flow.steps] == ["outline", "draft"]
    assert flow.steps[1].line == 8
    recorder = sl.JSONLRecorder(tmp_path / "runs.jsonl")
    progress = io.StringIO()
    async with sl.Client(clock=sl.FakeClock()) as client:
        run_id, results = await run_flow(
            flow, client, recorder, variables={"topic": "waves"}, progress=progress
        )
    assert [r.text for r in results] == ["Outline waves", "Draft from: Outline waves"]
    assert [s.status for s in await recorder.steps(run_id)] == ["ok", "ok"]
    assert "[2/2] draft (fake:echo)" in progress.getvalue()


async def test_a_failing_step_stops_the_run(tmp_path: Path) -> None:
    flow = load_flow(
        write(
            tmp_path,
            FLOW.replace("{{outline}}", "{{missing}}")
            + """\
  - id: never
    model: fake:echo
    prompt: unreachable
""",
        )
    )
    recorder = sl.JSONLRecorder(tmp_path / "runs.jsonl")
    async with sl.Client(clock=sl.FakeClock()) as client:
        _, results = await run_flow(flow, client, recorder, progress=io.StringIO())
    assert [r.record.status for r in results] == ["ok", "error"]
    assert "'missing' is not supplied" in (results[1].record.reason or "")


#: Nine levels of ten aliases: a billion values once expanded, 1 KB on disk.
BOMB = (
    "flow: x\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(8)
    )
    + "steps:\n  - id: s\n    model: fake:m\n    prompt: p\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "flow: x\nsteps:\n  - id: a\n    model: fake:m\n    prompt: hi\n    temprature: 2\n",
            "line 6: step 'a': unknown field 'temprature'",
        ),
        ("flow: x\nsteps:\n  - model: fake:m\n    prompt: hi\n", "line 3: step 1 needs an id"),
        (
            "flow: x\nsteps:\n  - id: a\n    model: fake:m\n",
            "line 3: step 'a' needs exactly one of prompt or template",
        ),
        ("flow: x\nsteps: []\n", "line 2: 'steps' must be a non-empty list"),
        ("flow: x\nstep:\n  - id: a\n", "line 2: unknown field 'step'"),
        (
            "flow: x\nsteps:\n  - id: a\n    model: m\n    prompt: p\n"
            "  - id: a\n    model: m\n    prompt: p\n",
            "line 6: step id 'a' is used twice",
        ),
        ("flow: [unclosed\n", "line 2: not valid YAML"),
        ("- just\n- a list\n", "a flow file is a mapping"),
        (
            "flow: x\nvars: [1]\nsteps:\n  - id: a\n    model: m\n    prompt: p\n",
            "line 2: 'vars' must be a mapping",
        ),
        ("flow: x\nsteps:\n  - nope\n", "line 3: step 1 must be a mapping"),
        # issue 13: hostile files end in a message naming the line, never a traceback
        (BOMB, "line 7: this value expands to more than 100,000 values"),
        ("flow: x\n? [a, b]\n: 1\nsteps: []\n", "line 2: a key must be plain text"),
        (
            "flow: x\nsteps:\n  - id: a\n    model: m\n    prompt: p\n    vars: {[1]: 2}\n",
            "line 6: a key must be plain text",
        ),
        ("flow: x\nvars:\n  v: " + "[" * 5000 + "]" * 5000 + "\n", "line 3: values nest more"),
    ],
)
def test_invalid_flow_files_name_the_line_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(sl.ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_flow(write(tmp_path, text))


def test_run_and_runs_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "runs.db")
    path = write(tmp_path, FLOW)
    assert main(["run", str(path), "--var", "topic=moons", "--db", db]) == 0
    captured = capsys.readouterr()
    assert "Draft from: Outline moons" in captured.out and "[1/2] outline" in captured.err
    run_id = captured.out.split()[1]
    assert main(["runs", "--db", db]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["runs", "show", run_id, "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "outline" in shown and "draft" in shown and "ok" in shown
    assert main(["runs", "show", "nope", "--db", db]) == 1
    assert main(["runs", "show", "--db", db]) == 2
    assert main(["run", str(path), "--var", "novalue", "--db", db]) == 2
    failing = write(tmp_path, FLOW.replace("{{outline}}", "{{ghost}}"))
    assert main(["run", str(failing), "--db", db]) == 1
    assert "error" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "missing.yaml"), "--db", db]) == 2


def test_the_example_flow_runs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", str(ROOT / "examples" / "research.flow.yaml"), "--db", str(tmp_path / "r.db")])
        == 0
    )
    assert "tide pools" in capsys.readouterr().out


def test_the_python_example_runs_offline() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "EXAMPLE_MODEL")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "weather_agent.py")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    assert "tool current_weather({'city': 'Lyon'})" in out.stdout
    assert "take_umbrella=True" in out.stdout and "3 model calls" in out.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (BOMB.encode(), "alias bomb"),
        (b"flow: x\nsteps:\n  - id: a\n    prompt: caf\xe9\n", "line 4: not valid UTF-8"),
        (("flow: x\nvars: " + "[" * 3000 + "]" * 3000 + "\n").encode(), "nest more than 64"),
    ],
)
def test_hostile_flow_files_exit_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, needle: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    assert main(["run", str(path), "--db", str(tmp_path / "r.db")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_the_model_can_be_a_variable_and_unknown_vars_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = ROOT / "examples" / "research.flow.yaml"
    db = str(tmp_path / "r.db")
    assert main(["run", str(example), "--var", "model=fake:other", "--db", db]) == 0
    out = capsys.readouterr().out
    run_id = out.split()[1]
    recorder = sl.SQLiteRecorder(db)
    steps = asyncio.run(recorder.steps(run_id))
    recorder.close()
    assert {s.model for s in steps} == {"fake:other"}
    assert main(["run", str(example), "--var", "topc=typo", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "does not use the variable(s) topc" in err and "it uses: model, outline, topic" in err


async def test_a_terminal_gets_a_live_step_table(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    flow = load_flow(write(tmp_path, FLOW))
    screen = Terminal()
    async with sl.Client(clock=sl.FakeClock()) as client:
        _, results = await run_flow(
            flow, client, sl.JSONLRecorder(tmp_path / "r.jsonl"), progress=screen
        )
    assert [r.record.status for r in results] == ["ok", "ok"]
    shown = screen.getvalue()
    assert "step" in shown and "elapsed" in shown and "cost USD" in shown
    assert "outline" in shown and "draft" in shown and "ok" in shown
    assert "[1/2]" not in shown  # not the plain lines of a pipe
