"""The keicast pipeline as a Prefect flow: one task per step, each calling models/ or a keicast module.

scan articles (subflow) -> load evidence -> gate history -> calibrate on US analogs (the adoption path, the class
share) -> gate calibration -> backtest the adoption chain on past launches -> gate adoption -> assemble assumptions
-> gate assumptions -> fit baseline market -> simulate scenarios (Monte Carlo chunks) and sensitivity -> gate
forecasts -> commit (one transaction) -> publish report and exports
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.articles import keicast_articles
from keicast import calibration as calibration_module
from keicast import gates, warehouse
from keicast.articles import pending
from keicast.assumptions import assemble, scenario_spec
from keicast.calibration import (
    AdoptionFit,
    adoption_parameters,
    analog_frame,
    analog_points,
    backtest_adoption,
    calibration_table,
    class_share_tables,
    fit_adoption,
    fit_class_share,
    refinements,
)
from keicast.compare import sweep_comparison
from keicast.config import Settings, TaskRunnerSettings, load_settings
from keicast.errors import GateFailed, KeicastError, transient
from keicast.faults import pause_point
from keicast.history import baseline_history, load_history, load_tables
from models import adoption, baseline, class_share, diffusion, fleet, grey_import, montecarlo, scenario, sensitivity
from models.class_share import ClassShareFit
from models.scenario import STATUS_QUO_ACCESS, ScenarioSpec, base_buyer_price


def new_run_id() -> str:
    """Sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


# I/O steps retry with back-off, except on a keicast error (bad input, damaged warehouse): a retry cannot cure it.
IO_RETRIES = {"retries": 2, "retry_delay_seconds": [1, 5], "retry_condition_fn": transient}


@dataclass(frozen=True)
class Baseline:
    model: str
    backtests: pd.DataFrame
    paths: np.ndarray


