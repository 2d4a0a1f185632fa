"""The keicast command line: the commands, one module per group (keicast.cli.running, evidence, calibration,
runs, track_record), registered here; keicast.cli.process maps errors to exit codes."""

from __future__ import annotations

from typing import Annotated

import typer

from keicast.cli import calibration, evidence, process, running, runs, track_record
from keicast.cli.output import out

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
actuals_app = typer.Typer(
    help="Actuals: what happened, scored against past forecasts.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(actuals_app, name="actuals")

for command in (
    running.run,
    running.validate,
    running.sweep,
    running.serve,
    running.deploy,
    evidence.assumptions,
    calibration.calibrate,
    calibration.backtest,
    runs.runs,
    runs.report,
    runs.compare,
    runs.sql,
    runs.schema,
    track_record.record,
    track_record.backfill,
):
    app.command()(command)
sources_app.command("verify")(evidence.sources_verify)
articles_app.command("scan")(evidence.articles_scan)
articles_app.command("accept")(evidence.articles_accept)
actuals_app.command("add")(track_record.actuals_add)


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


def main() -> None:  # pragma: no cover - console entry point (tests run it as a subprocess)
    """The ``keicast`` command."""
    process.run_command(app)
