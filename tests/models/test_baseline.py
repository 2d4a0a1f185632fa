import numpy as np
import pandas as pd
import pytest

from models import baseline


def test_backtest_arithmetic_on_a_toy_series():
    # y = 100 * 1.1^t: drift on logs is exact (MAE 0); naive misses by y_{t+h} - y_t.
    years = np.arange(2000, 2012)
    y = pd.Series(100 * 1.1 ** np.arange(12), index=years)
    scores = baseline.rolling_origin_backtest(y, models=("naive", "drift"), max_horizon=2, min_train=8)
    drift = scores[scores.model == "drift"]
    assert drift.mae.max() == pytest.approx(0.0, abs=1e-8)
    naive_h1 = scores[(scores.model == "naive") & (scores.horizon == 1)].iloc[0]
    origins = range(8, 12)
    expected = np.mean([y.iloc[o] - y.iloc[o - 1] for o in origins])
    assert naive_h1.mae == pytest.approx(expected)
    assert naive_h1.origins == 4
    # MASE scales each error by the training window's mean one-step naive error (Hyndman & Koehler 2006).
    scaled = [(y.iloc[o] - y.iloc[o - 1]) / np.mean(np.abs(np.diff(y.iloc[:o]))) for o in origins]
    assert naive_h1.mase == pytest.approx(np.mean(scaled))
    assert naive_h1.skill_vs_naive == 0.0
    assert baseline.select_model(scores) == "drift"


def test_paths_are_positive_and_centred_on_the_last_value_for_naive():
    y = np.full(30, 15e6) * np.exp(np.random.default_rng(1).normal(0, 0.05, 30))
    paths = baseline.simulate_paths(y, "naive", 10, 4000, seed=3)
    assert paths.shape == (4000, 10) and np.all(paths > 0)
    assert np.median(paths[:, 0]) == pytest.approx(y[-1], rel=0.01)
    again = baseline.simulate_paths(y, "naive", 10, 4000, seed=3)
    np.testing.assert_array_equal(paths, again)


@pytest.mark.parametrize("model", ["ets_damped", "arima"])
def test_statsmodels_candidates_forecast_and_simulate(model):
    y = 15e6 + 1e6 * np.sin(np.arange(40) / 3)
    assert baseline.point_forecast(y, model, 5).shape == (5,)
    paths = baseline.simulate_paths(y, model, 5, 200, seed=1)
    assert paths.shape == (200, 5) and np.all(np.isfinite(paths))


def test_unknown_model_is_an_error():
    with pytest.raises(ValueError):
        baseline.point_forecast(np.ones(10), "prophet", 3)