@task(task_run_name="load-evidence", cache_policy=NO_CACHE, **IO_RETRIES)
def load_evidence(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Read the reference history (series, year, value, unit), the reference tables and their source notes."""
    history, sources = load_history(settings.run.reference_dir)
    tables, table_sources = load_tables(settings.run.reference_dir)
    return history, pd.concat([sources, table_sources], ignore_index=True), tables


@task(task_run_name="gate-{stage}", cache_policy=NO_CACHE)
def gate(
    stage: str, frames: dict[str, pd.DataFrame], settings: Settings, run_id: str, results: list[pd.DataFrame]
) -> pd.DataFrame:
    """Validate a stage; on failure record the run as failed_gate and raise GateFailed."""
    docs = settings.run.reports_dir / "data_docs"
    checked = gates.check(stage, frames, gates.parameters(settings.config), docs)
    results.append(checked)
    gates.raise_on_failure(stage, checked, docs)
    get_run_logger().info("gate %s passed (%d expectations)", stage, len(checked))
    return checked


def ingest_articles(settings: Settings, run_id: str) -> None:
    """Scan the article inbox (a subflow) when it holds anything new or changed; otherwise skip it at once."""
    inbox, run = settings.run.articles_dir, settings.run
    if inbox.is_dir() and pending(inbox, warehouse.known_articles(run.warehouse, run.lock_timeout_seconds)):
        scan = keicast_articles.with_options(flow_run_name=f"keicast-articles-{run_id}")
        scan(config_path=settings.config_path, locked=True)
    else:
        get_run_logger().info("articles: nothing new in %s", inbox)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _code(*modules) -> str:
    """Source of the modules a cached step runs: editing the maths invalidates the cache."""
    return _digest(*(inspect.getsource(m) for m in modules))


def _calibration_key(_, parameters: dict) -> str:
    config = parameters["settings"].config
    cal = config.calibration
    history = parameters["history"]
    data = history[history.series.isin([*cal.analogs, config.baseline.series])].to_csv(index=False)
    code = _code(diffusion, adoption, calibration_module)
    return "calibrate-" + _digest(data, cal.model_dump_json(), config.baseline.series, code)


def _baseline_key(_, parameters: dict) -> str:
    s = parameters["settings"]
    history = parameters["history"]
    data = history[history.series == s.config.baseline.series].to_csv(index=False)
    run = s.run
    knobs = f"{run.horizon.model_dump_json()}|{run.market_paths}|{run.seed}"
    return "baseline-" + _digest(data, s.config.baseline.model_dump_json(), knobs, _code(baseline))


CACHED = {"persist_result": True, "cache_expiration": timedelta(days=30)}


def result_cache(settings: Settings) -> Path:
    """Where cached results live: beside the warehouse (``<warehouse>.cache/``), private to this project.

    Prefect stores results as pickles, and loading one runs code: in the shared ~/.prefect/storage any clone
    or anyone able to write there could plant one. Here the folder is created owner-only, and one that others
    can write is refused.
    """
    folder = settings.run.warehouse.with_name(settings.run.warehouse.name + ".cache")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise KeicastError(
            f"the result cache {folder} can be written by other users (or is not yours); cached results are "
            "code when loaded, so keicast will not use it: `chmod go-w` it or remove it"
        )
    return folder


@task(task_run_name="calibrate-adoption", cache_key_fn=_calibration_key, **CACHED)
def calibrate(history: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, AdoptionFit]:
    """Hierarchical Bayesian fit of the adoption path to the analog series (cached on disk too)."""
    config = settings.config
    frame = analog_frame(history, config.calibration.analogs, config.baseline.series)
    fit = fit_adoption(frame, config.calibration.analogs, config.calibration)
    return (*calibration_table(fit, frame), fit)


@task(task_run_name="backtest-adoption", cache_policy=NO_CACHE)
def backtest_adoption_chain(history: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Post- and pre-launch backtests of the adoption chain on every analog, per compared shape (disk-cached).

    Returns every shape's cases and the configured shape's yearly bands.
    """
    cal, market = settings.config.calibration, settings.config.baseline.series
    frame = analog_frame(history, [*cal.analogs, *cal.backtest_also], market)
    shapes = dict.fromkeys([cal.shape, *cal.compare_shapes])
    results = {shape: backtest_adoption(frame, cal, shape) for shape in shapes}
    cases = pd.concat([cases.assign(shape=shape) for shape, (cases, _) in results.items()], ignore_index=True)
    return cases, results[cal.shape][1].assign(shape=cal.shape)


@task(task_run_name="fit-class-share", cache_policy=NO_CACHE)
def fit_class_shares(history: pd.DataFrame, tables: dict[str, pd.DataFrame], settings: Settings) -> ClassShareFit:
    """The class-share fit on the US small-car analogs (the US anchor and the price coefficient)."""
    return fit_class_share(analog_points(tables, history, settings.config.baseline.series), settings.register)


@task(task_run_name="assemble-assumptions", cache_policy=NO_CACHE)
def assemble_assumptions(settings: Settings, fit: AdoptionFit, class_fit: ClassShareFit) -> pd.DataFrame:
    """One row per scenario x key after calibration refinement (adoption, class share) and overrides."""
    refined = refinements(fit, class_fit, settings.register)
    return assemble(settings.register, settings.config, settings.scenarios, settings.overrides, refined)


@task(task_run_name="fit-baseline", cache_key_fn=_baseline_key, **CACHED)
def fit_baseline(history: pd.DataFrame, settings: Settings) -> Baseline:
    """Backtest the candidates, choose one, and simulate market paths over the horizon."""
    cfg, run = settings.config.baseline, settings.run
    y = baseline_history(history, settings)
    market = baseline.BaselineMarket(**cfg.model_dump(exclude={"series"})).fit(y)
    paths = market.simulate(run.horizon.end - int(y.index.max()), run.market_paths, run.seed)
    backtests = market.backtests_.assign(series=cfg.series)
    return Baseline(market.model_, backtests, paths[:, -(run.horizon.end - run.horizon.start + 1) :])


@task(task_run_name="simulate-{spec.name}-{batch}", cache_policy=NO_CACHE)
def simulate_chunks(
    spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, sizes: dict[int, int], seed: int, batch: int
) -> dict[int, montecarlo.ChunkSummary]:
    """A batch of Monte Carlo chunks (index -> draws) of one scenario; ``batch`` numbers it in the run's UI."""
    return {index: montecarlo.simulate_chunk(spec, paths, years, size, seed, index) for index, size in sizes.items()}


def _sensitivity_key(_, parameters: dict) -> str:
    """Everything the sensitivity analysis reads: the scenario's inputs and rules, the median market, the knobs and
    the code of the kernel; an unchanged scenario takes its (seeded, deterministic) indices from the cache."""
    spec, run, gates_cfg = parameters["spec"], parameters["settings"].run, parameters["settings"].config.gates
    digest = hashlib.sha256()
    for array in (np.median(parameters["paths"], axis=0), parameters["years"]):
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    for posterior in spec.posteriors:
        for key in sorted(posterior.draws):
            digest.update(key.encode() + np.ascontiguousarray(posterior.draws[key], dtype=float).tobytes())
    ranges = sorted((k, r.low, r.base, r.high) for k, r in spec.ranges.items())
    rules = (spec.launch_year, spec.imported, spec.road_access, spec.adoption_shape, tuple(run.headline_window))
    knobs = (run.sobol_base_samples, run.seed, gates_cfg.max_sobol_halfwidth, MAX_SOBOL_SAMPLES, JAPAN_WHAT_IF)
    return "sensitivity-" + _digest(repr((ranges, rules, knobs)), digest.hexdigest(), _code(*KERNEL_MODULES))


@task(task_run_name="sensitivity-{spec.name}", cache_key_fn=_sensitivity_key, **CACHED)
def analyse_sensitivity(spec: ScenarioSpec, paths: np.ndarray, years: np.ndarray, settings: Settings) -> pd.DataFrame:
    """Tornado and Sobol indices of cumulative kei sales over the headline window, and Japan's share what-if."""
    run = settings.run
    median_market = np.median(paths, axis=0)
    window = tuple(run.headline_window)
    swings = sensitivity.tornado(spec, median_market, years, window).assign(method="tornado")
    samples, limit = run.sobol_base_samples, settings.config.gates.max_sobol_halfwidth
    sobol = sensitivity.sobol_indices(spec, median_market, years, window, samples, run.seed)
    while sobol[["s1_conf", "st_conf"]].max().max() > limit and samples < MAX_SOBOL_SAMPLES:
        samples *= 2  # the half-widths shrink as 1/sqrt(N): double until precise enough or at the cap
        sobol = sensitivity.sobol_indices(spec, median_market, years, window, samples, run.seed)
    parts = [swings, sobol.assign(method="sobol", samples=samples)]
    if spec.has_policy:
        r = spec.ranges["japan.kei_share"]
        shares = sorted({*JAPAN_WHAT_IF, r.low, r.base, r.high})
        what_if = sensitivity.what_if(spec, "japan.kei_share", shares, median_market, years, window)
        parts.append(what_if.assign(method="what_if"))
    return pd.concat(parts, ignore_index=True).assign(scenario=spec.name)


KERNEL_MODULES = (sensitivity, montecarlo, scenario, class_share, diffusion, adoption, grey_import, fleet)
MAX_SOBOL_SAMPLES = 262_144  # Sobol base samples are doubled up to this cap while a half-width exceeds the gate
JAPAN_WHAT_IF = (0.05, 0.6)  # Japan's kei share far outside its 2003-2025 range, to show the weight it carries


@task(task_run_name="commit", cache_policy=NO_CACHE, **IO_RETRIES)
def commit(
    settings: Settings,
    run_id: str,
    outputs: dict[str, pd.DataFrame],
    snapshot: dict[str, pd.DataFrame],
    timings: dict[str, float],
    status: str,
):
    """Write the run's outputs and its status (publishing, or succeeded for a sweep), in one transaction."""
    run = settings.run
    warehouse.commit_run(run.warehouse, run_id, outputs, snapshot, run.lock_timeout_seconds, timings, status)


@task(task_run_name="publish", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=[2], retry_condition_fn=transient)
def publish(settings: Settings, run_id: str) -> Path:
    """Render the report and exports, then switch reports/latest and exports/latest to them."""
    from keicast.publish import publish_run

    return publish_run(settings, run_id)


@task(task_run_name="record-artifacts", cache_policy=NO_CACHE)
def record_artifacts(settings: Settings, run_id: str, report: Path, forecasts: pd.DataFrame) -> None:
    """Prefect artifacts with stable keys, so the UI keeps their history across runs.

    The headline table and the report's markdown travel with the artifact, so they read the same on any host
    (a ``file://`` link to the HTML report works only on the machine that wrote it).
    """
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    end = settings.run.headline_window[1]
    headline = forecasts[(forecasts.metric == "kei_sales_cumulative") & (forecasts.year == end)]
    rows = [
        {"scenario": r.scenario, "P10": round(r.p10), "P50": round(r.p50), "P90": round(r.p90)}
        for r in headline.itertuples()
    ]
    create_table_artifact(
        key="keicast-headline",
        table=rows,
        description=f"Cumulative kei sales {settings.run.headline_window[0]}-{end}, run {run_id}",
    )
    markdown = (report.parent / "report.md").read_text(encoding="utf-8")
    create_markdown_artifact(key="keicast-summary", markdown=markdown, description=f"keicast run {run_id}")


def flow_run_labels(run_id: str, scenarios: list[str], sweep: bool) -> tuple[str, list[str]]:
    """The flow run's name and tags: the keicast run id and the scenario set, readable in the Prefect UI."""
    kind = "sweep" if sweep else "run"
    tags = ["keicast", kind, f"run:{run_id}"]
    tags += [f"scenario:{name}" for name in scenarios] if len(scenarios) <= 8 else [f"scenarios:{len(scenarios)}"]
    return f"keicast-{kind}-{run_id}", tags


def label_flow_run(run_id: str, scenarios: list[str], sweep: bool) -> None:
    """Name and tag the current flow run (scheduled runs are created by the server, before a run id exists)."""
    flow_run_id = flow_run.get_id()
    if not flow_run_id:
        return
    from prefect.client.orchestration import get_client

    name, tags = flow_run_labels(run_id, scenarios, sweep)
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run_id, name=name, tags=sorted({*flow_run.get_tags(), *tags}))


