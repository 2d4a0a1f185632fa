import pytest

from keicast.assumptions import assemble, scenario_spec
from keicast.config import AssumptionOverride, load_settings

from ..conftest import base_config, write_config


@pytest.fixture
def settings(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.tariff_pass_through": {"value": 0.9, "low": 0.7, "high": 1.0, "rationale": "why"}}
    config["scenarios"]["japan_imports_tariff"]["assumptions"] = {"policy.import_tariff": 0.15}
    return load_settings(write_config(tmp_path, config), sets=["policy.import_tariff=0.1"])


def row(table, scenario, key):
    return table[(table.scenario == scenario) & (table.key == key)].iloc[0]


def test_one_row_per_scenario_and_key(settings):
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides)
    assert len(table) == len(settings.scenarios) * len(settings.register.assumptions)
    assert not table.duplicated(["scenario", "key"]).any()


def test_precedence_register_then_config_then_set(settings):
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides)
    global_override = row(table, "status_quo", "policy.tariff_pass_through")
    assert (global_override.value, global_override.low, global_override.high) == (0.9, 0.7, 1.0)
    assert global_override.overridden and "assumptions" in global_override.override_origin
    assert global_override.rationale == "why"
    # --set beats the scenario's own config override, in every scenario
    for name in settings.scenarios:
        r = row(table, name, "policy.import_tariff")
        assert r.value == 0.1 and r.override_origin == "--set"
    untouched = row(table, "status_quo", "kei.target_price")
    assert not untouched.overridden and untouched.value == 10_000 and untouched.quote


def test_a_bare_value_override_fixes_the_range(settings):
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides)
    r = row(table, "status_quo", "policy.import_tariff")
    assert r.low == r.high == r.value == 0.1


def test_scenario_override_applies_to_that_scenario_only(tmp_path):
    config = base_config(tmp_path)
    config["scenarios"]["japan_imports_tariff"]["assumptions"] = {"policy.import_tariff": 0.25}
    s = load_settings(write_config(tmp_path, config))
    table = assemble(s.register, s.config, s.scenarios, s.overrides)
    assert row(table, "japan_imports_tariff", "policy.import_tariff").value == 0.25
    assert row(table, "status_quo", "policy.import_tariff").value == 0.15


def test_calibration_refinement_sits_below_config(settings):
    refinement = AssumptionOverride("policy.tariff_pass_through", 0.5, 0.4, 0.6, "*", "calibration")
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides, (refinement,))
    assert row(table, "status_quo", "policy.tariff_pass_through").value == 0.9


def test_scenario_spec_reads_the_rows(settings):
    table = assemble(settings.register, settings.config, settings.scenarios, settings.overrides)
    spec = scenario_spec("japan_imports_tariff", settings.config, table)
    assert spec.imported and spec.road_access == "kei_class" and spec.launch_year == 2027
    assert spec.ranges["policy.import_tariff"].base == 0.1
