"""Which assumptions drive the headline: one-at-a-time tornado swings and variance-based Sobol indices.

The headline is cumulative kei sales over a window of years. Both analyses hold the market at its median path,
so they speak about the kei assumptions, not about the baseline's sampling noise.
Sobol indices use Saltelli's scheme with uniform inputs over [low, high] (Saltelli et al. 2010,
*Comput. Phys. Commun.* 181(2); SALib: Herman & Usher 2017, *JOSS* 2(9)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.scenario import ScenarioSpec, kei_outcomes


def headline(spec: ScenarioSpec, values: dict, market: np.ndarray, years: np.ndarray, window: tuple[int, int]):
    """Cumulative kei sales over ``window`` (inclusive) per draw."""
    sales = kei_outcomes(spec, values, market, years)["kei_sales"]
    mask = (years >= window[0]) & (years <= window[1])
    return sales[:, mask].sum(axis=1)


def uncertain_keys(spec: ScenarioSpec) -> list[str]:
    """The scenario's assumption keys with low < high, sorted."""
    return sorted(k for k in set(spec.keys.values()) if spec.ranges[k].uncertain)


def tornado(spec: ScenarioSpec, market: np.ndarray, years: np.ndarray, window: tuple[int, int]) -> pd.DataFrame:
    """Headline at each assumption's low and high with all others at base, largest swing first."""
    base = spec.base_values()
    base_headline = float(headline(spec, base, market, years, window)[0])
    rows = []
    for key in uncertain_keys(spec):
        r = spec.ranges[key]
        at_low = float(headline(spec, {**base, key: r.low}, market, years, window)[0])
        at_high = float(headline(spec, {**base, key: r.high}, market, years, window)[0])
        rows.append((key, r.low, r.high, at_low, at_high, base_headline, abs(at_high - at_low)))
    columns = ["key", "low", "high", "headline_at_low", "headline_at_high", "headline_base", "swing"]
    return pd.DataFrame(rows, columns=columns).sort_values("swing", ascending=False, ignore_index=True)


def sobol_indices(
    spec: ScenarioSpec,
    market: np.ndarray,
    years: np.ndarray,
    window: tuple[int, int],
    base_samples: int,
    seed: int,
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of the headline, with 95% bootstrap half-widths."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    keys = uncertain_keys(spec)
    if not keys:  # every assumption fixed: nothing varies, so there is no variance to apportion
        return pd.DataFrame(columns=["key", "s1", "s1_conf", "st", "st_conf"])
    problem = {
        "num_vars": len(keys),
        "names": keys,
        "bounds": [[spec.ranges[k].low, spec.ranges[k].high] for k in keys],
    }
    sample = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    values = {**spec.base_values(), **{k: sample[:, i] for i, k in enumerate(keys)}}
    outputs = headline(spec, values, market, years, window)
    result = sobol_analyze.analyze(problem, outputs, calc_second_order=False, seed=seed)
    return pd.DataFrame(
        {
            "key": keys,
            "s1": result["S1"],
            "s1_conf": result["S1_conf"],
            "st": result["ST"],
            "st_conf": result["ST_conf"],
        }
    ).sort_values("st", ascending=False, ignore_index=True)
