"""`keicast actuals add`, the actuals inbox and `keicast backfill` refuse bad input with exit 2 and one message,
and change nothing: neither the warehouse nor the published report (keicast/cli_record.py)."""

import hashlib

import pytest
from typer.testing import CliRunner

from keicast.cli import app
from keicast.config import load_settings
from keicast.errors import ActualsRefused
from keicast.record import ingest_inbox

from ...conftest import base_config, query_warehouse, write_config

runner = CliRunner()
MARKET = "us_light_vehicle_sales_annual"
SOURCE = "https://fred.stlouisfed.org/series/LTOTALNSA"


def state(project):
    """The warehouse file and every published report file, hashed."""
    files = [project / "warehouse.duckdb", *sorted((project / "reports").rglob("*.html"))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def stored(tmp_path):
    """A project whose warehouse holds one actual (2026) and that has a published report."""
    config = write_config(tmp_path, base_config(tmp_path))
    (tmp_path / "good.csv").write_text("year,value\n2026,16100000\n")
    result = runner.invoke(
        app, ["actuals", "add", str(tmp_path / "good.csv"), "--series", MARKET, "--source", SOURCE, "-c", str(config)]
    )
    assert result.exit_code == 0, result.output
    (tmp_path / "reports" / "r0").mkdir(parents=True)
    (tmp_path / "reports" / "r0" / "index.html").write_text("<p>previous report</p>")
    (tmp_path / "reports" / "latest").symlink_to("r0")
    return tmp_path, config


@pytest.mark.parametrize(
    ("rows", "options", "said"),
    [
        (
            "year,value\n2026,16100000\n",
            ["--series", "kei_everything", "--source", SOURCE],
            "--series = 'kei_everything'",
        ),
        ("year,value\n2026,16100000\n", ["--series", MARKET], "--source = None"),
        ("year,value\n2026,-3\n", ["--series", MARKET, "--source", SOURCE], "line 2, value = '-3'"),
        ("year,value\n2026,16400000\n", ["--series", MARKET, "--source", SOURCE], "a revision needs --revise --reason"),
    ],
    ids=["unknown series", "no source", "negative value", "revision without --revise"],
)
def test_a_bad_actuals_file_exits_2_and_changes_nothing(stored, rows, options, said):
    project, config = stored
    before = state(project)
    (project / "bad.csv").write_text(rows)
    result = runner.invoke(app, ["actuals", "add", str(project / "bad.csv"), *options, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert result.output.count("actuals refused (1 problem); nothing was stored or changed:") == 1
    assert said in result.output and "bad.csv" in result.output and "Traceback" not in result.output
    assert state(project) == before


def test_a_revision_with_a_reason_keeps_the_earlier_value(stored):
    project, config = stored
    (project / "rev.csv").write_text("year,value\n2026,16400000\n")
    args = ["actuals", "add", str(project / "rev.csv"), "--series", MARKET, "--source", SOURCE, "-c", str(config)]
    result = runner.invoke(app, [*args, "--revise", "--reason", "BEA annual revision"])
    assert result.exit_code == 0 and "1 revision(s)" in result.output, result.output
    rows = query_warehouse(project, "select value, current, revision, reason from actuals order by revision")
    assert rows.value.tolist() == [16.1e6, 16.4e6] and rows.current.tolist() == [False, True]
    again = runner.invoke(app, [*args, "--revise", "--reason", "again"])
    assert again.exit_code == 0 and "nothing changed" in again.output


def test_a_bad_inbox_file_refuses_the_run_before_it_starts(stored):
    project, config = stored
    before = state(project)
    (project / "actuals").mkdir()
    (project / "actuals" / "ok.csv").write_text(f"# series: {MARKET}\n# source: {SOURCE}\nyear,value\n2026,16100000\n")
    (project / "actuals" / "no_source.csv").write_text(f"# series: {MARKET}\nyear,value\n2025,16259249\n")
    with pytest.raises(ActualsRefused, match="no_source.csv: --source"):
        ingest_inbox(load_settings(config))
    assert state(project) == before
    (project / "actuals" / "no_source.csv").unlink()
    (project / "actuals" / "grey.csv").write_text(
        f"# series: us_kei_truck_imports_annual\n# source: {SOURCE}\nyear,value\n2025,9100\n"
    )
    assert ingest_inbox(load_settings(config)) == 1  # ok.csv repeats the stored 2026: nothing new in it
    assert ingest_inbox(load_settings(config)) == 0  # seen files are skipped


def test_backfill_years_outside_the_history_exit_2(stored):
    project, config = stored
    before = state(project)
    for args in (["--as-of", "1980"], ["--as-of", "2015", "--to", "2031"], ["--as-of", "2020", "--to", "2016"]):
        result = runner.invoke(app, ["backfill", *args, "-c", str(config)])
        assert result.exit_code == 2 and "invalid usage" in result.output, result.output
    assert state(project) == before
