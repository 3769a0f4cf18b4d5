"""OpenTelemetry spans and metrics, following the GenAI semantic conventions.

Optional: with ``pip install steadyllm[otel]`` (the OpenTelemetry API) and
``ENABLE_TRACING`` on (the default), every call produces one CLIENT span
named ``chat {model}`` with ``gen_ai.*`` attributes, one event per retry and
fallback, and two histograms (``gen_ai.client.operation.duration`` in seconds
and ``gen_ai.client.token.usage``). Without the package nothing is imported
and nothing is done; until the application has imported OpenTelemetry and
installed a tracer or meter provider, nothing is imported or built either
(checked per call, so a set-up made later is picked up).
A ``chat`` call's span is opened when the call starts and is current while it
runs (``Client._call``); a stream's is opened when it opens and ended when it
ends, not current (the caller's loop runs between events); a cache hit's is
emitted at the end with its real start time. Either way the span is a child of whatever
span is current (the tool loop opens an ``invoke_agent`` span
around its turns and an ``execute_tool`` span per tool run); each attempt is
a child span of its call. With ``LLM_TRACE_CONTENT=true`` the input and output
messages are recorded (redacted). The application's SDK configuration
decides where spans go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _json_text(value: Any) -> str:
    from .._core import fastjson as _json

    return _json.dumps(value, default=str).decode("utf-8", "replace")


class Telemetry:
    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self._trace = trace
        self._metrics = metrics
        self.tracer = trace.get_tracer("steadyllm")
        meter = metrics.get_meter("steadyllm")
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration"
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per call"
        )

    def open(self, model: str, provider: str, current: bool = True) -> tuple[Any, Any]:
        """A call's span, started now and, with ``current``, made current (so spans the
        application or an instrumented library creates during the call nest under it);
        returns the span and the context token to detach when the call ends."""
        from opentelemetry import context

        span = self.tracer.start_span(
            f"chat {model}",
            kind=self._trace.SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider},
        )
        if not current:
            return span, None
        return span, context.attach(self._trace.set_span_in_context(span))

    @staticmethod
    def detach(token: Any) -> None:
        from opentelemetry import context

        context.detach(token)

    def span(self, name: str, attributes: dict[str, Any]) -> Any:
        """A span made current for the block (``with telemetry.span(...)``): the tool
        loop's ``invoke_agent`` and each ``execute_tool``; chat spans emitted inside
        it become its children."""
        return self.tracer.start_as_current_span(
            name, kind=self._trace.SpanKind.INTERNAL, attributes=attributes
        )

    def configured(self) -> bool:
        """Whether the application installed a tracer or meter provider. Until it
        does, the API hands out proxies whose spans and measurements go nowhere,
        so building them would be pure cost on every call."""
        providers = (self._trace.get_tracer_provider(), self._metrics.get_meter_provider())
        return any("Proxy" not in type(p).__name__ for p in providers)

    def record(
        self,
        record: dict[str, Any],
        start_ns: int,
        end_ns: int,
        events: list[tuple[int, str, dict[str, Any]]],
        attempts: list[tuple[int, int, str, str]] | None = None,
        content: tuple[list[dict[str, Any]], dict[str, Any] | None] | None = None,
        opened: Any = None,
    ) -> None:
        model = record["model"]
        attributes = _span_attributes(record)
        if opened is not None:  # the span opened when the call started (chat)
            span = opened
            span.update_name(f"chat {model}")
            span.set_attributes(attributes)
        else:
            span = self.tracer.start_span(
                f"chat {model}",
                kind=self._trace.SpanKind.CLIENT,
                attributes=attributes,
                start_time=start_ns,
            )
        for when, name, event_attributes in events:
            span.add_event(name, event_attributes, timestamp=when)
        if content is not None:  # LLM_TRACE_CONTENT: the messages, redacted
            from .._core.redact import scrub

            inputs, output = content
            span.set_attribute("gen_ai.input.messages", _json_text(scrub(inputs)))
            if output is not None:
                span.set_attribute("gen_ai.output.messages", _json_text([scrub(output)]))
        self._attempt_spans(self._trace.set_span_in_context(span), attempts or ())
        if not record["success"]:
            span.set_status(
                self._trace.Status(self._trace.StatusCode.ERROR, record.get("error_message") or "")
            )
        span.end(end_time=end_ns)
        self._measure(record, (end_ns - start_ns) / 1e9)

    def _attempt_spans(self, parent: Any, attempts: Sequence[tuple[int, int, str, str]]) -> None:
        """One child span per attempt, under the call's span (``parent``)."""
        for number, (begin, finish, model_id, outcome) in enumerate(attempts, 1):
            provider, _, attempt_model = model_id.partition(":")
            child_attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": attempt_model,
                "steadyllm.attempt": number,
            }
            if outcome != "ok":
                child_attributes["error.type"] = outcome
            child = self.tracer.start_span(
                f"attempt {number} {model_id}",
                context=parent,
                kind=self._trace.SpanKind.CLIENT,
                attributes=child_attributes,
                start_time=begin,
            )
            if outcome not in ("ok", "abandoned"):
                child.set_status(self._trace.Status(self._trace.StatusCode.ERROR, outcome))
            child.end(end_time=finish)

    def _measure(self, record: dict[str, Any], seconds: float) -> None:
        """The call's duration and token metrics."""
        model = record["model"]
        common = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": record["provider"],
            "gen_ai.request.model": model,
        }
        if not record["success"]:
            common["error.type"] = record["error_kind"]
        self.duration.record(seconds, common)
        self.tokens.record(record["prompt_tokens"], {**common, "gen_ai.token.type": "input"})
        self.tokens.record(record["completion_tokens"], {**common, "gen_ai.token.type": "output"})


def _span_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The call span's attributes (GenAI semantic conventions), from its record."""
    model = record["model"]
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": record["provider"],
        "gen_ai.system": record["provider"],
        "gen_ai.request.model": model,
    }
    for key, name in (
        ("temperature", "gen_ai.request.temperature"),
        ("max_tokens", "gen_ai.request.max_tokens"),
    ):
        if record.get(key) is not None:
            attributes[name] = record[key]
    if record.get("request_id"):
        attributes["gen_ai.response.id"] = record["request_id"]
    if record.get("finish_reason"):
        attributes["gen_ai.response.finish_reasons"] = [record["finish_reason"]]
    attributes["gen_ai.response.model"] = model
    attributes["gen_ai.usage.input_tokens"] = record["prompt_tokens"]
    attributes["gen_ai.usage.output_tokens"] = record["completion_tokens"]
    attributes["steadyllm.attempts"] = record["attempts"]
    attributes["steadyllm.requested_model"] = record["requested_model"]
    if record.get("cost_usd") is not None:
        attributes["steadyllm.cost_usd"] = record["cost_usd"]
    if record.get("run_id"):
        attributes["steadyllm.run_id"] = record["run_id"]
    if record.get("agent"):
        attributes["gen_ai.agent.name"] = record["agent"]
    if not record["success"]:
        attributes["error.type"] = record["error_kind"]
    return attributes
