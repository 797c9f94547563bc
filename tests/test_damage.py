"""Damaged records are found, set aside and recovered, never silently accepted: a damaged
journal line of an unfinished study is recomputed, a finished study's missing or unreadable
table (or study.json) is rebuilt, and the report names a damaged file instead of a traceback.
Each case ends as an uninterrupted run does, with one line on stderr saying what was done."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import UsageError
from harness.report.__main__ import main as report_main
from harness.store.finished import finished_studies, read_finished
from harness.store.records import Damaged, Journal, StudyRecords, checksum
from tests.helpers import besides_progress, run_inline, stored_studies, untimed

# Without the evaluation cache, so that a recomputed trial is computed, not read back.
STUDY = ("strategy=random", "dataset=iris", "model=logreg", "budget.n_trials=4",
         "protocol.outer_folds=2", "run.cache=false")  # fmt: skip
OTHER_KEY = "0123456789abcdef"


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple, dict]:
    """The study run once, uninterrupted: its folder, its tables, its study.json."""
    cwd = tmp_path_factory.mktemp("whole")
    done = run_inline(*STUDY, cwd=cwd)
    assert done.returncode == 0 and said(done.stderr) == [], done.stderr
    (home,) = stored_studies(cwd / "results" / "studies")
    return home, StudyRecords(home).read_tables(), json.loads((home / "study.json").read_text())


def _killed_copy(home: Path, store: Path, trials: int = 6, folds: int = 1) -> Path:
    """What a run killed after `trials` journal lines leaves: the journals up to there, no
    tables, study.json saying running. (Fold 0's 4 trials and its record, 2 trials of fold 1.)"""
    copy = store / home.name
    copy.mkdir(parents=True)
    for name, keep in (("trials.jsonl", trials), ("folds.jsonl", folds)):
        lines = (home / name).read_bytes().splitlines(keepends=True)
        (copy / name).write_bytes(b"".join(lines[:keep]))
    meta = json.loads((home / "study.json").read_text()) | {"status": "running"}
    (copy / "study.json").write_text(json.dumps(meta))
    return copy


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _change_line(path: Path, number: int, change: Callable[[bytes], bytes]) -> bytes:
    """Replace line `number` (1-based) of a file by `change` of it; returns the new line."""
    lines = _lines(path)
    lines[number - 1] = change(lines[number - 1])
    path.write_bytes(b"".join(lines))
    return lines[number - 1]


def garble(line: bytes) -> bytes:
    """Bytes overwritten in the middle of a line, its newline kept."""
    return line[:60] + b"\x00\xff#garbled#" + line[72:]


def edit_inner_mean(line: bytes) -> bytes:
    """A value edited by hand, the line still valid JSON with its old checksum."""
    record = json.loads(line)
    record["inner_mean"] = 0.999
    return json.dumps(record).encode() + b"\n"


def from_another_study(line: bytes) -> bytes:
    """The same record as another study's journal holds it: checksummed under its key."""
    record = json.loads(line)
    record.pop("checksum")
    scratch = Path(f"/tmp/.another-{OTHER_KEY}.jsonl")
    scratch.unlink(missing_ok=True)
    Journal(scratch, OTHER_KEY).append(record | {"study_key": OTHER_KEY})
    copied = scratch.read_bytes()
    scratch.unlink()
    return copied


def assert_same_results(home: Path, whole_tables: tuple) -> None:
    for ours, theirs in zip(StudyRecords(home).read_tables(), whole_tables, strict=True):
        pd.testing.assert_frame_equal(untimed(ours), untimed(theirs))


def said(stderr: str) -> list[str]:
    """What a run said on stderr besides its progress lines and INFO log lines (both go to
    stderr: harness.engine.progress, conf/config.yaml's logging)."""
    return [line for line in besides_progress(stderr) if "][INFO] - " not in line]


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = said(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("journal", "number", "change", "failing", "redone"),
    [
        ("trials.jsonl", 1, garble, 1, True),  # the first line: fold 0 is redone
        ("trials.jsonl", 3, garble, 1, True),  # the middle of fold 0
        ("trials.jsonl", 6, garble, 1, False),  # the last line (its newline kept)
        ("trials.jsonl", 3, edit_inner_mean, 1, True),  # an edited value
        ("trials.jsonl", 5, from_another_study, 1, False),  # a line from another study
        ("folds.jsonl", 1, garble, 1, False),  # fold 0's record
    ],
    ids=["first", "middle", "last", "edited", "copied", "fold-record"],
)
def test_a_damaged_journal_line_of_an_unfinished_study_is_set_aside_and_recomputed(
    tmp_path, whole, journal, number, change, failing, redone
) -> None:
    home, tables, _ = whole
    copy = _killed_copy(home, tmp_path / "store")
    bad = _change_line(copy / journal, number, change)
    total = len(_lines(copy / journal))

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"warning: study {home.name}: {failing} damaged line(s) of {total} "
                           f"in {journal} (first: line {number}); lines {number}-{total} "
                           f"moved to {journal}.damaged; recomputing their ")  # fmt: skip
    assert ("redoing outer fold(s) 0 of repeat 0" in line) == redone
    assert_same_results(copy, tables)  # every record there, recomputed to the same values
    assert _lines(copy / f"{journal}.damaged")[0] == bad  # kept for a person to look at
    for name, rows in (("trials", 8), ("folds", 2)):  # the journals whole and intact again
        reading = Journal(copy / f"{name}.jsonl", home.name).scan()
        assert len(reading.records) == reading.lines == rows and reading.first_damaged is None


