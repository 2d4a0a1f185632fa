"""The track record: every forecast is a vintage, and every run scores every earlier vintage against what happened.

A *vintage* is one run's forecast of the series that actuals arrive for, stored with the data cut-off it saw
(the last year of each series in its history) and a P01-P99 quantile grid per forecast year
(models.scoring.GRID):

- the US market (``baseline.series``): the quantiles of the run's simulated baseline paths;
- grey kei imports (``us_kei_truck_imports_annual``): the quantiles of the status-quo layer over the first
  Monte Carlo chunk's draws, the run's own random numbers (models.montecarlo.sample_chunk).

A *backfill* vintage (`keicast backfill --as-of YEAR`) is the baseline market fitted and chosen on the history
cut at YEAR exactly as a run does it; its grid is the closed form of the distribution the run's paths are drawn
from (BaselineMarket.predict_quantiles), so it carries no Monte Carlo noise and equals the rolling-origin
backtest's forecast from the same origin. Grey imports are not backfilled: the counts they are calibrated to
(2018, 2023) and the articles postdate every cut before 2023, so a backfilled status quo would not be what keicast
would have said.

Scores are derived: recomputed from the vintages and the history in force (reference files joined with the
actuals) whenever either changes, so a revised actual re-scores every vintage that forecast it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keicast import formatting as fmt
from keicast import warehouse
from keicast.actuals import SERIES, join_history, year_to_date
from keicast.config import Settings
from keicast.history import series as history_series
from keicast.steps import GREY_IMPORTS, Baseline, Vintage, fit_market
from models import montecarlo, scoring
from models.scenario import STATUS_QUO_ACCESS, ScenarioSpec, kei_outcomes

RECORD_COLUMNS = [
    "vintage", "kind", "series", "period", "year", "horizon", "actual", "p10", "p50", "p90", "pit", "inside_80",
    "inside_90", "crps", "crps_scaled", "abs_pct_error",
]  # fmt: skip


def grid_frame(series: str, years: np.ndarray, samples: np.ndarray) -> pd.DataFrame:
    """Long quantile grid (series, year, quantile, value) of samples (draws, years)."""
    return _long(series, years, np.quantile(np.asarray(samples, dtype=float), scoring.GRID, axis=0))


def _long(series: str, years: np.ndarray, q: np.ndarray) -> pd.DataFrame:
    """Quantiles (GRID levels x years) as long rows."""
    tau = np.repeat(scoring.GRID, len(years))
    return pd.DataFrame(
        {"series": series, "year": np.tile(years, len(scoring.GRID)).astype(int), "quantile": tau, "value": q.ravel()}
    )


def cutoff(history: pd.DataFrame, name: str) -> int | None:
    """The last year of a series in the history a run saw."""
    years = history.year[history.series == name]
    return int(years.max()) if len(years) else None


def live_vintage(
    settings: Settings, history: pd.DataFrame, baseline: Baseline, specs: list[ScenarioSpec], run
) -> Vintage:
    """A published run's vintage (``run``: its runner.RunRecord): its cut-offs and the quantile grids of the market
    (its baseline paths) and of grey imports. A sweep stores none."""
    if not run.publishing:
        return Vintage.empty()
    paths, model = baseline.paths, baseline.model
    cfg, market = settings.run, settings.config.baseline.series
    years = np.arange(cfg.horizon.start, cfg.horizon.end + 1)
    market_cut = cutoff(history, market)
    later = years > market_cut
    grids = [grid_frame(market, years[later], paths[:, later])]
    rows = [{"kind": "live", "series": market, "cutoff": market_cut, "model": model}]
    spec = next((s for s in specs if s.road_access == STATUS_QUO_ACCESS), specs[0] if specs else None)
    grey_cut = cutoff(history, GREY_IMPORTS)
    if spec is not None and grey_cut is not None:
        size = min(cfg.draws, cfg.chunk_size)  # chunk 0 of the run: the same draws
        values, draws = montecarlo.sample_chunk(spec, paths, size, cfg.seed, 0)
        grey = kei_outcomes(spec, values, draws, years)["grey_imports"]
        grids.append(grid_frame(GREY_IMPORTS, years, grey))
        rows.append({"kind": "live", "series": GREY_IMPORTS, "cutoff": grey_cut, "model": "status quo"})
    return Vintage(pd.DataFrame(rows).assign(created_at=warehouse.now()), pd.concat(grids, ignore_index=True))


def cut_history(history: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """Every series as it stood at the end of ``as_of``."""
    return history[history.year <= as_of].reset_index(drop=True)


def backfill_vintage(settings: Settings, history: pd.DataFrame, as_of: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline market as a run would have forecast it with the history cut at ``as_of``: chosen by the same
    rolling-origin backtest on the years it saw, ``baseline.coverage_horizon`` years ahead."""
    cfg = settings.config.baseline
    market = fit_market(cut_history(history, as_of), settings)
    years = np.arange(as_of + 1, as_of + cfg.coverage_horizon + 1)
    q = market.predict_quantiles(cfg.coverage_horizon, scoring.GRID)
    vintage = pd.DataFrame(
        [
            {
                "kind": "backfill",
                "series": cfg.series,
                "cutoff": as_of,
                "model": market.model_,
                "created_at": warehouse.now(),
            }
        ]
    )
    return vintage, _long(cfg.series, years, q)


