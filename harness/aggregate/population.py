"""Population-based training: each member's schedule of hyperparameters, read off the records.

A PBT trial record says which population `member` it belongs to and, after an exploit step,
which trial's fitted models it continued (`exploited_from`); its params are the
hyperparameters it trained that step with. Per PBT trial and numeric hyperparameter, one row:
the member, the fidelity reached, the value, and whether the step followed an exploit. Other
strategies leave `member` empty, so a sweep without PBT gives an empty table (and the report
no population section).
"""

from __future__ import annotations

import json

import pandas as pd

ID = ["budget", "strategy", "model", "dataset", "study_key", "repeat", "outer_fold"]
COLUMNS = [*ID, "member", "trial", "fidelity", "parameter", "value", "exploited"]


def schedule_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per PBT trial and numeric hyperparameter: member, fidelity, value, exploited."""
    if "member" not in trials:
        return pd.DataFrame(columns=COLUMNS)
    population = trials[trials.member.notna()]
    exploited = population.get("exploited_from", pd.Series(index=population.index)).notna()
    rows = [
        [*(getattr(t, c) for c in ID), int(t.member), t.trial, t.fidelity, name, value, jump]
        for t, jump in zip(population.itertuples(), exploited, strict=True)
        for name, value in json.loads(t.params).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
