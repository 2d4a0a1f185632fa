"""One BLAS thread per process against OpenBLAS's default (one per core): the reference class's cold backtests.

keicast sets OPENBLAS_NUM_THREADS=1 on import (keicast/__init__.py). This measures why, in one process with
threadpoolctl switching the thread count: the run's own step (keicast.steps.calibrate_reference_class: every
family hold-out backtest and the fit, on a fresh cache each time) alone, and again beside a second process
doing the same work on the same thread count, as a scheduled run beside an analyst's run or two test workers:

    .venv/bin/python bench/bench_blas_threads.py [config.yaml]
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast import formatting as fmt  # noqa: E402
from keicast import steps  # noqa: E402
from keicast.config import load_settings  # noqa: E402

CORES = os.cpu_count() or 1


def cold_backtests(config: str, threads: int) -> float:
    """Seconds for the reference class's backtests and fit on an empty cache, on ``threads`` BLAS threads."""
    settings = load_settings(Path(config))
    with tempfile.TemporaryDirectory() as cache, threadpool_limits(threads, user_api="blas"):
        cal = settings.config.calibration.model_copy(update={"cache_dir": Path(cache)})
        cold = dataclasses.replace(settings, config=settings.config.model_copy(update={"calibration": cal}))
        start = time.perf_counter()
        steps.calibrate_reference_class(cold)
        return time.perf_counter() - start


def beside_another(config: str, threads: int) -> float:
    """As cold_backtests, while a second process runs the same work on the same thread count."""
    command = [sys.executable, __file__, config, "--once", str(threads)]
    other = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = cold_backtests(config, threads)
    _, errors = other.communicate()
    if other.returncode != 0:  # a crashed neighbour would make this an "alone" figure
        raise SystemExit(f"the second process failed (exit {other.returncode}):\n{errors[-2000:]}")
    return seconds


def main(config: str = "config.yaml") -> None:
    print(f"reference-class backtests on an empty cache, {CORES} cores (seconds)")
    rows = {threads: (cold_backtests(config, threads), beside_another(config, threads)) for threads in (CORES, 1)}
    for threads, (alone, beside) in rows.items():
        print(f"  {threads} BLAS thread(s): alone {fmt.number(alone)}, beside a second process {fmt.number(beside)}")
    (many_alone, many_beside), (one_alone, one_beside) = rows[CORES], rows[1]
    alone, beside = fmt.number(many_alone / one_alone, 2), fmt.number(many_beside / one_beside, 2)
    print(f"one thread is {alone}x as fast alone and {beside}x beside another")


if __name__ == "__main__":
    if "--once" in sys.argv:
        cold_backtests(sys.argv[1], int(sys.argv[-1]))
    else:
        main(*sys.argv[1:2])
