import dataclasses

import numpy as np
import pytest
from scipy import stats

from models import montecarlo
from models.scenario import ADOPTION_SHOCKS, CONDITIONAL_METRICS, LAUNCH_TIME, METRICS, Posterior, Range

from .conftest import YEARS


def test_pert_mean_is_the_textbook_weighted_mean():
    rng = np.random.default_rng(1)
    draws = montecarlo.pert_sample(rng, Range(2.0, 3.0, 10.0), 400_000)
    assert draws.mean() == pytest.approx((2 + 4 * 3 + 10) / 6, rel=0.005)
    assert draws.min() >= 2 and draws.max() <= 10
    assert np.all(montecarlo.pert_sample(rng, Range(5, 5, 5), 3) == 5)


def test_pert_inverse_cdf_matches_the_beta_quantile_function():
    u = np.r_[np.random.default_rng(2).random(20_000), 1e-9, 0.5, 1 - 1e-9]
    for r in (Range(2.0, 3.0, 10.0), Range(0.0, 0.0, 1.0), Range(-3.5, -2.0, -1.0), Range(10_000, 10_000, 15_000)):
        width = r.high - r.low
        a, b = 1 + 4 * (r.base - r.low) / width, 1 + 4 * (r.high - r.base) / width
        expected = r.low + width * stats.beta.ppf(u, a, b)
        np.testing.assert_allclose(montecarlo.pert_ppf(u, r), expected, atol=2e-6 * width)
    np.testing.assert_allclose(montecarlo.pert_ppf(np.array([0.0, 1.0]), Range(1, 2, 3)), [1, 3], atol=1e-4)


def test_launch_times_mix_no_launch_with_a_pert_delay():
    u = np.random.default_rng(4).random(200_000)
    delay = Range(0.0, 1.0, 5.0)
    times = montecarlo.launch_times(u, 2028, delay, 0.35)
    assert np.mean(np.isinf(times)) == pytest.approx(0.35, abs=0.005)
    launched = times[np.isfinite(times)]
    assert launched.min() >= 2028 and launched.max() <= 2033
    assert launched.mean() - 2028 == pytest.approx((0 + 4 * 1 + 5) / 6, abs=0.02)  # the PERT mean delay
    ordered = times[np.argsort(u)]
    assert np.all(np.diff(np.where(np.isinf(ordered), 1e9, ordered)) >= 0)  # u orders draws by lateness
    both = montecarlo.launch_times(np.array([0.7]), 2028, delay, np.array([0.2, 0.5]))
    assert list(np.isinf(both)) == [False, True]


def test_inputs_are_keys_posteriors_and_launch(make_spec, status_quo):
    spec = make_spec()
    inputs = montecarlo.random_inputs(spec)
    assert inputs[-1] == LAUNCH_TIME and "launch.kei_class_domestic.delay_years" not in inputs
    assert "launch.kei_class_domestic.no_launch_probability" in inputs and "japan.kei_share" in inputs
    assert LAUNCH_TIME not in montecarlo.random_inputs(status_quo)
    assert all(status_quo.ranges[k].uncertain for k in montecarlo.random_inputs(status_quo))


def test_a_posterior_feeds_joint_draws_through_one_uniform(make_spec, market_paths):
    """The hook for a Bayesian fit: each draw takes one posterior row for all its keys."""
    p = 0.01 + 0.04 * np.random.default_rng(0).uniform(size=50)
    posterior = Posterior("adoption_posterior", {"adoption.bass_p": p, "adoption.bass_q": 10 * p})
    spec = make_spec(posteriors=(posterior,))
    inputs = montecarlo.random_inputs(spec)
    assert "adoption_posterior" in inputs and "adoption.bass_p" not in inputs
    values = montecarlo.assumption_values(spec, {name: np.linspace(0, 1, 7) for name in inputs})
    np.testing.assert_allclose(values["adoption.bass_q"], 10 * values["adoption.bass_p"])
    assert set(values["adoption.bass_p"]) <= set(posterior.draws["adoption.bass_p"])
    forecasts = montecarlo.monte_carlo(spec, market_paths, YEARS, 2000, 1, 2000)
    unconditional = ~forecasts.metric.isin(CONDITIONAL_METRICS)
    assert not forecasts[unconditional].isna().any().any()
    # given a launch: NaN only in years before any draw has launched (the spec launches from 2028)
    conditional = forecasts[~unconditional]
    assert conditional[conditional.year >= 2028].notna().all().all()


