"""Which assumptions drive the headline: tornado swings and Sobol indices on the Monte Carlo's own distributions.

Both analyses work on the uniforms of the Monte Carlo's random inputs (:func:`models.montecarlo.random_inputs`) and
turn them into values with the same transforms (PERT inverse CDF, posterior rows, launch time), so they speak
about exactly the distributions the forecast draws. The headline is cumulative kei sales (grey imports plus new
kei cars) over a window of years, with the market held at its median path.

The adoption path's yearly deviations are one more input, a *group*: the vector of standard normal shocks
e_t = Phi^{-1}(u_t) of the kernel's years (values[ADOPTION_SHOCKS], as the Monte Carlo draws them), one design
column per year, so every analysis runs the Monte Carlo's kernel, deviations included.

    tornado  the mean headline with one input at its P10 or P90 (u = 0.1, 0.9) and every other input drawn from its
             distribution (scrambled Sobol points): E[Y | X_i = q], a one-input-at-a-time swing that, unlike one
             around a single base case, does not vanish when the median case has no launch. The shock group has
             no single P10; it swings by the standardised sum of its shocks, s = sum_t e_t / sqrt(k) ~ N(0, 1),
             at Phi^{-1}(q) (the overall luck of the adoption path), the rest of each shock vector drawn: for
             Gaussian shocks e | s = e - w (w.e) + w s with w = 1 / sqrt(k), exactly E[Y | s = Phi^{-1}(q)]
    Sobol    first-order (S1) and total (ST) indices on the unit hypercube by Saltelli's scheme: matrices A and B
             of N scrambled Sobol points, AB_i = A with input i's columns from B, outputs centred on their mean,
             V = var(f_A, f_B) and
                 S1_i = mean(f_B (f_ABi - f_A)) / V          (Saltelli et al. 2010, *Comput. Phys. Commun.* 181(2))
                 ST_i = mean((f_A - f_ABi)^2) / (2 V)        (Jansen 1999, *Comput. Phys. Commun.* 117)
             with 95% half-widths 1.96 x the standard deviation over bootstrap resamples of the N rows (as SALib,
             Herman & Usher 2017, *JOSS* 2(9)). A group's columns are swapped together, which gives the indices of
             the group as one input (Sobol' 2001, *Math. Comput. Simul.* 55: indices of subsets of inputs; SALib's
             ``groups``). The kernel runs block by block, so N can be large.
    mean     the mean headline over every input (scrambled Sobol points), with the market at its median path and
             at the mean of its paths: new kei sales are linear in the market and the market path is drawn
             independently of the rest, so the latter is the Monte Carlo's own mean headline up to integration
             error, what the forecasts gate compares with the Monte Carlo's (with the standard error of the
             difference, so a run of few draws is not failed for its noise).

A what-if gives the mean headline over all the other inputs' distributions with one assumption fixed (e.g. Japan's
kei share far outside its range, to show the weight the model gives it).

Inputs that only reach cars in use (fleet lifetimes) cannot move the sales headline and are left out of both.

The two can still rank inputs differently for honest reasons: the tornado compares two conditional means, so it
sees first-order effects only and weighs the two tails; ST counts every interaction (the launch input switches the
whole policy layer on or off, so every class-share input acts only in draws where a maker launches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import special

from models.montecarlo import assumption_values, launch_times, pert_ppf, random_inputs
from models.scenario import ADOPTION_SHOCKS, FLEET_PARAMETERS, LAUNCH_TIME, ScenarioSpec, kei_sales_layers

TORNADO_QUANTILES = (0.10, 0.90)
BOOTSTRAP_RESAMPLES = 100
_EDGE = 1e-12  # a design point on the cube's face would be an infinite shock
MEAN_POINTS = 2**16  # points of the mean headline: its error well below the Monte Carlo's at the run's draws


def headline(spec: ScenarioSpec, values: dict, market: np.ndarray, years: np.ndarray, window: tuple[int, int]):
    """Cumulative kei sales (both layers) over ``window`` (inclusive) per draw.

    The kernel runs on the years up to the window's end: through the AR(1) deviations a year's sales depend on
    the shocks of every year since launch, so values[ADOPTION_SHOCKS] has one column per year up to the end.
    """
    upto = years <= window[1]
    market = np.asarray(market, dtype=float)
    layers = kei_sales_layers(spec, values, market[..., upto], years[upto])
    return (layers["grey"] + layers["new"])[:, years[upto] >= window[0]].sum(axis=1)


def sales_inputs(spec: ScenarioSpec) -> list[str]:
    """The Monte Carlo's random inputs that can move kei sales (all but the fleet lifetimes)."""
    fleet = {spec.keys[p] for p in FLEET_PARAMETERS if p in spec.keys}
    return [name for name in random_inputs(spec) if name not in fleet]


