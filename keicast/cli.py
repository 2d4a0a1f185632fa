"""The keicast command line. The one place that maps errors to exit codes:
0 success, 2 invalid configuration or usage, 3 a data-quality gate failed, 1 anything else."""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import sys
import traceback
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keicast.cli_record import install as install_record_commands
from keicast.errors import ConfigError, KeicastError, Problem
from keicast.server import configured, start_temporary_server

if TYPE_CHECKING:
    from keicast.config import RunRequest, Settings

app = typer.Typer(
    help="Forecast US demand for Japanese-style kei cars under policy scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: metavars as written, no '<bool>' on flags
)
sources_app = typer.Typer(help="The evidence register's article sources.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(sources_app, name="sources")
articles_app = typer.Typer(
    help="The article inbox: claims found in new articles.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(articles_app, name="articles")
# markup off: user text (keys, values, descriptions) may contain [brackets] that rich would eat
out = Console(width=None if sys.stdout.isatty() else 180, markup=False, highlight=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180, markup=False, highlight=False)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", metavar="PATH", help="Path to config.yaml.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="KEY=VALUE", help="Override an assumption, e.g. policy.import_tariff=0.15 (repeatable)."
    ),
]
ScenarioOpt = Annotated[
    list[str] | None, typer.Option("--scenario", "-s", metavar="NAME", help="Scenario name (repeatable).")
]
DrawsOpt = Annotated[int | None, typer.Option("--draws", metavar="N", min=100, help="Monte Carlo draws per scenario.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", metavar="N", min=0, max=2**63 - 1, help="Random seed.")]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class BassForm(StrEnum):
    pdf = "pdf"
    increments = "increments"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output: a table for people, or CSV / JSON.")]


def _quiet_environment() -> None:
    for name, value in (
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        ("GX_ANALYTICS_ENABLED", "false"),
        ("DO_NOT_TRACK", "1"),
        ("DASK_LOGGING__DISTRIBUTED", "warning"),
        # a temporary server's first start migrates its database: on a busy 2-core machine that outlasts 20 s
        ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"),
        ("PREFECT_LOGGING_LEVEL", os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")),
    ):
        os.environ.setdefault(name, value)
    # with PREFECT_API_URL set, an unwritable HOME is no problem; without it, keicast.server.check_prefect_home says so
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")


class _KnownErrorFilter(logging.Filter):
    """Keeps Prefect's console log free of tracebacks for errors the CLI reports itself (gate, config, busy)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeicastError):
            return False
        return not any(name in record.getMessage() for name in ("GateFailed", "ConfigError", "WarehouseBusy"))


def _quiet_known_errors() -> None:
    if os.environ.get("KEICAST_DEBUG"):
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not any(
            isinstance(f, _KnownErrorFilter) for f in handler.filters
        ):
            handler.addFilter(_KnownErrorFilter())


@contextlib.contextmanager
def _attended():
    """Prefect settings for a flow run this process waits on: no flow-run heartbeats.

    Heartbeats let a server mark runs that nobody watches as crashed; an attended run's end is its process's
    exit, and the warehouse records how it ended. Their thread holds the run's end up to a second as it stops.
    A heartbeat frequency set in the environment wins.
    """
    if {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"} & set(os.environ):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No status line per stage, no progress bar.")]


def _show_progress(quiet: bool) -> None:
    """Print the pipeline's stage status lines (logger keicast.progress) on stderr, unless --quiet."""
    progress = logging.getLogger("keicast.progress")
    progress.handlers.clear()
    progress.propagate = False
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("keicast: %(message)s"))
        progress.addHandler(handler)
        progress.setLevel(logging.INFO)


