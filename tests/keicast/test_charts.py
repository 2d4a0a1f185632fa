import itertools
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from keicast import charts
from keicast.charts import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    "lo, hi, count, ticks",
    [
        (0, 100, 5, [0, 25, 50, 75, 100]),
        (0, 93, 5, [0, 25, 50, 75, 100]),
        (0, 1, 5, [0, 0.25, 0.5, 0.75, 1]),
        (0, 0.3, 5, [0, 0.1, 0.2, 0.3]),
        (2010, 2040, 6, [2010, 2020, 2030, 2040]),
        (-3, 7, 5, [-5, -2.5, 0, 2.5, 5, 7.5]),
        (0, 3e10, 5, [0, 1e10, 2e10, 3e10]),
        (5, 5, 5, [4, 6, 8, 10]),  # an empty range is widened
        (0, 0, 5, [0, 0.25, 0.5, 0.75, 1]),
    ],
)
def test_nice_ticks_known_answers(lo, hi, count, ticks):
    assert nice_ticks(lo, hi, count) == pytest.approx(ticks)


@pytest.mark.parametrize(
    "hi, ticks",
    [(9.3, [0, 5, 10]), (2.2, [0, 1, 2, 3]), (0.3, [0, 1]), (93, [0, 25, 50, 75, 100]), (4e6, [0, 1e6, 2e6, 3e6, 4e6])],
)
def test_an_axis_of_cars_ticks_whole_numbers(hi, ticks):
    assert nice_ticks(0, hi, whole=True) == pytest.approx(ticks)
    svg = charts.fan_chart(
        pd.DataFrame({"year": [2026, 2027], "p05": 0.0, "p10": 0.0, "p50": hi / 2, "p90": hi, "p95": hi}), "t", "cars"
    )
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    if hi < 10:  # the labels say the ticks' own values, evenly spaced ("3", "5", "8" would hide 2.5 and 7.5)
        values = [float(v) for v in labels]
        assert values == pytest.approx(ticks) and len({b - a for a, b in itertools.pairwise(values)}) == 1


def test_nice_ticks_of_a_non_finite_range_is_zero():
    assert nice_ticks(float("nan"), 1) == [0.0] and nice_ticks(0, float("inf")) == [0.0]


