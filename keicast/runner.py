"""How the pipeline runs, as opposed to what it computes: the frame around a run (its lock, its row in
``runs``, a failure recorded with the gate results so far), steps as timed Prefect tasks, run ids, progress, the
task runner (threads or Dask), cache keys and the result cache, and the flow run's name in the Prefect UI."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from keicast import formatting as fmt
from keicast import steps, validator, warehouse
from keicast.cache import code_digest, digest
from keicast.config import RunRequest, Settings, TaskRunnerSettings, load_settings
from keicast.errors import ActualsRefused, ConfigError, GateFailed, KeicastError, transient
from models import (
    adoption,
    ar1,
    baseline,
    class_share,
    diffusion,
    fleet,
    grey_import,
    montecarlo,
    reference_class,
    scenario,
    sensitivity,
)

PROGRESS = logging.getLogger("keicast.progress")  # the CLI prints it as a status line per stage (--quiet: not)
# I/O steps retry with back-off, except on a keicast error (bad input, damaged warehouse): a retry cannot cure it.
IO_RETRIES = {"retries": 2, "retry_delay_seconds": [1, 5], "retry_condition_fn": transient}
CACHED = {"persist_result": True, "cache_expiration": timedelta(days=30)}
KERNEL_MODULES = (
    sensitivity, montecarlo, scenario, class_share, diffusion, adoption, ar1, grey_import, fleet, reference_class,
    steps,
)  # fmt: skip


def new_run_id() -> str:
    """Sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def outcome(exc: BaseException) -> tuple[str, str]:
    """The status and message a run ends with after ``exc``: Ctrl-C or a termination signal interrupt it."""
    from prefect.exceptions import TerminationSignal

    if isinstance(exc, GateFailed):
        return "failed_gate", str(exc)
    if isinstance(exc, KeyboardInterrupt | TerminationSignal):
        return "interrupted", f"interrupted ({'Ctrl-C' if isinstance(exc, KeyboardInterrupt) else 'terminated'})"
    return "failed", str(exc) if isinstance(exc, KeicastError) else f"{exc.__class__.__name__}: {exc}"


