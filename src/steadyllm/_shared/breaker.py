"""Circuit breakers shared by every process through Redis.

The same rules as ``_breaker.py`` (consecutive failures, optional failure
rate over a rolling window, bounded half-open probes, open period doubling
after a failed probe, the server's retry_after honoured), with the state in
a Redis hash per key and every change made by a Lua script. Failures seen by
one process open the circuit for all of them. Half-open probes are leases
(a sorted set scored by expiry), so a process that dies while probing cannot
leave the circuit stuck half-open. ``on_circuit_change`` fires in the process
that made the transition.

When Redis is unreachable the breaker falls back to this process's own
breaker (it keeps protecting the provider from this process) and counts the
failure; shared state resumes as soon as Redis answers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import Any

from .._core.errors import LLMError
from .._resilience.breaker import (
    WINDOW_SLOTS,
    BreakerPolicy,
    BreakerStats,
    CircuitBreaker,
    Listener,
    State,
    Ticket,
    circuit_open,
)
from .batch import Packed
from .state import LUA_NOW, SharedState, SharedStateUnavailableError, as_text

# Each script is a Lua function over the ARGV table ``A`` from index ``b + 1``, so the
# attempt scripts (``_shared/attempt.py``) can run it together with the limiter's in
# one call; ALLOW and RECORD below run one alone.

# A[b+1]: ticket id, A[b+2]: lease seconds, A[b+3]: half-open calls.
ALLOW_FN = """
local function breaker_allow(key, probes, now, A, b)
  local state = redis.call('HGET', key, 'state') or 'closed'
  local reopen = tonumber(redis.call('HGET', key, 'reopen_at') or '0')
  local changed = ''
  if state == 'open' and now >= reopen then
    changed, state = 'open', 'half_open'
    redis.call('HSET', key, 'state', state)
    redis.call('DEL', probes)
  end
  if state == 'closed' then return {'ok', '0', state, changed} end
  if state == 'half_open' then
    redis.call('ZREMRANGEBYSCORE', probes, '-inf', now)
    if redis.call('ZCARD', probes) < tonumber(A[b + 3]) then
      redis.call('ZADD', probes, now + tonumber(A[b + 2]), A[b + 1])
      redis.call('PEXPIRE', probes, 86400000)
      return {'probe', '0', state, changed}
    end
  end
  return {'open', tostring(math.max(0, reopen - now)), state, changed}
end
"""

#: The number of ARGV entries ``breaker_record`` reads.
RECORD_ARGS = 12

# A[b+1]: ticket id, b+2: probe, b+3: outcome (ok|fail|neutral), b+4: server hint,
# then the policy: b+5 threshold, b+6 rate ('' = count rule only), b+7 window,
# b+8 min calls, b+9 reset timeout, b+10 max reset timeout, b+11 backoff, b+12 slots
# per window. The failure-rate window is counted in slots, as the local breaker
# counts it: a hash of at most two fields per slot ("c:<slot>" calls, "f:<slot>"
# failures), so its memory is bounded however many calls a second go through.
RECORD_FN = """
local function breaker_record(key, probes, slots, now, A, b)
  local id, probe, outcome = A[b + 1], A[b + 2] == '1', A[b + 3]
  if probe then redis.call('ZREM', probes, id) end
  local state = redis.call('HGET', key, 'state') or 'closed'
  if outcome == 'neutral' then return {state, ''} end
  local window, track = tonumber(A[b + 7]), A[b + 6] ~= ''
  local reset, max_reset, backoff = tonumber(A[b + 9]), tonumber(A[b + 10]), tonumber(A[b + 11])
  local n, failed = 0, 0
  if track then
    local count = tonumber(A[b + 12])
    local slot = math.floor(now / (window / count))
    redis.call('HINCRBY', slots, 'c:' .. slot, 1)
    if outcome == 'fail' then redis.call('HINCRBY', slots, 'f:' .. slot, 1) end
    local fields = redis.call('HGETALL', slots)
    for i = 1, #fields, 2 do
      local at = tonumber(string.sub(fields[i], 3))
      if at <= slot - count then
        redis.call('HDEL', slots, fields[i])
      elseif string.sub(fields[i], 1, 1) == 'c' then
        n = n + tonumber(fields[i + 1])
      else
        failed = failed + tonumber(fields[i + 1])
      end
    end
    redis.call('PEXPIRE', slots, math.ceil(window * 1000) + 1000)
  end
  local old = state
  if outcome == 'ok' then
    redis.call('HSET', key, 'consecutive', 0)
    if probe then
      state = 'closed'
      redis.call('HSET', key, 'state', state, 'timeout', tostring(reset))
      redis.call('DEL', slots)
    end
  else
    local consecutive = redis.call('HINCRBY', key, 'consecutive', 1)
    local timeout = tonumber(redis.call('HGET', key, 'timeout') or A[b + 9])
    local trip = false
    if probe then
      timeout = math.min(timeout * backoff, max_reset)
      redis.call('HSET', key, 'timeout', tostring(timeout))
      trip = true
    elseif state == 'closed' then
      if consecutive >= tonumber(A[b + 5]) then
        trip = true
      elseif track then
        if n >= tonumber(A[b + 8]) and failed / n >= tonumber(A[b + 6]) then
          trip = true
        end
      end
    end
    if trip then
      state = 'open'
      local reopen = now + math.max(timeout, tonumber(A[b + 4]))
      redis.call('HSET', key, 'state', state, 'reopen_at', tostring(reopen), 'consecutive', 0)
    end
  end
  redis.call('PEXPIRE', key, 86400000)
  if old ~= state then return {state, old} end
  return {state, ''}
