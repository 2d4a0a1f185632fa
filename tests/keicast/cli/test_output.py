"""Printing: one formatting policy for tables (keicast.formatting), full precision for programs."""

import json

import numpy as np
import pandas as pd
import pytest

from keicast.cli import output
from keicast.cli.options import Format
from keicast.cli.output import as_json, emit

FRAME = pd.DataFrame(
    {
        "scenario": ["a", "b"],
        "p50": [152_866.4, 1_852.0],
        "cumulative_p90": [float("nan"), 9_990_000.0],
        "rate": [0.123456, 12_345.678],
        "draws": [3, 4],
    }
)


@pytest.fixture
def table(capsys):
    """What ``emit`` prints as a table (to stdout), one list of cells per line."""

    def cells(frame, title=None, widths=None):
        emit(frame, Format.table, title, widths)
        lines = capsys.readouterr().out.splitlines()
        return [[c.strip() for c in line.strip("│┃").split("│" if "│" in line else "┃")] for line in lines]

    return cells


def test_table_counts_to_two_significant_figures_other_numbers_to_three(table):
    rows = table(FRAME)
    header = next(r for r in rows if "scenario" in r)
    assert header == ["scenario", "p50", "cumulative_p90", "rate", "draws"]
    body = [r for r in rows if r[0] in ("a", "b")]
    assert body == [["a", "153k", "–", "0.123", "3"], ["b", "1.9k", "10M", "12.3k", "4"]]


def test_forecast_rows_of_a_fraction_print_their_counts_as_percentages(table):
    frame = pd.DataFrame(
        {"metric": ["kei_sales", "kei_share", "launched"], "mean": [1_234.0, 0.0213, 0.61], "p50": [980.0, 0.02, 1.0]}
    )
    body = [r for r in table(frame) if r[0] in ("kei_sales", "kei_share", "launched")]
    assert body == [["kei_sales", "1.2k", "980"], ["kei_share", "2.1%", "2%"], ["launched", "61%", "100%"]]


def test_a_count_under_ten_prints_whole_and_a_share_keeps_its_figures(table):
    frame = pd.DataFrame({"metric": ["new_kei_sales", "kei_share"], "p50": [3.3, 0.033]})
    assert [r for r in table(frame) if r[0] in ("new_kei_sales", "kei_share")] == [
        ["new_kei_sales", "3"],
        ["kei_share", "3.3%"],
    ]


def test_a_table_cuts_long_text_to_its_width_with_an_ellipsis_after_formatting_by_it(table):
    frame = pd.DataFrame({"key": ["b"], "value": [0.333], "unit": ["fraction of new-vehicle sales"]})
    assert [r for r in table(frame, widths={"unit": 12}) if r[0] == "b"] == [["b", "33.3%", "fraction of…"]]


def test_a_value_with_a_unit_prints_as_the_report_prints_it(table):
    frame = pd.DataFrame(
        {"key": ["a", "b", "c", "d"], "value": [1997.0, 0.333, 10_000.0, 16_000_000.0],
         "low": [1997.0, 0.31, 9_000.0, 15e6],
         "unit": ["model year", "fraction of new-vehicle sales", "USD", "vehicles/year"]}
    )  # fmt: skip
    body = [r for r in table(frame) if r[0] in ("a", "b", "c", "d")]
    assert [r[1:3] for r in body] == [["1997", "1997"], ["33.3%", "31%"], ["$10k", "$9k"], ["16M", "15M"]]
    changes = pd.DataFrame({"key": ["c"], "value_before": [10_000.0], "value_after": [12_500.0], "unit": ["USD"]})
    assert [r for r in table(changes) if r[0] == "c"] == [["c", "$10k", "$12.5k", "USD"]]  # keicast compare: as stated
    claims = pd.DataFrame({"key": ["b"], "value": [0.3333], "registered_value": [0.333], "unit": ["fraction"]})
    assert [r for r in table(claims) if r[0] == "b"] == [["b", "33.3%", "33.3%", "fraction"]]  # keicast articles scan
    actuals = pd.DataFrame({"key": ["d"], "value": [16e6], "previous_value": [15_700_000.0], "unit": ["vehicles"]})
    assert [r for r in table(actuals) if r[0] == "d"] == [["d", "16M", "15.7M", "vehicles"]]  # keicast actuals