class Stopwatch:
    """Wall time per pipeline stage, stored with the run (runs.timings) and shown in the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.began = time.perf_counter()
        self.last = ""

    @contextmanager
    def stage(self, name: str):
        if name != self.last:  # one status line per stage, however many steps it takes
            PROGRESS.info("%5.1f s  %s", time.perf_counter() - self.began, name.replace("_", " "))
            self.last = name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


# ---------------------------------------------------------------------------------------------- the run's frame
@dataclass
class RunFrame:
    """What the frame around one run keeps: its stage timings, and whether its ``runs`` row is open yet."""

    clock: Stopwatch = field(default_factory=Stopwatch)
    opened: bool = False


class _CurrentFrame:
    """The frame of the run this process is executing (one at a time: runs hold the warehouse's run lock).

    Process-wide rather than a ContextVar: Prefect copies the context into what it submits to Dask, and a
    ContextVar cannot be pickled."""

    def __init__(self) -> None:
        self._frame: RunFrame | None = None

    def get(self) -> RunFrame | None:
        return self._frame

    def set(self, frame: RunFrame | None) -> RunFrame | None:
        """Make ``frame`` current; returns the one it replaces (the token for :meth:`reset`)."""
        previous, self._frame = self._frame, frame
        return previous

    def reset(self, previous: RunFrame | None) -> None:
        self._frame = previous


FRAME = _CurrentFrame()


def recorded(pipeline):
    """The frame around the flow's body: the run lock on the warehouse for the whole run, GX and Dask workers
    warming in the background, and a run that fails after its row was opened recorded as failed (a failed gate
    with every gate result so far), interrupted or failed_gate. Bad input found once the run was announced says
    how the run stopped, not that nothing was run. The body keeps the flow's signature."""

    @functools.wraps(pipeline)
    def framed(request: RunRequest = RunRequest(), run_id: str | None = None) -> str:
        settings = load_settings(request)
        run, run_id = settings.run, run_id or new_run_id()
        validator.preload()
        warm_dask_workers(settings.config.task_runner)
        frame = RunFrame()
        token = FRAME.set(frame)
        try:
            with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
                try:
                    return pipeline(request, run_id)
                except BaseException as exc:
                    if isinstance(exc, ConfigError) and not isinstance(exc, ActualsRefused):
                        exc.outcome = f"run {run_id} stopped " + (
                            "and is recorded as failed; nothing was published"
                            if frame.opened
                            else "before it began; nothing was recorded or published"
                        )
                    if frame.opened:
                        status, message = outcome(exc)
                        results = exc.results if isinstance(exc, GateFailed) else None
                        warehouse.fail_run(run.warehouse, run_id, status, message, results, run.lock_timeout_seconds)
                    raise
        finally:
            FRAME.reset(token)

    return framed


def timings() -> dict[str, float]:
    """The current run's stage timings so far (empty outside a run)."""
    frame = FRAME.get()
    return dict(frame.clock.seconds) if frame else {}


def _stage(name: str):
    frame = FRAME.get()
    return frame.clock.stage(name) if frame else nullcontext()


class Step:
    """A pipeline step as a Prefect task whose wall time, a cache hit included, counts toward a stage of the run's
    timings (``stage``, default the task's name); ``cache_key_fn`` caches its result in :func:`result_cache`.
    ``as_task=False`` times an orchestrating function that submits tasks of its own."""

    def __init__(self, fn, name: str, stage: str | None = None, cache_key_fn=None, as_task: bool = True, **options):
        cache = {"cache_key_fn": cache_key_fn, **CACHED} if cache_key_fn else {"cache_policy": NO_CACHE}
        self.fn = fn
        self.task = task(fn, task_run_name=name, **cache, **options) if as_task else None
        self.stage = stage or name.replace("-", "_")
        self.cached = cache_key_fn is not None
        functools.update_wrapper(self, fn)

    def with_storage(self, settings: Settings):
        """The task, its cached results kept in this project's result cache."""
        return self.task.with_options(result_storage=result_cache(settings)) if self.cached else self.task

    def __call__(self, *args, **kwargs):
        with _stage(self.stage):
            if self.task is None:
                return self.fn(*args, **kwargs)
            settings = next((a for a in (*args, *kwargs.values()) if isinstance(a, Settings)), None)
            return (self.with_storage(settings) if settings is not None else self.task)(*args, **kwargs)


# ---------------------------------------------------------------------------------------------- the run's record
@dataclass(frozen=True)
class RunRecord:
    """An opened run: its id, and for a sweep each point's factors (a sweep is stored, not published)."""

    run_id: str
    sweep: dict[str, dict] | None = None

    @property
    def publishing(self) -> bool:
        return self.sweep is None


def preflight(settings: Settings, request: RunRequest) -> None:
    """What can refuse a run before it writes a row: the warehouse reads end to end, and (a published run) the
    output folders can be written and their ``latest`` is keicast's link."""
    from keicast.publish import check_targets

    warehouse.check(settings.run.warehouse, settings.run.lock_timeout_seconds)
    if request.sweep is None:
        check_targets(settings)


def open_run(settings: Settings, request: RunRequest, run_id: str) -> RunRecord:
    """Record the run as 'running' and name its flow run in the Prefect UI."""
    run, sweep = settings.run, request.sweep
    label_flow_run(run_id, list(settings.scenarios), sweep is not None)
    warehouse.begin_run(run.warehouse, run_id, settings, str(flow_run.get_id() or ""), run.lock_timeout_seconds)
    if (frame := FRAME.get()) is not None:
        frame.opened = True
    return RunRecord(run_id, {name: point.factors for name, point in sweep.items()} if sweep else None)


def commit(
    settings: Settings,
    run: RunRecord,
    outputs: steps.RunOutputs,
    evidence: steps.Evidence,
    scores: pd.DataFrame | None = None,
) -> None:
    """Every output table, the evidence snapshot and the run's status (publishing, or succeeded for a sweep), in
    one transaction; ``scores`` (the track record, keicast.record) replace the stored ones, like the history they
    are scored against."""
    sources = pd.DataFrame([s.model_dump() for s in settings.register.sources]).rename(columns={"id": "source_id"})
    snapshot = {"sources": sources, "history": evidence.history, "history_sources": evidence.sources}
    if scores is not None:
        snapshot["scores"] = scores
    status = "publishing" if run.publishing else "succeeded"
    path, timeout = settings.run.warehouse, settings.run.lock_timeout_seconds
    warehouse.commit_run(path, run.run_id, outputs.tables(), snapshot, timeout, timings(), status)


def publish(settings: Settings, run: RunRecord) -> Path | None:
    """Publish the committed run's report and exports (a sweep publishes nothing); returns the report's path."""
    from keicast.publish import publish_run

    return publish_run(settings, run.run_id) if run.publishing else None


def finish(settings: Settings, run: RunRecord) -> None:
    """Mark the run succeeded, with its stage timings."""
    warehouse.finish_run(settings.run.warehouse, run.run_id, timings(), settings.run.lock_timeout_seconds)
    logging.getLogger("keicast").info("stage timings (s): %s", timings())


def record_artifacts(settings: Settings, run: RunRecord, report: Path | None, forecasts: pd.DataFrame) -> None:
    """Prefect artifacts with stable keys: the headline table and the report's markdown (readable on any host).
    They are a view in the Prefect UI, not part of publishing: their failure fails nothing."""
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from keicast.compare import headline_cells

    if report is None:
        return
    try:
        start, end = settings.run.headline_window
        rows = [
            {"scenario": r.scenario, "P10": fmt.count(r.p10), "P50": fmt.count(r.p50), "P90": fmt.count(r.p90)}
            for r in headline_cells(forecasts, end).itertuples()
        ]
        description = f"Cumulative kei sales {start}-{end}, run {run.run_id}"
        create_table_artifact(key="keicast-headline", table=rows, description=description)
        markdown = (report.parent / "report.md").read_text(encoding="utf-8")
        create_markdown_artifact(key="keicast-summary", markdown=markdown, description=f"keicast run {run.run_id}")
    except Exception as exc:  # noqa: BLE001
        get_run_logger().warning("Prefect artifacts not recorded: %s", exc)


def progress_bar(label: str):
    """A progress bar on stderr, shown only when the CLI prints stage lines."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True), transient=False, disable=not PROGRESS.handlers)


# ---------------------------------------------------------------------------------------------- flow run labels
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


# ---------------------------------------------------------------------------------------------- task runner
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


# ---------------------------------------------------------------------------------------------- result cache
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


def baseline_key(_, parameters: dict) -> str:
    """The market series, the baseline settings, the horizon, the number of paths, the seed and the code."""
    s = parameters["settings"]
    history = parameters["history"]
    data = history[history.series == s.config.baseline.series].to_csv(index=False)
    run = s.run
    knobs = f"{run.horizon.model_dump_json()}|{run.market_paths}|{run.seed}"
    return "baseline-" + digest(data, s.config.baseline.model_dump_json(), knobs, code_digest(baseline, steps))


def sensitivity_key(_, parameters: dict) -> str:
    """Everything the sensitivity analysis reads: the scenario's inputs and rules, the median market, the knobs and
    the code of the kernel; an unchanged scenario takes its (seeded, deterministic) indices from the cache."""
    spec, run, gates_cfg = parameters["spec"], parameters["settings"].run, parameters["settings"].config.gates
    arrays = hashlib.sha256()
    paths = parameters["paths"]
    for array in (np.median(paths, axis=0), np.mean(paths, axis=0), parameters["years"]):
        arrays.update(np.ascontiguousarray(array, dtype=float).tobytes())
    for posterior in spec.posteriors:
        for key in sorted(posterior.draws):
            arrays.update(key.encode() + np.ascontiguousarray(posterior.draws[key], dtype=float).tobytes())
    ranges = sorted((k, r.low, r.base, r.high) for k, r in spec.ranges.items())
    rules = (spec.launch_year, spec.imported, spec.road_access, spec.adoption_shape, spec.level_model,
             spec.grey_latest_year, tuple(run.headline_window))  # fmt: skip
    knobs = (run.sobol_base_samples, run.seed, run.draws, gates_cfg.max_sobol_halfwidth)
    return "sensitivity-" + digest(repr((ranges, rules, knobs)), arrays.hexdigest(), code_digest(*KERNEL_MODULES))
