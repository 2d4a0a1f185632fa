"""The kernel: layering over the status quo, the status-quo calibration, launch and monotonicity."""

import numpy as np
import pytest

from models import montecarlo
from models.scenario import (
    ADOPTION_SHOCKS,
    GREY_COUNT_YEARS,
    LAUNCH_TIME,
    REFERENCE_KEYS,
    Range,
    base_buyer_price,
    kei_outcomes,
)

from .conftest import POLICIES, YEARS

QUANTILES = list(montecarlo.QUANTILE_COLUMNS)


def _run(spec, paths, draws=5_000, seed=5):
    return montecarlo.monte_carlo(spec, paths, YEARS, draws, seed, 5_000)


def _metric(f, metric):
    return f[f.metric == metric].set_index("year")[QUANTILES + ["mean"]]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_is_at_or_above_the_status_quo_in_every_year_and_quantile(
    name, make_spec, status_quo, market_paths
):
    policy = _run(make_spec(name, *POLICIES[name]), market_paths)
    quo = _run(status_quo, market_paths)
    for metric in ("kei_sales", "kei_sales_cumulative", "kei_in_use"):
        assert np.all(_metric(policy, metric).to_numpy() >= _metric(quo, metric).to_numpy()), metric
    np.testing.assert_array_equal(_metric(policy, "grey_imports"), _metric(quo, "grey_imports"))


def test_layering_holds_draw_by_draw(make_spec, status_quo, market_paths):
    spec = make_spec("federal", *POLICIES["federal_approval_domestic"])
    values, market = montecarlo.sample_chunk(spec, market_paths, 5000, seed=1, chunk=0)
    quo_values, quo_market = montecarlo.sample_chunk(status_quo, market_paths, 5000, seed=1, chunk=0)
    policy, quo = kei_outcomes(spec, values, market, YEARS), kei_outcomes(status_quo, quo_values, quo_market, YEARS)
    np.testing.assert_array_equal(policy["grey_imports"], quo["grey_imports"])
    assert np.all(policy["kei_sales"] >= quo["kei_sales"]) and np.all(policy["kei_in_use"] >= quo["kei_in_use"])


def test_status_quo_lands_near_the_latest_reported_import_count(status_quo, market_paths):
    f = _run(status_quo, market_paths)
    latest = status_quo.ranges["grey.imports_2023"].base
    assert GREY_COUNT_YEARS[1] == 2023 and latest == 7594
    first = _metric(f, "grey_imports").loc[YEARS[0]]
    assert 0.7 * latest <= first.p50 <= 1.3 * latest
    assert first.p10 > 0.5 * latest  # even a pessimistic draw keeps most of today's flow
    in_use = _metric(f, "kei_in_use").loc[YEARS[0]]
    assert in_use.p50 > 5 * latest  # the fleet imported since 2015 is counted
    assert np.all(_metric(f, "new_kei_sales").to_numpy() == 0) and np.all(_metric(f, "launched").to_numpy() == 0)
    assert 3000 < base_buyer_price(status_quo) < 5000  # a late-1990s kei truck, not the new-car target


def _values(spec, launch=2028.0, **overrides):
    values = {**spec.base_values(), LAUNCH_TIME: launch}
    return {**values, **{k.replace("__", "."): v for k, v in overrides.items()}}


def _new_cumulative(spec, values, market):
    return kei_outcomes(spec, values, market, YEARS)["new_kei_sales_cumulative"][:, -1]


def test_new_kei_sales_are_zero_before_launch_and_without_one(make_spec, market_paths):
    spec = make_spec()
    market = np.median(market_paths, axis=0)
    out = kei_outcomes(spec, _values(spec, launch=np.array([2030.0, np.inf])), market, YEARS)
    assert np.all(out["new_kei_sales"][0, YEARS < 2030] == 0) and np.all(out["new_kei_sales"][0, YEARS >= 2030] > 0)
    assert np.all(out["new_kei_sales"][1] == 0) and np.all(out["launched"][1] == 0)
    np.testing.assert_array_equal(out["launched"][0], (YEARS >= 2030).astype(float))
    assert np.all(np.isfinite(out["kei_sales"]))