@pytest.mark.parametrize("lo, hi", [(0, 7.3), (12, 987), (0.001, 0.0042), (1997, 2041), (-50, -3)])
def test_nice_ticks_cover_the_range_at_a_1_2_5_step(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    mantissa = f"{steps.pop():e}".split("e")[0]
    assert float(mantissa) in (1, 2, 2.5, 5)


def texts(svg: str) -> list[str]:
    """The SVG parsed (it must be well-formed), and its visible text."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return [t.text for t in root.iter(SVG + "text")]


def titles(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(SVG + "title")]


def clean(svg: str) -> None:
    """Numbers as keicast.formatting writes them: no scientific notation, no NaN, anywhere in the SVG."""
    numbers = re.sub(r"#[0-9a-f]{6}", "", svg)  # colours are not numbers
    assert not re.search(r"\d[eE][+-]?\d", numbers)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()


FAN = pd.DataFrame(
    {
        "year": [2026, 2027, 2028],
        "p05": [0.0, 1_000.0, 20_000.0],
        "p10": [0.0, 2_000.0, 30_000.0],
        "p50": [0.0, 5_000.0, 60_000.0],
        "p90": [0.0, 9_000.0, 120_000.0],
        "p95": [0.0, 12_000.0, 150_000.0],
    }
)


def test_fan_chart_axes_legend_and_hover():
    history = pd.Series([100.0, 200.0], index=[2024, 2025])
    svg = charts.fan_chart(FAN, "Kei sales", "cars per year", history=history, reference=(50_000.0, "target"))
    shown = texts(svg)
    assert shown[0] == "Kei sales"
    assert {"cars per year", "year", "history", "target", "median"} <= set(shown)
    assert ["0", "50k", "100k", "150k"] == [t for t in shown if t in ("0", "50k", "100k", "150k")]
    assert [t for t in shown if t.isdigit() and len(t) == 4] == ["2024", "2025", "2026", "2027", "2028"]
    assert "2028: median 60k, 80% range 30k–120k" in titles(svg)
    clean(svg)


def test_fan_chart_of_billions_uses_suffixes_not_exponents():
    svg = charts.fan_chart(FAN * [1, 1e6, 1e6, 1e6, 1e6, 1e6], "Big", "cars")
    assert "150B" in texts(svg) and "2028: median 60B, 80% range 30B–120B" in titles(svg)
    clean(svg)


def test_a_title_is_escaped():
    svg = charts.fan_chart(FAN, "Sales <a & b>", "cars")
    assert texts(svg)[0] == "Sales <a & b>" and "<a & b>" not in svg


def test_tornado_chart_orders_low_and_high_and_labels_its_axis():
    frame = pd.DataFrame(
        {
            "key": ["a.b", "c.d"],
            "headline_at_low": [100_000.0, 300_000.0],
            "headline_at_high": [900_000.0, 200_000.0],
            "headline_base": [400_000.0, 400_000.0],
        }
    )
    svg = charts.tornado_chart(frame, "Tornado", labels={"a.b": "Alpha"})
    shown = texts(svg)
    assert {"cumulative kei sales (cars)", "Alpha", "c.d"} <= set(shown)
    assert [t for t in shown if t[0].isdigit()] == ["0", "250k", "500k", "750k", "1M"]
    assert "c.d: 300k at its low, 200k at its high" in titles(svg)
    clean(svg)


def test_tornado_chart_top_keeps_the_first_rows():
    frame = pd.DataFrame(
        {"key": list("abc"), "headline_at_low": [1.0, 2, 3], "headline_at_high": [4.0, 5, 6], "headline_base": 2.0}
    )
    shown = texts(charts.tornado_chart(frame, "T", top=2))
    assert "a" in shown and "b" in shown and "c" not in shown


def test_calibration_chart_bars_and_fit():
    frame = pd.DataFrame(
        {"year": [2000, 2001, 2002, 2003, 2004, 2005], "observed": [10.0, 2500, 40000, 30000, 20000, 10000]}
    ).assign(fitted=[50.0, 3000, 35000, 31000, 21000, 9000])
    svg = charts.calibration_chart(frame, "Calibration")
    shown = texts(svg)
    assert {"sales (cars/year)", "year", "observed", "Bass fit"} <= set(shown)
    assert {"0", "10k", "20k", "30k", "40k"} <= set(shown)
    assert "2001: observed 2.5k, fitted 3k" in titles(svg)
    clean(svg)


def test_a_short_year_axis_labels_each_year_once():
    frame = pd.DataFrame({"year": [2000, 2001, 2002], "observed": [10.0, 20, 30], "fitted": [10.0, 20, 30]})
    years = [t for t in texts(charts.calibration_chart(frame, "C")) if len(t) == 4 and t.startswith("20")]
    assert years == ["2000", "2001", "2002"]


def test_sobol_chart_shows_shares_as_percentages():
    frame = pd.DataFrame({"key": ["japan.kei_share", "b"], "s1": [0.5, 0.1], "st": [0.6, 0.2]})
    svg = charts.sobol_chart(frame, "Sobol")
    shown = texts(svg)
    assert ["0%", "25%", "50%", "75%", "100%"] == [t for t in shown if t.endswith("%")]
    assert "share of the variance of cumulative kei sales" in shown
    assert "japan.kei_share: total index 0.6" in titles(svg)
    clean(svg)


def test_range_chart_marks_each_scenarios_median():
    frame = pd.DataFrame({"scenario": ["x", "y"], "p10": [1e4, 2e5], "p50": [5e4, 4e5], "p90": [9e4, 1.2e6]})
    svg = charts.range_chart(frame, {"x": "X one"}, "cars")
    shown = texts(svg)
    assert {"cars", "X one", "y", "50k", "400k", "1.5M"} <= set(shown)
    assert "y: median 400k, 80% range 200k–1.2M" in titles(svg)
    clean(svg)


def test_comparison_chart_one_line_per_scenario():
    frame = pd.DataFrame(
        {
            "scenario": ["x"] * 6 + ["y"] * 6,
            "year": list(range(2026, 2032)) * 2,
            "p10": [1.0] * 12,
            "p50": [2e6] * 6 + [3e6] * 6,
            "p90": [4e6] * 6 + [6e6] * 6,
        }
    )
    svg = charts.comparison_chart(frame, "Compare", "cars", names={"x": "Ex"})
    shown = texts(svg)
    assert {"Ex", "y", "cars", "year", "0", "2M", "6M"} <= set(shown)
    assert "Ex, 2031: median 2M" in titles(svg) and "y, 2026: median 3M" in titles(svg)
    clean(svg)


LONG_NAMES = {
    "a": "Nothing changes: grey-market imports only",
    "b": "A low-speed micro-car class, built in the US",
    "c": "USDOT approves a kei class, built in the US",
    "d": "A kei class approved, cars imported from Japan",
    "e": "No new class: kei cars redesigned to full US safety rules",
}


def text_boxes(svg: str) -> list[tuple[float, float, float]]:
    """(left, right, baseline) of every start-anchored text, at the chart's average glyph width."""
    boxes = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        if t.get("x") and t.get("text-anchor") in (None, "start"):
            x = float(t.get("x"))
            boxes.append((x, x + charts.CHAR * len(t.text or ""), float(t.get("y"))))
    return boxes


def test_a_comparison_charts_legend_wraps_long_scenario_names_inside_the_chart():
    frame = pd.DataFrame(
        {"scenario": [k for k in LONG_NAMES for _ in range(3)], "year": [2026, 2027, 2028] * 5,
         "p10": 1.0, "p50": 2.0, "p90": 3.0}
    )  # fmt: skip
    svg = charts.comparison_chart(frame, "Compare", "cars", names=LONG_NAMES)
    width = float(ET.fromstring(svg).get("width"))
    legend = [b for b in text_boxes(svg) if b[2] < 100 and b[1] - b[0] > 20 * charts.CHAR]
    assert len(legend) == 5
    assert all(right <= width for _, right, _ in legend)
    for (l1, r1, y1), (l2, r2, y2) in itertools.combinations(legend, 2):
        assert y1 != y2 or r1 <= l2 or r2 <= l1, "legend entries overlap"


def test_a_range_charts_longest_scenario_name_is_not_cut_at_the_left_edge():
    frame = pd.DataFrame({"scenario": list(LONG_NAMES), "p10": 1e4, "p50": 5e4, "p90": 1e6})
    svg = charts.range_chart(frame, LONG_NAMES, "cars")
    ends = [
        t
        for t in ET.fromstring(svg).iter(f"{SVG}text")
        if t.get("text-anchor") == "end" and t.text in LONG_NAMES.values()
    ]
    assert len(ends) == 5
    assert all(float(t.get("x")) - charts.CHAR * len(t.text) >= 0 for t in ends)


def test_adoption_backtest_chart_draws_both_modes():
    years = [2010, 2011, 2012, 2013, 2014, 2015]
    rows = [{"year": y, "mode": "pre_launch", "fit_years": None, "actual": 1000.0 * (i + 1),
             "p10": 500.0, "p50": 900.0, "p90": 4000.0} for i, y in enumerate(years)]  # fmt: skip
    rows += [{"year": y, "mode": "post_launch", "fit_years": 3, "actual": 1000.0 * (i + 4),
              "p10": 3000.0, "p50": 4000.0, "p90": 1e9} for i, y in enumerate(years[3:])]  # fmt: skip
    svg = charts.adoption_backtest_chart(pd.DataFrame(rows), "Analog")
    shown = texts(svg)
    assert {"from launch (P10–P90)", "after 3 years (P10–P90)", "actual", "sales (cars/year)"} <= set(shown)
    assert "2015: 6k sold" in titles(svg)
    clean(svg)  # the 1e9 upper band is clipped to the axis, never written out


def test_prior_posterior_chart_skips_fixed_parameters():
    parameters = pd.DataFrame(
        {
            "parameter": ["adoption.bass_p"] * 2 + ["adoption.trend"] * 2,
            "distribution": ["prior", "posterior"] * 2,
            "p05": [0.001, 0.002, 0.0, 0.0],
            "p25": [0.002, 0.003, 0.0, 0.0],
            "p50": [0.004, 0.004, 0.0, 0.0],
            "p75": [0.01, 0.005, 0.0, 0.0],
            "p95": [0.02, 0.006, 0.0, 0.0],
        }
    )
    svg = charts.prior_posterior_chart(parameters, "Priors")
    shown = texts(svg)
    assert "adoption.bass_p" in shown and "adoption.trend" not in shown
    assert "0.001 (log scale)" in shown and "0.02" in shown
    assert "adoption.bass_p, posterior: median 0.004, 90% 0.002–0.006" in titles(svg)
    clean(svg)


def test_reference_class_chart_draws_each_launch_against_the_kei_band_on_a_log_axis():
    launches = pd.DataFrame(
        {"launch": ["a", "a", "a", "b", "b"], "t": [1, 2, 3, 1, 2], "share": [0.02, 0.03, 0.025, 2e-7, 4e-7]}
    )
    kei = pd.DataFrame(
        {"t": [1, 2, 3], "p10": [1e-4, 2e-4, 2e-4], "p50": [2e-3, 4e-3, 3e-3], "p90": [0.05, 0.08, 0.07]}
    )
    svg = charts.reference_class_chart(launches, kei, "past launches")
    assert svg.count("<title>a</title>") == 1 and svg.count("<title>b</title>") == 1
    assert "10%" in svg and "0.001%" in svg and "1 in 1M" in svg and "1 in 10M" in svg  # 1e-7 .. 1e-1
    assert "e-0" not in svg and "kei by years from its planned launch" in svg
