"""One name per option across libraries: Ray Tune's PBT took `population` and `keep` where
syne-tune's takes `population_size` and `keep_on_exploit`; both now take syne-tune's names.
The old names are refused in one line naming the new one, and the studies run before the
rename keep their keys (so they resume and stay one strategy in a report)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine.study import study_key
from tests.helpers import assert_refused, compose_config, run_inline

# study_key(config, "fingerprint") of the default configs below, computed by the code as it
# was before the rename (commit 126120a): the oracle that the keys did not change.
KEYS_BEFORE = {
    ("strategy=ray_pbt", "model=mlp"): "3152d55c3436ac07",
    ("strategy=st_pbt", "model=mlp"): "d5dc933a52b4d080",
    ("strategy=ray_asha", "model=logreg"): "29afb2f9127b7885",
}


@pytest.mark.parametrize("overrides", list(KEYS_BEFORE))
def test_a_renamed_option_keeps_the_study_key(overrides: tuple[str, str]) -> None:
    assert study_key(compose_config(*overrides), "fingerprint") == KEYS_BEFORE[overrides]


def test_the_renamed_option_changes_the_key_when_its_value_changes() -> None:
    """Keyed under its old name, the option still counts: another value, another study."""
    base = compose_config("strategy=ray_pbt", "model=mlp")
    other = compose_config("strategy=ray_pbt", "model=mlp", "strategy.adapter.population_size=5")
    assert study_key(base, "fingerprint") != study_key(other, "fingerprint")


@pytest.mark.parametrize(
    ("override", "new"),
    [("+strategy.adapter.population=3", "population_size"),
     ("+strategy.adapter.keep=[alpha]", "keep_on_exploit")],
)  # fmt: skip
def test_an_old_option_name_is_refused_naming_the_new_one(
    override: str, new: str, tmp_path: Path
) -> None:
    done = run_inline("strategy=ray_pbt", "model=mlp", override, "budget.n_trials=2", cwd=tmp_path)
    old = override.split("=")[0].lstrip("+")
    assert_refused(done, f"{old} is now called {new}; set strategy.adapter.{new}", tmp_path)
