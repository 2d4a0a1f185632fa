"""The keicast pipeline as a Prefect flow: the table of contents of one run, read top to bottom.

validate the request -> add the actuals inbox -> load evidence (reference series joined with the actuals) ->
preflight (warehouse, output folders) -> open the run -> scan new articles -> gate history -> calibrate the
adoption path on US analogs, fit the class share, backtest and fit the reference class of past launches -> gate
calibration -> backtest the adoption chain -> gate it -> gate the reference class -> assemble assumptions -> gate
them -> fit the baseline market -> gate its skill -> simulate scenarios (Monte Carlo chunks, sensitivity) -> gate
forecasts -> the run's vintage and the record of every earlier one (keicast.record) -> commit (one transaction) ->
publish -> finish -> Prefect artifacts

What each step computes is written once in keicast.steps; how the run is held together (the run lock, its row
in ``runs``, a failure recorded with the gate results so far, stage timings, the task runner, cache keys) lives in
keicast.runner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from flows.articles import ingest_new
from keicast import record, runner, steps
from keicast.config import RunRequest, Settings, load_settings
from keicast.errors import transient
from keicast.runner import (
    IO_RETRIES,
    RunRecord,
    Step,
    baseline_key,
    progress_bar,
    recorded,
    sensitivity_key,
    task_runner,
)
from models import montecarlo
from models.scenario import ScenarioSpec

validate = Step(load_settings, "validate-request", stage="load_evidence")
ingest_actuals = Step(record.ingest_inbox, "ingest-actuals", stage="load_evidence")
load_evidence = Step(steps.load_evidence, "load-evidence", **IO_RETRIES)
preflight = Step(runner.preflight, "preflight", stage="load_evidence")
open_run = Step(runner.open_run, "open-run", stage="load_evidence")
scan_articles = Step(ingest_new, "ingest-articles", as_task=False)
gate_history = Step(steps.gate_history, "gate-history", stage="gates")
calibrate = Step(steps.calibrate, "calibrate-adoption", stage="calibrate")
fit_class_shares = Step(steps.fit_class_shares, "fit-class-share", stage="calibrate")
calibrate_reference = Step(steps.calibrate_reference_class, "calibrate-reference-class", stage="calibrate")
gate_calibration = Step(steps.gate_calibration, "gate-calibration", stage="gates")
backtest_adoption = Step(steps.backtest_adoption_chain, "backtest-adoption")
gate_adoption = Step(steps.gate_adoption, "gate-adoption", stage="gates")
gate_reference = Step(steps.gate_reference, "gate-reference-class", stage="gates")
assemble_assumptions = Step(steps.assemble_assumptions, "assemble-assumptions")
scenario_specs = Step(steps.scenario_specs, "scenario-specs", stage="assemble_assumptions")
gate_assumptions = Step(steps.gate_assumptions, "gate-assumptions", stage="gates")
fit_baseline = Step(steps.fit_baseline, "fit-baseline", cache_key_fn=baseline_key)
gate_baseline = Step(steps.gate_baseline, "gate-baseline", stage="gates")
gate_forecasts = Step(steps.gate_forecasts, "gate-forecasts", stage="gates")
store_vintage = Step(record.live_vintage, "vintage", stage="commit")
score_record = Step(record.run_scores, "score-record", stage="commit")
run_outputs = Step(steps.run_outputs, "run-outputs", stage="commit")
commit = Step(runner.commit, "commit", **IO_RETRIES)
# publishing retries once: a transient file-system fault; a keicast error (bad target) is not retried
publish = Step(runner.publish, "publish", retries=1, retry_delay_seconds=[2], retry_condition_fn=transient)
finish = Step(runner.finish, "finish", stage="publish", **IO_RETRIES)
record_artifacts = Step(runner.record_artifacts, "record-artifacts")
analyse_sensitivity = Step(steps.analyse_sensitivity, "sensitivity-{spec.name}", cache_key_fn=sensitivity_key)


@flow(name="keicast-pipeline", log_prints=True)
@recorded
def keicast_pipeline(request: RunRequest = RunRequest(), run_id: str | None = None) -> str:
    """Forecast kei-car demand for the requested scenarios and publish the run (a sweep: store its comparison).
    Returns the run id."""
    settings = validate(request)
    ingest_actuals(settings)
    evidence = load_evidence(settings)
    preflight(settings, request)
    run = open_run(settings, request, run_id)
    scan_articles(settings)
    gated = gate_history(evidence.history, settings)
    calibration = calibrate(evidence.history, settings)
    class_share = fit_class_shares(evidence, settings)
    reference = calibrate_reference(settings)
    gated = gate_calibration(calibration, settings, gated)
    backtests = backtest_adoption(evidence.history, settings)
    gated = gate_adoption(backtests, settings, gated)
    gated = gate_reference(reference, settings, gated)
    table = assemble_assumptions(settings, calibration.fit, class_share, reference)
    specs = scenario_specs(settings, table, calibration.fit, evidence.history, reference)
    gated = gate_assumptions(table, specs, settings, gated)
    market = fit_baseline(evidence.history, settings)
    gated = gate_baseline(market, settings, gated)
    simulation = simulate(settings, specs, market.paths, run)
    gated = gate_forecasts(simulation, table, settings, gated, specs)
    vintage = store_vintage(settings, evidence.history, market, specs, run)
    scores = score_record(settings, evidence.history, run)
    outputs = run_outputs(
        calibration, class_share, backtests, reference, table, market, simulation, gated, run.sweep, vintage, settings
    )
    commit(settings, run, outputs, evidence, scores)
    report = publish(settings, run)
    finish(settings, run)
    record_artifacts(settings, run, report, simulation.forecasts)
    return run.run_id


@task(task_run_name="simulate-{spec.name}-{batch}", cache_policy=NO_CACHE)
def simulate_chunks(
    spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, sizes: dict[int, int], seed: int, batch: int
) -> dict[int, montecarlo.ChunkSummary]:
    """A batch of Monte Carlo chunks of one scenario; ``batch`` numbers it in the run's UI."""
    return steps.simulate_chunks(spec, paths, years, sizes, seed)


