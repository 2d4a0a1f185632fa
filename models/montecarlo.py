"""Monte Carlo over every uncertain assumption, vectorised, seeded and chunked.

Every random input is a uniform u on (0, 1) turned into values by its own transform, so the Monte Carlo and the
sensitivity analysis (models.sensitivity) draw from exactly the same distributions:

    assumption key   u -> PERT inverse CDF: a Beta on [low, high] with mode = base and lambda = 4
                     (Vose 2008, *Risk Analysis*, 3e, ch. 9)
    posterior        u -> row floor(u * rows) of a table of joint draws (e.g. a Bayesian fit's posterior)
    launch           u -> launch time: with probability p no maker launches (time = inf), otherwise the planned
                     year plus a PERT delay, the inverse CDF of that mixture: L = year + F_d^{-1}(u / (1 - p))

The PERT inverse CDF is the regularised incomplete beta inverse tabulated on 8,193 points equally spaced in
logit(u) and interpolated linearly (error below 1e-6 of the range; exact at the table points).

Draws are processed in chunks of fixed size, each with its own seed from ``numpy.random.SeedSequence([seed,
chunk, input])``, so memory stays bounded, results do not depend on where a chunk runs, and every scenario sees
the same random numbers for the same input (common random numbers: scenario differences are not Monte Carlo noise;
the status-quo layer is identical, draw by draw, in every scenario).

Keys with posterior draws (a ``Posterior``: the reference class's level, price slope and shape, keicast.reference_class,
or the analog model's adoption fit, keicast.calibration) are drawn *jointly*: each Monte Carlo draw takes one whole
posterior row, so the keys keep their correlations. The yearly deviations get their own standard normal shocks.

Quantiles across chunks are the draw-weighted mean of the chunks' sample quantiles; the bias is O(1/chunk), far
below the Monte Carlo error at the default chunk size. The forecasts given a launch (CONDITIONAL_METRICS) weigh each
chunk by its draws launched by that year, so their bias is O(1/launched draws per chunk).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special

from models.scenario import (
    ADOPTION_SHOCKS,
    CONDITIONAL_METRICS,
    DISTRIBUTION_KEYS,
    LAUNCH_TIME,
    METRICS,
    Range,
    ScenarioSpec,
    kei_outcomes,
)

QUANTILES = (0.05, 0.10, 0.50, 0.90, 0.95)
QUANTILE_COLUMNS = ("p05", "p10", "p50", "p90", "p95")
PERT_LAMBDA = 4.0
_LOGIT_SPAN, _TABLE_STEPS = 30.0, 8192


@lru_cache(maxsize=256)
def _beta_table(alpha: float, beta: float) -> np.ndarray:
    z = np.linspace(-_LOGIT_SPAN, _LOGIT_SPAN, _TABLE_STEPS + 1)
    return special.betaincinv(alpha, beta, 1.0 / (1.0 + np.exp(-z)))


def pert_ppf(u: np.ndarray, r: Range) -> np.ndarray:
    """Inverse CDF of PERT(low, base, high) at ``u``; a degenerate range returns the base value."""
    u = np.asarray(u, dtype=float)
    if not r.uncertain:
        return np.full(u.shape, r.base)
    width = r.high - r.low
    table = _beta_table(1.0 + PERT_LAMBDA * (r.base - r.low) / width, 1.0 + PERT_LAMBDA * (r.high - r.base) / width)
    with np.errstate(divide="ignore"):
        z = np.log(u) - np.log1p(-u)
    position = (np.clip(z, -_LOGIT_SPAN, _LOGIT_SPAN) + _LOGIT_SPAN) * (_TABLE_STEPS / (2 * _LOGIT_SPAN))
    index = np.minimum(position.astype(np.int64), _TABLE_STEPS - 1)
    fraction = position - index
    return r.low + width * (table[index] + fraction * (table[index + 1] - table[index]))


def pert_moments(low: float, mode: float, high: float) -> tuple[float, float]:
    """Mean and sd of PERT(low, mode, high) with lambda 4: (low + 4 mode + high) / 6, sqrt((m - low)(high - m) / 7)
    (Malcolm et al. 1959; exact for the symmetric case)."""
    mean = (low + PERT_LAMBDA * mode + high) / (PERT_LAMBDA + 2)
    return mean, float(np.sqrt(max((mean - low) * (high - mean), 0.0) / (PERT_LAMBDA + 3)))


def pert_sample(rng: np.random.Generator, r: Range, size: int) -> np.ndarray:
    """Draws from PERT(low, base, high) by the inverse CDF of uniforms."""
    return pert_ppf(rng.random(size), r)


def launch_times(u: np.ndarray, launch_year: float, delay: Range, no_launch: np.ndarray | float) -> np.ndarray:
    """Launch time per draw from one uniform: inf (no maker launches) with probability ``no_launch``, otherwise
    ``launch_year`` plus a PERT(delay) delay; the inverse CDF of that mixture, so u orders draws by lateness."""
    u = np.asarray(u, dtype=float)
    launched_share = 1.0 - np.asarray(no_launch, dtype=float)
    launched = u < launched_share
    delay_u = np.where(launched, u / np.where(launched_share > 0, launched_share, 1.0), 0.5)
    return np.where(launched, launch_year + pert_ppf(delay_u, delay), np.inf)


def random_inputs(spec: ScenarioSpec) -> list[str]:
    """The scenario's independent uniform inputs: uncertain keys not drawn jointly, posteriors, launch."""
    joint = {key for posterior in spec.posteriors for key in posterior.draws}
    shaping = {spec.keys[p] for p in DISTRIBUTION_KEYS if p in spec.keys}
    keys = sorted(k for k in set(spec.keys.values()) - joint - shaping if spec.ranges[k].uncertain)
    return keys + [p.name for p in spec.posteriors] + ([LAUNCH_TIME] if spec.has_policy else [])