def guarded(fn):
    """Run a command, turning keicast's errors into a message and their exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            _release_frames(exc)
            raise

    return _reported(wrapper)


def _release_frames(exc: BaseException) -> None:
    """Drop the local variables of the frames an error passed through. Prefect keeps a failed flow's exception
    until exit, and with it any DuckDB connection those frames held: at exit DuckDB's bindings then print
    "nanobind: leaked ..." lines after keicast's message."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _reported(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeicastError as exc:
            err.print(f"keicast: {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err.print("keicast: interrupted")
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence: message, exit 1
            if os.environ.get("KEICAST_DEBUG"):
                raise
            err.print(
                f"keicast: unexpected error: {exc.__class__.__name__}: {exc} (set KEICAST_DEBUG=1 for a traceback)",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def emit(frame: pd.DataFrame, fmt: Format, title: str | None = None) -> None:
    """Print a frame as a rich table, CSV or JSON records."""
    if fmt is Format.json:
        sys.stdout.write(frame.to_json(orient="records", indent=2, date_format="iso") + "\n")
    elif fmt is Format.csv:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        shows = [_column_format(str(c)) for c in frame.columns]
        for row in frame.itertuples(index=False):
            table.add_row(*[Text(show(v)) for show, v in zip(shows, row, strict=True)])
        out.print(table)


def _column_format(column: str):
    """The formatting policy for a table column: counts to 2 significant figures, other numbers to 3."""
    from keicast import formatting

    count = column in ("mae", "mean", "m", "se_m", "rse") or column.startswith(("p0", "p1", "p5", "p9", "cumulative_"))

    def show(value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, float):
            return formatting.count(value) if count else formatting.number(value)
        return str(value)

    return show


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"keicast {version('keicast')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Forecast US demand for Japanese-style kei cars under policy scenarios."""


# ---------------------------------------------------------------------------------------------- run
def _run_pipeline(request: RunRequest, quiet: bool, what: str = "") -> tuple[Settings, str]:
    """Validate the request (exit 2 before any server starts), start a temporary server if needed, and run the
    flow on it; returns the settings and the run id."""
    from keicast import gates

    _quiet_environment()
    if configured():  # no temporary server to wait for: GX loads in a validator process on the idle core
        gates.preload(in_worker=True)
    from keicast.config import settings_for

    settings = settings_for(request)
    _show_progress(quiet)
    server_ready = start_temporary_server()  # an unwritable Prefect home is refused here, before it starts
    if server_ready and not quiet:
        err.print("keicast: starting a temporary Prefect server (set PREFECT_API_URL to use a standing one)")
    gates.preload()  # with a temporary server: GX imports in a thread while this process waits for it
    from flows.pipeline import keicast_pipeline
    from keicast.runner import new_run_id

    if server_ready:
        server_ready()
    _quiet_known_errors()
    run_id = new_run_id()
    kind = "sweep" if request.sweep else "run"
    what = what or f"{len(settings.scenarios)} scenario(s)"
    err.print(f"keicast: {kind} {run_id}: {what}, {settings.run.draws:,} draws each")
    with _attended():
        keicast_pipeline(request, run_id)
    return settings, run_id


@app.command()
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
    from keicast.config import RunRequest

    request = RunRequest.from_options(config, scenario, set_, draws, seed)
    settings, run_id = _run_pipeline(request, quiet)
    report = settings.run.reports_dir / run_id / "index.html"
    out.print(f"run {run_id} succeeded; report: {report}")
    out.print(f"data-quality results: {report.with_name('data_quality.html')}")


@app.command()
@guarded
def validate(config: ConfigOpt = Path("config.yaml"), set_: SetOpt = None) -> None:
    """Validate config.yaml and run the input gates (history, calibration, assumptions) without forecasting."""
    from keicast import gates, steps

    _quiet_environment()
    settings, evidence, calibrated = _calibrated(config, set_, None)
    results = steps.check_inputs(settings, evidence, calibrated)
    out.print(f"config {config}: valid; {len(results)} expectations checked, {(~results.success).sum()} failed")
    gates.raise_on_failure("inputs", results, settings.run.reports_dir / "data_docs")


@app.command()
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
    from keicast.config import RunRequest, sweep_plan

    plan = sweep_plan(vary, base)
    request = RunRequest.from_options(config, draws=draws, seed=seed).model_copy(update={"sweep": plan})
    settings, run_id = _run_pipeline(request, quiet, f"{len(plan)} combinations of {base}")
    table = warehouse.sweep_results(settings.run.warehouse, run_id)
    emit(
        table.drop(columns=["run_id"]),
        fmt,
        f"sweep {run_id}: cumulative kei sales to {settings.run.headline_window[1]}",
    )


@app.command()
@guarded
def serve(config: ConfigOpt = Path("config.yaml")) -> None:
    """Serve deployment 'keicast-served' on config.yaml's schedule from this process (no work pool); Ctrl-C stops."""
    from keicast.config import load_settings

    _quiet_environment()
    settings = load_settings(config)
    from prefect import serve as prefect_serve

    from keicast.deployments import SERVED, served_deployment

    deployment = served_deployment(settings)
    cfg = settings.config.schedule
    err.print(f"keicast: serving deployment 'keicast-pipeline/{SERVED}' on cron '{cfg.cron}' ({cfg.timezone})")
    prefect_serve(deployment)


@app.command()
@guarded
def deploy(config: ConfigOpt = Path("config.yaml")) -> None:
    """Create or update deployment 'keicast-scheduled' (work pool 'keicast-process') with config.yaml's schedule."""
    from keicast.config import load_settings

    _quiet_environment()
    settings = load_settings(config)
    from keicast.deployments import SCHEDULED, WORK_POOL
    from keicast.deployments import deploy as apply_deployment

    deployment_id = apply_deployment(settings)
    cfg = settings.config.schedule
    out.print(
        f"deployment keicast-pipeline/{SCHEDULED} ({deployment_id}) on cron '{cfg.cron}' ({cfg.timezone}); "
        f"start a worker with: prefect worker start --pool {WORK_POOL}"
    )


def _calibrated(config: Path, sets: list[str] | None, scenarios: list[str] | None):
    """Settings, evidence, and the calibrated assumption table (the pipeline's steps up to assembly)."""
    from keicast import steps
    from keicast.config import load_settings

    settings = load_settings(config, scenarios, sets)
    evidence = steps.load_evidence(settings)
    return settings, evidence, steps.calibrate_assumptions(settings, evidence)


@app.command()
@guarded
def assumptions(
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    run_id: Annotated[str | None, typer.Option("--run", help="Show a stored run's table instead.")] = None,
) -> None:
    """The assumption table (one row per scenario x key) with values, ranges, sources and quotes."""
    if run_id:
        from keicast import warehouse
        from keicast.config import load_settings

        settings = load_settings(config)
        table = warehouse.run_assumptions(settings.run.warehouse, _run_id(settings, run_id, "--run"))
        if table.empty:
            raise ConfigError([Problem("--run", "", run_id, "a run id in the warehouse (see `keicast runs`)")])
        if scenario:
            table = table[table.scenario.isin(scenario)]
    else:
        table = _calibrated(config, set_, scenario)[2].table
    if fmt is Format.table:
        emit(table[["scenario", "key", "value", "low", "high", "unit", "kind", "override_origin"]], fmt, "assumptions")
    else:
        emit(table, fmt)


@sources_app.command("verify")
@guarded
def sources_verify(
    articles: Annotated[Path, typer.Option("--articles", help="Folder with the article texts.")] = Path(
        "data/articles"
    ),
    register: Annotated[
        Path, typer.Option("--register", metavar="PATH", help="The evidence register to check.")
    ] = Path("data/register.yaml"),
) -> None:
    """Check that every quote occurs in its article and contains its figure."""
    from keicast.register import load_register, verify_quotes

    if not articles.is_dir():
        raise ConfigError([Problem("--articles", "", str(articles), "an existing folder of article texts")])
    checks = verify_quotes(load_register(register), articles)
    bad = [c for c in checks if not c.ok]
    for c in bad:
        err.print(f"  - {c.key} ({c.source}): {c.reason} [figure {c.figure!r}]")
    out.print(f"{len(checks) - len(bad)}/{len(checks)} quotes verified against {articles}")
    if bad:
        raise typer.Exit(1)


@articles_app.command("scan")
@guarded
def articles_scan(
    directory: Annotated[
        Path | None, typer.Argument(metavar="DIR", help="Inbox folder (default: run.articles_dir).")
    ] = None,
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
) -> None:
    """Read new or changed articles, extract their figures and match them against the register."""
    from keicast import warehouse
    from keicast.config import RunRequest, settings_for

    _quiet_environment()
    request = RunRequest.from_options(config)
    settings = settings_for(request)
    inbox = directory or settings.run.articles_dir
    if not inbox.is_dir():
        raise ConfigError([Problem("DIR", "", str(inbox), "an existing folder of articles")])
    if server_ready := start_temporary_server():
        server_ready()
    from flows.articles import keicast_articles

    _quiet_known_errors()
    with _attended():
        summary = keicast_articles(request, directory=str(inbox))
    for row in summary["not_processed"]:
        err.print(f"keicast: {row['path']}: {row['status']}: {row['message']}")
    with warehouse.connect(settings.run.warehouse, read_only=True, timeout=settings.run.lock_timeout_seconds) as con:
        shown = warehouse.evidence(con)
    shown = shown[shown.path.map(lambda p: Path(p).parent.resolve() == inbox.resolve())].drop(columns=["path"])
    contradictions = int((shown.status == "contradicts").sum())
    err.print(
        f"keicast: {inbox}: {summary['new_or_changed']} article(s) new or changed this scan, {summary['claims']} new "
        f"claim(s); {len(shown)} claim(s) in all, {contradictions} contradiction(s)"
    )
    if fmt is Format.table:
        emit(shown[["claim_id", "article", "text", "qualifier", "status", "key", "registered_value"]], fmt, "claims")
    else:
        emit(shown, fmt)


@articles_app.command("accept")
@guarded
def articles_accept(
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM_ID", help="A claim id from `keicast articles scan`.")],
    key: Annotated[str, typer.Option("--key", help="Register key the claim supports (existing or new).")],
    config: ConfigOpt = Path("config.yaml"),
) -> None:
    """Add a claim to the evidence register (value, quote, source): a reviewed, versioned change. Interrupted at
    any point, the same command run again completes it."""
    from datetime import date

    from keicast.acceptance import accept_claim
    from keicast.config import load_settings

    settings = load_settings(config)
    done = accept_claim(settings.run, claim_id, key, date.today().isoformat())
    claim, evidence = f"claim {claim_id}", f"evidence for {key} in {done.register}"
    if done.edit is not None:
        sys.stdout.write(done.edit.diff())
        err.print(
            f"keicast: {claim} accepted as {evidence}; review the diff above and commit the register", soft_wrap=True
        )
    elif done.completed:
        err.print(
            f"keicast: {claim} was already {evidence} (written by an accept that was interrupted); "
            "the warehouse now records it as accepted: the accept is complete",
            soft_wrap=True,
        )
    else:
        err.print(f"keicast: {claim} is already {evidence}; nothing changed", soft_wrap=True)


# ---------------------------------------------------------------------------------------------- models
@app.command()
@guarded
def calibrate(
    series_csv: Annotated[
        Path,
        typer.Argument(metavar="SERIES.csv", help="CSV of adoptions per period: 'year,value' or one value column."),
    ],
    form: Annotated[
        BassForm, typer.Option("--form", help="pdf: m f(t); increments: m [F(t) - F(t-1)].")
    ] = BassForm.increments,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fit a Bass model to an adoption series by nonlinear least squares."""
    from models.diffusion import BassFit

    t, y = _read_adoptions(series_csv)
    try:
        fit = BassFit(form.value).fit(y, t)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError([Problem(str(series_csv), "", f"{len(y)} values", str(exc))]) from None
    rows = pd.DataFrame(
        {
            "parameter": ["p", "q", "m"],
            "estimate": [fit.p_, fit.q_, fit.m_],
            "std_error": [fit.se_["p"], fit.se_["q"], fit.se_["m"]],
        }
    )
    stats = {
        "form": form.value,
        "n": fit.n_,
        "df": fit.df_,
        "residual_standard_error": fit.rse_,
        "ssr": fit.ssr_,
        "r_squared": fit.r2_,
        "aic": fit.aic_,
        "converged": fit.converged_,
        "at_bound": fit.at_bound_,
    }
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"parameters": rows.to_dict("records"), **stats}, indent=2) + "\n")
    elif fmt is Format.csv:
        sys.stdout.write(rows.to_csv(index=False))
    else:
        emit(rows, fmt, f"Bass fit ({form.value}) to {series_csv}")
        out.print(
            f"Residual standard error: {fit.rse_:,.6g} on {fit.df_} degrees of freedom; "
            f"R² = {fit.r2_:.4f}; AIC = {fit.aic_:.2f}; converged: {fit.converged_}"
            + (f" (on bound: {', '.join(fit.at_bound_)})" if fit.at_bound_ else "")
        )


def _read_adoptions(path: Path) -> tuple[np.ndarray | None, np.ndarray]:
    """Periods (years as 1, 2, ... from the first, gaps kept; None without a year column) and adoptions."""
    from keicast.adoption_series import read_adoption_series

    series = read_adoption_series(path)
    t = None if series.years is None else (series.years - series.years.min() + 1).astype(float)
    return t, series.values


@app.command()
@guarded
def backtest(
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
    adoption: Annotated[
        bool, typer.Option("--adoption", help="Backtest the adoption chain on past US launches instead.")
    ] = False,
    series_csv: Annotated[
        list[Path] | None,
        typer.Option(
            "--series",
            metavar="FILE.csv",
            help="With --adoption: an analog of your own, 'year,value' CSV (repeatable).",
        ),
    ] = None,
    shape: Annotated[
        str | None, typer.Option("--shape", metavar="SHAPE", help="With --adoption: the adoption shape to test.")
    ] = None,
) -> None:
    """Rolling-origin skill vs naive and interval coverage of the baseline market models, or with --adoption of the
    adoption chain on past US launches."""
    from keicast import steps
    from keicast.config import load_settings
    from keicast.history import load_history

    settings = load_settings(config)
    history, _ = load_history(settings.run.reference_dir)
    if adoption or series_csv or shape:
        _adoption_backtest(settings, history, series_csv or [], shape, fmt)
        return
    cfg = settings.config.baseline
    market = steps.fit_market(history, settings)
    chosen = f"selected: {market.model_}, lowest mean MASE over horizons 1-{cfg.max_horizon}"
    emit(market.backtests_, fmt, f"rolling-origin backtest of {cfg.series} ({chosen})")


def _own_analog(path: Path, history: pd.DataFrame, market: str) -> pd.DataFrame:
    """An analyst's analog CSV as history rows (series = file stem): at least 6 years of positive sales, inside
    the market series' years."""
    from keicast.adoption_series import read_adoption_series

    series = read_adoption_series(path, need_years=True)
    name = str(path)
    for line, value in zip(series.lines, series.values, strict=True):
        if value <= 0:
            raise ConfigError(
                [Problem(name, f"line {line}, value", float(value), "positive sales (an analog has launched)")]
            )
    if len(series.values) < 6:
        raise ConfigError([Problem(name, "", f"{len(series.values)} years", "at least 6 years to backtest on")])
    years = set(history[history.series == market].year)
    outside = sorted(set(series.years.tolist()) - years)
    if outside:
        raise ConfigError([Problem(name, "year", outside, f"years covered by {market}")])
    return pd.DataFrame({"series": path.stem, "year": series.years, "value": series.values, "unit": "units"})


def _adoption_backtest(settings, history: pd.DataFrame, paths: list[Path], shape: str | None, fmt: Format) -> None:
    from keicast.calibration import analog_frame, backtest_adoption
    from models.adoption_backtest import COLUMNS, summarise
    from models.diffusion import ADOPTION_SHAPES

    cal, market = settings.config.calibration, settings.config.baseline.series
    if shape is not None and shape not in ADOPTION_SHAPES:
        raise ConfigError([Problem("--shape", "", shape, f"one of {', '.join(ADOPTION_SHAPES)}")])
    own = [_own_analog(p, history, market) for p in paths]
    history = pd.concat([history[~history.series.isin([o.series.iloc[0] for o in own])], *own], ignore_index=True)
    names = [*cal.analogs, *cal.backtest_also, *(o.series.iloc[0] for o in own)]
    cases, _, _ = backtest_adoption(analog_frame(history, names, market), cal, shape)
    if fmt is Format.table:
        emit(cases, fmt, f"adoption chain ({shape or cal.shape}) vs naive on past US launches")
        emit(summarise(cases), fmt, "pooled: median |error| of the hold-out cumulative, CRPS, 80% coverage")
    else:
        emit(cases[COLUMNS], fmt)


# ---------------------------------------------------------------------------------------------- results
@app.command()
@guarded
def runs(
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many runs, newest first.")] = 20,
) -> None:
    """Run history: status, duration, draws, seed and the overrides each run used."""
    from keicast import warehouse
    from keicast.config import load_settings

    settings = load_settings(config)
    frame = warehouse.run_history(settings.run.warehouse, limit, settings.run.lock_timeout_seconds)
    if fmt is Format.table:
        frame = frame.assign(overrides=frame.overrides.map(_overrides_in_words))
    emit(frame, fmt, "runs")


def _overrides_in_words(raw: str | None) -> str:
    """'policy.import_tariff=0.1 (--set); ...' instead of a JSON blob."""
    items = json.loads(raw or "[]")
    return (
        "; ".join(
            f"{o['key']}={o['value']:g}" + (f" ({o['scenario']})" if o.get("scenario") not in (None, "*") else "")
            for o in items
        )
        or "none"
    )


@app.command()
@guarded
def report(
    run_id: Annotated[
        str | None, typer.Argument(metavar="RUN_ID", help="Run id (default: the latest successful run).")
    ] = None,
    config: ConfigOpt = Path("config.yaml"),
) -> None:
    """Print the path of a run's report, regenerating it if it is missing."""
    from keicast import warehouse
    from keicast.config import load_settings
    from keicast.publish import publish_run

    settings = load_settings(config)
    done = warehouse.succeeded_runs(settings.run.warehouse)
    if done.empty:
        raise KeicastError("no successful run yet: run `keicast run` first")
    run_id = run_id or done.run_id.iloc[0]
    if run_id not in set(done.run_id):
        raise ConfigError([Problem("RUN_ID", "", run_id, "the id of a successful run (see `keicast runs`)")])
    path = settings.run.reports_dir / run_id / "index.html"
    if not path.is_file():
        with warehouse.run_lock(settings.run.warehouse, settings.run.lock_timeout_seconds):  # publishing is serialised
            path = publish_run(settings, run_id, make_latest=run_id == done.run_id.iloc[0])
    out.print(str(path))


def _run_id(settings, ref: str, label: str) -> str:
    from keicast import warehouse

    found = warehouse.resolve_run(settings.run.warehouse, ref, settings.run.lock_timeout_seconds)
    if not found:
        expected = "'latest', 'previous', or a run id or unique prefix of one (see `keicast runs`)"
        raise ConfigError([Problem(label, "", ref, expected)])
    return found


def _shown_deltas(deltas: pd.DataFrame) -> pd.DataFrame:
    """Forecast deltas as people read them: counts to two significant figures, shares as percentages."""
    from keicast import formatting

    def show(row, column):
        return (formatting.share if row.metric == "kei_share" else formatting.count)(row[column])

    return pd.DataFrame(
        {
            "scenario": deltas.scenario,
            "metric": deltas.metric,
            "year": deltas.year.map(formatting.year),
            "P50 before": [show(r, "p50_before") for _, r in deltas.iterrows()],
            "P50 after": [show(r, "p50_after") for _, r in deltas.iterrows()],
            "change": (deltas.p50_change_pct / 100).map(formatting.signed_percent),
        }
    )


@app.command()
@guarded
def compare(
    run_a: Annotated[
        str, typer.Argument(metavar="RUN_A", help="Before: 'previous', 'latest', a run id or a unique prefix of one.")
    ],
    run_b: Annotated[
        str, typer.Argument(metavar="RUN_B", help="After: 'latest', 'previous', a run id or a unique prefix.")
    ],
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Forecast metric to show (repeatable).")
    ] = None,
    year: Annotated[list[int] | None, typer.Option("--year", "-y", help="Year to show (repeatable).")] = None,
    every: Annotated[bool, typer.Option("--all", help="List unchanged forecast values too.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Assumption and forecast differences between two runs (A = before, B = after), e.g. `compare previous latest`."""
    from keicast import warehouse
    from keicast.compare import HEADLINE_METRICS, REPORT_YEARS, assumption_changes, forecast_deltas
    from keicast.config import load_settings

    settings = load_settings(config)
    ids = {label: _run_id(settings, ref, label) for label, ref in (("RUN_A", run_a), ("RUN_B", run_b))}
    frames = {label: warehouse.run_outputs(settings.run.warehouse, rid) for label, rid in ids.items()}
    for label, data in frames.items():
        if data["forecasts"].empty:
            raise ConfigError([Problem(label, "", ids[label], "a run with forecasts (see `keicast runs`)")])
    bad = sorted(set(metric or []) - set(HEADLINE_METRICS))
    if bad:
        raise ConfigError([Problem("--metric", "", m, f"one of {', '.join(HEADLINE_METRICS)}") for m in bad])
    changes = assumption_changes(frames["RUN_A"]["assumptions"], frames["RUN_B"]["assumptions"])
    deltas = forecast_deltas(frames["RUN_A"]["forecasts"], frames["RUN_B"]["forecasts"], year or list(REPORT_YEARS))
    deltas = deltas[deltas.metric.isin(metric or ["kei_sales", "kei_sales_cumulative"])]
    if scenario:
        deltas = deltas[deltas.scenario.isin(scenario)]
        changes = changes[changes.scenario.isin(scenario)]
    changes = _once_for_all_scenarios(changes)
    if fmt is Format.json:
        body = {"run_a": ids["RUN_A"], "run_b": ids["RUN_B"], "assumptions": changes, "forecasts": deltas}
        sys.stdout.write(json.dumps({k: _json(v) for k, v in body.items()}, indent=2) + "\n")
        return
    if fmt is Format.csv:
        emit(deltas, fmt)
        return
    _print_comparison(ids, changes, deltas, every)


def _print_comparison(ids: dict[str, str], changes: pd.DataFrame, deltas: pd.DataFrame, every: bool) -> None:
    """The assumption changes, then the forecast medians that moved (all of them with ``every``)."""
    out.print(f"{ids['RUN_A']} -> {ids['RUN_B']}: {len(changes)} assumption change(s)")
    if len(changes):
        emit(changes, Format.table, "assumption changes")
    moved = deltas[deltas.p50_change_pct.abs().fillna(1) >= 0.05]  # under 0.05%: Monte Carlo noise at most
    shown = deltas if every else moved
    if len(shown):
        emit(_shown_deltas(shown), Format.table, "forecast medians (P50) before and after")
    if len(deltas) > len(shown):
        out.print(f"{len(deltas) - len(shown)} forecast value(s) unchanged (--all lists them)")


def _once_for_all_scenarios(changes: pd.DataFrame) -> pd.DataFrame:
    """An assumption that changed the same way in every scenario is one row with scenario '(all)'."""
    if changes.empty:
        return changes
    columns = [c for c in changes.columns if c != "scenario"]
    counts = changes.astype(str).groupby(columns, dropna=False).scenario.transform("size")
    every = counts == changes.scenario.nunique()
    shared = changes[every].drop_duplicates(subset=columns).assign(scenario="(all)")
    return pd.concat([shared, changes[~every]], ignore_index=True)[changes.columns]


def _json(value):
    return json.loads(value.to_json(orient="records")) if isinstance(value, pd.DataFrame) else value


@app.command()
@guarded
def sql(
    query: Annotated[str, typer.Argument(metavar="QUERY", help='A SQL query, e.g. "select * from runs" (read-only).')],
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
) -> None:
    """Query the warehouse read-only (DuckDB SQL): tables runs, forecasts, assumptions, backtests, ... ."""
    import duckdb

    from keicast import warehouse
    from keicast.config import load_settings

    settings = load_settings(config)
    try:
        frame = warehouse.read_only_query(settings.run.warehouse, query, settings.run.lock_timeout_seconds)
    except duckdb.Error as exc:
        raise ConfigError([Problem("QUERY", "", query, str(exc).splitlines()[0])]) from None
    emit(frame, fmt, None)


install_record_commands(app, guarded, emit, Format, out, err)  # actuals add, record, backfill (keicast.cli_record)

_exit_code = 0


def _exit_without_teardown() -> None:
    """The last exit handler: end the process once every other handler has run, skipping the interpreter's
    teardown. Its garbage collections walk every object Prefect, GX and pandas made (about 1 s on 2 cores) only to
    free memory the system takes back anyway. Logging is shut down (flushed) first, as the teardown would."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code)


def main() -> None:  # pragma: no cover - console entry point (tests run it as a subprocess)
    """The ``keicast`` command."""
    global _exit_code
    atexit.register(_exit_without_teardown)  # registered first: runs after Prefect's handlers
    try:
        app()
    except SystemExit as exc:
        _exit_code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    except KeyboardInterrupt:
        _exit_code = 130
        raise
    except BaseException:
        _exit_code = 1
        raise