end
"""

# KEYS: hash, probes. ARGV: now, then ALLOW_FN's.
ALLOW = LUA_NOW + ALLOW_FN + "return breaker_allow(KEYS[1], KEYS[2], script_now(ARGV[1]), ARGV, 1)"
# KEYS: hash, probes, window slots. ARGV: now, then RECORD_FN's.
RECORD = (
    LUA_NOW
    + RECORD_FN
    + "return breaker_record(KEYS[1], KEYS[2], KEYS[3], script_now(ARGV[1]), ARGV, 1)"
)


class _TicketIds:
    """Ticket ids: a random prefix and a counter, ~10x cheaper than a uuid4 per
    admission. Drawn again in a forked child: a worker forked from a parent that
    imported steadyllm must not repeat its ids."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


_ids = _TicketIds()
os.register_at_fork(after_in_child=_ids.reseed)


def new_ticket_id() -> str:
    """An id for one admission, unique across processes (it names a probe's lease)."""
    return _ids.next()


class SharedBreaker:
    """One key's circuit in Redis, with this process's own breaker as the fallback."""

    def __init__(
        self, shared: SharedState, key: str, policy: BreakerPolicy, on_change: Listener | None
    ) -> None:
        self.shared = shared
        self.key = key
        self.policy = policy
        self.on_change = on_change
        self.local = CircuitBreaker(key, policy, on_change)
        #: The state this process saw last (the truth is in Redis).
        self.state: State = "closed"
        self.reopen_at = 0.0
        self.stats = BreakerStats()
        base = shared.key("breaker", key)
        #: The hash, the half-open probes, the failure-rate window.
        self.keys = [base, f"{base}:probes", f"{base}:slots"]
        p = policy
        self._policy_args = Packed(
            p.failure_threshold,
            "" if p.failure_rate is None else repr(p.failure_rate),
            repr(p.window),
            p.min_calls,
            repr(p.reset_timeout),
            repr(p.max_reset_timeout),
            repr(p.backoff),
            WINDOW_SLOTS,
        )

    def _saw(self, state: str, old: str) -> None:
        self.state = state  # type: ignore[assignment]
        if old and old != state and self.on_change is not None:
            self.on_change(self.key, old, state)  # type: ignore[arg-type]

    def allow_args(self, ticket_id: str, lease: float) -> list[Any]:
        """ALLOW_FN's arguments."""
        return [ticket_id, repr(max(lease, 1.0)), self.policy.half_open_calls]

    def admitted(self, raw: list[Any], ticket_id: str, now: float) -> Ticket:
        """The ticket ALLOW_FN's reply grants, or ``CircuitOpenError``."""
        status, wait, state, changed = (as_text(part) for part in raw)
        self._saw(state, changed)
        if status == "open":
            self.stats.rejected += 1
            self.reopen_at = now + float(wait)
            raise circuit_open(self.key, state, float(wait), "shared through Redis")
        self.stats.calls += 1
        return Ticket(self, probe=status == "probe", id=ticket_id)

    async def admit(self, now: float, lease: float) -> Ticket:
        new_id = new_ticket_id()
        args = [self.shared.now_arg(), *self.allow_args(new_id, lease)]
        try:
            raw = await self.shared.run("breaker", ALLOW, self.keys[:2], args)
        except SharedStateUnavailableError:
            return await self.local.admit(now, lease)
        return self.admitted(raw, new_id, now)

    def record_args(self, ticket: Ticket, error: LLMError | None) -> list[Any] | None:
        """Settle ``ticket`` in this process's counters and return RECORD_FN's
        arguments, or None when Redis has nothing to learn (settled already, or a
        neutral outcome of a call that was not a probe)."""
        if ticket.settled:
            return None
        ticket.settled = True
        if error is None:
            outcome = "ok"
            self.stats.successes += 1
        elif self.policy.counts(error):
            outcome = "fail"
            self.stats.failures += 1
        else:
            outcome = "neutral"
        if outcome == "neutral" and not ticket.probe:
            return None
        hint = error.retry_after if error is not None and error.retry_after else 0.0
        hint = hint if 0 < hint < float("inf") else 0.0
        return [ticket.id, int(ticket.probe), outcome, repr(hint), self._policy_args]

    def recorded(self, raw: list[Any]) -> None:
        """Take in RECORD_FN's reply: the state after the outcome, and the one before
        if it changed."""
        state, old = (as_text(part) for part in raw)
        if state == "open" and old:
            self.stats.opened += 1
        self._saw(state, old)

    async def record_locally(self, error: LLMError | None, now: float) -> None:
        """Redis could not take the outcome: this process's own breaker does."""
        await self.local.record(Ticket(self.local, probe=False), error, now)

    async def record(self, ticket: Ticket, error: LLMError | None, now: float) -> None:
        args = self.record_args(ticket, error)
        if args is None:
            return
        try:
            raw = await self.shared.run(
                "breaker", RECORD, self.keys, [self.shared.now_arg(), *args]
            )
        except SharedStateUnavailableError:
            await self.record_locally(error, now)
            return
        self.recorded(raw)

    def release(self, ticket: Ticket) -> None:
        """No verdict (cancelled, or the caller's own fault): hand back a probe's lease."""
        if ticket.settled:
            return
        ticket.settled = True
        if ticket.probe:
            self.shared.background(self._release_probe(ticket.id))

    async def _release_probe(self, ticket_id: str) -> None:
        args = [self.shared.now_arg(), ticket_id, 1, "neutral", "0", self._policy_args]
        with contextlib.suppress(SharedStateUnavailableError):  # else the lease expires on its own
            await self.shared.run("breaker", RECORD, self.keys, args)

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self.state,
            "shared": True,
            "calls": self.stats.calls,
            "successes": self.stats.successes,
            "failures": self.stats.failures,
            "rejected": self.stats.rejected,
            "opened": self.stats.opened,
        }
