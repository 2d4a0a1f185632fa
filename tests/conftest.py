"""Shared fixtures. Environment first: Prefect and GX read it at import time."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="keicast-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402

from keicast.yamlfile import dump_yaml, parse_yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# Adoption fits of the session's projects: one cache per session (shared by its xdist workers, whose writes are
# atomic: keicast.cache), never the project's own data/cache
def _shared_fit_cache(run_uid: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"keicast-fits-{run_uid}")


_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # set in each xdist worker before this file is imported
FIT_CACHE = _shared_fit_cache(_RUN) if _RUN else tempfile.mkdtemp(prefix="keicast-fits-")
os.makedirs(FIT_CACHE, exist_ok=True)
SOURCE_ARTICLES = ROOT / "data" / "articles"  # the five source articles the register cites
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config):
    """``-m "not slow"`` (the fast tier) runs no NUTS fit: every adoption fit comes from tests/fixtures/adoption,
    and a test that would start a sampler fails (tests/frozen_fits.py). Under xdist the controller names the run
    (``--testrunuid``), so that it can remove the workers' shared fit cache at the end."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        config.option.testrunuid = config.option.testrunuid or uuid.uuid4().hex
    if "not slow" in (config.option.markexpr or ""):
        from models.adoption import HierarchicalAdoption
        from tests.frozen_fits import frozen_fit

        HierarchicalAdoption.fit = frozen_fit


def pytest_unconfigure(config):
    """Each process removes its own Prefect home; the process that made the session's fit caches removes them (a
    worker's are the controller's to remove)."""
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
    if hasattr(config, "workerinput"):
        return
    shutil.rmtree(FIT_CACHE, ignore_errors=True)
    if getattr(config.option, "testrunuid", None):
        shutil.rmtree(_shared_fit_cache(config.option.testrunuid), ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for the whole session (starting one costs 6-14 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def paused_at(point: str | None) -> dict[str, str]:
    """Environment for a keicast subprocess that pauses at ``point`` (tests/faults/sitecustomize.py)."""
    if not point:
        return {}
    path = os.pathsep.join(p for p in (str(ROOT / "tests" / "faults"), str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"KEICAST_PAUSE_AT": point, "PYTHONPATH": path}  # this checkout's code, whatever is installed


def query_warehouse(project: Path, sql: str, params: list | None = None):
    """A read-only query against a test project's warehouse.duckdb, as a DataFrame."""
    import duckdb

    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def base_config(tmp: Path, **run_overrides) -> dict:
    """The shipped config.yaml, pointed at a temporary warehouse/reports/exports and made quick."""
    config = parse_yaml((ROOT / "config.yaml").read_text(), "test")
    config["run"].update(
        {
            "warehouse": str(tmp / "warehouse.duckdb"),
            "reports_dir": str(tmp / "reports"),
            "exports_dir": str(tmp / "exports"),
            "register_file": str(ROOT / "data" / "register.yaml"),
            "reference_dir": str(ROOT / "data" / "reference"),
            "reference_class_dir": str(ROOT / "data" / "reference_class"),
            "articles_dir": str(tmp / "articles"),
            "draws": 2000,
            "market_paths": 300,
            "sobol_base_samples": 32,
            "lock_timeout_seconds": 20,
        }
    )
    config["run"].update(run_overrides)
    config["gates"]["max_sobol_halfwidth"] = 10.0  # quick runs use few Sobol samples; precision is gated in real runs
    config["gates"]["sensitivity_mean_tolerance"] = 0.5  # 2k draws: a heavy-tailed mean is noisy (gated in real runs)
    config["calibration"]["compare_shapes"] = []  # the shape comparison is for the shipped report, not the tests
    config["calibration"]["cache_dir"] = FIT_CACHE  # one fit cache for the session's projects
    return config


def write_config(tmp: Path, config: dict, name: str = "config.yaml") -> Path:
    path = tmp / name
    path.write_text(dump_yaml(config))
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    """A temporary project folder with a quick config.yaml; returns the config path."""
    return write_config(tmp_path, base_config(tmp_path))


@pytest.fixture
def reference_copy(tmp_path) -> Path:
    """A writable copy of data/reference for tests that corrupt history."""
    target = tmp_path / "reference"
    shutil.copytree(ROOT / "data" / "reference", target)
    return target
