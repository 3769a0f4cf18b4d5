"""Where the money goes (CostTracker) and where it may not go (Budgets).

The tracker keeps totals by model, provider, agent, run and project: calls,
tokens, cost, calls whose cost is unknown, and cache hits with the cost they
saved. Budgets (global, per run, per agent) are enforced by reservation: a
call reserves its worst-case cost (prompt estimate plus every allowed output
token at the model's price) in every budget it falls under before it is sent,
and the reservation is replaced by the real cost afterwards. Spent plus
reserved never exceeds a limit, so a thousand concurrent calls cannot
overshoot it. Both are guarded by a lock: safe from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .._core.context import Context
from .._core.errors import BudgetExceededError
from .._core.redact import get_logger
from .._core.sinks import SinkFailures

logger = get_logger("steadyllm")


@dataclass(slots=True)
class Totals:
    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    #: Everything booked, estimates included.
    cost_usd: float = 0.0
    #: The part of ``cost_usd`` that is estimated: attempts that reached the provider but
    #: ended (cancelled, timed out, cut) before it reported their usage.
    estimated_usd: float = 0.0
    #: Calls with an estimated part in their cost.
    estimated_calls: int = 0
    #: Calls whose cost could not be priced (their tokens are still counted).
    unpriced_calls: int = 0
    cache_hits: int = 0
    saved_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Spend:
    """One call's outcome as the tracker sees it."""

    provider: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    ok: bool = True
    cache_hit: bool = False
    context: Context | None = None
    #: The part of ``cost_usd`` that is estimated.
    estimated_usd: float = 0.0
    estimated: bool = False


#: How totals are grouped, besides the grand total (``group_keys`` gives a call's keys).
DIMENSIONS = ("model", "provider", "agent", "run", "project")


def group_keys(spend: Spend) -> tuple[str, ...]:
    """The call's key in each of ``DIMENSIONS``."""
    ctx = spend.context
    return (
        f"{spend.provider}:{spend.model}",
        spend.provider,
        (ctx.agent if ctx else None) or "(none)",
        (ctx.run_id if ctx else None) or "(none)",
        (ctx.project_id if ctx else None) or "(none)",
    )


def accumulate(totals: Totals, spend: Spend) -> None:
    """Count one call into ``totals`` (the one place that says what a call adds)."""
    totals.calls += 1
    totals.failed_calls += 0 if spend.ok else 1
    if spend.cache_hit:
        totals.cache_hits += 1
        totals.saved_usd += spend.cost_usd or 0.0
        return
    totals.prompt_tokens += spend.prompt_tokens
    totals.completion_tokens += spend.completion_tokens
    totals.total_tokens += spend.prompt_tokens + spend.completion_tokens
    totals.cached_tokens += spend.cached_tokens
    totals.reasoning_tokens += spend.reasoning_tokens
    if spend.cost_usd is None:
        totals.unpriced_calls += 1 if spend.prompt_tokens or spend.completion_tokens else 0
    else:
        totals.cost_usd += spend.cost_usd
    if spend.estimated:
        totals.estimated_calls += 1
        totals.estimated_usd += spend.estimated_usd


class CostTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = Totals()
        # One cell per (model, provider, agent, run, project): a call updates two
        # Totals (its cell and the total) instead of one per dimension; the
        # groupings are summed when a summary is asked for, which is rare.
        self._cells: dict[tuple[str, ...], Totals] = {}

    def add(self, spend: Spend) -> None:
        key = group_keys(spend)
        with self._lock:
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = Totals()
            accumulate(cell, spend)
            accumulate(self.total, spend)

    @property
    def total_cost(self) -> float:
        return self.total.cost_usd

    def summary(self) -> dict[str, Any]:
        """Totals overall and by model, provider, agent, run and project (JSON-serializable)."""
        with self._lock:
            cells = [(key, asdict(totals)) for key, totals in self._cells.items()]
            out: dict[str, Any] = {"total": asdict(self.total)}
        for index, dim in enumerate(DIMENSIONS):
            group: dict[str, dict[str, Any]] = {}
            for key, values in cells:
                into = group.get(key[index])
                if into is None:
                    group[key[index]] = dict(values)
                else:
                    for name, value in values.items():
                        into[name] += value
            out[f"by_{dim}"] = dict(sorted(group.items()))
        return out