PROGRESS = logging.getLogger("keicast.progress")  # the CLI prints it as a status line per stage (--quiet: not)


class Stopwatch:
    """Wall time per pipeline stage, stored with the run (runs.timings) and shown in the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.began = time.perf_counter()

    @contextmanager
    def stage(self, name: str):
        PROGRESS.info("%5.1f s  %s", time.perf_counter() - self.began, name.replace("_", " "))
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


# What a local Dask worker needs to run our tasks; its fork server imports these once (see warm_dask_workers).
DASK_WORKER_MODULES = ["distributed", "prefect_dask", "prefect.task_engine", "flows.pipeline"]
# A keicast local cluster runs batch Monte Carlo with no dashboard: workers are forked from the warm fork
# server, and the dashboard's statistical profiler and fast system/memory monitors are off or slowed. Measured
# on 2 cores, a worker's event-loop thread drops from about 6% of a core to under 1% while a chunk computes.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.multiprocessing-method": "forkserver",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "10s",
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def warm_dask_workers(cfg: TaskRunnerSettings) -> None:
    """Start the fork server that local Dask workers are forked from, importing the task code once.

    A spawned worker re-imports Prefect, pandas, SciPy and the models before its first task (about 4 s each on
    2 cores); forked from a server that has imported them (and runs no threads, so forking is safe) a worker
    starts in a fraction of a second. The server imports in the background: called at the start of a run, the
    imports overlap the stages before Monte Carlo. No-op for the local runner or a remote scheduler.
    """
    if cfg.kind != "dask" or cfg.address:
        return
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(DASK_WORKER_MODULES)
    forkserver.ensure_running()


@contextmanager
def task_runner(cfg: TaskRunnerSettings):
    """Local threads (default) or Dask: a temporary local cluster, or the scheduler at ``cfg.address``."""
    if cfg.kind == "local":
        with ThreadPoolTaskRunner(max_workers=cfg.workers) as runner:
            yield runner
        return
    import dask
    from prefect_dask import DaskTaskRunner

    if cfg.address:
        with DaskTaskRunner(address=cfg.address) as runner:
            yield runner
        return
    warm_dask_workers(cfg)
    cluster = {"n_workers": cfg.workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        with DaskTaskRunner(cluster_kwargs=cluster) as runner:
            yield runner


def _progress(label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not PROGRESS.handlers,
    )


def simulate(
    settings: Settings, specs: list[ScenarioSpec], paths: np.ndarray, years: np.ndarray, with_sensitivity: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monte Carlo chunks (and sensitivity) of every scenario on the configured task runner."""
    run = settings.run
    sizes = montecarlo.chunk_sizes(run.draws, run.chunk_size)
    batches = montecarlo.chunk_batches(len(sizes), len(specs), settings.config.task_runner.workers)
    sensitivity_task = analyse_sensitivity.with_options(result_storage=result_cache(settings))
    with task_runner(settings.config.task_runner) as runner:
        work = {
            runner.submit(
                simulate_chunks,
                {
                    "spec": spec,
                    "paths": paths,
                    "years": years,
                    "sizes": {i: sizes[i] for i in batch},
                    "seed": run.seed,
                    "batch": number,
                },
            ): spec.name
            for spec in specs
            for number, batch in enumerate(batches, start=1)
        }
        sens = (
            [
                runner.submit(sensitivity_task, {"spec": spec, "paths": paths, "years": years, "settings": settings})
                for spec in specs
            ]
            if with_sensitivity
            else []
        )
        done: dict[str, dict[int, montecarlo.ChunkSummary]] = {spec.name: {} for spec in specs}
        with _progress(f"Monte Carlo, {len(specs)} scenario(s)") as bar:
            job = bar.add_task("chunks", total=len(specs) * len(sizes))
            for future in as_completed(list(work)):
                summaries = future.result()
                done[work[future]].update(summaries)
                bar.advance(job, len(summaries))
                pause_point("monte_carlo")
        forecasts = pd.concat(
            [
                montecarlo.combine_chunks(spec.name, years, [done[spec.name][i] for i in range(len(sizes))])
                for spec in specs
            ],
            ignore_index=True,
        )
        sensitivity_table = pd.concat([f.result() for f in sens], ignore_index=True) if sens else pd.DataFrame()
    return forecasts, sensitivity_table


