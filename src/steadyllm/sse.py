"""An incremental server-sent-events decoder that follows the WHATWG rules.

Feed it raw bytes as they arrive, split anywhere (inside a field name, inside
a CRLF pair, inside a multi-byte UTF-8 character, one byte at a time)::

    decoder = SSEDecoder()
    for chunk in body_chunks:
        for event in decoder.feed(chunk):
            print(event.event, event.data, event.id)
    decoder.close()   # end of stream: an unterminated event is discarded

Rules (HTML "event stream interpretation"): a UTF-8 BOM at the very start is
dropped; invalid UTF-8 becomes U+FFFD; lines end at CRLF, LF or CR (a CR at
the end of one chunk and an LF at the start of the next are one line end);
``:`` starts a comment; the field name is everything before the first colon
and one leading space is stripped from the value; ``data`` appends a line,
``event`` sets the type, ``id`` sets the last event id (unless it contains
NUL) and persists across events, ``retry`` takes ASCII digits only; a blank
line dispatches, but only if some data was buffered.
"""

from __future__ import annotations

import re

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")


class ServerSentEvent:
    """One dispatched event. ``event`` is "message" when the stream set no type;
    ``id`` is the last event id in force ("" when never set)."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self, data: str, event: str = "message", id: str = "", retry: int | None = None
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        #: The reconnection time (ms) in force when this event was dispatched.
        self.retry = retry

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerSentEvent) and (self.event, self.data, self.id) == (
            other.event,
            other.data,
            other.id,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable value object


class SSEDecoder:
    """Bytes in, events out. One decoder per stream."""

    __slots__ = ("_buffer", "_data", "_event", "_last_id", "_skip_lf", "_start", "retry")

    def __init__(self) -> None:
        self._buffer = b""
        self._start = True  # still looking for a BOM at the start of the body
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF is its pair
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        #: The last valid ``retry`` value seen (ms), or None.
        self.retry: int | None = None

    @property
    def last_event_id(self) -> str:
        return self._last_id

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode the next piece of the body; returns the events it completed."""
        if not data:
            return []
        buffer = self._buffer + data if self._buffer else data
        if self._start:
            if len(buffer) < 3 and _BOM.startswith(buffer):
                self._buffer = buffer  # could still be a BOM split across chunks
                return []
            self._start = False
            if buffer.startswith(_BOM):
                buffer = buffer[3:]
        if self._skip_lf and buffer:
            self._skip_lf = False
            if buffer[0] == 0x0A:
                buffer = buffer[1:]
        if b"\r" not in buffer:
            lines = buffer.split(b"\n")  # fast path: LF-only streams (nearly all of them)
        else:
            lines = _LINE_END.split(buffer)
            if buffer.endswith(b"\r"):
                self._skip_lf = True
        self._buffer = lines.pop()  # the unterminated rest ("" if the buffer ended a line)
        events: list[ServerSentEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(self._dispatch())
                else:
                    self._event = ""
                continue
            line = raw.decode("utf-8", "replace")
            if line[0] == ":":
                continue
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._last_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self.retry = int(value)
        return events

    def _dispatch(self) -> ServerSentEvent:
        event = ServerSentEvent(
            "\n".join(self._data), self._event or "message", self._last_id, self.retry
        )
        self._data = []
        self._event = ""
        return event

    def close(self) -> list[ServerSentEvent]:
        """End of stream. A partial line and an event with no closing blank line
        are discarded, as the spec requires; returns the (always empty) rest."""
        self._buffer = b""
        self._data = []
        self._event = ""
        self._start = True
        self._skip_lf = False
        return []
