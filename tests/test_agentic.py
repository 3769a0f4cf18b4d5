"""The tool loop and structured output, on the fake provider and over HTTP."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

import steadyllm as sl
from steadyllm._agents.tools import check_schema
from steadyllm.emulator import Behavior, Emulator


@sl.tool
def weather(city: str, unit: str = "C") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
        unit (str): C or F.
    """
    return {"city": city, "temp": 11, "unit": unit, "thread": threading.current_thread().name}


class Lookup(pydantic.BaseModel):
    """Look a word up."""

    word: str


class Plan(pydantic.BaseModel):
    steps: list[str]
    done: bool


def fake_client(*steps: Any) -> tuple[sl.Client, sl.FakeProvider]:
    fake = sl.FakeProvider(steps)
    return sl.Client(providers={"fake": fake}, clock=sl.FakeClock()), fake


def call(cid: str, name: str, args: Any) -> sl.ToolCall:
    return sl.ToolCall(cid, name, args if isinstance(args, str) else json.dumps(args))


def test_schema_from_a_typed_function_and_its_docstring() -> None:
    assert weather.spec.description == "Current weather for a city."
    assert weather.spec.parameters == {
        "type": "object",
        "required": ["city"],
        "properties": {
            "city": {"type": "string", "description": "The city name."},
            "unit": {"type": "string", "default": "C", "description": "C or F."},
        },
    }
    model_tool = sl.Tool.from_model(Lookup, lambda args: args.word.upper())
    assert model_tool.spec.name == "Lookup" and model_tool.spec.description == "Look a word up."
    with pytest.raises(sl.ConfigError, match="needs a type annotation"):
        sl.tool(lambda x: x)
    with pytest.raises(sl.ConfigError, match=r"\*args"):
        sl.Tool.from_function(lambda *a: a)


async def test_parallel_calls_errors_sent_back_and_usage_accumulates() -> None:
    running: list[str] = []

    async def slow(name: str) -> str:
        running.append(name)
        await asyncio.sleep(0)  # both run before either finishes
        assert len(running) == 2
        return f"hi {name}"

    def broken(x: int) -> int:
        raise RuntimeError("disk on fire")

    client, fake = fake_client(
        sl.FakeReply(
            tool_calls=[
                call("a", "slow", {"name": "x"}),
                call("b", "slow", {"name": "y"}),
                call("c", "weather", {"town": "Lyon"}),
                call("d", "nope", {}),
                call("e", "weather", "{not json"),
                call("f", "broken", {"x": 1}),
            ],
            usage=sl.Usage(10, 5),
        ),
        sl.FakeReply("final answer", usage=sl.Usage(20, 7)),
    )
    r = await client.chat_with_tools("fake:m", [sl.user("go")], tools=[slow, weather, broken])
    assert r.text == "final answer" and r.iterations == 2
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (30, 12)
    by_id = {e.call.id: e for e in r.executions}
    assert by_id["a"].result == "hi x" and by_id["b"].ok
    assert by_id["c"].error == "invalid arguments for weather: city: Field required"
    assert by_id["d"].error == "unknown tool 'nope'; available tools: broken, slow, weather"
    assert "not valid JSON" in (by_id["e"].error or "")
    assert by_id["f"].error == "tool broken failed: RuntimeError: disk on fire"
    sent = fake.requests[1].messages
    assert [m.role for m in sent] == ["user", "assistant", *["tool"] * 6]
    assert [m.tool_call_id for m in sent[2:]] == list("abcdef")  # the order the model asked
    assert sent[4].is_error and sent[4].text.startswith("Error: invalid arguments")
    assert r.messages[-1].text == "final answer" and r.executions[0].to_dict()["iteration"] == 1


