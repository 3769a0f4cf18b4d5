"""The SSE decoder against the WHATWG rules (spec/wire-protocols.md section 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm.sse import EventTooLargeError, ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[tuple[str, str, str]]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return [(e.event, e.data, e.id) for e in events]


def one_byte_at_a_time(body: bytes) -> list[tuple[str, str, str]]:
    return decode(*[body[i : i + 1] for i in range(len(body))])


VECTORS: list[tuple[str, bytes, list[tuple[str, str, str]]]] = [
    ("lf", b"data: a\n\n", [("message", "a", "")]),
    ("crlf", b"data: a\r\n\r\n", [("message", "a", "")]),
    ("cr", b"data: a\r\rdata: b\r\r", [("message", "a", ""), ("message", "b", "")]),
    ("mixed endings", b"data: a\r\ndata: b\rdata: c\n\n", [("message", "a\nb\nc", "")]),
    ("bom dropped", b"\xef\xbb\xbfdata: x\n\n", [("message", "x", "")]),
    ("bom only at start", b"data: x\n\n\xef\xbb\xbfdata: y\n\n", [("message", "x", "")]),
    ("comment", b": keep-alive\n: OPENROUTER PROCESSING\ndata: x\n\n", [("message", "x", "")]),
    (
        "one space stripped",
        b"data:  two\n\ndata:\tt\n\n",
        [("message", " two", ""), ("message", "\tt", "")],
    ),
    ("no space", b"data:x\n\n", [("message", "x", "")]),
    ("bare data lines", b"data\ndata\n\n", [("message", "\n", "")]),
    ("bare data colon", b"data:\n\n", [("message", "", "")]),
    ("event type", b"event: ping\ndata: {}\n\n", [("ping", "{}", "")]),
    (
        "type resets after dispatch",
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        [("a", "1", ""), ("message", "2", "")],
    ),
    ("data-less block not dispatched", b"event: ping\n\ndata: x\n\n", [("message", "x", "")]),
    ("retry-only block", b"retry: 1000\n\nid: 42\n\n", []),
    (
        "id persists",
        b"id: 7\ndata: a\n\ndata: b\n\n",
        [("message", "a", "7"), ("message", "b", "7")],
    ),
    (
        "bare id resets",
        b"id: 7\ndata: a\n\nid\ndata: b\n\n",
        [("message", "a", "7"), ("message", "b", "")],
    ),
    (
        "id with NUL ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [("message", "a", "1"), ("message", "b", "1")],
    ),
    ("bare event resets type", b"event: x\nevent\ndata: d\n\n", [("message", "d", "")]),
    (
        "unknown and spaced fields ignored",
        b"foo: bar\ndata : no\ndata: yes\n\n",
        [("message", "yes", "")],
    ),
    ("colon in value kept", b'data: {"a": "b:c"}\n\n', [("message", '{"a": "b:c"}', "")]),
    ("invalid utf-8 replaced", b"data: a\xffb\n\n", [("message", "a\ufffdb", "")]),
    ("unterminated event discarded", b"data: a\n\ndata: b\n", [("message", "a", "")]),
    ("partial line discarded", b"data: a\n\ndata: b", [("message", "a", "")]),
    ("multibyte", "data: héllo — 日本\n\n".encode(), [("message", "héllo — 日本", "")]),
    (
        "no splitlines on U+2028",
        "data: a\u2028b\x0cc\n\n".encode(),
        [("message", "a\u2028b\x0cc", "")],
    ),
]


def test_vectors_whole_and_byte_by_byte() -> None:
    for name, body, expected in VECTORS:
        assert decode(body) == expected, name
        assert one_byte_at_a_time(body) == expected, f"{name} (one byte at a time)"


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert decode(b"data: a\r", b"\n\r", b"\n") == [("message", "a", "")]
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [("message", "a\nb", "")]


def test_bom_split_across_chunks() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [("message", "x", "")]
    # A BOM prefix that turns out not to be a BOM is ordinary (here invalid) text.
    assert decode(b"\xef\xbb", b"data: x\n\n") == reference(b"\xef\xbbdata: x\n\n") == []


def test_multibyte_character_split_across_chunks() -> None:
    body = "data: 日本語\n\n".encode()
    for cut in range(len(body)):
        assert decode(body[:cut], body[cut:]) == [("message", "日本語", "")]


def test_retry_field_and_last_event_id() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 250\nid: abc\ndata: x\n\nretry: soon\n")
    assert decoder.retry == 250 and decoder.last_event_id == "abc" and events[0].retry == 250


def test_events_compare_by_value() -> None:
    assert ServerSentEvent("a") == ServerSentEvent("a", "message", "")
    assert ServerSentEvent("a") != ServerSentEvent("a", "x")
    assert "data='a'" in repr(ServerSentEvent("a"))


def reference(body: bytes) -> list[tuple[str, str, str]]:
    """A direct, slow transcription of the spec: whole body, no chunking."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    text = body.decode("utf-8", "replace")
    lines, current, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            lines.append(current)
            current = ""
            if ch == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            current += ch
        i += 1
    out, data, etype, last_id = [], "", "", ""
    for line in lines:  # the unterminated tail in `current` is dropped
        if line == "":
            if data:
                out.append((etype or "message", data[:-1], last_id))
            data, etype = "", ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":") if ":" in line else (line, "", "")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data += value + "\n"
        elif name == "event":
            etype = value
        elif name == "id" and "\0" not in value:
            last_id = value
    return out


