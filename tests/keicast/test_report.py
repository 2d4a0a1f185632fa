"""The published report: escaping of user text (unit) and a headless-Chromium check of the real thing."""

import json
import os
import re
import shutil

import numpy as np
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
            r"kei class\): A \d+% chance that a maker sells a new kei car by 2030; given a launch by 2035, "
            r"[\d.]+[kM]? \(80% range [\d.]+[kM]?–[\d.]+[kM]\) new kei cars 2026–2035; grey imports add about "
            r"[\d.]+k over 2026–2035; 2026–2035 over every draw: [\d.]+[kM] \(80% range [\d.]+[kM]–[\d.]+[kM]\) "
            r"kei cars; about [\d.]+[kM]? a year by 2040 \([\d.]+% of new-vehicle sales\)\."
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


def test_a_source_or_rationale_an_earlier_scenario_printed_is_not_printed_again():
    from keicast import report

    base = {"unit": "ln share", "kind": "reference_data", "source": "the fit", "quote": None, "use": None,
            "overridden": True, "override_origin": "calibration", "low": -9.0, "high": -4.0}  # fmt: skip
    table = pd.DataFrame(
        [
            {**base, "scenario": "quo", "key": "reference.level", "value": -6.5, "rationale": None},
            {**base, "scenario": "kei", "key": "reference.level", "value": -6.4, "rationale": "a class"},
            {**base, "scenario": "jp", "key": "reference.level", "value": -6.3, "rationale": "a class"},
            {**base, "scenario": "fmvss", "key": "reference.level", "value": -6.2, "rationale": "a nameplate"},
            {**base, "scenario": "quo", "key": "reference.rise", "value": 0.1, "rationale": None},
        ]
    )
    rows = {(r["scenario"], r["key"]): r for r in report.assumption_rows(table)}
    assert rows["quo", "reference.level"]["said_above"] == set()
    assert rows["kei", "reference.level"]["said_above"] == {"source"}  # its rationale is new
    assert rows["kei", "reference.level"]["said_note"] == "source as above"
    assert rows["jp", "reference.level"]["said_note"] == "as above"
    assert rows["quo", "reference.level"]["said_note"] is None
    assert rows["jp", "reference.level"]["said_above"] == {"source", "rationale"}
    assert rows["fmvss", "reference.level"]["said_above"] == {"source"}
    assert rows["quo", "reference.rise"]["said_above"] == set()  # another key says its source again


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


def test_a_key_removed_since_the_previous_run_has_no_value_after_not_nan():
    from keicast import report

    row = {"scenario": "a", "key": "gone", "value": 1.0, "low": 1.0, "high": 1.0, "override_origin": None,
           "unit": "USD"}  # fmt: skip
    previous = {"forecasts": TINY, "assumptions": pd.DataFrame([row]), "run": pd.DataFrame({"run_id": ["r0"]})}
    outputs = {"forecasts": TINY, "assumptions": pd.DataFrame(columns=_ASSUMPTION_COLUMNS)}
    (gone,) = report.run_changes(previous, outputs, [2030])["assumptions"]
    assert gone["value_after"] is None and gone["override_origin_after"] is None  # NaN would print "nan"
    assert (gone["before"], gone["after"]) == ("$1", "–")


def test_a_change_of_range_only_shows_in_the_changes():
    from keicast import report

    row = {"scenario": "a", "key": "policy.import_tariff", "value": 0.15, "low": 0.1, "high": 0.275,
           "override_origin": None, "unit": "fraction of import value"}  # fmt: skip
    previous = {"forecasts": TINY, "assumptions": pd.DataFrame([row]), "run": pd.DataFrame({"run_id": ["r0"]})}
    outputs = {"forecasts": TINY, "assumptions": pd.DataFrame([row | {"low": 0.15, "high": 0.15}])}
    (tariff,) = report.run_changes(previous, outputs, [2030])["assumptions"]
    assert (tariff["before"], tariff["after"]) == ("15% (10%–27.5%)", "15%")


_ASSUMPTION_COLUMNS = ["scenario", "key", "value", "low", "high", "override_origin", "unit"]


