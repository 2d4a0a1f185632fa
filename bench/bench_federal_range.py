"""How wide is a scenario's forecast given a launch, and which inputs make it so (issue #23's measurements).

With the launch fixed in one year (2029 by default, as the issue measured it), new kei cars over the headline
window are drawn from the run's own kernel and inputs: their P10 / P50 / P90 and P90/P10, and the share of
Var(ln new kei cars) each input group carries, measured as the variance removed when the group is held at its
median and every other input is drawn (a first-order, one-group-at-a-time decomposition: the shares need not sum
to one, the rest is interaction). Run it under either level model to compare them:

    .venv/bin/python bench/bench_federal_range.py [--scenario NAME] [--launch YEAR] [--model reference_class|analogs]
"""

from __future__ import annotations

import keicast  # noqa: F401  first, so the bench has a run's one BLAS thread (keicast/__init__.py)

# isort: split

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keicast import steps  # noqa: E402
from keicast.config import load_settings  # noqa: E402
from keicast.config.paths import PATH_FIELDS  # noqa: E402
from keicast.yamlfile import dump_yaml, parse_yaml  # noqa: E402
from models import montecarlo  # noqa: E402
from models.scenario import ADOPTION_SHOCKS, LAUNCH_TIME, kei_outcomes  # noqa: E402

DRAWS = 40_000
PRICES = ("target_price", "compliance_cost", "avg_price", "tariff", "pass_through", "customs_ratio")


def groups(spec) -> dict[str, list[str]]:
    """Input groups of ``spec``: the posterior's keys one by one where they mean something alone, prices, the
    remaining uncertain keys, and (handled apart) the yearly deviations and the market path."""
    joint = [key for posterior in spec.posteriors for key in posterior.draws]
    prices = [spec.keys[p] for p in PRICES if p in spec.keys]
    named = {
        "level (reference.level)": [k for k in joint if k == "reference.level"],
        "shape (reference.rise, reference.decline)": [k for k in joint if k in ("reference.rise", "reference.decline")],
        "price slope (reference.price_slope)": [k for k in joint if k == "reference.price_slope"],
        "adoption posterior (Bass p, q, trends)": [k for k in joint if k.startswith("adoption.")],
        "class share (US level, Japan anchor, gap closed)": [
            spec.keys[p]
            for p in (
                "us_utility",
                "us_price_ratio",
                "japan_weight",
                "japan_advantage",
                "japan_price_ratio",
                "elasticity",
            )
            if p in spec.keys
        ],  # fmt: skip
        "prices (target, compliance, average car, tariff)": prices,
        "addressable share, Japan's share": [spec.keys[p] for p in ("addressable", "japan_share") if p in spec.keys],
    }
    return {name: keys for name, keys in named.items() if keys}


def log_new(spec, values, paths, years, window) -> np.ndarray:
    new = kei_outcomes(spec, values, paths, years)["new_kei_sales"]
    total = new[:, (years >= window[0]) & (years <= window[1])].sum(axis=1)
    return np.log(total[total > 0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="federal_approval_domestic")
    parser.add_argument("--launch", type=float, default=2029.0)
    parser.add_argument("--model", default=None, help="calibration.model (default: config.yaml's)")
    args = parser.parse_args()
    config = parse_yaml(Path("config.yaml").read_text(), "config.yaml")
    if args.model:
        config["calibration"]["model"] = args.model
    for field in PATH_FIELDS:  # the copy lives elsewhere: its paths stay this project's
        if field in config["run"]:
            config["run"][field] = str(Path(config["run"][field]).resolve())
    config["calibration"]["cache_dir"] = str(Path(config["calibration"].get("cache_dir", "data/cache")).resolve())
    with tempfile.TemporaryDirectory(prefix="keicast-federal-range-") as folder:  # read once, then removed
        path = Path(folder) / "config.yaml"
        path.write_text(dump_yaml(config))
        settings = load_settings(path)
    evidence = steps.load_evidence(settings)
    spec = next(s for s in steps.calibrate_assumptions(settings, evidence).specs(settings) if s.name == args.scenario)
    run = settings.run
    years = np.arange(run.horizon.start, run.horizon.end + 1)
    window = tuple(run.headline_window)
    paths = steps.fit_baseline(evidence.history, settings).paths
    values, market = montecarlo.sample_chunk(spec, paths, DRAWS, run.seed, 0)
    values[LAUNCH_TIME] = np.full(DRAWS, args.launch)
    y = log_new(spec, values, market, years, window)
    p10, p50, p90 = np.exp(np.quantile(y, [0.1, 0.5, 0.9]))
    print(f"{spec.name} ({spec.level_model}), launch {args.launch:.0f}, new kei cars {window[0]}-{window[1]}:")
    print(f"  P10 {p10:,.0f}  P50 {p50:,.0f}  P90 {p90:,.0f}  P90/P10 {p90 / p10:,.0f}  mean {np.exp(y).mean():,.0f}")
    new = kei_outcomes(spec, values, market, years)["new_kei_sales"]
    cap = (
        np.asarray(values[spec.keys["japan_share"]]).reshape(-1, 1)
        * np.asarray(values[spec.keys["addressable"]]).reshape(-1, 1)
        * market
    )
    capped = np.mean((new >= cap * 0.999).any(axis=1))
    print(f"  draws held at Japan's share (the kernel's cap) in some year: {capped:.1%}")
    base = y.var()
    print(f"  share of Var(ln new kei cars) = {base:.2f} carried by each input group (held at its median):")
    for name, keys in groups(spec).items():
        held = {**values, **{k: np.full(DRAWS, np.median(values[k])) for k in keys if np.ndim(values[k])}}
        print(f"    {name:52s} {1 - log_new(spec, held, market, years, window).var() / base:6.0%}")
    quiet = {**values, ADOPTION_SHOCKS: np.zeros_like(values[ADOPTION_SHOCKS])}
    print(f"    {'yearly deviations':52s} {1 - log_new(spec, quiet, market, years, window).var() / base:6.0%}")
    median_market = np.tile(np.median(market, axis=0), (DRAWS, 1))
    print(f"    {'market path':52s} {1 - log_new(spec, values, median_market, years, window).var() / base:6.0%}")
    if spec.level_model == "reference_class":
        level_parts(settings, spec)


def level_parts(settings, spec) -> None:
    """The level's variance in its parts: the coefficients' posterior (where the class positions the launch) and
    the family and launch effects (how far a new launch strays from its position)."""
    from keicast.reference_class import launch_values
    from models import reference_class as rc

    fit = steps.calibrate_reference_class(settings).fit
    x = rc.design(pd.DataFrame({**launch_values(spec.road_access), "t": [1.0]}), fit.shape)[0]
    parts = {"coefficients": float(x @ fit.covariance @ x), "family effect": fit.family_sd**2,
             "launch effect": fit.launch_sd**2}  # fmt: skip
    total = sum(parts.values())
    print(
        f"  the level's variance {total:.2f} (sd {np.sqrt(total):.2f}): "
        + ", ".join(f"{name} {v / total:.0%}" for name, v in parts.items())
    )


if __name__ == "__main__":
    main()
