"""Sweeps on Ray (hydra/launcher=ray): a local instance on 127.0.0.1, the joblib launcher's tables.

Skipped when Ray is not installed (`pip install -e ".[ray]"`); in CI that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store.records import StudyRecords
from tests.helpers import ROOT, need_extra, run_cli, stored_studies
from tests.test_resume import assert_same_results

pytestmark = [pytest.mark.alone, pytest.mark.slow]  # Ray's workers take every core

TINY = ("strategy=grid,random", "budget.n_trials=3", "protocol.outer_folds=2")
NO_REPORT = "~hydra.callbacks.report"


@pytest.fixture(scope="module", autouse=True)
def ray_installed() -> None:
    need_extra("ray", "ray")


def _studies(cwd: Path) -> dict[str, StudyRecords]:
    return {
        p.name: StudyRecords(p) for p in stored_studies(cwd / "results" / "studies")
    }  # not .cache


def _ray_daemons() -> set[int]:
    found = subprocess.run(["pgrep", "-x", "raylet|gcs_server"], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def test_a_ray_sweep_has_the_joblib_sweeps_tables_and_leaves_no_ray_running(tmp_path) -> None:
    before = _ray_daemons()
    for launcher in ("ray", "joblib"):
        (tmp_path / launcher).mkdir()
    on_ray = run_cli("-m", "hydra/launcher=ray", *TINY, NO_REPORT, cwd=tmp_path / "ray")
    assert on_ray.returncode == 0, on_ray.stderr
    assert _ray_daemons() <= before  # the local instance was shut down
    on_joblib = run_cli("-m", *TINY, NO_REPORT, cwd=tmp_path / "joblib")
    assert on_joblib.returncode == 0, on_joblib.stderr

    ray, joblib = _studies(tmp_path / "ray"), _studies(tmp_path / "joblib")
    assert len(ray) == 2 and ray.keys() == joblib.keys()
    for key, records in ray.items():
        meta = records.read_meta()
        assert meta["status"] == "finished"
        plan = meta["parallel"]
        assert (plan["launcher"], plan["cpus"], plan["studies_at_once"]) == ("ray", 1, 1)
        assert plan["blas_threads"] == plan["blas_threads_in_force"] == 1  # as joblib's here
        assert_same_results(records.read_tables(), joblib[key].read_tables())


def test_a_local_ray_instance_is_bound_to_loopback() -> None:
    probe = (
        "import json\n"
        "from hydra_plugins.tunebench_ray_launcher.ray_launcher import RayLauncher\n"
        "ray = RayLauncher(address=None, cpus_per_task=1, num_cpus=1).start()\n"
        "node = ray.nodes()[0]\n"
        "gcs = ray.get_runtime_context().gcs_address\n"
        "print(json.dumps({'node': node['NodeManagerAddress'], 'gcs': gcs}))\n"
        "ray.shutdown()\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["node"] == "127.0.0.1" and seen["gcs"].startswith("127.0.0.1:")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("hydra.launcher.cpus_per_task=0", "hydra.launcher.cpus_per_task=0: give a number"),
        ("hydra.launcher.num_cpus=-2", "hydra.launcher.num_cpus=-2: give a number"),
    ],
)
def test_bad_ray_launcher_options_stop_with_one_line(tmp_path, override, message) -> None:
    done = run_cli("-m", "hydra/launcher=ray", override, *TINY, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {message} of CPUs >= 1"]
    assert not (tmp_path / "results").exists()


def test_a_ray_sweep_without_ray_installed_says_how_to_install_it(tmp_path) -> None:
    command = (  # `import ray` fails in this process, as where it is not installed
        "import sys; sys.modules['ray'] = None; "
        f"sys.argv = ['harness', '-m', 'hydra/launcher=ray', *{list(TINY)!r}]; "
        "from harness.cli import main; main()"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: hydra/launcher=ray needs Ray: pip install -e '.[ray]'"
    assert not (tmp_path / "results").exists()
