"""The published report: escaping of user text (unit) and a headless-Chromium check of the real thing."""

import json
import os
import re
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from keicast.cli import app

from ..conftest import base_config, write_config

HOSTILE = (
    "Analyst note <script>window.__pwned = 1; document.title = 'pwned';</script>"
    '<img src=x onerror="window.__pwned=2">'
)


@pytest.fixture(scope="module")
def hostile_report(prefect_server, tmp_path_factory):
    project = tmp_path_factory.mktemp("report")
    config = base_config(project)
    config["scenarios"]["status_quo"]["description"] = HOSTILE
    config["assumptions"] = {
        "policy.tariff_pass_through": {"value": 0.9, "low": 0.7, "high": 1.0, "rationale": "<b>bold</b> & [brackets]"}
    }
    path = write_config(project, config)
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return project / "reports" / "latest" / "index.html"


@pytest.mark.slow
def test_user_text_is_escaped_in_html_and_markdown(hostile_report):
    html = hostile_report.read_text()
    assert "&lt;script&gt;window.__pwned" in html and "<script>window" not in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; [brackets]" in html
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert (hostile_report.parent / "report.md").is_file()


def _chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium/chromedriver missing: `make test` installs them (.ci/install-browser)")
        pytest.skip("chromium/chromedriver not installed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.slow
def test_report_renders_in_headless_chromium_without_network_or_script(hostile_report, tmp_path):
    from selenium.webdriver.common.by import By

    browser = _chrome()
    try:
        browser.get(hostile_report.resolve().as_uri())
        shot = tmp_path / "report.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        charts = browser.find_elements(By.CSS_SELECTOR, ".chart")
        assert len(charts) >= 1 + 5 * 2 + 2 + 3  # ranges, fans x2 per scenario, comparison x2, market, fits
        for chart in charts:
            svg = chart.find_element(By.TAG_NAME, "svg")
            size = svg.size
            assert size["width"] > 50 and size["height"] > 50
            assert len(svg.find_elements(By.TAG_NAME, "path")) > 3

        assert browser.execute_script("return window.__pwned === undefined")
        assert browser.title.startswith("keicast report")
        assert "<script>window.__pwned" in browser.find_element(By.TAG_NAME, "body").text

        # the first screen answers the question in words, with the what-if banner for the override
        first_screen = browser.find_element(By.ID, "headline").location["y"] < 600
        banner = browser.find_element(By.ID, "what-if").text
        assert first_screen and "What-if run" in banner and "policy.tariff_pass_through" in banner
        answer = browser.find_element(By.ID, "answer-federal_approval_domestic").text
        assert re.fullmatch(
            r"USDOT approves a kei class, built in the US \(planned launch 2028, domestic production, road access: "
            r"kei class\): about [\d.]+[kM] kei cars sold 2026–2035 \(80% range [\d.]+[kM]–[\d.]+[kM]\), of which "
            r"[\d.]+[kM]? new kei cars beyond today's grey imports \(80% range [\d.]+[kM]?–[\d.]+[kM]\); about "
            r"[\d.]+[kM]? a year by "
            r"2040 \([\d.]+% of new-vehicle sales\); a \d+% chance that no maker sells a new kei car by 2030\."
            r"( \(wide: P90 is \d+× P10\))?",
            answer,
        ), answer

        browser.get((hostile_report.parent / "data_quality.html").resolve().as_uri())
        assert "checks passed" in browser.find_element(By.TAG_NAME, "body").text
        assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        browser.get(hostile_report.resolve().as_uri())

        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        requests = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    finally:
        browser.quit()


# ---------------------------------------------------------------------------------------------- sections on tiny frames
def _forecasts(rows):
    columns = ["scenario", "year", "metric", "mean", "p05", "p10", "p50", "p90", "p95"]
    return pd.DataFrame(rows, columns=columns)


TINY = _forecasts(
    [
        ("a", 2030, "kei_sales", 1500.0, 900, 1000, 1500, 4000, 6000),
        ("a", 2030, "kei_share", 0.0001, 0, 0.00005, 0.0001, 0.0003, 0.0004),
        ("a", 2035, "kei_sales_cumulative", 20000.0, 5000, 8000, 15000, 90000, 120000),
        ("a", 2035, "new_kei_sales_cumulative", 9000.0, 0, 100, 6000, 80000, 100000),
        ("a", 2030, "launched", 0.65, 0, 0, 1, 1, 1),
        ("a", 2030, "new_kei_sales", 300.0, 0, 0, 200, 2000, 3000),
    ]
)


def test_headline_and_cumulative_rows_follow_the_formatting_policy():
    from keicast import report

    cells = report.headline_rows(TINY, [2030])[0]["cells"]
    assert cells[0] == "1k / 1.5k / 4k" and cells[1] == "0.005% / 0.01% / 0.03%" and cells[2] == "–"
    row = report.cumulative_rows(TINY, 2035)[0]
    assert (row["p10"], row["p50"], row["p90"], row["new_p50"]) == ("8k", "15k", "90k", "6k")
    assert row["no_launch"] == "35%"  # 1 - P(launched by 2030) = 1 - 0.65


def test_no_launch_probability_is_none_for_a_scenario_that_never_sells_new_kei_cars():
    from keicast import report

    status_quo = TINY.assign(p95=0.0).query("metric != 'new_kei_sales'")
    assert report.no_launch_probability(status_quo, 2030) is None
    assert report.no_launch_probability(TINY, 2030) == pytest.approx(0.35)


def test_assumption_rows_show_a_value_shared_by_every_scenario_once():
    from keicast import report

    base = {"unit": "USD", "kind": "point", "source": "s", "quote": "q", "use": "u", "rationale": None,
            "overridden": False, "override_origin": None}  # fmt: skip
    table = pd.DataFrame(
        [
            {**base, "scenario": "a", "key": "kei.target_price", "value": 10_000.0, "low": 8e3, "high": 12e3},
            {**base, "scenario": "b", "key": "kei.target_price", "value": 10_000.0, "low": 8e3, "high": 12e3},
            {**base, "scenario": "a", "key": "policy.import_tariff", "value": 0.25, "low": 0.15, "high": 0.25},
            {**base, "scenario": "b", "key": "policy.import_tariff", "value": 0.0, "low": 0.0, "high": 0.0},
        ]
    ).assign(unit=["USD", "USD", "share", "share"])
    rows = report.assumption_rows(table)
    assert [(r["scenario"], r["key"]) for r in rows] == [
        ("(all)", "kei.target_price"), ("a", "policy.import_tariff"), ("b", "policy.import_tariff")
    ]  # fmt: skip
    assert rows[0]["value"] == "$10k" and rows[1]["value"] == "25%"


def test_run_changes_list_only_the_medians_that_moved():
    from keicast import report

    before = TINY.query("metric in ['kei_sales', 'kei_sales_cumulative']")
    after = before.assign(p50=[1500.0, 15_100.0])  # 2030 unchanged, cumulative +0.67%
    previous = {"forecasts": before, "assumptions": pd.DataFrame(columns=_ASSUMPTION_COLUMNS),
                "run": pd.DataFrame({"run_id": ["r0"]})}  # fmt: skip
    outputs = {"forecasts": after, "assumptions": pd.DataFrame(columns=_ASSUMPTION_COLUMNS)}
    changes = report.run_changes(previous, outputs, [2030, 2035])
    assert [(c["metric"], c["year"]) for c in changes["forecasts"]] == [("kei_sales_cumulative", 2035)]
    assert changes["unchanged"] == 1 and changes["run_id"] == "r0"


_ASSUMPTION_COLUMNS = ["scenario", "key", "value", "low", "high", "override_origin"]


def test_the_gate_summary_counts_checks_per_suite():
    from keicast import report

    gates = pd.DataFrame({"suite": ["history", "history", "forecasts"], "success": [True, False, True]})
    summary = report.gate_summary(gates)
    assert (summary["checks"], summary["passed"]) == (3, 2) and len(summary["failed"]) == 1
    assert summary["suites"][0] == {"suite": "history", "checks": 2, "passed": 1}
