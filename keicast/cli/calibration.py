"""Commands on the adoption model: calibrate on the analogs, backtest the baseline and the adoption chain."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from keicast.cli.options import (
    BassForm,
    ConfigOpt,
    Format,
    FormatOpt,
)
from keicast.cli.output import emit, out
from keicast.cli.process import guarded
from keicast.errors import ConfigError, FitNotConverged, InputError, Problem


@guarded
def calibrate(
    series_csv: Annotated[
        Path,
        typer.Argument(metavar="SERIES.csv", help="CSV of adoptions per period: 'year,value' or one value column."),
    ],
    form: Annotated[
        BassForm, typer.Option("--form", help="pdf: m f(t); increments: m [F(t) - F(t-1)].")
    ] = BassForm.increments,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fit a Bass model to an adoption series by nonlinear least squares; exit 3 if the fit did not converge."""
    from keicast.formatting import number
    from models.diffusion import BassFit

    t, y = _read_adoptions(series_csv)
    try:
        fit = BassFit(form.value).fit(y, t)
    except (ValueError, RuntimeError) as exc:
        raise InputError([Problem(str(series_csv), "", f"{len(y)} values", str(exc))]) from None
    rows = pd.DataFrame(
        {
            "parameter": ["p", "q", "m"],
            "estimate": [fit.p_, fit.q_, fit.m_],
            "std_error": [fit.se_["p"], fit.se_["q"], fit.se_["m"]],
        }
    )
    stats = {
        "form": form.value,
        "n": fit.n_,
        "df": fit.df_,
        "residual_standard_error": fit.rse_,
        "ssr": fit.ssr_,
        "r_squared": fit.r2_,
        "aic": fit.aic_,
        "converged": fit.converged_,
        "at_bound": fit.at_bound_,
    }
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"parameters": rows.to_dict("records"), **stats}, indent=2) + "\n")
    elif fmt is Format.csv:
        sys.stdout.write(rows.to_csv(index=False))
    else:
        emit(rows, fmt, f"Bass fit ({form.value}) to {series_csv}")
        out.print(
            f"Residual standard error: {number(fit.rse_)} on {fit.df_} degrees of freedom; "
            f"R² = {number(fit.r2_)}; AIC = {number(fit.aic_)}; converged: {fit.converged_}"
            + (f" (on bound: {', '.join(fit.at_bound_)})" if fit.at_bound_ else "")
        )
    _refuse_unconverged(fit, series_csv)


def _refuse_unconverged(fit, source: Path) -> None:
    """FitNotConverged (exit 3) for a Bass fit that did not converge, after its table has been printed."""
    if not fit.converged_:
        why = f"{', '.join(fit.at_bound_)} on a search bound" if fit.at_bound_ else "standard errors not finite"
        advice = (
            "a series still growing does not yet show its peak, which fixes p and m: add the years past the peak, "
            "or backtest it against the pooled analog fit with `keicast backtest --adoption --series FILE`"
        )
        raise FitNotConverged(str(source), why, advice)


def _read_adoptions(path: Path) -> tuple[np.ndarray | None, np.ndarray]:
    """Periods (years as 1, 2, ... from the first, gaps kept; None without a year column) and adoptions."""
    from keicast.adoption_series import read_adoption_series

    series = read_adoption_series(path)
    t = None if series.years is None else (series.years - series.years.min() + 1).astype(float)
    return t, series.values


@guarded
def backtest(
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
    adoption: Annotated[
        bool,
        typer.Option(
            "--adoption",
            help="Backtest the new-kei forecast instead: the reference class's family hold-outs on past launches "
            "(the analog chain on past US launches with --series or an analog --shape).",
        ),
    ] = False,
    series_csv: Annotated[
        list[Path] | None,
        typer.Option(
            "--series",
            metavar="FILE.csv",
            help="With --adoption: an analog of your own, 'year,value' CSV (repeatable).",
        ),
    ] = None,
    shape: Annotated[
        str | None,
        typer.Option(
            "--shape",
            metavar="SHAPE",
            help="With --adoption: the shape to test (a reference-class shape, or an analog adoption shape).",
        ),
    ] = None,
) -> None:
    """Rolling-origin skill vs naive and interval coverage of the baseline market models, or with --adoption of the
    new-kei forecast on past launches."""
    from keicast import steps
    from keicast.config import load_settings
    from keicast.history import load_history

    settings = load_settings(config)
    history, _ = load_history(settings.run.reference_dir)
    if adoption or series_csv or shape:
        _adoption_backtest(settings, history, series_csv or [], shape, fmt)
        return
    from keicast.report import skill_statement

    cfg = settings.config.baseline
    market = steps.fit_market(history, settings)
    how = "fixed in advance" if cfg.model != "auto" else f"lowest mean MASE over horizons 1-{cfg.max_horizon}"
    chosen = f"selected: {market.model_}, {how}; auto: chosen per origin"
    emit(market.backtests_, fmt, f"rolling-origin backtest of {cfg.series} ({chosen})")
    if fmt is Format.table:
        out.print(skill_statement(market.backtests_, cfg.max_horizon, cfg.model == "auto"))


