"""`python -m harness`: compose the config with Hydra, run one study, print its table.

Bad input of any kind ends with one line on stderr and exit code 2, and leaves no run
directory behind. A study that fails after validation (a bug, a full disk) ends with one
line and exit code 1, its study.json saying `failed` with the error. Config composition
errors (an unknown dataset, a misspelt key) are caught by composing every requested
combination with Hydra's own compose API before any job starts; what `+` and `~` may touch is
checked too (harness.cli.overrides), and each composed combination's values, all those that
need neither the data nor a heavy library (harness.engine.settings: the seed, budget,
protocol, store, dataset file, ...). Up to then only Hydra is imported, so a refused command
returns in a fraction of a second; the engine (scikit-learn, pandas, ...) is imported when the
study runs, and what needs the data or a library (fold counts the rows can fill, the search
space, library arguments) is checked then, before anything is written.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from harness.cli import overrides as rules
from harness.engine import settings
from harness.errors import UsageError, error_text
from harness.paths import CONF

RAY_LAUNCHER = "hydra_plugins.tunebench_ray_launcher.ray_launcher.RayLauncher"
RESULTS = "results"
log = logging.getLogger("harness")


def main() -> None:
    """Entry point: pre-flight the overrides, then hand over to Hydra."""
    parser = get_args_parser()
    parser.error = _argument_error  # Hydra's own flags, in one line rather than a usage block
    args = parser.parse_args()
    if args.shell_completion and not args.overrides:  # Hydra raises a ValueError
        fail("--shell-completion needs a subcommand: install=bash (or zsh, fish), uninstall=bash")
    if args.cfg or args.info:  # printing the config: still no key conf/ has no place for
        try:
            rules.check(_parse(args.overrides), CONF)
        except UsageError as e:
            fail(str(e))
    elif not (args.help or args.hydra_help or args.shell_completion):
        preflight(args.overrides, multirun=args.multirun)
        if args.multirun:
            _trust_preflight()
    _hydra_main()


def _trust_preflight() -> None:
    """Hydra's sweeper composes every job of a batch again before it launches them, to find
    one that fails early (`validate_batch_is_legal`); preflight has just composed each of them
    and checked more, so the sweep skips that repeat. A job's config is then composed twice
    (preflight, and its launcher for the job), not three times: 0.3 s each on 2 cores, 2
    minutes for the tables preset's 405 jobs."""
    from hydra.plugins.sweeper import Sweeper

    Sweeper.validate_batch_is_legal = lambda self, batch: None


def preflight(overrides: list[str], multirun: bool) -> None:
    """Compose every combination a command asks for; exit 2 with one line on the first error."""
    parsed = _parse(overrides)
    task = [o for o in parsed if not o.get_key_element().startswith("hydra")]
    try:
        rules.check(task, CONF)  # reads conf/'s YAML only: no compose yet
        with initialize_config_dir(str(CONF), version_base=None):
            combos, local = [[o.input_line for o in task]], True
            if multirun:
                combos, local = _sweep(parsed, task)
            for combo in combos:  # every value checkable without the data or the engine
                settings.check(compose(config_name="config", overrides=combo), local)
        if any(o.key_or_group == "tracking" and o.value() == "mlflow" for o in task):
            from harness.tracking.mlflow_runs import check_server

            check_server()  # a tracking server that is down fails now, not after the sweep
    except MissingConfigException as e:
        fail(_missing_message(e))
    except (HydraException, OmegaConfBaseException) as e:
        fail(_one_line(e))
    except UsageError as e:
        fail(str(e))


def _parse(overrides: list[str]) -> list[Override]:
    """Hydra's parse of the overrides; exit 2 with one line if it fails."""
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        fail(_unparsable(overrides) or _one_line(e))
        raise  # not reached: fail exits


def _sweep(parsed: list[Override], task: list[Override]) -> tuple[list[list[str]], bool]:
    """Every job of a multirun (a conf/sweep/ preset's params and the command line's), and
    whether they run on this machine (not on a Ray cluster's nodes)."""
    from harness.sweep import sweep_jobs

    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    params = compose(config_name="config", overrides=fixed, return_hydra_config=True).hydra
    check_launcher(params.launcher)
    jobs = sweep_jobs(params.sweeper.get("params") or {}, [o.input_line for o in task])
    return jobs, params.launcher.get("_target_") != RAY_LAUNCHER