def test_the_gate_summary_counts_checks_per_suite():
    from keicast import report

    gates = pd.DataFrame({"suite": ["history", "history", "forecasts"], "success": [True, False, True],
                          "column": ["year", None, np.nan]})  # fmt: skip
    summary = report.gate_summary(gates)
    assert [g["column"] for g in summary["all"]] == ["year", None, None]  # NaN would print "nan"
    assert (summary["checks"], summary["passed"]) == (3, 2) and len(summary["failed"]) == 1
    assert summary["suites"][0] == {"suite": "history", "checks": 2, "passed": 1}


# ---------------------------------------------------------------------------------------------- numbers on the page
# Every rendered number goes through keicast.formatting: at most three significant figures, never an exponent.
# The fixture's values carry many digits (1.23456...), tiny values (0.000038 cars, a 1e-7 share) and huge ones
# (a CRPS of 3.86e18), so any number that skips the policy shows up. Exempt tokens, and why:
#   - identifiers, removed before the scan: run ids, timestamps, seeds, the config hash and path, the code version.
#     They are labels, not quantities; rounding one would make it name something else.
#   - four-digit integers 1900-2100 without separators: calendar years (a year is shown whole, never "2.03k").
#   - digits glued to letters or underscores (P10, h1, S1, imports_2023, x2): names, not numbers.
#   - analysts' prose from config.yaml (scenario titles and descriptions), removed before the scan: their words,
#     shown verbatim ("7,594 in 2023" is what the source reported). The fixture's own texts carry no numbers.
# A bare integer of 10,000 or more fails even at three significant figures: the policy writes 16.1M, not 16,100,000.
RUN_ID, SEED, STARTED, FINISHED = "20261203T125103Z-4f2a9c", 20251204, "2026-12-03 12:51:03", "2026-12-03 12:58:41"
STORED_START = pd.Timestamp(STARTED + ".610388")  # the warehouse keeps microseconds; a reader needs the second
STORED_FINISH = pd.Timestamp(FINISHED + ".123456")
SHA, CODE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "2a70530-dirty"
NUMBER = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?")
EXPONENT = re.compile(r"\d(?:\.\d+)?[eE][-+]?\d+")


def _visible_text(html: str) -> str:
    """The page as a reader sees it: no script, style or SVG (charts are drawn, their coordinates are not text),
    no tags or attributes (data: URIs, widths), entities decoded."""
    import html as html_lib

    html = re.sub(r"(?is)<(script|style|svg)\b.*?</\1>", " ", html)
    return html_lib.unescape(re.sub(r"(?s)<[^>]+>", " ", html))


def _significant_figures(token: str) -> int:
    digits = token.replace(",", "")
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return len(digits.strip("0")) or 1


def unruly_numbers(text: str, identifiers: list[str]) -> list[str]:
    """Tokens in ``text`` that break the policy: an exponent, more than three significant figures, a decimal
    below 0.001 written out, or a bare integer of 10,000 or more (see the exemptions above)."""
    for identifier in identifiers:
        text = text.replace(str(identifier), " ")
    bad = EXPONENT.findall(text)
    for match in NUMBER.finditer(text):
        token = match.group()
        whole = token.replace(",", "")
        if "." not in whole and len(whole) == 4 and 1900 <= int(whole) <= 2100:
            continue
        long_decimal = whole.startswith("0.000")  # the policy writes "<0.001" or "<0.001%" instead
        if _significant_figures(token) > 3 or long_decimal or ("." not in whole and int(whole) >= 10_000):
            bad.append(text[max(0, match.start() - 30) : match.end() + 10].strip())
    return bad


def test_the_scanner_knows_its_answers():
    assert unruly_numbers("16.1M cars, 2030, 1,500 and 0.00123 in P10 and imports_2023", []) == []
    assert len(unruly_numbers("3.86e+18 then 0.000038 then 16,100,000 then 1.2345", [])) == 4
    assert unruly_numbers(f"run {RUN_ID}", [RUN_ID]) == []


def _rows(columns: str, *rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns.split())


