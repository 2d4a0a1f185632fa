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
    assert problems[0].key == "baseline" and "coverage_horizon (5) must be at least max_horizon (8)" in message


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
    assert problems[0].key == "run" and "6.1 GiB per chunk" in message and "chunk_size <= 813,440" in message


def test_a_scenario_launching_after_the_horizon_is_refused(tmp_path):
    config = base_config(tmp_path)
    config["scenarios"]["status_quo"]["launch_year"] = 2045
    problems, message = problems_of(tmp_path, config=config)
    assert problems[0].key == "scenarios.status_quo.launch_year" and "sells nothing" in message