def test_chunk_batches_keep_every_worker_busy_with_as_few_tasks_as_possible():
    assert montecarlo.chunk_batches(2, scenarios=8, workers=2) == [[0, 1]]  # 8 tasks, 4 per worker
    assert montecarlo.chunk_batches(5, scenarios=5, workers=2) == [[0, 1, 2], [3, 4]]
    assert montecarlo.chunk_batches(5, scenarios=1, workers=2) == [[0], [1], [2], [3], [4]]
    assert montecarlo.chunk_batches(10, scenarios=1, workers=2) == [[0, 1], [2, 3], [4], [5], [6], [7], [8], [9]]
    assert montecarlo.chunk_batches(3, scenarios=1, workers=1, per_worker=2) == [[0, 1], [2]]
    with pytest.raises(ValueError):
        montecarlo.chunk_batches(0, scenarios=1, workers=2)


def test_chunk_sizes():
    assert montecarlo.chunk_sizes(10, 4) == [4, 4, 2]
    assert montecarlo.chunk_sizes(8, 4) == [4, 4]
    with pytest.raises(ValueError):
        montecarlo.chunk_sizes(0, 4)


def _run(spec, paths, draws=20_000, seed=11, chunk=8_000):
    return montecarlo.monte_carlo(spec, paths, YEARS, draws, seed, chunk)


def test_same_seed_gives_identical_forecasts_and_another_seed_does_not(make_spec, market_paths):
    a, b = _run(make_spec(), market_paths), _run(make_spec(), market_paths)
    assert a.equals(b)
    c = _run(make_spec(), market_paths, seed=12)
    assert not a.equals(c)


def test_quantiles_are_ordered_and_sales_bounded(make_spec, market_paths):
    f = _run(make_spec(), market_paths)
    q = f[list(montecarlo.QUANTILE_COLUMNS)].dropna().to_numpy()  # given a launch: none before the first launch
    assert np.all(np.diff(q, axis=1) >= 0)
    wide = f.pivot_table(index="year", columns="metric", values="p95")
    assert np.all(wide.kei_sales <= wide.total_market)
    assert np.all(wide.kei_share <= 0.4086)
    assert set(f.metric) == set(METRICS)
    assert sorted(f.year.unique()) == list(YEARS)


def test_no_new_kei_sales_before_the_planned_launch(make_spec, market_paths):
    f = _run(make_spec(launch_year=2030), market_paths)
    before = f[(f.metric.isin(["new_kei_sales", "launched"])) & (f.year < 2030)]
    assert before["p95"].max() == 0


def test_launch_risk_shows_in_the_launched_metric(make_spec, market_paths):
    spec = make_spec(launch_year=2028)
    f = _run(spec, market_paths).query("metric == 'launched'").set_index("year")["mean"]
    p = spec.ranges["launch.kei_class_domestic.no_launch_probability"]
    assert 1 - f[2040] == pytest.approx((p.low + 4 * p.base + p.high) / 6, abs=0.02)
    assert f[2027] == 0 and np.all(np.diff(f.to_numpy()) >= 0)


def test_common_random_numbers_give_every_scenario_the_same_market(make_spec, market_paths):
    a = _run(make_spec("a", road_access="kei_class"), market_paths)
    b = _run(make_spec("b", road_access="kei_class", imported=True), market_paths)
    market = lambda f: f[f.metric == "total_market"].drop(columns="scenario").reset_index(drop=True)  # noqa: E731
    assert market(a).equals(market(b))


def test_a_cheaper_price_moves_the_forecast_up(make_spec, market_paths):
    base = _run(make_spec(), market_paths)
    cheap = _run(make_spec(kei__target_price=Range(7_000, 7_000, 7_000)), market_paths)
    pick = lambda f: f[(f.metric == "new_kei_sales") & (f.year == 2040)]["mean"].iloc[0]  # noqa: E731
    assert pick(cheap) > 1.1 * pick(base)