def check_launcher(launcher: DictConfig) -> None:
    """A Ray sweep needs Ray installed and whole CPUs (the launcher imports Ray only to run)."""
    if launcher.get("_target_") != RAY_LAUNCHER:
        return
    if importlib.util.find_spec("ray") is None:
        raise UsageError("hydra/launcher=ray needs Ray: pip install -e '.[ray]'")
    for key in ("cpus_per_task", "num_cpus"):
        value = launcher.get(key)
        if value is not None and value < 1:
            raise UsageError(f"hydra.launcher.{key}={value}: give a number of CPUs >= 1")


def _argument_error(message: str) -> None:
    if message.startswith("unrecognized arguments"):  # argparse ends the overrides at a flag
        message += "; flags (-m, --cfg, ...) go before the overrides, e.g. -m strategy=tpe,random"
    fail(f"{message} (see `python -m harness --help`)")


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(version_base=None, config_path=str(CONF), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    from harness.cli.summary import fold_table, headline
    from harness.engine import parallel
    from harness.engine import study as studies
    from harness.problem.declared import declared
    from harness.store.records import link_study

    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        study = studies.prepare(cfg)
        budget = study.budget
        workers = budget.workers if budget.clock == "real" else 1
        # A library evaluating in its own workers (Ray Tune) takes the cores, and is sent the
        # evaluator, which a fold run at once beside others cannot give it: one at a time
        target = str(cfg.strategy.adapter.get("_target_", ""))
        own_workers = declared(target, "own_workers", False)
        in_workers = studies.evaluates_in_workers(budget) or own_workers
        parallelism = parallel.plan(
            HydraConfig.get(), study.n_jobs, workers, study.searches, in_workers
        )
    except UsageError as e:
        discard(out)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.warning("skipped %s: %s", HydraConfig.get().job.override_dirname, e)
            return
        fail(str(e))
    for n, home in enumerate(study.homes):  # run.seeds: a table study's other seeds too
        link_study(out, home, "study" if n == 0 else f"study-{n}")
    try:
        with parallel.limits(parallelism):
            _, folds = studies.run(study, study.home, parallelism, study.cache)
    except UsageError as e:  # found once the store is open, e.g. it holds another study
        fail(str(e))
    except Exception as e:  # recorded in study.json as failed; the journals are kept
        print(
            f"error: study {study.key} failed: {error_text(e)}; its records are in "
            f"{study.home} (study.json has the error); fix the cause and run the same "
            "command again to resume it",
            file=sys.stderr,
        )
        sys.exit(1)
    for note in study.notes:
        print(f"note: {note}")
    print(headline(study.labels(), study.scorer_name))
    print(fold_table(folds))
    print(f"results: {study.home}")


def discard(directory: Path) -> None:
    """Remove a run directory this job made, and parents it left empty, up to results/."""
    shutil.rmtree(directory, ignore_errors=True)
    for parent in directory.parents:
        if parent.name == RESULTS or not parent.exists() or any(parent.iterdir()):
            break
        parent.rmdir()


def _one_line(e: Exception) -> str:
    """Hydra's message, its cause (e.g. "Key 'x' is not in struct") and its hint, on one line."""
    first, *hints = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    cause = str(e.__cause__).strip().splitlines()[0] if e.__cause__ else ""
    parts = [first.rstrip(".") + (f": {cause}" if cause else ""), *hints[:1]]
    return "; ".join(parts) + " (see `python -m harness --help`)"


def _unparsable(overrides: list[str]) -> str | None:
    """Hydra's grammar takes no spaces between arguments or non-ASCII characters unquoted:
    name the override it stopped at and show it quoted (None for other parse errors)."""
    parser = OverridesParser.create()
    for i, text in enumerate(overrides):
        try:
            parser.parse_override(text)
            continue
        except HydraException:
            pass
        previous = overrides[i - 1] if i else ""
        if "=" not in text and "=" in previous:  # the shell split a value at a space
            key, value = previous.split("=", 1)
            return (
                f"cannot parse override '{text}': a value with spaces must be quoted, "
                f"e.g. '{key}=\"{value} {text}\"' (the whole argument in single quotes)"
            )
        if "=" in text and not text.isascii():
            key, value = text.split("=", 1)
            return (
                f"cannot parse override '{text}': a value with non-ASCII characters must be "
                f"quoted, e.g. '{key}=\"{value}\"' (the whole argument in single quotes)"
            )
        return None
    return None


def _missing_message(e: MissingConfigException) -> str:
    group = str(e.missing_cfg_file).split("/")[0] if e.missing_cfg_file else "config"
    wanted = str(e.missing_cfg_file).split("/")[-1] if e.missing_cfg_file else "?"
    if e.options:
        return f"unknown {group} '{wanted}'; choose one of: {', '.join(sorted(e.options))}"
    return str(e).strip().splitlines()[0]
