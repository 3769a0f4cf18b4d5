"""The request log's background writer: a disk that stalls never holds a call, and
every line is either in the file or counted as lost."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from steadyllm._metering import logwriter as _logwriter
from steadyllm._metering.logwriter import AppendWriter, LogBacklogError, LogClosedError
from steadyllm._metering.observe import read_log


class Lost:
    """The ``on_error`` sink: what was lost, by exception type."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, exc: Exception, lines: int) -> None:
        name = type(exc).__name__
        self.counts[name] = self.counts.get(name, 0) + lines


class StuckFile(io.RawIOBase):
    """A file whose writes block until released: a hung disk, at the unit seam."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.entered.set()
        self.release.wait(30)
        self.data += b
        return len(b)


def test_lines_queued_together_reach_the_file_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lost = Lost()
    writer = AppendWriter(path.open("ab", buffering=0), lost)
    lines = [b'{"n": %d}\n' % i for i in range(500)]
    for line in lines:
        writer.put(line)
    assert writer.flush(10)
    writer.close(10)
    assert path.read_bytes() == b"".join(lines) and lost.counts == {}


def test_a_stuck_disk_drops_lines_past_the_backlog_and_counts_them() -> None:
    file, lost = StuckFile(), Lost()
    writer = AppendWriter(file, lost, max_pending=3)  # type: ignore[arg-type]
    writer.put(b"first\n")
    assert file.entered.wait(10)  # the writer is inside write(2) and stays there
    writer.put(b"second\n")
    writer.put(b"third\n")  # one in the kernel, two queued: the backlog is full
    with pytest.raises(LogBacklogError, match="3 lines behind"):
        writer.put(b"fourth\n")
    assert not writer.flush(0.05)  # never waits longer than told
    writer.close(0.05)  # gives up on the two queued lines and counts them
    assert lost.counts == {"LogBacklogError": 2}
    with pytest.raises(LogClosedError):
        writer.put(b"late\n")
    file.release.set()  # the disk answers: the line that was in the kernel lands
    thread = writer._thread
    if thread is not None:
        thread.join(10)
    assert bytes(file.data) == b"first\n" and file.closed


class ShortThenFull(io.RawIOBase):
    """Takes ``room`` bytes, then fails every write as a full disk does."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        if self.room <= 0:
            raise OSError(28, "No space left on device")
        taken = bytes(b[: self.room])
        self.room -= len(taken)
        self.data += taken
        return len(taken)


def test_a_batch_cut_by_a_full_disk_counts_only_the_lines_not_written() -> None:
    file, lost = ShortThenFull(room=15), Lost()
    writer = AppendWriter(file, lost)  # type: ignore[arg-type]
    file_lines = [b"aaaaaaaaa\n", b"bbbbbbbbb\n", b"ccccccccc\n"]  # 10 bytes each
    writer._write(b"".join(file_lines), 3)  # the batch as the thread writes it
    # The first line is whole, the second cut after five bytes: two lines lost,
    # and the fragment is not ended (the disk refuses even the newline).
    assert lost.counts == {"OSError": 2}
    assert bytes(file.data) == b"aaaaaaaaa\nbbbbb"
    file.room = 1  # room for one byte: the newline that ends the fragment
    writer._write(b"ddddddddd\n", 1)
    assert bytes(file.data) == b"aaaaaaaaa\nbbbbb\n" and lost.counts == {"OSError": 3}
    file.room = 100  # the disk has room again: the next line is whole
    writer._write(b"eeeeeeeee\n", 1)
    assert bytes(file.data).splitlines() == [b"aaaaaaaaa", b"bbbbb", b"eeeeeeeee"]
    assert lost.counts == {"OSError": 3}


