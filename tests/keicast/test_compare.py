import numpy as np
import pandas as pd
import pytest

from keicast.compare import assumption_changes, forecast_deltas


def assumptions(**values):
    rows = [
        {"scenario": "a", "key": k, "value": v, "low": v, "high": v, "override_origin": None, "unit": "USD"}
        for k, v in values.items()
    ]
    return pd.DataFrame(rows)


def test_a_change_in_every_scenario_is_one_row_and_a_change_in_one_scenario_is_its_own():
    from keicast.compare import ALL_SCENARIOS

    before = pd.concat([assumptions(x=1.0, y=2.0), assumptions(x=1.0, y=2.0).assign(scenario="b")])
    after = pd.concat([assumptions(x=1.5, y=2.0), assumptions(x=1.5, y=3.0).assign(scenario="b")])
    changes = assumption_changes(before, after)
    assert changes[["scenario", "key"]].values.tolist() == [[ALL_SCENARIOS, "x"], ["b", "y"]]
    # two scenarios in the runs, one in the change: not "(all)", even when that is the only row
    (only,) = assumption_changes(before[before.key == "y"], after[after.key == "y"]).itertuples()
    assert only.scenario == "b"


def test_assumption_changes_lists_changed_added_and_removed_keys():
    before = assumptions(x=1.0, y=2.0, gone=3.0)
    after = assumptions(x=1.0, y=2.5, new=4.0)
    changes = assumption_changes(before, after)
    assert set(changes.key) == {"y", "gone", "new"}
    y = changes[changes.key == "y"].iloc[0]
    assert (y.value_before, y.value_after, y.unit) == (2.0, 2.5, "USD")
    assert changes[changes.key == "gone"].unit.iloc[0] == "USD"  # a removed key keeps the older run's unit


def test_a_change_of_unit_counts_and_the_newer_unit_is_the_one_shown():
    before = assumptions(x=1.0)
    after = before.assign(unit="fraction of new-vehicle sales")
    (change,) = assumption_changes(before, after).itertuples()
    assert change.unit == "fraction of new-vehicle sales"


def test_no_change_gives_an_empty_table():
    assert assumption_changes(assumptions(x=1.0), assumptions(x=1.0)).empty


def test_a_range_only_change_counts():
    before = assumptions(x=1.0)
    after = before.assign(high=2.0)
    assert list(assumption_changes(before, after).key) == ["x"]


def test_forecast_deltas_known_answer():
    def fc(p50):
        return pd.DataFrame(
            {
                "scenario": ["a", "a"],
                "year": [2030, 2035],
                "metric": ["kei_sales", "kei_sales"],
                "p10": [1.0, 1.0],
                "p50": p50,
                "p90": [9.0, 9.0],
            }
        )

    d = forecast_deltas(fc([100.0, 200.0]), fc([150.0, 100.0]), [2030, 2035])
    assert list(d.p50_change) == [50.0, -100.0]
    assert list(d.p50_change_pct) == pytest.approx([50.0, -50.0])
    assert forecast_deltas(fc([100.0, 200.0]), fc([150.0, 100.0]), [2030]).year.tolist() == [2030]


def test_sweep_comparison_orders_by_median_and_keeps_factors():
    from keicast.compare import sweep_comparison

    forecasts = pd.DataFrame(
        {
            "scenario": ["s1", "s2", "s1"],
            "year": [2035, 2035, 2030],
            "metric": ["kei_sales_cumulative"] * 3,
            "p10": [1.0, 5.0, 0.0],
            "p50": [2.0, 9.0, 0.0],
            "p90": [3.0, 12.0, 0.0],
        }
    )
    table = sweep_comparison(forecasts, {"s1": {"launch_year": 2030}, "s2": {"launch_year": 2027}}, 2035)
    assert list(table.scenario) == ["s2", "s1"] and list(table.cumulative_p50) == [9.0, 2.0]
    assert table.factors.iloc[0] == '{"launch_year": 2027}'


def test_a_row_shared_by_every_scenario_is_shown_once_in_its_first_place():
    from keicast.compare import ALL_SCENARIOS, once_for_all_scenarios

    frame = pd.DataFrame({"scenario": ["a", "b", "a", "b", "a"], "key": ["x", "x", "y", "y", "z"],
                          "value": [1.0, 1.0, 2.0, 3.0, 4.0]})  # fmt: skip
    shown = once_for_all_scenarios(frame, ["key", "value"])
    assert shown.values.tolist() == [[ALL_SCENARIOS, "x", 1.0], ["a", "y", 2.0], ["b", "y", 3.0], ["a", "z", 4.0]]
    assert once_for_all_scenarios(frame.iloc[:0], ["key"]).empty


def test_moved_counts_a_cell_new_in_one_run_and_ignores_monte_carlo_noise():
    from keicast.compare import moved

    deltas = pd.DataFrame(
        {"p50_change_pct": [0.0, 0.049, -0.05, 3.0, np.nan, np.nan, np.nan],
         "p50_change": [0.0, 0.049, -0.05, 3.0, 40.0, np.nan, 0.0]}  # from zero; one run only; zero in both
    )  # fmt: skip
    assert moved(deltas).tolist() == [False, False, True, True, True, True, False]


def test_the_market_check_is_the_first_year_median_over_the_articles_figure():
    from keicast.compare import market_check

    forecasts = pd.DataFrame({"scenario": ["a", "a", "b"], "year": [2026, 2027, 2026], "metric": "total_market",
                              "p10": 15e6, "p50": [16e6, 17e6, 15.2e6], "p90": 17e6})  # fmt: skip
    check = market_check(forecasts, 16e6, 2026)
    assert check.scenario.tolist() == ["a", "b"] and check.ratio_to_article.tolist() == pytest.approx([1.0, 0.95])
