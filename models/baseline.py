"""Baseline US light-vehicle market: candidate forecasters, rolling-origin backtest, calibrated paths.

Candidates forecast log sales, so intervals are multiplicative and paths stay positive:
    naive           random walk, y_{T+h} = y_T: the benchmark that skill is measured against
    drift           random walk with drift (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3e, 5.2)
    ar1             AR(1) with a constant, reverting to the long-run mean c / (1 - phi) (statsmodels AutoReg, OLS)
    ar2_trend       AR(2) around a linear trend: the business cycle around slowly growing demand (AutoReg, OLS)
    ets_damped      ETS(A,Ad,N), additive damped trend (Gardner & McKenzie 1985; statsmodels ETSModel)
    theta           the theta method, SES with half the trend slope as drift (Assimakopoulos & Nikolopoulos 2000;
                    Hyndman & Billah 2003; statsmodels ThetaModel)
    combo           equal-weight mean of the ar1 and ar2_trend log forecasts (Clemen 1989). The two disagree on
                    where sales revert to, a constant level or a rising trend; their average hedges that choice.
    combo_weighted  the same pair weighted at each horizon by the inverse mean squared error of its past forecasts
                    (Bates & Granger 1969), using only errors the origin has seen.
ETS and theta are fitted on log points relative to the last year, 100 (log y - log y_T), ETS with heuristic initial
states (Hyndman et al. 2008, *Forecasting with Exponential Smoothing*, 2.6). On raw log levels (about 16.5, sd 0.1)
with estimated initial states the ETS likelihood optimiser stops at alpha = beta = 0, a deterministic damped trend
that ignores recent years (MASE 1.53 at horizon 1, against 0.91 for naive); in log points it finds alpha near 1.

Accuracy is MAE and MASE (Hyndman & Koehler 2006, *Int. J. Forecasting* 22(4)) over rolling origins (Tashman 2000):
every origin refits on the years up to it; errors are scaled by that window's mean absolute one-step naive error.
The model chosen on those origins is then scored on the same origins, which flatters it (selection bias: Varma &
Simon 2006; Cawley & Talbot 2010, *JMLR* 11). The nested backtest scores the choosing instead: at each origin the
rule picks from the errors whose outcome year it has seen, and that pick's forecast from the origin is scored.

Spread. A candidate's log forecast error at horizon h is modelled as k a_h, where a is the forecast-error process
of an AR(1) fitted to log sales: a_h = phi a_{h-1} + sigma e_h, a_0 = 0, e_h ~ N(0, 1), so (Box & Jenkins 1970)
    sd_h = sigma sqrt(1 + phi^2 + ... + phi^(2(h-1))),   levelling off at sigma / sqrt(1 - phi^2):
paths revert and their band stays bounded however far they run. k is a split-conformal scale (Vovk, Gammerman &
Shafer 2005; Lei et al. 2018, *JASA* 113(523)): the ceil(0.8 (n+1))-th smallest of n past |log error / sd_h|,
divided by z_0.9 = 1.2816, so the 80% interval covers 80% of past errors. One k per model, pooled over horizons:
per horizon, an origin would have seen at most 11 errors at horizon 10, too few for a stable quantile. In the
backtest, k at each origin uses only errors whose outcome year that origin has seen (k = 1 until there are
MIN_CALIBRATION_ERRORS), so the coverage reported is out-of-sample; the paths use k from every backtest error.

Beyond the backtested horizons (to 2040) the paths run on the same process: the median follows the chosen model
(combo: in logs, halfway between the AR(1) long-run level and the AR(2) trend) and the spread stays near its
ceiling k sigma / sqrt(1 - phi^2). Replacement demand (fleet x scrappage) would be the alternative anchor, but
data/reference holds no fleet or scrappage series, so the anchor is the mean-reverting process fitted to sales.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from models.ar1 import ar1_paths

SINGLE_MODELS = ("naive", "drift", "ar1", "ar2_trend", "ets_damped", "theta")
COMBINATIONS = ("combo", "combo_weighted")
CANDIDATES = SINGLE_MODELS + COMBINATIONS
COMBINATION_MEMBERS = ("ar1", "ar2_trend")
COVERAGE_LEVELS = (0.8, 0.9)
MIN_CALIBRATION_ERRORS = 10  # past errors needed before the conformal scale replaces k = 1
MIN_WEIGHT_ERRORS = 3  # past errors per member and horizon needed before inverse-MSE weights replace equal ones
NESTED = "auto"  # backtest rows of the selection rule itself, choosing at each origin from what it had seen


def forecast_log(log_y: np.ndarray, model: str, horizon: int) -> np.ndarray:
    """Point forecast of log sales 1..``horizon`` steps after the last of ``log_y``, for a single model."""
    from statsmodels.tsa.ar_model import AutoReg
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.theta import ThetaModel

    log_y = np.asarray(log_y, dtype=float)
    points = 100 * (log_y - log_y[-1])  # log points from the last year: see the module docstring
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns about convergence and index-less data on every fit
        if model == "naive":
            return np.full(horizon, log_y[-1])
        if model == "drift":
            return log_y[-1] + np.arange(1, horizon + 1) * (log_y[-1] - log_y[0]) / (len(log_y) - 1)
        if model == "ar1":
            return AutoReg(log_y, lags=1, trend="c").fit().forecast(horizon)
        if model == "ar2_trend":
            return AutoReg(log_y, lags=2, trend="ct").fit().forecast(horizon)
        if model == "ets_damped":
            ets = ETSModel(points, error="add", trend="add", damped_trend=True, initialization_method="heuristic")
            return log_y[-1] + ets.fit(disp=False).forecast(horizon) / 100
        if model == "theta":
            theta = ThetaModel(points, period=1, deseasonalize=False)
            return log_y[-1] + np.asarray(theta.fit().forecast(horizon)) / 100
    raise ValueError(f"unknown baseline model {model!r}; expected one of {CANDIDATES}")


def error_process(log_y: np.ndarray) -> tuple[float, float]:
    """(phi, sigma) of the AR(1) with a constant fitted to log sales by OLS: the shape of every spread."""
    from statsmodels.tsa.ar_model import AutoReg

    fit = AutoReg(np.asarray(log_y, dtype=float), lags=1, trend="c").fit()
    return float(fit.params[1]), float(np.sqrt(fit.sigma2))


def error_sd(phi: float, sigma: float, horizon: int) -> np.ndarray:
    """sd_h = sigma sqrt(sum_{j<h} phi^(2j)), h = 1..horizon: the AR(1) h-step forecast-error sd."""
    return sigma * np.sqrt(np.cumsum(phi ** (2 * np.arange(horizon))))


def error_paths(phi: float, sigma: float, horizon: int, n_paths: int, seed: int) -> np.ndarray:
    """Draws (n_paths, horizon) of the AR(1) error process a_h = phi a_{h-1} + sigma e_h from a_0 = 0."""
    return ar1_paths(np.random.default_rng(seed).standard_normal((n_paths, horizon)), sigma, phi)


def spread_scale(abs_z: np.ndarray, level: float = COVERAGE_LEVELS[0]) -> float:
    """Split-conformal scale k: the ceil(level (n+1))-th smallest |z| over the normal quantile z_{(1+level)/2}.

    Returns 1 (the AR(1) spread as fitted) while fewer than MIN_CALIBRATION_ERRORS errors are available.
    """
    abs_z = np.sort(np.asarray(abs_z, dtype=float))
    n = len(abs_z)
    if n < MIN_CALIBRATION_ERRORS:
        return 1.0
    rank = min(int(np.ceil(level * (n + 1))), n)
    return float(abs_z[rank - 1] / NormalDist().inv_cdf(0.5 + level / 2))


def inverse_mse_weights(errors: pd.DataFrame, horizon: int) -> np.ndarray:
    """Bates-Granger weights (members x horizons 1..horizon), proportional to 1 / mean squared log error.

    ``errors`` holds rows (model, horizon, log_error) of past forecasts. A horizon with fewer than
    MIN_WEIGHT_ERRORS errors for a member gets equal weights; horizons past the longest scored take its weights.
    """
    equal = 1.0 / len(COMBINATION_MEMBERS)
    members = errors[errors.model.isin(COMBINATION_MEMBERS)]
    if members.empty:
        return np.full((len(COMBINATION_MEMBERS), horizon), equal)
    squared = (members.log_error**2).groupby([members.horizon, members.model])
    mse, counts = squared.mean().unstack("model"), squared.size().unstack("model")
    inverse = 1.0 / mse.where(counts >= MIN_WEIGHT_ERRORS).reindex(columns=list(COMBINATION_MEMBERS))
    weights = inverse.div(inverse.sum(axis=1), axis=0).fillna(equal)
    return weights.reindex(range(1, horizon + 1)).ffill().to_numpy().T


def combine(member_forecasts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of member log forecasts (members on rows, horizons on columns): a geometric mean in levels."""
    return np.sum(np.asarray(weights) * member_forecasts, axis=0)