def run_pipeline(
    settings: Settings, run_id: str, evidence: tuple, clock: Stopwatch, sweep: dict[str, dict[str, float]] | None
) -> str:
    """The pipeline's steps for validated settings and evidence (called inside the flow).

    A sweep (scenario -> factor values) skips sensitivity and the report and stores a comparison table.
    """
    run = settings.run
    history, history_sources, tables = evidence
    years = np.arange(run.horizon.start, run.horizon.end + 1)
    gate_results: list[pd.DataFrame] = []
    gates.preload()  # GX imports in the background while articles and evidence load
    warm_dask_workers(settings.config.task_runner)
    try:
        with clock.stage("ingest_articles"):
            ingest_articles(settings, run_id)
        required = [settings.config.baseline.series]
        with clock.stage("gates"):
            gate("history", gates.history_frames(history, required), settings, run_id, gate_results)
        with clock.stage("calibrate"):
            fits, curves, fit = calibrate.with_options(result_storage=result_cache(settings))(history, settings)
            class_fit = fit_class_shares(history, tables, settings)
        with clock.stage("gates"):
            gate("calibration", {"calibration": fits}, settings, run_id, gate_results)
        with clock.stage("backtest_adoption"):
            adoption_cases, adoption_bands = backtest_adoption_chain(history, settings)
        with clock.stage("gates"):
            frames = gates.adoption_frames(adoption_cases, settings.config.calibration.shape)
            gate("adoption", frames, settings, run_id, gate_results)
        with clock.stage("assemble_assumptions"):
            table = assemble_assumptions(settings, fit, class_fit)
            specs = [scenario_spec(name, settings.config, table, fit) for name in settings.scenarios]
            prices = {spec.name: base_buyer_price(spec) for spec in specs}
        pause_point("assumptions")
        with clock.stage("gates"):
            gate("assumptions", gates.assumption_frames(table, prices), settings, run_id, gate_results)
        with clock.stage("fit_baseline"):
            market = fit_baseline.with_options(result_storage=result_cache(settings))(history, settings)
        with clock.stage("simulate_and_sensitivity"):
            forecasts, sensitivity_table = simulate(settings, specs, market.paths, years, sweep is None)
        with clock.stage("gates"):
            scenarios = settings.config.scenarios
            status_quo = tuple(n for n in settings.scenarios if scenarios[n].road_access == STATUS_QUO_ACCESS)
            frames = gates.forecast_frames(forecasts, table, run.horizon.start, status_quo, sensitivity_table)
            gate("forecasts", frames, settings, run_id, gate_results)
    except GateFailed as failure:
        warehouse.fail_run(
            run.warehouse, run_id, "failed_gate", str(failure), pd.concat(gate_results), run.lock_timeout_seconds
        )
        raise
    outputs = {
        "assumptions": table,
        "forecasts": forecasts,
        "backtests": market.backtests,
        "calibration": fits,
        "calibration_fit": curves,
        "adoption_backtests": adoption_cases,
        "adoption_backtest_paths": adoption_bands,
        "adoption_parameters": adoption_parameters(fit, settings.config.calibration),
        "sensitivity": sensitivity_table,
        "gate_results": pd.concat(gate_results),
    }
    outputs["class_share_fit"], outputs["class_share_analogs"] = class_share_tables(class_fit)
    if sweep is not None:
        outputs["sweep_results"] = sweep_comparison(forecasts, sweep, run.headline_window[1])
    sources = pd.DataFrame([s.model_dump() for s in settings.register.sources]).rename(columns={"id": "source_id"})
    snapshot = {"sources": sources, "history": history, "history_sources": history_sources}
    with clock.stage("commit"):
        commit(settings, run_id, outputs, snapshot, clock.seconds, "succeeded" if sweep else "publishing")
    if sweep is None:
        with clock.stage("publish"):
            report = publish(settings, run_id)
    warehouse.finish_run(run.warehouse, run_id, clock.seconds, run.lock_timeout_seconds)
    if sweep is None:
        try:  # artifacts are a view in the Prefect UI, not part of publishing: their failure fails nothing
            record_artifacts(settings, run_id, report, forecasts)
        except Exception as exc:  # noqa: BLE001
            get_run_logger().warning("Prefect artifacts not recorded: %s", exc)
    get_run_logger().info("stage timings (s): %s", clock.seconds)
    return run_id


