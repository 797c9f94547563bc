"""A table built by `python -m harness.tabulate`, read back for a `problem=table` study.

The table is a tabulating study's records (strategy=design): per repeat, outer fold and
configuration, the inner scores, the seconds and the outer-test score of the configuration
refit on the outer-training rows. It answers only a study of the same data (fingerprint),
protocol, model (its space included), metric and seed, for the seed decides the outer and
inner splits and the estimator's random state: the study's folds are then the table's.
Anything else is refused in one line that says what differs (UsageError).

A table built with rungs (`design.rungs=true`) holds each configuration at each rung of the
model's fidelity too, as the design's climb trained it (adapters.design); rows are indexed by
their fraction of the full resource (`fidelity`, 1 for a full evaluation).

A configuration the design does not hold is answered by the surrogate `problem.surrogate`
names, fitted per outer fold and rung on the fold's rows (harness.problem.surrogate: `nearest`, the
nearest design point's row; `forest`, a random forest's prediction of each number); with none
(null, the default) it has no answer and `row` raises NotInTable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UsageError
from harness.problem import surrogate as surrogates
from harness.problem.space import SearchSpace
from harness.store.records import STUDY, Damaged, StudyRecords, canonical

OWN = "table"  # problem=table
DESIGN = "design"  # the strategy of a tabulating study (conf/strategy/design.yaml)
BUILD = "python -m harness.tabulate dataset={dataset} model={model} design.n=200"
MATCHED = ("seed", "protocol", "model", "metric")  # what a table must share with its study


class NotInTable(LookupError):
    """A configuration the table's design does not hold."""


def params_key(params: Mapping[str, Any]) -> str:
    """A configuration as the table indexes it: its journaled (canonical) JSON, keys sorted."""
    return json.dumps(canonical(dict(params)), sort_keys=True)


