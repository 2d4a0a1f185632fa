"""Monte Carlo engine vs a minimal numpy kernel doing the same arithmetic, in one process.

Prints the marginal cost per draw of each (slope between two chunk sizes, best of several repeats) and their
ratio; the target is engine / kernel <= 2. With --memory it also runs the full pipeline's Monte Carlo at
10,000,000 draws for every default scenario in a child process and reports its peak RSS (target < 2 GB).

    .venv/bin/python bench/bench_montecarlo.py [--memory]
"""

from __future__ import annotations

import keicast  # noqa: F401  first, so the bench has a run's one BLAS thread (keicast/__init__.py)

# isort: split

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast import steps  # noqa: E402
from keicast.config import load_settings  # noqa: E402
from models import montecarlo  # noqa: E402
from models.montecarlo import QUANTILES  # noqa: E402

YEARS = np.arange(2026, 2041)


def minimal_kernel(spec, paths, n, seed):
    """The same arithmetic written flat: PERT draws, launch, price, anchored logit, GBM, grey layer, fleets."""
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
    delay = v["launch_delay"]
    launch = np.where(rng.random((n, 1)) < v["no_launch"], np.inf, spec.launch_year + delay)
    duty = v["target_price"] * v["customs_ratio"] * v["tariff"] * v["pass_through"] if spec.imported else 0.0
    log_r = np.log((v["target_price"] + duty + v["compliance_cost"]) / v["avg_price"])
    r_jp = v["japan_price_ratio"] * (1 - v["japan_advantage"])
    u_us = v["us_utility"] + v["elasticity"] * (log_r - np.log(v["us_price_ratio"]))
    u_jp = np.log(v["japan_share"] / (1 - v["japan_share"])) + v["elasticity"] * (log_r - np.log(r_jp))
    u = (1 - v["japan_weight"]) * u_us + v["japan_weight"] * u_jp
    share_inf = v["addressable"] / (1 + np.exp(-u))
    t = YEARS[None, :] - launch + 1.0
    x = np.maximum(t + v["price_coefficient"] * np.log1p(v["price_trend"]) * np.maximum(t, 0), 0)
    e = np.exp(-(v["bass_p"] + v["bass_q"]) * x)
    f = np.where(t > 0, (1 - e) / (1 + v["bass_q"] / v["bass_p"] * e), 0.0)
    new = share_inf * f * market
    all_years = np.arange(2005, YEARS[-1] + 1)
    ceiling = v["grey_latest"] * (1 + v["grey_headroom"])
    lg = lambda p: np.log(p / (1 - p))  # noqa: E731
    rate = (lg(v["grey_latest"] / ceiling) - lg(v["grey_early"] / ceiling)) / 5
    mid = 2023 - lg(v["grey_latest"] / ceiling) / rate
    grey = ceiling / (1 + np.exp(-rate * (all_years[None, :] - mid)))
    dutiable = v["pass_through"] * v["grey_customs_ratio"]
    price_ratio = (1 + dutiable * v["tariff"]) / (1 + dutiable * v["tariff_counted"])
    scale = v["grey_states"] / v["grey_states_counted"] * price_ratio ** v["elasticity"]
    grey = np.where(all_years[None, :] >= 2024, grey * scale, grey)

    def fleet(sales, median, shape):
        scale = median / np.log(2) ** (1 / shape)
        surv = np.exp(-((np.arange(sales.shape[1])[None, :] / scale) ** shape))
        out = np.zeros_like(sales)
        for age in range(sales.shape[1]):
            out[:, age:] += sales[:, : sales.shape[1] - age] * surv[:, age : age + 1]
        return out

    h = len(all_years) - len(YEARS)
    grey_now = grey[:, h:]
    sales = grey_now + new
    in_use = fleet(grey, v["grey_life"], v["survival_shape"])[:, h:] + fleet(new, v["median_life"], v["survival_shape"])
    launched = (launch < YEARS[None, :] + 1.0).astype(float)
    out = {}
    for name, m in (
        ("total_market", market),
        ("kei_sales", sales),
        ("kei_share", sales / market),
        ("kei_in_use", in_use),
        ("kei_sales_cumulative", np.cumsum(sales, axis=1)),
        ("new_kei_sales", new),
        ("new_kei_sales_cumulative", np.cumsum(new, axis=1)),
        ("grey_imports", grey_now),
        ("launched", launched),
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
    calibrated = steps.calibrate_assumptions(settings, steps.load_evidence(settings))  # the table a run makes
    spec = next(s for s in calibrated.specs(settings) if s.name == "japan_imports_tariff")
    paths = 16e6 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, (2000, len(YEARS))), axis=1))
    engine = marginal_cost(lambda n: montecarlo.simulate_chunk(spec, paths, YEARS, n, 1, 0))
    kernel = marginal_cost(lambda n: minimal_kernel(spec, paths, n, 1))
    print(f"engine : {engine * 1e6:8.3f} us/draw")
    print(f"kernel : {kernel * 1e6:8.3f} us/draw")
    print(f"ratio  : {engine / kernel:8.2f}  (target <= 2.0)")
    if args.memory:
        code = (
            "import numpy as np, sys; sys.path.insert(0, '.');"
            "from keicast.config import load_settings; from keicast import steps;"
            "from models import montecarlo;"
            "s = load_settings('config.yaml', draws=10_000_000);"
            "c = steps.calibrate_assumptions(s, steps.load_evidence(s));"
            "p = 16e6 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, (2000, 15)), axis=1));"
            "[montecarlo.monte_carlo(spec, p, np.arange(2026, 2041), s.run.draws, 1, s.run.chunk_size) "
            "for spec in c.specs(s)]"
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