def _forecasts(scenarios: list[str]) -> pd.DataFrame:
    rows = []
    for n, scenario in enumerate(scenarios):
        for year in range(2026, 2041):
            grow = (1 + n) * (1.0 + (year - 2026) / 7.0) * 1.23456789
            metrics = {
                "kei_sales": 12_345.6789 * grow, "kei_share": 0.000123456 * grow, "kei_in_use": 98_765.4321 * grow,
                "new_kei_sales": 0.000038 if n == 1 else 1_234.5678 * grow, "grey_imports": 7_654.321 * grow,
                "kei_sales_cumulative": 123_456.789 * grow, "launched": min(0.123456 * grow, 1.0),
                "new_kei_sales_cumulative": 0.000038 if n == 1 else 23_456.789 * grow,
                "new_kei_sales_cumulative_if_launched": 0.000038 if n == 1 else 93_456.789 * grow,
                "new_kei_sales_if_launched": 0.000038 if n == 1 else 4_234.5678 * grow,
                "total_market": 16_123_456.7 * (1 + (year - 2026) / 300),
            }  # fmt: skip
            for metric, v in metrics.items():
                rows.append((scenario, year, metric, v, v / 3.3, v / 2.1234, v, v * 2.5678, v * 3.4321))
    return pd.DataFrame(rows, columns="scenario year metric mean p05 p10 p50 p90 p95".split())


def _assumptions(scenarios: list[str], config) -> pd.DataFrame:
    base = {"unit": "", "kind": "point", "source": "a source", "quote": "a quote", "use": "a use", "low": None,
            "rationale": "a reason", "overridden": False, "override_origin": None, "high": None}  # fmt: skip
    values = {
        "market.us_new_vehicle_sales": (16_000_000.0, "vehicles/year"), "demand.price_elasticity": (-2.345678, ""),
        "analog.us_class_utility": (-4.567891, ""), "analog.us_price_ratio": (0.6543219, ""),
        "japan.kei_share": (0.3333333, "fraction of new-vehicle sales"), "japan.kei_price_ratio": (0.5432109, ""),
        "japan.kei_ownership_advantage": (0.1234567, ""), "grey.imports_2023": (7_654.321, "vehicles/year"),
        "grey.imports_2018": (1_234.5678, "vehicles/year"), "grey.used_price": (8_765.4321, "USD"),
        "policy.import_tariff": (0.25, "fraction"), "policy.tariff_pass_through": (0.876543, "fraction"),
        "grey.customs_value_ratio": (0.654321, "fraction"), "grey.road_legal_states_counted": (37.0, "states"),
    }  # fmt: skip
    rows = [{**base, "scenario": s, "key": k, "value": v, "unit": u} for s in scenarios for k, (v, u) in values.items()]
    for s in scenarios:
        access = config.scenarios[s].road_access
        rows.append({**base, "scenario": s, "key": f"access.{access}.japan_gap_closed", "value": 0.2345678,
                     "low": 0.0123456, "high": 0.5678912})  # fmt: skip
    return pd.DataFrame(rows)


def _backtests() -> pd.DataFrame:
    rows = []
    for h in range(1, 11):
        models = (("naive", 1.0 + h / 7, False), ("combo", 0.9 + h / 9, True), ("auto", 1.1 + h / 6, False))
        for model, mase, selected in models:
            rows.append(("us_light_vehicle_sales_annual", model, h, 31 - h, 1_234_567.891 * h, mase, 1.0 + h / 7,
                         1 - mase / (1.0 + h / 7), 0.7894561, 0.8765432, 1.2345678, selected))  # fmt: skip
    return pd.DataFrame(
        rows,
        columns="series model horizon origins mae mase mase_naive skill_vs_naive coverage_80 coverage_90 "
        "spread_scale selected".split(),
    )


