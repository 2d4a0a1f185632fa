"""Calibration on US analogs, and the refinements of the register's assumptions it yields.

The adoption path: a hierarchical fit across US launches (cached on disk), its assumption rows and Monte Carlo
draws, and the analog-launch backtests. A fit is cached under ``calibration.cache_dir`` as Parquet draws plus a
JSON of diagnostics, in a folder named by the SHA-256 of everything it depends on: the analog data, the shape, the
sampler settings, the priors, the code of the models it runs and the NumPyro version. Change any of them and the
fit is redone.

The class share: the fit on the US small-car analogs (the US anchor of models.class_share).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from keicast.cache import cached_frames, digest
from keicast.config import AssumptionOverride, CalibrationSettings
from keicast.errors import ConfigError, Problem
from keicast.formatting import count, number
from keicast.history import TABLES_DIR as TABLES
from keicast.history import series
from keicast.register import Register
from models import adoption, adoption_backtest, diffusion, montecarlo
from models.adoption import AnalogPanel, HierarchicalAdoption
from models.class_share import ClassShareFit, leave_one_analog_out
from models.scenario import Posterior, Range, ScenarioSpec

# the adoption fit's hyper-prior centres in words, for its rationale and the report
HYPER_PRIORS = f"p = {number(adoption.LITERATURE_P)}, q = {number(adoption.LITERATURE_Q)}"

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
# Assumption key <- posterior column; the Monte Carlo draws these jointly.
POSTERIOR_KEYS = {
    "adoption.bass_p": "p",
    "adoption.bass_q": "q",
    "adoption.trend": "trend",
    "adoption.noise_sd": "sigma",
    "adoption.noise_ar": "phi",
}


@dataclass(frozen=True)
class AdoptionFit:
    """A hierarchical fit's draws: ``population`` (a new analog), ``analogs`` (each analog's), diagnostics."""

    shape: str
    population: pd.DataFrame
    analogs: pd.DataFrame
    diagnostics: dict

    @property
    def converged(self) -> bool:
        return adoption.converged(self.diagnostics)


# ---------------------------------------------------------------------------------------------- data
def analog_frame(history: pd.DataFrame, names: list[str], market_series: str) -> pd.DataFrame:
    """Long frame (series, year, t, sales, market) of analog sales with the US market of the same year.

    ``t`` counts years since launch (the first year of the series = 1). A year the source marks as partial
    (a launch late in the year) keeps the launch's place but is left out: it is never fitted or scored as a
    full year.
    """
    market = history[history.series == market_series].set_index("year").value
    frames = []
    for name in names:
        part = history[history.series == name]
        if part.empty:
            raise ConfigError([Problem("config.yaml", "calibration.analogs", name, "a series in data/reference")])
        missing = sorted(set(part.year) - set(market.index))
        if missing:
            raise ConfigError([Problem(name, "year", missing, f"years covered by {market_series}")])
        full = part[~part.partial.eq(True)] if "partial" in part else part
        frames.append(
            pd.DataFrame(
                {
                    "series": name,
                    "year": full.year.to_numpy(),
                    "t": (full.year - part.year.min() + 1).to_numpy(float),
                    "sales": full.value.to_numpy(float),
                    "market": market.loc[full.year].to_numpy(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["series", "year"], kind="stable", ignore_index=True)


def _code_digest(*modules) -> str:
    """The code a cached fit ran and the sampler's version (read from its metadata: importing it takes ~1 s)."""
    return digest(*(inspect.getsource(m) for m in (adoption, diffusion, *modules)), version("numpyro"))


def _sampler(cal: CalibrationSettings) -> str:
    return json.dumps({k: getattr(cal, k) for k in ("warmup", "samples", "chains", "seed")})


# The reference class's settings (keicast.reference_class): not read by the analog fits, so not in their cache keys.
REFERENCE_SETTINGS = ("model", "reference_shape", "reference_left_out", "reference_draws")
DIAGNOSTIC_COLUMNS = ["fit", "shape", "left_out", "seed", "max_rhat", "min_ess", "divergences", "mean_steps",
                      "worst_parameter", "converged"]  # fmt: skip