def _own_analog(path: Path, history: pd.DataFrame, market: str) -> pd.DataFrame:
    """An analyst's analog CSV as history rows (series = file stem): at least 6 years of positive sales, inside
    the market series' years."""
    from keicast.adoption_series import read_adoption_series

    series = read_adoption_series(path, need_years=True)
    name = str(path)
    for line, value in zip(series.lines, series.values, strict=True):
        if value <= 0:
            raise InputError(
                [Problem(name, f"line {line}, value", float(value), "positive sales (an analog has launched)")]
            )
    if len(series.values) < 6:
        raise InputError([Problem(name, "", f"{len(series.values)} years", "at least 6 years to backtest on")])
    years = set(history[history.series == market].year)
    outside = sorted(set(series.years.tolist()) - years)
    if outside:
        raise InputError([Problem(name, "year", outside, f"years covered by {market}")])
    return pd.DataFrame({"series": path.stem, "year": series.years, "value": series.values, "unit": "units"})


def _reference_backtest(settings, shape: str | None, fmt: Format) -> None:
    """The reference class's family hold-out backtests (chain, naive, reference_class) of one shape."""
    from keicast import steps
    from models.reference_backtest import COLUMNS, summarise

    reference = steps.calibrate_reference_class(settings)
    shape = shape or reference.fit.shape
    cases = reference.cases[reference.cases["shape"] == shape]
    if fmt is Format.table:  # the pooled answer first, then the cases behind it
        emit(summarise(cases), fmt, "pooled: median |error| of the hold-out cumulative, CRPS, 80% coverage, P90/P10")
        title = f"reference class ({shape}{', chosen' if shape == reference.fit.shape else ''}): family hold-outs"
        emit(cases[COLUMNS], fmt, title)
    else:
        emit(cases[["shape", *COLUMNS]], fmt)


def _adoption_backtest(settings, history: pd.DataFrame, paths: list[Path], shape: str | None, fmt: Format) -> None:
    from keicast.calibration import analog_frame, backtest_adoption
    from models.adoption_backtest import COLUMNS, summarise
    from models.diffusion import ADOPTION_SHAPES
    from models.reference_class import SHAPES

    cal, market = settings.config.calibration, settings.config.baseline.series
    if shape is not None and shape not in (*ADOPTION_SHAPES, *SHAPES):
        raise ConfigError([Problem("--shape", "", shape, f"one of {', '.join((*SHAPES, *ADOPTION_SHAPES))}")])
    if paths and shape in SHAPES:
        analog = ", ".join(ADOPTION_SHAPES)
        raise ConfigError([Problem("--shape", "", shape, f"with --series, an analog adoption shape: one of {analog}")])
    if not paths and (shape in SHAPES or (shape is None and cal.model == "reference_class")):
        _reference_backtest(settings, shape, fmt)
        return
    own = [_own_analog(p, history, market) for p in paths]
    history = pd.concat([history[~history.series.isin([o.series.iloc[0] for o in own])], *own], ignore_index=True)
    names = [*cal.analogs, *cal.backtest_also, *(o.series.iloc[0] for o in own)]
    cases, _, _ = backtest_adoption(analog_frame(history, names, market), cal, shape)
    if fmt is Format.table:
        emit(summarise(cases), fmt, "pooled: median |error| of the hold-out cumulative, CRPS, 80% coverage")
        emit(cases, fmt, f"adoption chain ({shape or cal.shape}) vs naive on past US launches")
    else:
        emit(cases[COLUMNS], fmt)