def test_a_line_torn_by_a_crash_is_cut_off_without_a_word(tmp_path, whole) -> None:
    home, tables, _ = whole
    copy = _killed_copy(home, tmp_path / "store")
    lines = _lines(copy / "trials.jsonl")
    (copy / "trials.jsonl").write_bytes(b"".join(lines[:5]) + lines[5][:40])  # no newline

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0 and said(done.stderr) == [], done.stderr
    assert_same_results(copy, tables)
    assert not (copy / "trials.jsonl.damaged").exists()


def test_a_journal_written_before_checksums_resumes_with_a_note(tmp_path, whole) -> None:
    home, tables, _ = whole
    copy = _killed_copy(home, tmp_path / "store")
    for name in ("trials.jsonl", "folds.jsonl"):
        records = [json.loads(line) for line in _lines(copy / name)]
        for record in records:
            del record["checksum"]
        (copy / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    replayed = [json.loads(line)["eval_seconds"] for line in _lines(copy / "trials.jsonl")]

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert one_line(done.stderr) == (
        f"note: study {home.name}: trials.jsonl and folds.jsonl were written before journal "
        "lines carried checksums; their lines are accepted as they are and now carry one"
    )
    assert_same_results(copy, tables)
    trials = StudyRecords(copy).read_tables()[0]
    assert trials["eval_seconds"][:6].tolist() == replayed  # replayed, not recomputed
    reading = Journal(copy / "trials.jsonl", home.name).scan()
    assert not reading.legacy and len(reading.records) == 8


def test_a_journal_with_the_earlier_checksums_resumes_without_a_word(tmp_path, whole) -> None:
    """Lines as versions before orjson wrote them (the standard library's JSON, keys in
    insertion order, `checksum` over the record's sorted JSON) are intact, and replayed."""
    home, tables, _ = whole
    copy = _killed_copy(home, tmp_path / "store")
    for name in ("trials.jsonl", "folds.jsonl"):
        records = [json.loads(line) for line in _lines(copy / name)]
        lines = []
        for record in records:
            del record["checksum"]
            lines.append(json.dumps(record | {"checksum": checksum(record, home.name)}) + "\n")
        (copy / name).write_text("".join(lines))
    replayed = [json.loads(line)["eval_seconds"] for line in _lines(copy / "trials.jsonl")]

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0 and said(done.stderr) == [], done.stderr
    assert_same_results(copy, tables)
    trials = StudyRecords(copy).read_tables()[0]
    assert trials["eval_seconds"][:6].tolist() == replayed  # replayed, not recomputed


def _finished_copy(home: Path, store: Path) -> Path:
    copy = store / home.name
    shutil.copytree(home, copy)
    return copy


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "trials.parquet").unlink(), "trials.parquet is missing"),
        (lambda d: _truncate(d / "trials.parquet"), "trials.parquet is unreadable ("),
        (lambda d: (d / "folds.parquet").write_bytes(bytes(range(100))),
         "folds.parquet is unreadable ("),
        (lambda d: (d / "folds.parquet").unlink(), "folds.parquet is missing"),
        (lambda d: [(d / f"{n}.parquet").unlink() for n in ("trials", "folds")],
         "trials.parquet is missing and folds.parquet is missing"),
    ],
    ids=["trials-deleted", "trials-truncated", "folds-100-bytes", "folds-deleted", "both"],
)  # fmt: skip
def test_a_finished_studys_damaged_table_is_rebuilt_from_its_journals(
    tmp_path, whole, damage, message
) -> None:
    home, tables, _ = whole
    copy = _finished_copy(home, tmp_path / "store")
    damage(copy)

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"note: study {home.name}: {message}")
    assert line.endswith("; rebuilt from its journals (trials.jsonl and folds.jsonl)")
    for rebuilt, before in zip(StudyRecords(copy).read_tables(), tables, strict=True):
        pd.testing.assert_frame_equal(rebuilt, before)  # the same records, timings and all
    assert json.loads((copy / "study.json").read_text())["status"] == "finished"
    # repaired for good
    again = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)
    assert again.returncode == 0 and said(again.stderr) == [], again.stderr


