"""End to end: a new actual, then `keicast run`, scores every earlier vintage that forecast its year and the next
report says so on its first screen; a bad inbox file stops the run with exit 2 and changes nothing."""

import hashlib

import pytest
from typer.testing import CliRunner

from keicast.cli import app

from ..conftest import base_config, query_warehouse, write_config

pytestmark = pytest.mark.slow
runner = CliRunner()
MARKET = "us_light_vehicle_sales_annual"
SOURCE = "https://fred.stlouisfed.org/series/LTOTALNSA"


def invoke(*args):
    return runner.invoke(app, list(args))


def test_a_new_actual_is_scored_and_reported_by_the_next_run(prefect_server, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    assert invoke("backfill", "--as-of", "2023", "--to", "2024", "-c", str(config)).exit_code == 0
    first = invoke("run", "-c", str(config))
    assert first.exit_code == 0, first.output
    first_report = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert 'id="track-record"' in first_report and 'id="new-actuals"' not in first_report

    (tmp_path / "us_2026.csv").write_text("year,value\n2026,16050000\n")
    added = invoke(
        "actuals", "add", str(tmp_path / "us_2026.csv"), "--series", MARKET, "--source", SOURCE, "-c", str(config)
    )
    assert added.exit_code == 0, added.output
    second = invoke("run", "-c", str(config))
    assert second.exit_code == 0, second.output

    runs = query_warehouse(tmp_path, "select run_id from runs where status = 'succeeded' order by started_at").run_id
    scores = query_warehouse(tmp_path, "select * from scores where series = ? and period = '2026'", [MARKET])
    assert set(scores.vintage) == {runs.iloc[0], "backfill-2023", "backfill-2024"}  # every earlier vintage
    live = scores[scores.vintage == runs.iloc[0]].iloc[0]
    assert live.kind == "live" and live.horizon == 1 and 0 <= live.pit <= 1 and live.inside_80 in (True, False)
    cutoff = query_warehouse(
        tmp_path, "select cutoff from vintages where run_id = ? and series = ?", [runs.iloc[1], MARKET]
    )
    assert cutoff.cutoff.tolist() == [2026]  # the second run saw the actual
    market = query_warehouse(
        tmp_path,
        "select p10, p90 from forecasts where run_id = ? and metric = 'total_market' and year = 2026",
        [runs.iloc[1]],
    )
    assert (market.p10 == 16050000).all() and (market.p90 == 16050000).all()  # a year with an actual is known

    report = (tmp_path / "reports" / "latest" / "index.html").read_text()
    first_screen = report[: report.index('id="headline"')]
    assert 'id="new-actuals"' in first_screen and "2026: 16.1M" in first_screen and "PIT" in first_screen
    assert "New actuals since the previous run" in (tmp_path / "reports" / "latest" / "report.md").read_text()
    printed = invoke("record", "--series", MARKET, "--format", "csv", "-c", str(config))
    assert printed.exit_code == 0 and runs.iloc[0] in printed.output


def test_a_bad_inbox_file_stops_the_run_and_changes_nothing(prefect_server, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    assert invoke("run", "-c", str(config)).exit_code == 0
    files = [tmp_path / "warehouse.duckdb", tmp_path / "reports" / "latest" / "index.html"]
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    (tmp_path / "actuals").mkdir()
    (tmp_path / "actuals" / "neg.csv").write_text(f"# series: {MARKET}\n# source: {SOURCE}\nyear,value\n2026,-1\n")
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2, result.output
    assert "actuals refused (1 problem)" in result.output and "neg.csv: line 4, value = '-1'" in result.output
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in files] == before
