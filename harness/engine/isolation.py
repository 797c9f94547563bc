"""Trials in a killable process, so a hung or runaway model cannot hang or kill the study.

Used only when the budget sets `trial_timeout_s` or `trial_memory_mb`. One worker process
serves every trial of a study: it receives the inner CV once per outer fold and then only
parameters, so a trial costs a pipe round trip (well under a millisecond) on top of its
evaluation. A trial that runs past the timeout has its worker killed (with any processes
the worker started); a new worker starts for the next trial. The memory cap is an
address-space limit (RLIMIT_AS) on top of what the idle worker already uses, so an
allocation past it fails inside the worker instead of exhausting the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import resource
import signal
import subprocess
import sys
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from harness.engine.continuation import Start
from harness.engine.objective import Evaluation, InnerCV, TrialStopped

READY_TIMEOUT_S = 120  # a worker that cannot import scikit-learn in this long is broken
PR_SET_PDEATHSIG = 1


class IsolatedEvaluator:
    """`evaluate(params)` like InnerCV's, run in a worker process under the budget's limits."""

    def __init__(self, timeout_s: float | None, memory_mb: int | None) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._inner: InnerCV | None = None
        self._worker: _Worker | None = None
        self.starts = 0  # worker processes started: 1 + the number of kills, for the records

    def bind(self, inner: InnerCV) -> IsolatedEvaluator:
        """Evaluate on this fold's inner CV from now on (starting the worker, if need be,
        before the search's clock starts)."""
        self._inner = inner
        if self._worker is None:
            self._restart()
        else:
            self._worker.send(("load", inner))
        return self

    def evaluate(
        self, params: Mapping[str, Any], fidelity: float | None = None, start: Start | None = None
    ) -> Evaluation:
        """Raises TrialStopped on a limit and what the model raised on a failure. A killed
        worker is replaced at once, so the restart is charged to the trial that caused it.
        Models a rung continues (`start`) go to the worker and the grown ones come back with
        the Evaluation: the worker keeps no state between trials."""
        worker = self._worker or self._restart()
        worker.send(("evaluate", (dict(params), fidelity, start)))
        if not worker.reader.poll(self.timeout_s):
            self._restart()
            raise TrialStopped(
                "timeout", f"stopped after budget.trial_timeout_s={self.timeout_s} s"
            )
        try:
            kind, payload = worker.reader.recv()
        except (EOFError, OSError):
            code = worker.kill()
            self._restart()
            raise self._death(code) from None
        if kind == "memory" and self.memory_mb is not None:
            raise TrialStopped("memory", f"over budget.trial_memory_mb={self.memory_mb}: {payload}")
        if kind != "ok":
            raise payload
        return payload

    def close(self) -> int | None:
        """Stop the worker (and its children); returns its exit code."""
        worker, self._worker = self._worker, None
        return worker.kill() if worker else None

    def _restart(self) -> _Worker:
        self.close()
        self._worker = _Worker.start(self.memory_mb)
        self.starts += 1
        self._worker.send(("load", self._inner))
        return self._worker

    def _death(self, code: int) -> Exception:
        """A worker killed by a signal under a memory cap most likely ran out (the kernel's
        OOM killer, or abort() on a failed C++ allocation); any other death is a failure."""
        if code < 0 and self.memory_mb is not None:
            return TrialStopped("memory", f"worker killed by signal {-code} under the memory cap")
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return RuntimeError(f"the trial's worker process died ({how})")


class _Worker:
    """A `python -m harness.engine.isolation` child, spoken to over two pipes."""

    def __init__(self, process: subprocess.Popen, reader: Connection, writer: Connection) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer

    @classmethod
    def start(cls, memory_mb: int | None) -> _Worker:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        args = [sys.executable, "-m", __name__, str(to_child_r), str(from_child_w)]
        process = subprocess.Popen(
            [*args, str(memory_mb or 0)],
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,  # its own process group, killed as a whole
        )
        os.close(to_child_r)
        os.close(from_child_w)
        worker = cls(
            process,
            Connection(from_child_r, writable=False),
            Connection(to_child_w, readable=False),
        )
        if not worker.reader.poll(READY_TIMEOUT_S) or worker.reader.recv() != "ready":
            raise RuntimeError(f"the trial worker did not start (exit code {worker.kill()})")
        return worker

    def send(self, message: tuple) -> None:
        self.writer.send(message)

    def kill(self) -> int:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.reader.close()
        self.writer.close()
        return self.process.wait()


def serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    """The worker's loop: load an inner CV, evaluate parameters, reply, until the pipe closes."""
    inner: InnerCV | None = None
    if memory_mb:
        base = _address_space()
        resource.setrlimit(resource.RLIMIT_AS, (base + memory_mb * 2**20, resource.RLIM_INFINITY))
    writer.send("ready")
    while True:
        try:
            kind, payload = reader.recv()
        except EOFError:
            return
        if kind == "load":
            inner = payload
            continue
        try:
            reply = ("ok", inner.evaluate(*payload))
        except MemoryError as e:
            reply = ("memory", f"MemoryError: {e}".rstrip(": "))
        except Exception as e:
            reply = ("failed", e)
        try:
            writer.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            writer.send(("failed", RuntimeError(repr(reply[1]))))


def _address_space() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the study process dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


if __name__ == "__main__":
    _die_with_parent()
    read_fd, write_fd, memory = (int(a) for a in sys.argv[1:4])
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory)
