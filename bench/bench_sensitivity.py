"""Sensitivity at the configured Sobol sample size: wall time and the largest 95% half-width per scenario.

The target is every half-width <= gates.max_sobol_halfwidth (0.03) at a run time that keeps `keicast run` usable.

    .venv/bin/python bench/bench_sensitivity.py [--base-samples N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast.config import load_settings  # noqa: E402
from keicast.steps import calibrate_assumptions, load_evidence  # noqa: E402
from models import sensitivity  # noqa: E402

YEARS = np.arange(2026, 2041)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-samples", type=int, default=None, help="Saltelli N (default: config.yaml)")
    args = parser.parse_args()
    settings = load_settings("config.yaml")
    calibrated = calibrate_assumptions(settings, load_evidence(settings))
    market = np.full(len(YEARS), 16e6)
    n = args.base_samples or settings.run.sobol_base_samples
    window = tuple(settings.run.headline_window)
    limit = settings.config.gates.max_sobol_halfwidth
    for name in settings.scenarios:
        spec = next(sp for sp in calibrated.specs(settings) if sp.name == name)
        start = time.perf_counter()
        sobol = sensitivity.sobol_indices(spec, market, YEARS, window, n, settings.run.seed)
        middle = time.perf_counter()
        tornado = sensitivity.tornado(spec, market, YEARS, window)
        end = time.perf_counter()
        worst = float(sobol[["s1_conf", "st_conf"]].max().max())
        print(
            f"{name:28s} N={n:>6,}  Sobol {middle - start:5.1f} s  tornado {end - middle:4.1f} s  "
            f"max half-width {worst:.3f} ({'ok' if worst <= limit else 'ABOVE'} {limit})  "
            f"top: {', '.join(sobol.key.head(3))} | tornado: {', '.join(tornado.key.head(3))}"
        )


if __name__ == "__main__":
    main()
