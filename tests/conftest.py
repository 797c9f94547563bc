"""Shared fixtures: a private copy of the shared OpenML cache.

openml-python writes into its cache and deletes a dataset's folder when a download fails, so
tests never point it at ../shared itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import SHARED, need_extra

try:  # absl comes with Keras (the kerastuner extra)
    from absl import logging as absl_logging
except ImportError:
    absl_logging = None
if absl_logging is not None:
    # absl's idle log handler writes to the sys.stderr of its import (pytest's capture here) and
    # closes it whenever logging is configured again (Hydra, in every run_inline) unless it is
    # the interpreter's own stream: so it gets that one.
    absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture(scope="session")
def openml_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the shared OpenML cache, active for in-process openml calls."""
    source = SHARED / "openml-cache" / "org"
    if not source.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared OpenML cache is missing at {source}")
        pytest.skip(f"no shared OpenML cache at {source}")
    copy = tmp_path_factory.mktemp("openml-cache")
    shutil.copytree(source, copy / "org")
    import openml

    openml.config.set_root_cache_directory(copy)
    os.environ["OPENML_CACHE_DIR"] = str(copy)
    os.environ["OPENML_SKIP_PARQUET"] = "true"
    return copy


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance for every test that runs Ray Tune (Ray starts slowly), bound to
    this machine; shut down after the session, so no Ray process outlives the tests."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # 127.0.0.1 only
    need_extra("ray.tune", "raytune")
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", logging_level=logging.ERROR)  # fmt: skip
    yield ray
    ray.shutdown()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "alone: runs with no other test at once (under pytest-xdist, every other worker waits):"
        " tests that time themselves or need every core, e.g. a limit's wall-clock bound",
    )
    config.addinivalue_line(
        "markers",
        "slow: takes long (docs/testing.md); `pytest -m 'not slow'` runs the fast tests, one"
        " of each family",
    )


@pytest.fixture(autouse=True)
def _share_the_machine(request: pytest.FixtureRequest):
    """Under pytest-xdist, a test marked `alone` holds an exclusive lock that every other test
    holds shared, so nothing else runs beside it. One lock file per test run (xdist's run id),
    so two runs on one machine do not wait for each other."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    import fcntl
    import tempfile

    mode = fcntl.LOCK_EX if request.node.get_closest_marker("alone") else fcntl.LOCK_SH
    with open(Path(tempfile.gettempdir()) / f"tunebench-tests-{run}.lock", "a") as lock:
        fcntl.flock(lock, mode)
        yield
