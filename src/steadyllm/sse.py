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

__all__ = ["EventTooLargeError", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")
#: One event (its data lines plus the line being read) may not exceed this by default.
MAX_EVENT_BYTES = 16 << 20


class EventTooLargeError(ValueError):
    """An event, or a line, grew past the decoder's ``max_event_bytes``."""


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

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_last_id",
        "_pending",
        "_pending_size",
        "_skip_lf",
        "_start",
        "max_event_bytes",
        "retry",
    )

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        #: The unterminated line so far, in the pieces it arrived in: a long line
        #: delivered in small reads is joined once, when it ends (linear, not quadratic).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._data_size = 0
        self.max_event_bytes = max_event_bytes
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
        """Decode the next piece of the body; returns the events it completed.
        Raises ``EventTooLargeError`` when one event passes ``max_event_bytes``."""
        if not data:
            return []
        if self._start:
            data = self._after_bom(data)
            if not data:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        if b"\n" not in data and b"\r" not in data:  # the line goes on: keep the piece
            if data:
                self._pending.append(data)
                self._pending_size += len(data)
                self._check_size()
            return []
        buffer = b"".join((*self._pending, data)) if self._pending else data
        self._pending, self._pending_size = [], 0
        if b"\r" not in buffer:
            lines = buffer.split(b"\n")  # fast path: LF-only streams (nearly all of them)
        else:
            lines = _LINE_END.split(buffer)
            if buffer.endswith(b"\r"):
                self._skip_lf = True
        rest = lines.pop()  # the unterminated rest ("" if the buffer ended a line)
        if rest:
            self._pending, self._pending_size = [rest], len(rest)
        events = self._read_lines(lines)
        self._check_size()
        return events

    def _after_bom(self, data: bytes) -> bytes:
        """The body's first bytes without a byte-order mark; empty while the first
        bytes could still be the start of one (a BOM split across chunks)."""
        head = b"".join(self._pending) + data if self._pending else data
        if len(head) < 3 and _BOM.startswith(head):
            self._pending, self._pending_size = [head], len(head)
            return b""
        self._start = False
        self._pending, self._pending_size = [], 0
        return head[3:] if head.startswith(_BOM) else head

    def _read_lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        """Whole lines, in order: fields join the event being built, a blank line ends it."""
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
                self._data_size += len(raw)
                self._check_size()
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._last_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self.retry = int(value)
        return events

    def _check_size(self) -> None:
        size = self._data_size + self._pending_size
        if size > self.max_event_bytes:
            raise EventTooLargeError(
                f"one server-sent event grew past {self.max_event_bytes:,} bytes "
                f"({size:,} so far) without ending"
            )

    def _dispatch(self) -> ServerSentEvent:
        event = ServerSentEvent(
            "\n".join(self._data), self._event or "message", self._last_id, self.retry
        )
        self._data = []
        self._data_size = 0
        self._event = ""
        return event

    def close(self) -> list[ServerSentEvent]:
        """End of stream. A partial line and an event with no closing blank line
        are discarded, as the spec requires; returns the (always empty) rest."""
        self._pending, self._pending_size = [], 0
        self._data = []
        self._data_size = 0
        self._event = ""
        self._start = True
        self._skip_lf = False
        return []
