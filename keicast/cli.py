"""The keicast command line. The one place that maps errors to exit codes:
0 success, 2 invalid configuration or usage, 3 a data-quality gate failed, 1 anything else."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keicast.errors import ConfigError, KeicastError, Problem

app = typer.Typer(
    help="Forecast US demand for Japanese-style kei cars under policy scenarios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="The evidence register's article sources.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
articles_app = typer.Typer(help="The article inbox: claims found in new articles.", no_args_is_help=True)
app.add_typer(articles_app, name="articles")
# markup off: user text (keys, values, descriptions) may contain [brackets] that rich would eat
out = Console(width=None if sys.stdout.isatty() else 180, markup=False, highlight=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180, markup=False, highlight=False)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Path to config.yaml.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override an assumption: KEY=VALUE (repeatable).")]
ScenarioOpt = Annotated[list[str] | None, typer.Option("--scenario", "-s", help="Scenario to run (repeatable).")]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _quiet_environment() -> None:
    for name, value in (
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        ("GX_ANALYTICS_ENABLED", "false"),
        ("DO_NOT_TRACK", "1"),
        ("DASK_LOGGING__DISTRIBUTED", "warning"),
        ("PREFECT_LOGGING_LEVEL", os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")),
    ):
        os.environ.setdefault(name, value)


def _prefect_ready() -> None:
    """Before a flow runs: a writable Prefect home, and its temporary server started one process at a time.

    Without a Prefect API URL every command starts a temporary server on the SQLite database in PREFECT_HOME,
    and each server migrates that database as it starts: several first runs at once raced and killed each
    other. Starting is serialised by a file lock in PREFECT_HOME; once started, the server is the one the flow
    uses. An unwritable home is refused at once with what to do (Prefect itself waits 26 s, then fails).
    """
    if os.environ.get("PREFECT_API_URL"):
        return
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        raise KeicastError(
            f"Prefect needs a writable home for its database: {home} is not writable ({exc.strerror or exc}). "
            "Set PREFECT_HOME to a writable folder, or PREFECT_API_URL to a running Prefect server "
            "(`prefect server start`); nothing was run"
        ) from None
    from filelock import FileLock
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():  # a profile's server, or the test harness's
        return
    from prefect.server.api.server import SubprocessASGIServer

    with FileLock(str(home / "keicast-server-start.lock")):
        SubprocessASGIServer().start()


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


def guarded(fn):
    """Run a command, turning keicast's errors into a message and their exit code (no traceback)."""

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
        for row in frame.itertuples(index=False):
            table.add_row(*[Text("" if pd.isna(v) else (f"{v:,.6g}" if isinstance(v, float) else str(v))) for v in row])
        out.print(table)


