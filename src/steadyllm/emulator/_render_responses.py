"""The OpenAI Responses API's bodies and typed SSE events, as the API sends them
(a response object with ``output`` items; ``response.*`` events each carrying
its ``type`` and a ``sequence_number``)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from .._core.chunking import split_text
from ._behavior import Behavior
from ._frames import Quiet, sse
from ._render import OpenAIRender, _thirds
from ._reply import Reply

#: Our finish reasons that end a response ``incomplete``, and the reason given.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ResponsesRender:
    """Renders a reply (its reasoning item, if the handler made one, goes first)."""

    def __init__(self) -> None:
        self._errors = OpenAIRender()  # error bodies are Chat Completions' own

    def usage(self, r: Reply) -> dict[str, Any]:
        return {
            "input_tokens": r.prompt_tokens,
            "input_tokens_details": {"cached_tokens": r.cached_tokens},
            "output_tokens": r.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": r.reasoning_tokens},
            "total_tokens": r.prompt_tokens + r.completion_tokens,
        }

    def _message(self, r: Reply, status: str = "completed") -> dict[str, Any]:
        content: dict[str, Any] = (
            {"type": "refusal", "refusal": r.text}
            if r.finish == "refusal"
            else {"type": "output_text", "text": r.text, "annotations": [], "logprobs": []}
        )
        return {
            "id": f"msg_{r.id[5:]}",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [content],
        }

    @staticmethod
    def _call(index: int, call: tuple[str, str, str], r: Reply) -> dict[str, Any]:
        call_id, name, arguments = call
        return {
            "id": f"fc_{index}{r.id[5:17]}",
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        }

    def output(self, r: Reply) -> list[dict[str, Any]]:
        items = [r.reasoning_item] if r.reasoning_item else []
        items += r.builtin_items
        if r.text:
            items.append(self._message(r))
        items += [self._call(i, c, r) for i, c in enumerate(r.tool_calls)]
        return items

    def completion(self, r: Reply, output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        reason = _INCOMPLETE.get(r.finish)
        return {
            "id": r.id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if reason else "completed",
            "error": None,
            "incomplete_details": {"reason": reason} if reason else None,
            "model": r.model,
            "output": self.output(r) if output is None else output,
            "parallel_tool_calls": True,
            "service_tier": r.service_tier,
            "store": False,
            "usage": self.usage(r),
        }

    # ------------------------------------------------------------ streams

    def stream(
        self, r: Reply, behavior: Behavior, include_usage: bool
    ) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """(head, content, tail) frames: the content frames are the deltas."""
        seq = itertools.count()

        def event(kind: str, quiet: bool = False, **fields: Any) -> bytes:
            frame = sse({"type": kind, "sequence_number": next(seq), **fields}, kind)
            return Quiet(frame) if quiet else frame

        shell = {**self.completion(r, []), "status": "in_progress", "usage": None}
        head = [
            event("response.created", response=shell),
            event("response.in_progress", True, response=shell),
        ]
        content: list[bytes] = []
        index = 0
        if r.reasoning_item:
            content += self._reasoning_events(event, r.reasoning_item, index)
            index += 1
        for item in r.builtin_items:
            content += self._builtin_events(event, item, index)
            index += 1
        if r.text:
            content += self._message_events(event, r, behavior, index)
            index += 1
        for number, call in enumerate(r.tool_calls):
            content += self._call_events(event, self._call(number, call, r), index)
            index += 1
        kind = "response.incomplete" if r.finish in _INCOMPLETE else "response.completed"
        return head, content, [event(kind, response=self.completion(r))]

    def _reasoning_events(self, event: Any, item: dict[str, Any], index: int) -> list[bytes]:
        frames = [event("response.output_item.added", True, output_index=index, item=item)]
        for number, summary in enumerate(item.get("summary") or ()):
            where = {"item_id": item["id"], "output_index": index, "summary_index": number}
            part = {"type": "summary_text", "text": ""}
            frames.append(event("response.reasoning_summary_part.added", True, **where, part=part))
            for piece in split_text(summary["text"], 2):
                frames.append(event("response.reasoning_summary_text.delta", **where, delta=piece))
            frames.append(
                event("response.reasoning_summary_text.done", True, **where, text=summary["text"])
            )
        frames.append(event("response.output_item.done", True, output_index=index, item=item))
        return frames

    def _builtin_events(self, event: Any, item: dict[str, Any], index: int) -> list[bytes]:
        """A built-in tool's item: added in progress, its progress events (as the
        API names them, ``response.web_search_call.searching``...), then done."""
        kind = item["type"]
        steps = ("in_progress", "searching" if kind == "web_search_call" else "interpreting")
        started = {"id": item["id"], "type": kind, "status": "in_progress"}
        if kind == "code_interpreter_call":
            started |= {"code": None, "container_id": item["container_id"], "outputs": None}
        where = {"output_index": index, "item_id": item["id"]}
        frames = [event("response.output_item.added", True, output_index=index, item=started)]
        frames += [event(f"response.{kind}.{step}", True, **where) for step in steps]
        frames.append(event(f"response.{kind}.completed", True, **where))
        frames.append(event("response.output_item.done", output_index=index, item=item))
        return frames

    def _message_events(self, event: Any, r: Reply, behavior: Behavior, index: int) -> list[bytes]:
        item = self._message(r)
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        empty = {**item, "status": "in_progress", "content": []}
        frames = [event("response.output_item.added", True, output_index=index, item=empty)]
        refused = r.finish == "refusal"
        start = (
            {"type": "refusal", "refusal": ""} if refused else {"type": "output_text", "text": ""}
        )
        frames.append(event("response.content_part.added", True, **where, part=start))
        kind = "response.refusal.delta" if refused else "response.output_text.delta"
        for piece in split_text(r.text, behavior.chunks):
            frames.append(event(kind, **where, delta=piece))
        done = "response.refusal.done" if refused else "response.output_text.done"
        frames.append(
            event(done, True, **where, **({"refusal": r.text} if refused else {"text": r.text}))
        )
        frames.append(event("response.content_part.done", True, **where, part=item["content"][0]))
        frames.append(event("response.output_item.done", True, output_index=index, item=item))
        return frames

    def _call_events(self, event: Any, item: dict[str, Any], index: int) -> list[bytes]:
        where = {"item_id": item["id"], "output_index": index}
        started = {**item, "status": "in_progress", "arguments": ""}
        frames = [event("response.output_item.added", output_index=index, item=started)]
        for piece in _thirds(item["arguments"]):
            frames.append(event("response.function_call_arguments.delta", **where, delta=piece))
        args = item["arguments"]
        frames.append(event("response.function_call_arguments.done", True, **where, arguments=args))
        frames.append(event("response.output_item.done", True, output_index=index, item=item))
        return frames

    # ------------------------------------------------------------ errors

    def error_body(self, status: int, fault: str | None, message: str) -> dict[str, Any]:
        return self._errors.error_body(status, fault, message)

    def error_event(self, message: str, error_type: str | None) -> bytes:
        code = error_type or "server_error"
        body = {"type": "error", "code": code, "message": message, "param": None}
        return sse({**body, "sequence_number": 0}, "error")
