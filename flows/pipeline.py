"""The keicast pipeline as a Prefect flow: one task per step (keicast.steps), read top to bottom.

load evidence -> scan new articles -> gate history -> calibrate on US analogs (adoption path, class share) ->
gate calibration -> backtest the adoption chain on past launches -> gate adoption -> assemble assumptions ->
gate assumptions -> fit baseline market -> simulate scenarios (Monte Carlo chunks) and sensitivity -> gate
forecasts -> commit (one transaction) -> publish report and exports

How it runs (run ids, stage timings, the task runner, cache keys, flow run labels) lives in keicast.runner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run

from flows.articles import ingest
from keicast import gates, record, steps, warehouse
from keicast.articles import pending
from keicast.calibration import class_share_tables
from keicast.compare import headline_cells, sweep_comparison
from keicast.config import RunRequest, Settings, settings_for
from keicast.errors import GateFailed, transient
from keicast.faults import pause_point
from keicast.publish import check_targets, publish_run
from keicast.runner import (
    CACHED,
    IO_RETRIES,
    Stopwatch,
    baseline_key,
    calibration_key,
    label_flow_run,
    new_run_id,
    outcome,
    progress_bar,
    result_cache,
    sensitivity_key,
    task_runner,
    warm_dask_workers,
)
from keicast.steps import Calibration, Evidence
from models import montecarlo
from models.class_share import ClassShareFit
from models.scenario import ScenarioSpec

load_evidence = task(steps.load_evidence, task_run_name="load-evidence", cache_policy=NO_CACHE, **IO_RETRIES)
calibrate = task(steps.calibrate, task_run_name="calibrate-adoption", cache_key_fn=calibration_key, **CACHED)
fit_class_shares = task(steps.fit_class_shares, task_run_name="fit-class-share", cache_policy=NO_CACHE)
backtest_adoption = task(steps.backtest_adoption_chain, task_run_name="backtest-adoption", cache_policy=NO_CACHE)
assemble_assumptions = task(steps.assemble_assumptions, task_run_name="assemble-assumptions", cache_policy=NO_CACHE)
fit_baseline = task(steps.fit_baseline, task_run_name="fit-baseline", cache_key_fn=baseline_key, **CACHED)
ingest_actuals = task(record.ingest_inbox, task_run_name="ingest-actuals", cache_policy=NO_CACHE)
store_vintage = task(record.live_vintage, task_run_name="vintage", cache_policy=NO_CACHE)
score_record = task(record.run_scores, task_run_name="score-record", cache_policy=NO_CACHE)
analyse_sensitivity = task(
    steps.analyse_sensitivity, task_run_name="sensitivity-{spec.name}", cache_key_fn=sensitivity_key, **CACHED
)


@task(task_run_name="simulate-{spec.name}-{batch}", cache_policy=NO_CACHE)
def simulate_chunks(
    spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, sizes: dict[int, int], seed: int, batch: int
) -> dict[int, montecarlo.ChunkSummary]:
    """A batch of Monte Carlo chunks of one scenario; ``batch`` numbers it in the run's UI."""
    return steps.simulate_chunks(spec, paths, years, sizes, seed)


@task(task_run_name="gate-{stage}", cache_policy=NO_CACHE)
def gate(stage: str, frames: dict[str, pd.DataFrame], settings: Settings, results: list[pd.DataFrame]) -> None:
    """Validate a stage and keep its results; on failure raise GateFailed (the run ends failed_gate)."""
    checked = steps.check_gate(stage, frames, settings)
    results.append(checked)
    gates.raise_on_failure(stage, checked, settings.run.reports_dir / "data_docs")
    get_run_logger().info("gate %s passed (%d expectations)", stage, len(checked))


@task(task_run_name="commit", cache_policy=NO_CACHE, **IO_RETRIES)
def commit(settings: Settings, run_id: str, outputs: dict, snapshot: dict, timings: dict, status: str) -> None:
    """Write the run's outputs and its status (publishing, or succeeded for a sweep), in one transaction."""
    run = settings.run
    warehouse.commit_run(run.warehouse, run_id, outputs, snapshot, run.lock_timeout_seconds, timings, status)


# publishing retries once: a transient file-system fault; a keicast error (bad target) is not retried
publish = task(
    publish_run,
    task_run_name="publish",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=[2],
    retry_condition_fn=transient,
)


