"""Each pipeline step written once, as a plain function of validated settings and the step's inputs, returning
a value (a frame or a frozen dataclass).

The flow (flows/pipeline.py) wraps these as Prefect tasks; the CLI (`validate`, `assumptions`, `backtest`),
the benches and the tests call them directly. None of them writes the warehouse; only the adoption fits write
their own disk cache (keicast.cache).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from keicast import gates, validator
from keicast.actuals import join_history, stored_actuals
from keicast.assumptions import assemble, scenario_spec
from keicast.calibration import (
    AdoptionFit,
    adoption_parameters,
    analog_frame,
    analog_points,
    backtest_adoption,
    calibration_table,
    class_share_tables,
    diagnostics_row,
    fit_adoption,
    fit_class_share,
    refinements,
)
from keicast.compare import sweep_comparison
from keicast.config import Settings
from keicast.history import baseline_history, load_history, load_tables, series
from keicast.reference_class import ReferenceClass, calibrate_reference, reference_refinements
from models import baseline, montecarlo, sensitivity
from models.class_share import ClassShareFit
from models.scenario import GREY_KEYS, STATUS_QUO_ACCESS, ScenarioSpec, base_buyer_price

GREY_IMPORTS = "us_kei_truck_imports_annual"  # the reference series of grey-import counts (and their actuals)
MAX_SOBOL_SAMPLES = 262_144  # Sobol base samples are doubled up to this cap while a half-width exceeds the gate
JAPAN_WHAT_IF = (0.05, 0.6)  # Japan's kei share far outside its 2003-2025 range, to show the weight it carries


@dataclass(frozen=True)
class Evidence:
    """The reference history (series, year, value, unit), the reference tables, and the source notes of both."""

    history: pd.DataFrame
    sources: pd.DataFrame
    tables: dict[str, pd.DataFrame]


def load_evidence(settings: Settings) -> Evidence:
    """Read the reference folder joined with the stored actuals (keicast.actuals); the baseline series must have
    enough history (ConfigError otherwise)."""
    history, sources = load_history(settings.run.reference_dir)
    history = join_history(history, stored_actuals(settings.run.warehouse, settings.run.lock_timeout_seconds))
    tables, table_sources = load_tables(settings.run.reference_dir)
    baseline_history(history, settings)
    return Evidence(history, pd.concat([sources, table_sources], ignore_index=True), tables)


@dataclass(frozen=True)
class Calibration:
    """The adoption fit on the US analogs and its tables: per-analog fit rows, fitted curves, parameter quantiles,
    and the fit's sampler diagnostics (one fit_diagnostics row)."""

    fit: AdoptionFit
    fits: pd.DataFrame
    curves: pd.DataFrame
    parameters: pd.DataFrame

    @property
    def diagnostics(self) -> pd.DataFrame:
        return pd.DataFrame([diagnostics_row(self.fit, "calibration")])


def calibrate(history: pd.DataFrame, settings: Settings) -> Calibration:
    """Hierarchical Bayesian fit of the adoption path to the analog series (cached on disk by the fit itself)."""
    cal = settings.config.calibration
    frame = analog_frame(history, cal.analogs, settings.config.baseline.series)
    fit = fit_adoption(frame, cal.analogs, cal)
    return Calibration(fit, *calibration_table(fit, frame), adoption_parameters(fit, cal))


def fit_class_shares(evidence: Evidence, settings: Settings) -> ClassShareFit:
    """The class-share fit on the US small-car analogs (the US anchor and the price coefficient)."""
    points = analog_points(evidence.tables, evidence.history, settings.config.baseline.series)
    return fit_class_share(points, settings.register)


def calibrate_reference_class(settings: Settings) -> ReferenceClass:
    """The reference class of past launches: family hold-out backtests of every shape (disk-cached), the chosen
    shape and its fit (keicast.reference_class)."""

    def admissible(cases: pd.DataFrame, shape: str, converged: bool) -> bool:
        """Whether the reference gate passes ``shape`` (its own suite, without Data Docs: only the chosen shape is
        gated for the record)."""
        frames = gates.reference_frames(cases, shape, converged)
        params = gates.parameters(settings.config)
        return bool(validator.check("reference", frames, params, None).success.all())

    return calibrate_reference(settings.run.reference_class_dir, settings.config.calibration, admissible)


