"""Bass calibration on the US analog series, and the refinement of the adoption assumptions it yields."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keicast.config import AssumptionOverride
from keicast.evidence import Register, series
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
