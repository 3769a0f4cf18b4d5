"""Whether an attempt's request may have reached the provider.

Money follows the request: an attempt that never left the process (refused
by a limit, or its connection never opened) costs nothing, while one whose
bytes were written may be billed even if the caller gave up before the
answer arrived. The guard puts a ``Dispatch`` in a context variable for the
attempt; the transport, which is the only code that knows when bytes are
written, marks it. A provider that sends no marks (the fake provider, a
custom one) leaves it unknown, which counts as sent: estimates err high.
"""

from __future__ import annotations

from contextvars import ContextVar


class Dispatch:
    __slots__ = ("sent",)

    def __init__(self) -> None:
        #: None: no transport said (counts as sent); False: nothing written yet; True: written.
        self.sent: bool | None = None

    @property
    def may_have_reached(self) -> bool:
        return self.sent is not False


current: ContextVar[Dispatch | None] = ContextVar("steadyllm_dispatch", default=None)


def mark(sent: bool) -> None:
    """Called by the transport: nothing is written yet (False) or bytes went out (True)."""
    dispatch = current.get()
    if dispatch is not None:
        dispatch.sent = sent