async def test_sync_handlers_run_off_the_loop_and_handlers_time_out() -> None:
    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"  # pragma: no cover

    client, _ = fake_client(
        sl.FakeReply(tool_calls=[call("a", "weather", {"city": "Lyon"}), call("b", "hang", {})]),
        sl.FakeReply("ok"),
    )
    r = await client.chat_with_tools(
        "fake:m", [sl.user("x")], tools=[weather, sl.Tool.from_function(hang, timeout_ms=50)]
    )
    assert r.executions[0].result["thread"] != threading.current_thread().name
    assert r.executions[1].error == "tool hang timed out after 50 ms"


async def test_raw_schema_tools_with_handlers_and_pydantic_model_tools() -> None:
    spec = sl.ToolSpec(
        "add",
        "Add",
        {
            "type": "object",
            "required": ["a", "b"],
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "additionalProperties": False,
        },
    )
    client, _ = fake_client(
        sl.FakeReply(
            tool_calls=[
                call("1", "add", {"a": 2, "b": 3}),
                call("2", "add", {"a": "2", "b": 3}),
                call("3", "Lookup", {"word": "hi"}),
                call("4", "add", {"a": 1, "b": 1, "c": 1}),
            ]
        ),
        sl.FakeReply("done"),
    )
    r = await client.chat_with_tools(
        "fake:m",
        [sl.user("x")],
        tools=[spec, sl.Tool.from_model(Lookup, lambda a: a.word.upper())],
        handlers={"add": lambda a, b: a + b},
    )
    results = [(e.result, e.error) for e in r.executions]
    assert results[0] == (5, None) and results[2] == ("HI", None)
    assert results[1][1] == "invalid arguments for add: a: expected integer, got str"
    assert "unexpected properties ['c']" in (results[3][1] or "")
    with pytest.raises(sl.ConfigError, match="handlers for tools that were not declared: ghost"):
        await client.chat_with_tools(
            "fake:m", [sl.user("x")], tools=[spec], handlers={"ghost": print}
        )


async def test_max_iterations_error_or_final_answer() -> None:
    looping = [
        sl.FakeReply(tool_calls=[call(f"c{i}", "weather", {"city": "Lyon"})]) for i in range(3)
    ]
    client, _ = fake_client(*looping)
    with pytest.raises(sl.ToolLoopError, match="max_iterations=2") as info:
        await client.chat_with_tools("fake:m", [sl.user("x")], tools=[weather], max_iterations=2)
    assert len(info.value.result.executions) == 2
    client, fake = fake_client(*looping[:2], sl.FakeReply("best effort"))
    r = await client.chat_with_tools(
        "fake:m", [sl.user("x")], tools=[weather], max_iterations=2, on_max_iterations="answer"
    )
    assert r.text == "best effort" and fake.requests[-1].tool_choice == "none"
    with pytest.raises(sl.InvalidRequestError, match="max_iterations=0"):
        await client.chat_with_tools("fake:m", [sl.user("x")], tools=[weather], max_iterations=0)


async def test_streaming_tool_loop_yields_every_turn_and_the_tool_runs() -> None:
    client, _ = fake_client(
        sl.FakeReply("Checking.", tool_calls=[call("a", "weather", {"city": "Nice"})]),
        sl.FakeReply("Sunny in Nice."),
    )
    stream = client.stream_with_tools("fake:m", [sl.user("x")], tools=[weather])
    with pytest.raises(RuntimeError, match="not finished"):
        _ = stream.result
    events = [e async for e in stream]
    kinds = [type(e).__name__ for e in events]
    assert "ToolExecution" in kinds and kinds.count("Done") == 2
    text = "".join(e.text for e in events if isinstance(e, sl.TextDelta))
    assert text == "Checking.Sunny in Nice." and stream.result.text == "Sunny in Nice."
    looping = [sl.FakeReply(tool_calls=[call(f"c{i}", "weather", {"city": "X"})]) for i in range(2)]
    client, _ = fake_client(*looping)
    with pytest.raises(sl.ToolLoopError):
        async for _ in client.stream_with_tools(
            "fake:m", [sl.user("x")], tools=[weather], max_iterations=1
        ):
            pass