def preflight(settings: Settings, clock: Stopwatch, publishing: bool) -> tuple:
    """Everything that can refuse a run, checked before it writes a row or scans an article: the warehouse
    reads end to end, the reference files parse, the baseline has enough history, the output folders can be
    written and their ``latest`` is keicast's link. Returns the evidence (history, its sources, tables)."""
    warehouse.check(settings.run.warehouse, settings.run.lock_timeout_seconds)
    with clock.stage("load_evidence"):
        evidence = load_evidence(settings)
    baseline_history(evidence[0], settings)
    if publishing:
        from keicast.publish import check_targets

        check_targets(settings)
    return evidence


def outcome(exc: BaseException) -> tuple[str, str]:
    """The status and message a run ends with after ``exc``: Ctrl-C or a termination signal interrupt it."""
    from prefect.exceptions import TerminationSignal

    if isinstance(exc, KeyboardInterrupt | TerminationSignal):
        return "interrupted", f"interrupted ({'Ctrl-C' if isinstance(exc, KeyboardInterrupt) else 'terminated'})"
    return "failed", str(exc) if isinstance(exc, KeicastError) else f"{exc.__class__.__name__}: {exc}"


@flow(name="keicast-pipeline", log_prints=True)
def keicast_pipeline(
    config_path: str = "config.yaml",
    scenarios: list[str] | None = None,
    sets: list[str] | None = None,
    draws: int | None = None,
    seed: int | None = None,
    run_id: str | None = None,
    sweep: dict[str, dict] | None = None,
) -> str:
    """Forecast kei-car demand for the configured scenarios and publish the run. Returns the run id.

    ``sweep`` maps generated scenario names to their definition ({"base": name, "factors": {key: value}});
    see ``keicast sweep``.
    """
    settings = load_settings(config_path, scenarios, sets, draws, seed, sweep=sweep)
    run_id = run_id or new_run_id()
    run = settings.run
    label_flow_run(run_id, list(settings.scenarios), sweep is not None)
    clock = Stopwatch()
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        evidence = preflight(settings, clock, publishing=sweep is None)
        warehouse.begin_run(run.warehouse, run_id, settings, str(flow_run.get_id() or ""), run.lock_timeout_seconds)
        try:
            factors = {name: spec["factors"] for name, spec in sweep.items()} if sweep else None
            return run_pipeline(settings, run_id, evidence, clock, factors)
        except GateFailed:
            raise
        except BaseException as exc:
            status, message = outcome(exc)
            warehouse.fail_run(run.warehouse, run_id, status, message, None, run.lock_timeout_seconds)
            raise
