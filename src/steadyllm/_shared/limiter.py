"""The rate limiter, shared by every process through Redis.

Same buckets, reserve, learning and 429 pause as the in-process limiter
(``_limiter.py``), kept in one Redis hash per key and changed only by Lua
scripts. Arrival order is kept by *reserving ahead*: the acquire script runs
atomically, charges the call at once (a bucket may go below zero) and returns
how long the caller must wait before sending. The next caller, in whatever
process, sees the lower level and gets a later slot, so callers are served in
the order their requests reached Redis, each waiting exactly as long as it
would have in the in-process queue, and nobody polls. A caller cancelled
before its slot gives its reservation back if nobody reserved after it (else
the capacity stays spent: giving it back would let a newcomer be served
before callers already waiting); one whose slot is past its deadline is
refused without charging anything.

After the call, one script reconciles the real token usage, adopts the
provider's ``x-ratelimit-*`` limits and remaining counts, and on a 429
pauses the key for every process. A sleeper re-reads the pause when it
wakes. If Redis is unreachable the limiter fails closed (``SharedStateError``,
retried within the deadline) or, with ``REDIS_LIMITER_ON_FAILURE=open``,
paces on this process's own limiter; a key with no configured limit (only
learned ones) always does the latter.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .._core.clock import Clock
from .._core.errors import InvalidRequestError, LLMError, RateLimitError
from .._core.types import RateLimitInfo
from .._resilience.limiter import _EPSILON, LimiterStats, Limits, RateLimiter, Reservation
from .batch import Packed
from .state import LUA_NOW, SharedState, SharedStateUnavailableError, as_text

#: Idle limiter hashes expire after two days (longer than any bucket's period).
_TTL_MS = 2 * 86_400_000

# As the breaker's: each script is a Lua function over the ARGV table ``A`` from
# index ``b + 1``; the buckets come last (four entries each, to the end of ARGV), so
# the limiter's part always ends an attempt script.
_BUCKETS = """
local function bucket(key, A, i, now)
  local name, is_tokens, period = A[i], A[i + 1] == '1', tonumber(A[i + 2])
  local state = redis.call('HMGET', key, name .. ':cap', name .. ':level', name .. ':at')
  local cap = tonumber(state[1]) or tonumber(A[i + 3])
  local level, at = tonumber(state[2]), tonumber(state[3])
  if cap > 0 then
    if level == nil then level, at = cap, now end
    if now > at then level, at = math.min(cap, level + (now - at) * cap / period), now end
  end
  return {name = name, tokens = is_tokens, period = period, configured = tonumber(A[i + 3]),
          cap = cap, level = level, at = at}
end
"""

# A[b+1]: tokens, b+2: max wait (-1: none), b+3: margin, b+4: ttl ms, b+5: dry run,
# then per bucket: name, is_tokens, period, configured limit (0: none).
ACQUIRE_FN = (
    _BUCKETS
    + """
