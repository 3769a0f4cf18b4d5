"""Recorders persist what each flow step did: started, then ok / error / cancelled.

``SQLiteRecorder`` is the embedded default: one file, numbered schema
migrations applied in order and remembered in ``schema_version``, and one
write path (``_write``: an upsert keyed by run and step), so a step's start
row is completed by its end row and nothing is half-written. SQLite calls are
blocking, so the async methods run them in a worker thread. ``JSONLRecorder``
appends each start and end as a JSON line. Both satisfy ``Recorder``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .._core.errors import ConfigError
from .._metering.observe import timestamp


@dataclass
class StepRecord:
    flow_id: str
    run_id: str
    step_id: str
    status: str = "running"  # running, ok, error, cancelled
    reason: str | None = None
    text: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    latency_ms: float | None = None
    attempts: int = 0
    started_at: str = field(default_factory=timestamp)
    ended_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recorder(Protocol):
    async def record(self, step: StepRecord) -> None:
        """Save the step's current state (called at start and at end)."""

    async def runs(self) -> list[dict[str, Any]]:
        """One summary per run, newest first."""

    async def steps(self, run_id: str) -> list[StepRecord]:
        """The steps of one run, in the order they started."""


class StepHooks:
    """Adapts a recorder of the shape users already write, one with
    ``record_step_start(flow_id, step_id, payload)`` and
    ``record_step_end(flow_id, step_id, status, payload)`` (plain or async methods),
    to ``Recorder.record``. The payloads:

    - start: ``run_id``, ``model``, ``started_at``;
    - end: ``run_id``, ``model``, ``text``, ``usage`` (``prompt_tokens``,
      ``completion_tokens``, ``total_tokens``, ``cost_usd``), ``latency_ms``,
      ``attempts``, ``started_at``, ``ended_at``, and ``reason`` when ``status`` is
      ``"error"`` or ``"cancelled"``.
    """

    def __init__(self, target: Any) -> None:
        self.target = target

    async def record(self, step: StepRecord) -> None:
        if step.status == "running":
            payload: dict[str, Any] = {
                "run_id": step.run_id,
                "model": step.model,
                "started_at": step.started_at,
            }
            outcome = self.target.record_step_start(step.flow_id, step.step_id, payload)
        else:
            payload = {
                "run_id": step.run_id,
                "model": step.model,
                "text": step.text,
                "usage": {
                    "prompt_tokens": step.prompt_tokens,
                    "completion_tokens": step.completion_tokens,
                    "total_tokens": step.total_tokens,
                    "cost_usd": step.cost_usd,
                },
                "latency_ms": step.latency_ms,
                "attempts": step.attempts,
                "started_at": step.started_at,
                "ended_at": step.ended_at,
            }
            if step.reason is not None:
                payload["reason"] = step.reason
            outcome = self.target.record_step_end(step.flow_id, step.step_id, step.status, payload)
        if inspect.isawaitable(outcome):
            await outcome


def as_recorder(target: Any) -> Recorder:
    """steadyllm's own recorders as they are; an object with ``record_step_start`` and
    ``record_step_end`` through ``StepHooks``; anything else is a ``ConfigError``."""
    if callable(getattr(target, "record", None)):
        return target  # type: ignore[no-any-return]
    if callable(getattr(target, "record_step_start", None)) and callable(
        getattr(target, "record_step_end", None)
    ):
        return StepHooks(target)  # type: ignore[return-value]
    raise ConfigError(
        f"{type(target).__name__} is not a recorder: pass sl.SQLiteRecorder(...), "
        "sl.JSONLRecorder(...), or an object with record_step_start(flow_id, step_id, "
        "payload) and record_step_end(flow_id, step_id, status, payload)"
    )


MIGRATIONS: tuple[str, ...] = (
    # 1: steps of flow runs
    """CREATE TABLE steps (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, flow_id TEXT NOT NULL,
        status TEXT NOT NULL, reason TEXT, text TEXT, model TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, latency_ms REAL,
        attempts INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL, ended_at TEXT,
        PRIMARY KEY (run_id, step_id))""",
    # 2: runs are listed newest first
    "CREATE INDEX steps_started ON steps (started_at)",
)
_COLUMNS = list(StepRecord.__dataclass_fields__)


