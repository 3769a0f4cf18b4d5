"""Model strings: ``provider:model``, split at the first colon only.

The model part is passed to the provider untouched, so names such as
``ollama:llama3:8b`` or ``openrouter:meta-llama/llama-3-70b`` survive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .._core.errors import ConfigError


class ModelRef(NamedTuple):
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model(
    name: str | None,
    *,
    aliases: Mapping[str, str] | None = None,
    default_provider: str | None = None,
    default_model: str | None = None,
) -> ModelRef:
    """Resolve an alias or a ``provider:model`` string (aliases may not chain)."""
    if name is None:
        if not default_model:
            raise ConfigError(
                "no model given and no default model set; pass a model such as "
                "'openai:gpt-4o-mini' or set LLM_DEFAULT_MODEL"
            )
        name = default_model
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model must be a non-empty 'provider:model' string, got {name!r}")
    name = name.strip()
    if aliases and name in aliases:
        name = aliases[name]
    provider, sep, model = name.partition(":")
    if not sep:
        if default_provider:
            return ModelRef(default_provider, name)
        raise ConfigError(
            f"model {name!r} names no provider; write it as 'provider:model' "
            f"(e.g. 'openai:{name}'), define an alias, or set LLM_PROVIDER"
        )
    if not provider or not model:
        raise ConfigError(f"model {name!r} must have the form 'provider:model'")
    return ModelRef(provider, model)