def _simulate(settings: Settings, specs: list[ScenarioSpec], paths: np.ndarray, run: RunRecord) -> steps.Simulation:
    """Monte Carlo chunks of every scenario (and, for a published run, their sensitivity), fanned out on the
    configured task runner."""
    cfg = settings.run
    years = np.arange(cfg.horizon.start, cfg.horizon.end + 1)
    sizes = montecarlo.chunk_sizes(cfg.draws, cfg.chunk_size)
    batches = montecarlo.chunk_batches(len(sizes), len(specs), settings.config.task_runner.workers)
    common = {"paths": paths, "years": years, "seed": cfg.seed}
    with task_runner(settings.config.task_runner) as pool:
        work = {
            pool.submit(simulate_chunks, {**common, "spec": spec, "sizes": {i: sizes[i] for i in b}, "batch": n}): s
            for s, spec in enumerate(specs)
            for n, b in enumerate(batches, start=1)
        }
        sensitivity = analyse_sensitivity.with_storage(settings)
        arguments = [{"spec": spec, "paths": paths, "years": years, "settings": settings} for spec in specs]
        sens = [pool.submit(sensitivity, a) for a in arguments] if run.publishing else []
        done: list[dict[int, montecarlo.ChunkSummary]] = [{} for _ in specs]
        with progress_bar(f"Monte Carlo, {len(specs)} scenario(s)") as bar:
            job = bar.add_task("chunks", total=len(specs) * len(sizes))
            for future in as_completed(list(work)):
                summaries = future.result()
                done[work[future]].update(summaries)
                bar.advance(job, len(summaries))
        combined = [
            montecarlo.combine_chunks(spec.name, years, [done[s][i] for i in range(len(sizes))])
            for s, spec in enumerate(specs)
        ]
        forecasts = pd.concat(combined, ignore_index=True)
        sensitivity_table = pd.concat([f.result() for f in sens], ignore_index=True) if sens else pd.DataFrame()
    return steps.Simulation(forecasts, sensitivity_table)


simulate = Step(_simulate, "simulate", stage="simulate_and_sensitivity", as_task=False)
