"""OpenTelemetry spans and metrics, checked with the SDK's in-memory exporter and reader."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import steadyllm as sl

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


def calls(spans: InMemorySpanExporter) -> list[Any]:
    """The call spans (``chat {model}``), without their attempt children."""
    return [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]


def attempts_of(spans: InMemorySpanExporter, parent: Any) -> list[Any]:
    return [
        s
        for s in spans.get_finished_spans()
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


@pytest.fixture
def spans() -> InMemorySpanExporter:
    _EXPORTER.clear()
    return _EXPORTER


async def test_a_span_per_call_with_gen_ai_attributes_and_retry_events(
    spans: InMemorySpanExporter,
) -> None:
    fake = sl.FakeProvider([sl.FakeFault("overloaded"), sl.FakeReply("hi", usage=sl.Usage(12, 3))])
    settings = sl.Settings.load(env={}, dotenv=False, fallbacks={"fake:a": ["fake:b"]})
    async with sl.Client(settings, providers={"fake": fake}, clock=sl.FakeClock()) as client:
        await client.chat(
            "fake:a",
            [sl.user("x")],
            temperature=0.5,
            max_tokens=20,
            context=sl.Context(run_id="r9", agent="planner"),
        )
        fake.add_script([sl.FakeFault("authentication")])
        with pytest.raises(sl.AuthenticationError):
            await client.chat("fake:a", [sl.user("x")])
    ok, failed = calls(spans)
    assert ok.name == "chat a" and ok.kind == trace.SpanKind.CLIENT
    attrs = dict(ok.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "fake"
    assert (
        attrs["gen_ai.request.model"],
        attrs["gen_ai.request.temperature"],
        attrs["gen_ai.request.max_tokens"],
    ) == ("a", 0.5, 20)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (12, 3)
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",) and attrs["gen_ai.response.id"]
    assert attrs["steadyllm.attempts"] == 2 and attrs["gen_ai.agent.name"] == "planner"
    assert [e.name for e in ok.events] == ["steadyllm.retry"]
    assert ok.events[0].attributes["error.type"] == "overloaded"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "authentication"
    # Each attempt is a child span of its call: the overloaded one, then the answer.
    first, second = sorted(attempts_of(spans, ok), key=lambda s: s.start_time)
    assert first.name == "attempt 1 fake:a" and dict(first.attributes or {})["error.type"] == (
        "overloaded"
    )
    assert second.name == "attempt 2 fake:a" and "error.type" not in dict(second.attributes or {})
    assert ok.start_time <= first.start_time <= second.end_time <= ok.end_time
    assert ok.start_time is not None and ok.end_time is not None and ok.end_time >= ok.start_time


async def test_fallbacks_are_events_and_metrics_are_recorded(spans: InMemorySpanExporter) -> None:
    fake = sl.FakeProvider(scripts={"a": [sl.FakeFault("quota_exceeded")]})
    settings = sl.Settings.load(env={}, dotenv=False, fallbacks={"fake:a": ["fake:b"]})
    async with sl.Client(settings, providers={"fake": fake}, clock=sl.FakeClock()) as client:
        await client.chat("fake:a", [sl.user("x")])
    (span,) = calls(spans)
    assert span.name == "chat b" and [e.name for e in span.events] == ["steadyllm.fallback"]
    assert dict(span.attributes or {})["steadyllm.requested_model"] == "fake:a"
    data = _READER.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names


async def test_tracing_can_be_switched_off(spans: InMemorySpanExporter) -> None:
    settings = sl.Settings.load(env={}, dotenv=False, enable_tracing=False)
    async with sl.Client(settings, clock=sl.FakeClock()) as client:
        await client.chat("fake:m", [sl.user("x")])
    assert spans.get_finished_spans() == ()


def test_nothing_is_built_until_the_application_installs_a_provider() -> None:
    # A fresh interpreter: this module installed SDK providers in the test process.
    import subprocess
    import sys

    code = """
import asyncio, steadyllm as sl
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
async def main():
    settings = sl.Settings.load(env={}, dotenv=False, config_file=False)
    async with sl.Client(settings, providers={"fake": sl.FakeProvider()}) as client:
        await client.chat("fake:m", [sl.user("x")])
        print(client.meter.telemetry() is None)
        trace.set_tracer_provider(TracerProvider())
        print(client.meter.telemetry() is None)
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


class _Exploding(SimpleSpanProcessor):
    """A span processor whose exporter side fails, when armed."""

    armed = False

    def on_end(self, span: object) -> None:
        if self.armed:
            raise RuntimeError("collector unreachable")