def test_sync_client_tool_loop_and_json() -> None:
    fake = sl.FakeProvider(
        [
            sl.FakeReply(tool_calls=[call("a", "weather", {"city": "Lyon"})]),
            sl.FakeReply("done"),
            sl.FakeReply('{"steps": [], "done": false}'),
            sl.FakeReply(tool_calls=[call("b", "weather", {"city": "Lyon"})]),
            sl.FakeReply("streamed"),
        ]
    )
    with sl.SyncClient(providers={"fake": fake}, clock=sl.FakeClock()) as client:
        assert client.chat_with_tools("fake:m", [sl.user("x")], tools=[weather]).text == "done"
        assert client.chat_json("fake:m", [sl.user("x")], schema=Plan) == Plan(steps=[], done=False)
        stream = client.stream_with_tools("fake:m", [sl.user("x")], tools=[weather])
        events = list(stream)
        assert any(isinstance(e, sl.ToolExecution) for e in events)
        assert stream.result.text == "streamed"


# ------------------------------------------------------------------ structured output


async def test_chat_json_validates_repairs_and_records(tmp_path: Path) -> None:
    fake = sl.FakeProvider(
        [
            sl.FakeReply('{"steps": ["a"]}'),
            sl.FakeReply("not json at all"),
            sl.FakeReply('```json\n{"steps": ["a", "b"], "done": true}\n```'),
        ]
    )
    log = tmp_path / "l.jsonl"
    settings = sl.Settings.load(env={}, dotenv=False, log_to_file=True, log_file_path=str(log))
    async with sl.Client(settings, providers={"fake": fake}, clock=sl.FakeClock()) as client:
        plan, response = await client.chat_json_response("fake:m", [sl.user("plan")], schema=Plan)
    assert plan == Plan(steps=["a", "b"], done=True)
    assert response.validation == {"status": "pass", "attempt": 3}
    repair = fake.requests[1].messages[-1].text
    assert repair.startswith("Your reply was not valid: done: Field required")
    assert fake.requests[0].response_format == {
        "type": "json_schema",
        "name": "Plan",
        "schema": Plan.model_json_schema(),
    }
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(r["validation_status"], r["validation_attempt"]) for r in records] == [
        ("fail", 1),
        ("fail", 2),
        ("pass", 3),
    ]


async def test_chat_json_gives_up_with_the_raw_output_and_errors() -> None:
    client, _ = fake_client(*[sl.FakeReply('{"steps": "x"}')] * 2)
    with pytest.raises(
        sl.StructuredOutputError, match="no valid JSON for Plan after 2 attempts"
    ) as info:
        await client.chat_json("fake:m", [sl.user("x")], schema=Plan, max_repairs=1)
    assert info.value.raw == '{"steps": "x"}' and "steps" in info.value.errors
    assert isinstance(info.value, sl.InvalidResponseError)


async def test_chat_json_with_a_dict_schema() -> None:
    schema = {
        "title": "city",
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "pop": {"type": "integer"}},
    }
    client, fake = fake_client(
        sl.FakeReply('{"name": 3}'), sl.FakeReply('{"name": "Lyon", "pop": 5}')
    )
    assert await client.chat_json("fake:m", [sl.user("x")], schema=schema) == {
        "name": "Lyon",
        "pop": 5,
    }
    assert "name: expected string" in fake.requests[1].messages[-1].text
    with pytest.raises(sl.InvalidRequestError, match="pydantic model class or a JSON Schema dict"):
        await client.chat_json("fake:m", [sl.user("x")], schema=int)  # type: ignore[type-var]


def test_the_small_schema_checker() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
            "n": {"type": ["integer", "null"]},
        },
    }
    check_schema({"tags": ["a"], "n": None}, schema)
    with pytest.raises(ValueError, match=r"tags\[1\]: 'c' is not one of"):
        check_schema({"tags": ["a", "c"]}, schema)
    with pytest.raises(ValueError, match="n: expected integer or null, got bool"):
        check_schema({"n": True}, schema)


