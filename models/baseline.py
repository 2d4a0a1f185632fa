"""Baseline US light-vehicle market: candidate forecasters, rolling-origin backtests, simulated paths.

Candidates work on log sales, so intervals are multiplicative and paths stay positive:
    naive      random walk, y_{T+h} = y_T (the benchmark MASE is scaled by)
    drift      random walk with drift (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3e, 5.2)
    ets_damped ETS(A,Ad,N), additive damped trend (Gardner & McKenzie 1985; statsmodels ETSModel)
    arima      ARIMA(1,1,0) with drift (statsmodels ARIMA)
Accuracy is MAE and MASE (Hyndman & Koehler 2006, *Int. J. Forecasting* 22(4)): errors scaled by the in-sample
mean absolute one-step naive error of each training window.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

CANDIDATES = ("naive", "drift", "ets_damped", "arima")


def _fit_statsmodels(log_y: np.ndarray, model: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "ets_damped":
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel

            return ETSModel(log_y, error="add", trend="add", damped_trend=True).fit(disp=False)
        from statsmodels.tsa.arima.model import ARIMA

        return ARIMA(log_y, order=(1, 1, 0), trend="t").fit()


def point_forecast(y: np.ndarray, model: str, horizon: int) -> np.ndarray:
    """Point forecast of ``y`` (levels) ``horizon`` steps ahead; the model works on log levels."""
    log_y = np.log(np.asarray(y, dtype=float))
    steps = np.arange(1, horizon + 1)
    if model == "naive":
        return np.exp(np.full(horizon, log_y[-1]))
    if model == "drift":
        return np.exp(log_y[-1] + steps * (log_y[-1] - log_y[0]) / (len(log_y) - 1))
    if model in ("ets_damped", "arima"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.exp(np.asarray(_fit_statsmodels(log_y, model).forecast(horizon)))
    raise ValueError(f"unknown baseline model {model!r}; expected one of {CANDIDATES}")


def rolling_origin_backtest(
    y: pd.Series,
    models: tuple[str, ...] = CANDIDATES,
    max_horizon: int = 5,
    min_train: int = 20,
    forecaster: Callable[[np.ndarray, str, int], np.ndarray] = point_forecast,
) -> pd.DataFrame:
    """Rolling-origin evaluation: refit at each origin, forecast 1..max_horizon, score MAE and MASE.

    Args:
        y: annual series indexed by year.
        models: model names understood by ``forecaster``.
        max_horizon: largest horizon scored.
        min_train: observations in the first training window.
    Returns:
        One row per model and horizon: model, horizon, origins, mae, mase, mae_naive, skill_vs_naive
        (1 - MAE / MAE of the naive forecast on the same origins).
    """
    values = y.to_numpy(dtype=float)
    rows = []
    for origin in range(min_train, len(values)):
        train = values[:origin]
        scale = np.mean(np.abs(np.diff(train)))
        for model in models:
            forecast = forecaster(train, model, max_horizon)
            for h in range(1, max_horizon + 1):
                if origin + h - 1 < len(values):
                    error = abs(values[origin + h - 1] - forecast[h - 1])
                    rows.append((model, h, error, error / scale))
    errors = pd.DataFrame(rows, columns=["model", "horizon", "abs_error", "scaled_error"])
    scores = (
        errors.groupby(["model", "horizon"])
        .agg(origins=("abs_error", "size"), mae=("abs_error", "mean"), mase=("scaled_error", "mean"))
        .reset_index()
    )
    naive = scores[scores.model == "naive"][["horizon", "mae"]].rename(columns={"mae": "mae_naive"})
    scores = scores.merge(naive, on="horizon", how="left")
    scores["skill_vs_naive"] = 1.0 - scores["mae"] / scores["mae_naive"]
    return scores


def select_model(backtests: pd.DataFrame) -> str:
    """The candidate with the lowest MASE averaged over horizons."""
    return str(backtests.groupby("model")["mase"].mean().idxmin())


def simulate_paths(y: np.ndarray, model: str, horizon: int, n_paths: int, seed: int) -> np.ndarray:
    """Simulated future paths (n_paths, horizon) in levels, drawing the model's own innovations."""
    log_y = np.log(np.asarray(y, dtype=float))
    rng = np.random.default_rng(seed)
    if model in ("naive", "drift"):
        steps = np.diff(log_y)
        drift = steps.mean() if model == "drift" else 0.0
        sigma = steps.std(ddof=1)
        shocks = rng.normal(drift, sigma, size=(n_paths, horizon))
        return np.exp(log_y[-1] + np.cumsum(shocks, axis=1))
    result = _fit_statsmodels(log_y, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sims = result.simulate(nsimulations=horizon, repetitions=n_paths, anchor="end", rng=rng)
    return np.exp(np.asarray(sims).reshape(horizon, n_paths).T)