def _single_forecasts(y: pd.Series, end: int, horizon: int) -> pd.DataFrame:
    """Rows for the origin after the first ``end`` years: each single model's forecast beside the outcome."""
    log_values = np.log(y.to_numpy(dtype=float))
    train, steps = log_values[:end], min(horizon, len(log_values) - end)
    common = {
        "origin": int(y.index[end - 1]),
        "horizon": np.arange(1, steps + 1),
        "actual": log_values[end : end + steps],
        "sd": error_sd(*error_process(train), steps),
        "scale": np.mean(np.abs(np.diff(np.exp(train)))),
    }
    return pd.concat(
        pd.DataFrame({"model": model, **common, "forecast": forecast_log(train, model, steps)})
        for model in SINGLE_MODELS
    )


def _combinations(singles: pd.DataFrame, origin: int) -> pd.DataFrame:
    """combo and combo_weighted rows at ``origin``; the weights see only outcomes up to the origin year."""
    here = singles[singles.origin == origin]
    members = here.pivot(index="horizon", columns="model", values="forecast")[list(COMBINATION_MEMBERS)]
    seen = singles[singles.origin + singles.horizon <= origin]
    weights = inverse_mse_weights(seen.assign(log_error=seen.actual - seen.forecast), len(members))
    base = here[here.model == COMBINATION_MEMBERS[0]]
    return pd.concat(
        [
            base.assign(model="combo", forecast=members.mean(axis=1).to_numpy()),
            base.assign(model="combo_weighted", forecast=combine(members.to_numpy().T, weights)),
        ]
    )


