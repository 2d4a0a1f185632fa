"""A sweep: every combination of listed assumption values, each a generated scenario copied from a base one."""

from __future__ import annotations

import itertools
import math

from keicast.config.problems import suggest
from keicast.config.schema import SweepPoint
from keicast.errors import ConfigError, Problem


def with_sweep(raw: dict, sweep: dict[str, dict], file: str) -> tuple[dict, list[Problem]]:
    """The raw config with one scenario per sweep combination."""
    base_scenarios = raw.get("scenarios") or {}
    generated, problems = {}, []
    for name, spec in sweep.items():
        base = base_scenarios.get(spec["base"])
        if not isinstance(base, dict):
            problems.append(
                Problem("--base", "", spec["base"], f"a scenario in {file}{suggest(spec['base'], base_scenarios)}")
            )
            continue
        scenario = {**base, "assumptions": dict(base.get("assumptions") or {})}
        for key, value in spec["factors"].items():
            if key == "launch_year":
                scenario["launch_year"] = int(value)
            else:
                scenario["assumptions"][key] = value
        scenario["description"] = f"Sweep of {spec['base']}: " + ", ".join(
            f"{k}={v}" for k, v in spec["factors"].items()
        )
        generated[name] = scenario
    return {**raw, "scenarios": {**base_scenarios, **generated}}, problems


MAX_SWEEP = 500


VARY_FORMAT = "KEY=V1,V2,... with finite numbers (whole years for launch_year), e.g. policy.import_tariff=0,0.25"


def _axis(item: str) -> tuple[str, list[float]] | None:
    """``KEY=V1,V2,...`` as (key, values); None when malformed, not finite, or a launch year not a whole year."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    try:
        values = [float(v) for v in raw.split(",") if v.strip()]
    except ValueError:
        return None
    whole = all(math.isfinite(v) and (key != "launch_year" or v.is_integer()) for v in values)
    return (key, values) if sep and key and values and whole else None


def sweep_plan(vary: list[str], base: str) -> dict[str, SweepPoint]:
    """Every combination of the ``--vary`` values as a generated scenario ``sweep_NNN`` of ``base``."""
    axes = [_axis(item) for item in vary]
    problems = [Problem("--vary", item, item, VARY_FORMAT) for item, axis in zip(vary, axes, strict=True) if not axis]
    combos = [] if problems or not axes else list(itertools.product(*[[(k, v) for v in vs] for k, vs in axes]))
    if not problems and not 1 <= len(combos) <= MAX_SWEEP:
        problems.append(Problem("--vary", "", len(combos), f"between 1 and {MAX_SWEEP} combinations"))
    if problems:
        raise ConfigError(problems)
    return {
        f"sweep_{i:03d}": SweepPoint(base=base, factors={k: int(v) if k == "launch_year" else v for k, v in combo})
        for i, combo in enumerate(combos, start=1)
    }
