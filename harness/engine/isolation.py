"""One killable process that evaluates trials, so a hung or runaway model cannot hang or kill
the study.

A worker receives what it evaluates with (the inner CV) once per outer fold and then only
parameters, so a trial costs a pipe round trip (well under a millisecond) on top of its
evaluation. It runs in its own process group, killed as a whole (with any processes it
started, such as joblib's), and dies with the study process, whatever kills it
(harness.engine.lifeline). The memory cap is an address-space limit (RLIMIT_AS) on top of what the
idle worker already uses, so an allocation past it fails inside the worker instead of
exhausting the machine. harness.engine.workers runs k of them and owns the limits'
outcomes; this module is one process and its protocol.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection

from harness.engine.evaluation import Evaluation

READY_TIMEOUT_S = 120  # a worker that cannot import scikit-learn in this long is broken


class Worker:
    """A `python -m harness.engine.isolation` child, spoken to over two pipes.

    Started without waiting: it says "ready" on `reader` once it has imported scikit-learn
    (about a second), so several can start at once and a replacement can start while other
    workers go on."""

    def __init__(self, process: subprocess.Popen, reader: Connection, writer: Connection) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.started = time.monotonic()

    @classmethod
    def spawn(cls, memory_mb: int | None, env: Mapping[str, str] | None = None) -> Worker:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        lifeline = [sys.executable, "-m", "harness.engine.lifeline", str(os.getpid()), __name__]
        process = subprocess.Popen(
            [*lifeline, str(to_child_r), str(from_child_w), str(memory_mb or 0)],
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,  # its own process group, killed as a whole
            env=None if env is None else dict(env),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        return cls(
            process,
            Connection(from_child_r, writable=False),
            Connection(to_child_w, readable=False),
        )

    def send(self, message: tuple) -> None:
        self.writer.send(message)

    def kill(self) -> int:
        """Kill its process group (if still there) and close the pipes; its exit code."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.reader.close()
        self.writer.close()
        return self.process.wait()


def serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    """The worker's loop: load `evaluate(params, fidelity)` (an outer fold's inner CV), evaluate
    parameters with it, reply, until the pipe closes. A pipe closed or broken (the study is
    gone) ends it quietly: nothing is left to reply to, so no traceback either."""
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        _serve(reader, writer, memory_mb)


def _serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    evaluate: Callable[..., Evaluation] | None = None
    if memory_mb:
        base = _address_space()
        resource.setrlimit(resource.RLIMIT_AS, (base + memory_mb * 2**20, resource.RLIM_INFINITY))
    writer.send("ready")
    while True:
        kind, payload = reader.recv()
        if kind == "load":
            evaluate = payload
            continue
        try:
            reply = ("ok", evaluate(*payload))
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


if __name__ == "__main__":  # run through harness.engine.lifeline, so dies with the study
    read_fd, write_fd, memory = (int(a) for a in sys.argv[1:4])
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory)