class SQLiteRecorder:
    def __init__(self, path: str | Path = "steadyllm.db") -> None:
        import sqlite3  # on first use: not part of `import steadyllm`

        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"recorder database {self.path} cannot be used: {exc}") from None
        except OSError as exc:  # its directory cannot be created (a file is in the way)
            raise ConfigError(
                f"recorder database {self.path} cannot be created: "
                f"{exc.strerror or exc} ({exc.filename or self.path.parent})"
            ) from None

    def _migrate(self) -> None:
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > len(MIGRATIONS):
                raise ConfigError(
                    f"recorder database {self.path} has schema version {current}, newer than this "
                    f"steadyllm ({len(MIGRATIONS)}); upgrade steadyllm"
                )
            for version, statement in enumerate(MIGRATIONS[current:], start=current + 1):
                self._db.execute(statement)
                self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def _write(self, step: StepRecord) -> None:
        """The one write path: insert or complete the row of (run_id, step_id)."""
        values = [_storable(getattr(step, c)) for c in _COLUMNS]
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._lock, self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO steps ({', '.join(_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608 - fixed column names
                values,
            )

    async def record(self, step: StepRecord) -> None:
        await asyncio.to_thread(self._write, step)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    async def runs(self) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            self._query,
            """
            SELECT run_id, flow_id, MIN(started_at), MAX(ended_at), COUNT(*),
                   SUM(status = 'ok'), SUM(status = 'error'), SUM(total_tokens), SUM(cost_usd)
            FROM steps GROUP BY run_id ORDER BY MIN(started_at) DESC""",
        )
        keys = (
            "run_id",
            "flow_id",
            "started_at",
            "ended_at",
            "steps",
            "ok",
            "errors",
            "total_tokens",
            "cost_usd",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    async def steps(self, run_id: str) -> list[StepRecord]:
        rows = await asyncio.to_thread(
            self._query,
            f"SELECT {', '.join(_COLUMNS)} FROM steps WHERE run_id = ? "  # noqa: S608
            "ORDER BY started_at, rowid",
            (run_id,),
        )
        return [StepRecord(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _storable(value: Any) -> Any:
    """Text SQLite can store: a lone surrogate (a model reply cut inside a UTF-16 pair,
    say) is kept as its ``\\udxxx`` escape instead of failing the whole write."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


class JSONLRecorder:
    """Appends every state of every step as one JSON line; reads back the latest state."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            raise ConfigError(
                f"recorder file {self.path} is not writable: {exc.strerror}"
            ) from None

    def _write(self, step: StepRecord) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(step.to_dict()) + "\n")

    async def record(self, step: StepRecord) -> None:
        await asyncio.to_thread(self._write, step)

    def _latest(self) -> dict[tuple[str, str], StepRecord]:
        latest: dict[tuple[str, str], StepRecord] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                step = StepRecord(**json.loads(line))
                latest[(step.run_id, step.step_id)] = step
        return latest

    async def runs(self) -> list[dict[str, Any]]:
        by_run: dict[str, list[StepRecord]] = {}
        for step in (await asyncio.to_thread(self._latest)).values():
            by_run.setdefault(step.run_id, []).append(step)
        out = [
            {
                "run_id": run,
                "flow_id": steps[0].flow_id,
                "started_at": min(s.started_at for s in steps),
                "ended_at": max((s.ended_at or "" for s in steps), default="") or None,
                "steps": len(steps),
                "ok": sum(s.status == "ok" for s in steps),
                "errors": sum(s.status == "error" for s in steps),
                "total_tokens": sum(s.total_tokens for s in steps),
                "cost_usd": sum(s.cost_usd or 0.0 for s in steps),
            }
            for run, steps in by_run.items()
        ]
        return sorted(out, key=lambda r: r["started_at"], reverse=True)

    async def steps(self, run_id: str) -> list[StepRecord]:
        steps = [
            s for (run, _), s in (await asyncio.to_thread(self._latest)).items() if run == run_id
        ]
        return sorted(steps, key=lambda s: s.started_at)