local function limiter_acquire(key, now, A, b)
  local tokens, max_wait, margin = tonumber(A[b + 1]), tonumber(A[b + 2]), tonumber(A[b + 3])
  local wait = 0
  local blocked = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
  if blocked > now then wait = blocked - now end
  local take = {}
  for i = b + 6, #A, 4 do
    local bk = bucket(key, A, i, now)
    if bk.cap > 0 then
      local cost = 1
      if bk.tokens then cost = tokens end
      if cost > bk.cap then return {'never', bk.name, tostring(bk.cap)} end
      local rate = bk.cap / bk.period
      local missing = cost + math.min(rate * margin, bk.cap - cost) - bk.level
      if missing > 0 and missing / rate > wait then wait = missing / rate end
      take[#take + 1] = {bk.name, bk.level - cost, bk.at}
    end
  end
  if max_wait >= 0 and wait > max_wait then return {'late', tostring(wait)} end
  if A[b + 5] == '1' then return {'dry', tostring(wait)} end
  for _, t in ipairs(take) do
    redis.call('HSET', key, t[1] .. ':level', tostring(t[2]), t[1] .. ':at', tostring(t[3]))
  end
  local seq = redis.call('HINCRBY', key, 'seq', 1)
  redis.call('PEXPIRE', key, A[b + 4])
  return {'ok', tostring(wait), tostring(seq)}
end
"""
)

# A[b+1]: token delta, b+2: pause seconds, b+3..b+6: requests limit, requests
# remaining, tokens limit, tokens remaining ('' when unknown), b+7: requests given
# back, b+8: ttl ms, b+9: the acquire number a give-back is for ('' otherwise), then
# the buckets.
SETTLE_FN = (
    _BUCKETS
    + """
local function limiter_settle(key, now, A, b)
  if A[b + 9] ~= '' and redis.call('HGET', key, 'seq') ~= A[b + 9] then
    return 0  -- someone reserved after the cancelled caller: its capacity stays spent
  end
  local delta, pause, give = tonumber(A[b + 1]), tonumber(A[b + 2]), tonumber(A[b + 7])
  local heard = {r60 = {tonumber(A[b + 3]), tonumber(A[b + 4])},
                 t60 = {tonumber(A[b + 5]), tonumber(A[b + 6])}}
  for i = b + 10, #A, 4 do
    local bk = bucket(key, A, i, now)
    local h = heard[bk.name]
    if h and h[1] and h[1] > 0 then
      if bk.configured == 0 or h[1] < bk.configured then
        redis.call('HSET', key, bk.name .. ':cap', tostring(h[1]))
        if bk.cap == 0 then bk.level, bk.at = h[1], now end
        bk.cap = h[1]
        if bk.level > bk.cap then bk.level = bk.cap end
      else
        redis.call('HDEL', key, bk.name .. ':cap')
        bk.cap = bk.configured
      end
    end
    if bk.cap > 0 then
      if bk.tokens then bk.level = math.min(bk.cap, bk.level - delta)
      else bk.level = math.min(bk.cap, bk.level + give) end
      if h and h[2] and h[2] >= 0 and h[2] < bk.level then bk.level = h[2] end
      redis.call('HSET', key, bk.name .. ':level', tostring(bk.level),
                 bk.name .. ':at', tostring(bk.at))
    end
  end
  if pause > 0 then
    local blocked = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
    if now + pause > blocked then
      redis.call('HSET', key, 'blocked_until', tostring(now + pause))
    end
  end
  redis.call('PEXPIRE', key, A[b + 8])
  return 1
end
"""
)

# KEYS[1]: the hash. ARGV: now, then ACQUIRE_FN's or SETTLE_FN's.
ACQUIRE = LUA_NOW + ACQUIRE_FN + "return limiter_acquire(KEYS[1], script_now(ARGV[1]), ARGV, 1)"
SETTLE = LUA_NOW + SETTLE_FN + "return limiter_settle(KEYS[1], script_now(ARGV[1]), ARGV, 1)"

PAUSE_LEFT = (
    LUA_NOW
    + """
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
return tostring(blocked - script_now(ARGV[1]))
"""
)


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def _settle_args(
    delta: int, pause: float, info: RateLimitInfo | None, give: int = 0, number: str = ""
) -> list[Any]:
    """SETTLE_FN's arguments before the buckets."""
    heard = ["", "", "", ""]
    if info is not None:
        heard = [
            _opt(info.requests_limit),
            _opt(info.requests_remaining),
            _opt(info.tokens_limit),
            _opt(info.tokens_remaining),
        ]
    return [delta, repr(pause), *heard, give, _TTL_MS, number]


class SharedLimiter:
    """One key's limiter in Redis, with this process's own limiter as the fail-open fallback."""

    def __init__(self, shared: SharedState, key: str, limits: Limits | None, clock: Clock) -> None:
        self.shared = shared
        self.key = key
        self.clock = clock
        self.local = RateLimiter(key, limits, clock)
        self.limits = self.local.limits
        #: With no configured limit, nothing the user asked for is at stake when Redis
        #: is down (only limits learned from headers): such a limiter always fails open.
        self.configured = any(
            v is not None
            for v in (self.limits.rpm, self.limits.tpm, self.limits.rpd, self.limits.tpd)
        )
        self.stats = LimiterStats()
        self.hash = shared.key("limiter", key)
        lim = self.limits
        buckets: list[str] = []
        for name, is_tokens, period, value in (
            ("r60", 0, 60, lim.rpm),
            ("t60", 1, 60, lim.tpm),
            ("r86400", 0, 86400, lim.rpd),
            ("t86400", 1, 86400, lim.tpd),
        ):
            buckets += [name, str(is_tokens), str(period), str(value or 0)]
        self._buckets = Packed(*buckets)

    def acquire_args(self, tokens: int, max_wait: float, dry: bool = False) -> list[Any]:
        """ACQUIRE_FN's arguments (``max_wait`` -1: no limit)."""
        margin = repr(self.limits.margin)
        return [tokens, repr(max_wait), margin, _TTL_MS, int(dry), self._buckets]

    async def predicted_wait(self, tokens: int) -> float:
        args = [self.shared.now_arg(), *self.acquire_args(tokens, -1.0, dry=True)]
        try:
            result = await self.shared.run("limiter", ACQUIRE, [self.hash], args)
        except SharedStateUnavailableError:
            return self.local.predicted_wait(tokens)
        return float(as_text(result[1]))

    async def acquire(self, tokens: int, deadline: float | None = None) -> Reservation:
        """Reserve one request and ``tokens`` in Redis, then wait for the slot."""
        self.local.check_fits(tokens)
        now = self.clock.now()
        budget = -1.0 if deadline is None else max(0.0, deadline - now)
        args = [self.shared.now_arg(), *self.acquire_args(tokens, budget)]
        try:
            result = await self.shared.run("limiter", ACQUIRE, [self.hash], args)
        except SharedStateUnavailableError as exc:
            return await self.unavailable(exc, tokens, deadline)
        return await self.granted(result, tokens, now, deadline)

    async def unavailable(
        self, exc: SharedStateUnavailableError, tokens: int, deadline: float | None
    ) -> Reservation:
        """Redis could not be asked: pace on this process's own limiter (fail open, or
        nothing configured is at stake), or refuse the call (fail closed)."""
        if self.shared.limiter_fails_open or not self.configured:
            return await self.local.acquire(tokens, deadline)
        raise exc.error("the rate limit cannot be checked") from None

    async def granted(
        self, result: list[Any], tokens: int, now: float, deadline: float | None
    ) -> Reservation:
        """Act on ACQUIRE_FN's reply (asked at ``now``): refuse, or wait for the slot."""
        status, *rest = (as_text(part) for part in result)
        budget = -1.0 if deadline is None else max(0.0, deadline - now)
        if status == "never":
            self.stats.refused += 1
            raise InvalidRequestError(
                f"this call needs about {tokens} tokens but the limit for {self.key} "
                f"({rest[0]}) is {float(rest[1]):.0f}: it can never be sent; "
                "shorten the prompt or lower max_tokens"
            )
        wait = float(rest[0])
        number = rest[1] if len(rest) > 1 else ""
        if status == "late":
            self.stats.refused += 1
            raise RateLimitError(
                f"rate limit for {self.key}: this call would wait {wait:.2f}s for capacity "
                f"but its deadline is {budget:.2f}s away",
                retryable=True,
                retry_after=wait,
            )
        reservation = Reservation(self, tokens)
        if wait > _EPSILON:
            try:
                await self._wait(now + wait, deadline)
            except BaseException:
                reservation.settled = True
                self.shared.background(self._give_back(tokens, number))
                raise
            self.stats.waited += 1
            self.stats.total_wait += self.clock.now() - now
            self.stats.max_wait = max(self.stats.max_wait, self.clock.now() - now)
        self.stats.granted += 1
        return reservation

    async def _wait(self, until: float, deadline: float | None) -> None:
        """Sleep to the slot; then honour a 429 pause another caller set meanwhile."""
        await self.clock.sleep(max(0.0, until - self.clock.now()))
        try:
            left = float(
                as_text(
                    await self.shared.run(
                        "limiter", PAUSE_LEFT, [self.hash], [self.shared.now_arg()]
                    )
                )
            )
        except SharedStateUnavailableError as exc:
            if self.shared.limiter_fails_open or not self.configured:
                return
            raise exc.error("the rate limit cannot be checked") from None
        if left > _EPSILON:
            now = self.clock.now()
            if deadline is not None and now + left > deadline:
                raise RateLimitError(
                    f"rate limit for {self.key}: paused {left:.2f}s after a 429, past the deadline",
                    retryable=True,
                    retry_after=left,
                )
            await self.clock.sleep(left)

    async def _give_back(self, tokens: int, number: str) -> None:
        """A caller cancelled before its slot: its reservation goes back only if nobody
        reserved after it (``number`` is still the last), so no newcomer can be served
        before a caller that arrived earlier."""
        args = _settle_args(-tokens, 0.0, None, give=1, number=number)
        await self.shared.run(
            "limiter", SETTLE, [self.hash], [self.shared.now_arg(), *args, self._buckets]
        )

    def settle_args(
        self,
        reservation: Reservation,
        used: int | None,
        info: RateLimitInfo | None,
        rate_limited: LLMError | None = None,
    ) -> list[Any] | None:
        """Settle ``reservation`` here and return SETTLE_FN's arguments (real usage
        reconciled, headers learned, a 429's pause for everyone), or None when Redis
        has nothing to learn."""
        if reservation.settled:
            return None
        reservation.settled = True
        delta = 0 if used is None else used - reservation.tokens
        if delta < 0 and not (reservation.refundable or self.limits.refund_unused):
            delta = 0
        pause = 0.0
        if rate_limited is not None:
            self.stats.backoffs += 1
            hint = rate_limited.retry_after
            pause = hint if hint is not None and 0 < hint < float("inf") else 1.0
            info = rate_limited.rate_limit
        if delta == 0 and pause == 0.0 and info is None:
            return None
        return [*_settle_args(delta, pause, info), self._buckets]

    async def settle(
        self,
        reservation: Reservation,
        used: int | None,
        info: RateLimitInfo | None,
        rate_limited: LLMError | None = None,
    ) -> None:
        args = self.settle_args(reservation, used, info, rate_limited)
        if args is None:
            return
        # A failure is counted and warned; a lost correction errs for one window at most.
        with contextlib.suppress(SharedStateUnavailableError):
            await self.shared.run("limiter", SETTLE, [self.hash], [self.shared.now_arg(), *args])

    def release(self, reservation: Reservation) -> None:
        """The call was abandoned after it may have been sent: nothing to give back."""
        reservation.settled = True

    def snapshot(self) -> dict[str, object]:
        return {"shared": True, "key": self.hash, **self.stats.to_dict()}