@dataclass(frozen=True)
class OwnTable:
    """The rows of one table, indexed by (repeat, outer fold, configuration, fraction of the
    full resource); each fold's defaults are its first full evaluation (the design proposes
    them first, adapters.design)."""

    key: str
    rows: dict[tuple[int, int, str, float], dict[str, Any]]
    defaults: dict[tuple[int, int], dict[str, Any]]
    space: SearchSpace | None = None  # the model's, for a surrogate
    surrogate: str | None = None  # problem.surrogate: None (exact only), nearest, forest
    rungs: tuple[float, ...] = (1.0,)  # the fractions tabulated; (1.0,): full evaluations only
    _fitted: dict[tuple[int, int, float], tuple[Any, list[dict]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def row(
        self, repeat: int, fold: int, params: Mapping[str, Any], fraction: float = 1.0
    ) -> dict[str, Any]:
        """The table's row of `params` in outer fold (`repeat`, `fold`) at `fraction` of the
        full resource (one of `rungs`); `{}` (the model's defaults, as the baseline asks for
        them) is the fold's defaults row. Off the design, the surrogate's answer (its
        `surrogate` column says which), or NotInTable."""
        if not params:  # at a rung below the full one, the defaults' row of that rung
            defaults = self.defaults[(repeat, fold)]
            if fraction == 1:
                return defaults
            params = defaults["params"]
        found = self.rows.get((repeat, fold, params_key(params), fraction))
        if found is not None:
            return found
        if self.surrogate is None or self.space is None:
            raise NotInTable(
                f"configuration {params_key(params)} is not in table {self.key} (repeat "
                f"{repeat}, outer fold {fold}): a table answers the configurations of its "
                "design only; use strategy=grid on a grid-designed table, or "
                "problem.surrogate=nearest or forest"
            )
        return self._answer(repeat, fold, dict(params), fraction)

    def _answer(
        self, repeat: int, fold: int, params: dict[str, Any], fraction: float
    ) -> dict[str, Any]:
        """The surrogate's row for `params`: the nearest design row itself (its params
        replaced), or a forest's inner scores, outer-test score (full evaluations only) and
        seconds. Fitted on the fold's rows of that rung that evaluated (and, at full fidelity,
        refit) without error, once per fold and rung."""
        full = fraction == 1
        if (repeat, fold, fraction) not in self._fitted:
            usable = [
                r for (rp, f, _, at), r in self.rows.items()
                if (rp, f, at) == (repeat, fold, fraction) and r["status"] == "ok"
                and (not full or np.isfinite(r["outer_test"]))
            ]  # fmt: skip
            configs = [r["params"] for r in usable]
            if self.surrogate == "nearest":  # the answer is a row: fit on the rows' indices
                values = np.arange(len(usable), dtype=float)[:, None]
            else:
                values = np.array([_numbers(r, full) for r in usable])
            seed = int(np.random.SeedSequence([repeat, fold]).generate_state(1)[0])
            model = surrogates.fit(self.surrogate, self.space, configs, values, seed)
            self._fitted[(repeat, fold, fraction)] = (model, usable)
        model, usable = self._fitted[(repeat, fold, fraction)]
        predicted = model.predict([params])[0]
        if self.surrogate == "nearest":
            return usable[int(predicted[0])] | {"params": params, "surrogate": "nearest"}
        k = len(usable[0]["inner_scores"])
        outer, seconds = (predicted[k], predicted[k + 1 :]) if full else (np.nan, predicted[k:])
        return {
            "params": params, "status": "ok", "error": None, "warning": None,
            "inner_scores": predicted[:k].tolist(), "outer_test": float(outer),
            "outer_error": None, "outer_warning": None, "surrogate": "forest",
            **dict(zip(SECONDS, seconds.tolist(), strict=True)),
        }  # fmt: skip


SECONDS = ("fit_seconds", "score_seconds", "eval_seconds", "cpu_seconds")


def _numbers(row: Mapping[str, Any], full: bool = True) -> list[float]:
    """What a forest predicts of a row: each inner fold's score, the outer-test score (of a
    full evaluation: a rung below has none), the seconds."""
    outer = [row["outer_test"]] if full else []
    return [*row["inner_scores"], *outer, *(float(row[c]) for c in SECONDS)]


def load(config: Mapping[str, Any], fingerprint: str) -> OwnTable:
    """The table a `problem=table` study's resolved `config` names (`problem.table`, a study
    key in `run.store`; `find` gives it when none is named), checked against the study;
    UsageError (one line) if it is missing, unfinished, damaged, or built from other data,
    protocol, model, metric or seed."""
    store = Path(config["run"]["store"])
    key = config["problem"].get("table")
    dataset, model = config["dataset"]["name"], config["model"]["name"]
    build = BUILD.format(dataset=dataset, model=model)
    home = store / str(key)
    if not (home / STUDY).is_file():
        raise UsageError(f"problem.table={key}: no table in {store}; build one: {build}")
    records = StudyRecords(home)
    try:
        meta = records.read_meta()
        if meta.get("config", {}).get("strategy", {}).get("name") != DESIGN:
            raise UsageError(f"problem.table={key}: study {key} is not a table (strategy=design)")
        if meta.get("status") != "finished":
            raise UsageError(
                f"problem.table={key}: the table is {meta.get('status')}, not finished; run its "
                "tabulate command again to complete it"
            )
        _check_matches(key, meta, config, fingerprint)
        trials, _ = records.read_tables()
    except Damaged as e:
        raise UsageError(
            f"problem.table={key}: the table is damaged ({e}); run its tabulate command again "
            "to rebuild it"
        ) from None
    rows: dict[tuple[int, int, str, float], dict[str, Any]] = {}
    defaults: dict[tuple[int, int], dict[str, Any]] = {}
    for row in trials.sort_values("trial").to_dict("records"):
        row["params"] = json.loads(row["params"]) if isinstance(row["params"], str) else {}
        place = (int(row["repeat"]), int(row["outer_fold"]))
        fraction = float(row["fidelity"])
        rows[(*place, params_key(row["params"]), fraction)] = row
        if fraction == 1 and place not in defaults:  # the design's first: the defaults
            defaults[place] = row
    space = SearchSpace.from_config(config["model"].get("space") or {}, f"model {model}")
    rungs = tuple(sorted({at for *_, at in rows}))
    return OwnTable(str(key), rows, defaults, space, config["problem"].get("surrogate"), rungs)


def _check_matches(
    key: str, meta: Mapping[str, Any], config: Mapping[str, Any], fingerprint: str
) -> None:
    """UsageError naming what the table was built from that the study differs in: its data,
    or every differing value of the first part of MATCHED that differs."""
    if meta.get("data_fingerprint") != fingerprint:
        raise UsageError(
            f"problem.table={key} was built from other data (fingerprint "
            f"{meta.get('data_fingerprint')}, here {fingerprint}); build a table of this data"
        )
    built = meta["config"]
    for part in MATCHED:
        theirs, ours = _comparable(part, built.get(part)), _comparable(part, config.get(part))
        if theirs != ours:
            where = "; ".join(_differences(theirs, ours, part))
            raise UsageError(
                f"problem.table={key} was built with another {part} ({where}); run the study "
                f"with the table's {part}, or build a table with this one"
            )


def _comparable(part: str, value: Any) -> Any:
    if part == "protocol" and isinstance(value, Mapping):  # processes, not results
        return {k: v for k, v in value.items() if k != "n_jobs"}
    return value


def _differences(theirs: Any, ours: Any, path: str) -> list[str]:
    """`path: <table's> in the table, <study's> here`, for each key that differs."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        found = []
        for k in sorted(set(theirs) | set(ours), key=str):
            if theirs.get(k) != ours.get(k):
                found += _differences(theirs.get(k), ours.get(k), f"{path}.{k}")
        return found
    return [f"{path}: {json.dumps(theirs)} in the table, {json.dumps(ours)} here"]


def find(config: Mapping[str, Any], fingerprint: str) -> str:
    """The key of the one finished table in `run.store` that answers a study with no
    `problem.table`: of its dataset and model, built from the same data, seed, protocol, model
    and metric (so a sweep over datasets and models can name none); UsageError (one line)
    when none or several do."""
    store = Path(config["run"]["store"])
    dataset, model = config["dataset"]["name"], config["model"]["name"]
    built = tables_in(store, dataset, model)
    fitting = []
    for key in built:
        try:
            _check_matches(key, StudyRecords(store / key).read_meta(), config, fingerprint)
        except (UsageError, Damaged):
            continue
        fitting.append(key)
    if len(fitting) == 1:
        return fitting[0]
    if fitting:
        raise UsageError(
            f"problem=table: {len(fitting)} tables of {dataset}/{model} in {store} fit this "
            f"study ({', '.join(fitting)}); choose one with problem.table=<key>"
        )
    others = f" ({len(built)} built otherwise: {', '.join(built)})" if built else ""
    raise UsageError(
        f"problem=table: no table of {dataset}/{model} in {store} was built with this data, "
        f"seed, protocol, model and metric{others}; build one: "
        + BUILD.format(dataset=dataset, model=model)
    )


def tables_in(store: Path, dataset: str, model: str) -> list[str]:
    """The keys of the finished tables of `dataset`/`model` in `store`."""
    found = []
    for meta_path in sorted(store.glob("*/study.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        labels = meta.get("labels", {})
        if (labels.get("strategy"), labels.get("dataset"), labels.get("model")) == (
            DESIGN, dataset, model,
        ) and meta.get("status") == "finished":  # fmt: skip
            found.append(meta_path.parent.name)
    return found
