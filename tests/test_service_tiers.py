"""Service tiers priced at their own rates: OpenAI's ``priority`` (and ``fast``) and
``flex`` tiers cost what genai-prices says for that tier, checked against
genai-prices' own calculation, through the disk cache, and end to end over HTTP
(the emulator reports the tier it was asked for, as OpenAI does)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

import steadyllm as sl
from steadyllm._config.prices import ModelPrice, Rate
from steadyllm._metering.prices import PriceBook
from steadyllm.emulator import Behavior, Emulator

USAGE = sl.Usage(prompt_tokens=1_200, completion_tokens=300, cached_tokens=200)


def catalog_cost(model: str, usage: sl.Usage, tier: str | None) -> float:
    """genai-prices' own price of ``usage`` at ``tier`` (our usage counts cache reads
    inside the prompt, as genai-prices' input_tokens does)."""
    import genai_prices

    calc = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            cache_read_tokens=usage.cached_tokens,
        ),
        model,
        provider_id="openai",
        price_context=None if tier is None else {"service_tier": tier},
    )
    return float(Decimal(calc.total_price))


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-5"])
def test_each_tier_costs_what_the_catalog_says(model: str) -> None:
    price = PriceBook(cache_dir=None).lookup("openai", model)
    assert price is not None
    tiers = dict(price.service_tiers)
    assert "priority" in tiers and "default" not in tiers  # default is the base price
    for tier in (*tiers, "default", None):
        assert price.for_tier(tier).cost(USAGE) == pytest.approx(
            catalog_cost(model, USAGE, tier), rel=1e-9
        ), tier
    assert price.for_tier("priority").cost(USAGE) > price.cost(USAGE)
    assert price.for_tier("auto") is price  # a tier the catalog does not price apart
    if model == "gpt-5":
        assert price.for_tier("flex").cost(USAGE) < price.cost(USAGE)


def test_the_tiers_survive_the_disk_cache(tmp_path: Path) -> None:
    first = PriceBook(cache_dir=str(tmp_path)).lookup("openai", "gpt-5")
    again = PriceBook(cache_dir=str(tmp_path))
    assert not again.needs_catalog("openai", "gpt-5")  # read from the file
    assert again.lookup("openai", "gpt-5") == first
    assert first is not None and len(first.service_tiers) >= 2


def test_an_override_has_one_price_for_every_tier() -> None:
    flat = ModelPrice(Rate(1.0), Rate(2.0))
    assert flat.for_tier("priority") is flat and flat.to_dict()["service_tiers"] == {}


async def test_a_call_is_priced_at_the_tier_that_served_it() -> None:
    price = await asyncio.to_thread(PriceBook(cache_dir=None).lookup, "openai", "gpt-4o")
    assert price is not None
    expected = {tier: price.for_tier(tier).cost(USAGE) for tier in ("priority", "default")}
    assert expected["priority"] > expected["default"]
    async with Emulator() as emu:
        reported = {"prompt_tokens": 1_200, "completion_tokens": 300, "cached_tokens": 200}
        emu.push(Behavior(usage=reported, times=4))
        async with sl.Client(emu.settings()) as client:
            for tier in ("priority", "default"):
                extra = {"service_tier": tier}
                response = await client.chat("openai:gpt-4o", [sl.user("x")], extra=extra)
                assert response.service_tier == tier
                assert response.usage.cost_usd == pytest.approx(expected[tier])
                async with client.stream("openai:gpt-4o", [sl.user("x")], extra=extra) as s:
                    async for _ in s:
                        pass
                assert s.response is not None and s.response.service_tier == tier
                assert s.response.usage.cost_usd == pytest.approx(expected[tier])


async def test_the_budget_judges_a_call_at_the_tier_it_asks_for() -> None:
    price = await asyncio.to_thread(PriceBook(cache_dir=None).lookup, "openai", "gpt-4o")
    assert price is not None
    worst = {t: price.for_tier(t).estimate(10, 1_000) for t in ("default", "priority")}
    cap = (worst["default"] + worst["priority"]) / 2  # the default fits, priority does not
    async with Emulator() as emu:
        settings = emu.settings(max_cost_per_request_usd=cap)
        async with sl.Client(settings) as client:
            ask = [sl.user("x")]
            assert (await client.chat("openai:gpt-4o", ask, max_tokens=1_000)).text
            with pytest.raises(sl.BudgetExceededError, match="MAX_COST_PER_REQUEST_USD"):
                await client.chat(
                    "openai:gpt-4o", ask, max_tokens=1_000, extra={"service_tier": "priority"}
                )
            assert len(emu.requests) == 1  # refused before sending


def test_the_prices_command_lists_each_tier(capsys: pytest.CaptureFixture[str]) -> None:
    from steadyllm._cli.main import main

    assert main(["prices", "openai:gpt-5"]) == 0
    out = capsys.readouterr().out
    rates = PriceBook(cache_dir=None).lookup("openai", "gpt-5")
    assert rates is not None
    flex = rates.for_tier("flex")
    listed = out.split("service tier flex (extra={'service_tier': 'flex'}):\n")[1]
    assert listed.startswith(
        f"    {'input':<16} {flex.input.base:g}\n    {'output':<16} {flex.output.base:g}\n"
    )
    assert "service tier priority" in out


def test_a_recorded_flex_reply_is_priced_at_flex() -> None:
    """A real Responses API stream served at the flex tier (pydantic/pydantic-ai
    tests/models/cassettes/test_openai_responses/test_openai_responses_streaming_usage.yaml,
    in corpus/INDEX.json): priced at half gpt-5's base rates, as OpenAI bills flex."""
    import json

    corpus = Path(__file__).parent / "fixtures" / "recorded" / "corpus"
    body = (corpus / "openai_responses__test_openai_responses_streaming_usage__0.sse").read_text()
    completed = next(
        json.loads(line[len("data: ") :])
        for line in body.splitlines()
        if line.startswith("data: ") and '"response.completed"' in line
    )["response"]
    assert completed["service_tier"] == "flex"
    price = PriceBook(cache_dir=None).lookup("openai", "gpt-5")
    assert price is not None
    assert price.for_tier("flex").input.base == pytest.approx(price.input.base / 2)
    assert price.for_tier("flex").output.base == pytest.approx(price.output.base / 2)