@task(task_run_name="record-artifacts", cache_policy=NO_CACHE)
def record_artifacts(settings: Settings, run_id: str, report: Path, forecasts: pd.DataFrame) -> None:
    """Prefect artifacts with stable keys: the headline table and the report's markdown (readable on any host)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    start, end = settings.run.headline_window
    headline = headline_cells(forecasts, end)
    rows = [
        {"scenario": r.scenario, "P10": round(r.p10), "P50": round(r.p50), "P90": round(r.p90)}
        for r in headline.itertuples()
    ]
    description = f"Cumulative kei sales {start}-{end}, run {run_id}"
    create_table_artifact(key="keicast-headline", table=rows, description=description)
    markdown = (report.parent / "report.md").read_text(encoding="utf-8")
    create_markdown_artifact(key="keicast-summary", markdown=markdown, description=f"keicast run {run_id}")


# ---------------------------------------------------------------------------------------------- the flow
@flow(name="keicast-pipeline", log_prints=True)
def keicast_pipeline(request: RunRequest = RunRequest(), run_id: str | None = None) -> str:
    """Forecast kei-car demand for the requested scenarios and publish the run (a sweep: store its comparison).
    Returns the run id."""
    settings = settings_for(request)
    run_id = run_id or new_run_id()
    run, sweep = settings.run, request.sweep
    label_flow_run(run_id, list(settings.scenarios), sweep is not None)
    clock = Stopwatch()
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        evidence = preflight(settings, clock, publishing=sweep is None)
        warehouse.begin_run(run.warehouse, run_id, settings, str(flow_run.get_id() or ""), run.lock_timeout_seconds)
        try:
            factors = {name: point.factors for name, point in sweep.items()} if sweep else None
            tables = forecast(settings, run_id, evidence, clock, factors)
            return record(settings, run_id, evidence, tables, clock, publishing=sweep is None)
        except GateFailed:
            raise
        except BaseException as exc:
            status, message = outcome(exc)
            warehouse.fail_run(run.warehouse, run_id, status, message, None, run.lock_timeout_seconds)
            raise


def preflight(settings: Settings, clock: Stopwatch, publishing: bool) -> Evidence:
    """Everything that can refuse a run, checked before it writes a row or scans an article: the warehouse
    reads end to end, the reference files parse and the baseline has enough history, the output folders can be
    written and their ``latest`` is keicast's link."""
    warehouse.check(settings.run.warehouse, settings.run.lock_timeout_seconds)
    with clock.stage("ingest_actuals"):
        ingest_actuals(settings)
    with clock.stage("load_evidence"):
        evidence = load_evidence(settings)
    if publishing:
        check_targets(settings)
    return evidence


def forecast(
    settings: Settings, run_id: str, evidence: Evidence, clock: Stopwatch, sweep: dict[str, dict] | None
) -> dict[str, pd.DataFrame]:
    """Every step from the article scan to the forecasts gate; returns the run's tables, named as the warehouse
    stores them. A failed gate records the run as failed_gate with every gate result so far."""
    results: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame] = {}
    gates.preload()  # GX imports in the background while articles and evidence load
    warm_dask_workers(settings.config.task_runner)
    try:
        with clock.stage("ingest_articles"):
            ingest_articles(settings)
        with clock.stage("load_gates"):
            gates.ready()
        calibration, class_fit = calibrate_and_backtest(settings, evidence, clock, results, tables)
        with clock.stage("assemble_assumptions"):
            table = assemble_assumptions(settings, calibration.fit, class_fit)
            specs = steps.scenario_specs(settings, table, calibration.fit, evidence.history)
        pause_point("assumptions")
        with clock.stage("gates"):
            gate("assumptions", steps.assumption_gate_frames(table, specs), settings, results)
        with clock.stage("fit_baseline"):
            market = fit_baseline.with_options(result_storage=result_cache(settings))(evidence.history, settings)
        with clock.stage("simulate_and_sensitivity"):
            forecasts, sensitivity = simulate(settings, specs, market.paths, sweep is None)
        with clock.stage("gates"):
            frames = steps.forecast_gate_frames(forecasts, table, sensitivity, settings, specs)
            gate("forecasts", frames, settings, results)
    except GateFailed as failure:
        run = settings.run
        checked = pd.concat(results)
        warehouse.fail_run(run.warehouse, run_id, "failed_gate", str(failure), checked, run.lock_timeout_seconds)
        raise
    tables.update(assumptions=table, forecasts=forecasts, backtests=market.backtests, sensitivity=sensitivity)
    if sweep is None:  # a vintage: what this run forecast, scored by later runs; the record scores earlier ones
        tables.update(store_vintage(settings, evidence.history, market.paths, specs, market.model))
        tables["scores"] = score_record(settings, evidence.history)
    tables["gate_results"] = pd.concat(results)
    if sweep is not None:
        tables["sweep_results"] = sweep_comparison(forecasts, sweep, settings.run.headline_window[1])
    return tables


def ingest_articles(settings: Settings) -> None:
    """Scan the article inbox when it holds anything new or changed; otherwise skip it at once (no heavy imports)."""
    inbox, run = settings.run.articles_dir, settings.run
    if inbox.is_dir() and pending(inbox, warehouse.known_articles(run.warehouse, run.lock_timeout_seconds)):
        ingest(settings, inbox)
    else:
        get_run_logger().info("articles: nothing new in %s", inbox)