def _compilation_cache(cache_dir: Path) -> None:
    """JAX keeps compiled samplers under the cache too: a fit on new data skips most of the compile."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(Path(cache_dir).resolve() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    # a size bound turns on JAX's file lock around the cache's reads and writes, which are not atomic: two
    # processes (two runs, or test workers) sharing the cache never read an entry half-written
    jax.config.update("jax_compilation_cache_max_size", 4 * 1024**3)


def fit_adoption(
    frame: pd.DataFrame, names: list[str], cal: CalibrationSettings, shape: str | None = None, leave_out=()
):
    """The hierarchical fit on the analogs ``names`` of ``frame``, from the cache if there.

    ``leave_out`` analogs are masked: they stay in the panel (so one compiled sampler serves every fit) but
    their data are not seen, so their parameters follow the population.
    """
    shape = shape or cal.shape
    panel = AnalogPanel.from_long(frame, names)
    for name in leave_out:
        panel = panel.without(name)
    data = frame[frame.series.isin(names)].to_csv(index=False)
    parts = (data, ",".join(names), ",".join(sorted(leave_out)), shape, _sampler(cal), _code_digest())
    key = "adoption-" + digest(*parts)[:24]

    def compute():
        _compilation_cache(cal.cache_dir)
        model = HierarchicalAdoption(shape, warmup=cal.warmup, samples=cal.samples, chains=cal.chains, seed=cal.seed)
        model.fit(panel)
        return {
            "population": model.population_,
            "analogs": model.analogs_,
            "diagnostics": pd.DataFrame([model.diagnostics_]),
        }

    frames = cached_frames(cal.cache_dir, key, compute, ("population", "analogs", "diagnostics"))
    diagnostics = {k: v.item() if hasattr(v, "item") else v for k, v in frames["diagnostics"].iloc[0].items()}
    diagnostics |= {"shape": shape, "left_out": ",".join(sorted(leave_out)), "seed": cal.seed}
    return AdoptionFit(shape, frames["population"], frames["analogs"], diagnostics)


def diagnostics_row(fit: AdoptionFit, name: str) -> dict:
    """One row of the fit_diagnostics table: which fit, its sampler diagnostics and the convergence verdict."""
    return {"fit": name, **{k: fit.diagnostics.get(k) for k in DIAGNOSTIC_COLUMNS[1:-1]}, "converged": fit.converged}


# ---------------------------------------------------------------------------------------------- calibration
def _median_path(draws: pd.DataFrame, shape: str, t: np.ndarray, market: np.ndarray) -> np.ndarray:
    col = lambda name: draws[name].to_numpy()[:, None]  # noqa: E731
    path = diffusion.adoption_path(t[None, :], col("p"), col("q"), col("trend"), shape)
    return np.median(np.exp(col("log_share")) * path, axis=0) * market


def calibration_table(fit: AdoptionFit, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per analog: posterior medians (sd) of p, q and the long-run share m; the fitted median path per year.

    ``rse`` holds the median deviation sd (in logs), ``r2`` the share of ln(sales) variance the median path
    explains; ``converged`` is the joint fit's (models.adoption.converged).
    """
    rows, curves = [], []
    extra = 1 if fit.shape in ("bass_decline", "gbm_potential") else 0
    for name, draws in fit.analogs.groupby("series", sort=False):
        part = frame[frame.series == name]
        t = part.t.to_numpy(float)
        fitted = _median_path(draws, fit.shape, t, part.market.to_numpy())
        logs = np.log(part.sales.to_numpy())
        sst = float(np.sum((logs - logs.mean()) ** 2))
        share = np.exp(draws.log_share)
        rows.append(
            {
                "series": name,
                "form": fit.shape,
                "p": draws.p.median(),
                "q": draws.q.median(),
                "m": share.median(),
                "se_p": draws.p.std(),
                "se_q": draws.q.std(),
                "se_m": share.std(),
                "rse": draws.sigma.median(),
                "df": len(part) - 4 - extra,
                "r2": 1 - float(np.sum((logs - np.log(fitted)) ** 2)) / sst if sst > 0 else np.nan,
                "aic": np.nan,
                "converged": fit.converged,
                "at_bound": "",
                "used": True,
                "n": len(part),
            }
        )
        curves.append(pd.DataFrame({"series": name, "year": part.year, "observed": part.sales, "fitted": fitted}))
    return pd.DataFrame(rows, columns=FIT_COLUMNS), pd.concat(curves, ignore_index=True)


