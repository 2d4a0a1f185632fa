import dataclasses

import numpy as np
import pandas as pd
import pytest

from models import montecarlo
from models.scenario import ADOPTION_SHOCKS, Range

from .conftest import YEARS


def test_pert_mean_is_the_textbook_weighted_mean():
    rng = np.random.default_rng(1)
    draws = montecarlo.pert_sample(rng, Range(2.0, 3.0, 10.0), 400_000)
    assert draws.mean() == pytest.approx((2 + 4 * 3 + 10) / 6, rel=0.005)
    assert draws.min() >= 2 and draws.max() <= 10
    assert np.all(montecarlo.pert_sample(rng, Range(5, 5, 5), 3) == 5)


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
    q = f[list(montecarlo.QUANTILE_COLUMNS)].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    wide = f.pivot_table(index="year", columns="metric", values="p95")
    assert np.all(wide.kei_sales <= wide.total_market)
    assert np.all(wide.kei_share <= 0.4086)
    assert set(f.metric) == {"total_market", "kei_sales", "kei_share", "kei_in_use", "kei_sales_cumulative"}
    assert sorted(f.year.unique()) == list(YEARS)


def test_no_sales_before_launch(make_spec, market_paths):
    f = _run(make_spec(launch_year=2030), market_paths)
    before = f[(f.metric == "kei_sales") & (f.year < 2030)]
    assert before["p95"].max() == 0


def test_status_quo_is_well_below_federal_approval(make_spec, market_paths):
    status_quo = _run(make_spec("status_quo", 2015, True, "grey_import"), market_paths)
    federal = _run(make_spec("federal", 2028, False, "kei_class"), market_paths)
    pick = lambda f: f[(f.metric == "kei_sales_cumulative") & (f.year == 2035)].p50.iloc[0]  # noqa: E731
    assert pick(status_quo) < 0.5 * pick(federal)


def test_common_random_numbers_give_every_scenario_the_same_market(make_spec, market_paths):
    a = _run(make_spec("a", road_access="kei_class"), market_paths)
    b = _run(make_spec("b", road_access="fmvss", imported=True), market_paths)
    market = lambda f: f[f.metric == "total_market"].drop(columns="scenario").reset_index(drop=True)  # noqa: E731
    assert market(a).equals(market(b))


def test_a_cheaper_price_moves_the_forecast_up(make_spec, market_paths):
    base = _run(make_spec(), market_paths)
    cheap = _run(make_spec(kei__target_price=Range(7_000, 7_000, 7_000)), market_paths)
    pick = lambda f: f[(f.metric == "kei_sales") & (f.year == 2040)].p50.iloc[0]  # noqa: E731
    assert pick(cheap) > 1.1 * pick(base)


def test_chunked_quantiles_agree_with_one_chunk(make_spec, market_paths):
    one = _run(make_spec(), market_paths, draws=40_000, chunk=40_000)
    many = _run(make_spec(), market_paths, draws=40_000, chunk=5_000)
    pick = lambda f: f[(f.metric == "kei_sales") & (f.year == 2035)][["mean", "p10", "p50", "p90"]].iloc[0]  # noqa: E731
    np.testing.assert_allclose(pick(many), pick(one), rtol=0.03)


def test_posterior_rows_are_drawn_whole_so_parameters_stay_joint(make_spec, market_paths):
    draws = pd.DataFrame({"adoption.bass_p": [0.01, 0.02, 0.03, 0.04], "adoption.bass_q": [0.1, 0.2, 0.3, 0.4]})
    spec = dataclasses.replace(make_spec(), adoption_draws=draws)
    values, _ = montecarlo.sample_chunk(spec, market_paths, 5000, 3, 0)
    np.testing.assert_allclose(values["adoption.bass_q"], 10 * values["adoption.bass_p"])
    assert set(np.round(values["adoption.bass_p"], 2)) == {0.01, 0.02, 0.03, 0.04}
    assert montecarlo.posterior_rows(np.array([0.0, 0.249, 0.25, 0.999999]), 4).tolist() == [0, 0, 1, 3]
    assert values[ADOPTION_SHOCKS].shape == (5000, len(YEARS))


def test_adoption_deviations_widen_the_fan_but_keep_its_median(make_spec, market_paths):
    quiet = make_spec(adoption__noise_sd=Range(1e-9, 1e-9, 1e-9))
    noisy = make_spec(adoption__noise_sd=Range(0.4, 0.4, 0.4))
    pick = lambda f: f[(f.metric == "kei_sales") & (f.year == 2036)].iloc[0]  # noqa: E731
    a, b = pick(_run(quiet, market_paths)), pick(_run(noisy, market_paths))
    assert (b.p90 - b.p10) > 1.5 * (a.p90 - a.p10)
    assert b.p50 == pytest.approx(a.p50, rel=0.1)
