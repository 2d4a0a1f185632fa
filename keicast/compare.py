"""Differences between two runs: assumption changes and the forecast deltas they lead to."""

from __future__ import annotations

import json

import pandas as pd

COMPARABLE_METRICS = ("kei_sales", "kei_share", "kei_in_use", "kei_sales_cumulative")  # `compare --metric` choices
COMPARED_METRICS = ("kei_sales", "kei_sales_cumulative")  # what `compare` and the report's Changes show by default
REPORT_YEARS = (2030, 2035, 2040)  # the years the report and `keicast compare` show unless asked otherwise
ALL_SCENARIOS = "(all)"  # the scenario label of a row that is the same in every scenario
MOVED_PCT = 0.05  # a median that changed by less (in %) is Monte Carlo noise at most, shown as unchanged


def once_for_all_scenarios(frame: pd.DataFrame, columns: list[str], scenarios: int | None = None) -> pd.DataFrame:
    """Rows whose ``columns`` are the same in every one of ``scenarios`` scenarios (default: as many as the frame
    names), once, with scenario ALL_SCENARIOS (in the place of their first row); other rows as they are."""
    if frame.empty:
        return frame
    keys = frame[columns].astype(str)
    counts = keys.groupby(columns, dropna=False)[columns[0]].transform("size")
    shared = counts == (scenarios or frame.scenario.nunique())
    first = ~keys.duplicated()
    out = frame[~shared | first].copy()
    out.loc[shared[~shared | first], "scenario"] = ALL_SCENARIOS
    return out.reset_index(drop=True)


def moved(deltas: pd.DataFrame) -> pd.Series:
    """Forecast cells whose median moved: by MOVED_PCT or more, from zero, or in one run only (zero in both runs
    has not moved)."""
    pct = deltas.p50_change_pct.abs()
    return (pct >= MOVED_PCT) | (pct.isna() & (deltas.p50_change != 0))


def market_check(forecasts: pd.DataFrame, article: float, year: int) -> pd.DataFrame:
    """Each scenario's market quantiles in ``year`` (the first forecast year) beside the articles' figure."""
    first = forecasts[(forecasts.metric == "total_market") & (forecasts.year == year)]
    columns = ["scenario", "year", "p10", "p50", "p90"]
    return first[columns].assign(article=article, ratio_to_article=first.p50 / article)


def headline_cells(forecasts: pd.DataFrame, window_end: int) -> pd.DataFrame:
    """The headline: each scenario's cumulative kei sales over the headline window (its row at the window's end)."""
    return forecasts[(forecasts.metric == "kei_sales_cumulative") & (forecasts.year == window_end)]


def assumption_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value, low, high or unit differ (or that exist in one run only), per scenario and key, with the
    key's unit (the newer run's, else the older's) to print the values in. A change made alike in every scenario
    of the two runs is one row, scenario ALL_SCENARIOS; a change in some scenarios only is listed per scenario."""
    cols = ["scenario", "key", "value", "low", "high", "override_origin", "unit"]
    merged = before[cols].merge(
        after[cols], on=["scenario", "key"], how="outer", suffixes=("_before", "_after"), indicator=True
    )
    changed = merged["_merge"] != "both"
    for c in ("value", "low", "high", "unit"):
        a, b = merged[f"{c}_before"], merged[f"{c}_after"]
        changed |= ~((a == b) | (a.isna() & b.isna()))
    out = merged[changed].drop(columns="_merge")
    out = out.assign(unit=out.pop("unit_after").fillna(out.pop("unit_before")))
    out = out.sort_values(["scenario", "key"], ignore_index=True)
    every = pd.concat([before.scenario, after.scenario]).nunique()
    return once_for_all_scenarios(out, [c for c in out.columns if c != "scenario"], every)


def forecast_deltas(before: pd.DataFrame, after: pd.DataFrame, years: list[int] | None = None) -> pd.DataFrame:
    """P10/P50/P90 of each headline metric before and after, with the P50 change (absolute and relative)."""
    cols = ["scenario", "year", "metric", "p10", "p50", "p90"]
    pick = lambda f: f[f.metric.isin(COMPARABLE_METRICS) & (f.year.isin(years) if years else True)][cols]  # noqa: E731
    merged = pick(before).merge(
        pick(after), on=["scenario", "year", "metric"], how="outer", suffixes=("_before", "_after")
    )
    merged["p50_change"] = merged.p50_after - merged.p50_before
    merged["p50_change_pct"] = 100 * merged.p50_change / merged.p50_before.where(merged.p50_before != 0)
    return merged.sort_values(["scenario", "metric", "year"], ignore_index=True)


def sweep_comparison(forecasts: pd.DataFrame, factors: dict[str, dict[str, float]], window_end: int) -> pd.DataFrame:
    """One row per sweep scenario: its factor values and the headline P10/P50/P90, largest P50 first."""
    rows = [
        {
            "scenario": r.scenario,
            "factors": factors.get(r.scenario, {}),
            "cumulative_p10": r.p10,
            "cumulative_p50": r.p50,
            "cumulative_p90": r.p90,
        }
        for r in headline_cells(forecasts, window_end).itertuples()
    ]
    table = pd.DataFrame(rows).sort_values("cumulative_p50", ascending=False, ignore_index=True)
    table["factors"] = table.factors.map(lambda f: json.dumps(f, sort_keys=True))
    return table
