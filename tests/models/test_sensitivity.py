import dataclasses

import numpy as np
import pytest
from scipy import special

from models import montecarlo, sensitivity
from models.scenario import (
    ADOPTION_SHOCKS,
    LAUNCH_TIME,
    REFERENCE_KEYS,
    REFERENCE_POSTERIOR,
    STATUS_QUO_ACCESS,
    Posterior,
    Range,
    kei_outcomes,
)

from .conftest import POLICIES, YEARS


@pytest.fixture
def median_market(market_paths):
    return np.median(market_paths, axis=0)


def ishigami(u: dict) -> np.ndarray:
    """Ishigami & Homma (1990) with a = 7, b = 0.1 on [-pi, pi]^3."""
    x1, x2, x3 = (-np.pi + 2 * np.pi * u[k] for k in ("x1", "x2", "x3"))
    return np.sin(x1) + 7 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1)


def test_saltelli_indices_reproduce_the_ishigami_known_answer():
    s = sensitivity.saltelli_indices(ishigami, dict.fromkeys(["x1", "x2", "x3"], 1), 2**14, seed=1).set_index("key")
    np.testing.assert_allclose(s.s1, [0.3139, 0.4424, 0.0], atol=0.02)
    np.testing.assert_allclose(s.st, [0.5576, 0.4424, 0.2437], atol=0.02)
    assert (s.s1_conf < 0.05).all() and (s.st_conf < 0.05).all()


def test_tornado_swings_inputs_between_the_monte_carlos_own_p10_and_p90(make_spec, median_market, market_paths):
    spec = make_spec("imports", *POLICIES["japan_imports_tariff"])
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035)).set_index("key")
    assert list(t.swing) == sorted(t.swing, reverse=True)
    assert "fleet.median_lifetime_years" not in t.index  # lifetimes cannot move sales
    values, _ = montecarlo.sample_chunk(spec, market_paths, 100_000, seed=3, chunk=0)
    for key in ("kei.target_price", "policy.import_tariff", "analog.us_class_utility"):
        p10, p90 = np.quantile(values[key], [0.1, 0.9])
        width = spec.ranges[key].high - spec.ranges[key].low
        assert t.loc[key, "low"] == pytest.approx(p10, abs=0.01 * width)
        assert t.loc[key, "high"] == pytest.approx(p90, abs=0.01 * width)
    assert np.isnan(t.loc[LAUNCH_TIME, "high"])  # at its P90, no maker launches


def test_sobol_and_tornado_agree_on_what_drives_a_policy_scenario(make_spec, median_market):
    spec = make_spec("federal", *POLICIES["federal_approval_domestic"])
    s = sensitivity.sobol_indices(spec, median_market, YEARS, (2026, 2035), 2**12, seed=1)
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035))
    assert set(s.key.head(2)) == set(t.key.head(2)) == {"analog.us_class_utility", LAUNCH_TIME}
    assert s.st.max() <= 1.05 and s.s1.sum() <= 1.05
    assert s.set_index("key").loc["policy.import_tariff", "st"] < 0.01  # domestic: the tariff only reaches grey imports


def test_status_quo_sensitivity_is_the_grey_import_layer(status_quo, median_market):
    s = sensitivity.sobol_indices(status_quo, median_market, YEARS, (2026, 2035), 2**11, seed=1)
    assert set(s.key.head(2)) == {"grey.headroom", "grey.road_legal_states"}
    assert s.s1_conf.max() < 0.05


def test_what_if_shows_the_weight_japans_share_carries(make_spec, status_quo, median_market):
    shares = [0.05, 1 / 3, 0.6]
    federal = sensitivity.what_if(make_spec(), "japan.kei_share", shares, median_market, YEARS, (2026, 2035), 512)
    assert np.all(np.diff(federal.headline) > 0)
    quo = sensitivity.what_if(status_quo, "japan.kei_share", shares, median_market, YEARS, (2026, 2035), 512)
    assert np.ptp(quo.headline) == 0


def test_a_scenario_with_every_assumption_fixed_is_analysed_without_error(make_spec, median_market, register_ranges):
    fixed = {key.replace(".", "__"): r.base for key, r in register_ranges.items()}
    spec = make_spec("imports", *POLICIES["japan_imports_tariff"], **fixed)
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035))
    assert not set(t.key) & set(register_ranges)  # only launch timing and posterior rows can remain
    s = sensitivity.sobol_indices(spec, median_market, YEARS, (2026, 2035), 64, seed=1)
    assert not set(s.key) & set(register_ranges)
    status_quo = make_spec("status_quo", 2015, True, STATUS_QUO_ACCESS, **fixed)  # nothing random at all
    assert sensitivity.sobol_indices(status_quo, median_market, YEARS, (2026, 2035), 64, seed=1).empty


