import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from models.adoption import (
    AnalogPanel,
    HierarchicalAdoption,
    Priors,
    ar1_deviations,
    ar1_loglik,
    bass_pq,
    prior_population,
    simulate_sales,
    update_series,
)
from models.diffusion import adoption_path, bass_cdf


def test_shapes_reduce_to_bass_and_the_life_cycle_peaks_at_one():
    t = np.arange(1, 31, dtype=float)
    np.testing.assert_allclose(adoption_path(t, 0.03, 0.38, 0.0, "bass"), bass_cdf(t, 0.03, 0.38))
    np.testing.assert_allclose(adoption_path(t, 0.03, 0.38, 0.0, "gbm_potential"), bass_cdf(t, 0.03, 0.38))
    decline = adoption_path(t, 0.03, 0.38, -0.1, "bass_decline")
    np.testing.assert_allclose(decline, bass_cdf(t, 0.03, 0.38) * np.exp(-0.1 * (t - 1)))
    life = adoption_path(t, 0.03, 0.38, 0.0, "life_cycle")
    ratio = life / (bass_cdf(t, 0.03, 0.38) - bass_cdf(t - 1, 0.03, 0.38))
    np.testing.assert_allclose(ratio, ratio[0])  # Bass increments, rescaled
    assert 0.98 < life.max() <= 1.0 and np.argmax(life) + 1 == 7  # peak of f at ln(q/p)/(p+q) = 6.2
    assert adoption_path(np.array([0.0, -2.0]), 0.03, 0.38, 0.0, "bass").tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        adoption_path(t, 0.03, 0.38, 0.0, "logistic")


def _zero_start_cov(times: np.ndarray, sigma: float, phi: float) -> np.ndarray:
    """Covariance of AR(1) deviations at ``times`` that start at u_0 = 0 at t = 0."""
    var = sigma**2 * (1 - phi ** (2 * times)) / (1 - phi**2)
    return np.minimum.outer(var, var) * phi ** np.abs(times[:, None] - times[None, :])


def test_ar1_loglik_with_gaps_is_the_exact_gaussian_density_of_a_path_starting_at_zero():
    sigma, phi = 0.3, 0.7
    times = np.array([2.0, 3.0, 5.0, 6.0, 9.0])  # t = 1 (a partial launch year), 4, 7, 8 missing
    cov = _zero_start_cov(times, sigma, phi)
    u = np.array([0.1, -0.2, 0.4, 0.0, 0.3])
    gap = np.diff(times, prepend=0.0)
    got = ar1_loglik(u, gap, np.ones(5, bool), sigma, phi)
    assert got == pytest.approx(multivariate_normal(np.zeros(5), cov).logpdf(u))
    masked = ar1_loglik(u, gap, np.array([1, 1, 1, 0, 0], bool), sigma, phi)
    assert masked == pytest.approx(multivariate_normal(np.zeros(3), cov[:3, :3]).logpdf(u[:3]))


def test_ar1_deviations_start_at_zero_at_launch_with_the_right_variance_and_persistence():
    shocks = np.random.default_rng(0).standard_normal((200_000, 6))
    u = ar1_deviations(shocks, 0.3, 0.7)
    np.testing.assert_allclose(u.var(axis=0), np.diag(_zero_start_cov(np.arange(1.0, 7.0), 0.3, 0.7)), rtol=0.02)
    assert np.corrcoef(u[:, 3], u[:, 4])[0, 1] == pytest.approx(0.7 * np.sqrt(u[:, 3].var() / u[:, 4].var()), abs=0.01)
    later = ar1_deviations(shocks, 0.3, 0.7, active=np.arange(6) >= 2)  # launched in the third year
    assert (later[:, :2] == 0).all()
    np.testing.assert_allclose(later[:, 2:], ar1_deviations(shocks[:, 2:], 0.3, 0.7))


def test_speed_and_ratio_map_back_to_p_and_q():
    p, q = bass_pq(np.log(0.41), np.log(0.38 / 0.03))
    assert (p, q) == (pytest.approx(0.03), pytest.approx(0.38))


