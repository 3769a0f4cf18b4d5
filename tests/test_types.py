from __future__ import annotations

import json

import pytest

import steadyllm as sl


def test_message_helpers() -> None:
    assert sl.system("s").role == "system" and sl.system("s").text == "s"
    pic = sl.image(url="https://example.com/a.png", detail="low")
    msg = sl.user("What is", " this?", pic)
    assert msg.text == "What is this?" and msg.content[2] is pic
    call = sl.ToolCall("c1", "f", "")
    a = sl.assistant("", [call])
    assert a.content == () and a.tool_calls == (call,) and call.parsed_arguments() == {}
    t = sl.tool_result("c1", {"temp": 11}, is_error=True)
    assert json.loads(t.text) == {"temp": 11} and t.tool_call_id == "c1" and t.is_error


def test_image_from_bytes_becomes_a_data_url() -> None:
    part = sl.image(data=b"\x89PNG", media_type="image/png")
    assert part.as_data_url() == "data:image/png;base64,iVBORw=="
    assert sl.user(part).to_dict()["content"][0] == {
        "type": "image",
        "url": "data:image/png;base64,iVBORw==",
    }


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "exactly one"),
        ({"url": "u", "data": b"x"}, "exactly one"),
        ({"data": b"x"}, "media_type"),
        ({"data": b"x", "media_type": "text/plain"}, "media_type"),
    ],
)
def test_image_needs_one_source(kw: dict[str, object], message: str) -> None:
    with pytest.raises(sl.InvalidRequestError, match=message):
        sl.image(**kw)  # type: ignore[arg-type]


def test_usage_sums_every_count_and_lists_every_field() -> None:
    from dataclasses import fields

    counts = [f.name for f in fields(sl.Usage) if f.name != "cost_usd"]
    a = sl.Usage(**{name: i + 1 for i, name in enumerate(counts)})
    b = sl.Usage(**{name: 100 * (i + 1) for i, name in enumerate(counts)})
    total = a + b
    assert {n: getattr(total, n) for n in counts} == {
        n: 101 * (i + 1) for i, n in enumerate(counts)
    }
    a += b
    assert a == total and set(a.to_dict()) == {f.name for f in fields(sl.Usage)}


def test_usage_adds_and_keeps_unknown_cost_unknown() -> None:
    a = sl.Usage(10, 5, cached_tokens=2, reasoning_tokens=1)
    b = sl.Usage(1, 1, cost_usd=0.5)
    assert (a + a).cost_usd is None
    total = a + b
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (11, 6, 17)
    assert total.cost_usd == 0.5 and total.cached_tokens == 2


def test_response_serializes_to_json_and_back_to_a_message() -> None:
    r = sl.Response(text="hi", tool_calls=[sl.ToolCall("c", "f", "{}")], usage=sl.Usage(1, 2))
    data = json.loads(json.dumps(r.to_dict()))
    assert data["usage"]["total_tokens"] == 3 and data["tool_calls"][0]["name"] == "f"
    assert r.message.role == "assistant" and r.message.tool_calls[0].id == "c"
    msg = sl.Message(
        "tool", (sl.TextPart("x"),), tool_call_id="c", name="n", is_error=True
    ).to_dict()
    assert msg["tool_call_id"] == "c" and msg["name"] == "n" and msg["is_error"]
    assert sl.ToolSpec("t", strict=True).to_dict()["strict"] is True
    assert sl.Context(run_id="r").to_dict()["run_id"] == "r"
