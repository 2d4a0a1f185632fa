"""Calibration on US analogs: Bass fits (adoption) and the class-share fit (the US anchor), and the refinements
of the register's assumptions they yield."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keicast.config import AssumptionOverride
from keicast.errors import ConfigError, Problem
from keicast.evidence import TABLES_DIR as TABLES
from keicast.evidence import Register, series
from models.class_share import ClassShareFit, leave_one_analog_out
from models.diffusion import BassFit

FIT_COLUMNS = [
    "series",
    "form",
    "p",
    "q",
    "m",
    "se_p",
    "se_q",
    "se_m",
    "rse",
    "df",
    "r2",
    "aic",
    "converged",
    "at_bound",
    "used",
    "n",
]


def calibrate_analogs(history: pd.DataFrame, analogs: list[str], form: str, used: list[str]):
    """Fit a Bass model to each analog series (years since its first year + 1 as time).

    Returns the fit table (one row per series) and the fitted curves (series, year, observed, fitted).
    """
    fits, curves = [], []
    for name in analogs:
        y = series(history, name)
        t = (y.index.to_numpy() - y.index.min() + 1).astype(float)
        fit = BassFit(form).fit(y.to_numpy(), t)
        fits.append(
            (
                name,
                form,
                fit.p_,
                fit.q_,
                fit.m_,
                fit.se_["p"],
                fit.se_["q"],
                fit.se_["m"],
                fit.rse_,
                fit.df_,
                fit.r2_,
                fit.aic_,
                fit.converged_,
                ",".join(fit.at_bound_),
                name in used,
                fit.n_,
            )
        )
        curves.append(
            pd.DataFrame({"series": name, "year": y.index.astype(int), "observed": y.to_numpy(), "fitted": fit.fitted_})
        )
    return pd.DataFrame(fits, columns=FIT_COLUMNS), pd.concat(curves, ignore_index=True)


def adoption_refinements(fits: pd.DataFrame, register: Register) -> tuple[AssumptionOverride, ...]:
    """Replace the literature p and q with the mean of the used fits; widen the range to cover both.

    The range runs from the smaller to the larger of the literature bound and the fits' estimate -/+ 2 SE,
    so calibration narrows nothing the literature allows.
    """
    used = fits[fits.used]
    if used.empty:
        return ()
    out = []
    for param in ("p", "q"):
        entry = register.assumptions[f"adoption.bass_{param}"]
        value = float(used[param].mean())
        low = float(min(entry.range_low, (used[param] - 2 * used[f"se_{param}"]).min()))
        high = float(max(entry.range_high, (used[param] + 2 * used[f"se_{param}"]).max()))
        low = max(low, 1e-4)
        names = ", ".join(f"data/reference/{s}.csv" for s in used.series)
        out.append(
            AssumptionOverride(
                key=f"adoption.bass_{param}",
                value=value,
                low=min(low, value),
                high=max(high, value),
                scenario="*",
                origin="calibration",
                rationale=f"Bass NLS fit ({used.form.iloc[0]}) to {names}: {param} = "
                f"{np.round(used[param].to_numpy(), 4).tolist()}; range covers the literature's "
                f"[{entry.range_low}, {entry.range_high}] and the fits +/- 2 SE.",
            )
        )
    return tuple(out)


ANALOG_TABLE = "us_small_car_analogs"
NAIVE_ANALOG = "smart_fortwo"  # the single analog the class constant was calibrated on before (the naive anchor)
PERT_SD_SPAN = float(np.sqrt(7.0))  # a symmetric PERT (lambda 4) on mean -/+ sqrt(7) sd has standard deviation sd


def _pert_moments(low: float, mode: float, high: float) -> tuple[float, float]:
    mean = (low + 4 * mode + high) / 6
    return mean, float(np.sqrt(max((mean - low) * (high - mean), 0.0) / 7))


def analog_points(tables: dict[str, pd.DataFrame], history: pd.DataFrame, market_series: str) -> pd.DataFrame:
    """The analog table with each point's share of US new-vehicle sales and its price ratio."""
    points = tables[ANALOG_TABLE].copy()
    market = series(history, market_series)
    missing = sorted(set(points.year) - set(market.index))
    if missing:
        raise ConfigError([Problem(f"{TABLES}/{ANALOG_TABLE}.csv", "year", missing, f"years of {market_series}")])
    share = points.units / points.year.map(market)
    return points.assign(share=share, price_ratio=points.base_price_usd / points.avg_price_usd)


