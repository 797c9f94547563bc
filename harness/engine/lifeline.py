"""A child process that dies with its parent, whatever kills the parent (even SIGKILL).

    python -m harness.engine.lifeline <parent pid> <module> [args...]

runs `<module>` as `python -m <module> [args...]` would, after tying this process's life to
the parent's. This module imports next to nothing, so the tie holds from the interpreter's
first few milliseconds on, before the module's own (heavy) imports.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PARENT_POLL_S = 0.05  # without the parent-death signal: how often the child looks for its parent


def die_with_parent(parent: int) -> None:
    """End this process as soon as process `parent` dies.

    Linux: the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG: at once, and
    without a traceback). A parent that died before the signal was set is caught by comparing
    the parent's pid right after setting it: this process leaves at once. Elsewhere a thread
    looks for a changed parent every PARENT_POLL_S. Either way the dead child is reaped by
    whoever adopted it (init, or a subreaper such as a shell or a job manager)."""
    try:
        signalled = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):  # no prctl: not Linux
        signalled = False
    if os.getppid() != parent:  # died already, and this process was adopted by another
        os._exit(0)
    if not signalled:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    die_with_parent(int(sys.argv[1]))
    module, sys.argv[1:] = sys.argv[2], sys.argv[3:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
