"""The track record: vintages scored against the history in force, by hand (keicast/record.py), the record
command's fields, and a backfill vintage against the rolling-origin backtest at the same origin."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keicast import warehouse
from keicast.cli import app
from keicast.config import load_settings
from keicast.history import load_history, series
from keicast.record import backfill_vintage, rescore, score_record
from models import baseline, scoring

from ..conftest import ROOT, base_config, write_config

MARKET = "us_light_vehicle_sales_annual"
TAU = np.array(scoring.GRID)


def point_mass(vintage: str, year: int, value: float) -> pd.DataFrame:
    return pd.DataFrame({"run_id": vintage, "series": MARKET, "year": year, "quantile": TAU, "value": value})


def uniform(vintage: str, year: int, low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"run_id": vintage, "series": MARKET, "year": year, "quantile": TAU, "value": low + TAU * (high - low)}
    )


VINTAGES = pd.DataFrame(
    {"run_id": ["live-a", "backfill-2024"], "kind": ["live", "backfill"], "series": MARKET, "cutoff": [2025, 2024]}
)
GRID = pd.concat(
    [
        point_mass("live-a", 2026, 16e6),
        uniform("backfill-2024", 2025, 15e6, 17e6),
        uniform("backfill-2024", 2026, 14e6, 18e6),
    ]
)
HISTORY = pd.DataFrame({"series": MARKET, "year": [2024, 2025, 2026], "value": [15.9e6, 16.5e6, 17e6]})


def test_every_vintage_is_scored_against_every_year_it_forecast():
    record = score_record(VINTAGES, GRID, HISTORY).set_index(["vintage", "period"])
    assert len(record) == 3  # live-a: 2026; backfill-2024: 2025 and 2026
    live = record.loc[("live-a", "2026")]
    assert (live.horizon, live.kind, live.crps, live.pit, live.inside_80) == (1, "live", pytest.approx(1e6), 1.0, False)
    assert live.abs_pct_error == pytest.approx(1 / 17)
    back = record.loc[("backfill-2024", "2025")]
    assert back.horizon == 1 and back.pit == pytest.approx(0.75) and back.inside_80 and back.inside_90
    assert record.loc[("backfill-2024", "2026")].pit == pytest.approx(0.75)
    assert record.loc[("backfill-2024", "2026")].horizon == 2


def test_a_year_the_vintage_already_saw_is_not_scored():
    early = HISTORY.assign(year=HISTORY.year - 1)  # 2023-2025: live-a saw up to 2025 and forecast 2026 only
    record = score_record(VINTAGES, GRID, early)
    assert set(zip(record.vintage, record.period, strict=True)) == {("backfill-2024", "2025")}


def test_a_revised_actual_rescores(tmp_path):
    db = tmp_path / "w.duckdb"
    with warehouse.transaction(db) as con:
        warehouse.replace_backfill(
            con, "backfill-2024", VINTAGES.iloc[[1]].drop(columns="run_id"), GRID.iloc[99:].drop(columns="run_id")
        )
        before = rescore(con, HISTORY)
        actual = {"series": MARKET, "period": "2025", "year": 2025, "month": None, "value": 15.2e6, "revision": 2}
        warehouse.add_actuals(con, pd.DataFrame([actual]))
        after = rescore(con, HISTORY)
    at = {f.period.iloc[0]: f for f in (before[before.period == "2025"], after[after.period == "2025"])}
    assert before[before.period == "2025"].pit.iloc[0] == pytest.approx(0.75)
    assert after[after.period == "2025"].pit.iloc[0] == pytest.approx(0.1)
    assert len(at) == 1
    stored = warehouse.query(db, "select * from scores where period = '2025'")
    assert stored.pit.iloc[0] == pytest.approx(0.1)


def test_keicast_record_prints_one_row_per_vintage_series_and_period(tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    settings = load_settings(config)
    with warehouse.transaction(settings.run.warehouse) as con:
        warehouse.replace_backfill(
            con, "backfill-2024", VINTAGES.iloc[[1]].drop(columns="run_id"), GRID.iloc[99:].drop(columns="run_id")
        )
        rescore(con, HISTORY)
    result = CliRunner().invoke(app, ["record", "--config", str(config), "--format", "csv"])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split(",")
    assert header == [
        "vintage", "kind", "series", "period", "horizon", "actual", "p10", "p50", "p90", "pit", "inside_80",
        "inside_90", "crps", "abs_pct_error",
    ]  # fmt: skip
    assert len(result.output.splitlines()) == 3
    bad = CliRunner().invoke(app, ["record", "--config", str(config), "--series", "nope"])
    assert bad.exit_code == 2 and "--series" in bad.output


def test_a_backfill_vintage_matches_the_rolling_origin_backtest_at_its_origin(tmp_path):
    settings = load_settings(write_config(tmp_path, base_config(tmp_path)))
    history, _ = load_history(ROOT / "data" / "reference")
    vintage, grid = backfill_vintage(settings, history, 2015)
    assert vintage.model.iloc[0] == "combo" and vintage.cutoff.iloc[0] == 2015
    y = series(history, MARKET)
    log_y = np.log(y[y.index <= 2015].to_numpy(dtype=float))
    members = [baseline.forecast_log(log_y, m, 10) for m in baseline.COMBINATION_MEMBERS]
    median = np.exp(np.mean(members, axis=0))  # the backtest's combo forecast from origin 2015
    p50 = grid[grid["quantile"] == 0.5].sort_values("year").value.to_numpy()
    assert list(grid[grid["quantile"] == 0.5].year) == list(range(2016, 2026))
    np.testing.assert_allclose(p50, median, rtol=1e-9)
    backtest = baseline.out_of_sample_coverage(baseline.rolling_origin_forecasts(y[y.index <= 2025], 10, 20))
    at = backtest[(backtest.model == "combo") & (backtest.origin == 2015)].sort_values("horizon")
    scored = score_record(vintage.assign(run_id="b"), grid.assign(run_id="b"), history).sort_values("horizon")
    assert scored.inside_80.tolist() == at.covered_80.tolist() and len(scored) == 10  # 2016-2025, each covered alike