def _synthetic(names_params: dict, years=20, seed=1) -> pd.DataFrame:
    """Annual sales of made-up launches with known p, q, share, sigma (phi 0.5) and a flat 15M market."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, (name, (p, q, share, sigma)) in enumerate(names_params.items()):
        t = np.arange(1, years + 1, dtype=float)
        u = ar1_deviations(rng.standard_normal((1, years)), sigma, 0.5)[0]
        sales = share * bass_cdf(t, p, q) * np.exp(u) * 15e6
        frames.append(pd.DataFrame({"series": name, "year": 2000 + i + t, "sales": sales, "market": 15e6}))
    return pd.concat(frames, ignore_index=True)


def test_panel_masks_a_left_out_analog_and_refuses_nonpositive_sales():
    frame = _synthetic({"a": (0.03, 0.4, 0.01, 0.1), "b": (0.02, 0.5, 0.02, 0.1)}, years=6)
    panel = AnalogPanel.from_long(frame.drop(index=[2]))  # a gap in series a
    assert panel.mask.sum(axis=1).tolist() == [5, 6] and panel.gap[0, :5].tolist() == [1, 1, 2, 1, 1]
    assert panel.without("b").mask[1].sum() == 0 and panel.mask[1].sum() == 6
    with pytest.raises(ValueError, match="positive"):
        AnalogPanel.from_long(frame.assign(sales=0.0))
    launched_late = frame.assign(t=frame.year - frame.groupby("series").year.transform("min") + 1)
    partial = AnalogPanel.from_long(launched_late[launched_late.t > 1])  # each launch year left out as partial
    assert partial.t[0, :5].tolist() == [2, 3, 4, 5, 6] and partial.gap[0, :5].tolist() == [2, 1, 1, 1, 1]


def test_update_recovers_a_series_from_its_own_history():
    """A population centred away from the truth: 20 years of data move the series' posterior onto it."""
    rng = np.random.default_rng(3)
    truth = {"p": 0.01, "q": 0.6, "share": 0.02}
    n = 4000
    population = pd.DataFrame(
        {
            "p": np.exp(rng.normal(np.log(0.03), 0.7, n)),
            "q": np.exp(rng.normal(np.log(0.38), 0.5, n)),
            "trend": 0.0,
            "log_share": rng.normal(np.log(0.005), 1.5, n),
            "sigma": np.exp(rng.normal(np.log(0.1), 0.3, n)),
            "phi": rng.beta(4, 4, n),
        }
    )
    frame = _synthetic({"x": (truth["p"], truth["q"], truth["share"], 0.05)})
    t = (frame.year - frame.year.min() + 1).to_numpy(float)
    posterior = update_series(population, "bass", t, np.ones(len(t)), np.log(frame.sales / frame.market), rng)
    for name, value in (("p", truth["p"]), ("q", truth["q"]), ("log_share", np.log(truth["share"]))):
        low, high = np.quantile(posterior[name], [0.01, 0.99])  # one data set: a 98% interval misses 1 in 50
        assert low <= value <= high, (name, low, value, high)
    assert np.log(posterior.q).std() < 0.5 * np.log(population.q).std()  # the data did the work


def test_simulated_sales_follow_the_path_and_never_exceed_the_market():
    draws = pd.DataFrame({"p": [0.03], "q": [0.38], "trend": [0.0], "log_share": [np.log(0.01)], "sigma": [1e-9]})
    t = np.arange(1.0, 6.0)
    sales = simulate_sales(draws.assign(phi=0.5), "bass", t, np.full(5, 1e6), np.random.default_rng(0))
    np.testing.assert_allclose(sales[0], 0.01 * bass_cdf(t, 0.03, 0.38) * 1e6, rtol=1e-6)
    huge = simulate_sales(draws.assign(phi=0.5, log_share=3.0), "bass", t, np.full(5, 1e6), np.random.default_rng(0))
    assert huge.max() <= 1e6


@pytest.mark.slow
def test_hierarchical_fit_converges_and_recovers_known_parameters_within_90_percent_intervals():
    """Six launches drawn from a known population (the model's own assumptions: its fixed spreads), 20 years each."""
    rng = np.random.default_rng(11)
    priors = Priors()
    centre = {"log_speed": np.log(0.45), "log_ratio": np.log(20.0), "log_share": np.log(0.01)}
    spread = {"log_speed": priors.speed_spread, "log_ratio": priors.ratio_spread, "log_share": priors.share_spread}
    draws = {k: centre[k] + spread[k] * rng.standard_normal(6) for k in centre}
    p, q = bass_pq(draws["log_speed"], draws["log_ratio"])
    truth = {name: (p[i], q[i], np.exp(draws["log_share"][i]), 0.1) for i, name in enumerate("abcdef")}
    frame = _synthetic(truth, years=20, seed=5)
    fit = HierarchicalAdoption("bass", seed=1).fit(AnalogPanel.from_long(frame))
    assert fit.converged_, fit.diagnostics_
    for site in ("mu_log_speed", "mu_log_ratio", "mu_log_share"):
        low, high = np.quantile(fit.hyper_[site], [0.05, 0.95])
        assert low <= centre[site.removeprefix("mu_")] <= high, (site, low, high)
    low, high = np.quantile(fit.hyper_.phi, [0.05, 0.95])
    assert low <= 0.5 <= high
    # 24 analog parameters against their 90% intervals: about 2.4 misses are expected by chance alone.
    ranks = []
    for name, (p_, q_, share, sigma) in truth.items():
        own = fit.analogs_[fit.analogs_.series == name]
        for column, value in (("p", p_), ("q", q_), ("log_share", np.log(share)), ("sigma", sigma)):
            ranks.append(float(np.mean(own[column] < value)))
    hits = sum(0.05 <= r <= 0.95 for r in ranks)
    assert hits >= 19, ranks  # P(fewer than 19 of 24 | 90% coverage) < 2%


def test_prior_population_is_the_hyper_priors_predictive():
    """ln share of a new analog: the mean's N(ln 0.01, 2) plus the fixed spread 1.5, so sd 2.5; phi ~ Beta(2, 2)."""
    draws = prior_population("bass", Priors(), 200_000, seed=0)
    assert draws.log_share.mean() == pytest.approx(np.log(0.01), abs=0.02)
    assert draws.log_share.std() == pytest.approx(2.5, rel=0.01)
    assert draws.phi.mean() == pytest.approx(0.5, abs=0.005) and (draws.trend == 0).all()
    ratio = np.log(draws.q / draws.p)
    assert ratio.median() == pytest.approx(np.log(0.38 / 0.03), abs=0.02)