@pytest.mark.parametrize(
    "key,low,high,direction",
    [
        ("kei.target_price", 10_000, 15_000, -1),
        ("policy.import_tariff", 0.15, 0.275, -1),
        ("access.kei_class.japan_gap_closed", 0.0, 0.35, +1),
        ("japan.kei_share", 0.3095, 0.4086, +1),
        ("demand.price_elasticity", -3.5, -1.0, -1),  # cheaper than the analogs (r < r_a): elastic buyers gain more
        ("analog.us_class_utility", -8.0, -5.0, +1),
        ("access.kei_class.addressable_share", 0.3, 0.6, +1),
    ],
)
def test_monotone_responses_of_new_kei_sales(make_spec, market_paths, key, low, high, direction):
    spec = make_spec("imports", 2027, True, "kei_class")
    market = np.median(market_paths, axis=0)
    at_low = _new_cumulative(spec, _values(spec, **{key.replace(".", "__"): low}), market)
    at_high = _new_cumulative(spec, _values(spec, **{key.replace(".", "__"): high}), market)
    assert direction * (at_high - at_low) > 0


def test_a_later_launch_sells_less_and_the_tariff_also_cuts_grey_imports(make_spec, market_paths):
    spec = make_spec("imports", 2027, True, "kei_class")
    market = np.median(market_paths, axis=0)
    early, late = (_new_cumulative(spec, _values(spec, launch=t), market) for t in (2027.0, 2030.0))
    assert late < early
    low, high = (
        kei_outcomes(spec, _values(spec, policy__import_tariff=t), market, YEARS)["grey_imports"] for t in (0.15, 0.275)
    )
    assert np.all(high < low)


def test_a_domestic_scenario_ignores_the_tariff_for_new_cars(make_spec, market_paths):
    spec = make_spec()
    market = np.median(market_paths, axis=0)
    a, b = (kei_outcomes(spec, _values(spec, policy__import_tariff=t), market, YEARS) for t in (0.15, 0.275))
    a, b = a["new_kei_sales"], b["new_kei_sales"]
    np.testing.assert_allclose(a, b)


def test_share_never_exceeds_japans(make_spec, market_paths):
    spec = make_spec(kei__target_price=Range(3000, 3000, 3000))
    f = _run(spec, market_paths, draws=5000)
    assert f[f.metric == "kei_share"].p95.max() < spec.ranges["japan.kei_share"].high


# ---------------------------------------------------------------------------------------------- reference class
def test_the_reference_layer_is_the_reference_class_path_times_the_market(make_spec):
    """Known answer: without deviations, new sales = e^(level + slope ln(r / 0.5) + rise ln t + decline (t - 1))
    x addressable / addressable of the full kei class x market, a first calendar year sold in part."""
    spec = make_spec(level_model="reference_class", road_access="low_speed")
    assert "adoption.bass_p" not in spec.keys.values() and "reference.level" in spec.keys.values()
    market = np.full(len(YEARS), 16e6)
    values = _values(spec, launch=2029.5)
    new = kei_outcomes(spec, values, market, YEARS)["new_kei_sales"][0]
    price = base_buyer_price(spec)
    avg = values["market.avg_new_vehicle_price"]
    since = YEARS - 2029.5 + 1.0
    t = np.maximum(np.ceil(since), 1.0)  # as the reference class counts years: 2029 is t = 1, 2030 t = 2
    log_share = values["reference.level"] + values["reference.price_slope"] * np.log(price / avg / 0.5)
    log_share = log_share + values["reference.rise"] * np.log(t) + values["reference.decline"] * (t - 1)
    addressable = values["access.low_speed.addressable_share"] / values["access.kei_class.addressable_share"]
    expected = np.exp(log_share) * addressable * np.clip(since, 0, 1) * market
    np.testing.assert_allclose(new, expected, rtol=1e-12)
    first = (
        np.exp(values["reference.level"])
        * addressable
        * market[0]
        * np.exp(values["reference.price_slope"] * np.log(price / avg / 0.5))
    )
    assert new[YEARS == 2029][0] == pytest.approx(0.5 * first, rel=1e-9)  # half a year on sale, at t = 1


