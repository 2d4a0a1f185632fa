"""Assemble the run's assumption tables: one row per scenario x key, after refinement and overrides."""

from __future__ import annotations

import pandas as pd

from keicast.calibration import (
    adoption_draws,
)
from keicast.config import AssumptionOverride, Config
from keicast.reference_class import ReferenceClass, reference_draws
from keicast.register import Register
from models.scenario import (
    GREY_COUNT_YEARS,
    GREY_KEYS,
    REFERENCE_POSTERIOR,
    STATUS_QUO_ACCESS,
    Posterior,
    Range,
    ScenarioSpec,
)

COLUMNS = [
    "scenario",
    "key",
    "value",
    "low",
    "high",
    "unit",
    "kind",
    "domain",
    "source_id",
    "source",
    "quote",
    "use",
    "rationale",
    "overridden",
    "override_origin",
]


def _source_text(register: Register, key: str) -> tuple[str | None, str, str | None]:
    a = register.assumptions[key]
    if a.kind != "article":
        return None, a.provenance(), None
    ev = a.evidence[0]
    s = register.source(ev.source)
    described = ", ".join(x for x in (s.publisher, f"'{s.headline}'" if s.headline else None, s.date) if x)
    return s.id, f"{s.file}" + (f" ({described})" if described else ""), ev.quote


def register_frame(register: Register) -> pd.DataFrame:
    """The register as a table of base values (no scenario, no overrides)."""
    rows = []
    for key, a in register.assumptions.items():
        source_id, source, quote = _source_text(register, key)
        rows.append(
            {
                "scenario": "*",
                "key": key,
                "value": a.value,
                "low": a.range_low,
                "high": a.range_high,
                "unit": a.unit,
                "kind": a.kind,
                "domain": a.domain,
                "source_id": source_id,
                "source": source,
                "quote": quote,
                "use": a.use,
                "rationale": a.rationale if a.kind in ("article", "literature") else None,
                "overridden": False,
                "override_origin": None,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _apply(row: dict, ov: AssumptionOverride) -> dict:
    low = ov.value if ov.low is None else ov.low
    high = ov.value if ov.high is None else ov.high
    return {
        **row,
        "value": ov.value,
        "low": low,
        "high": high,
        "overridden": True,
        "override_origin": ov.origin,
        "rationale": ov.rationale or row["rationale"],
        "kind": row["kind"] if ov.origin == "calibration" else "analyst",
    }


def assemble(
    register: Register,
    config: Config,
    scenarios: tuple[str, ...],
    overrides: tuple[AssumptionOverride, ...],
    refinements: tuple[AssumptionOverride, ...] = (),
) -> pd.DataFrame:
    """Assumption rows per scenario, applying refinements, then config, then --set (later wins).

    An override that gives only a value fixes the assumption (low = high = value); give low/high in
    config.yaml to keep it uncertain.
    """
    base = register_frame(register).set_index("key")
    frames = []
    for name in scenarios:
        rows = {key: row.to_dict() | {"key": key, "scenario": name} for key, row in base.iterrows()}
        ordered = (
            list(refinements)
            + [o for o in overrides if o.origin != "--set"]
            + [o for o in overrides if o.origin == "--set"]
        )
        for ov in ordered:
            if ov.scenario in ("*", name):
                rows[ov.key] = _apply(rows[ov.key], ov)
        frames.append(pd.DataFrame(list(rows.values()), columns=COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    return table.astype({"value": float, "low": float, "high": float, "overridden": bool})


def _posterior(name: str, draws: pd.DataFrame | None, calibrated: list[str]) -> tuple[Posterior, ...]:
    """The joint draws of the keys still at their calibrated value (an overridden key is drawn on its own)."""
    if draws is None:
        return ()
    keep = [k for k in draws.columns if k in calibrated]
    return (Posterior(name, {k: draws[k].to_numpy(float) for k in keep}),) if keep else ()


def scenario_spec(
    name: str,
    config: Config,
    table: pd.DataFrame,
    fit=None,
    grey_count: tuple[int, float] | None = None,
    reference: ReferenceClass | None = None,
) -> ScenarioSpec:
    """The kernel's view of one scenario from its assumption rows.

    The new-kei layer's level model is ``config.calibration.model``. Under "analogs", with an adoption ``fit``
    (keicast.calibration.AdoptionFit), the adoption keys still at their calibrated value (not overridden in
    config.yaml or by --set) are drawn jointly from its posterior rows; under "reference_class", with the
    ``reference`` class, the reference keys likewise from its draws for the scenario's launch. Without them, the
    keys are drawn from their rows' ranges. A ``grey_count`` (year, imports) newer than the register's latest count
    (an actual, keicast.actuals) becomes the grey-import curve's latest point, a measured value, unless the latest
    count is overridden.
    """
    sc, model = config.scenarios[name], config.calibration.model
    rows = table[table.scenario == name].set_index("key")
    ranges = {key: Range(float(r.low), float(r.value), float(r.high)) for key, r in rows.iterrows()}
    latest_year, latest_key = GREY_COUNT_YEARS[1], GREY_KEYS["grey_latest"]
    if grey_count is not None and grey_count[0] > latest_year and not rows.loc[latest_key].overridden:
        latest_year, count = int(grey_count[0]), float(grey_count[1])
        ranges[latest_key] = Range(count, count, count)
    calibrated = rows.index[rows.override_origin == "calibration"].tolist()
    posteriors: tuple[Posterior, ...] = ()
    if sc.road_access != STATUS_QUO_ACCESS:  # the status quo has no new-kei layer to draw
        if model == "analogs" and fit is not None:
            posteriors = _posterior("adoption.posterior", adoption_draws(fit, calibrated), calibrated)
        if model == "reference_class" and reference is not None:
            draws = reference_draws(reference, sc.road_access, config.calibration)
            posteriors = _posterior(REFERENCE_POSTERIOR, draws, calibrated)
    return ScenarioSpec(
        name=name,
        launch_year=sc.launch_year,
        imported=sc.production == "import",
        road_access=sc.road_access,
        ranges=ranges,
        posteriors=posteriors,
        adoption_shape=config.calibration.shape,
        level_model=model,
        grey_latest_year=latest_year,
    )
