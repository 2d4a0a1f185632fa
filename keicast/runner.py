"""How the pipeline runs, as opposed to what it computes: run ids, stage timings and progress, the task runner
(threads or Dask), cache keys and the result cache, and the flow run's name in the Prefect UI."""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import secrets
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from keicast import calibration, steps
from keicast.config import Settings, TaskRunnerSettings
from keicast.errors import KeicastError, transient
from models import adoption, baseline, class_share, diffusion, fleet, grey_import, montecarlo, scenario, sensitivity

PROGRESS = logging.getLogger("keicast.progress")  # the CLI prints it as a status line per stage (--quiet: not)
# I/O steps retry with back-off, except on a keicast error (bad input, damaged warehouse): a retry cannot cure it.
IO_RETRIES = {"retries": 2, "retry_delay_seconds": [1, 5], "retry_condition_fn": transient}
CACHED = {"persist_result": True, "cache_expiration": timedelta(days=30)}
KERNEL_MODULES = (sensitivity, montecarlo, scenario, class_share, diffusion, adoption, grey_import, fleet, steps)


def new_run_id() -> str:
    """Sortable, unique run id: UTC time plus 6 random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def outcome(exc: BaseException) -> tuple[str, str]:
    """The status and message a run ends with after ``exc``: Ctrl-C or a termination signal interrupt it."""
    from prefect.exceptions import TerminationSignal

    if isinstance(exc, KeyboardInterrupt | TerminationSignal):
        return "interrupted", f"interrupted ({'Ctrl-C' if isinstance(exc, KeyboardInterrupt) else 'terminated'})"
    return "failed", str(exc) if isinstance(exc, KeicastError) else f"{exc.__class__.__name__}: {exc}"


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


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _code(*modules) -> str:
    """Source of the modules a cached step runs: editing the maths invalidates the cache."""
    return _digest(*(inspect.getsource(m) for m in modules))


def calibration_key(_, parameters: dict) -> str:
    """The analog and market series, the calibration settings and the code of the fit."""
    config = parameters["settings"].config
    cal = config.calibration
    history = parameters["history"]
    data = history[history.series.isin([*cal.analogs, config.baseline.series])].to_csv(index=False)
    code = _code(diffusion, adoption, calibration, steps)
    return "calibrate-" + _digest(data, cal.model_dump_json(), config.baseline.series, code)


def baseline_key(_, parameters: dict) -> str:
    """The market series, the baseline settings, the horizon, the number of paths, the seed and the code."""
    s = parameters["settings"]
    history = parameters["history"]
    data = history[history.series == s.config.baseline.series].to_csv(index=False)
    run = s.run
    knobs = f"{run.horizon.model_dump_json()}|{run.market_paths}|{run.seed}"
    return "baseline-" + _digest(data, s.config.baseline.model_dump_json(), knobs, _code(baseline, steps))


def sensitivity_key(_, parameters: dict) -> str:
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
    knobs = (run.sobol_base_samples, run.seed, gates_cfg.max_sobol_halfwidth)
    return "sensitivity-" + _digest(repr((ranges, rules, knobs)), digest.hexdigest(), _code(*KERNEL_MODULES))
