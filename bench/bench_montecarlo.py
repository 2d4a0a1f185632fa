"""Monte Carlo engine vs a minimal numpy kernel doing the same arithmetic, in one process.

Prints the marginal cost per draw of each (slope between two chunk sizes, best of several repeats) and their
ratio; the target is engine / kernel <= 2. With --memory it also runs the full pipeline's Monte Carlo at
10,000,000 draws for every default scenario in a child process and reports its peak RSS (target < 2 GB).

    .venv/bin/python bench/bench_montecarlo.py [--memory]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast.assumptions import assemble, scenario_spec  # noqa: E402
from keicast.config import load_settings  # noqa: E402
from models import montecarlo  # noqa: E402
from models.montecarlo import QUANTILES  # noqa: E402

YEARS = np.arange(2026, 2041)


def minimal_kernel(spec, paths, n, seed):
    """The same arithmetic written flat: PERT draws, price, calibrated logit, GBM, fleet, summaries."""
    rng = np.random.default_rng(seed)
    r = spec.ranges
    k = spec.keys

    def draw(key):
        lo, mode, hi = r[key].low, r[key].base, r[key].high
        if hi <= lo:
            return np.full((n, 1), mode)
        a = 1 + 4 * (mode - lo) / (hi - lo)
        b = 1 + 4 * (hi - mode) / (hi - lo)
        return (lo + (hi - lo) * rng.beta(a, b, n))[:, None]

    v = {param: draw(key) for param, key in k.items()}
    market = paths[rng.integers(0, len(paths), n)]
    price = v["target_price"] + v["compliance_cost"]
    if spec.imported:
        price = price + v["target_price"] * v["tariff"] * v["pass_through"]
    inner = v["analog_share"] / (v["japan_share"] * v["analog_addressable"])
    c = np.log(inner / (1 - inner)) - v["elasticity"] * np.log(v["analog_price_ratio"])
    share_inf = (
        v["japan_share"] * v["addressable"] / (1 + np.exp(-(c + v["elasticity"] * np.log(price / v["avg_price"]))))
    )
    t = (YEARS - spec.launch_year + 1)[None, :].astype(float)
    x = np.maximum(t + v["price_coefficient"] * np.log1p(v["price_trend"]) * np.maximum(t, 0), 0)
    e = np.exp(-(v["bass_p"] + v["bass_q"]) * x)
    f = np.where(t > 0, (1 - e) / (1 + v["bass_q"] / v["bass_p"] * e), 0.0)
    share = share_inf * f
    sales = share * market
    scale = v["median_life"] / np.log(2) ** (1 / v["survival_shape"])
    surv = np.exp(-((np.arange(len(YEARS))[None, :] / scale) ** v["survival_shape"]))
    fleet = np.zeros_like(sales)
    for age in range(len(YEARS)):
        fleet[:, age:] += sales[:, : len(YEARS) - age] * surv[:, age : age + 1]
    cumulative = np.cumsum(sales, axis=1)
    out = {}
    for name, m in (
        ("total_market", market),
        ("kei_sales", sales),
        ("kei_share", share),
        ("kei_in_use", fleet),
        ("kei_sales_cumulative", cumulative),
    ):
        out[name] = (m.sum(axis=0), np.quantile(m, QUANTILES, axis=0))
    return out


def best_time(fn, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def marginal_cost(fn, small=50_000, large=250_000):
    """Seconds per extra draw between two chunk sizes (removes fixed overheads)."""
    return (best_time(lambda: fn(large)) - best_time(lambda: fn(small))) / (large - small)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", help="also measure peak memory at 10M draws")
    args = parser.parse_args()
    settings = load_settings("config.yaml")
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides)
    spec = scenario_spec("japan_imports_tariff", settings.config, table)
    paths = 16e6 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, (2000, len(YEARS))), axis=1))
    engine = marginal_cost(lambda n: montecarlo.simulate_chunk(spec, paths, YEARS, n, 1, 0))
    kernel = marginal_cost(lambda n: minimal_kernel(spec, paths, n, 1))
    print(f"engine : {engine * 1e6:8.3f} us/draw")
    print(f"kernel : {kernel * 1e6:8.3f} us/draw")
    print(f"ratio  : {engine / kernel:8.2f}  (target <= 2.0)")
    if args.memory:
        code = (
            "import numpy as np, sys; sys.path.insert(0, '.');"
            "from keicast.config import load_settings; from keicast.assumptions import assemble, scenario_spec;"
            "from models import montecarlo;"
            "s = load_settings('config.yaml', draws=10_000_000);"
            "t = assemble(s.register, s.config, s.scenarios, s.overrides);"
            "p = 16e6 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, (2000, 15)), axis=1));"
            "[montecarlo.monte_carlo(scenario_spec(n, s.config, t), p, np.arange(2026, 2041), s.run.draws, 1, "
            "s.run.chunk_size) for n in s.scenarios]"
        )
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"10,000,000 draws x 5 scenarios: {time.perf_counter() - start:.0f} s, peak RSS {peak_mb:.0f} MB "
            "(target < 2048 MB)"
        )


if __name__ == "__main__":
    main()