def calibrate_and_backtest(
    settings: Settings, evidence: Evidence, clock: Stopwatch, results: list[pd.DataFrame], tables: dict
) -> tuple[Calibration, ClassShareFit]:
    """Gate the history, calibrate on the analogs, gate the fit, backtest the adoption chain and gate it; adds
    their tables to ``tables``."""
    with clock.stage("gates"):
        gate("history", steps.history_gate_frames(evidence.history, settings), settings, results)
    with clock.stage("calibrate"):
        calibration = calibrate.with_options(result_storage=result_cache(settings))(evidence.history, settings)
        class_fit = fit_class_shares(evidence, settings)
    with clock.stage("gates"):
        gate("calibration", steps.calibration_gate_frames(calibration), settings, results)
    with clock.stage("backtest_adoption"):
        backtests = backtest_adoption(evidence.history, settings)
    with clock.stage("gates"):
        gate("adoption", steps.adoption_gate_frames(backtests, settings), settings, results)
    tables.update(calibration=calibration.fits, calibration_fit=calibration.curves)
    tables.update(adoption_parameters=calibration.parameters, adoption_backtests=backtests.cases)
    tables.update(adoption_backtest_paths=backtests.bands)
    tables["fit_diagnostics"] = pd.concat([calibration.diagnostics, backtests.diagnostics], ignore_index=True)
    tables["class_share_fit"], tables["class_share_analogs"] = class_share_tables(class_fit)
    return calibration, class_fit


def simulate(
    settings: Settings, specs: list[ScenarioSpec], paths: np.ndarray, with_sensitivity: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monte Carlo chunks (and sensitivity) of every scenario, fanned out on the configured task runner."""
    run = settings.run
    years = np.arange(run.horizon.start, run.horizon.end + 1)
    sizes = montecarlo.chunk_sizes(run.draws, run.chunk_size)
    batches = montecarlo.chunk_batches(len(sizes), len(specs), settings.config.task_runner.workers)
    sensitivity_task = analyse_sensitivity.with_options(result_storage=result_cache(settings))
    with task_runner(settings.config.task_runner) as runner:
        common = {"paths": paths, "years": years, "seed": run.seed}
        work = {
            runner.submit(
                simulate_chunks, {**common, "spec": spec, "sizes": {i: sizes[i] for i in b}, "batch": n}
            ): spec.name
            for spec in specs
            for n, b in enumerate(batches, start=1)
        }
        arguments = [{"spec": spec, "paths": paths, "years": years, "settings": settings} for spec in specs]
        sens = [runner.submit(sensitivity_task, a) for a in arguments] if with_sensitivity else []
        done: dict[str, dict[int, montecarlo.ChunkSummary]] = {spec.name: {} for spec in specs}
        with progress_bar(f"Monte Carlo, {len(specs)} scenario(s)") as bar:
            job = bar.add_task("chunks", total=len(specs) * len(sizes))
            for future in as_completed(list(work)):
                summaries = future.result()
                done[work[future]].update(summaries)
                bar.advance(job, len(summaries))
                pause_point("monte_carlo")
        chunks = {spec.name: [done[spec.name][i] for i in range(len(sizes))] for spec in specs}
        combined = [montecarlo.combine_chunks(name, years, c) for name, c in chunks.items()]
        forecasts = pd.concat(combined, ignore_index=True)
        sensitivity = pd.concat([f.result() for f in sens], ignore_index=True) if sens else pd.DataFrame()
    return forecasts, sensitivity


def record(
    settings: Settings, run_id: str, evidence: Evidence, tables: dict, clock: Stopwatch, publishing: bool
) -> str:
    """Commit the run with its evidence snapshot, publish it (not a sweep), and mark it succeeded."""
    run = settings.run
    sources = pd.DataFrame([s.model_dump() for s in settings.register.sources]).rename(columns={"id": "source_id"})
    snapshot = {"sources": sources, "history": evidence.history, "history_sources": evidence.sources}
    if "scores" in tables:  # the record is derived: replaced whole, like the history it is scored against
        snapshot["scores"] = tables["scores"]
    with clock.stage("commit"):
        commit(settings, run_id, tables, snapshot, clock.seconds, "publishing" if publishing else "succeeded")
    if publishing:
        with clock.stage("publish"):
            report = publish(settings, run_id)
    warehouse.finish_run(run.warehouse, run_id, clock.seconds, run.lock_timeout_seconds)
    if publishing:
        try:  # artifacts are a view in the Prefect UI, not part of publishing: their failure fails nothing
            record_artifacts(settings, run_id, report, tables["forecasts"])
        except Exception as exc:  # noqa: BLE001
            get_run_logger().warning("Prefect artifacts not recorded: %s", exc)
    get_run_logger().info("stage timings (s): %s", clock.seconds)
    return run_id
