"""How sharp can an honest pre-launch band be? The floor the chain's own hold-out errors set (issue #23).

A band of P90/P10 ratio r centred on a forecast median covers a hold-out year when |ln(actual / median)| is under
ln(r) / 2. Over the pre-launch family hold-out years of the shipped reference-class shape, this prints the share of
years such a band would cover for several r, and the narrowest r that would cover 70% and 80% of them. No band
can be both sharper than that floor and calibrated unless the medians themselves get closer to the actuals
(sharpness subject to calibration, Gneiting, Balabdaoui & Raftery 2007). The backtests come from the run's own
step and cache (keicast.steps.calibrate_reference_class), the floor from models.reference_backtest:

    .venv/bin/python bench/bench_sharpness_floor.py [config.yaml]
"""

from __future__ import annotations

import keicast  # noqa: F401  first, so the bench has a run's one BLAS thread (keicast/__init__.py)

# isort: split

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast import formatting as fmt  # noqa: E402
from keicast import steps  # noqa: E402
from keicast.config import load_settings  # noqa: E402
from models.reference_backtest import centred_coverage, sharpness_floor  # noqa: E402

RATIOS = (20, 25, 50, 100, 200)


def main(config: str = "config.yaml") -> None:
    settings = load_settings(Path(config))
    reference = steps.calibrate_reference_class(settings)
    bands = reference.bands[reference.bands["mode"] == "pre_launch"]
    errors = np.log(bands.actual.to_numpy(float) / bands.p50.to_numpy(float))
    covered = float(np.mean((bands.actual >= bands.p10) & (bands.actual <= bands.p90)))
    print(
        f"{reference.fit.shape}, seed {settings.config.calibration.seed}: {len(bands)} pre-launch hold-out years of "
        f"{bands.series.nunique()} launches; the chain's own 80% bands cover {fmt.number(covered, 2)}"
    )
    for ratio in RATIOS:
        share = fmt.number(centred_coverage(errors, ratio), 2)
        print(f"  a band of P90/P10 {ratio} centred on each year's median would cover {share}")
    for coverage in (0.7, 0.8):
        floor = fmt.number(sharpness_floor(errors, coverage))
        print(f"  the narrowest centred band covering {coverage:.0%} has P90/P10 {floor}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
