"""``:streamGenerateContent?alt=sse`` events -> ProviderEvents. Pure.

Each event is a whole ``GenerateContentResponse`` holding the next parts of
candidate 0: text becomes ``TextDelta``s, thought summaries ``ReasoningDelta``s,
a function call (always whole) a ``ToolCallDelta`` with its signature. The
chunk that names a ``finishReason`` ends the stream, with the last
``usageMetadata`` seen; the reply's parts (thoughts, signatures, code
execution) are sent then, in order, joined as a whole reply joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import StreamInterruptedError
from ..._core.types import (
    Done,
    PartDone,
    ProviderEvent,
    ReasoningDelta,
    Request,
    ResponseMeta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ...sse import ServerSentEvent
from .._common import snippet
from .decode import Reading, candidate_of, finish_of, ratings, usage_from
from .dialect import Dialect


class StreamDecoder:
    __slots__ = ("_dialect", "_meta_sent", "_model", "_reading", "_usage", "done", "headers")

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self.headers = headers
        self.done = False
        self._meta_sent = False
        self._reading = Reading()
        self._usage: Usage | None = None

    @property
    def _where(self) -> dict[str, str]:
        return {"provider": self._dialect.provider, "model": self._model}

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self._dialect.provider} stream interrupted: {why}", **self._where
        )

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]:
        try:
            chunk = _json.loads(sse.data)
        except ValueError:
            raise self.interrupted(
                f"malformed JSON in a stream event: {snippet(sse.data.encode())}"
            ) from None
        if not isinstance(chunk, dict):
            raise self.interrupted("a stream event is not a JSON object")
        events: list[ProviderEvent] = []
        if not self._meta_sent:
            self._meta_sent = True
            rid = chunk.get("responseId") if isinstance(chunk.get("responseId"), str) else None
            version = chunk.get("modelVersion")
            model = version if isinstance(version, str) else None
            request_id = self.headers.get("x-request-id") or rid
            events.append(ResponseMeta(request_id=request_id, model=model, response_id=rid))
        self._usage = usage_from(chunk.get("usageMetadata"), self._where) or self._usage
        candidate = candidate_of(chunk, self._dialect, self._model)
        if candidate is None:
            return events
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for raw in parts or ():
            events += self._deltas(raw)
        finish = candidate.get("finishReason")
        if finish is not None:
            events += self._end(finish, candidate)
        return events

    def _deltas(self, raw: Any) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        for added in self._reading.add(raw, self._where):
            if isinstance(added, ToolCall):
                index = len(self._reading.calls) - 1
                events.append(
                    ToolCallDelta(index, added.id, added.name, added.arguments, added.signature)
                )
            elif added[1]:
                kind, piece = added
                events.append(TextDelta(piece) if kind == "text" else ReasoningDelta(piece))
        return events

    def _end(self, finish: Any, candidate: dict[str, Any]) -> list[ProviderEvent]:
        self.done = True
        events: list[ProviderEvent] = [PartDone(p) for p in self._reading.reply_parts()]
        verdicts = ratings(candidate.get("safetyRatings"), "completion")
        if verdicts:
            events.append(ResponseMeta(content_filter=verdicts))
        if self._usage is not None:
            events.append(self._usage)
        events.append(Done(finish_of(finish, bool(self._reading.calls))))
        return events

    def end(self) -> list[ProviderEvent]:
        if self.done:
            return []
        raise self.interrupted("the stream ended before a finishReason")
