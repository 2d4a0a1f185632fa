"""Problems in words: did-you-mean suggestions, every problem at once, options blamed for their own values."""

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from keicast.config.problems import parse_set, schema_problems

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


def test_a_quoted_number_says_to_remove_the_quotes(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.import_tariff": "0.2"}
    problems, message = problems_of(tmp_path, config=config)
    assert [(p.key, p.value) for p in problems] == [("assumptions.policy.import_tariff", "0.2")]
    assert "assumptions.policy.import_tariff = '0.2': a number, not the text \"0.2\" (remove the quotes)" in message
    config["assumptions"] = {}
    config["run"] = "2026"  # a section, not an override: no talk of numbers
    problems, _ = problems_of(tmp_path, config=config)
    assert problems[0].key == "run" and "number" not in problems[0].expected


def test_numbers_in_plain_words_where_the_schema_is_strict():
    class Bounds(BaseModel):
        model_config = ConfigDict(strict=True)
        max_avg_price: float
        min_history_year: int

    with pytest.raises(ValidationError) as info:
        Bounds.model_validate({"max_avg_price": "150000", "min_history_year": "nineteen fifty"})
    assert [(p.key, p.value, p.expected) for p in schema_problems("config.yaml", info.value)] == [
        ("max_avg_price", "150000", 'a number, not the text "150000" (remove the quotes)'),
        ("min_history_year", "nineteen fifty", 'a whole number, not the text "nineteen fifty"'),
    ]


def test_removing_the_quotes_is_advised_only_where_the_bare_value_would_do(tmp_path):
    """On the real schema: a whole-number key given "1.5" would refuse 1.5 as well."""
    config = base_config(tmp_path)
    config["run"]["draws"] = "1.5"
    problems, message = problems_of(tmp_path, config=config)
    assert [(p.key, p.value) for p in problems] == [("run.draws", "1.5")], message
    assert problems[0].expected == 'a whole number, not the text "1.5"'


def test_a_key_given_without_its_section_is_suggested_in_full(tmp_path):
    expected = error_for(tmp_path, sets=["import_tariff=0.2"]).problems[0].expected
    assert expected.endswith("(did you mean 'policy.import_tariff'?)")
