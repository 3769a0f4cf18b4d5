"""The fleet's cost counters, shared by every process through Redis.

The fleet's totals by model, provider, agent, run and project are summed in
memory and written in the background in batches, at most one write per
``LINGER`` (50 ms) and one in flight; each batch carries an id,
so a batch re-sent after a lost reply is not counted twice, and memory stays
bounded while Redis is away.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import fields
from typing import Any

from .._core.redact import get_logger
from .._metering.costs import DIMENSIONS, Spend, Totals, accumulate, group_keys
from .state import RetryingWriter, SharedState, SharedStateUnavailableError, as_text

logger = get_logger("steadyllm")

#: Written batch ids are remembered this long (seconds) so a re-sent batch is a no-op.
_REMEMBER = 3600
#: Seconds the counters of a call wait for others' before they are written: one
#: call at a time would otherwise pay a round trip each (~100 µs of CPU) for
#: counters the fleet reads rarely. ``fleet_costs()`` and closing write at once.
LINGER = 0.05

# KEYS: counters hash, this call's id key. ARGV: ttl ms, then (field, increment) pairs.
ADD_COSTS = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


_FIELDS = tuple(f.name for f in fields(Totals))


def _counters(groups: dict[tuple[str, str], Totals]) -> dict[str, float]:
    """The non-zero counters of ``groups``, named ``dimension<TAB>key<TAB>field``."""
    out: dict[str, float] = {}
    for (dim, key), totals in groups.items():
        for name in _FIELDS:
            value = getattr(totals, name)
            if value:
                out[f"{dim}\t{key}\t{name}"] = value
    return out


class SharedCosts:
    """The fleet's cost totals in one Redis hash, written in background batches.

    Increments are summed in memory until the writer takes them: a batch is
    sealed with an id and written by one script, and re-sent with the same id
    until Redis confirms it, so it is counted exactly once. Memory stays
    bounded by the number of distinct counters, however long Redis is away."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared
        #: Totals per (dimension, key) since the last sealed batch; spelled out as
        #: counters only when sealed, so a call costs one ``accumulate`` per group.
        self._open: dict[tuple[str, str], Totals] = {}
        self._sealed: tuple[str, dict[str, float]] | None = None
        self._writer = RetryingWriter(self.flush, LINGER)
        self._flushing = asyncio.Lock()
        self._hash = shared.key("costs")

    @property
    def pending(self) -> int:
        """Counters waiting to be written (0 when everything reached Redis)."""
        return len(_counters(self._open)) + (len(self._sealed[1]) if self._sealed else 0)

    def add(self, spend: Spend) -> None:
        groups = (("total", ""), *zip(DIMENSIONS, group_keys(spend), strict=True))
        for group in groups:
            totals = self._open.get(group)
            if totals is None:
                totals = self._open[group] = Totals()
            accumulate(totals, spend)  # what one call adds, as the local tracker counts it
        self._writer.kick()

    async def flush(self) -> bool:
        """Write what has accumulated; True when nothing is left."""
        async with self._flushing:  # one writer at a time
            while True:
                if self._sealed is None:
                    counters = _counters(self._open)
                    self._open = {}
                    if not counters:
                        return True
                    self._sealed = (uuid.uuid4().hex, counters)
                batch_id, counters = self._sealed
                args: list[Any] = [_REMEMBER * 1000]
                for counter, value in counters.items():
                    args += [counter, repr(value)]
                keys = [self._hash, self.shared.key("costs", "seen", batch_id)]
                try:
                    await self.shared.run("costs", ADD_COSTS, keys, args)
                except SharedStateUnavailableError:
                    return False
                self._sealed = None

    async def summary(self) -> dict[str, Any]:
        """The fleet's totals, in the shape of ``client.costs.summary()``."""
        raw = await self.shared.read("costs", lambda redis: redis.hgetall(self._hash))
        out: dict[str, Any] = {"total": dict.fromkeys(_FIELDS, 0)}
        for dim in DIMENSIONS:
            out[f"by_{dim}"] = {}
        for packed, value in raw.items():
            dim, key, name = as_text(packed).split("\t")
            number = float(as_text(value))
            group = (
                out["total"]
                if dim == "total"
                else out[f"by_{dim}"].setdefault(key, dict.fromkeys(_FIELDS, 0))
            )
            group[name] = number if name.endswith("_usd") else round(number)
        for dim in DIMENSIONS:
            out[f"by_{dim}"] = dict(sorted(out[f"by_{dim}"].items()))
        return out

    async def aclose(self) -> None:
        if not await self._writer.drain():
            logger.error(
                "%d cost counters could not be written to Redis before the client closed",
                self.pending,
            )
