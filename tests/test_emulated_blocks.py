"""The emulator serves the blocks real APIs send (server-side web search with a
cited answer, pause_turn, refusals), so users' tests can exercise them; steadyllm
reads them over HTTP, whole and streamed, and the official SDK parses them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import steadyllm as sl
from steadyllm.emulator import Behavior, Emulator

MODEL = "anthropic:claude-sonnet-4-5"
SEARCH: dict[str, Any] = {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


async def ask(client: sl.Client, model: str, streamed: bool, **options: Any) -> sl.Response:
    messages = [sl.user("weather in Lyon")]
    if not streamed:
        return await client.chat(model, messages, **options)
    async with client.stream(model, messages, **options) as s:
        return await s.final_response()


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_a_server_web_search_comes_back_as_blocks_a_citation_and_a_priced_search(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(Behavior(text="It is sunny in Lyon."))
    prices = {MODEL: {"input": 3.0, "output": 15.0, "web_search": 10.0}}
    async with sl.Client(emulator.settings(prices=prices)) as client:
        r = await ask(client, MODEL, streamed, extra=SEARCH)
        again = await client.chat(MODEL, [sl.user("weather in Lyon"), r.message, sl.user("ok")])
    use, result = [p for p in r.parts if isinstance(p, sl.ServerToolPart)]
    assert (use.kind, use.name, use.input) == (
        "server_tool_use",
        "web_search",
        {"query": "weather in Lyon"},
    )
    assert result.is_result and result.id == use.id and r.tool_calls == []
    (citation,) = r.citations
    assert (
        citation.type == "web_search_result_location" and citation.url == result.content[0]["url"]
    )
    assert r.usage.web_search_requests == 1
    tokens = (r.usage.prompt_tokens * 3.0 + r.usage.completion_tokens * 15.0) / 1e6
    assert r.usage.cost_usd == pytest.approx(tokens + 10.0 / 1000)
    sent = emulator.requests[-1].body["messages"][1]["content"]
    assert [b["type"] for b in sent[:2]] == ["server_tool_use", "web_search_tool_result"]
    assert again.finish_reason == "stop"


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_pause_turn_and_refusals_as_the_apis_send_them(
    emulator: Emulator, streamed: bool
) -> None:
    emulator.push(
        Behavior(text="Still searching", finish_reason="pause_turn", api="anthropic"),
        Behavior(text="I can't help with that.", finish_reason="refusal", api="anthropic"),
        Behavior(text="I can't help with that.", finish_reason="refusal", api="openai"),
    )
    async with sl.Client(emulator.settings()) as client:
        paused = await ask(client, MODEL, streamed)
        refused = await ask(client, MODEL, streamed)
        openai = await ask(client, "openai:gpt-4.1", streamed)
    assert paused.finish_reason == "pause_turn" and paused.text == "Still searching"
    assert refused.finish_reason == "refusal"
    assert (openai.finish_reason, openai.text, openai.refusal) == (
        "refusal",
        "",
        "I can't help with that.",
    )


def _warmed_sdk() -> Any:
    """The anthropic SDK with its reply models built at import, before any loop runs:
    the first parse builds them for seconds, holding the GIL the emulator's loop needs."""
    try:
        import anthropic
    except ImportError:  # pragma: no cover - a test dependency
        return None
    anthropic.types.Message.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
    )
    return anthropic


ANTHROPIC_SDK = _warmed_sdk()


async def test_the_anthropic_sdk_parses_the_emulated_search(emulator: Emulator) -> None:
    if ANTHROPIC_SDK is None:  # pragma: no cover - a test dependency
        pytest.skip("the anthropic SDK is not installed")

    def create() -> Any:  # the sync SDK in a thread, beside the emulator's loop
        with ANTHROPIC_SDK.Anthropic(
            base_url=emulator.anthropic_base_url, api_key="sk-ant-sdk", max_retries=0
        ) as client:
            return client.messages.create(
                model="claude-emulated",
                max_tokens=100,
                messages=[{"role": "user", "content": "weather"}],
                **SEARCH,
            )

    message = await asyncio.to_thread(create)
    kinds = [b.type for b in message.content]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text"]
    assert message.content[2].citations and message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
