"""Facts about models: context window, output cap, modalities, what each supports.

genai-prices (the price source) carries a context window for some models and
nothing else, so the facts come from a bundled, dated file picked from LiteLLM's
model table (``model_facts.json``, made by ``scripts/pick_model_facts.py``),
overridden and extended by the ``[models]`` table of steadyllm.toml. The file is
read on first use (a few milliseconds), never at import.

A model string is looked up as given, then under the provider whose models it
serves (``openai-responses:`` and ``azure:`` deployments named after their
model as ``openai:``), then by its longest known prefix, so a dated version
(``gpt-4.1-2025-04-14``) finds its family.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._config.settings import Settings

#: Providers whose models are another's, by that other's name.
SAME_MODELS = {
    "openai-responses": "openai",
    "azure": "openai",
    "azure-responses": "openai",
}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What is known about one model. ``None``: not known."""

    provider: str
    model: str
    #: The most tokens of input (prompt) the model takes.
    context_window: int | None = None
    #: The most tokens it can generate in one reply.
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    tools: bool | None = None
    structured_output: bool | None = None
    reasoning: bool | None = None
    #: An embedding model (``client.embed``), with the size of its vectors.
    embeddings: bool = False
    dimensions: int | None = None
    #: Where the facts came from: the bundled file (its source and date), or
    #: ``steadyllm.toml [models]``.
    source: str = ""

    @property
    def model_id(self) -> str:
        return f"{self.provider}:{self.model}"


@functools.cache
def bundled() -> tuple[str, dict[str, dict[str, Any]]]:
    """The bundled facts: their source (with the date they were picked) and the table."""
    data = json.loads(Path(__file__).with_name("model_facts.json").read_text("utf-8"))
    return f"{data['source']}, picked {data['as_of']}", data["models"]


def _info(provider: str, model: str, fact: Mapping[str, Any], source: str) -> ModelInfo:
    embeddings = fact.get("embeddings", fact.get("mode") == "embedding")
    return ModelInfo(
        provider,
        model,
        context_window=fact.get("context_window", fact.get("window")),
        max_output_tokens=fact.get("max_output_tokens", fact.get("output")),
        input_modalities=tuple(fact.get("input_modalities", fact.get("input", ("text",)))),
        output_modalities=tuple(fact.get("output_modalities", ("text",))),
        tools=fact.get("tools"),
        structured_output=fact.get("structured_output"),
        reasoning=fact.get("reasoning"),
        embeddings=bool(embeddings),
        dimensions=fact.get("dimensions"),
        source=source,
    )


def _find(table: Mapping[str, Any], provider: str, model: str) -> Mapping[str, Any] | None:
    """The facts of ``provider:model``: exact, under the provider that serves the same
    models, or by the longest known prefix of the model's name (a dated version)."""
    for name in (provider, SAME_MODELS.get(provider)):
        if name is None:
            continue
        key = f"{name}:{model}"
        if key in table:
            return table[key]  # type: ignore[no-any-return]
        best = max(
            (k for k in table if key.startswith(k) and key[len(k)] in "-@:"),
            key=len,
            default=None,
        )
        if best is not None:
            return table[best]  # type: ignore[no-any-return]
    return None


def lookup(
    provider: str, model: str, overrides: Mapping[str, Any] | None = None
) -> ModelInfo | None:
    """The facts of ``provider:model``: ``overrides`` (the ``[models]`` table) over the
    bundled file, key by key; None when neither knows the model."""
    source, table = bundled()
    found = _find(table, provider, model)
    override = (overrides or {}).get(f"{provider}:{model}")
    if override is None and found is None:
        return None
    if override is None:
        return _info(provider, model, found or {}, source)
    merged = {**_normalized(found or {}), **override}
    return _info(provider, model, merged, "steadyllm.toml [models]")


def _normalized(fact: Mapping[str, Any]) -> dict[str, Any]:
    """The bundled file's short keys under the ``[models]`` table's names."""
    info = _info("", "", fact, "")
    return {
        "context_window": info.context_window,
        "max_output_tokens": info.max_output_tokens,
        "input_modalities": list(info.input_modalities),
        "output_modalities": list(info.output_modalities),
        "tools": info.tools,
        "structured_output": info.structured_output,
        "reasoning": info.reasoning,
        "embeddings": info.embeddings,
        "dimensions": info.dimensions,
    }


def model_info(model: str, settings: Settings | None = None) -> ModelInfo | None:
    """Facts about ``model`` (``"provider:model"`` or an alias): context window,
    output cap, modalities, support for tools, structured output and reasoning. The
    ``[models]`` table of ``settings`` (default: none) overrides the bundled facts.
    None when the model is unknown."""
    from .._config.routing import parse_model

    aliases = settings.aliases if settings is not None else {}
    ref = parse_model(model, aliases=aliases)
    return lookup(ref.provider, ref.model, settings.models if settings is not None else None)


def known_models(provider: str | None = None, settings: Settings | None = None) -> list[ModelInfo]:
    """Every model with known facts (of ``provider``, if given), sorted by id."""
    table = bundled()[1]
    overrides = settings.models if settings is not None else {}
    keys = sorted(set(table) | set(overrides))
    found = []
    for key in keys:
        name, _, model = key.partition(":")
        if provider is None or name == provider:
            info = lookup(name, model, overrides)
            if info is not None:
                found.append(info)
    return found
