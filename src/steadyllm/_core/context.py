"""Who is making a call: run, project, agent, operation and free metadata.

The current Context lives in a ``contextvars.ContextVar`` so it flows into
every task and nested call started beneath it. Setting a new one merges with
the enclosing one: fields left unset are inherited, metadata is merged.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Context:
    run_id: str | None = None
    project_id: str | None = None
    agent: str | None = None
    operation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def merged_over(self, parent: Context | None) -> Context:
        """This context with unset fields taken from ``parent``."""
        if parent is None:
            return self
        return Context(
            run_id=self.run_id if self.run_id is not None else parent.run_id,
            project_id=self.project_id if self.project_id is not None else parent.project_id,
            agent=self.agent if self.agent is not None else parent.agent,
            operation=self.operation if self.operation is not None else parent.operation,
            metadata={**parent.metadata, **self.metadata},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project_id": self.project_id,
            "agent": self.agent,
            "operation": self.operation,
            "metadata": dict(self.metadata),
        }


_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "steadyllm_context", default=None
)


def current_context() -> Context | None:
    """The Context in force for the running task, if any."""
    return _current.get()


@contextmanager
def context(
    ctx: Context | None = None,
    /,
    *,
    run_id: str | None = None,
    project_id: str | None = None,
    agent: str | None = None,
    operation: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Iterator[Context]:
    """Set the Context for the calls made inside the block, merged over the enclosing one::

    with sl.context(run_id="r1"):
        with sl.context(agent="planner"):   # run_id="r1" is inherited
            await client.chat(...)
    """
    own = ctx or Context(run_id, project_id, agent, operation, metadata or {})
    merged = own.merged_over(_current.get())
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


def effective_context(explicit: Context | None) -> Context | None:
    """The Context for one call: the explicit one merged over the ambient one."""
    ambient = _current.get()
    if explicit is None:
        return ambient
    return explicit.merged_over(ambient)
