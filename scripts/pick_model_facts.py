"""Pick the model facts steadyllm bundles (src/steadyllm/_metering/model_facts.json)
from LiteLLM's model table, the most complete maintained list of context windows
and output caps (MIT-licensed): ``python scripts/pick_model_facts.py
PATH/model_prices_and_context_window.json LITELLM_VERSION``.

Keeps the chat and embedding models of the providers steadyllm serves, under its
own provider names, with the window, the output cap, the modalities and what
each supports; prices stay with genai-prices.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "steadyllm" / "_metering" / "model_facts.json"
#: LiteLLM's provider name -> steadyllm's, and the prefix LiteLLM's keys carry.
PROVIDERS = {
    "openai": ("openai", ""),
    "anthropic": ("anthropic", ""),
    "gemini": ("gemini", "gemini/"),
    "vertex_ai-language-models": ("vertex", ""),
    "vertex_ai-embedding-models": ("vertex", ""),
    "groq": ("groq", "groq/"),
    "deepseek": ("deepseek", "deepseek/"),
    "mistral": ("mistral", "mistral/"),
    "xai": ("xai", "xai/"),
    "together_ai": ("together", "together_ai/"),
    "fireworks_ai": ("fireworks", "fireworks_ai/"),
    "cerebras": ("cerebras", "cerebras/"),
    "openrouter": ("openrouter", "openrouter/"),
}
MODES = {"chat": "chat", "responses": "chat", "embedding": "embedding"}


def _modalities(entry: dict[str, Any]) -> list[str]:
    found = list(entry.get("supported_modalities") or ["text"])
    if entry.get("supports_vision") and "image" not in found:
        found.append("image")
    if entry.get("supports_pdf_input"):
        found.append("pdf")
    if entry.get("supports_audio_input") and "audio" not in found:
        found.append("audio")
    return found


def fact(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": MODES[entry["mode"]]}
    for key, name in (("max_input_tokens", "window"), ("max_output_tokens", "output")):
        if isinstance(entry.get(key), int):
            out[name] = entry[key]
    if entry["mode"] == "embedding":
        if isinstance(entry.get("output_vector_size"), int):
            out["dimensions"] = entry["output_vector_size"]
        return out
    out["input"] = _modalities(entry)
    out["output_modalities"] = list(entry.get("supported_output_modalities") or ["text"])
    for key, name in (
        ("supports_function_calling", "tools"),
        ("supports_response_schema", "structured_output"),
        ("supports_reasoning", "reasoning"),
    ):
        out[name] = bool(entry.get(key))
    return out


def main(source: Path, version: str) -> None:
    table = json.loads(source.read_text())
    models: dict[str, Any] = {}
    for key, entry in sorted(table.items()):
        if not isinstance(entry, dict) or entry.get("mode") not in MODES:
            continue
        mapped = PROVIDERS.get(str(entry.get("litellm_provider")))
        if mapped is None:
            continue
        provider, prefix = mapped
        models[f"{provider}:{key.removeprefix(prefix)}"] = fact(entry)
    data = {
        "source": f"LiteLLM {version}, model_prices_and_context_window.json (MIT)",
        "as_of": datetime.date.today().isoformat(),
        "models": models,
    }
    OUT.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{len(models)} models -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