def test_reference_deviations_start_at_zero_at_launch(make_spec):
    spec = make_spec(level_model="reference_class")
    market = np.full(len(YEARS), 16e6)
    values = _values(spec, launch=np.array([2028.0, 2028.0]))
    plain = kei_outcomes(spec, values, market, YEARS)["new_kei_sales"]
    shocks = np.ones((2, len(YEARS))) * np.array([[1.0], [-1.0]])
    shocked = kei_outcomes(spec, {**values, ADOPTION_SHOCKS: shocks}, market, YEARS)["new_kei_sales"]
    first = YEARS == 2028
    sd = values["reference.deviation_sd"]
    np.testing.assert_allclose(shocked[:, first].ravel() / plain[:, first].ravel(), np.exp([sd, -sd]))  # one shock
    assert np.all(shocked[0, YEARS > 2028] > plain[0, YEARS > 2028])
    assert np.all(shocked[:, YEARS < 2028] == 0)


def test_forecasts_given_a_launch_are_over_the_launched_draws_only(make_spec):
    spec = make_spec(level_model="reference_class")
    market = np.full(len(YEARS), 16e6)
    out = kei_outcomes(spec, _values(spec, launch=np.array([2030.0, np.inf])), market, YEARS)
    given = out["new_kei_sales_if_launched"]
    assert np.all(np.isnan(given[1])) and np.all(np.isnan(given[0, YEARS < 2030]))
    np.testing.assert_array_equal(given[0, YEARS >= 2030], out["new_kei_sales"][0, YEARS >= 2030])


def test_the_kernel_draws_the_reference_class_predictive_law(make_spec):
    """The kernel (reference_layer fed by parameter_draws and AR(1) shocks) against models.reference_class.predictive:
    for a launch at the start of a year and the reference price ratio, ln share per year on sale has the
    predictive's mean and covariance (up to sampling noise), the technology rise included."""
    from models import reference_class as rc

    from .test_reference_class import synthetic

    fit = rc.fit(synthetic(0), "rise_peak_decline")
    draws = 200_000
    for kind in ("class", "technology"):
        launch = rc.covariates(kind, kind == "class", rc.REFERENCE_PRICE_RATIO, "US", 800.0)
        sampled = rc.parameter_draws(fit, launch, np.random.default_rng(5), draws)
        spec = make_spec(level_model="reference_class", kei__target_price=25_000.0)  # at the reference price ratio
        values = {**_values(spec, launch=np.full(draws, 2028.0)), "market.avg_new_vehicle_price": 50_000.0}
        values |= {k: sampled[p].to_numpy() for p, k in REFERENCE_KEYS.items() if p in sampled}
        values |= {"reference.deviation_sd": fit.deviation_sd, "reference.deviation_ar": fit.deviation_ar}
        values |= {"japan.kei_share": 1.0, "access.kei_class.compliance_cost": 0.0}  # no cap, price exactly 0.5
        values[ADOPTION_SHOCKS] = np.random.default_rng(6).standard_normal((draws, len(YEARS)))
        new = kei_outcomes(spec, values, np.ones(len(YEARS)), YEARS)["new_kei_sales"][:, YEARS >= 2028][:, :6]
        mean, cov = rc.predictive(fit, launch, np.arange(1.0, 7.0))
        logs = np.log(new)
        np.testing.assert_allclose(logs.mean(axis=0), mean, atol=0.03)
        np.testing.assert_allclose(np.cov(logs.T), cov, atol=0.06 * cov.max())