def input_columns(spec: ScenarioSpec, years: np.ndarray, window: tuple[int, int]) -> dict[str, int]:
    """Design columns per input: one per sales input and, for a policy, the ADOPTION_SHOCKS group with one per
    kernel year (the years up to the window's end)."""
    columns = dict.fromkeys(sales_inputs(spec), 1)
    if spec.has_policy:
        columns[ADOPTION_SHOCKS] = int(np.sum(years <= window[1]))
    return columns


def kernel_values(spec: ScenarioSpec, uniforms: Mapping[str, np.ndarray]) -> dict[str, np.ndarray | float]:
    """Every value the kernel reads: the Monte Carlo's transforms of the uniforms (inputs left out at their base
    value) and the yearly shocks e = Phi^{-1}(u), (draws, years), from the ADOPTION_SHOCKS group's uniforms."""
    values = assumption_values(spec, {n: u for n, u in uniforms.items() if n != ADOPTION_SHOCKS})
    if ADOPTION_SHOCKS in uniforms:
        u = np.asarray(uniforms[ADOPTION_SHOCKS], dtype=float)
        values[ADOPTION_SHOCKS] = special.ndtri(np.clip(u, _EDGE, 1 - _EDGE)).reshape(len(u), -1)
    return values


def _medians(spec: ScenarioSpec, size: int = 1) -> dict[str, np.ndarray]:
    return {name: np.full(size, 0.5) for name in random_inputs(spec)}


def input_value(spec: ScenarioSpec, name: str, u: float) -> float:
    """The value an input takes at quantile ``u`` (a key's value, the launch time, the shock group's standardised
    sum; NaN for a posterior row)."""
    if name in spec.ranges:
        return float(pert_ppf(np.array([u]), spec.ranges[name])[0])
    if name == LAUNCH_TIME:
        keys = spec.keys
        no_launch = float(np.ravel(assumption_values(spec, _medians(spec))[keys["no_launch"]])[0])  # fixed: a float
        time = float(launch_times(np.array([u]), spec.launch_year, spec.ranges[keys["launch_delay"]], no_launch)[0])
        return time if np.isfinite(time) else float("nan")
    if name == ADOPTION_SHOCKS:
        return float(special.ndtri(u))
    return float("nan")


