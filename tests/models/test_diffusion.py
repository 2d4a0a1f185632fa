import numpy as np
import pytest
from scipy.integrate import solve_ivp

from models.diffusion import BassFit, annual_adoption_fraction, bass_cdf, bass_pdf, gbm_cdf


def test_bass_closed_form_matches_the_ode():
    """dF/dt = (p + qF)(1 - F), F(0) = 0 (Bass 1969) solved numerically equals the closed form."""
    p, q = 0.03, 0.38
    t = np.linspace(0, 30, 61)
    ode = solve_ivp(lambda _, f: (p + q * f) * (1 - f), (0, 30), [0.0], t_eval=t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bass_cdf(t, p, q), ode.y[0], atol=1e-8)


def test_bass_pdf_is_the_derivative_of_the_cdf():
    p, q, t, h = 0.02, 0.5, np.linspace(0.5, 20, 40), 1e-6
    numeric = (bass_cdf(t + h, p, q) - bass_cdf(t - h, p, q)) / (2 * h)
    np.testing.assert_allclose(bass_pdf(t, p, q), numeric, rtol=1e-6)


def test_bass_known_values():
    # Peak time t* = ln(q/p) / (p + q) with F(t*) = 1/2 - p/(2q).
    p, q = 0.03, 0.38
    t_star = np.log(q / p) / (p + q)
    assert bass_cdf(t_star, p, q) == pytest.approx(0.5 - p / (2 * q))
    assert bass_cdf(0.0, p, q) == 0.0
    assert bass_cdf(-3.0, p, q) == 0.0


def test_gbm_reduces_to_bass_at_constant_price_and_falling_price_speeds_adoption():
    t = np.arange(1, 16, dtype=float)
    np.testing.assert_allclose(gbm_cdf(t, 0.03, 0.38), bass_cdf(t, 0.03, 0.38))
    slow = annual_adoption_fraction(t, 0.03, 0.38, annual_price_change=0.0, price_coefficient=-1.0)
    fast = annual_adoption_fraction(t, 0.03, 0.38, annual_price_change=-0.05, price_coefficient=-1.0)
    assert np.all(fast > slow)
    assert annual_adoption_fraction(np.array([-1.0, 0.0]), 0.03, 0.38).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("form", ["increments", "pdf"])
def test_nls_recovers_parameters_from_a_synthetic_series(form):
    p, q, m = 0.02, 0.45, 1_000_000
    t = np.arange(1, 21, dtype=float)
    truth = BassFit(form)
    truth.p_, truth.q_, truth.m_ = p, q, m
    noise = np.random.default_rng(7).normal(0, 0.01, len(t))
    y = truth.predict(t) * (1 + noise)
    fit = BassFit(form).fit(y)
    assert fit.p_ == pytest.approx(p, rel=0.1)
    assert fit.q_ == pytest.approx(q, rel=0.05)
    assert fit.m_ == pytest.approx(m, rel=0.05)
    assert fit.converged_ and fit.df_ == 17 and fit.r2_ > 0.99
    assert all(fit.se_[k] > 0 for k in "pqm")


def test_fit_accepts_gaps_and_flags_estimates_on_a_bound():
    t = np.array([1, 2, 3, 5, 6, 8, 9, 10], dtype=float)
    y = 100_000 * (bass_cdf(t, 0.01, 0.6) - bass_cdf(t - 1, 0.01, 0.6))
    assert BassFit().fit(y, t).converged_
    declining = np.array([100.0, 80, 60, 50, 40, 30])  # pure decline: q collapses to its lower bound
    fit = BassFit().fit(declining)
    assert not fit.converged_ and "q" in fit.at_bound_


@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], [1.0, -1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0], [1.0, np.nan, 1, 1]])
def test_fit_rejects_unusable_series(bad):
    with pytest.raises(ValueError):
        BassFit().fit(np.array(bad))


@pytest.mark.parametrize("scale", [1e-300, 1e-10, 1e12])
def test_the_fit_does_not_depend_on_the_units_of_the_counts(scale):
    """Least squares on raw counts stalled at its start for tiny counts and still said 'converged'."""
    truth = BassFit()
    truth.p_, truth.q_, truth.m_ = 0.02, 0.45, 1_000_000
    y = truth.predict(np.arange(1, 21)) * (1 + np.random.default_rng(7).normal(0, 0.01, 20))
    reference, scaled = BassFit().fit(y), BassFit().fit(y * scale)
    assert (scaled.p_, scaled.q_) == pytest.approx((reference.p_, reference.q_), rel=1e-6)
    assert scaled.m_ / scale == pytest.approx(reference.m_, rel=1e-6)
    assert scaled.se_["m"] / scale == pytest.approx(reference.se_["m"], rel=1e-4)
    assert scaled.rse_ / scale == pytest.approx(reference.rse_, rel=1e-6) and scaled.r2_ == pytest.approx(reference.r2_)
    assert scaled.converged_ and scaled.p_ == pytest.approx(0.02, rel=0.1)


def test_fewer_than_four_distinct_periods_are_refused():
    with pytest.raises(ValueError, match="4 distinct periods"):
        BassFit().fit(np.array([5.0, 6, 7, 8, 9]), np.array([1.0, 1, 1, 1, 1]))