# ------------------------------------------------------------------ over HTTP


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.mark.parametrize(
    "model", ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "azure:dep", "ollama:llama3"]
)
async def test_tool_loop_and_json_over_http(emulator: Emulator, model: str) -> None:
    emulator.push(
        Behavior(
            tool_calls=[
                {"name": "weather", "arguments": {"city": "Lyon"}},
                {"name": "weather", "arguments": {"town": "Nice"}},
            ]
        ),
        Behavior(text="Lyon: 11C"),
        Behavior(text='{"steps": ["go"]}'),
        Behavior(text='{"steps": ["go"], "done": true}'),
    )
    async with sl.Client(emulator.settings()) as client:
        r = await client.chat_with_tools(model, [sl.user("weather?")], tools=[weather])
        plan = await client.chat_json(model, [sl.user("plan")], schema=Plan)
    assert r.text == "Lyon: 11C" and r.executions[0].ok and not r.executions[1].ok
    assert plan == Plan(steps=["go"], done=True)
    second_turn = emulator.requests[1].body["messages"]
    assert any("Field required" in json.dumps(m) for m in second_turn)  # the error went back
    assert r.usage.total_tokens > 0


# ------------------------------------------------------------------ tool input checks (issue 13)


async def test_a_parameter_named_title_stays_in_the_schema_and_can_be_called() -> None:
    @sl.tool
    def create_issue(title: str, body: str = "") -> str:
        """Open an issue.

        Args:
            title: The issue's title.
        """
        return f"opened {title}"

    params = create_issue.spec.parameters
    assert set(params["properties"]) == {"title", "body"} and params["required"] == ["title"]
    assert params["properties"]["title"] == {"description": "The issue's title.", "type": "string"}
    assert "title" not in params  # pydantic's own annotation is still dropped
    call = sl.ToolCall("c1", "create_issue", json.dumps({"title": "Broken"}))
    execution = await create_issue.run(call, {"title": "Broken"}, 1)
    assert execution.error is None and execution.result == "opened Broken"


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "object", "required": "city"}, "'required' must be a list"),
        ({"type": "object", "properties": ["city"]}, "'properties' must be an object"),
        ({"type": "object", "properties": {"u": {"enum": "C"}}}, "'enum' must be a list"),
        ({"type": 3}, "'type' must be a string"),
        ({"type": "object", "required": [1]}, "property names"),
    ],
)
def test_an_invalid_raw_schema_is_a_config_error_when_the_tool_is_built(
    schema: dict[str, Any], needle: str
) -> None:
    with pytest.raises(sl.ConfigError, match=needle) as info:
        sl.Tool(sl.ToolSpec("lookup", "Look up", schema), lambda **kw: kw)
    assert "'lookup'" in str(info.value)


async def test_a_result_that_is_not_json_goes_back_to_the_model_as_an_error() -> None:
    def cyclic() -> list[Any]:
        loop: list[Any] = []
        loop.append(loop)
        return loop

    tool = sl.Tool.from_function(cyclic)
    execution = await tool.run(sl.ToolCall("c1", "cyclic", "{}"), {}, 1)
    assert execution.result is None
    assert execution.error is not None and "not JSON" in execution.error