def _spans(columns: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """Each input's first and past-the-last column in the design."""
    edges = np.cumsum([0, *columns.values()])
    return list(zip(columns, edges[:-1], edges[1:], strict=True))


def design(columns: Mapping[str, int], points: np.ndarray) -> dict[str, np.ndarray]:
    """Each input's uniforms from design points (rows, sum of columns): (rows,) for one column, else (rows, k)."""
    return {n: points[:, lo] if hi - lo == 1 else points[:, lo:hi] for n, lo, hi in _spans(columns)}


def _qmc_uniforms(columns: Mapping[str, int], draws: int, seed: int) -> dict[str, np.ndarray]:
    from scipy.stats import qmc

    if not columns:  # nothing random: the kernel at the base values
        return {}
    return design(columns, qmc.Sobol(d=sum(columns.values()), scramble=True, seed=seed).random(draws))


def _at_quantile(uniforms: dict[str, np.ndarray], name: str, q: float) -> dict[str, np.ndarray]:
    """The uniforms with one input at quantile ``q``; a group conditioned on its standardised sum at Phi^{-1}(q)."""
    u = uniforms[name]
    if u.ndim == 1:
        return {**uniforms, name: np.full(u.shape, q)}
    e = special.ndtri(np.clip(u, _EDGE, 1 - _EDGE))
    w = 1.0 / np.sqrt(u.shape[1])
    return {**uniforms, name: special.ndtr(e + w * (special.ndtri(q) - w * e.sum(axis=1, keepdims=True)))}


def tornado(
    spec: ScenarioSpec,
    market: np.ndarray,
    years: np.ndarray,
    window: tuple[int, int],
    draws: int = 4096,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean headline with each input at its P10 and at its P90, all other inputs over their distributions
    (``draws`` scrambled Sobol points, the same for every input), largest swing first."""
    uniforms = _qmc_uniforms(input_columns(spec, years, window), draws, seed)
    mean = lambda u: float(headline(spec, kernel_values(spec, u), market, years, window).mean())  # noqa: E731
    base = mean(uniforms)
    rows = []
    for name in uniforms:
        lo, hi = (mean(_at_quantile(uniforms, name, q)) for q in TORNADO_QUANTILES)
        low_value, high_value = (input_value(spec, name, q) for q in TORNADO_QUANTILES)
        rows.append((name, low_value, high_value, lo, hi, base, abs(hi - lo)))
    columns = ["key", "low", "high", "headline_at_low", "headline_at_high", "headline_base", "swing"]
    return pd.DataFrame(rows, columns=columns).sort_values("swing", ascending=False, ignore_index=True)


def saltelli_indices(model, columns: Mapping[str, int], base_samples: int, seed: int) -> pd.DataFrame:
    """S1 and ST with bootstrap half-widths of ``model`` (dict of uniforms -> outputs) on the unit hypercube, one
    row per input of ``columns`` (input -> its number of columns; a group's are swapped together)."""
    from scipy.stats import qmc

    k = sum(columns.values())
    points = qmc.Sobol(d=2 * k, scramble=True, seed=seed).random(base_samples)
    a, b = points[:, :k], points[:, k:]
    run = lambda m: np.asarray(model(design(columns, m)), dtype=float)  # noqa: E731
    f_a, f_b = run(a), run(b)
    centre = np.mean(np.r_[f_a, f_b])  # the estimators are shift-invariant; centring cuts the S1 estimator's noise
    f_a, f_b = f_a - centre, f_b - centre
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, base_samples, (BOOTSTRAP_RESAMPLES, base_samples))
    variance = np.var(np.r_[f_a, f_b])
    variances = np.var(np.c_[f_a[resamples], f_b[resamples]], axis=1)
    rows = []
    for name, lo, hi in _spans(columns):
        ab = a.copy()
        ab[:, lo:hi] = b[:, lo:hi]
        f_ab = run(ab) - centre
        first, total = f_b * (f_ab - f_a), 0.5 * (f_a - f_ab) ** 2
        s1_boot = first[resamples].mean(axis=1) / variances
        st_boot = total[resamples].mean(axis=1) / variances
        s1, st = first.mean() / variance, total.mean() / variance
        rows.append((name, s1, 1.96 * s1_boot.std(), st, 1.96 * st_boot.std()))
    return pd.DataFrame(rows, columns=["key", "s1", "s1_conf", "st", "st_conf"])


def sobol_indices(
    spec: ScenarioSpec,
    market: np.ndarray,
    years: np.ndarray,
    window: tuple[int, int],
    base_samples: int,
    seed: int,
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of the headline over the scenario's inputs, largest ST first."""
    columns = input_columns(spec, years, window)
    if not columns:  # every input fixed: no variance to apportion
        return pd.DataFrame(columns=["key", "s1", "s1_conf", "st", "st_conf"])

    def model(uniforms: dict[str, np.ndarray]) -> np.ndarray:
        size = len(next(iter(uniforms.values())))
        return np.broadcast_to(headline(spec, kernel_values(spec, uniforms), market, years, window), size)

    table = saltelli_indices(model, columns, base_samples, seed)
    return table.sort_values("st", ascending=False, ignore_index=True)


def headline_means(
    spec: ScenarioSpec,
    paths: np.ndarray,
    years: np.ndarray,
    window: tuple[int, int],
    monte_carlo_draws: int,
    draws: int = MEAN_POINTS,
    seed: int = 0,
) -> pd.DataFrame:
    """The mean headline over every input (``draws`` scrambled Sobol points), one row.

    ``headline``: the market at the mean of its ``paths``, the Monte Carlo's own mean (new kei sales are linear in
    the market, drawn independently of the rest); ``headline_base``: at their median, what tornado and Sobol see;
    ``headline_se``: sd(Y) sqrt(1 / monte_carlo_draws + 1 / draws), the standard error of the difference from a
    Monte Carlo mean of ``monte_carlo_draws`` (the Sobol points counted as random ones, which they beat; the
    market's own variance, a few percent of the new layer's, left out); ``low``, ``high``: the window's years.
    """
    uniforms = _qmc_uniforms(input_columns(spec, years, window), draws, seed)
    values = kernel_values(spec, uniforms)
    at_mean, at_median = (headline(spec, values, m, years, window) for m in (paths.mean(0), np.median(paths, 0)))
    se = float(np.std(at_mean)) * np.sqrt(1 / monte_carlo_draws + 1 / draws)
    row = {"key": "kei_sales_cumulative", "low": window[0], "high": window[1], "samples": draws}
    return pd.DataFrame([{**row, "headline": at_mean.mean(), "headline_base": at_median.mean(), "headline_se": se}])


def what_if(
    spec: ScenarioSpec,
    key: str,
    settings: Iterable[float],
    market: np.ndarray,
    years: np.ndarray,
    window: tuple[int, int],
    draws: int = 4096,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean headline over the Monte Carlo's distributions (``draws`` scrambled Sobol points, the same for every
    setting) with ``key`` fixed at each of ``settings``."""
    values = kernel_values(spec, _qmc_uniforms(input_columns(spec, years, window), draws, seed))
    rows = [(key, float(x), float(headline(spec, {**values, key: x}, market, years, window).mean())) for x in settings]
    return pd.DataFrame(rows, columns=["key", "value", "headline"])
