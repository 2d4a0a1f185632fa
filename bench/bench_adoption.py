"""Adoption calibration: cold and cached time of the hierarchical fit, the backtest table, the Smart replay.

    PYTHONPATH=. .venv/bin/python bench/bench_adoption.py [--config config.yaml]

Cold = an empty cache folder (no stored draws and no stored JAX compilation) in a fresh process; cached = the
same call again. The issue's targets: at most 60 s cold on this 2-core machine, under 1 s cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    from keicast import steps
    from keicast.calibration import (
        analog_frame,
        analog_points,
        backtest_adoption,
        fit_adoption,
        fit_class_share,
        replay_smart,
    )
    from keicast.config import load_settings
    from keicast.history import load_history, load_tables
    from models.adoption_backtest import summarise

    settings = load_settings(Path(args.config))
    history, _ = load_history(settings.run.reference_dir)
    cal, market = settings.config.calibration, settings.config.baseline.series
    frame = analog_frame(history, cal.analogs, market)
    with tempfile.TemporaryDirectory() as tmp:
        cold = cal.model_copy(update={"cache_dir": Path(tmp)})
        start = time.perf_counter()
        fit = fit_adoption(frame, cal.analogs, cold)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        fit_adoption(frame, cal.analogs, cold)
        cached_s = time.perf_counter() - start
    print(
        f"hierarchical fit ({cal.shape}, {cal.chains} x {cal.warmup}+{cal.samples}): cold {cold_s:.1f} s, "
        f"cached {cached_s:.3f} s; diagnostics {fit.diagnostics}"
    )
    cases, _, _ = backtest_adoption(analog_frame(history, [*cal.analogs, *cal.backtest_also], market), cal)
    print(summarise(cases).round(3).to_string(index=False))
    tables, _ = load_tables(settings.run.reference_dir)
    class_fit = fit_class_share(analog_points(tables, history, market), settings.register)
    fmvss = load_settings(Path(args.config), scenarios=["full_fmvss_compliance"])
    table = steps.assemble_assumptions(fmvss, fit, class_fit, steps.calibrate_reference_class(fmvss))  # as a run
    replay = replay_smart(fit, table, tables, history, market)
    cumulative = replay[(replay.metric == "new_kei_sales_cumulative") & (replay.year == 2014)].iloc[0]
    first = replay[(replay.metric == "new_kei_sales") & (replay.year == 2008)].iloc[0]
    print(
        f"Smart replay 2008-2014 cumulative: P10 {cumulative.p10:,.0f} / P50 {cumulative.p50:,.0f} / P90 "
        f"{cumulative.p90:,.0f} / mean {cumulative['mean']:,.0f} (actual 80,078); 2008: P50 {first.p50:,.0f} "
        f"(actual 24,622)"
    )


if __name__ == "__main__":
    main()