async def test_a_streaming_tool_loop_left_early_is_closed_and_booked(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    async with Emulator() as emu:
        emu.push(Behavior(text="one two three four five six", chunks=6))
        prices = {"openai:gpt-4o-mini": {"input": 1.0, "output": 10.0}}
        settings = emu.settings(
            prices=prices, budget_usd=1.0, log_to_file=True, log_file_path=str(log)
        )
        async with sl.Client(settings) as client:
            async with client.stream_with_tools(
                "openai:gpt-4o-mini", [sl.user("x")], tools=[weather]
            ) as loop:
                async for _event in loop:
                    break
            # Closed at once, not at garbage collection: no connection, no hold left.
            transport = client._provider("openai").transport  # type: ignore[attr-defined]
            assert transport.busy_connections == 0
            budget = client.meter.budgets.snapshot()["global"]
            assert budget["reserved"] == 0 and budget["spent"] > 0
            await loop.aclose()  # twice is fine
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["error_kind"] == "abandoned" and record["stream"]


async def test_both_tool_loops_refuse_max_iterations_below_one() -> None:
    client, fake = fake_client(sl.FakeReply("never"))
    message = "max_iterations=0 must be at least 1"
    with pytest.raises(sl.InvalidRequestError, match=message):
        client.stream_with_tools("fake:m", [sl.user("x")], tools=[weather], max_iterations=0)
    with pytest.raises(sl.InvalidRequestError, match=message):
        await client.chat_with_tools("fake:m", [sl.user("x")], tools=[weather], max_iterations=0)
    assert fake.requests == []


def test_the_sync_streaming_tool_loop_closes_early() -> None:
    fake = sl.FakeProvider([sl.FakeReply("a b c d", chunks=4)])
    with sl.SyncClient(providers={"fake": fake}) as client:
        with client.stream_with_tools("fake:m", [sl.user("x")], tools=[weather]) as loop:
            first = next(iter(loop))
        assert isinstance(first, sl.TextDelta)
        (record,) = list(client.costs.summary()["by_model"].values())
        assert record["calls"] == 1 and record["failed_calls"] == 1


async def test_chat_json_timeout_is_the_total_over_all_repairs() -> None:
    # Each reply takes 4 s of virtual time and is invalid: with timeout_ms=10000 the
    # third attempt gets only the 2 s left, so it times out instead of starting fresh.
    slow = [sl.FakeReply('{"steps": "x"}', latency=4.0) for _ in range(3)]
    fake = sl.FakeProvider(slow)
    clock = sl.FakeClock()
    async with sl.Client(providers={"fake": fake}, clock=clock) as client:
        with pytest.raises(sl.LLMTimeoutError):
            await client.chat_json(
                "fake:m", [sl.user("x")], schema=Plan, max_repairs=5, timeout_ms=10_000
            )
        assert clock.now() <= 10.0 + 1e-6 and len(fake.requests) == 3


async def test_chat_json_puts_the_parsed_value_on_the_response() -> None:
    class City(pydantic.BaseModel):
        name: str

    client, _ = fake_client(sl.FakeReply('{"name": "Lyon"}'), sl.FakeReply('{"name": "Nice"}'))
    city = await client.chat_json("fake:m", [sl.user("x")], schema=City)
    assert isinstance(city, City) and city.name == "Lyon"  # typed as City by the overload
    value, response = await client.chat_json_response("fake:m", [sl.user("x")], schema=City)
    assert response.parsed is value and value.name == "Nice"


async def test_seconds_spellings_of_tool_timeouts_still_work_with_a_warning() -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    with pytest.warns(DeprecationWarning, match="timeout_ms"):
        tool = sl.Tool.from_function(slow, timeout=0.01)
    assert tool.timeout_ms == 10.0
    with pytest.warns(DeprecationWarning, match="timeout_ms"):
        decorated = sl.tool(timeout=None)(slow)
    assert decorated.timeout_ms is None
    client, _ = fake_client(
        sl.FakeReply(tool_calls=[sl.ToolCall("c1", "slow", "{}")]), sl.FakeReply("done")
    )
    with pytest.warns(DeprecationWarning, match="tool_timeout_ms"):
        run = await client.chat_with_tools(
            "fake:m",
            [sl.user("x")],
            tools=[slow],
            tool_timeout=0.01,  # type: ignore[call-arg]
        )
    (execution,) = run.executions
    assert execution.error == "tool slow timed out after 10 ms" and run.text == "done"


def test_options_after_the_messages_are_keyword_only() -> None:
    for name in ("chat_with_tools", "stream_with_tools", "chat_json", "chat_json_response"):
        for cls in (sl.Client, sl.SyncClient):
            parameters = list(inspect.signature(getattr(cls, name)).parameters.values())
            assert [p.name for p in parameters[:3]] == ["self", "model", "messages"], name
            assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters[3:]), (
                f"{cls.__name__}.{name}"
            )