def fit_class_share(points: pd.DataFrame, register: Register) -> ClassShareFit:
    """ClassShareFit with the register's elasticity as prior and the FMVSS addressable share as the analogs'."""
    e = register.assumptions["demand.price_elasticity"]
    mean, sd = _pert_moments(e.range_low, e.value, e.range_high)
    try:
        return ClassShareFit(mean, sd, register.assumptions["access.fmvss.addressable_share"].value).fit(points)
    except ValueError as exc:
        raise ConfigError([Problem(f"{TABLES}/{ANALOG_TABLE}.csv", "share", len(points), str(exc))]) from None


def class_share_refinements(fit: ClassShareFit, register: Register) -> tuple[AssumptionOverride, ...]:
    """The US anchor from the analog fit; the elasticity too when the analogs carry price information."""
    source = f"data/reference/{TABLES}/{ANALOG_TABLE}.csv"
    spread = PERT_SD_SPAN * fit.predictive_sd_
    out = [
        AssumptionOverride(
            "analog.us_class_utility",
            fit.utility_,
            fit.utility_ - spread,
            fit.utility_ + spread,
            "*",
            "calibration",
            f"ClassShareFit on {source} ({fit.analogs_} analogs, {len(fit.points_)} points): U_a = "
            f"{fit.utility_:.3f} at r_a = {fit.price_ratio_:.3f}, predictive sd {fit.predictive_sd_:.3f} "
            f"(between-analog sd {fit.between_sd_:.3f}); range U_a -/+ sqrt(7) sd.",
        ),
        AssumptionOverride(
            "analog.us_price_ratio", fit.price_ratio_, None, None, "*", "calibration", f"Mean price ratio of {source}."
        ),
    ]
    if fit.informative_:
        e = register.assumptions["demand.price_elasticity"]
        half = PERT_SD_SPAN * fit.beta_sd_
        out.append(
            AssumptionOverride(
                "demand.price_elasticity",
                fit.beta_,
                fit.beta_ - half,
                min(fit.beta_ + half, -1e-3),
                "*",
                "calibration",
                f"Literature prior [{e.range_low}, {e.range_high}] updated by the within-analog estimate "
                f"{fit.beta_within_:.2f} (SE {fit.beta_within_se_:.2f}) from {source}.",
            )
        )
    return tuple(out)


def class_share_tables(fit: ClassShareFit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fit's summary (one row, with its leave-one-analog-out backtest) and its analog points."""
    backtest = leave_one_analog_out(fit, NAIVE_ANALOG)
    error = (backtest.observed - backtest.predicted).abs()
    versus_naive = backtest.naive.notna()
    summary = pd.DataFrame(
        [
            {
                "beta_prior": fit.prior_mean,
                "beta_prior_sd": fit.prior_sd,
                "beta_within": fit.beta_within_,
                "beta_within_se": fit.beta_within_se_,
                "beta": fit.beta_,
                "beta_sd": fit.beta_sd_,
                "pooled_slope": fit.pooled_slope_,
                "utility": fit.utility_,
                "price_ratio": fit.price_ratio_,
                "between_sd": fit.between_sd_,
                "predictive_sd": fit.predictive_sd_,
                "addressable": fit.addressable,
                "analogs": fit.analogs_,
                "points": len(fit.points_),
                "loo_mae": float(error.mean()),
                "loo_mae_vs_naive": float(error[versus_naive].mean()),
                "naive_mae": float((backtest.observed - backtest.naive)[versus_naive].abs().mean()),
                "coverage_80": float(backtest.inside_80.mean()),
            }
        ]
    )
    table = fit.points_[["analog", "year", "units", "share", "price_ratio", "y", "level", "fitted"]].rename(
        columns={"y": "utility"}
    )
    table = table.reset_index(drop=True).assign(
        loo_predicted=backtest.predicted.to_numpy(),
        loo_sd=backtest.sd.to_numpy(),
        inside_80=backtest.inside_80.to_numpy(),
        naive_predicted=backtest.naive.to_numpy(),
    )
    return summary, table


def refinements(fits: pd.DataFrame, class_fit: ClassShareFit, register: Register) -> tuple[AssumptionOverride, ...]:
    """Every calibration refinement of the register: adoption (Bass fits) and the class-share anchors."""
    return adoption_refinements(fits, register) + class_share_refinements(class_fit, register)
