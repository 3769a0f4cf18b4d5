"""Message parts: each kind survives JSON (logs, the cache), is refused where only
the model may write it, and each encoder sends back what its provider takes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._cache import entry
from steadyllm._core.parts import Part, part_dict, part_from_dict, server_tool_part
from steadyllm._core.types import Request
from steadyllm.providers.anthropic.decode import decode_response as anthropic_decode
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_messages
from steadyllm.providers.openai.decode import decode_response as openai_decode
from steadyllm.providers.openai.dialect import Dialect as OpenAIDialect
from steadyllm.providers.openai.encode import encode_message
from steadyllm.providers.openai.stream import StreamDecoder as OpenAIStream

from .wire import assemble, run_stream

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
citation_raw = st.builds(
    lambda t, u, c: {"type": t, "url": u, "title": "T", "cited_text": c, "encrypted_index": "x"},
    st.sampled_from(["web_search_result_location", "char_location"]),
    text,
    text,
)
parts: st.SearchStrategy[Part] = st.one_of(
    st.builds(
        lambda t, raws: sl.TextPart(t, tuple(map(_citation, raws))),
        text,
        st.lists(citation_raw, max_size=2),
    ),
    st.builds(sl.ThinkingPart, text, st.none() | text),
    st.builds(sl.RedactedThinkingPart, text),
    st.builds(sl.RefusalPart, text),
    st.builds(
        lambda i, q: server_tool_part(
            {"type": "server_tool_use", "id": i, "name": "web_search", "input": {"query": q}}
        ),
        text,
        text,
    ),
    st.builds(
        lambda i: server_tool_part(
            {"type": "web_search_tool_result", "tool_use_id": i, "content": [{"url": "u"}]}
        ),
        text,
    ),
    st.just(sl.image(url="https://example.com/a.png", detail="low")),
    st.builds(sl.CachePoint, st.sampled_from(["5m", "1h"])),
    st.builds(lambda d, c: sl.document(data=d, title="t", citations=c), st.binary(), st.booleans()),
    st.builds(lambda t: sl.document(text=t), text),
    st.just(sl.document(url="https://example.com/a.pdf")),
)


def _citation(raw: dict[str, Any]) -> sl.Citation:
    from steadyllm._core.parts import citation_from

    return citation_from(raw)


@given(st.lists(parts, max_size=6))
def test_every_part_survives_json_as_the_cache_stores_it(items: list[Part]) -> None:
    back = [part_from_dict(json.loads(json.dumps(part_dict(p)))) for p in items]
    assert back == items
    for old, new in zip(items, back, strict=True):  # compare=False fields too
        if isinstance(old, sl.ServerToolPart):
            assert isinstance(new, sl.ServerToolPart) and new.block == old.block
        if isinstance(old, sl.TextPart):
            assert isinstance(new, sl.TextPart)
            assert [c.raw for c in new.citations] == [c.raw for c in old.citations]


def test_a_cached_reply_gives_back_the_same_message_and_an_old_entry_still_reads() -> None:
    signed = sl.ThinkingPart("hm", "sig")
    result = server_tool_part({"type": "web_search_tool_result", "tool_use_id": "s1"})
    response = sl.Response(
        text="hi",
        finish_reason="stop",
        parts=(signed, result, sl.TextPart("hi")),
        tool_calls=[sl.ToolCall("t1", "f", "{}")],
        stop_sequence="END",
    )
    back = entry.decode(entry.encode(response))
    assert back is not None and back.message == response.message
    assert back.stop_sequence == "END" and back.cached
    old = json.loads(entry.encode(response))
    del old["parts"], old["refusal"], old["stop_sequence"]
    legacy = entry.decode(json.dumps(old).encode())
    assert legacy is not None and legacy.message == sl.assistant("hi", response.tool_calls)
    broken = {**old, "parts": [{"type": "hologram"}]}
    assert entry.decode(json.dumps(broken).encode()) is None  # a miss, never an exception


@pytest.mark.parametrize(
    "part",
    [
        sl.ThinkingPart("t", "s"),
        sl.RedactedThinkingPart("d"),
        sl.RefusalPart("no"),
        server_tool_part({"type": "server_tool_use", "id": "s", "name": "web_search"}),
    ],
)
async def test_a_part_only_the_model_writes_is_refused_outside_an_assistant_turn(
    part: Part,
) -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False, config_file=False)) as client:
        with pytest.raises(sl.InvalidRequestError, match="only the model writes"):
            await client.chat("fake:m", [sl.Message("user", (part,))])
        with pytest.raises(sl.InvalidRequestError, match="unsupported part"):
            await client.chat("fake:m", [sl.Message("user", ("text",))])  # type: ignore[arg-type]


ASSISTANT = sl.Message(
    "assistant",
    (
        sl.ThinkingPart("signed", "sig"),
        sl.ThinkingPart("another provider's reasoning"),
        sl.RedactedThinkingPart("opaque"),
        server_tool_part(
            {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": 1}}
        ),
        sl.TextPart(
            "cited",
            (
                _citation({"type": "char_location", "cited_text": "c", "document_index": 0}),
                _citation({"type": "url_citation", "url_citation": {"url": "https://x"}}),
            ),
        ),
        sl.TextPart(""),
        sl.RefusalPart("I won't."),
    ),
    tool_calls=(sl.ToolCall("t1", "f", '{"a": 1}'),),
)


def test_anthropic_gets_back_every_block_it_can_take_in_order() -> None:
    _, messages = encode_messages([sl.user("x"), ASSISTANT])
    assert messages[1]["content"] == [
        {"type": "thinking", "thinking": "signed", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": 1}},
        {
            "type": "text",
            "text": "cited",
            "citations": [{"type": "char_location", "cited_text": "c", "document_index": 0}],
        },
        {"type": "text", "text": "I won't."},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ]


def test_chat_completions_gets_the_text_the_refusal_and_the_tool_calls_only() -> None:
    assert encode_message(ASSISTANT) == {
        "role": "assistant",
        "content": "cited",
        "refusal": "I won't.",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
    }
    refused = sl.Message("assistant", (sl.RefusalPart("No."),))
    assert encode_message(refused) == {"role": "assistant", "content": None, "refusal": "No."}


def test_an_anthropic_reply_keeps_its_blocks_stop_sequence_and_stop_details() -> None:
    blocks = [
        {"type": "thinking", "thinking": "let me see", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "EmwK"},
        {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": [{"url": "u"}]},
        {
            "type": "text",
            "text": "It is sunny.",
            "citations": [
                {
                    "type": "web_search_result_location",
                    "url": "https://w.example",
                    "title": "W",
                    "cited_text": "sunny",
                    "encrypted_index": "Eo8B",
                }
            ],
        },
        {"type": "container_upload", "file_id": "f1"},  # a block type steadyllm has no name for
    ]
    body = {
        "id": "msg_1",
        "model": "claude-sonnet-4-5",
        "content": blocks,
        "stop_reason": "stop_sequence",
        "stop_sequence": "END",
        "stop_details": {"type": "x"},
        "usage": {
            "input_tokens": 5,
            "output_tokens": 7,
            "server_tool_use": {"web_search_requests": 1},
        },
    }
    request = Request(provider="anthropic", model="claude-sonnet-4-5", messages=[sl.user("x")])
    r = anthropic_decode(request, 200, {}, json.dumps(body).encode(), AnthropicDialect())
    assert (r.text, r.reasoning, r.finish_reason) == ("It is sunny.", "let me see", "stop")
    assert (r.stop_sequence, r.stop_details) == ("END", {"type": "x"})
    assert r.usage.web_search_requests == 1 and r.tool_calls == []
    (use, result) = [p for p in r.parts if isinstance(p, sl.ServerToolPart)][:2]
    assert (use.kind, use.id, use.name, use.input, use.is_result) == (
        "server_tool_use",
        "srv_1",
        "web_search",
        {"query": "q"},
        False,
    )
    assert result.is_result and result.id == "srv_1" and result.content == [{"url": "u"}]
    (citation,) = r.citations
    assert (citation.url, citation.title, citation.cited_text) == (
        "https://w.example",
        "W",
        "sunny",
    )
    _, sent = encode_messages([sl.user("x"), r.message])
    assert sent[1]["content"] == blocks  # every block back, verbatim and in order
    assert r.to_dict()["parts"][0] == {
        "type": "thinking",
        "text": "let me see",
        "signature": "EqQB",
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "text", "text": "x", "citations": ["not an object"]},
        {"type": "thinking", "thinking": 7},
    ],
)
def test_a_malformed_block_is_an_invalid_response(bad: dict[str, Any]) -> None:
    body = {"content": [bad], "stop_reason": "end_turn", "usage": {}}
    request = Request(provider="anthropic", model="m", messages=[sl.user("x")])
    with pytest.raises(sl.InvalidResponseError):
        anthropic_decode(request, 200, {}, json.dumps(body).encode(), AnthropicDialect())


# Composed from the Chat Completions reference (a refusal and url_citation
# annotations), streamed and whole: both must give the same reply.
REFUSAL_STREAM = (
    b'data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":null,"refusal":""}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"refusal":"I can\'t "}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"refusal":"help with that."}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
REFUSAL_BODY = {
    "id": "c1",
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        }
    ],
}


@given(st.lists(st.integers(min_value=0, max_value=len(REFUSAL_STREAM)), max_size=8))
def test_an_openai_refusal_is_its_own_field_streamed_or_not(cuts: list[int]) -> None:
    request = Request(provider="openai", model="gpt-4o", messages=[sl.user("x")])
    whole = openai_decode(request, 200, {}, json.dumps(REFUSAL_BODY).encode(), OpenAIDialect())
    events = run_stream(OpenAIStream(request, OpenAIDialect(), {}), REFUSAL_STREAM, cuts)
    streamed = assemble(events, "openai", "gpt-4o")
    assert not any(isinstance(e, sl.TextDelta) for e in events)
    for r in (whole, streamed):
        assert (r.text, r.refusal, r.finish_reason) == ("", "I can't help with that.", "refusal")
        assert r.message == sl.Message("assistant", (sl.RefusalPart("I can't help with that."),))


# ------------------------------------------------------------------ Anthropic blocks, streamed

from steadyllm.providers.anthropic.stream import StreamDecoder as AnthropicStream  # noqa: E402


def sse_events(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


START = {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {}}}


def anthropic_stream(data: bytes, cuts: list[int] | None = None) -> sl.Response:
    request = Request(provider="anthropic", model="c", messages=[sl.user("x")])
    events = run_stream(AnthropicStream(request, AnthropicDialect(), {}), data, cuts)
    return assemble(events, "anthropic", "c")


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=6))
def test_streamed_blocks_are_whole_parts_even_without_their_stop_events(cuts: list[int]) -> None:
    data = sse_events(
        START,
        block_start(0, {"type": "thinking", "thinking": "first ", "signature": "sig-at-start"}),
        block_delta(0, {"type": "thinking_delta", "thinking": "thought"}),
        {"type": "content_block_stop", "index": 0},
        block_start(1, {"type": "redacted_thinking", "data": "opaque"}),
        {"type": "content_block_stop", "index": 1},
        block_delta(2, {"type": "text_delta", "text": "no start event"}),
        block_start(3, {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}),
        block_delta(3, {"type": "input_json_delta", "partial_json": '{"query": '}),
        block_delta(3, {"type": "input_json_delta", "partial_json": '"q"}'}),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": "##"}},
        {"type": "message_stop"},  # blocks 2 and 3 never got their content_block_stop
    )
    r = anthropic_stream(data, cuts)
    assert r.parts[:3] == (
        sl.ThinkingPart("first thought", "sig-at-start"),
        sl.RedactedThinkingPart("opaque"),
        sl.TextPart("no start event"),
    )
    (tool,) = r.parts[3:]
    assert isinstance(tool, sl.ServerToolPart) and tool.input == {"query": "q"}
    assert r.text == "no start event" and r.stop_sequence == "##" and r.tool_calls == []


@pytest.mark.parametrize(
    ("events", "error"),
    [
        (
            [
                block_start(0, {"type": "server_tool_use", "id": "s", "name": "w", "input": {}}),
                block_delta(0, {"type": "input_json_delta", "partial_json": '{"cut'}),
                {"type": "content_block_stop", "index": 0},
            ],
            sl.StreamInterruptedError,
        ),
        (
            [
                block_start(0, {"type": "text", "text": ""}),
                block_delta(0, {"type": "citations_delta", "citation": "not an object"}),
            ],
            sl.InvalidResponseError,
        ),
    ],
)
def test_a_malformed_streamed_block_is_a_typed_error(
    events: list[dict[str, Any]], error: type[sl.LLMError]
) -> None:
    with pytest.raises(error):
        anthropic_stream(sse_events(START, *events, {"type": "message_stop"}))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"thinking": {"type": "sometimes"}}, "does not match any of the expected tags"),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "tool_choice": {"type": "any"},
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            },
            "forces tool use",
        ),
    ],
)
async def test_the_emulator_refuses_thinking_as_anthropic_does(
    extra: dict[str, Any], message: str
) -> None:
    from steadyllm.emulator import Emulator

    async with Emulator() as emulator:
        settings = emulator.settings(max_retries=0)
        async with sl.Client(settings) as client:
            with pytest.raises(sl.InvalidRequestError, match=message):
                await client.chat("anthropic:c", [sl.user("x")], max_tokens=4096, extra=extra)
            off = {"thinking": {"type": "disabled"}}
            r = await client.chat("anthropic:c", [sl.user("x")], max_tokens=4096, extra=off)
    assert r.reasoning == "" and not any(isinstance(p, sl.ThinkingPart) for p in r.parts)
