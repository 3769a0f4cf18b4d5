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
import uuid
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
from .state import LUA_NOW, SharedState, SharedStateUnavailableError

_DAY_MS = 86_400_000

# KEYS: hash, probes. ARGV: now, ticket id, lease seconds, half-open calls.
ALLOW = (
    LUA_NOW
    + """
local key, probes = KEYS[1], KEYS[2]
local now = script_now(ARGV[1])
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
  if redis.call('ZCARD', probes) < tonumber(ARGV[4]) then
    redis.call('ZADD', probes, now + tonumber(ARGV[3]), ARGV[2])
    redis.call('PEXPIRE', probes, 86400000)
    return {'probe', '0', state, changed}
  end
end
return {'open', tostring(math.max(0, reopen - now)), state, changed}
"""
)

# KEYS: hash, probes, window slots. ARGV: now, ticket id, probe, outcome
# (ok|fail|neutral), threshold, rate ('' = count rule only), window, min calls,
# reset timeout, max reset timeout, backoff, server hint, slots per window.
# The failure-rate window is counted in slots, as the local breaker counts it: a
# hash of at most two fields per slot ("c:<slot>" calls, "f:<slot>" failures), so
# its memory is bounded however many calls a second go through.
RECORD = (
    LUA_NOW
    + """
local key, probes, slots = KEYS[1], KEYS[2], KEYS[3]
local now = script_now(ARGV[1])
local id, probe, outcome = ARGV[2], ARGV[3] == '1', ARGV[4]
if probe then redis.call('ZREM', probes, id) end
local state = redis.call('HGET', key, 'state') or 'closed'
if outcome == 'neutral' then return {state, ''} end
local window, track = tonumber(ARGV[7]), ARGV[6] ~= ''
local reset, max_reset, backoff = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local n, failed = 0, 0
if track then
  local count = tonumber(ARGV[13])
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
  local timeout = tonumber(redis.call('HGET', key, 'timeout') or ARGV[9])
  local trip = false
  if probe then
    timeout = math.min(timeout * backoff, max_reset)
    redis.call('HSET', key, 'timeout', tostring(timeout))
    trip = true
  elseif state == 'closed' then
    if consecutive >= tonumber(ARGV[5]) then
      trip = true
    elseif track then
      if n >= tonumber(ARGV[8]) and failed / n >= tonumber(ARGV[6]) then
        trip = true
      end
    end
  end
  if trip then
    state = 'open'
    local reopen = now + math.max(timeout, tonumber(ARGV[12]))
    redis.call('HSET', key, 'state', state, 'reopen_at', tostring(reopen), 'consecutive', 0)
  end
end
redis.call('PEXPIRE', key, 86400000)
if old ~= state then return {state, old} end
return {state, ''}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        self._keys = [base, f"{base}:probes", f"{base}:slots"]

    def _saw(self, state: str, old: str) -> None:
        self.state = state  # type: ignore[assignment]
        if old and old != state and self.on_change is not None:
            self.on_change(self.key, old, state)  # type: ignore[arg-type]

    async def admit(self, now: float, lease: float) -> Ticket:
        ticket_id = uuid.uuid4().hex
        try:
            raw = await self.shared.run(
                "breaker",
                ALLOW,
                self._keys[:2],
                [
                    self.shared.now_arg(),
                    ticket_id,
                    repr(max(lease, 1.0)),
                    self.policy.half_open_calls,
                ],
            )
        except SharedStateUnavailableError:
            return await self.local.admit(now, lease)
        status, wait, state, changed = (_text(part) for part in raw)
        self._saw(state, changed)
        if status == "open":
            self.stats.rejected += 1
            self.reopen_at = now + float(wait)
            raise circuit_open(self.key, state, float(wait), "shared through Redis")
        self.stats.calls += 1
        return Ticket(self, probe=status == "probe", id=ticket_id)

    async def record(self, ticket: Ticket, error: LLMError | None, now: float) -> None:
        if ticket.settled:
            return
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
            return
        p = self.policy
        hint = error.retry_after if error is not None and error.retry_after else 0.0
        args = [
            self.shared.now_arg(),
            ticket.id,
            int(ticket.probe),
            outcome,
            p.failure_threshold,
            "" if p.failure_rate is None else repr(p.failure_rate),
            repr(p.window),
            p.min_calls,
            repr(p.reset_timeout),
            repr(p.max_reset_timeout),
            repr(p.backoff),
            repr(hint if 0 < hint < float("inf") else 0.0),
            WINDOW_SLOTS,
        ]
        try:
            state, old = (
                _text(part) for part in await self.shared.run("breaker", RECORD, self._keys, args)
            )
        except SharedStateUnavailableError:
            await self.local.record(Ticket(self.local, probe=False), error, now)
            return
        if state == "open" and old:
            self.stats.opened += 1
        self._saw(state, old)

    def release(self, ticket: Ticket) -> None:
        """No verdict (cancelled, or the caller's own fault): hand back a probe's lease."""
        if ticket.settled:
            return
        ticket.settled = True
        if ticket.probe:
            self.shared.background(self._release_probe(ticket.id))

    async def _release_probe(self, ticket_id: str) -> None:
        args = [self.shared.now_arg(), ticket_id, 1, "neutral", 1, "", "1", 1, "1", "1", "1", "0"]
        args.append(WINDOW_SLOTS)
        with contextlib.suppress(SharedStateUnavailableError):  # else the lease expires on its own
            await self.shared.run("breaker", RECORD, self._keys, args)

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
