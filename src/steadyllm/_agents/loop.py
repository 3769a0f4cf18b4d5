"""The tool-calling loop, in both forms (``chat_with_tools`` and the streaming
``ToolStream``).

It drives model turns through ``Turns``, the narrow interface the client hands
it (one turn, complete or streamed, through the whole pipeline), so every
turn gets retries, breakers, limits, fallbacks, budgets, costs and logs, and
this layer never sees the client itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._core.errors import ToolLoopError
from .._core.redact import get_logger
from .._core.types import Message, Response, StreamEvent, ToolCall, Usage, tool_result
from .tools import Tool, ToolExecution, parse_arguments, result_text

if TYPE_CHECKING:
    from .._client.stream import ChatStream
    from .._core.clock import Clock
    from .._metering.otel import Telemetry


logger = get_logger("steadyllm")


OnLimit = Literal["error", "answer"]


Validate = Callable[[Response], None]


ChatTurn = Callable[
    [str | None, Sequence[Message], Validate | None, dict[str, Any]], Awaitable[Response]
]


@dataclass(frozen=True, slots=True)
class Turns:
    """What the tool loop and structured output need of a client, and no more."""

    #: One complete turn: ``chat(model, messages, validate, options)`` (``validate``
    #: checks the reply before it is logged; options as for ``Client.chat``).
    chat: ChatTurn
    #: One streamed turn: ``stream(model, messages, options)``.
    stream: Callable[[str | None, Sequence[Message], dict[str, Any]], ChatStream]
    clock: Clock
    #: The deadline of a call that sets no ``timeout_ms`` (LLM_TIMEOUT_MS).
    timeout_ms: int
    #: The OpenTelemetry recorder, once tracing is set up.
    telemetry: Callable[[], Telemetry | None]


@dataclass
class ToolRunResult:
    """A finished tool loop: the last reply, every tool execution, the history, and totals."""

    response: Response
    executions: list[ToolExecution] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    iterations: int = 0

    @property
    def text(self) -> str:
        return self.response.text


def _span(telemetry: Telemetry | None, name: str, attributes: dict[str, Any]) -> Any:
    """An OpenTelemetry span made current for a block, when tracing is set up."""
    if telemetry is None:
        return contextlib.nullcontext(None)
    return telemetry.span(name, attributes)


async def _execute(
    tools: Mapping[str, Tool], call: ToolCall, iteration: int, telemetry: Telemetry | None = None
) -> ToolExecution:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
    }
    with _span(telemetry, f"execute_tool {call.name}", attributes) as span:
        execution = await _run_tool(tools, call, iteration)
        if span is not None and execution.error is not None:
            span.set_attribute("error.type", "tool_error")
        return execution


async def _run_tool(tools: Mapping[str, Tool], call: ToolCall, iteration: int) -> ToolExecution:
    found = tools.get(call.name)
    if found is None:
        return ToolExecution(
            call,
            call.arguments,
            None,
            f"unknown tool {call.name!r}; available tools: {', '.join(sorted(tools)) or 'none'}",
            0.0,
            iteration,
        )
    arguments, problem = parse_arguments(call)
    if problem is not None:
        return ToolExecution(call, arguments, None, problem, 0.0, iteration)
    return await found.run(call, arguments, iteration)


async def _run_turn(
    tools: Mapping[str, Tool],
    response: Response,
    history: list[Message],
    executions: list[ToolExecution],
    iteration: int,
    telemetry: Telemetry | None = None,
) -> list[ToolExecution]:
    history.append(response.message)
    done = await asyncio.gather(
        *(_execute(tools, c, iteration, telemetry) for c in response.tool_calls)
    )
    for ex in done:  # results go back in the order the model asked, whatever order they finished
        if ex.error is not None:
            logger.info("tool %s failed (sent back to the model): %s", ex.call.name, ex.error)
        history.append(tool_result(ex.call.id, result_text(ex), is_error=ex.error is not None))
    executions.extend(done)
    return list(done)


def _limit_error(max_iterations: int, result: ToolRunResult) -> ToolLoopError:
    return ToolLoopError(
        f"the model was still calling tools after max_iterations={max_iterations}; raise "
        "max_iterations, or pass on_max_iterations='answer' to ask for a final answer instead",
        provider=result.response.provider,
        model=result.response.model,
        result=result,
    )


def check_iterations(max_iterations: object) -> None:
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 1
    ):
        from .._core.errors import InvalidRequestError

        raise InvalidRequestError(f"max_iterations={max_iterations!r} must be at least 1")


async def _model_turn(
    turns: Turns,
    model: str | None,
    history: list[Message],
    options: dict[str, Any],
    answer: list[Response],
    *,
    stream: bool,
) -> AsyncGenerator[StreamEvent, None]:
    """One model turn: its stream events (``stream``), then its response in ``answer``."""
    if not stream:
        answer.append(await turns.chat(model, history, None, options))
        return
    async with turns.stream(model, history, options) as s:
        async for event in s:
            yield event
    answer.append(s.response)


async def tool_loop(
    turns: Turns,
    model: str | None,
    history: list[Message],
    table: Mapping[str, Tool],
    max_iterations: int,
    on_max_iterations: OnLimit,
    options: dict[str, Any],
    result: ToolRunResult,
    *,
    stream: bool,
) -> AsyncGenerator[StreamEvent | ToolExecution, None]:
    """The tool loop, once for both forms: call the model (``stream``: yield its events),
    run the tools it asks for and yield each execution, repeat. After
    ``max_iterations`` turns with tool calls: ``ToolLoopError``, or with
    ``on_max_iterations="answer"`` one more turn with tools disabled."""
    # options' own tools are the provider-run ones (sl.web_search(), ...), offered
    # on every turn beside the functions of the table
    offered = [*(t.spec for t in table.values()), *options.get("tools", ())]
    telemetry = turns.telemetry()
    context = options.get("context")
    agent = getattr(context, "agent", None) or str(model or "agent")
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
    with _span(telemetry, f"invoke_agent {agent}", attributes):
        for iteration in range(1, max_iterations + 2):
            final = iteration > max_iterations
            if final and on_max_iterations == "error":
                raise _limit_error(max_iterations, result)
            turn: dict[str, Any] = {**options, "tools": offered}
            if final:
                turn["tool_choice"] = "none"
            answer: list[Response] = []
            # aclosing: a loop left early closes the turn's stream now, not at collection.
            turn_events = _model_turn(turns, model, history, turn, answer, stream=stream)
            async with contextlib.aclosing(turn_events) as events:
                async for event in events:
                    yield event
            response = answer[0]
            result.response, result.iterations = response, min(iteration, max_iterations)
            result.usage = result.usage + response.usage
            if final or not response.tool_calls:
                history.append(response.message)
                return
            done = await _run_turn(
                table, response, history, result.executions, iteration, telemetry
            )
            for execution in done:
                yield execution


async def chat_with_tools(
    turns: Turns,
    model: str | None,
    messages: Sequence[Message],
    table: Mapping[str, Tool],
    max_iterations: int,
    on_max_iterations: OnLimit,
    options: dict[str, Any],
) -> ToolRunResult:
    check_iterations(max_iterations)
    history = list(messages)
    result = ToolRunResult(Response(), messages=history)
    loop = tool_loop(
        turns,
        model,
        history,
        table,
        max_iterations,
        on_max_iterations,
        options,
        result,
        stream=False,
    )
    async for _ in loop:  # executions only: the non-streaming form yields no events
        pass
    return result


class ToolStream:
    """``async with client.stream_with_tools(...) as s: async for event in s``: the
    stream events of every model turn, and a ``ToolExecution`` for each tool run
    between turns; ``result`` holds the ``ToolRunResult`` once the loop is over.
    Leaving the ``async with`` early (a ``break``) closes the turn's stream at once:
    its connection, rate-limit and budget holds are released and the turn is booked."""

    def __init__(
        self,
        turns: Turns,
        model: str | None,
        messages: Sequence[Message],
        table: Mapping[str, Tool],
        max_iterations: int,
        on_max_iterations: OnLimit,
        options: dict[str, Any],
    ) -> None:
        check_iterations(max_iterations)
        self._history = list(messages)
        self._result = ToolRunResult(Response(), messages=self._history)
        self._finished = False
        self._loop = tool_loop(
            turns,
            model,
            self._history,
            table,
            max_iterations,
            on_max_iterations,
            options,
            self._result,
            stream=True,
        )

    @property
    def result(self) -> ToolRunResult:
        if not self._finished:
            raise RuntimeError("the tool loop has not finished; iterate it to the end first")
        return self._result

    async def __aenter__(self) -> ToolStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the loop now (its current stream is closed and booked). Safe to repeat."""
        await self._loop.aclose()

    def __aiter__(self) -> ToolStream:
        return self

    async def __anext__(self) -> StreamEvent | ToolExecution:
        try:
            return await self._loop.__anext__()
        except StopAsyncIteration:
            self._finished = True
            raise
