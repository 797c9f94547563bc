"""Outer folds of one study at once: the study's process runs folds, helper processes others.

Outer folds are independent (each searches with its own derived seed on its own rows), so
which process runs one changes none of its records. The study's process runs folds itself
and, once it has run for `after_s()` seconds with folds still waiting (a shorter study is not
worth a process start-up, about 3 s of CPU), starts helper processes that take the waiting
folds one at a time. A helper sends each trial record back as its objective records it, and
the fold record when the fold ends: the study's process is the only writer of the journals,
in the order records arrive, so a `kill -9` still loses only the trials in flight (a
helper runs through harness.engine.lifeline: it dies with the study). Every fold's inner CV
runs on the cores no other fold uses: 1 while as many folds run as cores, more when fewer are
left (the last fold's inner splits spread over the cores the finished folds freed). Results do not
depend on it: an inner split is fitted alike in whichever process fits it.

    run_all(tasks, job, context, at_once=2, cores=2, sink=sink)
    # job(*context, *task, on_trial, on_stale, share) -> fold record, for every task, here or
    # in a helper; sink.started(i), sink.trial(i, record), sink.stale(i, n), sink.fold(i, record)
    # here, one at a time, for task i
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for_readers
from typing import Any, Protocol

# Nothing heavy at import: a helper is tied to the study (harness.engine.lifeline) before it
# imports the study's code (seconds on a loaded machine), so a study killed meanwhile takes it
# along too.

AFTER_S = 5.0  # seconds a study runs alone before it starts helpers for its waiting folds
AFTER_VARIABLE = "TUNEBENCH_FOLD_HELPERS_AFTER_S"  # overrides AFTER_S (tests, benchmarks)


class Sink(Protocol):
    """What the study's process does with a fold's records (called under one lock)."""

    def started(self, task: int) -> None: ...
    def trial(self, task: int, record: dict[str, Any]) -> None: ...
    def stale(self, task: int, n: int) -> None: ...
    def fold(self, task: int, record: dict[str, Any]) -> None: ...


def after_s() -> float:
    """Seconds a study runs before helpers start (AFTER_S, or the environment's value)."""
    return float(os.environ.get(AFTER_VARIABLE, AFTER_S))


@dataclass
class _Helper:
    process: subprocess.Popen
    reader: Connection
    writer: Connection
    task: int | None = None  # the task it runs
    cores: int = 1  # the inner-CV processes it was last told to use

    @classmethod
    def spawn(cls) -> _Helper:
        from harness.engine.parallel import THREAD_VARIABLES, THREADS

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        lifeline = [sys.executable, "-m", "harness.engine.lifeline", str(os.getpid()), __name__]
        process = subprocess.Popen(
            [*lifeline, str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w),
            # Its own process group, killed with its inner-CV workers; in the study's session,
            # so a scheduler that shares the CPU out by session (Linux's autogroups) gives the
            # study's processes together one share, as one process, on a loaded machine.
            process_group=0,
            env=os.environ | dict.fromkeys(THREAD_VARIABLES, str(THREADS)),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        reader = Connection(from_child_r, writable=False)
        return cls(process, reader, Connection(to_child_w, readable=False))

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.reader.close()
        self.writer.close()
        self.process.wait()


@dataclass
class _Schedule:
    tasks: Sequence[tuple]
    job: Callable[..., dict[str, Any]]
    context: tuple
    at_once: int
    cores: int
    sink: Sink
    lock: threading.Lock = field(default_factory=threading.Lock)
    wake: threading.Event = field(default_factory=threading.Event)  # here: nothing left to take
    helpers: list[_Helper] = field(default_factory=list)
    here: int | None = None  # the task this process runs
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.pending = deque(range(len(self.tasks)))

    def share(self) -> int:
        """Inner-CV processes for one fold now: the cores over the folds running."""
        with self.lock:
            return self._share()

    def _share(self) -> int:
        """1 while folds wait (they will take the cores) or no helper started (a short study,
        not worth starting inner-CV processes); then the cores over the folds running."""
        if self.pending or not self.helpers:
            return 1
        running = (self.here is not None) + sum(h.task is not None for h in self.helpers)
        return max(1, self.cores // max(1, running))

    def _tell_shares(self) -> None:
        share = self._share()
        for helper in self.helpers:
            if helper.task is not None and helper.cores != share:
                helper.writer.send(("cores", share))
                helper.cores = share

    def take(self) -> int | None:
        """The next waiting task for this process; None when none is left or one failed."""
        with self.lock:
            self.here = self.pending.popleft() if self.pending and not self.error else None
            if self.here is not None:
                self.sink.started(self.here)
            self._tell_shares()
            if self.here is None:
                self.wake.set()
            return self.here

    def run_here(self) -> None:
        while (i := self.take()) is not None:

            def on_trial(record: dict[str, Any], i: int = i) -> None:
                with self.lock:
                    self.sink.trial(i, record)

            def on_stale(n: int, i: int = i) -> None:
                with self.lock:
                    self.sink.stale(i, n)

            fold = self.job(*self.context, *self.tasks[i], on_trial, on_stale, self.share)
            with self.lock:
                self.sink.fold(i, fold)

    def coordinate(self) -> None:
        """The helpers' side, in a thread: start them, hand out tasks, take in records."""
        try:
            self.wake.wait(after_s())
            with self.lock:
                wanted = min(self.at_once - 1, len(self.pending))
            for _ in range(wanted if not self.error else 0):
                helper = _Helper.spawn()
                helper.writer.send(("setup", (self.job, self.context)))  # waits for its imports
                with self.lock:
                    self.helpers.append(helper)
            while self._hand_out():
                busy = [h.reader for h in self.helpers if h.task is not None]
                for reader in wait_for_readers(busy):
                    self._receive(next(h for h in self.helpers if h.reader is reader))
        except BaseException as e:
            with self.lock:
                self.error = self.error or e
        finally:
            for helper in self.helpers:
                helper.kill()

    def _hand_out(self) -> bool:
        """Give idle helpers waiting tasks; whether any helper still runs one."""
        with self.lock:
            for helper in self.helpers:
                if helper.task is None and self.pending and not self.error:
                    helper.task = self.pending.popleft()
                    self.sink.started(helper.task)
                    helper.writer.send(("fold", self.tasks[helper.task]))
            self._tell_shares()
            return any(h.task is not None for h in self.helpers) and not self.error

    def _receive(self, helper: _Helper) -> None:
        try:
            kind, payload = helper.reader.recv()
        except (EOFError, OSError):
            code = helper.process.wait()
            raise RuntimeError(f"an outer-fold process died (exit code {code})") from None
        with self.lock:
            if kind == "trial":
                self.sink.trial(helper.task, payload)
            elif kind == "stale":
                self.sink.stale(helper.task, payload)
            elif kind == "fold":
                self.sink.fold(helper.task, payload)
                helper.task = None
            else:  # "error": what the fold raised
                self.error = self.error or payload


def run_all(
    tasks: Sequence[tuple],
    job: Callable[..., dict[str, Any]],
    context: tuple,
    at_once: int,
    cores: int,
    sink: Sink,
) -> None:
    """Run `job(*context, *task, on_trial, on_stale, share)` for every task, up to `at_once`
    at a time (here and in `at_once - 1` helpers), records to `sink`; raises what a fold
    raised (after the folds running then end). `job` and `context` must pickle."""
    schedule = _Schedule(tasks, job, context, at_once, cores, sink)
    coordinator = threading.Thread(target=schedule.coordinate, name="fold-helpers", daemon=True)
    coordinator.start()
    try:
        schedule.run_here()
    except BaseException:
        with schedule.lock:
            schedule.error = schedule.error or RuntimeError("stopped")
        schedule.wake.set()
        for helper in list(schedule.helpers):
            with contextlib.suppress(OSError):
                os.killpg(helper.process.pid, signal.SIGKILL)
        coordinator.join()
        raise
    coordinator.join()
    if schedule.error is not None:
        raise schedule.error


def serve(reader: Connection, writer: Connection) -> None:
    """A helper's loop: run each task it is sent, sending its records back, until the pipe
    closes. A pipe closed or broken (the study is gone) ends it quietly: no traceback."""
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        _serve(reader, writer)


def _serve(reader: Connection, writer: Connection) -> None:
    kind, (job, context) = reader.recv()
    cores = 1

    def share() -> int:
        nonlocal cores
        while reader.poll():  # only "cores" is sent to a helper running a fold
            _, cores = reader.recv()
        return cores

    while True:
        kind, payload = reader.recv()
        if kind == "cores":
            cores = payload
            continue
        try:
            fold = job(
                *context, *payload, lambda r: writer.send(("trial", r)),
                lambda n: writer.send(("stale", n)), share,
            )  # fmt: skip
            writer.send(("fold", fold))
        except Exception as e:
            try:
                writer.send(("error", e))
            except (pickle.PicklingError, TypeError, AttributeError):
                writer.send(("error", RuntimeError(repr(e))))


if __name__ == "__main__":  # run through harness.engine.lifeline, so dies with the study
    read_fd, write_fd = (int(a) for a in sys.argv[1:3])
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))
