"""End to end through the CLI and a real (temporary) Prefect server: runs, gates, publishing, comparisons."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import duckdb
import pytest
from typer.testing import CliRunner

from keicast.cli import app
from models.scenario import METRICS

from ..conftest import ROOT, base_config, query_warehouse, write_config

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def published_state(project):
    """What a failed run must not touch: latest report and exports, and the forecasts table."""
    latest = project / "reports" / "latest"
    files = sorted(p for p in (project / "exports" / "latest").rglob("*") if p.is_file())
    return {
        "latest": latest.resolve().name,
        "report": hashlib.sha256((latest / "index.html").read_bytes()).hexdigest(),
        "exports": [hashlib.sha256(p.read_bytes()).hexdigest() for p in files],
        "forecasts": int(query_warehouse(project, "select count(*) as n from forecasts").n.iloc[0]),
    }


@pytest.fixture(scope="module")
def first_run(prefect_server, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    (project / "articles").mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "inbox" / "prices.md", project / "articles" / "prices.md")
    config = write_config(project, base_config(project))
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0, result.output
    run_id = query_warehouse(project, "select run_id from runs where status = 'succeeded'").run_id.iloc[0]
    return project, config, run_id


def test_a_run_records_forecasts_for_every_scenario_year_and_metric(first_run):
    project, config, run_id = first_run
    run = query_warehouse(project, "select * from runs where run_id = ?", [run_id]).iloc[0]
    assert run.status == "succeeded" and run.flow_run_id and len(run.config_sha256) == 64 and run.code_version
    f = query_warehouse(
        project,
        "select scenario, metric, count(distinct year) as years from forecasts where run_id = ? group by all",
        [run_id],
    )
    assert len(f) == 5 * len(METRICS) and set(f.years) == {15}
    assert set(f.metric) >= {"total_market", "kei_sales", "kei_share", "kei_in_use", "new_kei_sales", "launched"}
    gates = query_warehouse(project, "select * from gate_results where run_id = ?", [run_id])
    assert gates.success.all() and len(gates) > 30
    for table in (
        "assumptions",
        "backtests",
        "calibration",
        "calibration_fit",
        "sensitivity",
        "class_share_fit",
        "class_share_analogs",
        "adoption_backtests",
    ):
        assert (
            int(query_warehouse(project, f"select count(*) as n from {table} where run_id = ?", [run_id]).n.iloc[0]) > 0
        )
    backtests = query_warehouse(project, "select * from backtests where run_id = ?", [run_id])
    selected = backtests[backtests.selected]
    assert selected.model.nunique() == 1 and set(selected.horizon) == set(range(1, 11))
    chosen_in_sample = backtests.model != "auto"  # "auto": the choice made inside each origin, no paths of its own
    assert backtests.coverage_80.between(0, 1).all() and backtests[chosen_in_sample].spread_scale.gt(0).all()
    calibration = query_warehouse(project, "select series, used from calibration where run_id = ?", [run_id])
    assert set(calibration.series) == {
        "us_hev_sales_annual",
        "us_plugin_ev_sales_total_owid_iea",
        "us_smart_fortwo_sales_annual",
        "us_mini_brand_sales_annual",
    }
    cases = query_warehouse(project, "select * from adoption_backtests where run_id = ?", [run_id])
    assert set(cases["mode"]) == {"post_launch", "pre_launch"} and set(cases.model) == {"chain", "naive"}
    assert cases.series.nunique() == 6


def test_a_run_leaves_prefect_artifacts_with_stable_keys(first_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    project, _, run_id = first_run
    flow_run_id = query_warehouse(project, "select flow_run_id from runs where run_id = ?", [run_id]).flow_run_id.iloc[
        0
    ]
    keys = ["keicast-headline", "keicast-summary"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=keys), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
            )
        )
    assert {a.key for a in artifacts} == set(keys)
    summary = next(a for a in artifacts if a.key == "keicast-summary")
    assert run_id in str(summary.data) and "file://" not in str(summary.data)  # readable on any host
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
    assert flow_run.name == f"keicast-run-{run_id}" and f"run:{run_id}" in flow_run.tags


def test_a_run_publishes_report_and_partitioned_exports(first_run):
    project, _, run_id = first_run
    latest = project / "reports" / "latest"
    assert latest.resolve().name == run_id
    html = (latest / "index.html").read_text()
    assert 'id="evidence"' in html and '<tr class="contradicts">' in html and "New-car prices ease" in html
    claims = query_warehouse(project, "select text, status, key from claims")
    assert ("$48,000", "contradicts", "market.avg_new_vehicle_price") in set(map(tuple, claims.to_numpy()))
    used = query_warehouse(project, "select distinct value from assumptions where key = 'market.avg_new_vehicle_price'")
    assert list(used.value) == [50_000]  # a contradiction alone never changes a forecast
    assert "status_quo" in html and "<svg" in html and "http://" not in html.split("<body>")[0]
    assert 'id="market-check"' in html and "80% interval" in html and "coverage 80%" in html
    assert f"(keicast run {run_id})" in (latest / "report.md").read_text().splitlines()[0]
    assert {"forecasts.csv", "assumptions.csv", "data_quality.html"} <= {p.name for p in latest.iterdir()}
    exports = project / "exports" / "latest"
    frame = duckdb.sql(f"select * from read_parquet('{exports}/forecasts/*/*.parquet', hive_partitioning=true)").df()
    assert set(frame.scenario) == {
        "status_quo",
        "low_speed_class",
        "federal_approval_domestic",
        "japan_imports_tariff",
        "full_fmvss_compliance",
    }
    assumptions = duckdb.sql(
        f"select * from read_parquet('{exports}/assumptions/*/*.parquet', hive_partitioning=true)"
    ).df()
    assert "quote" in assumptions.columns


def _corrupt_history(project):
    reference = project / "bad_reference"
    reference.mkdir(exist_ok=True)
    for path in (ROOT / "data" / "reference").glob("*.csv"):
        text = path.read_text()
        if path.stem == "us_light_vehicle_sales_annual":
            text += "2010,11554824,units\n"  # a duplicated year
        (reference / path.name).write_text(text)
    config = base_config(project, reference_dir=str(reference))
    return write_config(project, config, "bad_history.yaml")


def _unconverged_calibration(project):
    config = base_config(project)
    config["calibration"].update({"warmup": 10, "samples": 10})  # far too short for NUTS to converge
    return write_config(project, config, "bad_calibration.yaml")


def _implausible_adoption_coverage(project):
    config = base_config(project)
    config["gates"]["min_adoption_coverage"] = 0.97
    return write_config(project, config, "bad_adoption.yaml")


@pytest.mark.parametrize(
    "case,expectation",
    [
        ("history", "one value per series and year"),
        ("calibration", "enough independent draws: bulk ESS at least gates.min_bulk_ess"),
        ("adoption", "adoption chain's pooled 80% intervals cover a plausible share of hold-out years"),
        ("assumptions", "kei target price below the US average price"),
        ("forecasts", "first-year market median near the articles' ~16 million"),
    ],
)
def test_a_failing_gate_exits_3_records_why_and_publishes_nothing(first_run, case, expectation):
    project, config, _ = first_run
    before = published_state(project)
    args = {
        "history": ["--config", str(_corrupt_history(project))],
        "calibration": ["--config", str(_unconverged_calibration(project))],
        "adoption": ["--config", str(_implausible_adoption_coverage(project))],
        "assumptions": ["--config", str(config), "--set", "market.avg_new_vehicle_price=5000"],
        "forecasts": ["--config", str(config), "--set", "market.us_new_vehicle_sales=25000000"],
    }[case]
    result = invoke("run", *args)
    assert result.exit_code == 3, result.output
    assert expectation in result.output and "Data Docs" in result.output
    run = query_warehouse(project, "select * from runs order by started_at desc limit 1").iloc[0]
    assert run.status == "failed_gate"
    failed = query_warehouse(project, "select * from gate_results where run_id = ? and not success", [run.run_id])
    assert expectation in set(failed.check_name)
    assert failed.observed.str.len().min() > 0
    assert published_state(project) == before


def test_same_seed_same_forecasts_and_an_override_moves_them(first_run):
    project, config, first = first_run
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert invoke("run", "--config", str(config), "--set", "kei.target_price=7000").exit_code == 0
    runs = query_warehouse(
        project, "select run_id from runs where status = 'succeeded' order by started_at"
    ).run_id.tolist()
    same, cheaper = runs[-2], runs[-1]
    sql = "select scenario, year, metric, mean, p05, p10, p50, p90, p95 from forecasts where run_id = ? order by all"
    assert query_warehouse(project, sql, [first]).equals(query_warehouse(project, sql, [same]))
    pick = (  # given a launch: the draws without one (most of the unconditional median) do not see the price
        "select p50 from forecasts where run_id = ? and scenario = 'federal_approval_domestic' "
        "and metric = 'new_kei_sales_if_launched' and year = 2040"
    )
    assert (
        query_warehouse(project, pick, [cheaper]).p50.iloc[0] > 1.2 * query_warehouse(project, pick, [same]).p50.iloc[0]
    )

    compared = invoke("compare", same, cheaper, "--config", str(config), "--format", "json")
    assert compared.exit_code == 0, compared.output
    diff = json.loads(compared.output)
    assert {a["key"] for a in diff["assumptions"]} == {"kei.target_price"}
    assert all(a["value_after"] == 7000 for a in diff["assumptions"])
    html = (project / "reports" / cheaper / "index.html").read_text()
    assert f"Compared with run <b>{same}</b>" in html and "kei.target_price" in html
    assert "<code>kei.target_price</code> = $7k" in html  # the what-if banner prints the value in its unit

    # as an analyst types it: previous/latest, filters, an override changed in every scenario shown once
    args = ["--config", str(config), "-s", "federal_approval_domestic", "-m", "kei_sales", "-y", "2040"]
    table = invoke("compare", "previous", "latest", *args)
    assert table.exit_code == 0, table.output
    assert table.output.count("kei.target_price") == 1 and "(all)" in table.output
    rows = [line for line in table.output.splitlines() if "federal_approval_domestic" in line]
    assert len(rows) == 1 and re.search(r"\d+k .* \d+k .* \+[\d.]+%", rows[0]), rows
    assert invoke("compare", same[:20], cheaper[:20], "--config", str(config)).exit_code == 0
    counted = invoke("sql", "select count(*) as n from runs", "--config", str(config), "--format", "json")
    assert json.loads(counted.output)[0]["n"] >= 3

    listed = invoke("runs", "--config", str(config), "--format", "json")
    statuses = {r["status"] for r in json.loads(listed.output)}
    assert {"succeeded", "failed_gate"} <= statuses
    assert "kei.target_price=$7k" in invoke("runs", "--config", str(config)).output


def test_report_regenerates_a_missing_report(first_run):
    project, config, run_id = first_run
    shutil.rmtree(project / "reports" / run_id)
    result = invoke("report", run_id, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert (project / "reports" / run_id / "index.html").is_file()
    assert (project / "reports" / "latest").resolve().name != run_id  # an old run does not become latest
    assert invoke("report", "no-such-run", "--config", str(config)).exit_code == 2
    by_prefix = invoke("report", run_id[:20], "--config", str(config))  # as compare takes it: a prefix, 'latest'
    assert by_prefix.exit_code == 0 and run_id in by_prefix.output
    assert invoke("report", "latest", "--config", str(config)).exit_code == 0


def test_stored_assumptions_can_be_listed_by_run(first_run):
    project, config, run_id = first_run
    result = invoke("assumptions", "--config", str(config), "--run", run_id, "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["scenario"] for r in rows} == {
        "status_quo",
        "low_speed_class",
        "federal_approval_domestic",
        "japan_imports_tariff",
        "full_fmvss_compliance",
    }


def test_the_shipped_config_runs_cold_in_a_fresh_copy_of_the_project(tmp_path):
    """`keicast run` as a new user runs it: the shipped config.yaml and data/ copied, an empty fit cache and a
    temporary Prefect server of its own. Every fit it makes converges and the report is published."""
    project = tmp_path / "keicast"
    project.mkdir()
    shutil.copy(ROOT / "config.yaml", project / "config.yaml")
    shutil.copytree(ROOT / "data", project / "data", ignore=shutil.ignore_patterns("cache", "keicast.duckdb*"))
    shutil.copytree(ROOT / "data" / "articles", project / "articles")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "home")}
    keicast = os.path.join(os.path.dirname(sys.executable), "keicast")  # the venv's entry point
    result = subprocess.run([keicast, "run"], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "data" / "cache").is_dir() and (project / "reports" / "latest" / "index.html").is_file()
    con = duckdb.connect(str(project / "data" / "keicast.duckdb"), read_only=True)
    fits = con.execute("select * from fit_diagnostics").df()
    con.close()
    assert len(fits) >= 5 and fits.converged.all() and (fits.divergences == 0).all(), fits
