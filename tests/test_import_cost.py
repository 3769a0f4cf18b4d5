"""Importing steadyllm must stay cheap: heavy dependencies load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = {
    "dotenv",
    "aiohttp",
    "httpx",
    "pydantic",
    "redis",
    "opentelemetry",
    "genai_prices",
    "yarl",
    "multidict",
    "openai",
    "anthropic",
    "sqlite3",
    "orjson",
}


def test_import_loads_no_heavy_module() -> None:
    code = "import sys, json, steadyllm; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & HEAVY, f"imported eagerly: {sorted(loaded & HEAVY)}"