class NoBytes(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        return 0


def test_a_file_that_accepts_nothing_is_a_failure_not_a_spin() -> None:
    lost = Lost()
    writer = AppendWriter(NoBytes(), lost)  # type: ignore[arg-type]
    writer._write(b"x\n", 1)
    assert lost.counts == {"OSError": 1}


def thread_of(writer: AppendWriter) -> threading.Thread | None:
    return writer._thread


def test_an_idle_writer_holds_no_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_logwriter, "IDLE_S", 0.01)
    path = tmp_path / "log.jsonl"
    writer = AppendWriter(path.open("ab", buffering=0), Lost())
    writer.put(b"one\n")
    first = writer._thread
    assert first is not None
    first.join(10)  # ends once idle
    assert thread_of(writer) is None
    writer.put(b"two\n")  # the next line starts a new thread
    second = thread_of(writer)
    assert second is not None and second is not first
    writer.close(10)
    assert path.read_bytes() == b"one\ntwo\n"


def test_close_before_any_line_closes_the_file(tmp_path: Path) -> None:
    file = (tmp_path / "log.jsonl").open("ab", buffering=0)
    writer = AppendWriter(file, Lost())
    writer.close(1)
    writer.close(1)  # twice is harmless
    assert file.closed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_its_own_lines_once(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    code = f"""
import os
from steadyllm._metering.logwriter import AppendWriter
writer = AppendWriter(open({str(path)!r}, "ab", buffering=0), lambda exc, n: None)
writer.put(b"parent 1\\n")
assert writer.flush(10)
pid = os.fork()
if pid == 0:
    writer.put(b"child\\n")  # the child's own thread writes it
    writer.close(10)
    os._exit(0)
os.waitpid(pid, 0)
writer.put(b"parent 2\\n")
writer.close(10)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert sorted(path.read_bytes().splitlines()) == [b"child", b"parent 1", b"parent 2"]


def test_a_client_never_closed_still_writes_its_lines_at_exit(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    code = f"""
import steadyllm as sl
settings = sl.Settings.load(env={{}}, dotenv=False, config_file=False,
                            log_to_file=True, log_file_path={str(log)!r})
client = sl.SyncClient(settings)
for _ in range(20):
    client.chat("fake:m", [sl.user("hi")])
# no close: the interpreter's exit drains the queue
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert len(read_log(log)) == 20


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_log_that_never_drains_never_holds_a_call(tmp_path: Path) -> None:
    """The log is a pipe nobody reads (as a hung network disk): its first 100 kB line
    fills the pipe and the write blocks for good. Every call still finishes within its
    deadline, closing gives up after LOG_CLOSE_TIMEOUT_MS, and every line not written
    is counted. (Before the background writer, the first call blocked the event loop
    forever: the subprocess's timeout turns that into a failure.)"""
    fifo = tmp_path / "log.pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, never read
    code = f"""
import asyncio, json, time
import steadyllm as sl
settings = sl.Settings.load(env={{}}, dotenv=False, config_file=False, log_to_file=True,
                            log_file_path={str(fifo)!r}, log_prompts=True,
                            log_close_timeout_ms=300)
async def main():
    started = time.monotonic()
    async with sl.Client(settings) as client:
        texts = [(await client.chat("fake:m", [sl.user("x" * 100_000)], timeout_ms=3000)).text
                 for _ in range(5)]
        answered = time.monotonic() - started
    closed = time.monotonic() - started - answered
    stuck = client.meter.log._writer._writing  # lines inside the write(2) that hangs
    print(json.dumps({{"answered": sum(bool(t) for t in texts), "seconds": answered,
                      "close": closed, "stuck": stuck, "failures": client.sink_failures()}}))
asyncio.run(main())
"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
        )
    finally:
        os.close(reader)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answered"] == 5 and result["seconds"] < 3
    assert result["close"] < 2  # bounded by LOG_CLOSE_TIMEOUT_MS, not by the disk
    lost = result["failures"].get("the request log: LogBacklogError", 0)
    assert result["stuck"] >= 1 and lost + result["stuck"] == 5