@dataclass(frozen=True)
class AdoptionBacktests:
    """Every compared shape's backtest cases, the configured shape's yearly bands, and every fit's diagnostics."""

    cases: pd.DataFrame
    bands: pd.DataFrame
    diagnostics: pd.DataFrame


def backtest_adoption_chain(history: pd.DataFrame, settings: Settings) -> AdoptionBacktests:
    """Post- and pre-launch backtests of the adoption chain on every analog, per compared shape (disk-cached)."""
    cal, market = settings.config.calibration, settings.config.baseline.series
    frame = analog_frame(history, [*cal.analogs, *cal.backtest_also], market)
    shapes = dict.fromkeys([cal.shape, *cal.compare_shapes])
    results = {shape: backtest_adoption(frame, cal, shape) for shape in shapes}
    cases = pd.concat([r[0].assign(shape=shape) for shape, r in results.items()], ignore_index=True)
    diagnostics = pd.concat([r[2] for r in results.values()], ignore_index=True)
    return AdoptionBacktests(cases, results[cal.shape][1].assign(shape=cal.shape), diagnostics)


def assemble_assumptions(
    settings: Settings, fit: AdoptionFit, class_fit: ClassShareFit, reference: ReferenceClass | None = None
) -> pd.DataFrame:
    """One row per scenario x key after calibration refinement (adoption, class share, reference class) and
    overrides."""
    refined = refinements(fit, class_fit, settings.register)
    if _needs(settings, reference) is not None:
        refined += reference_refinements(reference, settings.config.scenarios, settings.config.calibration)
    return assemble(settings.register, settings.config, settings.scenarios, settings.overrides, refined)


def scenario_specs(
    settings: Settings,
    table: pd.DataFrame,
    fit: AdoptionFit,
    history: pd.DataFrame | None = None,
    reference: ReferenceClass | None = None,
) -> list[ScenarioSpec]:
    """The kernel's view of every chosen scenario; with the ``history``, the grey-import curve runs through its
    latest count (a newer actual than the register's)."""
    grey_count = None
    if history is not None:
        counts = series(history, GREY_IMPORTS)
        grey_count = (int(counts.index[-1]), float(counts.iloc[-1])) if len(counts) else None
    config = settings.config
    return [
        scenario_spec(name, config, table, fit, grey_count, _needs(settings, reference)) for name in settings.scenarios
    ]


def _needs(settings: Settings, reference: ReferenceClass | None) -> ReferenceClass | None:
    """The reference class, which the reference-class level model cannot do without (its keys would otherwise be
    drawn one by one from the register's ranges)."""
    if reference is None and settings.config.calibration.model == "reference_class":
        raise ValueError("calibration.model is reference_class: pass the reference class (calibrate_reference_class)")
    return reference


@dataclass(frozen=True)
class Calibrated:
    """Calibration and the assumption table it refines: what `keicast assumptions` / `validate` show."""

    calibration: Calibration
    class_share: ClassShareFit
    reference: ReferenceClass
    table: pd.DataFrame

    def specs(self, settings: Settings) -> list[ScenarioSpec]:
        return scenario_specs(settings, self.table, self.calibration.fit, reference=self.reference)


def calibrate_assumptions(settings: Settings, evidence: Evidence) -> Calibrated:
    """Calibrate and assemble in one call: the steps the pipeline runs as separate (gated, cached) tasks."""
    calibration = calibrate(evidence.history, settings)
    class_fit = fit_class_shares(evidence, settings)
    reference = calibrate_reference_class(settings)
    table = assemble_assumptions(settings, calibration.fit, class_fit, reference)
    return Calibrated(calibration, class_fit, reference, table)


