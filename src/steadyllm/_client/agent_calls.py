"""The client's agent calls: the tool loop in both forms and structured output.

``Client`` inherits them; each drives its model turns through ``_turns()``,
the narrow interface of the pipeline (``_agents.loop.Turns``), never through
the client itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from .._core.types import Message, Response
from .plan import CallOptions, LoopOptions, loop_timeout_ms, split_tools

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._agents.loop import OnLimit, ToolRunResult, ToolStream, Turns
    from .._agents.tools import Tool

#: A pydantic model class given to ``chat_json``, whose instance it returns.
M = TypeVar("M", bound="BaseModel")


def _tool_table(
    tools: Sequence[Any],
    handlers: Mapping[str, Callable[..., Any]] | None,
    timeout_ms: float | None,
    opts: dict[str, Any],
) -> dict[str, Tool]:
    """The functions a tool loop runs, by name; the tools the provider runs itself
    (``sl.web_search()``, ...) go in ``opts["tools"]``, offered on every turn."""
    from .._agents.tools import as_tools

    functions, server = split_tools(tools)
    if server:
        opts["tools"] = server
    return as_tools(functions, handlers, timeout_ms)


class AgentCalls:
    def _turns(self) -> Turns:  # pragma: no cover - Client defines it
        raise NotImplementedError

    async def chat_with_tools(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        tools: Sequence[Any],
        handlers: Mapping[str, Callable[..., Any]] | None = None,
        max_iterations: int = 10,
        on_max_iterations: OnLimit = "error",
        tool_timeout_ms: float | None = 30_000,
        **options: Unpack[LoopOptions],
    ) -> ToolRunResult:
        """Call the model, run the tools it asks for (in parallel, sync handlers in a
        thread, each under ``tool_timeout_ms``), send the results back, and repeat
        until it answers without tools. ``tools``: ``sl.Tool``s, typed functions, or
        ``ToolSpec``s with ``handlers`` by name. Tool failures go back to the model as
        error results. After ``max_iterations`` turns: ``ToolLoopError``, or with
        ``on_max_iterations="answer"`` one more turn with tools disabled."""
        from .._agents.loop import chat_with_tools

        opts: dict[str, Any] = dict(options)
        timeout_ms = loop_timeout_ms(tool_timeout_ms, opts)
        return await chat_with_tools(
            self._turns(),
            model,
            messages,
            _tool_table(tools, handlers, timeout_ms, opts),
            max_iterations,
            on_max_iterations,
            opts,
        )

    def stream_with_tools(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        tools: Sequence[Any],
        handlers: Mapping[str, Callable[..., Any]] | None = None,
        max_iterations: int = 10,
        on_max_iterations: OnLimit = "error",
        tool_timeout_ms: float | None = 30_000,
        **options: Unpack[LoopOptions],
    ) -> ToolStream:
        """``chat_with_tools`` as a stream: ``async for event in ...`` yields every turn's
        stream events and a ``ToolExecution`` per tool run; ``.result`` at the end."""
        from .._agents.loop import ToolStream

        opts: dict[str, Any] = dict(options)
        table = _tool_table(tools, handlers, loop_timeout_ms(tool_timeout_ms, opts), opts)
        return ToolStream(
            self._turns(), model, messages, table, max_iterations, on_max_iterations, opts
        )

    @overload
    async def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: type[M],
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> M: ...

    @overload
    async def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any],
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> Any: ...

    async def chat_json(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: Any,
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> Any:
        """A reply parsed and validated against ``schema``: a pydantic model class (an
        instance of it is returned, and typed so) or a JSON Schema dict. Uses the
        provider's native structured output; invalid output is sent back with its
        errors up to ``max_repairs`` times, then ``StructuredOutputError``."""
        from .._agents.structured import chat_json

        value, _ = await chat_json(
            self._turns(), model, messages, schema, max_repairs, dict(options)
        )
        return value

    async def chat_json_response(
        self,
        model: str | None,
        messages: Sequence[Message],
        *,
        schema: Any,
        max_repairs: int = 2,
        **options: Unpack[CallOptions],
    ) -> tuple[Any, Response]:
        """``chat_json`` that also returns the Response (usage, cost, ``validation``;
        ``response.parsed`` holds the value too)."""
        from .._agents.structured import chat_json

        return await chat_json(self._turns(), model, messages, schema, max_repairs, dict(options))
