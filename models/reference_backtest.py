"""Does the reference-class model forecast launches it has not seen? Family hold-out backtests and benchmarks.

pre_launch   each family in turn is held out: the model is fitted on the other families and forecasts each held-out
             launch's whole path from its covariates alone (the kei case: nothing of its own is known)
post_launch  a launch with at least six full years: fitted without its family, then conditioned on its first k
             years (k = 3 .. n - 3) and scored on the rest

Benchmarks, scored the same way (models.adoption_backtest.score):

    naive            pre-launch: the other families' pooled log share (each family weighs the same), flat, its spread
                     the pooled sd; post-launch: the last year carried forward, a random walk in logs
    reference_class  pre-launch only: the reference class's empirical outcome distribution, no model: each draw is
                     another launch's own share by year since launch (interpolated in logs between its years, held
                     flat beyond them), launches drawn with every family weighing the same

Each case also has ``interval_ratio_80``: the median over its hold-out years of P90 / P10, the sharpness beside the
calibration (Gneiting, Balabdaoui & Raftery 2007, "sharpness subject to calibration").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import reference_class as rc
from models.adoption_backtest import COLUMNS as ADOPTION_COLUMNS
from models.adoption_backtest import naive_post_launch, paths, score
from models.adoption_backtest import summarise as adoption_summary

DRAWS = 2000
MIN_POST_LAUNCH_YEARS = 6
# the adoption backtests' columns with the case's family and its sharpness
COLUMNS = ["series", "family", *ADOPTION_COLUMNS[1:-1], "interval_ratio_80", "holdout_years"]


def interval_ratio(samples: np.ndarray) -> float:
    """Median over years (columns) of P90 / P10 of a positive sample (draws, years)."""
    low, high = np.quantile(samples, [0.1, 0.9], axis=0)
    return float(np.median(high / low))


def centred_coverage(log_errors: np.ndarray, ratio: float) -> float:
    """The share of years a band of P90/P10 ``ratio`` centred on each year's median would cover, from the log
    errors ln(actual / median): |error| < ln(ratio) / 2."""
    return float(np.mean(np.abs(log_errors) < np.log(ratio) / 2))


def sharpness_floor(log_errors: np.ndarray, coverage: float) -> float:
    """The P90/P10 of the narrowest band centred on the medians that covers ``coverage`` of the years: no band
    sharper than this is calibrated unless the medians come closer to the actuals. With log errors N(0, s^2) and
    coverage 0.8 it is exp(2 z_0.9 s), the P90/P10 of a calibrated lognormal band."""
    return float(np.exp(2 * np.quantile(np.abs(log_errors), coverage)))


def scored(samples: np.ndarray, actual: np.ndarray, point: np.ndarray | None = None) -> dict:
    return {**score(samples, actual, point), "interval_ratio_80": interval_ratio(samples)}


def _family_weights(others: pd.DataFrame) -> pd.Series:
    """Each launch's weight when every family weighs the same (launch -> weight, summing to one)."""
    launches = others.drop_duplicates("launch").set_index("launch").family
    return 1.0 / launches.map(launches.value_counts()) / launches.nunique()


def reference_benchmark(others: pd.DataFrame, t: np.ndarray, market: np.ndarray, rng, draws: int = DRAWS):
    """(point, samples): other launches' own paths at years on sale ``t``, drawn family-weighted; the point
    forecast is the weighted median path."""
    weights = _family_weights(others)
    curves = np.array(
        [np.interp(t, part.t, part.log_share) for _, part in others.groupby("launch", sort=False)]
    )  # launches in order of first appearance, as weights' index
    chosen = rng.choice(len(weights), size=draws, p=weights.to_numpy())
    samples = np.exp(curves[chosen]) * market
    return np.median(samples, axis=0), samples