def assumption_values(spec: ScenarioSpec, uniforms: Mapping[str, np.ndarray]) -> dict[str, np.ndarray | float]:
    """Every value the kernel reads, from the uniforms of :func:`random_inputs` (others at their base value)."""
    values: dict[str, np.ndarray | float] = dict(spec.base_values())
    for name, u in uniforms.items():
        if name in spec.ranges:
            values[name] = pert_ppf(u, spec.ranges[name])
    for posterior in spec.posteriors:
        rows = np.minimum((np.asarray(uniforms[posterior.name]) * posterior.rows).astype(np.int64), posterior.rows - 1)
        values.update({key: np.asarray(draws)[rows] for key, draws in posterior.draws.items()})
    if spec.has_policy:
        keys = spec.keys
        values[LAUNCH_TIME] = launch_times(
            uniforms[LAUNCH_TIME], spec.launch_year, spec.ranges[keys["launch_delay"]], values[keys["no_launch"]]
        )
    return values


def _stream(seed: int, chunk: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk, zlib.crc32(name.encode())]))


def sample_chunk(spec: ScenarioSpec, market_paths: np.ndarray, size: int, seed: int, chunk: int):
    """Assumption values and market paths for one chunk (same streams for every scenario)."""
    uniforms = {name: _stream(seed, chunk, name).random(size) for name in random_inputs(spec)}
    values = assumption_values(spec, uniforms)
    if spec.has_policy:  # the adoption path's yearly deviations: their own standard normal shocks
        values[ADOPTION_SHOCKS] = _stream(seed, chunk, ADOPTION_SHOCKS).standard_normal((size, market_paths.shape[1]))
    paths = _stream(seed, chunk, "market_path").integers(0, len(market_paths), size)
    return values, market_paths[paths]


def masked_quantiles(x: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """Quantiles (len(q), years) over the non-NaN draws of each column of ``x`` (draws, years), by the same linear
    interpolation between order statistics as numpy's default; NaN where a column has no value."""
    ordered = np.sort(x, axis=0)  # NaN sorts last
    n = np.sum(~np.isnan(x), axis=0)
    position = np.asarray(q)[:, None] * np.maximum(n - 1, 0)[None, :]
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(n - 1, 0)[None, :])
    columns = np.arange(x.shape[1])[None, :]
    fraction = position - low
    out = ordered[low, columns] * (1 - fraction) + ordered[high, columns] * fraction
    return np.where(n[None, :] > 0, out, np.nan)


@dataclass
class ChunkSummary:
    """Sufficient statistics of one chunk: draws, per-metric sums and quantiles over draws (5, years), and for
    the metrics given a launch (CONDITIONAL_METRICS) the count of draws each year's figures are over."""

    draws: int
    sums: dict[str, np.ndarray]
    quantiles: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]