# ---------------------------------------------------------------------------------------------- gates
def check_gate(stage: str, frames: dict[str, pd.DataFrame], settings: Settings) -> pd.DataFrame:
    """Validate a stage's frames against its suite; one row per expectation (Data Docs written on failure)."""
    return validator.check(stage, frames, gates.parameters(settings.config), docs_dir(settings))


def docs_dir(settings: Settings):
    return settings.run.reports_dir / "data_docs"


def _gate(stage: str, frames: dict[str, pd.DataFrame], settings: Settings, earlier: pd.DataFrame | None):
    return gates.passed(stage, check_gate(stage, frames, settings), docs_dir(settings), earlier)


def gate_history(history: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The history gate; returns its results, the run's first (GateFailed when an expectation fails)."""
    return _gate("history", history_gate_frames(history, settings), settings, None)


def gate_calibration(calibration: Calibration, settings: Settings, earlier: pd.DataFrame) -> pd.DataFrame:
    """The calibration gate; returns the gate results so far."""
    return _gate("calibration", calibration_gate_frames(calibration), settings, earlier)


def gate_adoption(backtests: AdoptionBacktests, settings: Settings, earlier: pd.DataFrame) -> pd.DataFrame:
    """The adoption-backtest gate; returns the gate results so far."""
    return _gate("adoption", adoption_gate_frames(backtests, settings), settings, earlier)


def gate_reference(reference: ReferenceClass, settings: Settings, earlier: pd.DataFrame) -> pd.DataFrame:
    """The reference-class backtest gate (calibration, sharpness, both benchmarks); returns the gate results so
    far."""
    return _gate("reference", reference_gate_frames(reference), settings, earlier)


def gate_baseline(market: Baseline, settings: Settings, earlier: pd.DataFrame) -> pd.DataFrame:
    """The baseline gate: the market model's honest skill against naive (a fixed model's own, else the nested
    skill of choosing it) is at least ``gates.min_baseline_skill``; returns the gate results so far."""
    return _gate("baseline", baseline_gate_frames(market, settings), settings, earlier)


def gate_assumptions(
    table: pd.DataFrame, specs: list[ScenarioSpec], settings: Settings, earlier: pd.DataFrame
) -> pd.DataFrame:
    """The assumptions gate; returns the gate results so far."""
    return _gate("assumptions", assumption_gate_frames(table, specs), settings, earlier)


def gate_forecasts(
    simulation: Simulation,
    table: pd.DataFrame,
    settings: Settings,
    earlier: pd.DataFrame,
    specs: list[ScenarioSpec] = (),
) -> pd.DataFrame:
    """The forecasts gate; returns every gate result of the run."""
    frames = forecast_gate_frames(simulation.forecasts, table, simulation.sensitivity, settings, specs)
    return _gate("forecasts", frames, settings, earlier)


def calibration_gate_frames(calibration: Calibration) -> dict[str, pd.DataFrame]:
    return {"calibration": calibration.fits, "fit_diagnostics": calibration.diagnostics}


def adoption_gate_frames(backtests: AdoptionBacktests, settings: Settings) -> dict[str, pd.DataFrame]:
    frames = gates.adoption_frames(backtests.cases, settings.config.calibration.shape)
    return {**frames, "fit_diagnostics": backtests.diagnostics}


def reference_gate_frames(reference: ReferenceClass) -> dict[str, pd.DataFrame]:
    return gates.reference_frames(reference.cases, reference.fit.shape, reference.fit.converged)


def baseline_gate_frames(market: Baseline, settings: Settings) -> dict[str, pd.DataFrame]:
    cfg = settings.config.baseline
    return gates.baseline_frames(market.backtests, cfg.max_horizon, cfg.model != "auto")


def history_gate_frames(history: pd.DataFrame, settings: Settings) -> dict[str, pd.DataFrame]:
    return gates.history_frames(history, [settings.config.baseline.series])


def assumption_gate_frames(table: pd.DataFrame, specs: list[ScenarioSpec]) -> dict[str, pd.DataFrame]:
    return gates.assumption_frames(table, {spec.name: base_buyer_price(spec) for spec in specs})


def forecast_gate_frames(
    forecasts: pd.DataFrame,
    table: pd.DataFrame,
    sensitivity_table: pd.DataFrame,
    settings: Settings,
    specs: list[ScenarioSpec] = (),
) -> dict[str, pd.DataFrame]:
    """The forecast suites' frames; the status quo is checked against the latest grey-import count each spec's
    curve runs through (a newer actual's, else the register's)."""
    scenarios = settings.config.scenarios
    status_quo = tuple(n for n in settings.scenarios if scenarios[n].road_access == STATUS_QUO_ACCESS)
    latest = GREY_KEYS["grey_latest"]
    counts = {spec.name: spec.ranges[latest].base for spec in specs if latest in spec.ranges}
    rows = (table.key == latest) & table.scenario.isin(list(counts))
    if rows.any():
        table = table.copy()
        table.loc[rows, "value"] = table.loc[rows, "scenario"].map(counts)
    return gates.forecast_frames(forecasts, table, settings.run.horizon.start, status_quo, sensitivity_table)


def check_inputs(settings: Settings, evidence: Evidence, calibrated: Calibrated) -> pd.DataFrame:
    """The input gates (history, calibration, assumptions) in one table: `keicast validate`."""
    frames = {
        "history": history_gate_frames(evidence.history, settings),
        "calibration": calibration_gate_frames(calibrated.calibration),
        "assumptions": assumption_gate_frames(calibrated.table, calibrated.specs(settings)),
    }
    return pd.concat([check_gate(stage, f, settings) for stage, f in frames.items()], ignore_index=True)


# ---------------------------------------------------------------------------------------------- market
def fit_market(history: pd.DataFrame, settings: Settings) -> baseline.BaselineMarket:
    """Backtest the baseline candidates on the market series and choose one."""
    cfg = settings.config.baseline
    return baseline.BaselineMarket(**cfg.model_dump(exclude={"series"})).fit(baseline_history(history, settings))


@dataclass(frozen=True)
class Baseline:
    model: str
    backtests: pd.DataFrame
    paths: np.ndarray


def fit_baseline(history: pd.DataFrame, settings: Settings) -> Baseline:
    """The chosen baseline model, its backtests and simulated market paths over the horizon (a horizon year that
    already has an actual is that actual in every path)."""
    run = settings.run
    market = fit_market(history, settings)
    observed = baseline_history(history, settings)
    last = int(observed.index.max())
    paths = market.simulate(run.horizon.end - last, run.market_paths, run.seed)
    known = observed[observed.index >= run.horizon.start].to_numpy(dtype=float)  # horizon years with an actual
    paths = np.hstack([np.tile(known, (len(paths), 1)), paths])
    backtests = market.backtests_.assign(series=settings.config.baseline.series)
    return Baseline(market.model_, backtests, paths[:, -(run.horizon.end - run.horizon.start + 1) :])


# ---------------------------------------------------------------------------------------------- scenarios
def simulate_chunks(
    spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, sizes: dict[int, int], seed: int
) -> dict[int, montecarlo.ChunkSummary]:
    """A batch of Monte Carlo chunks (index -> draws) of one scenario."""
    return {index: montecarlo.simulate_chunk(spec, paths, years, size, seed, index) for index, size in sizes.items()}


def analyse_sensitivity(spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, settings: Settings) -> pd.DataFrame:
    """Tornado and Sobol indices of cumulative kei sales over the headline window, its mean (checked against the
    Monte Carlo's by the forecasts gate), and Japan's share what-if.

    Sobol base samples double (half-widths shrink as 1/sqrt(N)) until within the gate's limit or at the cap.
    """
    run = settings.run
    median_market = np.median(paths, axis=0)
    window = tuple(run.headline_window)
    swings = sensitivity.tornado(spec, median_market, years, window).assign(method="tornado")
    samples, limit = run.sobol_base_samples, settings.config.gates.max_sobol_halfwidth
    sobol = sensitivity.sobol_indices(spec, median_market, years, window, samples, run.seed)
    while sobol[["s1_conf", "st_conf"]].max().max() > limit and samples < MAX_SOBOL_SAMPLES:
        samples *= 2
        sobol = sensitivity.sobol_indices(spec, median_market, years, window, samples, run.seed)
    means = sensitivity.headline_means(spec, paths, years, window, run.draws, seed=run.seed)
    parts = [swings, sobol.assign(method="sobol", samples=samples), means.assign(method="mean")]
    if spec.has_policy:
        r = spec.ranges["japan.kei_share"]
        shares = sorted({*JAPAN_WHAT_IF, r.low, r.base, r.high})
        what_if = sensitivity.what_if(spec, "japan.kei_share", shares, median_market, years, window)
        parts.append(what_if.assign(method="what_if"))
    return pd.concat(parts, ignore_index=True).assign(scenario=spec.name)


@dataclass(frozen=True)
class Simulation:
    """The Monte Carlo forecasts of every scenario, and their sensitivity analysis (empty for a sweep)."""

    forecasts: pd.DataFrame
    sensitivity: pd.DataFrame


# ---------------------------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Vintage:
    """What a published run forecast of the series actuals arrive for (keicast.record): the data cut-off per
    series and a P01-P99 quantile grid per forecast year. Empty for a sweep."""

    vintages: pd.DataFrame
    quantiles: pd.DataFrame

    @classmethod
    def empty(cls) -> Vintage:
        return cls(pd.DataFrame(), pd.DataFrame())


@dataclass(frozen=True)
class RunOutputs:
    """Everything a run commits, one field per warehouse run table (warehouse.RUN_TABLES)."""

    calibration: pd.DataFrame
    calibration_fit: pd.DataFrame
    adoption_parameters: pd.DataFrame
    adoption_backtests: pd.DataFrame
    adoption_backtest_paths: pd.DataFrame
    fit_diagnostics: pd.DataFrame
    class_share_fit: pd.DataFrame
    class_share_analogs: pd.DataFrame
    reference_launches: pd.DataFrame
    reference_fit: pd.DataFrame
    reference_backtests: pd.DataFrame
    reference_backtest_paths: pd.DataFrame
    assumptions: pd.DataFrame
    forecasts: pd.DataFrame
    backtests: pd.DataFrame
    sensitivity: pd.DataFrame
    gate_results: pd.DataFrame
    sweep_results: pd.DataFrame
    vintages: pd.DataFrame
    vintage_quantiles: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_outputs(
    calibration: Calibration,
    class_fit: ClassShareFit,
    backtests: AdoptionBacktests,
    reference: ReferenceClass,
    table: pd.DataFrame,
    market: Baseline,
    simulation: Simulation,
    gate_results: pd.DataFrame,
    sweep: dict[str, dict] | None,
    vintage: Vintage,
    settings: Settings,
) -> RunOutputs:
    """The run's tables, named as the warehouse stores them; a sweep adds its comparison of the points, a published
    run its vintage (keicast.record)."""
    fit_share, share_analogs = class_share_tables(class_fit)
    end = settings.run.headline_window[1]
    return RunOutputs(
        calibration=calibration.fits,
        calibration_fit=calibration.curves,
        adoption_parameters=calibration.parameters,
        adoption_backtests=backtests.cases,
        adoption_backtest_paths=backtests.bands,
        fit_diagnostics=pd.concat([calibration.diagnostics, backtests.diagnostics], ignore_index=True),
        class_share_fit=fit_share,
        class_share_analogs=share_analogs,
        **reference.tables(),
        assumptions=table,
        forecasts=simulation.forecasts,
        backtests=market.backtests,
        sensitivity=simulation.sensitivity,
        gate_results=gate_results,
        sweep_results=sweep_comparison(simulation.forecasts, sweep, end) if sweep else pd.DataFrame(),
        vintages=vintage.vintages,
        vintage_quantiles=vintage.quantiles,
    )
