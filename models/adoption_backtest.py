"""Does the adoption chain forecast past US launches? Post-launch and pre-launch backtests against naive.

Each case forecasts a hold-out stretch of an analog's annual sales and scores the predictive distribution:

    abs_pct_error  |cumulative forecast / cumulative actual - 1|, the forecast being the predictive median of the
                   hold-out cumulative (naive: its point forecast)
    crps           mean over hold-out years of the continuous ranked probability score of the year's predictive
                   sample, CRPS = E|X - y| - E|X - X'| / 2 (Gneiting & Raftery 2007, eq. 21), divided by the mean
                   actual hold-out sales so cases of different size pool (a fixed scale keeps it proper)
    coverage_80    share of hold-out years whose actual lies inside the predictive P10-P90

Modes: ``post_launch`` fits the first k observations (k = 3 .. n - 3) and forecasts the rest; ``pre_launch``
forecasts the whole series from its launch knowing only the other analogs, its launch year and the market.
Naive benchmarks: post-launch, the last observed year carried forward, with a random walk in logs for its
distribution (the sd of the fitted years' log changes, widening with the square root of the horizon);
pre-launch, the pooled analog mean share of the market by year since launch, with the analogs' spread in logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.adoption import simulate_sales, update_series

PATH_COLUMNS = ["series", "mode", "fit_years", "year", "actual", "p10", "p50", "p90"]
COLUMNS = [
    "series",
    "mode",
    "fit_years",
    "model",
    "cumulative_actual",
    "cumulative_forecast",
    "abs_pct_error",
    "crps",
    "coverage_80",
    "holdout_years",
]


def crps_sample(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """CRPS of each column's sample (draws, years) against ``actual`` (years), exact for the empirical law."""
    x = np.sort(np.asarray(samples, float), axis=0)
    n = x.shape[0]
    spread_weights = (2 * np.arange(1, n + 1) - n - 1) / n**2  # E|X - X'| / 2 from the order statistics
    return np.abs(x - actual[None, :]).mean(axis=0) - (spread_weights[:, None] * x).sum(axis=0)


def score(samples: np.ndarray, actual: np.ndarray, point: np.ndarray | None = None) -> dict[str, float | int]:
    """Scores of one case: ``samples`` (draws, years) of hold-out sales, ``point`` an optional point forecast."""
    actual = np.asarray(actual, float)
    cumulative = float(np.median(samples.sum(axis=1))) if point is None else float(np.sum(point))
    low, high = np.quantile(samples, [0.1, 0.9], axis=0)
    total = float(actual.sum())
    return {
        "cumulative_actual": total,
        "cumulative_forecast": cumulative,
        "abs_pct_error": abs(cumulative / total - 1),
        "crps": float(crps_sample(samples, actual).mean() / actual.mean()),
        "coverage_80": float(np.mean((actual >= low) & (actual <= high))),
        "holdout_years": int(len(actual)),
    }


def paths(name: str, mode: str, k: int | None, years: np.ndarray, actual: np.ndarray, samples: np.ndarray):
    """The chain's yearly P10 / P50 / P90 of one case beside the actuals (for the report's charts)."""
    p10, p50, p90 = np.quantile(samples, [0.1, 0.5, 0.9], axis=0)
    return pd.DataFrame(
        {"series": name, "mode": mode, "fit_years": k, "year": years.astype(int), "actual": actual}
    ).assign(p10=p10, p50=p50, p90=p90)


def naive_post_launch(fit_sales: np.ndarray, gaps: np.ndarray, rng: np.random.Generator, draws: int = 2000):
    """Random walk in logs from the last fitted year: (point, samples) for hold-out years ``gaps`` ahead of it.

    ``gaps`` are the hold-out years' distances from the last fitted year (1, 2, ...; more over missing years).
    """
    logs = np.log(np.asarray(fit_sales, float))
    sd = float(np.std(np.diff(logs), ddof=1)) if len(logs) > 2 else float(abs(np.diff(logs)[0]))
    point = np.full(len(gaps), fit_sales[-1], dtype=float)
    steps = np.diff(np.r_[0, gaps])
    walk = np.cumsum(rng.standard_normal((draws, len(gaps))) * sd * np.sqrt(steps)[None, :], axis=1)
    return point, fit_sales[-1] * np.exp(walk)


