"""The published report: escaping of user text (unit) and a headless-Chromium check of the real thing."""

import json
import os
import re
import shutil

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