PIECES = st.sampled_from(
    [
        b"data",
        b"data:",
        b"data: ",
        b"event: e",
        b"id: 1",
        b"id",
        b":c",
        b"retry: 5",
        b"x",
        b"\r",
        b"\n",
        b"\r\n",
        b" ",
        "é".encode(),
        b"\xff",
        b"\x00",
        b"{}",
    ]
)


@settings(max_examples=400)
@given(st.lists(PIECES, max_size=40), st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_any_body_any_chunking_matches_the_reference(parts: list[bytes], cuts: list[int]) -> None:
    body = b"".join(parts)
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    assert decode(*chunks) == reference(body)


# ------------------------------------------------------------------ long lines (issue 13)


def test_a_long_line_in_small_reads_is_joined_once() -> None:
    decoder = SSEDecoder()
    piece = b"x" * 4096
    assert decoder.feed(b"data: ") == []
    for _ in range(2048):  # 8 MiB in 4 KiB reads
        assert decoder.feed(piece) == []
    # The pieces are kept as they came (no copy of the growing line per read)...
    assert len(decoder._pending) == 2049
    (event,) = decoder.feed(b"\n\n")
    # ...and joined once when the line ends.
    assert len(event.data) == 2048 * 4096 and decoder._pending == []


def test_an_event_larger_than_the_bound_is_an_error() -> None:
    decoder = SSEDecoder(max_event_bytes=10_000)
    decoder.feed(b"data: " + b"a" * 6000 + b"\n")
    with pytest.raises(EventTooLargeError, match="10,000 bytes"):
        decoder.feed(b"data: " + b"b" * 6000 + b"\n")  # two lines of one event
    line = SSEDecoder(max_event_bytes=10_000)
    for _ in range(5):
        line.feed(b"c" * 2000)  # one line that never ends: 10,000 bytes is still allowed
    with pytest.raises(EventTooLargeError):
        line.feed(b"c")


async def test_a_stream_event_past_the_setting_is_an_invalid_response() -> None:
    from steadyllm.emulator import Behavior, Emulator

    async with Emulator() as emu:
        emu.push(Behavior(text="y" * 5000, chunks=1))
        async with sl.Client(emu.settings(max_event_bytes=2048, max_retries=0)) as client:
            with pytest.raises(sl.InvalidResponseError, match="LLM_MAX_EVENT_BYTES") as info:
                async with client.stream("openai:gpt-4o-mini", [sl.user("x")]) as s:
                    await s.final_response()
    assert "2,048 bytes" in str(info.value) and not info.value.retryable
