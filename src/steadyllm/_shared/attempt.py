"""One attempt's admission and settlement in Redis, one script call each.

Admission runs the breaker's ``breaker_allow`` and then the limiter's
``limiter_acquire`` in one script: a circuit that is open refuses before any
capacity is reserved, and a reservation the limiter refuses hands a probe's
lease straight back. Settlement runs ``breaker_record`` and
``limiter_settle`` in one script, either part left out when it has nothing
to say. The rules are the features' own (``breaker.py``, ``limiter.py``);
only the round trips are saved. When Redis cannot be reached, each feature
falls back as it does alone: the breaker to this process's own, the limiter
to its fail-open or fail-closed policy.
"""

from __future__ import annotations

from .._core.errors import LLMError
from .._core.types import RateLimitInfo
from .._resilience.breaker import CircuitBreaker, Ticket
from .._resilience.gate import Gate, rate_limited
from .._resilience.limiter import RateLimiter, Reservation
from .breaker import ALLOW_FN, RECORD_ARGS, RECORD_FN, SharedBreaker, new_ticket_id
from .limiter import ACQUIRE_FN, SETTLE_FN, SharedLimiter
from .state import LUA_NOW, SharedState, SharedStateUnavailableError, as_text

# KEYS: breaker hash, probes, limiter hash. ARGV: now, ALLOW_FN's 3, ACQUIRE_FN's.
# Reply: the breaker's 4 fields, then the limiter's (none when the circuit is open).
ADMIT = (
    LUA_NOW
    + ALLOW_FN
    + ACQUIRE_FN
    + """
local now = script_now(ARGV[1])
local b = breaker_allow(KEYS[1], KEYS[2], now, ARGV, 1)
if b[1] == 'open' then return b end
local l = limiter_acquire(KEYS[3], now, ARGV, 4)
if l[1] ~= 'ok' and b[1] == 'probe' then redis.call('ZREM', KEYS[2], ARGV[2]) end
for _, v in ipairs(l) do b[#b + 1] = v end
return b
"""
)

# KEYS: breaker hash, probes, slots, limiter hash. ARGV: now, '1' when RECORD_FN's
# arguments follow ('0' when not), then SETTLE_FN's if any (to the end).
# Reply: the breaker's state and old state ('' when not recorded).
SETTLE = (
    LUA_NOW
    + RECORD_FN
    + SETTLE_FN
    + f"""
local now = script_now(ARGV[1])
local out, base = {{'', ''}}, 2
if ARGV[2] == '1' then
  out = breaker_record(KEYS[1], KEYS[2], KEYS[3], now, ARGV, 2)
  base = 2 + {RECORD_ARGS}
end
if #ARGV > base then limiter_settle(KEYS[4], now, ARGV, base) end
return out
"""
)

#: Failures of these scripts count against both features.
_FEATURES = ("limiter", "breaker")


class SharedGate(Gate):
    """The gate with the breaker and limiter in Redis."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared

    async def admit(
        self,
        breaker: CircuitBreaker | SharedBreaker,
        limiter: RateLimiter | SharedLimiter,
        tokens: int,
        deadline: float,
        now: float,
    ) -> tuple[Ticket, Reservation]:
        if not (isinstance(breaker, SharedBreaker) and isinstance(limiter, SharedLimiter)):
            return await super().admit(breaker, limiter, tokens, deadline, now)
        limiter.local.check_fits(tokens)
        ticket_id = new_ticket_id()
        args = [
            self.shared.now_arg(),
            *breaker.allow_args(ticket_id, deadline - now),
            *limiter.acquire_args(tokens, max(0.0, deadline - now)),
        ]
        keys = [*breaker.keys[:2], limiter.hash]
        try:
            raw = await self.shared.run(_FEATURES, ADMIT, keys, args)
        except SharedStateUnavailableError as exc:
            ticket = await breaker.local.admit(now, deadline - now)
            try:
                return ticket, await limiter.unavailable(exc, tokens, deadline)
            except BaseException:
                ticket.breaker.release(ticket)
                raise
        ticket = breaker.admitted(raw[:4], ticket_id, now)
        granted = as_text(raw[4]) == "ok"
        try:
            return ticket, await limiter.granted(raw[4:], tokens, now, deadline)
        except BaseException:
            if granted:  # cancelled while waiting for its slot: hand the lease back
                breaker.release(ticket)
            else:  # refused: the script has handed it back already
                ticket.settled = True
            raise

    async def settle(
        self,
        ticket: Ticket,
        reservation: Reservation,
        error: LLMError | None,
        used: int | None,
        info: RateLimitInfo | None,
        now: float,
    ) -> None:
        breaker, limiter = ticket.breaker, reservation.limiter
        if not (isinstance(breaker, SharedBreaker) and isinstance(limiter, SharedLimiter)):
            return await super().settle(ticket, reservation, error, used, info, now)
        record = breaker.record_args(ticket, error)
        adjust = limiter.settle_args(reservation, used, info, rate_limited(error))
        if record is None and adjust is None:
            return None
        args = [self.shared.now_arg(), "0" if record is None else "1", *(record or ())]
        args += adjust or ()
        try:
            raw = await self.shared.run(_FEATURES, SETTLE, [*breaker.keys, limiter.hash], args)
        except SharedStateUnavailableError:
            # As each alone: the breaker learns locally; a lost limiter correction errs
            # for one window at most.
            if record is not None:
                await breaker.record_locally(error, now)
            return None
        if record is not None:
            breaker.recorded(raw)
        return None
