"""Audio tokens priced at their own rates: OpenAI's gpt-audio models and Gemini
bill audio input (and output) tokens far above text, and Gemini bills cached
audio apart. Checked against genai-prices' own calculation, on a real recorded
OpenAI audio reply, through ``[prices]`` and the disk cache, and end to end over
HTTP against the emulator (whole and streamed, OpenAI and Gemini)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steadyllm as sl
from steadyllm._config.prices import ModelPrice, Rate, parse_prices
from steadyllm._core.types import Request
from steadyllm._metering.prices import PriceBook
from steadyllm.emulator import Behavior, Emulator
from steadyllm.providers.gemini.decode import usage_from
from steadyllm.providers.openai.decode import decode_response
from steadyllm.providers.openai.dialect import Dialect

from .wire import FIXTURES

#: (our provider, genai-prices provider, model): every one prices audio apart.
AUDIO_MODELS = [
    ("openai", "openai", "gpt-audio"),
    ("openai", "openai", "gpt-audio-mini"),
    ("gemini", "google", "gemini-2.5-flash"),
    ("gemini", "google", "gemini-2.0-flash"),
]
_BOOK = PriceBook(cache_dir=None)
WHERE = {"provider": "gemini", "model": "m"}


def price_of(provider: str, model: str) -> ModelPrice:
    price = _BOOK.lookup(provider, model)
    assert price is not None, model
    return price


def catalog_cost(catalog: str, model: str, usage: sl.Usage) -> float:
    """genai-prices' price of ``usage``: its input_tokens hold the cache reads and
    the audio, as our prompt_tokens do."""
    import genai_prices

    calc = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            cache_read_tokens=usage.cached_tokens,
            input_audio_tokens=usage.audio_prompt_tokens,
            output_audio_tokens=usage.audio_completion_tokens,
            cache_audio_read_tokens=usage.cached_audio_tokens,
        ),
        model,
        provider_id=catalog,
    )
    return float(Decimal(calc.total_price))


@st.composite
def audio_usages(draw: st.DrawFn, cached_audio: bool) -> sl.Usage:
    """Counts as providers report them: the audio and the cache reads are shares
    of the prompt, cached audio a share of both."""
    prompt = draw(st.integers(0, 150_000))
    audio = draw(st.integers(0, prompt))
    audio_read = draw(st.integers(0, audio)) if cached_audio else 0
    text_read = draw(st.integers(0, prompt - audio))
    completion = draw(st.integers(0, 20_000))
    return sl.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=text_read + audio_read,
        audio_prompt_tokens=audio,
        audio_completion_tokens=draw(st.integers(0, completion)),
        cached_audio_tokens=audio_read,
    )


@pytest.mark.parametrize(("provider", "catalog", "model"), AUDIO_MODELS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_audio_costs_what_the_catalog_says(
    provider: str, catalog: str, model: str, data: st.DataObject
) -> None:
    price = price_of(provider, model)
    assert price.input_audio is not None and price.input_audio.base > price.input.base
    # genai-prices bills cached audio twice (as a cache read and as audio) when the
    # model has no cached-audio rate; steadyllm bills it once, so compare only
    # where the catalog prices cached audio or no audio is cached.
    usage = data.draw(audio_usages(cached_audio=price.cache_audio_read is not None))
    assert price.cost(usage) == pytest.approx(catalog_cost(catalog, model, usage), rel=1e-9)


def test_audio_is_billed_at_the_audio_rate_not_as_text() -> None:
    price = price_of("openai", "gpt-audio")
    assert price.input_audio is not None and price.output_audio is not None
    spoken = sl.Usage(prompt_tokens=1_000, completion_tokens=500, audio_prompt_tokens=800)
    written = sl.Usage(prompt_tokens=1_000, completion_tokens=500)
    extra = 800 * (price.input_audio.base - price.input.base) / 1e6
    assert price.cost(spoken) - price.cost(written) == pytest.approx(extra)
    answered = sl.Usage(prompt_tokens=1_000, completion_tokens=500, audio_completion_tokens=500)
    extra = 500 * (price.output_audio.base - price.output.base) / 1e6
    assert price.cost(answered) - price.cost(written) == pytest.approx(extra)


def test_cached_audio_is_billed_once_at_its_own_rate() -> None:
    both = ModelPrice(
        Rate(1.0), Rate(2.0), Rate(0.1), input_audio=Rate(10.0), cache_audio_read=Rate(0.5)
    )
    usage = sl.Usage(
        prompt_tokens=1_000, cached_tokens=600, audio_prompt_tokens=500, cached_audio_tokens=400
    )
    # 300 text fresh, 100 audio fresh, 200 text cached, 400 audio cached
    assert both.cost(usage) == pytest.approx((300 * 1 + 100 * 10 + 200 * 0.1 + 400 * 0.5) / 1e6)
    # no cached-audio rate: cached audio is a cache read like any other
    reads = ModelPrice(Rate(1.0), Rate(2.0), Rate(0.1), input_audio=Rate(10.0))
    assert reads.cost(usage) == pytest.approx((300 * 1 + 100 * 10 + 600 * 0.1) / 1e6)


def test_counts_past_their_totals_never_give_a_negative_share() -> None:
    price = ModelPrice(Rate(1.0), Rate(2.0), input_audio=Rate(10.0), output_audio=Rate(20.0))
    odd = sl.Usage(
        prompt_tokens=100, completion_tokens=10, audio_prompt_tokens=500, audio_completion_tokens=50
    )
    assert price.cost(odd) == pytest.approx((100 * 10 + 10 * 20) / 1e6)  # all audio, no more


def test_a_model_without_audio_rates_prices_audio_as_text() -> None:
    plain = ModelPrice(Rate(2.5), Rate(10.0))
    usage = sl.Usage(prompt_tokens=64, completion_tokens=9, audio_prompt_tokens=44)
    assert plain.cost(usage) == plain.cost(sl.Usage(prompt_tokens=64, completion_tokens=9))


def test_a_real_recorded_audio_reply_is_priced_at_the_override_audio_rate() -> None:
    # pydantic-ai's cassette of gpt-4o-audio-preview hearing a WAV file
    # (tests/fixtures/recorded/SOURCES.md); genai-prices has no audio rate for
    # that model, so the rate comes from [prices].
    data = FIXTURES / "recorded/corpus/openai__test_audio_as_binary_content_input__0.json"
    request = Request(provider="openai", model="gpt-4o-audio-preview", messages=[sl.user("x")])
    usage = decode_response(request, 200, {}, data.read_bytes(), Dialect()).usage
    table = {"gpt-4o-audio-preview": {"input": 2.5, "output": 10, "input_audio": 40}}
    price = parse_prices(table, "prices")["gpt-4o-audio-preview"]
    assert price.cost(usage) == pytest.approx((20 * 2.5 + 44 * 40 + 9 * 10) / 1e6)


def test_prices_tables_take_audio_rates_and_name_them_when_wrong() -> None:
    table = {"m": {"input": 1, "output": 2, "output_audio": 8, "cache_audio_read": 0.5}}
    price = parse_prices(table, "prices")["m"]
    assert price.output_audio == Rate(8.0) and price.cache_audio_read == Rate(0.5)
    assert price.input_audio is None
    assert price.to_dict()["output_audio"] == {"base": 8.0, "tiers": []}
    with pytest.raises(sl.ConfigError, match="input_audio, output_audio, cache_audio_read"):
        parse_prices({"m": {"input": 1, "audio": 3}}, "prices")


def test_audio_rates_survive_the_disk_cache(tmp_path: Path) -> None:
    first = PriceBook(cache_dir=str(tmp_path)).lookup("gemini", "gemini-2.5-flash")
    again = PriceBook(cache_dir=str(tmp_path))
    assert not again.needs_catalog("gemini", "gemini-2.5-flash")
    assert again.lookup("gemini", "gemini-2.5-flash") == first
    assert first is not None and first.cache_audio_read is not None


def test_gemini_reports_audio_by_modality() -> None:
    # The usageMetadata shape of the Gemini API reference (ModalityTokenCount lists).
    metadata: dict[str, Any] = {
        "promptTokenCount": 1_200,
        "candidatesTokenCount": 40,
        "totalTokenCount": 1_240,
        "cachedContentTokenCount": 1_000,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 200},
            {"modality": "AUDIO", "tokenCount": 1_000},
        ],
        "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 900}, {"modality": "TEXT"}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
    }
    usage = usage_from(metadata, WHERE)
    assert usage is not None
    assert (usage.audio_prompt_tokens, usage.cached_audio_tokens) == (1_000, 900)
    assert usage.audio_completion_tokens == 0
    assert usage_from({"promptTokenCount": 3, "promptTokensDetails": "x"}, WHERE) == sl.Usage(3)
    with pytest.raises(sl.InvalidResponseError, match="tokenCount"):
        usage_from({"promptTokensDetails": [{"modality": "AUDIO", "tokenCount": -1}]}, WHERE)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("ref", "catalog"), [("openai:gpt-audio", "openai"), ("gemini:gemini-2.5-flash", "google")]
)
async def test_a_call_with_audio_is_booked_at_the_audio_rate(
    ref: str, catalog: str, stream: bool
) -> None:
    counts = {"prompt_tokens": 1_500, "completion_tokens": 300, "audio_prompt_tokens": 1_200}
    if catalog == "openai":
        counts["audio_completion_tokens"] = 250
    async with Emulator() as emu:
        emu.push(Behavior(text="heard you", usage=counts))
        async with sl.Client(emu.settings()) as client:
            if stream:
                async with client.stream(ref, [sl.user("listen")]) as s:
                    async for _ in s:
                        pass
                assert s.response is not None
                response = s.response
            else:
                response = await client.chat(ref, [sl.user("listen")])
            booked = client.costs.total_cost
    usage = response.usage
    assert usage.audio_prompt_tokens == 1_200
    assert usage.audio_completion_tokens == counts.get("audio_completion_tokens", 0)
    model = ref.split(":", 1)[1]
    expected = await asyncio.to_thread(catalog_cost, catalog, model, usage)
    assert usage.cost_usd == pytest.approx(expected, rel=1e-9)
    price = price_of(ref.split(":")[0], model)
    assert price.input_audio is not None
    as_text = price.cost(sl.Usage(1_500, 300))
    dearer = 1_200 * (price.input_audio.base - price.input.base) / 1e6
    if price.output_audio is not None:
        dearer += 250 * (price.output_audio.base - price.output.base) / 1e6
    assert usage.cost_usd is not None and dearer > 0
    assert usage.cost_usd - as_text == pytest.approx(dearer)
    assert booked == pytest.approx(expected)


def test_the_prices_command_lists_the_audio_rates(capsys: pytest.CaptureFixture[str]) -> None:
    from steadyllm._cli.main import main

    assert main(["prices", "openai:gpt-audio"]) == 0
    price = price_of("openai", "gpt-audio")
    assert price.input_audio is not None and price.output_audio is not None
    out = capsys.readouterr().out
    assert f"  {'input_audio':<16} {price.input_audio.base:g}\n" in out
    assert f"  {'output_audio':<16} {price.output_audio.base:g}\n" in out
    assert main(["prices", "anthropic:claude-sonnet-4-0"]) == 0
    assert "web_search       10 per thousand searches" in capsys.readouterr().out