def naive_pre_launch(others: pd.DataFrame, t: np.ndarray, market: np.ndarray, rng, draws: int = DRAWS):
    """(point, samples): the pooled log share of the other families, flat over ``t``, with the pooled spread."""
    weight = others.launch.map(_family_weights(others)) / others.groupby("launch").t.transform("size")
    mean = float(np.average(others.log_share, weights=weight))
    sd = float(np.sqrt(np.average((others.log_share - mean) ** 2, weights=weight)))
    levels = mean + sd * rng.standard_normal((draws, 1))
    return np.exp(mean) * market, np.exp(levels) * market[None, :]


def _launch_values(rows: pd.DataFrame) -> dict[str, float]:
    return {c: float(rows[c].iloc[0]) for c in rc.LAUNCH_KEYS}


def pre_launch_cases(rows: pd.DataFrame, family: str, fit: rc.ReferenceFit, rng, bands: list | None = None):
    """Every launch of ``family`` forecast from its covariates by ``fit`` (fitted without the family)."""
    others, out = rows[rows.family != family], []
    for launch, part in rows[rows.family == family].groupby("launch"):
        t, market, actual = (part[c].to_numpy(float) for c in ("t", "market_units", "units"))
        mean, cov = rc.predictive(fit, _launch_values(part), t)
        samples = np.exp(rc.sample(mean, cov, rng, DRAWS)) * market
        if bands is not None:
            bands.append(paths(launch, "pre_launch", None, part.year.to_numpy(), actual, samples).assign(family=family))
        base = {"series": launch, "family": family, "mode": "pre_launch", "fit_years": None}
        out.append({**base, "model": "chain", **scored(samples, actual)})
        point, naive = naive_pre_launch(others, t, market, rng)
        out.append({**base, "model": "naive", **scored(naive, actual, point)})
        point, reference = reference_benchmark(others, t, market, rng)
        out.append({**base, "model": "reference_class", **scored(reference, actual, point)})
    return out


def post_launch_cases(rows: pd.DataFrame, family: str, fit: rc.ReferenceFit, rng, bands: list | None = None):
    """Each launch of ``family`` with enough full years, conditioned on its first k and scored on the rest."""
    out = []
    for launch, part in rows[rows.family == family].groupby("launch"):
        t, market, actual, y = (part[c].to_numpy(float) for c in ("t", "market_units", "units", "log_share"))
        for k in range(3, len(t) - 2) if len(t) >= MIN_POST_LAUNCH_YEARS else ():
            mean, cov = rc.conditioned(fit, _launch_values(part), t[:k], y[:k], t[k:])
            samples = np.exp(rc.sample(mean, cov, rng, DRAWS)) * market[k:]
            if bands is not None:
                bands.append(paths(launch, "post_launch", k, part.year.to_numpy()[k:], actual[k:], samples))
            base = {"series": launch, "family": family, "mode": "post_launch", "fit_years": k}
            out.append({**base, "model": "chain", **scored(samples, actual[k:])})
            point, naive = naive_post_launch(actual[:k], t[k:] - t[k - 1], rng, DRAWS)
            out.append({**base, "model": "naive", **scored(naive, actual[k:], point)})
    return out


def backtest(rows: pd.DataFrame, shape: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every family held out in turn: (cases with COLUMNS, the chain's yearly bands)."""
    cases, bands = [], []
    for index, family in enumerate(sorted(rows.family.unique())):
        fit = rc.fit(rows[rows.family != family], shape)
        rng = np.random.default_rng([seed, index])
        cases += pre_launch_cases(rows, family, fit, rng, bands)
        cases += post_launch_cases(rows, family, fit, rng, bands)
    return pd.DataFrame(cases, columns=COLUMNS), pd.concat(bands, ignore_index=True)


def summarise(cases: pd.DataFrame) -> pd.DataFrame:
    """models.adoption_backtest.summarise (per mode and model: cases, median abs % error, CRPS, pooled 80% coverage)
    with the families the cases come from and their median interval ratio."""
    extra = cases.groupby(["mode", "model"]).agg(
        families=("family", "nunique"), interval_ratio_80=("interval_ratio_80", "median")
    )
    return adoption_summary(cases).merge(extra.reset_index(), on=["mode", "model"])
