"""Budgets shared by every process through Redis.

Budgets work as in-process (``_costs.Budgets``): a call reserves its worst
case in every budget it falls under, atomically across budgets and
processes, and the reservation is replaced by the real cost afterwards, so
spent plus reserved never passes a limit. Each reservation has an id and an
expiry (the call's deadline plus ten minutes): one left behind by a dead
process is released when it expires, and settling is idempotent, so a
retried or late settle never counts twice. A settle that cannot reach Redis
is queued and written when Redis answers again (nothing is lost while the
process lives). Reserving fails closed by default (``SharedStateError``) or,
with ``REDIS_BUDGETS_ON_FAILURE=open``, against this process's own budgets.
(The fleet's cost counters are in ``costs.py``.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from .._core.context import Context
from .._core.errors import BudgetExceededError
from .._core.redact import get_logger
from .._metering.costs import (
    BudgetReservation,
    Budgets,
)
from .state import LUA_NOW, RetryingWriter, SharedState, SharedStateUnavailableError, as_text

logger = get_logger("steadyllm")

#: Seconds a reservation outlives its call's deadline before it counts as abandoned.
HOLD_GRACE = 600.0

_PRUNE = """
local function prune(h, z, now)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do
    redis.call('ZREM', z, m)
    if string.sub(m, 1, 2) == 'x:' then
      redis.call('HDEL', h, 'r:' .. string.sub(m, 3))
    else
      local v = tonumber(redis.call('HGET', h, 'r:' .. m))
      if v then
        local r = math.max(0, tonumber(redis.call('HGET', h, 'reserved') or '0') - v)
        redis.call('HSET', h, 'reserved', tostring(r), 'r:' .. m, 'x')
        redis.call('ZADD', z, now + 3600, 'x:' .. m)
      end
    end
  end
end
"""

# KEYS: (hash, held) per budget. ARGV: now, id, amount, hold seconds, then per budget
# its limit and how long its keys live after their last use (ms; 0 = for ever).
RESERVE = (
    LUA_NOW
    + _PRUNE
    + """