@pytest.fixture
def reference_spec(make_spec):
    """The federal scenario with the reference class setting the new-kei level (synthetic posterior rows)."""
    rng = np.random.default_rng(0)
    rows = {"level": rng.normal(np.log(0.01), 0.5, 2000), "price_slope": rng.normal(-1.0, 0.2, 2000)}
    rows |= {"rise": rng.normal(0.5, 0.1, 2000), "decline": np.zeros(2000)}
    rows |= {"deviation_sd": np.full(2000, 0.4), "deviation_ar": np.full(2000, 0.6)}
    posterior = Posterior(REFERENCE_POSTERIOR, {REFERENCE_KEYS[p]: v for p, v in rows.items()})
    return dataclasses.replace(make_spec(), level_model="reference_class", posteriors=(posterior,))


def test_the_yearly_deviations_are_one_input_that_can_carry_all_the_variance(make_spec, register_ranges):
    fixed = {key.replace(".", "__"): r.base for key, r in register_ranges.items()}
    spec = make_spec(**{**fixed, "launch__kei_class_domestic__no_launch_probability": 0.0})  # launch in 2029
    market = np.full(len(YEARS), 16e6)
    s = sensitivity.sobol_indices(spec, market, YEARS, (2026, 2035), 2**12, seed=1).set_index("key")
    assert list(s.index) == [ADOPTION_SHOCKS, LAUNCH_TIME]  # ten yearly shocks, one grouped input
    np.testing.assert_allclose(s.loc[ADOPTION_SHOCKS, ["s1", "st"]], 1.0, atol=0.03)
    np.testing.assert_allclose(s.loc[LAUNCH_TIME, ["s1", "st"]], 0.0, atol=1e-12)  # no launch risk left
    t = sensitivity.tornado(spec, market, YEARS, (2026, 2035)).set_index("key").loc[ADOPTION_SHOCKS]
    assert (t.low, t.high) == pytest.approx((special.ndtri(0.1), special.ndtri(0.9)))  # the shocks' standardised sum
    assert t.headline_at_low < t.headline_base < t.headline_at_high


def test_the_shock_group_at_a_quantile_keeps_the_rest_of_each_vector_drawn():
    u = {ADOPTION_SHOCKS: np.random.default_rng(0).random((5000, 9))}
    e = special.ndtri(sensitivity._at_quantile(u, ADOPTION_SHOCKS, 0.9)[ADOPTION_SHOCKS])
    np.testing.assert_allclose(e.sum(axis=1) / 3, special.ndtri(0.9))
    centred = e - e.mean(axis=1, keepdims=True)  # the part orthogonal to the sum: as drawn, N(0, 1 - 1/9) each
    np.testing.assert_allclose(centred.var(axis=0), 8 / 9, rtol=0.05)


def test_the_headline_carries_the_deviations_from_years_before_the_window(make_spec, market_paths):
    spec = make_spec(launch_year=2026)
    values, market = montecarlo.sample_chunk(spec, market_paths[:, :10], 500, seed=2, chunk=0)
    sales = kei_outcomes(spec, values, market, YEARS[:10])["kei_sales"]
    full = np.hstack([market, np.full((500, 5), np.nan)])  # the years after the window are never read
    np.testing.assert_allclose(sensitivity.headline(spec, values, full, YEARS, (2030, 2035)), sales[:, 4:].sum(1))


@pytest.mark.parametrize("level_model", ["analogs", "reference_class"])
def test_the_sensitivity_mean_is_the_monte_carlos_mean(make_spec, reference_spec, market_paths, level_model):
    spec = reference_spec if level_model == "reference_class" else make_spec(adoption__noise_sd=Range(0.3, 0.5, 0.7))
    draws, window = 20_000, (2026, 2035)
    means = sensitivity.headline_means(spec, market_paths, YEARS, window, draws, seed=1).iloc[0]
    forecast = montecarlo.monte_carlo(spec, market_paths, YEARS, draws, seed=4, chunk_size=draws)
    mean = forecast[(forecast.metric == "kei_sales") & forecast.year.between(*window)]["mean"].sum()
    assert means.headline == pytest.approx(mean, abs=4 * means.headline_se)
    assert means.headline_se < 0.025 * mean
    without = sensitivity._qmc_uniforms(dict.fromkeys(sensitivity.sales_inputs(spec), 1), 2**14, seed=1)
    drawn = montecarlo.assumption_values(spec, without)  # the kernel without its yearly deviations
    assert sensitivity.headline(spec, drawn, market_paths.mean(0), YEARS, window).mean() < mean - 6 * means.headline_se