_EXPLODING = _Exploding(InMemorySpanExporter())
_provider.add_span_processor(_EXPLODING)


async def test_an_exporter_that_raises_never_changes_a_call(spans: InMemorySpanExporter) -> None:
    _EXPLODING.armed = True
    try:
        async with sl.Client(providers={"fake": sl.FakeProvider()}, clock=sl.FakeClock()) as c:
            replies = [(await c.chat("fake:m", [sl.user(f"q{i}")])).text for i in range(3)]
            assert replies == ["q0", "q1", "q2"]
            assert c.sink_failures() == {"OpenTelemetry: RuntimeError": 3}
    finally:
        _EXPLODING.armed = False


async def test_a_tool_loop_nests_its_calls_and_tool_runs_under_one_agent_span(
    spans: InMemorySpanExporter,
) -> None:
    @sl.tool
    def lookup(word: str) -> str:
        """Look a word up.

        Args:
            word: The word.
        """
        return word.upper()

    fake = sl.FakeProvider(
        [
            sl.FakeReply(tool_calls=[sl.ToolCall("c1", "lookup", '{"word": "tide"}')]),
            sl.FakeReply("TIDE it is"),
        ]
    )
    async with sl.Client(providers={"fake": fake}, clock=sl.FakeClock()) as client:
        result = await client.chat_with_tools(
            "fake:m", [sl.user("x")], tools=[lookup], context=sl.Context(agent="reader")
        )
    assert result.text == "TIDE it is"
    finished = spans.get_finished_spans()
    (agent,) = [s for s in finished if s.name == "invoke_agent reader"]
    children = attempts_of(spans, agent)
    names = sorted(s.name for s in children)
    assert names == ["chat m", "chat m", "execute_tool lookup"]
    (tool_span,) = [s for s in children if s.name == "execute_tool lookup"]
    assert dict(tool_span.attributes or {})["gen_ai.tool.call.id"] == "c1"


async def test_trace_content_records_the_messages_redacted(spans: InMemorySpanExporter) -> None:
    import json

    secret = "sk-proj-TRACECONTENT0123456789"
    settings = sl.Settings.load(env={}, dotenv=False, trace_content=True)
    async with sl.Client(settings, providers={"fake": sl.FakeProvider()}) as client:
        await client.chat("fake:m", [sl.user(f"my key is {secret}")])
    (span,) = calls(spans)
    attrs = dict(span.attributes or {})
    inputs = json.loads(str(attrs["gen_ai.input.messages"]))
    assert inputs[0]["role"] == "user" and secret not in attrs["gen_ai.input.messages"]
    assert "[REDACTED]" in str(attrs["gen_ai.input.messages"])
    assert json.loads(str(attrs["gen_ai.output.messages"]))[0]["role"] == "assistant"
    quiet = sl.Settings.load(env={}, dotenv=False)
    spans.clear()
    async with sl.Client(quiet, providers={"fake": sl.FakeProvider()}) as client:
        await client.chat("fake:m", [sl.user("hello")])
    assert "gen_ai.input.messages" not in dict(calls(spans)[0].attributes or {})


async def test_a_chat_span_is_current_while_the_call_runs(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")

    class Instrumented(sl.FakeProvider):
        async def complete(self, request: sl.Request) -> sl.Response:
            with tracer.start_as_current_span("inside the provider"):
                return await super().complete(request)

    async with sl.Client(providers={"fake": Instrumented()}, clock=sl.FakeClock()) as client:
        with tracer.start_as_current_span("request handler") as handler:
            await client.chat("fake:m", [sl.user("x")])
        assert trace.get_current_span() is not handler  # the context was restored
    finished = {s.name: s for s in spans.get_finished_spans()}
    chat, inner = finished["chat m"], finished["inside the provider"]
    assert inner.parent is not None and inner.parent.span_id == chat.context.span_id
    assert chat.parent is not None
    assert chat.parent.span_id == finished["request handler"].context.span_id


async def test_a_streams_span_covers_the_whole_stream(spans: InMemorySpanExporter) -> None:
    fake = sl.FakeProvider([sl.FakeReply("a b c", chunks=3, chunk_delay=0.01)])
    async with (
        sl.Client(providers={"fake": fake}, clock=sl.FakeClock()) as client,
        client.stream("fake:m", [sl.user("x")]) as stream,
    ):
        async for _ in stream:
            pass
    (span,) = calls(spans)
    (attempt,) = attempts_of(spans, span)
    assert span.start_time <= attempt.start_time and attempt.end_time <= span.end_time
    assert dict(span.attributes or {})["gen_ai.usage.output_tokens"] > 0