def rolling_origin_forecasts(y: pd.Series, horizon: int, min_train: int) -> pd.DataFrame:
    """Every candidate's forecast from every rolling origin that has at least one outcome to compare with.

    Returns one row per model, origin (the last training year) and horizon 1..``horizon``: forecast and actual
    (log sales), log_error, sd (the AR(1) spread fitted at that origin) and scale (the training window's mean
    absolute one-step naive error, in levels, the MASE denominator).
    """
    singles = pd.concat([_single_forecasts(y, end, horizon) for end in range(min_train, len(y))])
    combos = [_combinations(singles, origin) for origin in singles.origin.unique()]
    frame = pd.concat([singles, *combos], ignore_index=True)
    return frame.assign(log_error=frame.actual - frame.forecast)


def out_of_sample_coverage(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Whether each forecast's 80% and 90% intervals covered the outcome, k fitted only on errors seen before.

    Adds z (log error / sd), k (``spread_scale`` of the |z| of the same model's earlier forecasts whose outcome
    year is at most this origin) and covered_80, covered_90: |z| <= z_{(1+level)/2} k.
    """
    frame = forecasts.assign(z=forecasts.log_error / forecasts.sd)
    seen_by = {
        (model, origin): spread_scale(part.z.abs()[part.origin + part.horizon <= origin])
        for model, part in frame.groupby("model")
        for origin in part.origin.unique()
    }
    frame["k"] = [seen_by[key] for key in zip(frame.model, frame.origin, strict=True)]
    for level in COVERAGE_LEVELS:
        bound = NormalDist().inv_cdf(0.5 + level / 2) * frame.k
        frame[f"covered_{round(level * 100)}"] = frame.z.abs() <= bound
    return frame


def scored_errors(forecasts: pd.DataFrame) -> pd.DataFrame:
    """``out_of_sample_coverage`` plus abs_error (in levels) and scaled_error (abs_error / scale): one row per
    forecast, the terms every MASE and coverage below averages."""
    frame = out_of_sample_coverage(forecasts)
    frame["abs_error"] = np.abs(np.exp(frame.actual) - np.exp(frame.forecast))
    frame["scaled_error"] = frame.abs_error / frame.scale
    return frame


def _aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model and horizon: origins, mae, mase, coverage_80, coverage_90 of ``scored_errors`` rows."""
    return (
        frame.groupby(["model", "horizon"])
        .agg(
            origins=("abs_error", "size"),
            mae=("abs_error", "mean"),
            mase=("scaled_error", "mean"),
            coverage_80=("covered_80", "mean"),
            coverage_90=("covered_90", "mean"),
        )
        .reset_index()
    )


def _against_naive(scores: pd.DataFrame, naive: pd.Series) -> pd.DataFrame:
    """Adds mase_naive (``naive``: MASE of naive per horizon, on the same origins) and skill_vs_naive."""
    scores["mase_naive"] = scores.horizon.map(naive)
    scores["skill_vs_naive"] = 1.0 - scores.mase / scores.mase_naive
    return scores


def score_backtest(forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per model and horizon: origins, mae, mase, mase_naive, skill_vs_naive (1 - MASE / MASE of the
    naive forecast from the same origins), coverage_80, coverage_90 (out-of-sample) and spread_scale (k from
    every error of the model: the scale its simulated paths use)."""
    frame = scored_errors(forecasts)
    scores = _aggregate(frame)
    scores = _against_naive(scores, scores[scores.model == "naive"].set_index("horizon").mase)
    scores["spread_scale"] = scores.model.map(frame.groupby("model").z.agg(lambda z: spread_scale(z.abs())))
    return scores


def select_model(backtests: pd.DataFrame, max_horizon: int = 5) -> str:
    """The candidate with the lowest MASE averaged over horizons 1..max_horizon."""
    scored = backtests[backtests.horizon <= max_horizon]
    return str(scored.groupby("model").mase.mean().idxmin())


def nested_choices(errors: pd.DataFrame, max_horizon: int = 5) -> pd.Series:
    """Per origin, the model ``select_model`` picks from the forecasts whose outcome year that origin has seen
    (origin + horizon <= it); origins that have seen none (the first) get no choice. ``errors``: ``scored_errors``.
    """
    choices = {}
    for origin in np.sort(errors.origin.unique()):
        seen = errors[(errors.origin + errors.horizon <= origin) & (errors.horizon <= max_horizon)]
        if not seen.empty:
            mase = seen.groupby(["model", "horizon"]).scaled_error.mean().rename("mase").reset_index()
            choices[int(origin)] = select_model(mase, max_horizon)
    return pd.Series(choices, name="model", dtype=object)


def nested_backtest(errors: pd.DataFrame, max_horizon: int = 5) -> pd.DataFrame:
    """The selection rule itself as a forecaster (model NESTED): at each origin the ``nested_choices`` model's
    forecast, scored like a candidate (Varma & Simon 2006, *BMC Bioinformatics* 7:91, nested cross-validation;
    Tashman 2000). Skill is against naive on the same origins, so it is out of sample for the choice too: the
    in-sample skill of the selected model is scored on the origins that chose it, and is optimistic.
    """
    choices = nested_choices(errors, max_horizon)
    chosen = errors[errors.origin.map(choices).eq(errors.model)].assign(model=NESTED)
    naive = errors[(errors.model == "naive") & errors.origin.isin(choices.index)]
    return _against_naive(_aggregate(chosen), naive.groupby("horizon").scaled_error.mean())


def skill_summary(backtests: pd.DataFrame, max_horizon: int = 5, fixed: bool = False) -> dict[str, float]:
    """Mean skill_vs_naive over horizons 1..max_horizon of the selected model ("in_sample"), of the NESTED rows
    ("nested": the automatic choice made inside each origin; NaN without them) and the skill to hold to a bar
    ("honest"): the selected model's when it was fixed in advance (``fixed``), since no origin chose it, else the
    nested one."""
    near = backtests[backtests.horizon <= max_horizon]
    nested = near[near.model == NESTED].skill_vs_naive
    in_sample = float(near[near.selected].skill_vs_naive.mean())
    nested_skill = float(nested.mean()) if len(nested) else float("nan")
    return {"in_sample": in_sample, "nested": nested_skill, "honest": in_sample if fixed else nested_skill}


@dataclass
class BaselineMarket:
    """The baseline market: candidates backtested from rolling origins, one chosen, its paths simulated.

    ``model="auto"`` picks the lowest mean MASE over horizons 1..``max_horizon``; the backtest runs to
    ``coverage_horizon`` so interval coverage is measured that far. ``backtests_`` also holds rows of model NESTED:
    the "auto" rule choosing at each origin from what that origin had seen (``nested_backtest``), the honest skill
    of choosing, kept beside a model fixed in advance as what choosing would have scored. Fitted state is in the
    trailing-underscore attributes after :meth:`fit`.
    """

    model: str = "auto"
    max_horizon: int = 5
    coverage_horizon: int = 10
    min_train: int = 20

    def fit(self, y: pd.Series) -> BaselineMarket:
        """Backtest the candidates on annual sales ``y`` (indexed by year), choose one, calibrate its spread."""
        if self.model not in (*CANDIDATES, "auto"):
            raise ValueError(f"unknown baseline model {self.model!r}; expected auto or one of {CANDIDATES}")
        forecasts = rolling_origin_forecasts(y, self.coverage_horizon, self.min_train)
        scores = score_backtest(forecasts)
        self.model_ = select_model(scores, self.max_horizon) if self.model == "auto" else self.model
        self.backtests_ = scores.assign(selected=scores.model == self.model_)
        nested = nested_backtest(scored_errors(forecasts), self.max_horizon).assign(selected=False)
        self.backtests_ = pd.concat([self.backtests_, nested], ignore_index=True)
        self.spread_scale_ = float(scores[scores.model == self.model_].spread_scale.iloc[0])
        self.forecasts_ = forecasts
        self.log_y_ = np.log(y.to_numpy(dtype=float))
        self.phi_, self.sigma_ = error_process(self.log_y_)
        return self

    def predict_log(self, horizon: int) -> np.ndarray:
        """Median log sales 1..``horizon`` years after the last observed year."""
        if self.model_ not in COMBINATIONS:
            return forecast_log(self.log_y_, self.model_, horizon)
        members = np.array([forecast_log(self.log_y_, m, horizon) for m in COMBINATION_MEMBERS])
        if self.model_ == "combo":
            return members.mean(axis=0)
        return combine(members, inverse_mse_weights(self.forecasts_, horizon))

    def predict_quantiles(self, horizon: int, levels) -> np.ndarray:
        """Quantiles (levels x horizon) in levels of the distribution :meth:`simulate` draws from, in closed form:
        log sales at h are normal, median ``predict_log`` and sd k sd_h (the AR(1) error process is Gaussian)."""
        z = np.array([NormalDist().inv_cdf(p) for p in levels])[:, None]
        spread = self.spread_scale_ * error_sd(self.phi_, self.sigma_, horizon)[None, :]
        return np.exp(self.predict_log(horizon)[None, :] + z * spread)

    def simulate(self, horizon: int, n_paths: int, seed: int) -> np.ndarray:
        """Paths (n_paths, horizon) in levels: the median times exp(k a_h), a the AR(1) error process."""
        errors = error_paths(self.phi_, self.sigma_, horizon, n_paths, seed)
        return np.exp(self.predict_log(horizon) + self.spread_scale_ * errors)
