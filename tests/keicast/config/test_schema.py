"""config.yaml's shape: types, bounds and cross-field rules, each a problem naming the key and value."""

import math

import pytest

from keicast.yamlfile import dump_yaml

from ...conftest import base_config
from .conftest import error_for, problems_of


def test_wrong_type(tmp_path):
    config = base_config(tmp_path)
    config["run"]["draws"] = "many"
    problems, _ = problems_of(tmp_path, config=config)
    assert problems[0].key == "run.draws" and problems[0].value == "many"


def test_the_backtest_must_reach_the_selection_horizon(tmp_path):
    config = base_config(tmp_path)
    config["baseline"] = {"max_horizon": 8, "coverage_horizon": 5}
    problems, message = problems_of(tmp_path, config=config)
    assert (problems[0].key, problems[0].value) == ("baseline.coverage_horizon", 5)
    assert "config.yaml: baseline.coverage_horizon = 5: at least max_horizon (8)" in message


def test_a_reversed_headline_window_names_its_key_and_value(tmp_path):
    problems, message = problems_of(tmp_path, config=base_config(tmp_path, headline_window=[2035, 2026]))
    assert [(p.key, p.value) for p in problems] == [("run.headline_window", [2035, 2026])]
    assert "run.headline_window = [2035, 2026]: [first year, last year], the first not after the last" in message
    assert "'horizon'" not in message  # not the whole run: mapping


HEV = "us_hev_sales_annual"


@pytest.mark.parametrize(
    "section,values,key,value",
    [
        ("run", {"headline_window": [2020, 2035]}, "run.headline_window", [2020, 2035]),
        ("run", {"horizon": {"start": 2035, "end": 2030}}, "run.horizon.end", 2030),
        ("run", {"sobol_base_samples": 1000}, "run.sobol_base_samples", 1000),
        ("calibration", {"backtest_also": [HEV]}, "calibration.backtest_also", [HEV]),
        ("calibration", {"analogs": [HEV, HEV]}, "calibration.analogs", [HEV]),
    ],
)
def test_cross_field_rules_blame_the_field_not_the_section(tmp_path, section, values, key, value):
    config = base_config(tmp_path)
    config[section].update(values)
    problems, _ = problems_of(tmp_path, config=config)
    assert [(p.key, p.value) for p in problems] == [(key, value)]


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf"])
def test_nan_and_inf_are_refused(tmp_path, text):
    config_text = dump_yaml(base_config(tmp_path)).replace(
        "assumptions: {}", f"assumptions: {{policy.import_tariff: {text}}}"
    )
    problems, _ = problems_of(tmp_path, config_text)
    assert problems[0].key.startswith("assumptions.policy.import_tariff")
    assert isinstance(problems[0].value, float) and not math.isfinite(problems[0].value)


def test_range_override_must_be_ordered(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.tariff_pass_through": {"value": 0.9, "low": 0.95, "high": 1.0}}
    problems, _ = problems_of(tmp_path, config=config)
    assert "low <= value <= high" in problems[0].expected


@pytest.mark.parametrize(
    "key",
    [
        "policy.import_tariff; drop table runs",
        "kei.target_price$(rm -rf ~)",
        "x'; --",
        "../etc/passwd",
        "Kei.Target_Price",
    ],
)
def test_keys_with_sql_or_shell_metacharacters_are_refused(tmp_path, key):
    assert "[a-z0-9_.] only" in error_for(tmp_path, sets=[f"{key}=1"]).problems[0].expected
    config = base_config(tmp_path)
    config["assumptions"] = {key: 1}
    problems, _ = problems_of(tmp_path, config=config)
    assert "[a-z0-9_.] only" in problems[0].expected


def test_memory_per_monte_carlo_chunk_is_bounded(tmp_path):
    problems, message = problems_of(tmp_path, config=base_config(tmp_path, chunk_size=5_000_000))
    assert (problems[0].key, problems[0].value) == ("run.chunk_size", 5_000_000)
    assert "run.chunk_size = 5000000: at most 813,440: 5,000,000 draws x 15 years" in message
    assert "6.1 GiB per chunk" in message


def test_a_scenario_launching_after_the_horizon_is_refused(tmp_path):
    config = base_config(tmp_path)
    config["scenarios"]["status_quo"]["launch_year"] = 2045
    problems, message = problems_of(tmp_path, config=config)
    assert problems[0].key == "scenarios.status_quo.launch_year" and "sells nothing" in message