def _fit_frames(shape: str) -> dict:
    """The calibration, class-share and adoption-backtest frames of a run, every number awkward."""
    return {
        "calibration": _rows(
            "series form p se_p q se_q m se_m rse n r2 converged",
            (
                "us_hev_sales_annual",
                "increments",
                0.0123456,
                0.00123456,
                0.3456789,
                0.0456789,
                0.0234567,
                0.00234567,
                0.1234567,
                24,
                0.9876543,
                True,
            ),
        ),  # fmt: skip
        "calibration_fit": _rows("series year observed fitted", ("us_hev_sales_annual", 2000, 9_876.54, 9_123.45)),
        "fit_diagnostics": _rows(
            "fit shape left_out seed max_rhat min_ess divergences mean_steps worst_parameter converged",
            ("calibration", shape, None, SEED, 1.0042345, 1_234.5678, 0, 31.234567, "q", True),
        ),  # fmt: skip
        "class_share_fit": _rows(
            "addressable loo_mae loo_mae_vs_naive naive_mae coverage_80 points between_sd "
            "predictive_sd beta_prior beta_prior_sd beta_within beta_within_se beta beta_sd "
            "pooled_slope",
            (
                0.4567891,
                0.3456789,
                0.2345678,
                0.5678912,
                0.7512345,
                7,
                0.3456789,
                0.4567891,
                -2.0,
                0.5,
                -2.345678,
                0.8765432,
                -2.2345678,
                0.4345678,
                1.2345678,
            ),
        ),  # fmt: skip
        "class_share_analogs": _rows(
            "analog year units share price_ratio utility level loo_predicted loo_sd inside_80 naive_predicted",
            (
                "smart",
                2008,
                24_622.345,
                0.00184567,
                0.6543219,
                -6.2345678,
                -0.1234567,
                -6.3456789,
                0.4567891,
                True,
                -6.0123456,
            ),
        ),  # fmt: skip
        "adoption_backtests": _rows(
            "shape series mode fit_years model cumulative_actual cumulative_forecast "
            "abs_pct_error crps coverage_80 holdout_years",
            (
                shape,
                "us_hev_sales_annual",
                "post_launch",
                5,
                "chain",
                1_234_567.89,
                1_345_678.91,
                0.0899123,
                3.86e18,
                0.8333333,
                7,
            ),
            (
                shape,
                "us_hev_sales_annual",
                "post_launch",
                5,
                "naive",
                1_234_567.89,
                987_654.321,
                0.2000123,
                0.1234567,
                0.5714286,
                7,
            ),
        ),  # fmt: skip
        "adoption_backtest_paths": _rows("shape series mode fit_years year actual p10 p50 p90"),
        "adoption_parameters": _rows(
            "parameter distribution p05 p25 p50 p75 p95",
            ("p", "prior", 0.00123456, 0.0123456, 0.0234567, 0.0345678, 0.0456789),
            ("p", "posterior", 0.00234567, 0.0134567, 0.0245678, 0.0356789, 0.0567891),
        ),
    }


def _check_frames() -> dict:
    """Gate results (observed values as the gates write them), evidence and the latest sweep."""
    from keicast import gates

    return {
        "gate_results": _rows(
            "suite check_name expectation column success observed",
            ("forecasts", "crps bounded", "x", "crps", False, gates._plain(3.86e18)),
            ("history", "years", "y", "year", True, gates._plain(2025.0)),
            ("history", "mean", "z", "value", True, gates._plain(16_123_456.789)),
            ("history", "share", "z", "value", True, gates._plain(0.000012345678)),
        ),
        "evidence": _rows(
            "article claim_id qualifier text value unit status accepted_key key registered_value sentence reason",
            (
                "an article",
                "c",
                None,
                "a figure",
                16_123_456.789,
                "vehicles",
                "contradicts",
                None,
                "market.us_new_vehicle_sales",
                16_000_000.0,
                "a sentence",
                "a reason",
            ),
        ),  # fmt: skip
        "latest_sweep": _rows(
            "run_id scenario factors cumulative_p10 cumulative_p50 cumulative_p90",
            (
                RUN_ID,
                "sweep_1",
                json.dumps({"launch_year": 2028, "japan.kei_share": 0.3333333}),
                12_345.678,
                23_456.789,
                34_567.891,
            ),
        ),  # fmt: skip
    }


