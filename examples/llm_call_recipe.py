"""The pipeline step as you already write it: a config, a recorder of your own, one await.

    python examples/llm_call_recipe.py                          # offline, the fake provider
    OPENAI_API_KEY=sk-... EXAMPLE_MODEL=openai:gpt-4o-mini python examples/llm_call_recipe.py

No client is passed: the step uses one default client built from the environment
(retries, limits, budgets, costs and the request log as configured), closed at exit.
The recorder is any object with ``record_step_start`` and ``record_step_end``.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import steadyllm as sl


class PrintingRecorder:
    """Your own store (a database table, a queue): here, lines on stdout."""

    def __init__(self) -> None:
        self.ended: list[dict[str, Any]] = []

    def record_step_start(self, flow_id: str, step_id: str, payload: dict[str, Any]) -> None:
        print(f"start {flow_id}/{step_id} model={payload['model']}")

    async def record_step_end(
        self, flow_id: str, step_id: str, status: str, payload: dict[str, Any]
    ) -> None:
        self.ended.append({"step": step_id, "status": status, **payload})
        usage = payload["usage"]
        print(
            f"end {flow_id}/{step_id} {status}: {usage['total_tokens']} tokens, "
            f"${usage['cost_usd'] or 0:.6f}"
            + (f" ({payload['reason']})" if "reason" in payload else "")
        )


async def main() -> None:
    model = os.environ.get("EXAMPLE_MODEL", "fake:echo")
    recorder = PrintingRecorder()
    config = {
        "model": model,
        "system": "Answer in one short sentence.",
        "template": "Summarise for {{audience}}: {{text}}",
        "vars": {"audience": "a busy reader"},
        "max_tokens": 100,
    }
    result = await sl.run_llm_call(
        "report", "summary", config, recorder, variables={"text": "Tides rise twice a day."}
    )
    print(result.record.status, "->", result.text)
    # A step that cannot be rendered is recorded as an error, not raised.
    broken = await sl.run_llm_call(
        "report", "broken", {"model": model, "template": "{{missing}}"}, recorder
    )
    print(broken.record.status, "->", broken.record.reason)
    print(json.dumps([e["status"] for e in recorder.ended]))


if __name__ == "__main__":
    asyncio.run(main())
