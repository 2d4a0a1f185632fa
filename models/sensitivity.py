"""Which assumptions drive the headline: tornado swings and Sobol indices on the Monte Carlo's own distributions.

Both analyses work on the uniforms of the Monte Carlo's random inputs (:func:`models.montecarlo.random_inputs`) and
turn them into values with the same transforms (PERT inverse CDF, posterior rows, launch time), so they speak
about exactly the distributions the forecast draws. The headline is cumulative kei sales (grey imports plus new
kei cars) over a window of years, with the market held at its median path.

    tornado  the mean headline with one input at its P10 or P90 (u = 0.1, 0.9) and every other input drawn from its
             distribution (scrambled Sobol points): E[Y | X_i = q], a one-input-at-a-time swing that, unlike one
             around a single base case, does not vanish when the median case has no launch
    Sobol    first-order (S1) and total (ST) indices on the unit hypercube by Saltelli's scheme: matrices A and B
             of N scrambled Sobol points, AB_i = A with column i from B, outputs centred on their mean,
             V = var(f_A, f_B) and
                 S1_i = mean(f_B (f_ABi - f_A)) / V          (Saltelli et al. 2010, *Comput. Phys. Commun.* 181(2))
                 ST_i = mean((f_A - f_ABi)^2) / (2 V)        (Jansen 1999, *Comput. Phys. Commun.* 117)
             with 95% half-widths 1.96 x the standard deviation over bootstrap resamples of the N rows (as SALib,
             Herman & Usher 2017, *JOSS* 2(9)). The kernel runs block by block, so N can be large.

A what-if gives the mean headline over all the other inputs' distributions with one assumption fixed (e.g. Japan's
kei share far outside its range, to show the weight the model gives it).

Inputs that only reach cars in use (fleet lifetimes) cannot move the sales headline and are left out of both.

The two can still rank inputs differently for honest reasons: the tornado compares two conditional means, so it
sees first-order effects only and weighs the two tails; ST counts every interaction (the launch input switches the
whole policy layer on or off, so every class-share input acts only in draws where a maker launches).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.montecarlo import assumption_values, launch_times, pert_ppf, random_inputs
from models.scenario import FLEET_PARAMETERS, LAUNCH_TIME, ScenarioSpec, kei_sales_layers

TORNADO_QUANTILES = (0.10, 0.90)
BOOTSTRAP_RESAMPLES = 100


def headline(spec: ScenarioSpec, values: dict, market: np.ndarray, years: np.ndarray, window: tuple[int, int]):
    """Cumulative kei sales (both layers) over ``window`` (inclusive) per draw.

    Each year's sales depend on that year's inputs only, so the kernel runs on the window's years alone.
    """
    mask = (years >= window[0]) & (years <= window[1])
    market = np.asarray(market, dtype=float)
    layers = kei_sales_layers(spec, values, market[..., mask], years[mask])
    return (layers["grey"] + layers["new"]).sum(axis=1)


def sales_inputs(spec: ScenarioSpec) -> list[str]:
    """The Monte Carlo's random inputs that can move kei sales (all but the fleet lifetimes)."""
    fleet = {spec.keys[p] for p in FLEET_PARAMETERS if p in spec.keys}
    return [name for name in random_inputs(spec) if name not in fleet]


def _medians(spec: ScenarioSpec, size: int = 1) -> dict[str, np.ndarray]:
    return {name: np.full(size, 0.5) for name in random_inputs(spec)}


def input_value(spec: ScenarioSpec, name: str, u: float) -> float:
    """The value an input takes at quantile ``u`` (a key's value, the launch time; NaN for a posterior row)."""
    if name in spec.ranges:
        return float(pert_ppf(np.array([u]), spec.ranges[name])[0])
    if name == LAUNCH_TIME:
        keys = spec.keys
        no_launch = float(np.ravel(assumption_values(spec, _medians(spec))[keys["no_launch"]])[0])  # fixed: a float
        time = float(launch_times(np.array([u]), spec.launch_year, spec.ranges[keys["launch_delay"]], no_launch)[0])
        return time if np.isfinite(time) else float("nan")
    return float("nan")


def _qmc_uniforms(spec: ScenarioSpec, draws: int, seed: int) -> dict[str, np.ndarray]:
    from scipy.stats import qmc

    names = random_inputs(spec)
    points = qmc.Sobol(d=len(names), scramble=True, seed=seed).random(draws)
    return {name: points[:, i] for i, name in enumerate(names)}


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
    uniforms = _qmc_uniforms(spec, draws, seed)
    mean = lambda u: float(headline(spec, assumption_values(spec, u), market, years, window).mean())  # noqa: E731
    base = mean(uniforms)
    rows = []
    for name in sales_inputs(spec):
        lo, hi = (mean({**uniforms, name: np.full(draws, q)}) for q in TORNADO_QUANTILES)
        low_value, high_value = (input_value(spec, name, q) for q in TORNADO_QUANTILES)
        rows.append((name, low_value, high_value, lo, hi, base, abs(hi - lo)))
    columns = ["key", "low", "high", "headline_at_low", "headline_at_high", "headline_base", "swing"]
    return pd.DataFrame(rows, columns=columns).sort_values("swing", ascending=False, ignore_index=True)


def saltelli_indices(model, names: list[str], base_samples: int, seed: int) -> pd.DataFrame:
    """S1 and ST with bootstrap half-widths of ``model`` (dict of uniforms -> outputs) on the unit hypercube."""
    from scipy.stats import qmc

    k = len(names)
    points = qmc.Sobol(d=2 * k, scramble=True, seed=seed).random(base_samples)
    a, b = points[:, :k], points[:, k:]
    run = lambda m: np.asarray(model({name: m[:, i] for i, name in enumerate(names)}), dtype=float)  # noqa: E731
    f_a, f_b = run(a), run(b)
    centre = np.mean(np.r_[f_a, f_b])  # the estimators are shift-invariant; centring cuts the S1 estimator's noise
    f_a, f_b = f_a - centre, f_b - centre
    rng = np.random.default_rng(seed)
    resamples = rng.integers(0, base_samples, (BOOTSTRAP_RESAMPLES, base_samples))
    variance = np.var(np.r_[f_a, f_b])
    variances = np.var(np.c_[f_a[resamples], f_b[resamples]], axis=1)
    rows = []
    for i, name in enumerate(names):
        ab = a.copy()
        ab[:, i] = b[:, i]
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
    names = sales_inputs(spec)
    if not names:  # every input fixed: no variance to apportion
        return pd.DataFrame(columns=["key", "s1", "s1_conf", "st", "st_conf"])
    fixed = _medians(spec)

    def model(uniforms: dict[str, np.ndarray]) -> np.ndarray:
        size = len(next(iter(uniforms.values())))
        values = assumption_values(spec, {**{n: np.full(size, 0.5) for n in fixed}, **uniforms})
        return np.broadcast_to(headline(spec, values, market, years, window), size)  # constant: one value

    table = saltelli_indices(model, names, base_samples, seed)
    return table.sort_values("st", ascending=False, ignore_index=True)


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
    values = assumption_values(spec, _qmc_uniforms(spec, draws, seed))
    rows = [(key, float(x), float(headline(spec, {**values, key: x}, market, years, window).mean())) for x in settings]
    return pd.DataFrame(rows, columns=["key", "value", "headline"])
