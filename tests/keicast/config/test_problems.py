"""Problems in words: did-you-mean suggestions, every problem at once, options blamed for their own values."""

import pytest

from keicast.config.problems import parse_set

from ...conftest import base_config
from .conftest import error_for, problems_of


def test_unknown_keys_at_any_depth_with_suggestions(tmp_path):
    config = base_config(tmp_path)
    config["run"]["draw"] = 10
    config["scenarios"]["status_quo"]["launch_yaer"] = 2015
    config["senarios"] = {}
    problems, text = problems_of(tmp_path, config=config)
    keys = {p.key for p in problems}
    assert {"run.draw", "scenarios.status_quo.launch_yaer", "senarios"} <= keys
    assert (
        "did you mean 'draws'" in text and "did you mean 'launch_year'" in text and "did you mean 'scenarios'" in text
    )


@pytest.mark.parametrize(
    "item",
    ["policy.import_tariff", "=0.1", "policy.import_tariff=", "policy.import_tariff=abc", "policy.import_tariff=nan"],
)
def test_malformed_set(tmp_path, item):
    assert error_for(tmp_path, sets=[item]).problems[0].file == "--set"


def test_unknown_assumption_key_suggests(tmp_path):
    assert "did you mean 'policy.import_tariff'" in str(error_for(tmp_path, sets=["policy.import_tarif=0.1"]))


def test_every_problem_is_reported_at_once(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.import_tariff": 2, "japan.kei_share": -1}
    config["scenarios"]["status_quo"]["assumptions"] = {"kei.target_price": -5}
    problems, text = problems_of(tmp_path, config=config, sets=["nonsense"])
    assert len(problems) == 4
    assert "4 problems" in text


def test_parse_set():
    pairs, problems = parse_set(["policy.import_tariff=0.1", "kei.target_price=12_000"])
    assert pairs == [("policy.import_tariff", 0.1), ("kei.target_price", 12000.0)] and not problems


def test_a_seed_beyond_int64_and_zero_draws_are_blamed_on_their_options(tmp_path):
    assert error_for(tmp_path, seed=2**70).problems[0].file == "--seed"
    assert error_for(tmp_path, draws=0).problems[0].file == "--draws"
