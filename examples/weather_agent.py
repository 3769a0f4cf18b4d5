"""A tool-using agent with structured output, cost accounting and retries built in.

python examples/weather_agent.py              # offline: the fake provider plays the model
OPENAI_API_KEY=sk-... python examples/weather_agent.py       # the same code, for real
ANTHROPIC_API_KEY=... EXAMPLE_MODEL=anthropic:claude-sonnet-4-5 python examples/weather_agent.py
"""

from __future__ import annotations

import asyncio
import json
import os

import pydantic

import steadyllm as sl


@sl.tool
def current_weather(city: str) -> dict[str, object]:
    """Current conditions for a city.

    Args:
        city: The city name, e.g. "Lyon".
    """
    fixtures = {"lyon": ("drizzle", 11), "nice": ("sunny", 19)}
    sky, temp = fixtures.get(city.lower(), ("clear", 15))
    return {"city": city, "sky": sky, "temp_c": temp}


class Advice(pydantic.BaseModel):
    city: str
    take_umbrella: bool
    reason: str


def pick_model() -> tuple[str, dict[str, sl.Provider] | None]:
    """A real model when a key is set; otherwise the fake provider, scripted like one."""
    model = os.environ.get("EXAMPLE_MODEL")
    if model or os.environ.get("OPENAI_API_KEY"):
        return model or "openai:gpt-4o-mini", None
    script = [
        sl.FakeReply(
            tool_calls=[
                sl.ToolCall("call_1", "current_weather", '{"city": "Lyon"}'),
                sl.ToolCall("call_2", "current_weather", '{"city": "Nice"}'),
            ]
        ),
        sl.FakeReply("Lyon has drizzle at 11°C; Nice is sunny at 19°C."),
        sl.FakeReply(json.dumps({"city": "Lyon", "take_umbrella": True, "reason": "drizzle"})),
    ]
    return "fake:weather-agent", {"fake": sl.FakeProvider(script)}


async def main() -> None:
    model, providers = pick_model()
    async with sl.Client.from_env(providers=providers) as client:
        with sl.context(run_id="weather-demo", agent="forecaster"):
            run = await client.chat_with_tools(
                model,
                [sl.user("What is the weather in Lyon and in Nice?")],
                tools=[current_weather],
                max_iterations=5,
            )
            print(run.text)
            for ex in run.executions:
                print(f"  tool {ex.call.name}({ex.arguments}) -> {ex.result or ex.error}")
            advice = await client.chat_json(
                model,
                [
                    sl.user(
                        f"Given this forecast: {run.text} Should I take an umbrella in "
                        "Lyon? Answer as JSON."
                    )
                ],
                schema=Advice,
            )
            print(advice)
        total = client.costs.summary()["total"]
        cost = "unknown" if total["unpriced_calls"] else f"${total['cost_usd']:.6f}"
        print(f"{total['calls']} model calls, {total['total_tokens']} tokens, cost {cost}")


if __name__ == "__main__":
    asyncio.run(main())
