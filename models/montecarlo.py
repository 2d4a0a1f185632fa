"""Monte Carlo over every uncertain assumption, vectorised, seeded and chunked.

Each assumption's low / base / high becomes a PERT distribution (a Beta on [low, high] with mode = base and
lambda = 4; Vose 2008, *Risk Analysis*, 3e, ch. 9). Draws are processed in chunks of fixed size, each with its
own seed from ``numpy.random.SeedSequence([seed, chunk])``, so memory stays bounded, results do not depend on
where a chunk runs, and every scenario sees the same random numbers (common random numbers: scenario
differences are not Monte Carlo noise). Every assumption key draws from its own stream.

Adoption keys with posterior draws (``ScenarioSpec.adoption_draws``, from the hierarchical fit on the US
analogs) are drawn *jointly*: each Monte Carlo draw takes one whole posterior row, so p, q, the trend and the
deviation sd and persistence keep their correlations. The adoption path's yearly deviations get their own
standard normal shocks.

Quantiles across chunks are the draw-weighted mean of the chunks' sample quantiles; the bias is O(1/chunk),
far below the Monte Carlo error at the default chunk size.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.scenario import ADOPTION_SHOCKS, METRICS, Range, ScenarioSpec, kei_outcomes

QUANTILES = (0.05, 0.10, 0.50, 0.90, 0.95)
QUANTILE_COLUMNS = ("p05", "p10", "p50", "p90", "p95")
PERT_LAMBDA = 4.0


def pert_sample(rng: np.random.Generator, r: Range, size: int) -> np.ndarray:
    """Draws from PERT(low, base, high); a degenerate range returns the base value."""
    if not r.uncertain:
        return np.full(size, r.base)
    width = r.high - r.low
    alpha = 1.0 + PERT_LAMBDA * (r.base - r.low) / width
    beta = 1.0 + PERT_LAMBDA * (r.high - r.base) / width
    return r.low + width * rng.beta(alpha, beta, size)


def _stream(seed: int, chunk: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk, zlib.crc32(name.encode())]))


def posterior_rows(u: np.ndarray, rows: int) -> np.ndarray:
    """Row indices of a posterior draws table for uniforms ``u`` in [0, 1) (the hook for Sobol designs)."""
    return np.minimum((np.asarray(u) * rows).astype(int), rows - 1)


def joint_sample(rng: np.random.Generator, draws: pd.DataFrame | None, size: int) -> dict[str, np.ndarray]:
    """``size`` whole rows of a joint draws table (columns = assumption keys); empty without a table."""
    if draws is None or draws.empty:
        return {}
    rows = posterior_rows(rng.random(size), len(draws))
    return {key: draws[key].to_numpy(dtype=float)[rows] for key in draws.columns}


def sample_chunk(spec: ScenarioSpec, market_paths: np.ndarray, size: int, seed: int, chunk: int):
    """Assumption draws and market paths for one chunk (same streams for every scenario)."""
    values = {key: pert_sample(_stream(seed, chunk, key), spec.ranges[key], size) for key in set(spec.keys.values())}
    values.update(joint_sample(_stream(seed, chunk, "adoption.posterior"), spec.adoption_draws, size))
    values[ADOPTION_SHOCKS] = _stream(seed, chunk, ADOPTION_SHOCKS).standard_normal((size, market_paths.shape[1]))
    paths = _stream(seed, chunk, "market_path").integers(0, len(market_paths), size)
    return values, market_paths[paths]


@dataclass
class ChunkSummary:
    """Sufficient statistics of one chunk: draws, per-metric sums and quantiles over draws (5, years)."""

    draws: int
    sums: dict[str, np.ndarray]
    quantiles: dict[str, np.ndarray]


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
    return ChunkSummary(
        draws=size,
        sums={m: outcomes[m].sum(axis=0) for m in METRICS},
        quantiles={m: np.quantile(outcomes[m].T, QUANTILES, axis=1) for m in METRICS},  # .T: 30% faster
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
