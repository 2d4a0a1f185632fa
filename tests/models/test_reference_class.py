"""models.reference_class: known answers of the covariance and the Gaussian algebra, and a fit that recovers the
parameters of synthetic launches drawn from the model itself."""

import numpy as np
import pandas as pd
import pytest

from models import reference_class as rc

TRUE = {"const": -5.0, "us_market": -1.5, "policy_created": 0.5, "technology": -0.3, "log_price_ratio": -1.0,
        "price_unknown": 0.4, "motorising": 2.0, "log_t": 0.5, "technology_log_t": 1.0, "years_on": -0.1}  # fmt: skip
PARTS = {"family_sd": 1.0, "launch_sd": 0.5, "slope_sd": 0.9, "aggregate_slope_sd": 0.2, "deviation_sd": 0.4,
         "deviation_ar": 0.6}  # fmt: skip


def synthetic(seed: int, families: int = 24, per_family: int = 2, years: int = 6) -> pd.DataFrame:
    """Launches drawn from the model with TRUE coefficients and PARTS variance parts."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(families):
        family_effect = PARTS["family_sd"] * rng.standard_normal()
        for j in range(per_family):
            price = float(np.exp(rng.uniform(np.log(0.15), np.log(1.5)))) if rng.random() < 0.6 else None
            kind = ("class", "nameplate", "technology")[rng.integers(3)]
            market = ("US", 800.0) if rng.random() < 0.5 else ("JP", 600.0 if rng.random() < 0.7 else 90.0)
            cov = rc.covariates(kind, rng.random() < 0.4, price, *market)
            own = family_effect + PARTS["launch_sd"] * rng.standard_normal()
            slope_sd = PARTS["aggregate_slope_sd" if cov["aggregate"] else "slope_sd"]
            slope, u = slope_sd * rng.standard_normal(), 0.0
            for t in range(1, years + 1):
                u = PARTS["deviation_ar"] * u + PARTS["deviation_sd"] * rng.standard_normal()
                x = {**cov, "const": 1.0, "log_t": np.log(t), "technology_log_t": cov["technology"] * np.log(t)}
                x["years_on"] = t - 1.0
                y = sum(TRUE[c] * x[c] for c in TRUE) + own + slope * np.log(t) + u
                rows.append({"launch": f"L{f}_{j}", "family": f"F{f}", "t": t, **cov, "log_share": y})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted():
    return rc.fit(synthetic(0), "rise_peak_decline")


def test_the_fit_recovers_known_coefficients_and_variance_parts(fitted):
    sd = np.sqrt(np.diag(fitted.covariance))
    z = (fitted.coefficients - np.array([TRUE[c] for c in fitted.columns])) / sd
    assert np.all(np.abs(z) < 3.5), dict(zip(fitted.columns, z.round(2), strict=True))
    for part in ("family_sd", "launch_sd", "deviation_sd"):
        assert getattr(fitted, part) == pytest.approx(PARTS[part], rel=0.5), part
    assert abs(fitted.deviation_ar - PARTS["deviation_ar"]) < 0.3
    assert (fitted.launches, fitted.families, fitted.observations) == (48, 24, 288)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fit_tells_a_nameplates_slope_spread_from_an_aggregates(seed):
    """Nameplates' own slopes spread 0.9 in the synthetic class, classes' and powertrains' 0.2: both recovered."""
    fit = rc.fit(synthetic(seed), "rise_peak_decline")
    assert fit.slope_sd == pytest.approx(PARTS["slope_sd"], rel=0.4)
    assert fit.aggregate_slope_sd < 0.3 < 0.6 < fit.slope_sd


def test_deviation_correlation_is_the_ar1_started_at_zero():
    t = np.arange(1.0, 5.0)
    np.testing.assert_allclose(rc.deviation_correlation(t, t, 0.0), np.eye(4))
    phi = 0.5
    corr = rc.deviation_correlation(t, t, phi)
    np.testing.assert_allclose(np.diag(corr), (1 - phi ** (2 * t)) / (1 - phi**2))  # var u_t: 1, 1.25, 1.3125...
    assert corr[0, 2] == pytest.approx(phi**2)  # u_1 = eta_1; u_3 = phi^2 eta_1 + ...


def test_a_new_launch_in_year_one_carries_every_level_variance_once(fitted):
    launch = rc.covariates("class", True, 0.5, "US", 800.0)
    mean, cov = rc.predictive(fitted, launch, np.array([1.0]))
    x = rc.design(pd.DataFrame({**launch, "t": [1.0]}), fitted.shape)[0]
    assert mean[0] == pytest.approx(float(x @ fitted.coefficients))
    expected = float(x @ fitted.covariance @ x) + fitted.effect_sd**2 + fitted.deviation_sd**2  # ln 1 = 0
    assert cov[0, 0] == pytest.approx(expected)


def test_a_class_and_a_nameplate_differ_only_by_their_slopes_spread(fitted):
    """Same covariates, so the same mean; the covariances differ by (tau_s^2 - tau_s,aggregate^2) ln s ln t."""
    t = np.array([1.0, 3.0, 8.0])
    mean_c, cov_c = rc.predictive(fitted, rc.covariates("class", True, 0.5, "US", 800.0), t)
    mean_n, cov_n = rc.predictive(fitted, rc.covariates("nameplate", True, 0.5, "US", 800.0), t)
    np.testing.assert_allclose(mean_c, mean_n)
    gap = (fitted.slope_sd**2 - fitted.aggregate_slope_sd**2) * np.outer(np.log(t), np.log(t))
    np.testing.assert_allclose(cov_n - cov_c, gap, atol=1e-10)


def test_conditioning_on_the_first_years_is_the_gaussian_formula(fitted):
    launch, t = rc.covariates("nameplate", False, None, "JP", 600.0), np.arange(1.0, 6.0)
    mean, cov = rc.predictive(fitted, launch, t)
    seen = mean[:2] + np.array([1.0, 1.2])  # a launch selling e^1 above the class's expectation
    next_mean, next_cov = rc.conditioned(fitted, launch, t[:2], seen, t[2:])
    gain = cov[2:, :2] @ np.linalg.inv(cov[:2, :2])
    np.testing.assert_allclose(next_mean, mean[2:] + gain @ (seen - mean[:2]))
    assert np.all(next_mean > mean[2:]) and np.all(np.diag(next_cov) < np.diag(cov)[2:])


def test_parameter_draws_have_the_predictive_level_and_the_kernel_path_its_mean(fitted):
    launch = rc.covariates("class", True, rc.REFERENCE_PRICE_RATIO, "US", 800.0)
    draws = rc.parameter_draws(fitted, launch, np.random.default_rng(1), 40_000)
    mean, cov = rc.predictive(fitted, launch, np.array([1.0]))
    assert draws.level.mean() == pytest.approx(mean[0], abs=0.03)
    assert draws.level.var() == pytest.approx(cov[0, 0] - fitted.deviation_sd**2, rel=0.03)
    t = np.arange(1.0, 8.0)
    path = rc.log_share_path(draws.level.mean(), 0.0, draws.rise.mean(), draws.decline.mean(), 0.0, t)
    np.testing.assert_allclose(path, rc.predictive(fitted, launch, t)[0], atol=0.05)


def test_a_market_is_motorising_below_300_vehicles_per_1000_people():
    assert rc.covariates("class", True, 0.5, "KR", 299.0)["motorising"] == 1.0
    assert rc.covariates("class", True, 0.5, "US", 300.0)["motorising"] == 0.0


def test_an_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="rise_peak_decline"):
        rc.columns("logistic")
