"""Embeddings: the vectors of one ``client.embed`` call, kept compact.

A vector is an ``array('f')`` (4-byte floats: what the providers compute and
send), not a list of Python floats: 1,536 numbers take 6 KiB instead of ~49 KiB,
and numpy wraps the buffer without a copy (``as_numpy``). Providers that can
send base64 (OpenAI, Azure) are asked to, so the bytes go straight into the array.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, InvalidResponseError
from .types import Response, Vector
from .usage import Usage


def vector_to_base64(vector: Vector) -> str:
    """A vector as base64 float32 little-endian bytes, as OpenAI sends them."""
    if sys.byteorder == "big":
        vector = array("f", vector)
        vector.byteswap()
    return base64.b64encode(vector.tobytes()).decode("ascii")


def vector_from_base64(data: str, *, provider: str, model: str) -> Vector:
    """Little-endian float32 bytes, base64-encoded (OpenAI's ``encoding_format``)."""
    try:
        raw: bytes | None = base64.b64decode(data, validate=True)
    except ValueError:
        raw = None
    if raw is None or len(raw) % 4:
        raise InvalidResponseError(
            f"{provider} sent an embedding that is not base64 float32 data",
            provider=provider,
            model=model,
        )
    vector = array("f", raw)
    if sys.byteorder == "big":
        vector.byteswap()
    return vector


def vector_from_list(values: Any, *, provider: str, model: str) -> Vector:
    """A JSON list of numbers."""
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise InvalidResponseError(
            f"{provider} sent an embedding that is not a list of numbers",
            provider=provider,
            model=model,
        )
    return array("f", values)


@dataclass(slots=True)
class Embeddings:
    """One vector per input, in the inputs' order, with the call's usage and cost
    (summed over its batches) and each batch's ``Response``."""

    vectors: list[Vector]
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    #: Each request the inputs were split into, in order.
    responses: list[Response] = field(default_factory=list, repr=False)

    @property
    def dimensions(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0

    @property
    def cost_usd(self) -> float | None:
        return self.usage.cost_usd

    @property
    def cached(self) -> bool:
        """Every batch was answered from the cache."""
        return bool(self.responses) and all(r.cached for r in self.responses)

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, index: int) -> Vector:
        return self.vectors[index]

    def __iter__(self) -> Iterator[Vector]:
        return iter(self.vectors)

    def as_lists(self) -> list[list[float]]:
        """The vectors as lists of Python floats (for JSON, or a library that wants them)."""
        return [v.tolist() for v in self.vectors]

    def as_numpy(self) -> Any:
        """The vectors as one ``float32`` matrix (inputs by dimensions), built from the
        arrays' buffers. Needs numpy."""
        try:
            import numpy  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise ConfigError("as_numpy() needs numpy: pip install numpy") from None
        if not self.vectors:
            return numpy.zeros((0, 0), dtype=numpy.float32)
        rows: Sequence[Any] = [numpy.frombuffer(v, dtype=numpy.float32) for v in self.vectors]
        return numpy.vstack(rows)