def naive_pre_launch(others: pd.DataFrame, t: np.ndarray, market: np.ndarray, rng, draws: int = 2000):
    """Pooled analog mean share by year since launch (others: series, t, share) times the market.

    Years since launch beyond every other analog's history keep the last pooled values.
    """
    logs = np.log(others.share)
    by_t = logs.groupby(others.t).agg(["mean", "std"]).reindex(np.arange(1, int(max(t)) + 1)).ffill().bfill()
    mean, sd = by_t["mean"].to_numpy(), by_t["std"].fillna(by_t["std"].mean()).to_numpy()
    idx = np.asarray(t, int) - 1
    shares = others.groupby("t").share.mean().reindex(by_t.index).ffill().bfill().to_numpy()
    point = shares[idx] * market
    samples = np.exp(mean[idx] + sd[idx] * rng.standard_normal((draws, len(idx)))) * market
    return point, samples


def post_launch_cases(
    name: str,
    frame: pd.DataFrame,
    population: pd.DataFrame,
    shape: str,
    rng: np.random.Generator,
    bands: list[pd.DataFrame] | None = None,
) -> list[dict]:
    """Every k from 3 to n - 3: the chain (updated on the first k years) and naive, scored on the rest.

    ``frame``: one series' rows (year, t, sales, market) in year order (t = years since launch); ``population``:
    draws of a new analog from the fit on the other analogs. The chain's yearly bands are appended to ``bands``
    when given.
    """
    years, t, sales, market = (frame[c].to_numpy(float) for c in ("year", "t", "sales", "market"))
    gap = np.diff(t, prepend=0.0)
    log_share = np.log(sales / market)
    rows = []
    for k in range(3, len(years) - 2):
        posterior = update_series(population, shape, t[:k], gap[:k], log_share[:k], rng)
        samples = simulate_sales(posterior, shape, t[k:], market[k:], rng, last=(t[k - 1], log_share[k - 1]))
        point, naive = naive_post_launch(sales[:k], t[k:] - t[k - 1], rng)
        if bands is not None:
            bands.append(paths(name, "post_launch", k, years[k:], sales[k:], samples))
        base = {"series": name, "mode": "post_launch", "fit_years": k}
        rows.append({**base, "model": "chain", **score(samples, sales[k:])})
        rows.append({**base, "model": "naive", **score(naive, sales[k:], point)})
    return rows


def pre_launch_case(
    name: str,
    frame: pd.DataFrame,
    population: pd.DataFrame,
    shape: str,
    others: pd.DataFrame,
    rng,
    bands: list[pd.DataFrame] | None = None,
) -> list[dict]:
    """The whole series from its launch: the chain's population draws and the pooled analog mean, scored."""
    years, t, sales, market = (frame[c].to_numpy(float) for c in ("year", "t", "sales", "market"))
    samples = simulate_sales(population, shape, t, market, rng)
    if bands is not None:
        bands.append(paths(name, "pre_launch", None, years, sales, samples))
    point, naive = naive_pre_launch(others, t, market, rng)
    base = {"series": name, "mode": "pre_launch", "fit_years": None}
    return [
        {**base, "model": "chain", **score(samples, sales)},
        {**base, "model": "naive", **score(naive, sales, point)},
    ]


def summarise(cases: pd.DataFrame) -> pd.DataFrame:
    """Per mode and model: cases, median abs % error of the cumulative, mean CRPS, pooled 80% coverage."""
    weighted = cases.assign(covered=cases.coverage_80 * cases.holdout_years)
    out = weighted.groupby(["mode", "model"]).agg(
        cases=("series", "size"),
        median_ape=("abs_pct_error", "median"),
        mean_crps=("crps", "mean"),
        median_crps=("crps", "median"),
        covered=("covered", "sum"),
        years=("holdout_years", "sum"),
    )
    out["coverage_80"] = out.covered / out.years
    return out.drop(columns=["covered", "years"]).reset_index()