def test_table_title_is_printed(table):
    rows = table(FRAME, title="forecast medians")
    assert rows[0] == ["forecast medians"]


def test_a_fits_means_and_quantiles_are_numbers_not_cars(table):
    """Only a table of forecasts or scores holds counts of cars in its mean and quantile columns."""
    fit = pd.DataFrame({"parameter": ["const", "log_t"], "mean": [-6.3, 1.57], "p05": [0.054, 2.2]})
    assert [r for r in table(fit) if r[0] in ("const", "log_t")] == [
        ["const", "-6.3", "0.054"],
        ["log_t", "1.57", "2.2"],
    ]
    scores = pd.DataFrame({"series": ["us_hev"], "actual": [3.3], "p50": [7.4]})
    assert [r for r in table(scores) if r[0] == "us_hev"] == [["us_hev", "3", "7"]]


@pytest.mark.parametrize("column", ["actual", "mae", "mean", "m", "se_m", "rse", "p05", "p10", "p50", "p90", "p95"])
def test_count_columns(column):
    assert output._column_format(column)(1_234_567.0) == "1.2M"


@pytest.mark.parametrize("column", ["value", "phi", "crps", "coverage", "p", "q"])
def test_other_numeric_columns(column):
    show = output._column_format(column)
    assert show(1_234_567.0) == "1.23M" and show(0.0012345) == "0.00123"


def test_an_error_relative_to_the_actual_is_a_percentage():
    assert output._column_format("abs_pct_error")(0.0234) == "2.3%"
    assert output._column_format("median_ape")(0.928) == "93%"  # the backtest's pooled table
    assert output._column_format("coverage_80")(0.831) == "83%"


def test_timestamps_show_to_the_second():
    assert output._column_format("started_at")(pd.Timestamp("2026-12-04 19:44:24.610388")) == "2026-12-04 19:44:24"


def test_missing_values_show_as_the_report_shows_them_and_text_is_kept():
    show = output._column_format("p50")
    missing = [None, float("nan"), np.float32("nan"), pd.NA, pd.NaT]  # pd.NA: a NULL in a nullable integer column
    assert [show(v) for v in missing] == ["–"] * 5 and show("n/a") == "n/a"


def test_csv_keeps_full_precision(capsys):
    emit(FRAME, Format.csv)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "scenario,p50,cumulative_p90,rate,draws",
        "a,152866.4,,0.123456,3",
        "b,1852.0,9990000.0,12345.678,4",
    ]


def test_json_records_keep_full_precision(capsys):
    emit(FRAME, Format.json)
    records = json.loads(capsys.readouterr().out)
    assert records == [
        {"scenario": "a", "p50": 152866.4, "cumulative_p90": None, "rate": 0.123456, "draws": 3},
        {"scenario": "b", "p50": 1852.0, "cumulative_p90": 9990000.0, "rate": 12345.678, "draws": 4},
    ]


def test_json_writes_dates_as_iso(capsys):
    emit(pd.DataFrame({"at": [pd.Timestamp("2026-05-01 12:30")]}), Format.json)
    assert json.loads(capsys.readouterr().out) == [{"at": "2026-05-01T12:30:00.000"}]


def test_as_json_turns_frames_into_records_and_leaves_other_values():
    assert as_json(FRAME.head(1)) == [
        {"scenario": "a", "p50": 152866.4, "cumulative_p90": None, "rate": 0.123456, "draws": 3}
    ]
    assert as_json({"n": 1}) == {"n": 1}


def test_integers_follow_the_policy_but_years_and_seeds_are_labels():
    assert output._column_format("samples")(65_536) == "65.5k" and output._column_format("origins")(30) == "30"
    assert output._column_format("year")(2030.0) == "2030" and output._column_format("seed")(20251204) == "20251204"
    assert output._column_format("launch_year")(2028) == "2028" and output._column_format("selected")(True) == "True"
    assert output._column_format("crps")(3.86e18) == "over 999T"
