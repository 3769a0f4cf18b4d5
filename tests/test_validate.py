from __future__ import annotations

from typing import Any

import pytest

import steadyllm as sl

from .conftest import make_client

CALL = sl.ToolCall("call_1", "lookup", '{"q": "x"}')
TOOL = sl.ToolSpec("lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})


CYCLE: dict[str, Any] = {}
CYCLE["self"] = CYCLE


@pytest.mark.parametrize(
    ("messages", "options", "message"),
    [
        ([], {}, "messages is empty"),
        ("hello", {}, "must be a list of messages"),
        (["hello"], {}, r"messages\[0\] is a str, not a Message"),
        ([sl.tool_result("call_1", "42")], {}, r"tool result for call id 'call_1'.*no tool call"),
        ([sl.user("q"), sl.assistant("", [CALL]), sl.tool_result("call_2", "x")], {}, "call_2"),
        (
            [
                sl.user("q"),
                sl.assistant("", [CALL]),
                sl.user("again"),
                sl.tool_result("call_1", "x"),
            ],
            {},
            "call_1",
        ),
        (
            [sl.Message("assistant", (sl.image(url="https://x/y.png"),))],
            {},
            "an image; images and documents go in user messages",
        ),
        ([sl.Message("robot", ())], {}, "unknown role 'robot'"),  # type: ignore[arg-type]
        (
            [sl.user("x")],
            {"temperature": 2.5},
            r"temperature=2.5 is out of range; use a number from 0 to 2",
        ),
        ([sl.user("x")], {"temperature": True}, "temperature"),
        ([sl.user("x")], {"top_p": -0.1}, "top_p"),
        ([sl.user("x")], {"max_tokens": 0}, "max_tokens=0 must be a whole number of at least 1"),
        ([sl.user("x")], {"max_tokens": 1.5}, "max_tokens"),
        ([sl.user("x")], {"stop": [""]}, "stop must be a list of non-empty strings"),
        ([sl.user("x")], {"tool_choice": "required"}, "needs tools"),
        ([sl.user("x")], {"tools": [TOOL], "tool_choice": "other"}, "neither 'auto'.*lookup"),
        ([sl.user("x")], {"tools": [TOOL, TOOL]}, "declared twice"),
        ([sl.user("x")], {"tools": [sl.ToolSpec("bad name!")]}, "tool name 'bad name!' is invalid"),
        (
            [sl.user("x")],
            {"tools": [sl.ToolSpec("t", parameters={"type": "string"})]},
            "JSON Schema",
        ),
        ([sl.user("x")], {"tools": [{"name": "t"}]}, "ToolSpec objects"),
        ([sl.user("x")], {"response_format": {"type": "yaml"}}, "'yaml' is not supported"),
        ([sl.user("x")], {"response_format": {"type": "json_schema"}}, "needs a 'schema'"),
        # issue 13: every public parameter is checked before anything is sent
        ([sl.user("x")], {"extra": {"o": object()}}, "extra cannot be sent as JSON"),
        ([sl.user("x")], {"extra": {"s": {1, 2}}}, "extra cannot be sent as JSON.*set"),
        ([sl.user("x")], {"extra": {"b": b"raw"}}, "extra cannot be sent as JSON.*bytes"),
        ([sl.user("x")], {"extra": CYCLE}, "extra cannot be sent as JSON.*[Cc]ircular"),
        ([sl.user("x")], {"extra": {"n": float("nan")}}, "NaN or infinity"),
        ([sl.user("x")], {"extra": {"n": [float("inf")]}}, "NaN or infinity"),
        ([sl.user("x")], {"extra": {1: "x"}}, "string keys"),
        ([sl.user("x")], {"extra": ["x"]}, "extra must be a dict"),
        ([sl.user("x")], {"max_retries": "3"}, "max_retries='3' must be a whole number"),
        ([sl.user("x")], {"max_retries": -1}, "max_retries=-1"),
        ([sl.user("x")], {"context": {"run_id": "r"}}, "context must be an sl.Context"),
        ([sl.user("cut \ud83d here")], {}, "lone surrogate"),
        ([sl.system("\udc00"), sl.user("x")], {}, r"messages\[0\] contains a lone surrogate"),
        ([sl.user("x")], {"seed": "7"}, "seed='7' must be a whole number"),
        ([sl.user("x")], {"user": 5}, "user=5 must be a string"),
        ([sl.user("x")], {"response_format": "json"}, "response_format must be a dict"),
    ],
)
async def test_bad_input_fails_before_anything_is_sent(
    messages: Any, options: dict[str, Any], message: str
) -> None:
    client, fake = make_client()
    with pytest.raises(sl.InvalidRequestError, match=message):
        await client.chat("fake:m", messages, **options)
    with pytest.raises(sl.InvalidRequestError, match=message):
        client.stream("fake:m", messages, **options)
    assert fake.requests == []


async def test_a_valid_tool_conversation_passes() -> None:
    client, fake = make_client()
    messages = [
        sl.user("q"),
        sl.assistant("", [CALL]),
        sl.tool_result("call_1", {"a": 1}),
        sl.user("thanks"),
    ]
    await client.chat("fake:m", messages, tools=[TOOL], tool_choice="required")
    assert fake.requests[0].messages[2].text == '{"a": 1}'
    await client.chat(
        "fake:m", [sl.user("x")], response_format={"type": "json_schema", "schema": {}}
    )