def backfill_id(as_of: int) -> str:
    return f"backfill-{as_of}"


def outcomes(history: pd.DataFrame) -> pd.DataFrame:
    """(series, year, actual) of every scored series in the history in force."""
    names = {spec.history for spec in SERIES.values()}
    part = history[history.series.isin(names)]
    return part[["series", "year"]].assign(actual=part.value.astype(float))


def score_record(vintages: pd.DataFrame, grid: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Every vintage scored against every outcome it forecast (a year after its cut-off): the record."""
    if vintages.empty or grid.empty:
        return pd.DataFrame(columns=[*RECORD_COLUMNS, "scored_at"])
    scored = scoring.score_vintages(grid.rename(columns={"run_id": "vintage"}), outcomes(history))
    meta = vintages.rename(columns={"run_id": "vintage"})[["vintage", "series", "kind", "cutoff"]]
    scored = scored.merge(meta, on=["vintage", "series"])
    scored = scored[scored.year > scored.cutoff]
    scored = scored.assign(
        horizon=scored.year - scored.cutoff, period=scored.year.astype(str), scored_at=warehouse.now()
    )
    return scored[[*RECORD_COLUMNS, "scored_at"]].reset_index(drop=True)


def rescore(con, reference: pd.DataFrame) -> pd.DataFrame:
    """Recompute and store the record inside an open write transaction; returns it."""
    history = join_history(reference, warehouse.actuals_in_force(con))
    record = score_record(*warehouse.vintage_inputs(con), history)
    warehouse.replace_scores(con, record)
    return record


def run_scores(settings: Settings, history: pd.DataFrame, run) -> pd.DataFrame | None:
    """The record a published run stores: every earlier vintage against the history the run saw (None for a
    sweep, which leaves the stored record as it is)."""
    if not run.publishing:
        return None
    cfg = settings.run
    return score_record(*warehouse.stored_vintages(cfg.warehouse, cfg.lock_timeout_seconds), history)


def store_actuals(settings: Settings, rows: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Add validated actuals and re-score, in one transaction (the caller holds the run lock)."""
    run = settings.run
    with warehouse.transaction(run.warehouse, run.lock_timeout_seconds) as con:
        warehouse.add_actuals(con, rows)
        return rescore(con, reference)


def store_backfill(settings: Settings, as_of: int, vintage: pd.DataFrame, grid: pd.DataFrame, reference) -> None:
    """One backfill vintage and the re-scored record, in one transaction."""
    run = settings.run
    with warehouse.transaction(run.warehouse, run.lock_timeout_seconds) as con:
        warehouse.replace_backfill(con, backfill_id(as_of), vintage, grid)
        rescore(con, reference)


def ingest_inbox(settings: Settings) -> int:
    """Add the new files of the actuals inbox (``run.actuals_dir``) and re-score; returns the rows added. A file
    the gate refuses stops the run before it starts (ActualsRefused, exit 2), with nothing stored."""
    from keicast.actuals import scan_inbox
    from keicast.history import load_history

    run = settings.run
    reference, _ = load_history(run.reference_dir)
    rows = scan_inbox(run.actuals_dir, run.warehouse, reference, run.lock_timeout_seconds)
    if len(rows):
        store_actuals(settings, rows, reference)
    return len(rows)


# ---------------------------------------------------------------------------------------------- report
def market_coverage(scores: pd.DataFrame, market: str, horizons: range = range(1, 6)) -> pd.DataFrame:
    """80% / 90% coverage, scaled CRPS and |error| of the market by kind and horizon."""
    part = scores[(scores.series == market) & scores.horizon.isin(list(horizons))]
    return scoring.coverage_by_horizon(part, ("kind", "horizon"))


def new_actuals(actuals: pd.DataFrame, run: pd.Series, previous: dict | None) -> pd.DataFrame:
    """The actuals added since the previous run started and before this one did."""
    if actuals is None or actuals.empty:
        return pd.DataFrame()
    since = previous["run"].started_at.iloc[0] if previous is not None else pd.Timestamp.min
    added = pd.to_datetime(actuals.added_at)
    return actuals[(added > since) & (added <= run.started_at) & actuals.current]


def _news(outputs: dict, previous: dict | None, market: str) -> list[str]:
    """What the first screen says about new actuals: which, how the market forecast moved, how it scored."""
    run = outputs["run"].iloc[0]
    new = new_actuals(outputs.get("actuals"), run, previous)
    if new.empty:
        return []
    lines = []
    scores = outputs.get("scores", pd.DataFrame())
    for (series, period), row in new.groupby(["series", "period"]).first().iterrows():
        words = f"New actual: {SERIES[series].description}, {period}: {fmt.count(row.value, 3)} ({row.source})"
        if row.revision > 1:
            words += f", revised from {fmt.count(row.previous_value, 3)}"
        scored = scores[(scores.series == SERIES[series].history) & (scores.period == str(row.year))]
        scored = scored[scored.kind == "live"].sort_values("vintage")
        if len(scored):
            last = scored.iloc[-1]
            held = "inside" if last.inside_80 else "outside"
            words += (
                f". The last forecast of it ({last.vintage}) had median {fmt.count(last.p50, 3)}, "
                f"80% range {fmt.count(last.p10, 3)}–{fmt.count(last.p90, 3)}: the actual fell {held} it "
                f"(PIT {fmt.number(last.pit, 2)}, median off by {fmt.share(last.abs_pct_error)})"
            )
        moved = _market_move(outputs, previous, int(row.year) + 1) if SERIES[series].history == market else None
        lines.append(words + (f". {moved}" if moved else "."))
    return lines


def _market_move(outputs: dict, previous: dict | None, year: int) -> str | None:
    """'The 2027 market median moved from 16M to 16.2M (+1.2%)' between the previous run and this one."""
    if previous is None:
        return None
    medians = []
    for data in (previous, outputs):
        fc = data["forecasts"]
        at = fc[(fc.metric == "total_market") & (fc.year == year)]
        if at.empty:
            return None
        medians.append(float(at.p50.iloc[0]))
    before, after = medians
    change = fmt.signed_percent(after / before - 1)
    return f"The {year} market median moved from {fmt.count(before, 3)} to {fmt.count(after, 3)} ({change})."


def shown_vintages(bands: pd.DataFrame, vintages: pd.DataFrame, market: str, most: int = 12) -> pd.DataFrame:
    """The fans the chart draws: per cut-off the newest vintage (live before backfill), the latest ``most``."""
    chosen = vintages[vintages.series == market].sort_values(["cutoff", "kind", "created_at"])
    chosen = chosen.drop_duplicates("cutoff", keep="last").tail(most)
    return bands[(bands.series == market) & bands.run_id.isin(set(chosen.run_id))]


def report_section(outputs: dict, previous: dict | None, config) -> dict | None:
    """The report's track record: the first screen's news, coverage and CRPS by horizon (backfill and live apart),
    the statement it can defend, the vintage fans against the actuals and the PIT histogram."""
    from keicast import charts

    scores = outputs.get("scores")
    if scores is None:
        return None
    market = config.baseline.series
    history = outputs["history"]
    actual = history_series(history, market)
    bands = shown_vintages(outputs["vintage_bands"], outputs["vintages"], market)
    coverage = market_coverage(scores, market)
    market_scores = scores[(scores.series == market) & scores.horizon.between(1, 5)]
    statements = {
        kind: scoring.held_statement(part.inside_80) for kind, part in market_scores.groupby("kind", sort=True)
    }
    return {
        "news": _news(outputs, previous, market),
        "year_to_date": year_to_date(outputs.get("actuals", pd.DataFrame())),
        "coverage": coverage.to_dict("records"),
        "statements": statements,
        "rows": len(scores),
        "vintages": outputs["vintages"].run_id.nunique() if "vintages" in outputs else 0,
        "fans": charts.vintage_chart(bands, actual, "US light-vehicle sales: past forecasts against the actuals")
        if len(bands)
        else None,
        "pit": charts.pit_chart(scoring.pit_histogram(scores.pit), "PIT of every scored forecast")
        if len(scores)
        else None,
        "grey": scoring.coverage_by_horizon(scores[scores.series == GREY_IMPORTS], ("kind", "horizon")).to_dict(
            "records"
        ),
    }
