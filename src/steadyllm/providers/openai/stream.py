"""Chat Completions SSE events -> ProviderEvents (spec/wire-protocols.md §3). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..._core import fastjson as _json
from ..._core.errors import InvalidResponseError, StreamInterruptedError
from ..._core.types import (
    CitationDelta,
    Done,
    FinishReason,
    LogprobsDelta,
    ProviderEvent,
    ReasoningDelta,
    RefusalDelta,
    Request,
    ResponseMeta,
    TextDelta,
    ToolCallDelta,
)
from ..._core.usage import content_filter_results, prompt_filter_results
from ..._http.headers import openai_rate_limit
from ...sse import ServerSentEvent
from .._common import snippet, split_thinking, text_of
from .decode import (
    error_from_body,
    normalize_finish,
    opt_text,
    refused_finish,
    usage_from,
)
from .dialect import Dialect
from .extras import citations_of, details_text, logprobs_of, merge_details


class StreamDecoder:
    """Turns the SSE events of one completion into ProviderEvents (choice 0)."""

    __slots__ = (
        "_details",
        "_dialect",
        "_last_index",
        "_meta_sent",
        "_model",
        "_refused",
        "done",
        "finish",
        "headers",
    )

    def __init__(self, request: Request, dialect: Dialect, headers: Mapping[str, str]) -> None:
        self._dialect = dialect
        self._model = request.model
        self.headers = headers
        self.finish: FinishReason | None = None
        self.done = False
        self._meta_sent = False
        self._last_index = -1
        self._refused = False
        #: ``reasoning_details`` pieces, merged by index (OpenRouter).
        self._details: dict[int, dict[str, Any]] = {}

    def feed(self, sse: ServerSentEvent) -> list[ProviderEvent]:
        data = sse.data
        if data.startswith("[DONE]"):
            self.done = True
            # [DONE] is the server's own end of the stream: complete, even from a
            # server that never names a finish reason (Snowflake Cortex, some Groq
            # models); the reason is then unknown, not an interruption.
            return [*self._reasoning_item(), Done(self._finish() or "unknown")]
        try:
            chunk = _json.loads(data)
        except ValueError:
            raise self.interrupted(
                f"malformed JSON in a stream event: {snippet(data.encode())}"
            ) from None
        if not isinstance(chunk, dict):
            raise self.interrupted("a stream event is not a JSON object")
        if chunk.get("error"):
            raise error_from_body(None, self.headers, chunk, self._dialect, self._model)
        events: list[ProviderEvent] = []
        verdicts = prompt_filter_results(chunk.get("prompt_filter_results"))
        if verdicts:  # Azure's first chunk: no choices, the prompt's verdicts
            events.append(ResponseMeta(content_filter=verdicts))
        if not self._meta_sent and (chunk.get("id") or chunk.get("model")):
            self._meta_sent = True
            events.append(
                ResponseMeta(
                    self.headers.get("x-request-id") or chunk.get("id") or None,
                    chunk.get("model") or None,
                    openai_rate_limit(self.headers),
                    system_fingerprint=opt_text(chunk.get("system_fingerprint")),
                    service_tier=opt_text(chunk.get("service_tier")),
                )
            )
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise self.shape("choices is not a list")
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("error"):
                raise error_from_body(None, self.headers, choice, self._dialect, self._model)
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise self.shape(f"a stream delta is {type(delta).__name__}, not an object")
            events.extend(self._delta(delta))
            verdicts = content_filter_results(choice.get("content_filter_results"), "completion")
            if verdicts:
                events.append(ResponseMeta(content_filter=verdicts))
            if choice.get("logprobs") is not None:
                where = {"provider": self._dialect.provider, "model": self._model}
                tokens = logprobs_of(choice["logprobs"], **where)
                if tokens:
                    events.append(LogprobsDelta(tokens))
            if choice.get("finish_reason") is not None:
                self.finish = normalize_finish(choice["finish_reason"])
        usage = usage_from(chunk.get("usage"), self._dialect.provider, self._model)
        if usage is not None:
            events.append(usage)
        return events

    def _delta(self, delta: dict[str, Any]) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        where = {"provider": self._dialect.provider, "model": self._model}
        content, thought = split_thinking(delta.get("content"), **where)
        if delta.get("reasoning_details") is not None:
            merge_details(self._details, delta["reasoning_details"])
        reasoning = (
            delta.get("reasoning")
            or delta.get("reasoning_content")
            or details_text(delta.get("reasoning_details"))
            or thought
        )
        if reasoning:
            events.append(ReasoningDelta(text_of(reasoning, "a reasoning delta", **where)))
        if content:
            events.append(TextDelta(text_of(content, "a content delta", **where)))
        if delta.get("refusal"):
            self._refused = True
            events.append(RefusalDelta(text_of(delta["refusal"], "a refusal delta", **where)))
        if delta.get("annotations") is not None:
            events.extend(map(CitationDelta, citations_of(delta["annotations"], **where)))
        calls = delta.get("tool_calls") or []
        if not isinstance(calls, list):
            raise self.shape("a delta's tool_calls is not a list")
        for call in calls:
            if not isinstance(call, dict):
                raise self.shape("a tool call delta is not an object")
            events.append(self._tool_delta(call))
        return events

    def shape(self, why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"{self._dialect.provider} sent a stream event of an unexpected shape: {why}",
            provider=self._dialect.provider,
            model=self._model,
        )

    def _tool_delta(self, call: dict[str, Any]) -> ToolCallDelta:
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise self.shape("a tool call's function is not an object")
        index = call.get("index")
        if not isinstance(index, int):  # defensive: a server that omits the index
            index = self._last_index + 1 if call.get("id") else max(self._last_index, 0)
        self._last_index = index
        arguments = function.get("arguments")
        return ToolCallDelta(
            index,
            id=call.get("id") or None,
            name=function.get("name") or None,
            arguments=arguments
            if isinstance(arguments, str)
            else (json.dumps(arguments) if arguments is not None else ""),
        )

    def end(self) -> list[ProviderEvent]:
        """End of body without ``[DONE]``: fine if the choice finished, else a cut stream."""
        if self.done:
            return []
        if self.finish is not None:
            return [*self._reasoning_item(), Done(self._finish() or "stop")]
        raise self.interrupted("the stream ended before the completion finished")

    def _reasoning_item(self) -> list[ProviderEvent]:
        if not self._details:
            return []
        details = [self._details[i] for i in sorted(self._details)]
        item = {"reasoning_details": details, "provider": self._dialect.provider}
        return [ResponseMeta(reasoning_item=item)]

    def _finish(self) -> FinishReason | None:
        return None if self.finish is None else refused_finish(self.finish, self._refused)

    def interrupted(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self._dialect.provider} stream interrupted: {why}",
            provider=self._dialect.provider,
            model=self._model,
        )