@dataclass(slots=True)
class _Budget:
    name: str
    limit: float
    spent: float = 0.0
    reserved: float = 0.0
    #: The part of ``spent`` that is an estimate (attempts lost before their usage arrived).
    estimated: float = 0.0


@dataclass(slots=True)
class BudgetReservation:
    budgets: list[_Budget]
    amount: float
    book: Budgets
    settled: bool = False

    def settle(self, cost: float | None, *, estimated: bool = False) -> None:
        """Replace the reservation by the real cost (None: nothing known was spent)."""
        if self.settled:
            return
        self.settled = True
        self.book.settle(self, cost or 0.0, estimated)

    def settle_soon(self, cost: float | None) -> Awaitable[None] | None:
        """``settle``, with the interface the shared budgets' holds also have (they
        return the write to Redis to await; settled here at once, nothing to await)."""
        self.settle(cost)
        return None

    def release(self, cost: float | None = None) -> None:
        """The call was abandoned: book the estimated ``cost`` (None: nothing was spent)."""
        self.settle(cost, estimated=cost is not None)


@dataclass
class Budgets:
    """Hard spending limits: ``global_usd``, ``per_run_usd``, ``per_agent_usd``."""

    global_usd: float | None = None
    per_run_usd: float | None = None
    per_agent_usd: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _budgets: dict[str, _Budget] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return (
            self.global_usd is not None
            or self.per_run_usd is not None
            or self.per_agent_usd is not None
        )

    def wanted(self, ctx: Context | None) -> list[tuple[str, float]]:
        """Name and limit of every budget a call in ``ctx`` falls under."""
        wanted: list[tuple[str, float]] = []
        if self.global_usd is not None:
            wanted.append(("global", self.global_usd))
        if self.per_run_usd is not None and ctx is not None and ctx.run_id:
            wanted.append((f"run {ctx.run_id}", self.per_run_usd))
        if self.per_agent_usd is not None and ctx is not None and ctx.agent:
            wanted.append((f"agent {ctx.agent}", self.per_agent_usd))
        return wanted

    def _applicable(self, ctx: Context | None) -> list[_Budget]:
        out = []
        for name, limit in self.wanted(ctx):
            budget = self._budgets.get(name)
            if budget is None:
                budget = self._budgets[name] = _Budget(name, limit)
            out.append(budget)
        return out

    def reserve(
        self, amount: float, ctx: Context | None, *, provider: str, model: str
    ) -> BudgetReservation:
        with self._lock:
            budgets = self._applicable(ctx)
            for b in budgets:
                if b.spent + b.reserved + amount > b.limit + 1e-12:
                    raise BudgetExceededError(
                        f"the {b.name} budget of ${b.limit:.4f} would be exceeded: "
                        f"${b.spent:.4f} spent, ${b.reserved:.4f} reserved by calls in flight, "
                        f"this call may cost up to ${amount:.4f}; raise the budget or lower "
                        "max_tokens",
                        provider=provider,
                        model=model,
                    )
            for b in budgets:
                b.reserved += amount
        return BudgetReservation(budgets, amount, self)

    def settle(self, reservation: BudgetReservation, cost: float, estimated: bool = False) -> None:
        with self._lock:
            for b in reservation.budgets:
                b.reserved = max(0.0, b.reserved - reservation.amount)
                b.spent += cost
                if estimated:
                    b.estimated += cost

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Limit, spent (``estimated``: the part of it that is an estimate) and reserved."""
        with self._lock:
            return {
                b.name: {
                    "limit": b.limit,
                    "spent": b.spent,
                    "reserved": b.reserved,
                    "estimated": b.estimated,
                }
                for b in self._budgets.values()
            }


class CostAlert:
    """Once spend crosses the threshold: one warning, and ``hook(total, threshold)``."""

    def __init__(
        self,
        threshold: float | None,
        hook: Callable[[float, float], None] | None,
        sinks: SinkFailures | None = None,
    ) -> None:
        self.threshold = threshold
        self.hook = hook
        self.sinks = sinks if sinks is not None else SinkFailures()
        self.fired = False
        self._lock = threading.Lock()

    def check(self, total: float) -> None:
        if self.threshold is None:
            return
        with self._lock:
            if self.fired or total < self.threshold:
                return
            self.fired = True
        logger.warning(
            "LLM spend $%.4f has crossed the alert threshold of $%.4f", total, self.threshold
        )
        if self.hook is not None:
            self.sinks.call("the on_cost_alert hook", self.hook, total, self.threshold)
