"""What the Anthropic Messages API accepts, per API version: the ``Dialect``
(version, default output cap), and the forced tool that carries JSON output.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..._core.types import Request

VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_MAX_TOKENS = 4096
JSON_TOOL = "json_output"


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one API version accepts, and the output cap sent when a call sets none."""

    version: str = "2023-06-01"
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    provider: str = "anthropic"


def _uses_json_tool(request: Request) -> bool:
    return request.response_format is not None
