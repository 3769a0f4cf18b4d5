"""Appends lines to a file from a background thread, so a disk never holds a call.

A call's log line is serialized on the caller's thread and handed over here; a
thread of this writer puts it in the file. A slow, full or hung disk (an NFS
mount that stopped answering, a pipe nobody reads) then delays only the writer,
never a call past its deadline nor the event loop. Every ``INTERVAL_S`` the
writer takes the lines gathered and writes them in one ``write(2)`` with
``O_APPEND`` (whole lines only, so processes sharing the file never
interleave); a call never wakes it. What cannot be written is counted through ``on_error``:
a failed write, a backlog past ``max_pending`` lines, lines still queued when a
bounded ``close`` gives up. ``close`` (and, for a client never closed, the
interpreter's exit) waits for the queue to drain.

The thread starts with the first line and ends after ``IDLE_S`` without one, so
an idle client holds no thread; in a forked child the parent's queue and thread
are not inherited, and the child starts its own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

#: Seconds an idle writer thread waits for a line before it ends.
IDLE_S = 2.0
#: How long lines gather before the writer takes them (one write for all of them).
#: A call never wakes the writer. Measured with benchmarks/bench_client.py (default
#: configuration, client pinned to one core): a wake per call cost ~70 µs of CPU per
#: call and a quarter of the throughput at 64 concurrent; waking every 20 ms still
#: ~30 µs; every 100 ms, nothing measurable next to the direct write it replaced.
INTERVAL_S = 0.1
#: A backlog this long wakes the writer at once.
WAKE_AT = 1_000
#: Lines that may wait for the disk; past it new lines are dropped (and counted).
MAX_PENDING = 10_000


class LogBacklogError(Exception):
    """The disk is not keeping up: the line was dropped rather than wait."""


class LogClosedError(Exception):
    """A line reached a writer that was already closed."""


#: ``on_error(exc, lines)``: ``lines`` lines were lost to ``exc``.
ErrorSink = Callable[[Exception, int], None]


class AppendWriter:
    def __init__(
        self,
        file: BinaryIO,
        on_error: ErrorSink,
        *,
        max_pending: int = MAX_PENDING,
        exit_timeout_s: float = 5.0,
    ) -> None:
        self._file = file
        self._on_error = on_error
        self._max = max_pending
        self._exit_timeout = exit_timeout_s
        self._reset()
        self._closed = False
        atexit.register(self._at_exit)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._pending: list[bytes] = []
        self._writing = 0  # lines of the batch being written now
        self._urgent = False  # someone waits for the queue to drain (flush, close)
        self._thread: threading.Thread | None = None
        self._cut = False  # the file ends in a fragment of a line

    # ------------------------------------------------------------ the caller's side

    def put(self, line: bytes) -> None:
        """Queue one whole line (ending in a newline); never waits for the disk."""
        if self._pid != os.getpid():  # a forked child: the parent's queue is the parent's
            self._reset()
        with self._cond:
            if self._closed:
                raise LogClosedError("the request log is closed; the line was not written")
            if len(self._pending) + self._writing >= self._max:
                raise LogBacklogError(
                    f"the log file is {self._max:,} lines behind (the disk is not keeping "
                    "up); the line was dropped"
                )
            self._pending.append(line)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="steadyllm-log-writer", daemon=True
                )
                self._thread.start()
            elif len(self._pending) == WAKE_AT:
                self._cond.notify()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued line is in the file (or failed); False on timeout."""
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending and not self._writing, timeout_s)

    def close(self, timeout_s: float) -> None:
        """Write what is queued (waiting at most ``timeout_s``) and close the file.
        Lines still queued then are counted as lost; a write stuck in the kernel
        keeps the file open until it returns, and the thread closes it after."""
        atexit.unregister(self._at_exit)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is None:
            self._file.close()
            return
        if not self.flush(timeout_s):
            with self._cond:
                lost, self._pending = len(self._pending), []
            if lost:
                self._on_error(
                    LogBacklogError(
                        f"{lost:,} line(s) were still waiting for the disk when the log "
                        f"closed after {timeout_s:g} s"
                    ),
                    lost,
                )

    def _at_exit(self) -> None:
        if self._pid == os.getpid():
            self.close(self._exit_timeout)

    # ------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        cond = self._cond
        idle_since = time.monotonic()
        while True:
            with cond:
                if not self._closed and not self._urgent:
                    cond.wait(INTERVAL_S)  # lines gather: one write(2) for all of them
                if not self._pending:
                    self._urgent = False
                    if self._closed:  # closed and drained: the file is ours to close
                        self._thread = None
                        self._file.close()
                        cond.notify_all()
                        return
                    if time.monotonic() - idle_since >= IDLE_S:
                        self._thread = None  # the next put starts a new one
                        return
                    continue
                batch, self._pending = self._pending, []
                self._writing = len(batch)
            self._write(b"".join(batch), len(batch))
            with cond:
                self._writing = 0
                cond.notify_all()
            idle_since = time.monotonic()

    def _write(self, data: bytes, lines: int) -> None:
        # A fragment left by an earlier failure is ended first, so this batch's
        # first line starts a line of its own (readers skip the cut record).
        head = b"\n" if self._cut else b""
        out = head + data if head else data
        written = 0
        try:
            while written < len(out):
                n = self._file.write(out[written:] if written else out)
                if not n:  # a regular file never writes nothing; do not spin
                    raise OSError("the file accepted no bytes")
                written += n
            self._cut = False
        except Exception as exc:
            if written:
                self._cut = out[written - 1 : written] != b"\n"
            if self._cut:
                with contextlib.suppress(OSError):
                    self._cut = not self._file.write(b"\n")
            whole = out.count(b"\n", len(head), written) if written > len(head) else 0
            self._on_error(exc, lines - whole)