def _derivable(meta: dict) -> dict:
    """study.json without what a study.json written again cannot know (when it ran) or
    takes from the run that writes it (its `run` options, such as the store's path)."""
    meta = {k: v for k, v in meta.items() if k not in ("started", "finished")}
    return meta | {"config": {k: v for k, v in meta["config"].items() if k != "run"}}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _truncate(d / "study.json"), "study.json is unreadable ("),
        (lambda d: (d / "study.json").write_bytes(b"\x00\xff" * 50), "study.json is unreadable ("),
        (lambda d: (d / "study.json").write_text("[1, 2]"), "study.json is unreadable (not a"),
        (lambda d: (d / "study.json").unlink(), "study.json is missing"),
    ],
    ids=["truncated", "binary", "not-an-object", "deleted"],
)
def test_a_finished_studys_damaged_study_json_is_written_again_from_its_config(
    tmp_path, whole, damage, message
) -> None:
    home, tables, meta = whole
    copy = _finished_copy(home, tmp_path / "store")
    damage(copy)

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"note: study {home.name}: {message}")
    assert line.endswith("written again from the study's config")
    assert ("moved to study.json.damaged" in line) == (message != "study.json is missing")
    again = json.loads((copy / "study.json").read_text())
    assert _derivable(again) == _derivable(meta)
    assert again["config"]["run"]["store"] == str(tmp_path / "store")  # this run's
    for rebuilt, before in zip(StudyRecords(copy).read_tables(), tables, strict=True):
        pd.testing.assert_frame_equal(rebuilt, before)