def adoption_refinements(fit: AdoptionFit, register: Register) -> tuple[AssumptionOverride, ...]:
    """The adoption keys at their population posterior: median, with the P05-P95 interval as the range.

    The Monte Carlo draws these keys jointly from :func:`adoption_draws`; the rows say so and keep the ranges
    for the report and the tornado.
    """
    population = fit.population
    out = []
    for key, column in POSTERIOR_KEYS.items():
        draws = population[column].to_numpy()
        low, value, high = np.quantile(draws, [0.05, 0.5, 0.95])
        out.append(
            AssumptionOverride(
                key=key,
                value=float(value),
                low=float(low),
                high=float(high),
                scenario="*",
                origin="calibration",
                rationale=f"Hierarchical Bayesian fit ({fit.shape}) to {len(fit.analogs.series.unique())} US analogs "
                f"({', '.join(fit.analogs.series.unique())}), hyper-priors {HYPER_PRIORS} (Sultan, Farley & "
                f"Lehmann 1990): median and P05-P95 of a new analog; the Monte Carlo draws {count(len(population))} "
                f"posterior rows jointly. Register: {register.assumptions[key].provenance()[:160]}",
            )
        )
    return tuple(out)


def adoption_draws(fit: AdoptionFit, keys: list[str] | None = None) -> pd.DataFrame:
    """Posterior rows as a table of assumption keys (``keys`` restricts the columns) for the Monte Carlo."""
    keys = list(POSTERIOR_KEYS) if keys is None else [k for k in keys if k in POSTERIOR_KEYS]
    return pd.DataFrame({key: fit.population[POSTERIOR_KEYS[key]].to_numpy(float) for key in keys})


PARAMETER_COLUMNS = ["parameter", "distribution", "p05", "p25", "p50", "p75", "p95"]


def adoption_parameters(fit: AdoptionFit, cal: CalibrationSettings) -> pd.DataFrame:
    """Quantiles of a new analog's parameters under the hyper-priors alone and under the posterior."""
    prior = adoption.prior_population(fit.shape, adoption.Priors(), 4000, cal.seed)
    rows = []
    for distribution, draws in (("prior", prior), ("posterior", fit.population)):
        for key, column in POSTERIOR_KEYS.items():
            quantiles = np.quantile(draws[column], [0.05, 0.25, 0.5, 0.75, 0.95])
            rows.append([key, distribution, *quantiles])
    return pd.DataFrame(rows, columns=PARAMETER_COLUMNS)


# ---------------------------------------------------------------------------------------------- backtests
def _family(name: str, cal: CalibrationSettings) -> set[str]:
    return {name}.union(*(set(f) for f in cal.families if name in f))


