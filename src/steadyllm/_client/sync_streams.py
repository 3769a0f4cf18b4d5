"""The synchronous views of a stream and a streaming tool loop: each step runs on
the owning ``SyncClient``'s loop thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, TypeVar

from .._agents.tools import ToolExecution
from .._core.types import Response, StreamEvent

if TYPE_CHECKING:
    from .._agents.loop import ToolRunResult, ToolStream
    from .stream import ChatStream
    from .sync import SyncClient

T = TypeVar("T")


class SyncChatStream:
    def __init__(self, owner: SyncClient, stream: ChatStream) -> None:
        self._owner = owner
        self._stream = stream

    def __enter__(self) -> SyncChatStream:
        self._owner._run(self._stream.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._owner._run(self._stream.__aexit__(*exc))

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return self._owner._run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    @property
    def response(self) -> Response:
        return self._stream.response

    def partial(self) -> Response:
        return self._stream.partial()

    def final_response(self) -> Response:
        return self._owner._run(self._stream.final_response())


class SyncToolStream:
    """``with client.stream_with_tools(...) as s: for event in s``; leaving the ``with``
    early closes the turn's stream at once."""

    def __init__(self, owner: SyncClient, stream: ToolStream) -> None:
        self._owner = owner
        self._stream = stream

    def __enter__(self) -> SyncToolStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._owner._run(self._stream.aclose())

    def __iter__(self) -> Iterator[StreamEvent | ToolExecution]:
        return self

    def __next__(self) -> StreamEvent | ToolExecution:
        try:
            return self._owner._run(_anext(self._stream))
        except StopAsyncIteration:
            raise StopIteration from None

    @property
    def result(self) -> ToolRunResult:
        return self._stream.result


async def _anext(iterator: AsyncIterator[T]) -> T:
    return await iterator.__anext__()
