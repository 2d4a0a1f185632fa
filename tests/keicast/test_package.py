"""Importing keicast sets one BLAS thread per process, whichever entry point loads numpy first."""

import os
import subprocess
import sys

import pytest

from ..conftest import ROOT

PROBE = """
import sys
__import__(sys.argv[1])
import scipy.linalg  # scipy may bring its own OpenBLAS: loaded after the entry point, it must read the setting too
from threadpoolctl import threadpool_info
print(sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}))
"""


# OpenBLAS reads the first of these that is set; a Dask local cluster sets them all in its parent's environment
THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads(entry: str, **env: str) -> str:
    """The BLAS pools' thread counts in a fresh process that imports ``entry``, with no thread setting inherited."""
    base = {k: v for k, v in os.environ.items() if k not in THREAD_SETTINGS}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, entry], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


several_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenBLAS never runs more threads")


@several_cores
@pytest.mark.parametrize("entry", ["keicast.cli", "flows.pipeline"])  # flows.pipeline imports numpy before keicast
def test_every_entry_point_runs_blas_on_one_thread(entry):
    assert blas_threads(entry) == "[1]"


@several_cores
@pytest.mark.parametrize("name", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])  # OpenBLAS reads either
def test_an_analysts_own_blas_setting_wins(name):
    assert blas_threads("keicast.cli", **{name: "2"}) == "[2]"


@several_cores
@pytest.mark.parametrize("value", ["", "0", "auto"])  # OpenBLAS takes every core for each of these
def test_a_setting_that_is_not_a_thread_count_counts_as_unset(value):
    assert blas_threads("keicast.cli", OPENBLAS_NUM_THREADS=value) == "[1]"


@several_cores
def test_without_keicast_first_numpy_would_take_every_core():
    """The probe can fail: numpy imported first, on a machine of several cores, has more than one thread."""
    assert blas_threads("numpy") != "[1]"