local now = script_now(ARGV[1])
local id, amount = ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 2
for i = 1, n do prune(KEYS[2 * i - 1], KEYS[2 * i], now) end
if redis.call('HEXISTS', KEYS[1], 'r:' .. id) == 1 then return {'ok'} end
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local spent = tonumber(redis.call('HGET', h, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', h, 'reserved') or '0')
  if spent + reserved + amount > tonumber(ARGV[3 + 2 * i]) + 1e-12 then
    return {'over', tostring(i), tostring(spent), tostring(reserved)}
  end
end
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HINCRBYFLOAT', h, 'reserved', ARGV[3])
  redis.call('HSET', h, 'r:' .. id, ARGV[3], 'limit', ARGV[3 + 2 * i])
  redis.call('ZADD', z, now + tonumber(ARGV[4]), id)
  if ARGV[4 + 2 * i] ~= '0' then
    redis.call('PEXPIRE', h, ARGV[4 + 2 * i])
    redis.call('PEXPIRE', z, ARGV[4 + 2 * i])
  end
end
return {'ok'}
"""
)

# KEYS: (hash, held) per budget. ARGV: now, id, cost, '1' when the cost is an estimate.
SETTLE = (
    LUA_NOW
    + """
local now = script_now(ARGV[1])
local id, cost = ARGV[2], tonumber(ARGV[3])
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local v = redis.call('HGET', h, 'r:' .. id)
  if v ~= 's' then
    if v and v ~= 'x' then
      local r = math.max(0, tonumber(redis.call('HGET', h, 'reserved') or '0') - tonumber(v))
      redis.call('HSET', h, 'reserved', tostring(r))
      redis.call('ZREM', z, id)
    end
    if cost > 0 then
      redis.call('HINCRBYFLOAT', h, 'spent', ARGV[3])
      if ARGV[4] == '1' then redis.call('HINCRBYFLOAT', h, 'estimated', ARGV[3]) end
    end
    redis.call('HSET', h, 'r:' .. id, 's')
    redis.call('ZADD', z, now + 3600, 'x:' .. id)
  end
end
return 1
"""
)

#: A run's budget is kept this long after its last call; global and agent budgets for ever.
RUN_BUDGET_TTL_MS = 7 * 86_400_000


def _ttl_ms(name: str) -> int:
    return RUN_BUDGET_TTL_MS if name.startswith("run ") else 0


@dataclass(slots=True)
class SharedHold:
    """One call's reservation in the shared budgets."""

    owner: SharedBudgets
    keys: list[str]
    id: str
    amount: float
    settled: bool = False
    #: Set when Redis was down and the budget fails open: the local reservation.
    local: BudgetReservation | None = None

    def settle_soon(self, cost: float | None) -> Awaitable[None] | None:
        """Settle at ``cost``: marked settled now, written to Redis by a task (await
        it for the write; a caller cancelled meanwhile leaves no hold unsettled)."""
        if self.settled:
            return None
        self.settled = True
        if self.local is not None:
            self.local.settle(cost)
        return self.owner.shared.background(self.owner.settle(self, cost or 0.0))

    def release(self, cost: float | None = None) -> None:
        """The call was abandoned: book ``cost`` (an estimate, or None: nothing was spent)
        in the background, so a cancelled call is never held up."""
        if not self.settled:
            self.settled = True
            if self.local is not None:
                self.local.release(cost)
            self.owner.shared.background(
                self.owner.settle(self, cost or 0.0, estimated=cost is not None)
            )


@dataclass
class SharedBudgets:
    shared: SharedState
    local: Budgets
    pending: list[tuple[list[str], str, float, bool]] = field(default_factory=list)
    _flushing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._writer = RetryingWriter(self.flush)

    @property
    def active(self) -> bool:
        return self.local.active

    def _keys(self, names: list[str]) -> list[str]:
        keys = []
        for name in names:
            base = self.shared.key("budget", name)
            keys += [base, f"{base}:held"]
        return keys

    async def reserve(
        self, amount: float, ctx: Context | None, *, provider: str, model: str, hold_for: float
    ) -> SharedHold | None:
        wanted = self.local.wanted(ctx)
        if not wanted:
            return None
        keys = self._keys([name for name, _ in wanted])
        hold = SharedHold(self, keys, uuid.uuid4().hex, amount)
        args = [self.shared.now_arg(), hold.id, repr(amount), repr(hold_for + HOLD_GRACE)]
        try:
            result = await self.shared.run(
                "budgets",
                RESERVE,
                keys,
                [*args, *(v for name, limit in wanted for v in (repr(limit), _ttl_ms(name)))],
            )
        except asyncio.CancelledError:
            # The script may have run: settling the id at zero frees its hold now (and a
            # reserve that arrives after the settle finds the id settled and adds nothing).
            self.shared.background(self.settle(hold, 0.0))
            raise
        except SharedStateUnavailableError as exc:
            if not self.shared.budgets_fail_open:
                raise exc.error("the budget cannot be checked") from None
            hold.local = self.local.reserve(amount, ctx, provider=provider, model=model)
            return hold
        if as_text(result[0]) == "over":
            index, spent, reserved = int(result[1]) - 1, float(result[2]), float(result[3])
            name, limit = wanted[index]
            raise BudgetExceededError(
                f"the {name} budget of ${limit:.4f} (shared through Redis) would be exceeded: "
                f"${spent:.4f} spent, ${reserved:.4f} reserved by calls in flight, this call "
                f"may cost up to ${amount:.4f}; raise the budget or lower max_tokens",
                provider=provider,
                model=model,
            )
        return hold

    async def settle(self, hold: SharedHold, cost: float, *, estimated: bool = False) -> None:
        try:
            await self._settle(hold.keys, hold.id, cost, estimated)
        except SharedStateUnavailableError:
            self.pending.append((hold.keys, hold.id, cost, estimated))
            self._writer.kick()

    async def _settle(self, keys: list[str], hold_id: str, cost: float, estimated: bool) -> None:
        args = [self.shared.now_arg(), hold_id, repr(cost), "1" if estimated else "0"]
        await self.shared.run("budgets", SETTLE, keys, args)

    async def flush(self) -> bool:
        """Write queued settlements; True when none is left."""
        async with self._flushing:  # one writer at a time: the queue is popped after each write
            return await self._flush()

    async def _flush(self) -> bool:
        while self.pending:
            keys, hold_id, cost, estimated = self.pending[0]
            try:
                await self._settle(keys, hold_id, cost, estimated)
            except SharedStateUnavailableError:
                return False
            self.pending.pop(0)
        return True

    async def read(self) -> dict[str, dict[str, float]]:
        """Limit, spent (with the part of it that is estimated) and reserved of every
        budget under this prefix, from Redis."""
        base = self.shared.key("budget", "")
        out: dict[str, dict[str, float]] = {}

        async def scan(redis: Any) -> None:
            async for raw_key in redis.scan_iter(match=f"{base}*", count=500):
                key = as_text(raw_key)
                if key.endswith(":held"):
                    continue
                raw = await redis.hmget(key, "limit", "spent", "reserved", "estimated")
                limit, spent, reserved, guessed = (
                    float(as_text(v)) if v is not None else 0.0 for v in raw
                )
                out[key[len(base) :]] = {
                    "limit": limit,
                    "spent": spent,
                    "reserved": reserved,
                    "estimated": guessed,
                }

        await self.shared.read("budgets", scan)
        return dict(sorted(out.items()))

    async def aclose(self) -> None:
        if not await self._writer.drain():
            lost = sum(cost for _, _, cost, _ in self.pending)
            logger.error(
                "%d budget settlements ($%.6f of spend) could not be written to Redis before "
                "the client closed",
                len(self.pending),
                lost,
            )
