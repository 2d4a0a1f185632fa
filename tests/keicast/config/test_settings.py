"""Validated settings: the shipped config, overrides within their ranges, chosen scenarios, the register."""

import pytest

from keicast.config import load_settings

from ...conftest import base_config
from .conftest import error_for, problems_of


def test_the_shipped_config_is_valid():
    s = load_settings("config.yaml")
    assert len(s.scenarios) == 5 and s.run.draws > 0 and len(s.config_sha256) == 64


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("japan.kei_share", 1.5, "fraction in [0, 1]"),
        ("policy.import_tariff", 1.2, "fraction in [0, 1]"),
        ("kei.target_price", 0, "> 0"),
        ("market.avg_new_vehicle_price", -50000, "> 0"),
        ("demand.price_elasticity", 0.5, "< 0"),
    ],
)
def test_out_of_range_overrides(tmp_path, key, value, expected):
    config = base_config(tmp_path)
    config["assumptions"] = {key: value}
    problems, _ = problems_of(tmp_path, config=config)
    assert problems[0].key == f"assumptions.{key}" and problems[0].value == value
    assert expected in problems[0].expected


def test_unknown_scenario(tmp_path):
    error = error_for(tmp_path, scenarios=["status_qou"])
    assert "did you mean 'status_quo'" in str(error) and error.problems[0].file == "--scenario"


def test_a_register_with_a_key_twice_is_refused(tmp_path):
    from ...conftest import ROOT

    register = tmp_path / "register.yaml"
    text = (ROOT / "data" / "register.yaml").read_text()
    register.write_text(text.replace("assumptions:\n", "assumptions:\n  japan.kei_share: {kind: analyst}\n", 1))
    _, message = problems_of(tmp_path, config=base_config(tmp_path, register_file=str(register)))
    assert "register.yaml" in message and "duplicate key 'japan.kei_share'" in message
