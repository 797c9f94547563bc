"""What a user sees while a study runs: a bar on a terminal; elsewhere (a pipe, a file, a
pseudo-terminal nobody sized) progress lines on stderr; results alone on stdout; log lines on
stderr; no lock file left in the store."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from harness.engine.progress import StudyProgress, free_slot, release
from tests.helpers import ROOT, SHARED, run_cli, stored_studies

STUDY = ("budget.n_trials=6", "protocol.outer_folds=3", "protocol.inner_folds=2")
FOLD_DONE = re.compile(
    r"progress: random breast_cancer/logreg: fold (\d)/3 done: (\d+) trials, best inner "
    r"(\d\.\d{4}); \S+ elapsed, about \S+ left"
)
DURING = re.compile(
    r"progress: random breast_cancer/logreg: fold (\d)/3: (\d+)/6 trials, best inner "
    r"(\d\.\d{4}); \S+ elapsed, about \S+ left"
)


def _told(home: Path) -> list[list[dict]]:
    """Each outer fold's trials, in the order they were told (journaled)."""
    trials = [json.loads(line) for line in (home / "trials.jsonl").read_text().splitlines()]
    return [[t for t in trials if t["outer_fold"] == fold] for fold in range(3)]


def test_through_a_pipe_a_line_per_fold_and_during_the_search(tmp_path) -> None:
    # run.progress_s this small: a line after every trial, checked against the journal.
    done = run_cli(*STUDY, "run.progress_s=0.000001", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (home,) = stored_studies(tmp_path / "results" / "studies")
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("progress: ") for line in lines), done.stderr
    folds = [FOLD_DONE.fullmatch(line) for line in lines if " done: " in line]
    during = [DURING.fullmatch(line) for line in lines if " done: " not in line]
    assert all(folds) and all(during), done.stderr
    for fold, trials in enumerate(_told(home)):
        scores = [t["inner_mean"] for t in trials]
        best_so_far = [f"{max(scores[: i + 1]):.4f}" for i in range(len(scores))]
        seen = [(int(m[2]), m[3]) for m in during if int(m[1]) == fold + 1]
        assert seen == list(zip(range(1, 7), best_so_far, strict=True))
        assert folds[fold].groups() == (str(fold + 1), "6", best_so_far[-1])
    # and results alone on stdout
    assert done.stdout.startswith("random on breast_cancer / logreg")
    assert "progress" not in done.stdout and "[INFO]" not in done.stdout


@pytest.mark.slow  # the pipe test below is the fast one
def test_by_default_a_short_search_says_only_its_folds_and_logs_go_to_stderr(tmp_path) -> None:
    done = run_cli(*STUDY, cwd=tmp_path)  # run.progress_s: 30 s, longer than these searches
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [FOLD_DONE.fullmatch(line)[1] for line in lines] == ["1", "2", "3"], done.stderr

    again = run_cli(*STUDY, cwd=tmp_path)  # read back: a log line says so
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout  # the results, and nothing else
    (line,) = again.stderr.splitlines()
    assert "[INFO]" in line and "finished earlier" in line


def _window(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@pytest.mark.parametrize("columns", [80, 0], ids=["a terminal", "a pseudo-terminal, no size"])
def test_on_a_terminal_a_bar_else_lines_and_no_lock_is_left(tmp_path, columns) -> None:
    controller, terminal = pty.openpty()
    _window(terminal, 24, columns)
    env = os.environ | {
        "PYTHONPATH": str(ROOT), "OPENML_SKIP_PARQUET": "true",
        "TUNEBENCH_DATASETS": str(SHARED / "datasets"),
    }  # fmt: skip
    with subprocess.Popen(
        [sys.executable, "-m", "harness", *STUDY], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=terminal, text=True,
    ) as process:  # fmt: skip
        os.close(terminal)
        shown = b""
        while chunk := _read(controller):
            shown += chunk
        stdout = process.stdout.read()
    os.close(controller)
    assert process.returncode == 0, shown.decode()
    assert stdout.startswith("random on breast_cancer / logreg")
    shown = shown.decode()
    if columns:  # tqdm's bar: redrawn in place, trials counted of 3 x 6
        assert "\r" in shown and "/18 [" in shown and "progress: " not in shown, shown
    else:
        assert [FOLD_DONE.fullmatch(line.strip())[1] for line in shown.splitlines()] == [
            "1", "2", "3"
        ], shown  # fmt: skip
    store = tmp_path / "results" / "studies"
    assert not list(store.glob(".bar-*")), list(store.iterdir())


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other side is closed (the study ended)
        return b""


def test_bars_at_once_take_separate_lines_and_leave_no_lock(tmp_path) -> None:
    first, second = free_slot(tmp_path), free_slot(tmp_path)
    assert (first[0], second[0]) == (0, 1)
    release(first)  # that study ended: its line is free again
    third = free_slot(tmp_path)
    assert third[0] == 0
    release(second)
    release(third)
    assert list(tmp_path.iterdir()) == []


def test_lines_while_outer_folds_run_at_once_name_the_folds_running(tmp_path) -> None:
    """Folds at once (harness.engine.folds) tell their trials interleaved: a line during the
    search names the folds running and counts their trials of their budgets; `fold k/n done`
    counts the folds finished, with the finished fold's own trials."""
    out = io.StringIO()
    labels = {"strategy": "tpe", "dataset": "adult", "model": "hgb"}
    bar = StudyProgress(labels, 3, 2, tmp_path, every_s=0.0, stream=out)
    bar.at_once = 2
    for score in (0.7, 0.8, 0.75):  # folds 1 and 2 interleaved: 2 trials of one, 1 of the other
        bar.trial({"status": "ok", "inner_mean": score})
    bar.fold_done(1, running=1, told=2)
    bar.at_once = 2  # the third fold started
    bar.trial({"status": "ok", "inner_mean": 0.6})
    bar.close()
    lines = [line.split(";")[0] for line in out.getvalue().splitlines()]
    name = "progress: tpe adult/hgb: "
    assert lines == [
        name + "folds 1-2/3: 1/4 trials, best inner 0.7000",
        name + "folds 1-2/3: 2/4 trials, best inner 0.8000",
        name + "folds 1-2/3: 3/4 trials, best inner 0.8000",
        name + "fold 1/3 done: 2 trials, best inner 0.8000",
        name + "folds 2-3/3: 2/4 trials, best inner 0.8000",
    ]
    assert bar.n == 2 + 1 + 1  # the finished fold's budget, the running fold's 2 trials
