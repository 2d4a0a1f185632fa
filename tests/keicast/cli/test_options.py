"""The shared options: parsed and bounded by the command line itself, before any command runs."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from keicast.cli import app
from keicast.cli.options import (
    BassForm,
    ConfigOpt,
    DrawsOpt,
    Format,
    FormatOpt,
    QuietOpt,
    ScenarioOpt,
    SeedOpt,
    SetOpt,
)

from ...conftest import base_config, write_config
from .conftest import snapshot

runner = CliRunner()
probe = typer.Typer(add_completion=False)


@probe.command()
def show(
    config: ConfigOpt = Path("config.yaml"),
    set_: SetOpt = None,
    scenario: ScenarioOpt = None,
    draws: DrawsOpt = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = Format.table,
    quiet: QuietOpt = False,
) -> None:
    """Print what the options parsed to."""
    parsed = {"config": str(config), "set": set_, "scenario": scenario, "draws": draws, "seed": seed}
    print(json.dumps({**parsed, "format": fmt.value, "quiet": quiet}))


def parsed(*args: str) -> dict:
    result = runner.invoke(probe, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_defaults():
    assert parsed() == {
        "config": "config.yaml", "set": None, "scenario": None, "draws": None, "seed": None,
        "format": "table", "quiet": False,
    }  # fmt: skip


def test_short_names_and_repeatable_options():
    got = parsed("-c", "x.yaml", "--set", "a.b=1", "--set", "c=2", "-s", "one", "-s", "two", "-f", "json", "-q")
    assert got["config"] == "x.yaml" and got["set"] == ["a.b=1", "c=2"] and got["scenario"] == ["one", "two"]
    assert got["format"] == "json" and got["quiet"] is True


def test_the_bounds_are_inclusive():
    assert parsed("--draws", "100")["draws"] == 100
    assert parsed("--seed", "0", "--draws", "5000")["seed"] == 0
    assert parsed("--seed", str(2**63 - 1))["seed"] == 2**63 - 1


@pytest.mark.parametrize(
    "args, option",
    [
        (["--draws", "99"], "--draws"),
        (["--draws", "many"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**63)], "--seed"),
        (["--format", "xml"], "--format"),
    ],
)
def test_values_out_of_bounds_are_usage_errors_naming_the_option(args, option):
    result = runner.invoke(probe, args)
    assert result.exit_code == 2 and option in result.output


def test_the_formats_and_bass_forms():
    assert [f.value for f in Format] == ["table", "csv", "json"] and Format("csv") is Format.csv
    assert [f.value for f in BassForm] == ["pdf", "increments"]


@pytest.mark.parametrize("args", [["run", "--draws", "5"], ["run", "--seed", "-3"], ["runs", "--format", "xml"]])
def test_a_bad_option_on_a_command_exits_2_and_runs_nothing(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, base_config(tmp_path))
    before = snapshot(tmp_path)
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 2 and args[1] in result.output and "Traceback" not in result.output
    assert snapshot(tmp_path) == before and not (tmp_path / "warehouse.duckdb").exists()