def backtest_adoption(
    frame: pd.DataFrame, cal: CalibrationSettings, shape: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Post- and pre-launch backtests of every series in ``frame`` (analogs, backtest_also and analysts' own).

    Each series is forecast from a fit on the analogs outside its family, so nothing it contains is known.
    Returns the cases (adoption_backtest.COLUMNS), the chain's yearly bands (PATH_COLUMNS) and the diagnostics
    of every fit they used (DIAGNOSTIC_COLUMNS); cached like fits.
    """
    shape = shape or cal.shape
    names = list(dict.fromkeys(frame.series))
    settings = json.dumps(
        cal.model_dump(mode="json", exclude={"shape", "compare_shapes", "cache_dir", *REFERENCE_SETTINGS})
    )
    key = "backtest-" + digest(frame.to_csv(index=False), settings, shape, _code_digest(adoption_backtest))[:24]

    def compute():
        rows, bands, fits = [], [], {}
        for name in names:
            keep = [a for a in cal.analogs if a not in _family(name, cal)]
            left_out = sorted(_family(name, cal) & set(cal.analogs))
            fit = fit_adoption(frame, cal.analogs, cal, shape, leave_out=left_out)
            fits[",".join(left_out)] = diagnostics_row(fit, "backtest")
            rng = np.random.default_rng([cal.seed, int(digest(name)[:8], 16)])
            series = frame[frame.series == name].sort_values("year")
            others = frame[frame.series.isin(keep)].assign(share=lambda f: f.sales / f.market)
            rows += adoption_backtest.post_launch_cases(name, series, fit.population, shape, rng, bands)
            rows += adoption_backtest.pre_launch_case(name, series, fit.population, shape, others, rng, bands)
        return {
            "cases": pd.DataFrame(rows, columns=adoption_backtest.COLUMNS),
            "bands": pd.concat(bands),
            "fits": pd.DataFrame(list(fits.values()), columns=DIAGNOSTIC_COLUMNS),
        }

    frames = cached_frames(cal.cache_dir, key, compute, ("cases", "bands", "fits"))
    cases = frames["cases"].astype({"fit_years": "Int64", "holdout_years": int})
    return cases, frames["bands"].astype({"fit_years": "Int64"}), frames["fits"]


# ---------------------------------------------------------------------------------------------- replay
def replay_smart(
    fit: AdoptionFit, table: pd.DataFrame, tables: dict[str, pd.DataFrame], history: pd.DataFrame, market_series: str,
    draws: int = 20_000,
) -> pd.DataFrame:  # fmt: skip
    """The Smart ForTwo's 2008-2014 US sales replayed through the scenario kernel (new kei sales by year).

    ``table`` is an FMVSS scenario's assumption rows (after calibration). The replay launches for certain in 2008,
    domestic, FMVSS access, at the Smart's own 2008 price ratio to the average car (no compliance cost, tariff or
    price trend), with no Japanese weight (w = 0: the US analogs' anchor alone), over the actual US market, and
    draws the adoption posterior as the Monte Carlo does. Only the new-kei layer is read.
    """
    rows = table.set_index("key")
    ranges = {key: Range(float(r.low), float(r.value), float(r.high)) for key, r in rows.iterrows()}
    points = analog_points(tables, history, market_series)
    ratio = float(points[points.analog == NAIVE_ANALOG].sort_values("year").price_ratio.iloc[0])
    avg = ranges["market.avg_new_vehicle_price"].base
    fixed = {
        "market.avg_new_vehicle_price": avg,
        "kei.target_price": ratio * avg,
        "access.fmvss.compliance_cost": 0.0,
        "kei.real_price_trend": 0.0,
        "access.fmvss.japan_gap_closed": 0.0,
        "launch.fmvss_domestic.no_launch_probability": 0.0,
        "launch.fmvss_domestic.delay_years": 0.0,
    }
    ranges.update({k: Range(v, v, v) for k, v in fixed.items()})
    draws_table = adoption_draws(fit)
    posterior = Posterior("adoption.posterior", {k: draws_table[k].to_numpy(float) for k in draws_table.columns})
    spec = ScenarioSpec("smart_replay", 2008, False, "fmvss", ranges, (posterior,), fit.shape)
    years = np.arange(2008, 2015)
    market = history[history.series == market_series].set_index("year").value.loc[years].to_numpy(float)
    return montecarlo.monte_carlo(spec, market[None, :], years, draws, seed=2008, chunk_size=draws)


ANALOG_TABLE = "us_small_car_analogs"
NAIVE_ANALOG = "smart_fortwo"  # the single analog the class constant was calibrated on before (the naive anchor)
PERT_SD_SPAN = float(np.sqrt(7.0))  # a symmetric PERT (lambda 4) on mean -/+ sqrt(7) sd has standard deviation sd


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
    mean, sd = montecarlo.pert_moments(e.range_low, e.value, e.range_high)
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
            f"{number(fit.utility_)} at r_a = {number(fit.price_ratio_)}, predictive sd {number(fit.predictive_sd_)} "
            f"(between-analog sd {number(fit.between_sd_)}); range U_a -/+ sqrt(7) sd.",
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
                f"{number(fit.beta_within_)} (SE {number(fit.beta_within_se_)}) from {source}.",
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


def refinements(fit: AdoptionFit, class_fit: ClassShareFit, register: Register) -> tuple[AssumptionOverride, ...]:
    """Every calibration refinement of the register: the adoption posterior and the class-share anchors."""
    return adoption_refinements(fit, register) + class_share_refinements(class_fit, register)
