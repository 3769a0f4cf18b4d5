"""Prompt caching as an option: cache points become Anthropic ``cache_control``
breakpoints (5 minutes or an hour), ``prompt_cache_key`` goes to OpenAI, and the
cache reads and writes the provider reports are priced at their own rates; the
emulator caches prefixes as Anthropic does, so all of it runs over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._config.prices import ModelPrice, Rate
from steadyllm._core.types import Request
from steadyllm.emulator import Behavior, Emulator
from steadyllm.emulator._prompt_cache import MIN_TOKENS, PromptCache
from steadyllm.providers.anthropic.dialect import Dialect as AnthropicDialect
from steadyllm.providers.anthropic.encode import encode_body as anthropic_body
from steadyllm.providers.openai.dialect import Dialect as OpenAIDialect
from steadyllm.providers.openai.encode import encode_body as openai_body

MODEL = "anthropic:claude-sonnet-4-5"
#: Long enough to be cached (Anthropic caches prefixes of 1024 tokens or more).
MANUAL = "Section. " * 3000


def body_of(*messages: sl.Message, **fields: Any) -> dict[str, Any]:
    request = Request(provider="anthropic", model="m", messages=list(messages), **fields)
    return anthropic_body(request, AnthropicDialect())


def test_cache_points_mark_the_block_before_them() -> None:
    body = body_of(
        sl.system("You answer from the manual.", cache="1h"),
        sl.user(MANUAL, sl.cache_point(), "Question?"),
    )
    assert body["system"] == [
        {
            "type": "text",
            "text": "You answer from the manual.",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": MANUAL, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Question?"},
    ]
    plain = body_of(sl.system("brief"), sl.user("hi"))
    assert plain["system"] == "brief" and plain["messages"][0]["content"] == "hi"
    result = body_of(
        sl.user("go"),
        sl.assistant("", [sl.ToolCall("t1", "f", "{}")]),
        sl.Message("tool", (sl.TextPart("long result"), sl.cache_point()), tool_call_id="t1"),
    )
    assert result["messages"][-1]["content"][0]["cache_control"] == {"type": "ephemeral"}


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([sl.user("a", *[x for _ in range(5) for x in ("b", sl.cache_point())])], "at most 4"),
        ([sl.system("s", cache="5m"), sl.user("u", sl.cache_point("1h"))], "longer-lived"),
        (
            [
                sl.user("q"),
                sl.Message("assistant", (sl.ThinkingPart("unsigned"), sl.cache_point())),
            ],
            "does not take back",
        ),
    ],
)
def test_cache_points_anthropic_would_refuse_are_refused_before_sending(
    messages: list[sl.Message], message: str
) -> None:
    with pytest.raises(sl.InvalidRequestError, match=message):
        body_of(*messages)


async def test_a_misplaced_cache_point_is_a_typed_error() -> None:
    async with sl.Client(sl.Settings.load(env={}, dotenv=False, config_file=False)) as client:
        with pytest.raises(sl.InvalidRequestError, match="no part before it"):
            await client.chat("fake:m", [sl.user(sl.cache_point(), "x")])
        bad: Any = "2h"
        with pytest.raises(sl.InvalidRequestError, match="ttl='2h'"):
            await client.chat("fake:m", [sl.user("x", sl.CachePoint(bad))])
    with pytest.raises(sl.InvalidRequestError, match="use '5m' or '1h'"):
        sl.cache_point("1d")  # type: ignore[arg-type]


def test_prompt_cache_key_goes_to_openai_and_is_refused_by_anthropic() -> None:
    request = Request(
        provider="openai", model="gpt-4.1", messages=[sl.user(MANUAL, sl.cache_point())]
    )
    request.prompt_cache_key = "tenant-42"
    body = openai_body(request, OpenAIDialect())
    assert body["prompt_cache_key"] == "tenant-42"
    assert body["messages"] == [{"role": "user", "content": MANUAL}]  # OpenAI caches by itself
    with pytest.raises(sl.InvalidRequestError, match=r"sl\.cache_point"):
        body_of(sl.user("x"), prompt_cache_key="k")


def test_one_hour_writes_are_priced_at_their_own_rate() -> None:
    price = ModelPrice(
        Rate(3.0), Rate(15.0), Rate(0.3), Rate(3.75), source="t", cache_write_1h=Rate(6.0)
    )
    usage = sl.Usage(
        prompt_tokens=3000, cache_write_tokens=2000, cache_write_1h_tokens=500, cached_tokens=0
    )
    assert price.cost(usage) == pytest.approx((1000 * 3 + 1500 * 3.75 + 500 * 6.0) / 1e6)
    no_hour_rate = ModelPrice(Rate(3.0), Rate(15.0), Rate(0.3), Rate(3.75), source="t")
    assert no_hour_rate.cost(usage) == pytest.approx((1000 * 3 + 2000 * 3.75) / 1e6)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def marked(text: str, ttl: str | None = None) -> dict[str, Any]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": text, "cache_control": control}]}
        ]
    }


def test_the_emulated_cache_writes_reads_and_expires_like_anthropics() -> None:
    clock = Clock()
    cache = PromptCache(clock)
    first = cache.use(marked(MANUAL))
    assert first is not None and first.read == 0 and first.write_5m >= MIN_TOKENS
    again = cache.use(marked(MANUAL))
    assert again is not None and (again.read, again.write_5m) == (first.write_5m, 0)
    clock.now += 299  # a hit refreshes the five minutes
    assert cache.use(marked(MANUAL)).read == first.write_5m  # type: ignore[union-attr]
    clock.now += 301
    assert cache.use(marked(MANUAL)).read == 0  # type: ignore[union-attr]
    hour = cache.use(marked(MANUAL + "!", "1h"))
    assert hour is not None and hour.write_1h > 0 and hour.write_5m == 0
    assert cache.use(marked("short")) == sl_cache_use(0, 0, 0)  # under 1024 tokens: not cached
    assert cache.use({"messages": [{"role": "user", "content": "no marker"}]}) is None


def sl_cache_use(read: int, five: int, hour: int) -> Any:
    from steadyllm.emulator._prompt_cache import CacheUse

    return CacheUse(read, five, hour)


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8))
def test_the_emulated_cache_never_reads_more_than_was_written(keys: list[str]) -> None:
    cache = PromptCache(Clock())
    written: dict[str, int] = {}
    for key in keys:
        use = cache.use(marked(MANUAL + key))
        assert use is not None
        assert use.read == written.get(key, 0)
        written[key] = written.get(key, 0) or use.write_5m


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
async def test_over_http_the_second_call_reads_what_the_first_wrote_and_is_cheaper(
    emulator: Emulator, streamed: bool
) -> None:
    messages = [sl.system("Answer from the manual.", cache="1h"), sl.user(MANUAL, sl.cache_point())]
    prices = {
        MODEL: {
            "input": 3,
            "output": 15,
            "cache_read": 0.3,
            "cache_write": 3.75,
            "cache_write_1h": 6,
        }
    }
    emulator.push(Behavior(text="Page 12.", times=2))
    async with sl.Client(emulator.settings(prices=prices)) as client:
        replies = []
        for _ in range(2):
            if streamed:
                async with client.stream(MODEL, messages, max_tokens=100) as s:
                    replies.append(await s.final_response())
            else:
                replies.append(await client.chat(MODEL, messages, max_tokens=100))
    first, second = (r.usage for r in replies)
    assert first.cached_tokens == 0 and first.cache_write_tokens > MIN_TOKENS
    assert second.cached_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    assert first.prompt_tokens == second.prompt_tokens
    assert first.cost_usd is not None and second.cost_usd is not None
    output = first.completion_tokens * 15
    assert first.cost_usd == pytest.approx((first.prompt_tokens * 3.75 + output) / 1e6)
    assert second.cost_usd == pytest.approx((second.prompt_tokens * 0.3 + output) / 1e6)
    sent = emulator.requests[0].body
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
