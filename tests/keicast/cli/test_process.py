"""The command process: version, help and exit codes."""

import logging

import typer

from keicast.cli import app
from keicast.cli.process import _KnownErrorFilter, guarded
from keicast.errors import ConfigError, InputError, Problem

from .conftest import runner


def test_version_and_help_read_like_a_tool():
    assert runner.invoke(app, ["--version"]).output.startswith("keicast ")
    helped = runner.invoke(app, ["run", "--help"]).output
    assert "KEY=VALUE" in helped and "--quiet" in helped and "<list" not in helped and "<bool>" not in helped
    assert "<pdf|increments>" in runner.invoke(app, ["calibrate", "--help"]).output


def test_a_bad_sql_statement_is_invalid_usage_and_exits_2():
    app = typer.Typer()

    @app.command()
    @guarded
    def sql(query: str) -> None:
        raise ConfigError([Problem("QUERY", "", query, 'Parser Error: syntax error at or near "selec"')])

    result = runner.invoke(app, ["selec * from runs"])
    assert result.exit_code == 2 and "keicast: invalid usage (1 problem); nothing was run or changed:" in result.output
    assert "QUERY = 'selec * from runs': Parser Error" in result.output and "configuration" not in result.output


def test_prefect_lines_about_errors_the_cli_reports_are_kept_off_the_console():
    def line(message: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, message, None, info)

    known = _KnownErrorFilter()
    assert not known.filter(line("Finished in state Failed('Task run encountered an exception InputError: ...')"))
    assert not known.filter(line("Task run failed", InputError([])))
    assert known.filter(line("Finished in state Failed('Task run encountered an exception ValueError: ...')"))
