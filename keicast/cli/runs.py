"""Commands on stored runs: list them, (re)publish a report, compare two, query the warehouse."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from keicast.cli.options import (
    ConfigOpt,
    Format,
    FormatOpt,
    ScenarioOpt,
)
from keicast.cli.output import as_json, emit, out
from keicast.cli.process import guarded
from keicast.errors import ConfigError, KeicastError, Problem


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
    """'policy.import_tariff=10%; kei.target_price=$7k (federal_approval_domestic)', not a JSON blob; each value in
    its unit (in runs recorded before overrides kept their unit: a plain number)."""
    from keicast.formatting import by_unit

    items = json.loads(raw or "[]")
    return (
        "; ".join(
            f"{o['key']}={by_unit(o['value'], o.get('unit'))}"
            + (f" ({o['scenario']})" if o.get("scenario") not in (None, "*") else "")
            for o in items
        )
        or "none"
    )


@guarded
def report(
    run_id: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN_ID",
            help="'latest', 'previous', a run id or a unique prefix (default: the latest successful run).",
        ),
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
    run_id = resolve_run_id(settings, run_id, "RUN_ID") if run_id else done.run_id.iloc[0]
    if run_id not in set(done.run_id):
        raise ConfigError([Problem("RUN_ID", "", run_id, "the id of a successful run (see `keicast runs`)")])
    path = settings.run.reports_dir / run_id / "index.html"
    if not path.is_file():
        with warehouse.run_lock(settings.run.warehouse, settings.run.lock_timeout_seconds):  # publishing is serialised
            path = publish_run(settings, run_id, make_latest=run_id == done.run_id.iloc[0])
    out.print(str(path))


def resolve_run_id(settings, ref: str, label: str) -> str:
    from keicast import warehouse

    found = warehouse.resolve_run(settings.run.warehouse, ref, settings.run.lock_timeout_seconds)
    if not found:
        expected = "'latest', 'previous', or a run id or unique prefix of one (see `keicast runs`)"
        raise ConfigError([Problem(label, "", ref, expected)])
    return found


def _shown_deltas(deltas: pd.DataFrame) -> pd.DataFrame:
    """Forecast deltas as people read them: counts to two significant figures, shares as percentages."""
    from keicast import formatting
    from models.scenario import FRACTION_METRICS

    def show(row, column):
        return (formatting.share if row.metric in FRACTION_METRICS else formatting.count)(row[column])

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
    """Assumption and forecast differences between two runs (A = before, B = after), e.g. `compare previous latest`.
    JSON holds both; CSV, one table, holds the forecast deltas."""
    from keicast.compare import (
        ALL_SCENARIOS,
        COMPARED_METRICS,
        REPORT_YEARS,
        assumption_changes,
        forecast_deltas,
    )
    from keicast.config import load_settings

    ids, frames = _two_runs(load_settings(config), run_a, run_b)
    _check_selection(frames, metric or [], year or [])
    changes = assumption_changes(frames["RUN_A"]["assumptions"], frames["RUN_B"]["assumptions"])
    deltas = forecast_deltas(frames["RUN_A"]["forecasts"], frames["RUN_B"]["forecasts"], year or list(REPORT_YEARS))
    deltas = deltas[deltas.metric.isin(metric or COMPARED_METRICS)]
    if scenario:
        deltas = deltas[deltas.scenario.isin(scenario)]
        changes = changes[changes.scenario.isin([*scenario, ALL_SCENARIOS])]
    if fmt is Format.json:
        body = {"run_a": ids["RUN_A"], "run_b": ids["RUN_B"], "assumptions": changes, "forecasts": deltas}
        sys.stdout.write(json.dumps({k: as_json(v) for k, v in body.items()}, indent=2) + "\n")
        return
    if fmt is Format.csv:
        emit(deltas, fmt)
        return
    _print_comparison(ids, changes, deltas, every)


def _check_selection(frames: dict[str, dict], metrics: list[str], years: list[int]) -> None:
    """ConfigError naming every --metric that cannot be compared and every --year neither run forecasts."""
    from keicast.compare import COMPARABLE_METRICS

    forecast = sorted({int(y) for data in frames.values() for y in data["forecasts"].year})
    problems = [
        Problem("--metric", "", m, f"one of {', '.join(COMPARABLE_METRICS)}")
        for m in sorted(set(metrics) - set(COMPARABLE_METRICS))
    ]
    problems += [
        Problem("--year", "", y, f"a year the runs forecast, {forecast[0]} to {forecast[-1]}")
        for y in sorted(set(years) - set(forecast))
    ]
    if problems:
        raise ConfigError(problems)


def _two_runs(settings, run_a: str, run_b: str) -> tuple[dict[str, str], dict[str, dict]]:
    """The run ids and outputs of RUN_A and RUN_B; each must have forecasts."""
    from keicast import warehouse

    ids = {label: resolve_run_id(settings, ref, label) for label, ref in (("RUN_A", run_a), ("RUN_B", run_b))}
    frames = {label: warehouse.run_outputs(settings.run.warehouse, rid) for label, rid in ids.items()}
    for label, data in frames.items():
        if data["forecasts"].empty:
            raise ConfigError([Problem(label, "", ids[label], "a run with forecasts (see `keicast runs`)")])
    return ids, frames


def _print_comparison(ids: dict[str, str], changes: pd.DataFrame, deltas: pd.DataFrame, every: bool) -> None:
    """The assumption changes, then the forecast medians that moved (all of them with ``every``)."""
    from keicast.compare import moved

    out.print(f"{ids['RUN_A']} -> {ids['RUN_B']}: {len(changes)} assumption change(s)")
    if len(changes):
        emit(changes, Format.table, "assumption changes")
    shown = deltas if every else deltas[moved(deltas)]
    if len(shown):
        emit(_shown_deltas(shown), Format.table, "forecast medians (P50) before and after")
    if len(deltas) > len(shown):
        out.print(f"{len(deltas) - len(shown)} forecast value(s) unchanged (--all lists them)")


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


def schema() -> None:
    """Print the warehouse schema as Markdown (the page docs/warehouse.md)."""
    from keicast import warehouse

    sys.stdout.write(warehouse.schema_page())
