import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from models import adoption_backtest as ab


def test_crps_of_a_large_normal_sample_matches_the_closed_form():
    """CRPS(N(mu, s), y) = s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)], z = (y - mu)/s (Gneiting & Raftery 2007)."""
    sample = norm(10.0, 2.0).ppf((np.arange(20_000) + 0.5) / 20_000)[:, None]
    for y in (10.0, 13.0, 4.0):
        z = (y - 10.0) / 2.0
        exact = 2.0 * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
        assert ab.crps_sample(sample, np.array([y]))[0] == pytest.approx(exact, rel=1e-3)


def test_crps_of_a_point_forecast_is_the_absolute_error():
    assert ab.crps_sample(np.full((5, 2), 3.0), np.array([1.0, 7.0])).tolist() == [2.0, 4.0]


def test_score_arithmetic_by_hand():
    """Hold-out actuals 100, 200; draws are 90..110 one year and 150..250 the next (uniform grid)."""
    actual = np.array([100.0, 200.0])
    samples = np.column_stack([np.linspace(90, 110, 101), np.linspace(150, 250, 101)])
    s = ab.score(samples, actual)
    assert s["cumulative_actual"] == 300 and s["holdout_years"] == 2
    assert s["cumulative_forecast"] == pytest.approx(300)  # median of the cumulative
    assert s["abs_pct_error"] == pytest.approx(0)
    assert s["coverage_80"] == 1.0  # both actuals are the medians
    naive = ab.score(np.tile([[80.0, 80.0]], (3, 1)), actual, point=np.array([80.0, 80.0]))
    assert naive["cumulative_forecast"] == 160 and naive["abs_pct_error"] == pytest.approx(140 / 300)
    assert naive["crps"] == pytest.approx((20 + 120) / 2 / 150)  # absolute errors over the mean actual
    assert naive["coverage_80"] == 0.0


def test_naive_carries_the_last_year_forward_and_widens_with_the_horizon():
    point, samples = ab.naive_post_launch(
        np.array([100.0, 110.0, 121.0, 120.0]), np.array([1.0, 2.0, 4.0]), np.random.default_rng(0), draws=50_000
    )
    assert point.tolist() == [120.0, 120.0, 120.0]
    spread = np.log(samples).std(axis=0)
    sd = np.std(np.diff(np.log([100.0, 110.0, 121.0, 120.0])), ddof=1)
    np.testing.assert_allclose(spread, sd * np.sqrt([1, 2, 4]), rtol=0.02)


def test_pre_launch_naive_is_the_pooled_mean_share_by_year_since_launch():
    others = pd.DataFrame({"series": ["a", "a", "b", "b"], "t": [1, 2, 1, 2], "share": [0.01, 0.03, 0.03, 0.05]})
    point, _ = ab.naive_pre_launch(
        others, np.array([1.0, 2.0, 3.0]), np.array([1e6, 2e6, 1e6]), np.random.default_rng(0)
    )
    np.testing.assert_allclose(point, [0.02 * 1e6, 0.04 * 2e6, 0.04 * 1e6])  # year 3 keeps year 2's mean


def test_post_launch_cases_cover_every_split_and_score_the_naive_by_hand():
    """A toy series of 7 years: splits k = 3, 4; the naive rows are checked by hand."""
    sales = np.array([10.0, 20.0, 40.0, 50.0, 55.0, 60.0, 58.0]) * 1000
    frame = pd.DataFrame({"year": np.arange(2001, 2008), "t": np.arange(1.0, 8.0), "sales": sales, "market": 1e7})
    rng = np.random.default_rng(0)
    population = pd.DataFrame(
        {
            "p": np.exp(rng.normal(np.log(0.03), 0.5, 2000)),
            "q": np.exp(rng.normal(np.log(0.5), 0.4, 2000)),
            "trend": 0.0,
            "log_share": rng.normal(np.log(0.006), 0.8, 2000),
            "sigma": np.exp(rng.normal(np.log(0.15), 0.3, 2000)),
            "phi": rng.beta(4, 4, 2000),
        }
    )
    rows = pd.DataFrame(ab.post_launch_cases("toy", frame, population, "bass", rng), columns=ab.COLUMNS)
    assert rows.fit_years.tolist() == [3, 3, 4, 4] and rows.model.tolist() == ["chain", "naive"] * 2
    naive = rows[rows.model == "naive"].set_index("fit_years")
    assert naive.loc[3, "cumulative_actual"] == 223_000 and naive.loc[3, "cumulative_forecast"] == 4 * 40_000
    assert naive.loc[4, "abs_pct_error"] == pytest.approx(abs(3 * 50_000 / 173_000 - 1))
    assert naive.loc[4, "holdout_years"] == 3
    chain = rows[rows.model == "chain"]
    assert chain.crps.gt(0).all() and chain.coverage_80.between(0, 1).all()


def test_summary_pools_coverage_over_hold_out_years():
    cases = pd.DataFrame(
        {
            "series": ["a", "b"],
            "mode": "post_launch",
            "fit_years": [3, 3],
            "model": "chain",
            "abs_pct_error": [0.1, 0.3],
            "crps": [1.0, 3.0],
            "coverage_80": [1.0, 0.5],
            "holdout_years": [2, 6],
        }
    )
    s = ab.summarise(cases).iloc[0]
    assert s.median_ape == pytest.approx(0.2) and s.median_crps == 2.0
    assert s.coverage_80 == pytest.approx((2 + 3) / 8)