# ---------------------------------------------------------------------------------------------- run
@app.command()
@guarded
def run(
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    set_: SetOpt = None,
    draws: Annotated[int | None, typer.Option("--draws", help="Monte Carlo draws per scenario.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
) -> None:
    """Run the pipeline: assumptions -> gates -> forecasts -> report."""
    from keicast.config import load_settings

    _quiet_environment()
    settings = load_settings(config, scenario, set_, draws, seed)  # exit 2 before any server starts
    _prefect_ready()
    from flows.pipeline import keicast_pipeline, new_run_id

    _quiet_known_errors()
    run_id = new_run_id()
    err.print(f"keicast: run {run_id}: {len(settings.scenarios)} scenario(s), {settings.run.draws:,} draws each")
    keicast_pipeline(
        config_path=str(config),
        scenarios=list(settings.scenarios),
        sets=list(set_ or []),
        draws=draws,
        seed=seed,
        run_id=run_id,
    )
    report = settings.run.reports_dir / run_id / "index.html"
    out.print(f"run {run_id} succeeded; report: {report}")


@app.command()
@guarded
def validate(config: ConfigOpt = Path("config.yaml"), set_: SetOpt = None) -> None:
    """Validate config.yaml and run the input gates (history, calibration, assumptions) without forecasting."""
    from keicast import gates
    from keicast.assumptions import scenario_spec
    from models.scenario import base_buyer_price

    _quiet_environment()
    settings, history, fits, table = _assumption_table(config, set_, None)
    required = [settings.config.baseline.series, *settings.config.calibration.refine_with]
    prices = {n: base_buyer_price(scenario_spec(n, settings.config, table)) for n in settings.scenarios}
    docs = settings.run.reports_dir / "data_docs"
    params = gates.parameters(settings.config)
    results = pd.concat(
        [
            gates.check("history", gates.history_frames(history, required), params, docs),
            gates.check("calibration", {"calibration": fits}, params, docs),
            gates.check("assumptions", gates.assumption_frames(table, prices), params, docs, build_docs=True),
        ],
        ignore_index=True,
    )
    out.print(f"config {config}: valid; {len(results)} expectations checked, {(~results.success).sum()} failed")
    gates.raise_on_failure("inputs", results, docs)


@app.command()
@guarded
def sweep(
    vary: Annotated[list[str], typer.Option("--vary", help="KEY=V1,V2,... (repeatable); KEY may be launch_year.")],
    base: Annotated[str, typer.Option("--base", help="Scenario the combinations start from.")] = "japan_imports_tariff",
    config: ConfigOpt = Path("config.yaml"),
    draws: Annotated[int | None, typer.Option("--draws")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Run every combination of the listed assumption values as a scenario and compare them."""
    import itertools

    from keicast import warehouse
    from keicast.config import load_settings

    _quiet_environment()
    axes, problems = [], []
    for item in vary:
        key, sep, raw = item.partition("=")
        try:
            values = [float(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            values = []
        if not all(math.isfinite(v) and (key.strip() != "launch_year" or v.is_integer()) for v in values):
            values = []  # inf, nan, or a launch year that is not a whole year
        if not sep or not key.strip() or not values:
            problems.append(
                Problem(
                    "--vary",
                    item,
                    item,
                    "KEY=V1,V2,... with finite numbers (whole years for launch_year), e.g. policy.import_tariff=0,0.25",
                )
            )
            continue
        axes.append((key.strip(), values))
    combos = list(itertools.product(*[[(k, v) for v in values] for k, values in axes])) if axes else []
    if not problems and not 1 <= len(combos) <= 500:
        problems.append(Problem("--vary", "", len(combos), "between 1 and 500 combinations"))
    if problems:
        raise ConfigError(problems)
    plan = {
        f"sweep_{i:03d}": {"base": base, "factors": {k: int(v) if k == "launch_year" else v for k, v in combo}}
        for i, combo in enumerate(combos, start=1)
    }
    settings = load_settings(config, draws=draws, seed=seed, sweep=plan)  # exit 2 before any server starts
    _prefect_ready()
    from flows.pipeline import keicast_pipeline, new_run_id

    _quiet_known_errors()
    run_id = new_run_id()
    err.print(f"keicast: sweep {run_id}: {len(plan)} combinations of {base}, {settings.run.draws:,} draws each")
    keicast_pipeline(config_path=str(config), draws=draws, seed=seed, run_id=run_id, sweep=plan)
    table = warehouse.query(
        settings.run.warehouse, "select * from sweep_results where run_id = ? order by cumulative_p50 desc", [run_id]
    )
    emit(
        table.drop(columns=["run_id"]),
        fmt,
        f"sweep {run_id}: cumulative kei sales to {settings.run.headline_window[1]}",
    )


@app.command()
@guarded
def serve(config: ConfigOpt = Path("config.yaml")) -> None:
    """Serve the scheduled deployment from this process (no work pool needed); Ctrl-C stops it."""
    from keicast.config import load_settings

    _quiet_environment()
    settings = load_settings(config)
    from prefect import serve as prefect_serve

    from flows.pipeline import DEPLOYMENT, deployment

    schedule = settings.config.schedule
    err.print(f"keicast: serving deployment '{DEPLOYMENT}' on cron '{schedule.cron}' ({schedule.timezone})")
    prefect_serve(deployment(settings, str(config)))


@app.command()
@guarded
def deploy(config: ConfigOpt = Path("config.yaml")) -> None:
    """Create the deployments in prefect.yaml on the Prefect server, with config.yaml's schedule."""
    import subprocess

    from keicast.config import load_settings

    schedule = load_settings(config).config.schedule
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "--no-prompt", "deploy", "--all", "--cron", schedule.cron, "--timezone", schedule.timezone]
    err.print("keicast: " + " ".join(command[1:]))
    result = subprocess.run(command, check=False)
    if result.returncode:
        raise KeicastError(f"prefect deploy failed (exit {result.returncode})")


def _assumption_table(config: Path, sets: list[str] | None, scenarios: list[str] | None):
    from keicast.assumptions import assemble
    from keicast.calibration import adoption_refinements, calibrate_analogs
    from keicast.config import load_settings
    from keicast.evidence import load_history

    settings = load_settings(config, scenarios, sets)
    history, _ = load_history(settings.run.reference_dir)
    cal = settings.config.calibration
    fits, _ = calibrate_analogs(history, cal.analogs, cal.form, cal.refine_with)
    table = assemble(
        settings.register,
        settings.config,
        settings.scenarios,
        settings.overrides,
        adoption_refinements(fits, settings.register),
    )
    return settings, history, fits, table


@app.command()
@guarded
def assumptions(
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    set_: SetOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    run_id: Annotated[str | None, typer.Option("--run", help="Show a stored run's table instead.")] = None,
) -> None:
    """The assumption table (one row per scenario x key) with values, ranges, sources and quotes."""
    if run_id:
        from keicast import warehouse
        from keicast.config import load_settings

        settings = load_settings(config)
        table = warehouse.query(settings.run.warehouse, "select * from assumptions where run_id = ?", [run_id])
        if table.empty:
            raise ConfigError([Problem("--run", "", run_id, "a run id in the warehouse (see `keicast runs`)")])
        if scenario:
            table = table[table.scenario.isin(scenario)]
    else:
        _, _, _, table = _assumption_table(config, set_, scenario)
    if fmt is Format.table:
        emit(table[["scenario", "key", "value", "low", "high", "unit", "kind", "override_origin"]], fmt, "assumptions")
    else:
        emit(table, fmt)


@sources_app.command("verify")
@guarded
def sources_verify(
    articles: Annotated[Path, typer.Option("--articles", help="Folder with the article texts.")] = Path(
        "../shared/seeds"
    ),
    register: Annotated[Path, typer.Option("--register")] = Path("data/register.yaml"),
) -> None:
    """Check that every quote occurs in its article and contains its figure."""
    from keicast.evidence import load_register, verify_quotes

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
    directory: Annotated[Path | None, typer.Argument(help="Inbox folder (default: run.articles_dir).")] = None,
    config: ConfigOpt = Path("config.yaml"),
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Read new or changed articles, extract their figures and match them against the register."""
    from keicast import warehouse
    from keicast.config import load_settings

    _quiet_environment()
    settings = load_settings(config)
    inbox = directory or settings.run.articles_dir
    if not inbox.is_dir():
        raise ConfigError([Problem("DIR", "", str(inbox), "an existing folder of articles")])
    _prefect_ready()
    from flows.articles import keicast_articles

    _quiet_known_errors()
    summary = keicast_articles(config_path=str(config), directory=str(inbox))
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
    claim_id: Annotated[str, typer.Argument(help="A claim id from `keicast articles scan`.")],
    key: Annotated[str, typer.Option("--key", help="Register key the claim supports (existing or new).")],
    config: ConfigOpt = Path("config.yaml"),
) -> None:
    """Add a claim to the evidence register (value, quote, source): a reviewed, versioned change."""
    from datetime import date

    from keicast import warehouse
    from keicast.config import load_settings
    from keicast.evidence import register_edit

    settings = load_settings(config)
    run = settings.run
    edit = None
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        try:
            # The warehouse first: busy or missing, nothing has changed yet. The register is replaced (one
            # rename) only when the claim's update is ready to commit, and put back if the commit fails.
            with warehouse.transaction(run.warehouse, run.lock_timeout_seconds) as con:
                row = warehouse.claim_to_accept(con, claim_id)
                if row is None:
                    raise ConfigError([Problem("CLAIM_ID", "", claim_id, "a claim id from `keicast articles scan`")])
                edit = register_edit(run.register_file, row, key, date.today().isoformat())
                warehouse.mark_claim_accepted(con, claim_id, key)
                if edit is not None:
                    edit.write()
        except BaseException:
            if edit is not None and run.register_file.read_text(encoding="utf-8") == edit.after:
                edit.undo()
            raise
    if edit is None:
        err.print(f"keicast: claim {claim_id} is already evidence for {key} in {run.register_file}; nothing changed")
        return
    sys.stdout.write(edit.diff())
    err.print(
        f"keicast: claim {claim_id} accepted as evidence for {key} in {run.register_file}; "
        "review the diff above and commit the register"
    )


# ---------------------------------------------------------------------------------------------- models
@app.command()
@guarded
def calibrate(
    series_csv: Annotated[Path, typer.Argument(help="CSV of adoptions per period: 'year,value' or one value column.")],
    form: Annotated[str, typer.Option("--form", help="pdf: m f(t); increments: m [F(t) - F(t-1)].")] = "increments",
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Fit a Bass model to an adoption series by nonlinear least squares."""
    from models.diffusion import BassFit

    if form not in ("pdf", "increments"):
        raise ConfigError([Problem("--form", "", form, "'pdf' or 'increments'")])
    t, y = _read_adoptions(series_csv)
    try:
        fit = BassFit(form).fit(y, t)
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
        "form": form,
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
        emit(rows, fmt, f"Bass fit ({form}) to {series_csv}")
        out.print(
            f"Residual standard error: {fit.rse_:,.6g} on {fit.df_} degrees of freedom; "
            f"R² = {fit.r2_:.4f}; AIC = {fit.aic_:.2f}; converged: {fit.converged_}"
            + (f" (on bound: {', '.join(fit.at_bound_)})" if fit.at_bound_ else "")
        )


MAX_SERIES_BYTES = 10_000_000  # an adoption series is a few hundred bytes


def _read_adoptions(path: Path):
    import io

    from keicast.inputs import read_bounded, reason

    try:
        data = read_bounded(path, MAX_SERIES_BYTES)
        frame = pd.read_csv(io.BytesIO(data), comment="#")
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", str(path), f"an existing CSV file ({reason(exc)})")]) from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ConfigError([Problem(str(path), "", "(unparseable)", f"a CSV file ({exc})")]) from None
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    if "value" in frame.columns:
        y, t = numeric["value"], numeric["year"] if "year" in frame.columns else None
    elif numeric.shape[1] == 1:
        y, t = numeric.iloc[:, 0], None
    else:
        raise ConfigError(
            [Problem(str(path), "columns", list(frame.columns), "a 'value' column (and optionally 'year')")]
        )
    if y.isna().any() or not np.isfinite(y).all():
        raise ConfigError([Problem(str(path), "value", "non-numeric entries", "finite numbers in every row")])
    if t is not None:
        bad = frame["year"][t.isna() | (t != t.round())]
        if not bad.empty:
            raise ConfigError([Problem(str(path), "year", bad.iloc[0], "a whole year in every row")])
        if t.duplicated().any():
            raise ConfigError(
                [Problem(str(path), "year", int(t[t.duplicated()].iloc[0]), "each year once (one value per period)")]
            )
        t = t - t.min() + 1
    return (None if t is None else t.to_numpy(dtype=float)), y.to_numpy(dtype=float)


@app.command()
@guarded
def backtest(
    config: ConfigOpt = Path("config.yaml"), fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table
) -> None:
    """Rolling-origin skill of the baseline market models against naive benchmarks, horizons 1..5."""
    from keicast.config import load_settings
    from keicast.evidence import baseline_history, load_history
    from models import baseline

    settings = load_settings(config)
    cfg = settings.config.baseline
    history, _ = load_history(settings.run.reference_dir)
    y = baseline_history(history, settings)
    scores = baseline.rolling_origin_backtest(y, max_horizon=cfg.max_horizon, min_train=cfg.min_train)
    chosen = baseline.select_model(scores) if cfg.model == "auto" else cfg.model
    scores = scores.assign(selected=scores.model == chosen)
    emit(scores, fmt, f"rolling-origin backtest of {cfg.series} (selected: {chosen})")


# ---------------------------------------------------------------------------------------------- results
@app.command()
@guarded
def runs(
    config: ConfigOpt = Path("config.yaml"),
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="Newest runs shown.")] = 20,
) -> None:
    """Run history: status, duration and overrides."""
    from keicast import warehouse
    from keicast.config import load_settings

    settings = load_settings(config)
    frame = warehouse.query(
        settings.run.warehouse,
        "select run_id, status, started_at, finished_at, "
        "round(date_diff('millisecond', started_at, finished_at) / 1000.0, 1) as seconds, draws, seed, "
        "overrides, message from runs order by started_at desc limit ?",
        [limit],
    )
    emit(frame, fmt, "runs")


@app.command()
@guarded
def report(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest successful run).")] = None,
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


@app.command()
@guarded
def compare(
    run_a: str,
    run_b: str,
    config: ConfigOpt = Path("config.yaml"),
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Assumption and forecast differences between two runs (A = before, B = after)."""
    from keicast import warehouse
    from keicast.compare import assumption_changes, forecast_deltas
    from keicast.config import load_settings

    settings = load_settings(config)
    frames = {}
    for label, rid in (("RUN_A", run_a), ("RUN_B", run_b)):
        data = warehouse.run_outputs(settings.run.warehouse, rid)
        if data["run"].empty or data["forecasts"].empty:
            raise ConfigError([Problem(label, "", rid, "the id of a run with forecasts (see `keicast runs`)")])
        frames[label] = data
    changes = assumption_changes(frames["RUN_A"]["assumptions"], frames["RUN_B"]["assumptions"])
    deltas = forecast_deltas(frames["RUN_A"]["forecasts"], frames["RUN_B"]["forecasts"], [2030, 2035, 2040])
    if fmt is Format.json:
        sys.stdout.write(
            json.dumps(
                {
                    "run_a": run_a,
                    "run_b": run_b,
                    "assumptions": json.loads(changes.to_json(orient="records")),
                    "forecasts": json.loads(deltas.to_json(orient="records")),
                },
                indent=2,
            )
            + "\n"
        )
        return
    emit(changes, fmt, f"assumption changes {run_a} -> {run_b}")
    emit(deltas, fmt, "forecast deltas (P50)")


def main() -> None:  # pragma: no cover - console entry point
    app()
