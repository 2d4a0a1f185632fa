"""Scheduled runs: the two Prefect deployments of the pipeline, with config.yaml's one cron schedule.

- ``keicast serve``  -> deployment ``keicast-pipeline/keicast-served``, run by the serving process itself.
- ``keicast deploy`` -> deployment ``keicast-pipeline/keicast-scheduled`` in the process work pool
  ``keicast-process`` (created when missing), run by ``prefect worker start --pool keicast-process``.

Distinct names keep the two from overwriting each other's storage and pull steps. Both pass the config file's
absolute path, and the worker's job runs in the config file's folder, so a run started by either finds its config
and its relative paths whichever folder the serving process or the worker was started from.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron
from prefect.workers.process import ProcessWorker

from flows.pipeline import keicast_pipeline
from keicast.config import Settings
from keicast.errors import ConfigError, Problem

SERVED = "keicast-served"
SCHEDULED = "keicast-scheduled"
WORK_POOL = "keicast-process"
DESCRIPTION = "Scheduled keicast run: evidence -> gates -> forecasts -> report."


def schedule(settings: Settings) -> Cron:
    """config.yaml's cron schedule as a Prefect schedule; a bad cron or time zone is a config error."""
    cfg = settings.config.schedule
    try:
        ZoneInfo(cfg.timezone)  # Cron accepts any name; the deployment would refuse it later, as a traceback
        return Cron(cfg.cron, timezone=cfg.timezone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        problem = str(exc).splitlines()[-1] if str(exc) else "a valid cron expression and IANA time zone"
        raise ConfigError(
            [Problem(str(settings.config_path), "schedule", f"{cfg.cron!r} ({cfg.timezone})", problem)]
        ) from None


def _deployment(settings: Settings, name: str, **kwargs) -> RunnerDeployment:
    return keicast_pipeline.to_deployment(
        name=name,
        schedules=[schedule(settings)],
        parameters={"request": {"config_path": str(Path(settings.config_path).resolve())}},
        description=DESCRIPTION,
        tags=["keicast"],
        **kwargs,
    )


def served_deployment(settings: Settings) -> RunnerDeployment:
    """The deployment ``keicast serve`` runs in its own process. Its flow runs load flows/pipeline.py by file path,
    which skips flows/__init__.py, and inherit the serve process's environment, one BLAS thread included
    (keicast/__init__.py)."""
    return _deployment(settings, SERVED)


def ensure_work_pool() -> bool:
    """Create the process work pool when it is missing; True when it was created."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(WORK_POOL)
            return False
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process", base_job_template=template))
            return True


def deploy(settings: Settings) -> str:
    """Create or update the work-pool deployment with exactly config.yaml's schedule; returns its id.

    Idempotent: applying replaces the deployment's schedules, so deploying twice leaves one schedule. The flow is
    imported by module path (the package is installed), and the job runs in the config file's folder. Runs the
    server had already scheduled carry the old parameters and cron, so they are dropped; the scheduler makes new
    ones from the deployment as it is now within seconds.
    """
    ensure_work_pool()
    deployment = _deployment(
        settings,
        SCHEDULED,
        entrypoint_type=EntrypointType.MODULE_PATH,
        work_pool_name=WORK_POOL,
        job_variables={"working_dir": str(Path(settings.config_path).resolve().parent)},
    )
    deployment_id = deployment.apply()
    drop_scheduled_runs(deployment_id)
    return str(deployment_id)


def drop_scheduled_runs(deployment_id) -> int:
    """Delete the runs the scheduler created for a deployment that have not started yet; returns how many."""
    waiting = FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        tags=FlowRunFilterTags(all_=["auto-scheduled"]),
    )
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=waiting, limit=200)
        for run in runs:
            client.delete_flow_run(run.id)
    return len(runs)
