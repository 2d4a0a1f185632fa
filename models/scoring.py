"""Scoring forecast distributions against what happened: CRPS, PIT, interval coverage, error of the median.

A stored forecast (a *vintage*) keeps its distribution as a quantile grid q_tau, tau = 0.01 ... 0.99. From it:

    CRPS(F, y) = 2 ∫_0^1 QS_tau(q_tau, y) dtau,   QS_tau(q, y) = (1{y < q} - tau)(q - y)   (the pinball loss)

(Gneiting & Raftery 2007, *JASA* 102(477), eq. 21; Laio & Tamea 2007), taken as the mean over the grid times 2.
The grid is symmetric, so a point mass x scores exactly |x - y|. Tails beyond P01 / P99 are not counted: for a
wide distribution the grid's CRPS is a little below the exact one.

    PIT(F, y) = F(y),   read off the grid by linear interpolation; 0 below P01 and 1 above P99

(Dawid 1984; Gneiting, Balabdaoui & Raftery 2007): calibrated forecasts give uniform PITs. An outcome on a flat
stretch of the grid (a point mass) takes the middle of that stretch. ``inside_80`` is P10 <= y <= P90 and
``inside_90`` is P05 <= y <= P95. The absolute % error is |P50 - y| / |y|, as the EIA's AEO Retrospective states
its errors, and the CRPS is also given over the outcome (``crps_scaled``) to compare years of different size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GRID = tuple(round(i / 100, 2) for i in range(1, 100))  # P01 ... P99: what a vintage stores to be scored
SCORE_COLUMNS = ("pit", "inside_80", "inside_90", "crps", "crps_scaled", "abs_pct_error")


def _at(tau: np.ndarray, values: np.ndarray, level: float) -> float:
    return float(np.interp(level, tau, values))


def crps(tau: np.ndarray, q: np.ndarray, y: float) -> float:
    """CRPS of the distribution with quantiles ``q`` at levels ``tau`` (an even grid) for the outcome ``y``."""
    tau, q = np.asarray(tau, dtype=float), np.asarray(q, dtype=float)
    pinball = ((y < q).astype(float) - tau) * (q - y)
    return float(2.0 * pinball.mean())


def pit(tau: np.ndarray, q: np.ndarray, y: float) -> float:
    """F(y) from the grid: linear between grid points, 0 below the first, 1 above the last, the middle of a tie."""
    tau, q = np.asarray(tau, dtype=float), np.asarray(q, dtype=float)
    if y < q[0]:
        return 0.0
    if y > q[-1]:
        return 1.0
    lo, hi = np.searchsorted(q, y, "left"), np.searchsorted(q, y, "right")
    if hi > lo:  # y equals one or more grid values
        return float((tau[lo] + tau[hi - 1]) / 2)
    x0, x1, t0, t1 = q[lo - 1], q[lo], tau[lo - 1], tau[lo]
    return float(t0 + (t1 - t0) * (y - x0) / (x1 - x0))


def score(tau: np.ndarray, q: np.ndarray, y: float) -> dict[str, float | bool]:
    """Every score of one forecast distribution against one outcome, plus its P10 / P50 / P90."""
    tau, q = np.asarray(tau, dtype=float), np.sort(np.asarray(q, dtype=float))
    p05, p10, p50, p90, p95 = (_at(tau, q, level) for level in (0.05, 0.10, 0.50, 0.90, 0.95))
    value = crps(tau, q, y)
    return {
        "p10": p10,
        "p50": p50,
        "p90": p90,
        "pit": pit(tau, q, y),
        "inside_80": bool(p10 <= y <= p90),
        "inside_90": bool(p05 <= y <= p95),
        "crps": value,
        "crps_scaled": value / abs(y) if y else float("nan"),
        "abs_pct_error": abs(p50 - y) / abs(y) if y else float("nan"),
    }


def score_vintages(grid: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Score every vintage's forecast of every period that has an outcome.

    Args:
        grid: long quantiles (vintage, series, year, quantile, value): each vintage's forecast distributions.
        outcomes: (series, year, actual) for the periods that are known.
    Returns:
        One row per vintage x series x year: actual, p10, p50, p90 and the SCORE_COLUMNS.
    """
    joined = grid.merge(outcomes, on=["series", "year"])
    rows = []
    for (vintage, series, year), part in joined.groupby(["vintage", "series", "year"], sort=True):
        part = part.sort_values("quantile")
        actual = float(part.actual.iloc[0])
        scored = score(part["quantile"].to_numpy(), part.value.to_numpy(), actual)
        rows.append({"vintage": vintage, "series": series, "year": int(year), "actual": actual, **scored})
    columns = ["vintage", "series", "year", "actual", "p10", "p50", "p90", *SCORE_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def coverage_by_horizon(scores: pd.DataFrame, group: tuple[str, ...] = ("kind", "series", "horizon")) -> pd.DataFrame:
    """Per group: n, the share inside the 80% and 90% ranges, and the mean scaled CRPS and absolute % error."""
    columns = [*group, "n", "coverage_80", "coverage_90", "crps_scaled", "abs_pct_error"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    summary = (
        scores.groupby(list(group))
        .agg(
            n=("pit", "size"),
            coverage_80=("inside_80", "mean"),
            coverage_90=("inside_90", "mean"),
            crps_scaled=("crps_scaled", "mean"),
            abs_pct_error=("abs_pct_error", "mean"),
        )
        .reset_index()
    )
    return summary[columns]


def held_statement(inside: pd.Series, level: int = 80) -> str:
    """'Past 80% ranges held the outcome 8 times in 10 (n = 40)': the coverage in words, rounded to tenths; under
    ten scores the count itself ('2 times of 3')."""
    n = len(inside)
    if n == 0:
        return f"No past {level}% range has been scored yet."
    if n < 10:
        held = int(np.sum(inside))
        return f"Past {level}% ranges held the outcome {held} time{'s' if held != 1 else ''} of {n}"
    tenths = int(np.floor(10 * float(np.mean(inside)) + 0.5))
    return f"Past {level}% ranges held the outcome {tenths} times in 10 (n = {n})"


def pit_histogram(pits: pd.Series, bins: int = 10) -> pd.DataFrame:
    """Counts of PIT values in ``bins`` equal bins of [0, 1] (a calibrated record is flat)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(np.clip(np.asarray(pits, dtype=float), 0.0, 1.0), bins=edges)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": counts})