def test_a_finished_study_with_a_damaged_journal_keeps_its_tables(tmp_path, whole) -> None:
    home, tables, _ = whole
    copy = _finished_copy(home, tmp_path / "store")
    _change_line(copy / "trials.jsonl", 2, garble)

    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert one_line(done.stderr) == (
        f"warning: study {home.name}: 1 damaged line(s) of 8 in trials.jsonl (first: line 2); "
        "lines 2-8 moved to trials.jsonl.damaged; the finished study's tables read intact and "
        "are kept: nothing is recomputed"
    )
    for kept, before in zip(StudyRecords(copy).read_tables(), tables, strict=True):
        pd.testing.assert_frame_equal(kept, before)
    # Later, with its tables lost too, the run recomputes what the journals no longer hold.
    (copy / "trials.parquet").unlink()
    done = run_inline(*STUDY, f"run.store={tmp_path / 'store'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_same_results(copy, tables)


def _report(*argv: str) -> tuple[int, str]:
    err, code = io.StringIO(), 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            report_main(list(argv))
        except SystemExit as e:
            code = e.code
    return code, err.getvalue()


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory: pytest.TempPathFactory, whole) -> Path:
    """A store of the study above and of grid search on the same problem."""
    cwd = tmp_path_factory.mktemp("two")
    store = cwd / "results" / "studies"
    shutil.copytree(whole[0], store / whole[0].name)
    done = run_inline(*STUDY, "strategy=grid", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return store


REPORT_DAMAGE = {
    "trials-truncated": (lambda d: _truncate(d / "trials.parquet"),
                         "trials.parquet is unreadable ("),
    "folds-100-bytes": (lambda d: (d / "folds.parquet").write_bytes(bytes(100)),
                        "folds.parquet is unreadable ("),
    "folds-deleted": (lambda d: (d / "folds.parquet").unlink(), "folds.parquet is missing"),
    "study-json-truncated": (lambda d: _truncate(d / "study.json"), "study.json is unreadable ("),
}  # fmt: skip


def test_the_report_names_each_damaged_file_and_reports_on_the_rest(
    tmp_path, whole, two_studies
) -> None:
    """One store, one report: the grid study intact, a copy of the random one per damage."""
    store = tmp_path / "store"
    shutil.copytree(two_studies, store)
    shutil.rmtree(store / whole[0].name)
    for name, (damage, _) in REPORT_DAMAGE.items():
        shutil.copytree(whole[0], store / name)
        damage(store / name)

    code, err = _report(str(store), "--out", str(tmp_path / "report"))

    assert code == 0, err
    line = one_line(err)
    assert line.startswith("warning: left out of the report, damaged: ")
    assert line.endswith(
        "(run each study's command again: it rebuilds its tables from its journals and its "
        "study.json from its config; or move the folder away)"
    )
    text = (tmp_path / "report" / "report.md").read_text()
    for name, (_, message) in REPORT_DAMAGE.items():
        assert f"{name}/{message}" in line
        assert f"{name}/{message}" in text  # the report says what it left out
    studies = pd.read_parquet(tmp_path / "report" / "tables" / "studies.parquet")
    assert studies.strategy.tolist() == ["grid"]  # the rest reported on


def test_the_report_on_a_store_with_nothing_intact_exits_2_in_one_line(
    tmp_path, whole, two_studies
) -> None:
    store = tmp_path / "store"
    shutil.copytree(two_studies, store)
    keys = sorted(p.name for p in stored_studies(store))
    _truncate(store / keys[0] / "trials.parquet")
    (store / keys[1] / "study.json").write_bytes(bytes(100))

    code, err = _report(str(store), "--out", str(tmp_path / "report"))

    assert code == 2
    line = one_line(err)
    assert line.startswith(f"error: no finished study under {store}")
    assert f"{keys[0]}/trials.parquet is unreadable (" in line
    assert f"{keys[1]}/study.json is unreadable (" in line
    assert not (tmp_path / "report").exists()


def test_the_tools_reading_finished_studies_name_a_damaged_one_and_read_the_rest(
    tmp_path, whole, capsys
) -> None:
    """MLflow tracking and the optuna export read finished studies the same way."""
    shutil.copytree(whole[0], tmp_path / "intact")
    shutil.copytree(whole[0], tmp_path / "damaged")
    (tmp_path / "damaged" / "folds.parquet").write_bytes(bytes(100))

    (study,) = finished_studies(tmp_path)

    assert study.directory == tmp_path / "intact"
    line = one_line(capsys.readouterr().err)
    assert line.startswith("warning: left out, damaged: damaged/folds.parquet is unreadable (")
    with pytest.raises(Damaged, match=r"^folds.parquet is unreadable \("):
        read_finished(tmp_path / "damaged")
    shutil.rmtree(tmp_path / "intact")
    with pytest.raises(UsageError, match=r"damaged: damaged/folds.parquet is unreadable \("):
        finished_studies(tmp_path)