def number_outputs(settings) -> dict:
    """A run's outputs as the warehouse hands them to the report, every number awkward."""
    config = settings.config
    scenarios = list(config.scenarios)
    history = pd.DataFrame({"series": config.baseline.series, "year": range(1976, 2026),
                            "value": [15_678_901.23 + 12_345.6 * i for i in range(50)]})  # fmt: skip
    run = {"run_id": RUN_ID, "started_at": STORED_START, "finished_at": STORED_FINISH, "draws": 4_096, "seed": SEED,
           "config_sha256": SHA, "code_version": CODE, "flow_run_id": None, "config_path": "config.yaml",
           "scenarios": ", ".join(scenarios), "timings": json.dumps({"simulate": 123.456789, "report": 0.0001234}),
           "overrides": json.dumps([{"key": "policy.tariff_pass_through", "value": 0.87654321, "low": 0.7123456,
                                    "high": 0.9876543, "origin": "--set", "scenario": "*"}])}  # fmt: skip
    sens = [(scenarios[1], "tornado", "japan.kei_share", 12_345.678, 1_234.5678, 13_580.2468, None, None, None, None,
             None, None, None)]  # fmt: skip
    sens += [(scenarios[1], "sobol", k, None, None, None, 0.123456, 0.0123456, 0.234567, 0.0002345, None, None, 4_096)
             for k in ("japan.kei_share", "demand.price_elasticity")]  # fmt: skip
    sens += [(scenarios[1], "what_if", "japan.kei_share", None, None, None, None, None, None, None, v, 12_345.678 * v,
              None)
             for v in (0.1234567, 0.3333333)]  # fmt: skip
    sensitivity = pd.DataFrame(sens, columns="scenario method key swing headline_at_low headline_at_high s1 "
                               "s1_conf st st_conf value headline samples".split())  # fmt: skip
    return {
        "run": pd.DataFrame([run]),
        "forecasts": _forecasts(scenarios),
        "assumptions": _assumptions(scenarios, config),
        "sensitivity": sensitivity.assign(headline=sensitivity.headline.astype(float), headline_base=7_890.12345),
        "history": history,
        "backtests": _backtests(),
        **_fit_frames(config.calibration.shape),
        **_check_frames(),
    }


@pytest.fixture(scope="module")
def number_report(tmp_path_factory):
    from keicast.config import load_settings
    from keicast.report import render_report

    project = tmp_path_factory.mktemp("numbers")
    settings = load_settings(write_config(project, base_config(project)))
    outputs = number_outputs(settings)
    before = outputs["assumptions"].assign(value=outputs["assumptions"].value * 1.0123456)
    previous = {**outputs, "run": outputs["run"].assign(run_id="20261202T101010Z-0b1c2d"), "assumptions": before,
                "forecasts": outputs["forecasts"].assign(p50=outputs["forecasts"].p50 * 0.987654)}  # fmt: skip
    directory = project / "report"
    directory.mkdir()
    render_report(outputs, previous, settings, directory)
    prose = [text for spec in settings.config.scenarios.values() for text in (spec.description, spec.title) if text]
    return directory, [RUN_ID, "20261202T101010Z-0b1c2d", STARTED, FINISHED, SHA, SHA[:12], CODE, SEED, *prose]


@pytest.mark.parametrize("page", ["index.html", "data_quality.html", "report.md"])
def test_no_rendered_number_has_an_exponent_or_more_than_three_significant_figures(number_report, page):
    directory, exempt = number_report
    text = (directory / page).read_text()
    text = text if page.endswith(".md") else _visible_text(text)
    assert unruly_numbers(text, exempt) == []


def test_the_run_is_dated_to_the_second(number_report):
    text = _visible_text((number_report[0] / "index.html").read_text())
    assert f"started {STARTED} UTC" in text and f"{STARTED} / {FINISHED}" in text
    assert ".610388" not in text and ".123456" not in text


def test_tiny_and_huge_values_are_said_in_words(number_report):
    text = _visible_text((number_report[0] / "index.html").read_text())
    assert "given a launch by 2035, under 1 (80% range" in text and "over 999T" in text and "16.1M" in text


def _methodology(directory) -> tuple[str, list[str]]:
    """The Methodology of index.html as a reader sees it, and the paragraphs of report.md's, without markup."""
    import html as html_lib

    page = (directory / "index.html").read_text()
    section = page[page.index('id="methodology"') : page.index('id="downloads"')]
    html = html_lib.unescape(re.sub(r"<[^>]+>", "", section))  # inline tags (<b>, <code>) join the words they mark
    md = (directory / "report.md").read_text().split("## Methodology", 1)[1]
    return " ".join(html.split()), [" ".join(p.replace("*", "").replace("`", "").split()) for p in md.split("\n\n")]


