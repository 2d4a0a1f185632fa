"""The track-record commands: `keicast actuals add`, `keicast record` and `keicast backfill` (keicast.record)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from keicast.cli.options import ConfigOpt, Format, FormatOpt
from keicast.cli.output import emit, err
from keicast.cli.process import guarded
from keicast.errors import ConfigError, Problem
from keicast.formatting import number

HORIZONS = range(1, 6)  # the horizons the market's record is summarised over (baseline.max_horizon's default)


@guarded
def actuals_add(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="'year,value' or 'period,value' (YYYY-MM) rows.")],
    series: Annotated[str, typer.Option("--series", metavar="NAME", help="The series the figures belong to.")],
    source: Annotated[str | None, typer.Option("--source", metavar="URL", help="Where they come from.")] = None,
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help="A note kept with them.")] = None,
    revise: Annotated[bool, typer.Option("--revise", help="Allow values that differ from the stored ones.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT", help="Why (with --revise).")] = None,
    config: ConfigOpt = Path("config.yaml"),
) -> None:
    """Add actuals (validated; a changed value needs --revise --reason) and re-score every past vintage."""
    from keicast import warehouse
    from keicast.actuals import read_actuals_file, stored_actuals, validate
    from keicast.config import load_settings
    from keicast.history import load_history
    from keicast.record import store_actuals

    settings = load_settings(config)
    run = settings.run
    read = read_actuals_file(file)
    reference, _ = load_history(run.reference_dir)
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        stored = stored_actuals(run.warehouse, run.lock_timeout_seconds)
        rows = validate(read, series, source, stored, reference, revise, reason, note)
        if rows.empty:
            err.print(f"keicast: {file}: every value is already stored; nothing changed", soft_wrap=True)
            return
        record = store_actuals(settings, rows, reference)
    revised = int((rows.revision > 1).sum())
    err.print(
        f"keicast: {len(rows)} actual(s) of {series} added ({revised} revision(s), earlier values kept); the "
        f"record holds {len(record)} score(s); the next `keicast run` fits on them",
        soft_wrap=True,
    )


@guarded
def record(
    series: Annotated[str | None, typer.Option("--series", metavar="NAME", help="One series only.")] = None,
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
) -> None:
    """Past forecasts scored against the actuals: one row per vintage x series x period."""
    from keicast import warehouse
    from keicast.actuals import SERIES
    from keicast.config import load_settings

    settings = load_settings(config)
    names = {s.history for s in SERIES.values()}
    if series is not None and series not in names:
        raise ConfigError([Problem("--series", "", series, f"a scored series: {', '.join(sorted(names))}")])
    frame = warehouse.record_rows(settings.run.warehouse, series, settings.run.lock_timeout_seconds)
    emit(frame, fmt, f"track record: {len(frame)} score(s)")


@guarded
def backfill(
    as_of: Annotated[int, typer.Option("--as-of", metavar="YEAR", help="First data cut-off.")],
    to: Annotated[int | None, typer.Option("--to", metavar="YEAR", help="Last cut-off (default: --as-of).")] = None,
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
) -> None:
    """Forecast the market as a run would have with every series cut at each YEAR; store them as backfill
    vintages, score them and compare their coverage with the rolling-origin backtest."""
    from keicast import steps, warehouse
    from keicast.config import load_settings
    from keicast.history import load_history
    from keicast.record import backfill_vintage, store_backfill

    settings = load_settings(config)
    evidence = steps.load_evidence(settings)
    years = _cutoffs(settings, evidence.history, as_of, to)
    started, vintages = time.perf_counter(), {}
    for year in years:
        vintages[year] = backfill_vintage(settings, evidence.history, year)
    fitted = time.perf_counter() - started
    run = settings.run
    reference, _ = load_history(run.reference_dir)
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        for year, (vintage, grid) in vintages.items():
            store_backfill(settings, year, vintage, grid, reference)
    scores = warehouse.record_rows(run.warehouse, settings.config.baseline.series, run.lock_timeout_seconds)
    mine = scores[scores.vintage.isin([f"backfill-{y}" for y in years])]
    table = _comparison(settings, evidence.history, mine, years)
    models = ", ".join(sorted({v.model.iloc[0] for v, _ in vintages.values()}))
    err.print(
        f"keicast: {len(years)} backfill vintage(s) {years[0]}-{years[-1]} stored (model {models}) in "
        f"{number(time.perf_counter() - started)} s ({number(fitted)} s fitting); {len(mine)} score(s)",
        soft_wrap=True,
    )
    emit(table, fmt, "80% coverage of the market: backfill vintages vs the rolling-origin backtest")


def _cutoffs(settings, history: pd.DataFrame, as_of: int, to: int | None) -> list[int]:
    """The backfill's cut-off years, each leaving the baseline min_train years and at most the history's last."""
    from keicast.history import series

    cfg = settings.config.baseline
    y = series(history, cfg.series)
    first, last = int(y.index.min()) + cfg.min_train, int(y.index.max())
    to = as_of if to is None else to
    problems = []
    if not first <= as_of <= last:
        problems.append(
            Problem("--as-of", "", as_of, f"a year from {first} (baseline.min_train years of history) to {last}")
        )
    if not as_of <= to <= last:
        problems.append(Problem("--to", "", to, f"a year from --as-of ({as_of}) to {last}, the last of {cfg.series}"))
    if problems:
        raise ConfigError(problems)
    return list(range(as_of, to + 1))


def _comparison(settings, history: pd.DataFrame, scores: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Per horizon 1-5 and pooled: the backfill's scored 80% coverage, the rolling-origin coverage of the model
    the baseline selects on the whole history (all origins, and only the backfill's origins)."""
    from keicast import steps
    from models.baseline import out_of_sample_coverage

    market = steps.fit_market(history, settings)
    selected = market.backtests_[market.backtests_.selected].set_index("horizon")
    rolled = out_of_sample_coverage(market.forecasts_)
    rolled = rolled[(rolled.model == market.model_) & rolled.origin.isin(years)]
    rows = []
    for h in [*HORIZONS, None]:
        mine = scores[scores.horizon.isin(list(HORIZONS) if h is None else [h])]
        same = rolled[rolled.horizon.isin(list(HORIZONS) if h is None else [h])]
        picked = selected.loc[list(HORIZONS) if h is None else [h]]
        rows.append(
            {
                "horizon": "1-5" if h is None else str(h),
                "backfill_n": len(mine),
                "backfill_coverage_80": float(mine.inside_80.mean()) if len(mine) else float("nan"),
                "rolling_origin_same_origins": float(same.covered_80.mean()) if len(same) else float("nan"),
                "rolling_origin_all_origins": float((picked.coverage_80 * picked.origins).sum() / picked.origins.sum()),
                "rolling_origin_n": int(picked.origins.sum()),
                "model": market.model_,
            }
        )
    return pd.DataFrame(rows)
