"""The keicast command line. The one place that maps errors to exit codes:
0 success, 2 invalid configuration or usage, 3 a data-quality gate failed, 1 anything else."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    required = [settings.config.baseline.series]
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
        if not sep or not key.strip() or not values:
            problems.append(
                Problem("--vary", item, item, "KEY=V1,V2,... with numbers, e.g. policy.import_tariff=0,0.25")
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
    from keicast.calibration import adoption_refinements, analog_frame, calibration_table, fit_adoption
    from keicast.config import load_settings
    from keicast.evidence import load_history

    settings = load_settings(config, scenarios, sets)
    history, _ = load_history(settings.run.reference_dir)
    cal = settings.config.calibration
    frame = analog_frame(history, cal.analogs, settings.config.baseline.series)
    fit = fit_adoption(frame, cal.analogs, cal)
    fits, _ = calibration_table(fit, frame)
    table = assemble(
        settings.register,
        settings.config,
        settings.scenarios,
        settings.overrides,
        adoption_refinements(fit, settings.register),
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
    from keicast.evidence import accept_claim

    settings = load_settings(config)
    run = settings.run
    with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
        found = warehouse.query(
            run.warehouse,
            "select c.*, a.path, a.title, a.publisher, a.date from claims c "
            "join articles a using (article_id) where claim_id = ?",
            [claim_id],
        )
        if found.empty:
            raise ConfigError([Problem("CLAIM_ID", "", claim_id, "a claim id from `keicast articles scan`")])
        row = found.iloc[0].to_dict()
        diff = accept_claim(run.register_file, row, key, date.today().isoformat())
        with warehouse.transaction(run.warehouse, run.lock_timeout_seconds) as con:
            con.execute("update claims set accepted_key = ? where claim_id = ?", [key, claim_id])
    sys.stdout.write(diff)
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


def _read_adoptions(path: Path):
    if not path.is_file():
        raise ConfigError([Problem(str(path), "", str(path), "an existing CSV file")])
    try:
        frame = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ConfigError([Problem(str(path), "", "(unparseable)", f"a CSV file ({exc})")]) from None
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    if "value" in frame.columns:
        y = numeric["value"]
        t = numeric["year"] - numeric["year"].min() + 1 if "year" in frame.columns else None
    elif numeric.shape[1] == 1:
        y, t = numeric.iloc[:, 0], None
    else:
        raise ConfigError(
            [Problem(str(path), "columns", list(frame.columns), "a 'value' column (and optionally 'year')")]
        )
    if y.isna().any():
        raise ConfigError([Problem(str(path), "value", "non-numeric entries", "numbers in every row")])
    return (None if t is None else t.to_numpy(dtype=float)), y.to_numpy(dtype=float)


@app.command()
@guarded
def backtest(
    config: ConfigOpt = Path("config.yaml"),
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    adoption: Annotated[
        bool, typer.Option("--adoption", help="Backtest the adoption chain on past US launches instead.")
    ] = False,
    series_csv: Annotated[
        list[Path] | None,
        typer.Option("--series", help="With --adoption: an analog of your own, 'year,value' CSV (repeatable)."),
    ] = None,
    shape: Annotated[str | None, typer.Option("--shape", help="With --adoption: the adoption shape to test.")] = None,
) -> None:
    """Rolling-origin skill of the baseline market models (or, with --adoption, of the adoption chain)."""
    from keicast.config import load_settings
    from keicast.evidence import load_history, series
    from models import baseline

    settings = load_settings(config)
    history, _ = load_history(settings.run.reference_dir)
    if adoption or series_csv or shape:
        _adoption_backtest(settings, history, series_csv or [], shape, fmt)
        return
    cfg = settings.config.baseline
    y = series(history, cfg.series)
    y = y[y.index < settings.run.horizon.start]
    scores = baseline.rolling_origin_backtest(y, max_horizon=cfg.max_horizon, min_train=cfg.min_train)
    chosen = baseline.select_model(scores) if cfg.model == "auto" else cfg.model
    scores = scores.assign(selected=scores.model == chosen)
    emit(scores, fmt, f"rolling-origin backtest of {cfg.series} (selected: {chosen})")


def _own_analog(path: Path, history: pd.DataFrame, market: str) -> pd.DataFrame:
    """An analyst's analog CSV as history rows (series = file stem); years must be inside the market series."""
    if not path.is_file():
        raise ConfigError([Problem(str(path), "", str(path), "an existing CSV file")])
    try:
        frame = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ConfigError([Problem(str(path), "", "(unparseable)", f"a CSV file ({exc})")]) from None
    if not {"year", "value"} <= set(frame.columns):
        raise ConfigError([Problem(str(path), "columns", list(frame.columns), "'year' and 'value' columns")])
    numeric = frame[["year", "value"]].apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any() or (numeric.value <= 0).any() or len(numeric) < 6:
        raise ConfigError([Problem(str(path), "value", "(rows)", "at least 6 rows of numeric year and positive value")])
    years = set(history[history.series == market].year)
    outside = sorted(set(numeric.year.astype(int)) - years)
    if outside:
        raise ConfigError([Problem(str(path), "year", outside, f"years covered by {market}")])
    return numeric.assign(series=path.stem, year=numeric.year.astype(int), unit="units")


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
    cases, _ = backtest_adoption(analog_frame(history, names, market), cal, shape)
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
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    limit: int = 20,
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