@pytest.mark.parametrize("model", ["reference_class", "analogs"])
def test_the_methodology_describes_the_model_the_forecast_uses_in_both_pages_alike(tmp_path, model):
    from keicast.config import load_settings
    from keicast.report import render_report

    config = base_config(tmp_path)
    config["calibration"]["model"] = model
    settings = load_settings(write_config(tmp_path, config))
    render_report(number_outputs(settings), None, settings, tmp_path)
    html, paragraphs = _methodology(tmp_path)
    assert all(p in html for p in paragraphs if p) and len([p for p in paragraphs if p]) >= 6  # written once
    published, kept = "a reference class of past launches", "Kept for comparison, not in the published forecast"
    if model == "reference_class":
        assert published in html and "Family hold-out backtests" in html and "the analog chain" in html
        assert html.index(kept) > html.index(published)
    else:
        assert "class share and adoption (calibration.model: analogs)" in html and kept not in html


def test_the_reference_section_tables_the_class_and_states_its_sharpness():
    from types import SimpleNamespace

    from keicast.report import reference_section
    from models.reference_backtest import COLUMNS

    launches = pd.DataFrame(
        {"launch": ["a", "a", "b"], "family": ["F", "F", "G"], "kind": ["class", "class", "nameplate"],
         "country": ["KR", "KR", "US"], "launch_year": [1991, 1991, 2008], "price_ratio": [0.3, 0.3, float("nan")],
         "policy_created": [True, True, False], "year": [1991, 1992, 2008], "t": [1, 2, 1],
         "share": [0.01, 0.05, 2e-4], "partial": [True, False, False], "scored": [False, True, True],
         "fitted": [True, True, True]}
    )  # fmt: skip
    case = dict.fromkeys(COLUMNS, 1.0) | {"series": "a", "family": "F", "fit_years": None, "holdout_years": 4}
    cases = pd.DataFrame(
        [case | {"mode": "pre_launch", "model": m, "coverage_80": 0.75, "interval_ratio_80": r, "shape": "rise"}
         for m, r in (("chain", 123.4), ("naive", 80.0), ("reference_class", 160.0))]
    )  # fmt: skip
    years = range(2026, 2041)
    forecasts = pd.DataFrame(
        [{"scenario": "fed", "year": y, "metric": m, "p10": v, "p50": 2 * v, "p90": 9 * v}
         for y in years for m, v in (("new_kei_sales_if_launched", 1e4), ("total_market", 1.6e7))]
    )  # fmt: skip
    fit = pd.DataFrame({"parameter": ["const"], "mean": [-4.0], "sd": [1.0], "shape": ["rise"]})
    outputs = {
        "reference_launches": launches,
        "reference_backtests": cases,
        "forecasts": forecasts,
        "reference_fit": fit,
    }
    config = SimpleNamespace(scenarios={"fed": SimpleNamespace(road_access="kei_class", launch_year=2028, title=None)})
    section = reference_section(outputs, config)
    assert section["shape"] == "rise" and section["families"] == 2 and section["unpriced"] == 1
    a = next(row for row in section["launches"] if row["launch"] == "a")
    assert (a["first"], a["peak"], a["years"], a["policy"]) == ("5%", "5%", 1, "yes")  # the partial 1991 is not first
    assert section["sharpness"] == {"coverage": "75%", "ratio": "123"}
    assert section["motorised"] is None  # these launches carry no motorisation: the sentence leaves the range out
    motorised = reference_section(
        {**outputs, "reference_launches": launches.assign(vehicles_per_1000=[98, 98, 769])}, config
    )
    assert (motorised["motorising_below"], motorised["motorised"]) == ("300", "769")
    launches = launches.assign(vehicles_per_1000=[98, 98, 769], launch=["a", "a", "b"])
    spread = pd.concat([launches, launches.tail(1).assign(launch="c", vehicles_per_1000=476)], ignore_index=True)
    assert reference_section({**outputs, "reference_launches": spread}, config)["motorised"] == "476–769"
    assert "<svg" in section["chart"]