def simulate_chunk(
    spec: ScenarioSpec,
    market_paths: np.ndarray,
    years: np.ndarray,
    size: int,
    seed: int,
    chunk: int,
) -> ChunkSummary:
    """Run the kernel on one chunk of draws and summarise it."""
    values, market = sample_chunk(spec, market_paths, size, seed, chunk)
    outcomes = kei_outcomes(spec, values, market, years)
    plain = [m for m in METRICS if m not in CONDITIONAL_METRICS]
    return ChunkSummary(
        draws=size,
        sums={m: np.nansum(outcomes[m], axis=0) for m in METRICS},
        quantiles={
            **{m: np.quantile(outcomes[m].T, QUANTILES, axis=1) for m in plain},  # .T: 30% faster
            **{m: masked_quantiles(outcomes[m], QUANTILES) for m in CONDITIONAL_METRICS},
        },
        counts={m: np.sum(~np.isnan(outcomes[m]), axis=0) for m in CONDITIONAL_METRICS},
    )


def chunk_sizes(draws: int, chunk_size: int) -> list[int]:
    """Split ``draws`` into chunks of ``chunk_size`` (the last one smaller)."""
    if draws < 1 or chunk_size < 1:
        raise ValueError("draws and chunk_size must be positive")
    full, rest = divmod(draws, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def chunk_batches(chunks: int, scenarios: int, workers: int, per_worker: int = 4) -> list[list[int]]:
    """Split one scenario's chunk indices into consecutive batches, the unit of work handed to a worker.

    A distributed task costs a fixed overhead (on Prefect + Dask about 0.4 s: context serialisation, a client in
    the worker), so there should be as few tasks as keep every worker busy: about ``per_worker`` tasks per worker
    over all scenarios, never more than one per chunk. Batching never changes results: each chunk keeps its
    own seed and chunks are combined in index order.
    """
    if min(chunks, scenarios, workers, per_worker) < 1:
        raise ValueError("chunks, scenarios, workers and per_worker must be positive")
    count = min(chunks, -(-per_worker * workers // scenarios))
    return [b.tolist() for b in np.array_split(np.arange(chunks), count)]


def combine_chunks(name: str, years: np.ndarray, chunks: list[ChunkSummary]) -> pd.DataFrame:
    """Long forecast table (scenario, year, metric, mean, p05..p95) from chunk summaries."""
    total = sum(c.draws for c in chunks)
    weights = np.array([c.draws for c in chunks], dtype=float) / total
    frames = []
    for metric in METRICS:
        if metric in CONDITIONAL_METRICS:  # each chunk weighs by its draws that have launched, year by year
            counts = np.stack([c.counts[metric] for c in chunks]).astype(float)  # (chunks, years)
            launched = counts.sum(axis=0)
            mean = np.where(launched > 0, sum(c.sums[metric] for c in chunks) / np.maximum(launched, 1), np.nan)
            share = counts / np.where(launched > 0, launched, 1.0)
            stacked = np.nan_to_num(np.stack([c.quantiles[metric] for c in chunks]))  # (chunks, 5, years)
            quantiles = np.where(launched > 0, np.einsum("cy,cqy->qy", share, stacked), np.nan)
        else:
            mean = sum(c.sums[metric] for c in chunks) / total
            quantiles = np.tensordot(weights, np.stack([c.quantiles[metric] for c in chunks]), axes=1)
        frame = pd.DataFrame(quantiles.T, columns=list(QUANTILE_COLUMNS))
        frame.insert(0, "mean", mean)
        frame.insert(0, "metric", metric)
        frame.insert(0, "year", years.astype(int))
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "scenario", name)
    return out


def monte_carlo(
    spec: ScenarioSpec,
    market_paths: np.ndarray,
    years: np.ndarray,
    draws: int,
    seed: int,
    chunk_size: int,
) -> pd.DataFrame:
    """All chunks of one scenario in this process; see :func:`simulate_chunk` to distribute them."""
    chunks = [
        simulate_chunk(spec, market_paths, years, size, seed, index)
        for index, size in enumerate(chunk_sizes(draws, chunk_size))
    ]
    return combine_chunks(spec.name, years, chunks)
