"""Known answers for the scores of a forecast distribution (models/scoring.py)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models import scoring

TAU = np.array(scoring.GRID)


def test_crps_of_a_point_mass_is_the_absolute_error():
    q = np.full(len(TAU), 10.0)
    assert scoring.crps(TAU, q, 13.0) == pytest.approx(3.0)
    assert scoring.crps(TAU, q, 6.5) == pytest.approx(3.5)
    assert scoring.crps(TAU, q, 10.0) == 0.0


def test_crps_of_a_normal_is_near_the_closed_form():
    # Gneiting & Raftery 2007: CRPS(N(0,1), y) = y(2 Phi(y) - 1) + 2 phi(y) - 1/sqrt(pi); the grid drops the tails
    q, y = stats.norm.ppf(TAU), 0.7
    exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
    assert scoring.crps(TAU, q, y) == pytest.approx(exact, rel=0.03)


def test_pit_of_a_uniform_is_the_outcome():
    q = TAU.copy()  # U(0, 1): the quantile at level tau is tau
    for y in (0.013, 0.3, 0.5, 0.777, 0.99):
        assert scoring.pit(TAU, q, y) == pytest.approx(y)
    assert scoring.pit(TAU, q, -1.0) == 0.0 and scoring.pit(TAU, q, 2.0) == 1.0


def test_pit_of_an_outcome_at_a_point_mass_is_one_half():
    assert scoring.pit(TAU, np.full(len(TAU), 4.0), 4.0) == pytest.approx(0.5)


def test_uniform_pits_of_calibrated_forecasts():
    rng = np.random.default_rng(0)
    outcomes = rng.uniform(size=2000)
    pits = [scoring.pit(TAU, TAU, y) for y in outcomes]
    counts = scoring.pit_histogram(pd.Series(pits))["count"]
    assert counts.sum() == 2000 and counts.min() > 150 and counts.max() < 250


def test_coverage_counts():
    q = TAU * 100  # U(0, 100): the 80% range is 10..90, the 90% range 5..95
    outcomes = [1, 7, 12, 50, 88, 93, 99, 50, 50, 50]
    grid = pd.DataFrame(
        [
            {"vintage": f"v{i}", "series": "s", "year": 2020, "quantile": t, "value": v}
            for i in range(len(outcomes))
            for t, v in zip(TAU, q, strict=True)
        ]
    )
    scored = pd.concat(
        scoring.score_vintages(
            grid[grid.vintage == f"v{i}"], pd.DataFrame({"series": ["s"], "year": [2020], "actual": [y]})
        )
        for i, y in enumerate(outcomes)
    )
    assert scored.inside_80.sum() == 6  # 12, 50, 88 and the three 50s
    assert scored.inside_90.sum() == 8  # also 7 and 93
    summary = scoring.coverage_by_horizon(scored.assign(kind="live", horizon=1))
    assert summary.coverage_80.iloc[0] == pytest.approx(0.6) and summary.n.iloc[0] == 10
    assert scoring.held_statement(scored.inside_80) == "Past 80% ranges held the outcome 6 times in 10 (n = 10)"


def test_score_reports_the_median_error_and_scaled_crps():
    row = scoring.score(TAU, np.full(len(TAU), 110.0), 100.0)
    assert row["abs_pct_error"] == pytest.approx(0.1)
    assert row["crps_scaled"] == pytest.approx(0.1)
    assert row["pit"] == 0.0 and not row["inside_80"]


def test_few_scores_are_counted_not_rounded_to_tenths():
    assert scoring.held_statement(pd.Series([True, False, True])) == "Past 80% ranges held the outcome 2 times of 3"


def test_no_scores_say_so():
    assert scoring.held_statement(pd.Series([], dtype=bool)).startswith("No past 80% range")
    assert scoring.coverage_by_horizon(pd.DataFrame()).empty
