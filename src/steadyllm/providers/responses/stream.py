"""OpenAI Responses API stream events -> ProviderEvents. Pure.

The stream is typed (every event's ``type`` says what it is): text, refusal
and reasoning-summary deltas become their deltas; function calls are
reassembled by output index (the call id and name from
``response.output_item.added``, the arguments from
``response.function_call_arguments.delta``); each finished output item
(``response.output_item.done``) becomes a ``PartDone``, in output order (an
item that finishes before an earlier one waits for it), so the streamed reply
keeps its reasoning items and built-in tool items exactly as a whole one
does. Items the stream announced but never finished (MCP tool listings do
this) are taken from the final response. ``response.completed`` or
``response.incomplete`` ends the stream with usage; ``response.failed`` and
``error`` are raised, classified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import StreamInterruptedError
from ..._core.parts import citation_from
from ..._core.types import (
    CitationDelta,
    Done,
    PartDone,
    ProviderEvent,
    ReasoningDelta,
    RefusalDelta,
    Request,
    ResponseMeta,
    TextDelta,
    ToolCallDelta,
)
from ..._http.headers import openai_rate_limit
from ...sse import ServerSentEvent
from .._common import snippet
from ..openai.dialect import Dialect
from .decode import Output, add_item, failure, finish_of, function_call, usage_from


class StreamDecoder:
    """Turns the SSE events of one Responses stream into ProviderEvents."""

    __slots__ = (
        "_argued",
        "_calls",
        "_dialect",
        "_finished",
        "_meta_sent",
        "_model",
        "_next",
        "_reason_key",
        "_refused",
        "done",
        "headers",
    )

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self.headers = headers
        self.done = False
        self._meta_sent = False
        #: output index -> number of the tool call (0, 1, ...), in the order they came.
        self._calls: dict[int, int] = {}
        #: Output indexes whose arguments came as deltas.
        self._argued: set[int] = set()
        self._refused = False
        #: (item, summary) of the last reasoning delta: a new one starts a new paragraph.
        self._reason_key: tuple[Any, Any] | None = None
        #: Finished output items not sent yet (by output index), and the next to send.
        self._finished: dict[int, list[ProviderEvent]] = {}
        self._next = 0

    @property
    def _where(self) -> dict[str, str]:
        return {"provider": self._dialect.provider, "model": self._model}

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]:
        if sse.data.startswith("[DONE]"):  # OpenRouter ends its Responses streams so
            return []
        try:
            event = _json.loads(sse.data)
        except ValueError:
            raise self.interrupted(
                f"malformed JSON in a stream event: {snippet(sse.data.encode())}"
            ) from None
        if not isinstance(event, dict):
            raise self.interrupted("a stream event is not a JSON object")
        kind = event.get("type") or sse.event
        handle = _HANDLERS.get(str(kind))
        return handle(self, event) if handle is not None else []

    def end(self) -> list[ProviderEvent]:
        if self.done:
            return []
        raise self.interrupted("the stream ended before response.completed")

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self._dialect.provider} stream interrupted: {why}", **self._where
        )

    # ------------------------------------------------------------ events

    def _created(self, event: dict[str, Any]) -> list[ProviderEvent]:
        if self._meta_sent:
            return []
        self._meta_sent = True
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        rid = response.get("id") if isinstance(response.get("id"), str) else None
        return [
            ResponseMeta(
                request_id=self.headers.get("x-request-id") or rid,
                model=response.get("model") if isinstance(response.get("model"), str) else None,
                response_id=rid,
                rate_limit=openai_rate_limit(self.headers),
            )
        ]

    def _number(self, index: Any) -> int:
        """The tool-call number of output ``index``, given on first sight."""
        key = int(index) if isinstance(index, int) else -1
        if key not in self._calls:
            self._calls[key] = len(self._calls)
        return self._calls[key]

    def _added(self, event: dict[str, Any]) -> list[ProviderEvent]:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return []
        call = function_call(item)
        number = self._number(event.get("output_index"))
        return [ToolCallDelta(number, id=call.id or None, name=call.name or None)]

    def _arguments(self, event: dict[str, Any]) -> list[ProviderEvent]:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        self._argued.add(event.get("output_index", -1))
        return [ToolCallDelta(self._number(event.get("output_index")), arguments=delta)]

    def _item_done(self, event: dict[str, Any]) -> list[ProviderEvent]:
        index = event.get("output_index")
        index = index if isinstance(index, int) else self._next
        self._finished[index] = self._item_events(index, event.get("item"))
        return self._flush()

    def _item_events(self, index: int, item: Any) -> list[ProviderEvent]:
        """What a finished item adds: its parts, or a call's id, name and arguments
        when no deltas brought them (the whole call in one event)."""
        if isinstance(item, dict) and item.get("type") == "function_call":
            if index in self._argued:
                return []
            call = function_call(item)
            return [ToolCallDelta(self._number(index), call.id or None, call.name, call.arguments)]
        out = Output()
        add_item(out, item, self._where)
        self._refused = self._refused or any(out.refusal)
        return [PartDone(part) for part in out.parts]

    def _flush(self) -> list[ProviderEvent]:
        """The finished items whose earlier items have all finished, in order."""
        events: list[ProviderEvent] = []
        while self._next in self._finished:
            events += self._finished.pop(self._next)
            self._next += 1
        return events

    def _backfill(self, output: Any) -> list[ProviderEvent]:
        """Every item not yet sent, from the final response's ``output``, in order."""
        items = output if isinstance(output, list) else []
        for index in range(self._next, len(items)):
            if index not in self._finished:
                self._finished[index] = self._item_events(index, items[index])
        events = self._flush()
        for index in sorted(self._finished):  # beyond the final output: keep, in order
            events += self._finished.pop(index)
        return events

    def _text(self, event: dict[str, Any]) -> list[ProviderEvent]:
        delta = event.get("delta")
        return [TextDelta(delta)] if isinstance(delta, str) and delta else []

    def _refusal(self, event: dict[str, Any]) -> list[ProviderEvent]:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        self._refused = True
        return [RefusalDelta(delta)]

    def _reasoning(self, event: dict[str, Any]) -> list[ProviderEvent]:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        key = (event.get("item_id"), event.get("summary_index", event.get("content_index")))
        events: list[ProviderEvent] = []
        if self._reason_key is not None and key != self._reason_key:
            events.append(ReasoningDelta("\n\n"))  # as a whole reply joins its summaries
        self._reason_key = key
        events.append(ReasoningDelta(delta))
        return events

    def _annotation(self, event: dict[str, Any]) -> list[ProviderEvent]:
        annotation = event.get("annotation")
        if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
            return []
        return [CitationDelta(citation_from(annotation))]

    def _completed(self, event: dict[str, Any]) -> list[ProviderEvent]:
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        self.done = True
        events = self._backfill(response.get("output"))
        usage = usage_from(response.get("usage"), self._where)
        if usage is not None:
            events.append(usage)
        if isinstance(response.get("service_tier"), str):
            events.append(ResponseMeta(service_tier=response["service_tier"]))
        events.append(Done(finish_of(response, bool(self._calls), self._refused)))
        return events

    def _failed(self, event: dict[str, Any]) -> list[ProviderEvent]:
        response = event.get("response")
        raise failure(
            response if isinstance(response, dict) else event,
            self.headers,
            self._dialect,
            self._model,
        )

    def _error(self, event: dict[str, Any]) -> list[ProviderEvent]:
        raise failure(event, self.headers, self._dialect, self._model)


_HANDLERS: dict[str, Callable[[StreamDecoder, dict[str, Any]], list[ProviderEvent]]] = {
    "response.created": StreamDecoder._created,
    "response.in_progress": StreamDecoder._created,
    "response.output_item.added": StreamDecoder._added,
    "response.function_call_arguments.delta": StreamDecoder._arguments,
    "response.output_item.done": StreamDecoder._item_done,
    "response.output_text.delta": StreamDecoder._text,
    "response.output_text.annotation.added": StreamDecoder._annotation,
    "response.refusal.delta": StreamDecoder._refusal,
    "response.reasoning_summary_text.delta": StreamDecoder._reasoning,
    "response.reasoning_text.delta": StreamDecoder._reasoning,
    "response.completed": StreamDecoder._completed,
    "response.incomplete": StreamDecoder._completed,
    "response.failed": StreamDecoder._failed,
    "error": StreamDecoder._error,
}