def test_chunked_quantiles_agree_with_one_chunk(make_spec, market_paths):
    one = _run(make_spec(), market_paths, draws=40_000, chunk=40_000)
    many = _run(make_spec(), market_paths, draws=40_000, chunk=5_000)
    pick = lambda f: f[(f.metric == "kei_sales") & (f.year == 2035)][["mean", "p10", "p50", "p90"]].iloc[0]  # noqa: E731
    np.testing.assert_allclose(pick(many), pick(one), rtol=0.03)


def test_posterior_rows_are_drawn_whole_so_parameters_stay_joint(make_spec, market_paths):
    draws = {"adoption.bass_p": np.array([0.01, 0.02, 0.03, 0.04]), "adoption.bass_q": np.array([0.1, 0.2, 0.3, 0.4])}
    spec = dataclasses.replace(make_spec(), posteriors=(Posterior("adoption.posterior", draws),))
    values, _ = montecarlo.sample_chunk(spec, market_paths, 5000, 3, 0)
    np.testing.assert_allclose(values["adoption.bass_q"], 10 * values["adoption.bass_p"])
    assert set(np.round(values["adoption.bass_p"], 2)) == {0.01, 0.02, 0.03, 0.04}
    rows = montecarlo.assumption_values(
        spec,
        {
            **{n: np.full(4, 0.5) for n in montecarlo.random_inputs(spec)},
            "adoption.posterior": np.array([0.0, 0.249, 0.25, 0.999999]),
        },
    )
    assert rows["adoption.bass_p"].tolist() == [0.01, 0.01, 0.02, 0.04]  # row floor(u * rows)
    assert values[ADOPTION_SHOCKS].shape == (5000, len(YEARS))


def test_adoption_deviations_widen_the_fan_but_keep_its_median(make_spec):
    """Every input at its base value and launch in 2028: the only spread left is the adoption deviations'."""
    from models.scenario import kei_outcomes

    shocks = np.random.default_rng(5).standard_normal((4000, len(YEARS)))
    spread = {}
    for sd in (0.0, 0.4):
        spec = make_spec(adoption__noise_sd=Range(sd, sd, sd))
        values = {**spec.base_values(), LAUNCH_TIME: np.full(4000, 2028.0), ADOPTION_SHOCKS: shocks}
        new = kei_outcomes(spec, values, np.full(len(YEARS), 16e6), YEARS)["new_kei_sales"][:, YEARS == 2036][:, 0]
        spread[sd] = np.quantile(new, [0.1, 0.5, 0.9])
    assert spread[0.0][2] - spread[0.0][0] == pytest.approx(0.0, abs=1e-6)  # no deviations: one path
    assert spread[0.4][2] > 1.5 * spread[0.4][0]  # deviations: a fan
    assert spread[0.4][1] == pytest.approx(spread[0.0][1], rel=0.1)  # around the same median path


def test_masked_quantiles_are_numpys_over_the_values_present():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(501, 4))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 3] = np.nan  # a year no draw has reached
    q = (0.05, 0.1, 0.5, 0.9, 0.95)
    got = montecarlo.masked_quantiles(x, q)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        np.testing.assert_allclose(got, np.nanquantile(x, q, axis=0), equal_nan=True)


def test_forecasts_given_a_launch_weigh_each_chunk_by_its_launched_draws(make_spec, market_paths):
    """Chunked or not, the conditional quantiles are over the launched draws: one chunk and ten agree within
    the quantiles' own sampling noise, and the mean of the pooled draws is exact."""
    spec = make_spec(level_model="reference_class")
    whole = montecarlo.monte_carlo(spec, market_paths, YEARS, 4000, 1, 4000)
    parts = montecarlo.monte_carlo(spec, market_paths, YEARS, 4000, 1, 400)
    pick = lambda f: f[(f.metric == "new_kei_sales_cumulative_if_launched") & (f.year == 2035)].iloc[0]  # noqa: E731
    a, b = pick(whole), pick(parts)
    assert a.p50 == pytest.approx(b.p50, rel=0.25) and a.p90 > a.p50 > a.p10 > 0
    for f in (whole, parts):  # new sales are zero without a launch: E[X | launched] = E[X] / P(launched)
        at = f[f.year == 2035].set_index("metric")["mean"]
        assert at["new_kei_sales_cumulative_if_launched"] == pytest.approx(
            at["new_kei_sales_cumulative"] / at["launched"], rel=1e-9
        )
