"""Sweep scale-out: 8 scenarios x 1,000,000 draws on the local runner vs a local Dask cluster (2 workers).

All runs go through the pipeline's own ``simulate`` step inside a Prefect flow, in one process, against one
temporary Prefect server; the forecasts must be identical. The three set-ups (local runner with one worker
thread, i.e. sequential; local runner with two threads; Dask local cluster with two worker processes) run in
turn, ``--repeat`` times, so machine noise hits all of them alike; medians are compared. The speed-up target
(>= 1.6x on 2 cores) is Dask over the sequential local runner. The Dask times include starting and closing the
cluster; its fork server is started first, as the pipeline does at the start of every run (it imports while
articles, gates and calibration run).

    .venv/bin/python bench/bench_sweep.py [--draws 1000000] [--scenarios 8] [--chunk-size 500000] [--repeat 3]
"""

from __future__ import annotations

import keicast  # noqa: F401  first, so the bench has a run's one BLAS thread (keicast/__init__.py)

# isort: split

import argparse
import itertools
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from prefect import flow  # noqa: E402

from flows.pipeline import simulate  # noqa: E402
from keicast import steps  # noqa: E402
from keicast.config import TaskRunnerSettings, load_settings  # noqa: E402
from keicast.runner import RunRecord, warm_dask_workers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--scenarios", type=int, default=8)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    grid = itertools.product([0.0, 0.1, 0.25], [10_000.0, 12_000.0, 14_000.0], [2027, 2029])
    plan = {
        f"sweep_{i:03d}": {
            "base": "japan_imports_tariff",
            "factors": {"policy.import_tariff": t, "kei.target_price": p, "launch_year": y},
        }
        for i, (t, p, y) in enumerate(itertools.islice(grid, args.scenarios), start=1)
    }
    settings = load_settings("config.yaml", draws=args.draws, sweep=plan)
    if args.chunk_size:
        run_settings = settings.run.model_copy(update={"chunk_size": args.chunk_size})
        settings = replace(settings, config=settings.config.model_copy(update={"run": run_settings}))
    specs = steps.calibrate_assumptions(settings, steps.load_evidence(settings)).specs(settings)  # as a run makes them
    years = np.arange(2026, 2041)
    paths = 16e6 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, (2000, len(years))), axis=1))

    @flow(name="bench-sweep")
    def run(kind: str, workers: int):
        config = settings.config.model_copy(update={"task_runner": TaskRunnerSettings(kind=kind, workers=workers)})
        local = replace(settings, config=config)
        start = time.perf_counter()
        forecasts = simulate(local, specs, paths, RunRecord("bench", sweep={})).forecasts  # a sweep: no sensitivity
        return time.perf_counter() - start, forecasts

    from prefect.testing.utilities import prefect_test_harness

    setups = {
        "local runner, 1 thread": ("local", 1),
        "local runner, 2 threads": ("local", 2),
        "dask, 2 workers": ("dask", 2),
    }
    warm_dask_workers(TaskRunnerSettings(kind="dask", workers=2))
    seconds: dict[str, list[float]] = {name: [] for name in setups}
    results = []
    with prefect_test_harness(server_startup_timeout=180):
        for _ in range(args.repeat):
            for name, (kind, workers) in setups.items():
                elapsed, forecasts = run(kind, workers)
                seconds[name].append(elapsed)
                results.append(forecasts)
    print(f"{len(specs)} scenarios x {args.draws:,} draws, chunks of {settings.run.chunk_size:,}, {args.repeat} rounds")
    median = {name: statistics.median(times) for name, times in seconds.items()}
    sequential = median["local runner, 1 thread"]
    for name, times in seconds.items():
        spread = ", ".join(f"{t:.1f}" for t in times)
        print(f"{name:<24}: median {median[name]:6.1f} s ({spread}); {sequential / median[name]:.2f}x over 1 thread")
    print(f"dask over 2 local threads: {median['local runner, 2 threads'] / median['dask, 2 workers']:.2f}x")
    print(f"identical forecasts: {all(r.equals(results[0]) for r in results)}")


if __name__ == "__main__":
    main()
