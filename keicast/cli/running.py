"""Commands that run the pipeline or serve it: run, validate, sweep, serve, deploy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keicast.server import configured, start_temporary_server

if TYPE_CHECKING:
    from keicast.config import RunRequest, Settings
from keicast.cli.evidence import calibrated_inputs
from keicast.cli.options import (
    ConfigOpt,
    DrawsOpt,
    Format,
    FormatOpt,
    QuietOpt,
    ScenarioOpt,
    SeedOpt,
    SetOpt,
)
from keicast.cli.output import emit, err, out
from keicast.cli.process import attended, guarded, quiet_environment, quiet_known_errors, show_progress


def run_pipeline(request: RunRequest, quiet: bool, what: str = "") -> tuple[Settings, str]:
    """Validate the request (exit 2 before any server starts), start a temporary server if needed, and run the
    flow on it; returns the settings and the run id."""
    from keicast import validator

    quiet_environment()
    if configured():  # no temporary server to wait for: GX loads in a validator process on the idle core
        validator.preload(in_worker=True)
    from keicast.config import load_settings

    settings = load_settings(request)
    show_progress(quiet)
    server_ready = start_temporary_server()  # an unwritable Prefect home is refused here, before it starts
    if server_ready and not quiet:
        err.print("keicast: starting a temporary Prefect server (set PREFECT_API_URL to use a standing one)")
    validator.preload()  # with a temporary server: GX imports in a thread while this process waits for it
    from flows.pipeline import keicast_pipeline
    from keicast.formatting import count
    from keicast.runner import new_run_id

    if server_ready:
        server_ready()
    quiet_known_errors()
    run_id = new_run_id()
    kind = "sweep" if request.sweep else "run"
    what = what or f"{len(settings.scenarios)} scenario(s)"
    err.print(f"keicast: {kind} {run_id}: {what}, {count(settings.run.draws)} draws each")
    with attended():
        keicast_pipeline(request, run_id)
    return settings, run_id


@guarded
def run(
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    set_: SetOpt = None,
    draws: DrawsOpt = None,
    seed: SeedOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run the pipeline: assumptions -> gates -> forecasts -> report."""
    from keicast.config import request_from_options

    request = request_from_options(config, scenario, set_, draws, seed)
    settings, run_id = run_pipeline(request, quiet)
    report = settings.run.reports_dir / run_id / "index.html"
    out.print(f"run {run_id} succeeded; report: {report}")
    out.print(f"data-quality results: {report.with_name('data_quality.html')}")


@guarded
def validate(config: ConfigOpt = Path("config.yaml"), set_: SetOpt = None) -> None:
    """Validate config.yaml and run the input gates (history, calibration, assumptions) without forecasting."""
    from keicast import gates, steps

    quiet_environment()
    settings, evidence, calibrated = calibrated_inputs(config, set_, None)
    results = steps.check_inputs(settings, evidence, calibrated)
    out.print(f"config {config}: valid; {len(results)} expectations checked, {(~results.success).sum()} failed")
    gates.passed("inputs", results, settings.run.reports_dir / "data_docs")


@guarded
def sweep(
    vary: Annotated[
        list[str],
        typer.Option("--vary", metavar="KEY=V1,V2,...", help="Values to combine (repeatable); KEY may be launch_year."),
    ],
    base: Annotated[
        str, typer.Option("--base", metavar="NAME", help="Scenario the combinations start from.")
    ] = "japan_imports_tariff",
    config: ConfigOpt = Path("config.yaml"),
    draws: DrawsOpt = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = Format.table,
    quiet: QuietOpt = False,
) -> None:
    """Run every combination of the listed assumption values as a scenario and compare them."""
    from keicast import warehouse
    from keicast.config import request_from_options, sweep_plan

    plan = sweep_plan(vary, base)
    request = request_from_options(config, draws=draws, seed=seed).model_copy(update={"sweep": plan})
    settings, run_id = run_pipeline(request, quiet, f"{len(plan)} combinations of {base}")
    table = warehouse.sweep_results(settings.run.warehouse, run_id)
    emit(
        table.drop(columns=["run_id"]),
        fmt,
        f"sweep {run_id}: cumulative kei sales to {settings.run.headline_window[1]}",
    )


@guarded
def serve(config: ConfigOpt = Path("config.yaml")) -> None:
    """Serve deployment 'keicast-served' on config.yaml's schedule from this process (no work pool); Ctrl-C stops."""
    from keicast.config import load_settings

    quiet_environment()
    settings = load_settings(config)
    from prefect import serve as prefect_serve

    from keicast.deployments import SERVED, served_deployment

    deployment = served_deployment(settings)
    cfg = settings.config.schedule
    err.print(f"keicast: serving deployment 'keicast-pipeline/{SERVED}' on cron '{cfg.cron}' ({cfg.timezone})")
    prefect_serve(deployment)


@guarded
def deploy(config: ConfigOpt = Path("config.yaml")) -> None:
    """Create or update deployment 'keicast-scheduled' (work pool 'keicast-process') with config.yaml's schedule."""
    from keicast.config import load_settings

    quiet_environment()
    settings = load_settings(config)
    from keicast.deployments import SCHEDULED, WORK_POOL
    from keicast.deployments import deploy as apply_deployment

    deployment_id = apply_deployment(settings)
    cfg = settings.config.schedule
    out.print(
        f"deployment keicast-pipeline/{SCHEDULED} ({deployment_id}) on cron '{cfg.cron}' ({cfg.timezone}); "
        f"start a worker with: prefect worker start --pool {WORK_POOL}"
    )
