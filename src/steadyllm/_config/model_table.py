"""The ``[models]`` table of steadyllm.toml: facts about a model that override (or
add to) the bundled ones, e.g. a fine-tune or a local model::

    [models."vllm:qwen3-32b"]
    context_window = 32768
    max_output_tokens = 8192
    tools = true
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._core.errors import ConfigError

#: Each key a model's table may hold, and the type of its value.
FIELDS: dict[str, type] = {
    "context_window": int,
    "max_output_tokens": int,
    "input_modalities": list,
    "output_modalities": list,
    "tools": bool,
    "structured_output": bool,
    "reasoning": bool,
    "embeddings": bool,
    "dimensions": int,
}


def _valid(name: str, value: Any) -> bool:
    kind = FIELDS.get(name)
    if kind is None:
        return False
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, bool)


def parse_models(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    """``{"provider:model": {"context_window": 32768, ...}}``, checked."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"invalid models in {where}: expected a table per model")
    out: dict[str, dict[str, Any]] = {}
    for key, table in raw.items():
        if ":" not in str(key) or not isinstance(table, Mapping):
            raise ConfigError(
                f"invalid model facts for {key!r} in {where}: use a table named "
                '"provider:model", e.g. [models."vllm:qwen3-32b"] context_window = 32768'
            )
        for name, value in table.items():
            if not _valid(str(name), value):
                raise ConfigError(
                    f"invalid model fact {name}={value!r} for {key!r} in {where}: use "
                    "context_window, max_output_tokens, dimensions (whole numbers >= 1), "
                    "input_modalities, output_modalities (lists of strings), tools, "
                    "structured_output, reasoning, embeddings (true or false)"
                )
        out[str(key)] = dict(table)
    return out
