"""The sensitivity step as a run does it: wall time, the Sobol sample size reached, the largest 95% half-width, and
the mean headline against the Monte Carlo's at the configured draws, per scenario.

The targets are every half-width <= gates.max_sobol_halfwidth (0.03) at a run time that keeps `keicast run`
usable, and the sensitivity_mean gate's check: the two means within gates.sensitivity_mean_tolerance (5%) or
within SENSITIVITY_NOISE_Z standard errors of their noise.

    .venv/bin/python bench/bench_sensitivity.py [--base-samples N] [--draws D]
"""

from __future__ import annotations

import keicast  # noqa: F401  first, so the bench has a run's one BLAS thread (keicast/__init__.py)

# isort: split

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast import gates  # noqa: E402
from keicast.config import load_settings  # noqa: E402
from keicast.steps import analyse_sensitivity, calibrate_assumptions, fit_baseline, load_evidence  # noqa: E402
from models import montecarlo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-samples", type=int, default=None, help="Saltelli N (default: config.yaml)")
    parser.add_argument("--draws", type=int, default=None, help="Monte Carlo draws (default: config.yaml)")
    args = parser.parse_args()
    sets = [f"run.sobol_base_samples={args.base_samples}"] if args.base_samples else []
    settings = load_settings("config.yaml", sets=sets, draws=args.draws)
    evidence = load_evidence(settings)
    calibrated = calibrate_assumptions(settings, evidence)
    paths = fit_baseline(evidence.history, settings).paths
    run, limit = settings.run, settings.config.gates.max_sobol_halfwidth
    years = np.arange(run.horizon.start, run.horizon.end + 1)
    for spec in calibrated.specs(settings):
        start = time.perf_counter()
        table = analyse_sensitivity(spec, paths, years, settings)
        seconds = time.perf_counter() - start
        forecasts = montecarlo.monte_carlo(spec, paths, years, run.draws, run.seed, run.chunk_size)
        sobol, tornado = table[table.method == "sobol"], table[table.method == "tornado"]
        check = gates.sensitivity_frames(forecasts, table)["sensitivity_mean"].iloc[0]
        noise = check.relative_difference * check.monte_carlo_mean / check.standard_error
        worst = float(sobol[["s1_conf", "st_conf"]].max().max()) if not sobol.empty else 0.0
        print(
            f"{spec.name:26s} {spec.level_model:15s} {seconds:5.1f} s  N={int(sobol.samples.max()):>7,}  "
            f"max half-width {worst:.3f} ({'ok' if worst <= limit else 'ABOVE'} {limit})  "
            f"mean {check.sensitivity_mean:11,.0f} vs Monte Carlo {check.monte_carlo_mean:11,.0f} "
            f"({check.relative_difference:.2%}, {noise:.1f} se)  "
            f"top: {', '.join(sobol.key.head(3))} | tornado: {', '.join(tornado.key.head(3))}"
        )


if __name__ == "__main__":
    main()
