"""The pipeline's steps called directly on the shipped data (every adoption fit served frozen in the fast tier)."""

import numpy as np
import pandas as pd
import pytest

from keicast import gates, steps, warehouse
from keicast.config import load_settings
from keicast.errors import ConfigError, GateFailed

from ..conftest import base_config, write_config


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("steps")
    return tmp, base_config(tmp)


@pytest.fixture(scope="module")
def settings(project):
    tmp, config = project
    return load_settings(write_config(tmp, config))


@pytest.fixture(scope="module")
def evidence(settings):
    return steps.load_evidence(settings)


@pytest.fixture(scope="module")
def calibration(evidence, settings):
    return steps.calibrate(evidence.history, settings)


@pytest.fixture(scope="module")
def class_fit(evidence, settings):
    return steps.fit_class_shares(evidence, settings)


@pytest.fixture(scope="module")
def reference(settings):
    return steps.calibrate_reference_class(settings)


# ---------------------------------------------------------------------------------------------- evidence
def test_load_evidence_reads_the_reference_folder(evidence, settings):
    assert list(evidence.history.columns) == ["series", "year", "value", "unit", "partial"]
    market = evidence.history[evidence.history.series == settings.config.baseline.series]
    assert market.year.min() == 1976 and market.value.iloc[0] == 12_969_800
    assert set(evidence.tables) == {"us_small_car_analogs", "us_tariff_japan_autos"}
    assert set(evidence.history.series) <= set(evidence.sources.series)


def test_load_evidence_refuses_a_baseline_series_that_is_too_short(tmp_path, reference_copy):
    target = reference_copy / "us_light_vehicle_sales_annual.csv"
    lines = target.read_text().splitlines()
    header = [line for line in lines if line.startswith("#") or line.startswith("year")]
    target.write_text("\n".join(header + [line for line in lines if line.startswith("202")][:3]) + "\n")
    short = load_settings(write_config(tmp_path, base_config(tmp_path, reference_dir=str(reference_copy))))
    with pytest.raises(ConfigError) as info:
        steps.load_evidence(short)
    (problem,) = info.value.problems
    assert problem.key == "baseline.min_train" and "fewer years than the 3" in problem.expected


# ---------------------------------------------------------------------------------------------- calibration
def test_calibrate_fits_every_analog_with_one_diagnostics_row(calibration, settings):
    analogs = list(settings.config.calibration.analogs)
    assert len(calibration.fits) == len(analogs) and set(calibration.curves.columns) >= {"year", "observed"}
    (row,) = calibration.diagnostics.to_dict("records")
    assert (row["fit"], row["shape"]) == ("calibration", settings.config.calibration.shape) and row["converged"]


def test_fit_class_shares_gives_a_prior_on_the_log_odds(class_fit):
    assert np.isfinite(class_fit.prior_mean) and class_fit.prior_sd > 0
    assert 0 < class_fit.addressable <= 1
    assert -6 < class_fit.prior_mean < 0  # small cars are a minority of US sales


def test_assemble_assumptions_one_row_per_scenario_and_key(settings, calibration, class_fit, reference):
    table = steps.assemble_assumptions(settings, calibration.fit, class_fit, reference)
    assert tuple(table.scenario.unique()) == settings.scenarios
    assert not table.duplicated(["scenario", "key"]).any()
    keys = table.groupby("scenario").key.apply(frozenset)
    assert all("kei.target_price" in k for k in keys)
    assert (table.low <= table.value).all() and (table.value <= table.high).all()


def test_an_override_reaches_every_scenario(project, calibration, class_fit, reference):
    tmp, config = project
    overridden = load_settings(write_config(tmp, config), sets=["kei.target_price=9000"])
    table = steps.assemble_assumptions(overridden, calibration.fit, class_fit, reference)
    price = table[table.key == "kei.target_price"]
    assert len(price) == len(overridden.scenarios)
    assert (price.value == 9000).all() and price.overridden.all()
    with pytest.raises(ValueError, match="reference class"):  # the default model cannot do without it
        steps.assemble_assumptions(overridden, calibration.fit, class_fit)


def test_scenario_specs_carry_each_scenarios_rules(settings, calibration, class_fit, reference):
    table = steps.assemble_assumptions(settings, calibration.fit, class_fit, reference)
    specs = steps.scenario_specs(settings, table, calibration.fit, reference=reference)
    assert [s.name for s in specs] == list(settings.scenarios)
    for spec in specs:
        scenario = settings.config.scenarios[spec.name]
        assert (spec.launch_year, spec.road_access) == (scenario.launch_year, scenario.road_access)
    rules = {s.name: (s.launch_year, s.imported, s.road_access) for s in specs}
    assert rules["status_quo"] == (2015, True, "grey_import")
    assert rules["japan_imports_tariff"] == (2027, True, "kei_class")
    assert rules["full_fmvss_compliance"] == (2029, False, "fmvss")
    for spec in specs:  # the reference class sets the new-kei layer: one joint posterior, no analog keys
        names = [p.name for p in spec.posteriors]
        assert spec.level_model == "reference_class"
        assert names == ([] if spec.road_access == "grey_import" else ["reference_class.posterior"])
        assert "adoption.bass_p" not in spec.keys.values()


def test_calibrate_reference_class_fits_the_configured_shape_and_backtests_every_shape(reference, settings):
    """The shipped config fixes the shape (auto's choice is tested in test_reference_class); all are backtested."""
    chain = reference.cases[(reference.cases["mode"] == "pre_launch") & (reference.cases.model == "chain")]
    assert reference.fit.shape == settings.config.calibration.reference_shape != "auto"
    assert set(chain["shape"]) == {"level", "rise", "rise_peak_decline"}
    assert set(reference.cases.model) == {"chain", "naive", "reference_class"}
    assert chain.groupby("shape").family.nunique().min() >= 8
    results = steps.gate_reference(reference, settings, None)
    assert set(results.suite) == {"reference_backtests"} and results.success.all()


def test_backtest_adoption_chain_bands_are_the_configured_shape(evidence, settings):
    backtests = steps.backtest_adoption_chain(evidence.history, settings)
    shape = settings.config.calibration.shape
    assert set(backtests.cases["shape"]) == {shape} and set(backtests.bands["shape"]) == {shape}
    assert set(backtests.cases["mode"]) == {"pre_launch", "post_launch"}
    assert not backtests.diagnostics.empty


# ---------------------------------------------------------------------------------------------- gates
def test_gate_history_returns_every_result(evidence, settings):
    results = steps.gate_history(evidence.history, settings)
    assert list(results.columns) == gates.RESULT_COLUMNS and results.success.all()
    assert set(results.suite) == {"history", "history_spans"}


def test_a_broken_history_fails_the_gate_carrying_its_results(evidence, settings):
    broken = evidence.history.copy()
    broken.loc[broken.index[0], "value"] = -5.0
    with pytest.raises(GateFailed) as info:
        steps.gate_history(broken, settings)
    error = info.value
    assert error.suite == "history" and error.failures and error.exit_code == 3
    assert list(error.results.columns) == gates.RESULT_COLUMNS
    assert not error.results.success.all() and len(error.results) == len(steps.gate_history(evidence.history, settings))


def test_the_shipped_baseline_passes_its_gate_and_choosing_it_inside_each_origin_would_not(project, evidence):
    tmp, config = project
    fixed = load_settings(write_config(tmp, config))
    results = steps.gate_baseline(steps.fit_baseline(evidence.history, fixed), fixed, None)
    assert fixed.config.baseline.model == "combo" and set(results.suite) == {"baseline_skill"}
    auto_config = {**config, "baseline": {**config.get("baseline", {}), "model": "auto"}}
    auto = load_settings(write_config(tmp, auto_config, "auto.yaml"))
    with pytest.raises(GateFailed) as info:
        steps.gate_baseline(steps.fit_baseline(evidence.history, auto), auto, results)
    assert info.value.suite == "baseline" and info.value.exit_code == 3
    assert "no worse than naive on its rolling origins" in str(info.value)


# ---------------------------------------------------------------------------------------------- outputs
def forecasts(end: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scenario": ["p1", "p2"], "year": [end, end], "metric": ["kei_sales_cumulative"] * 2,
            "mean": [1.0, 2.0], "p05": [0.0, 0.0], "p10": [1.0, 2.0], "p50": [5.0, 9.0], "p90": [8.0, 12.0],
            "p95": [9.0, 13.0],
        }
    )  # fmt: skip


def outputs(settings, calibration, class_fit, sweep):
    end = settings.run.headline_window[1]
    return steps.run_outputs(
        calibration,
        class_fit,
        steps.AdoptionBacktests(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()),
        steps.calibrate_reference_class(settings),
        pd.DataFrame({"scenario": ["p1"]}),
        steps.Baseline("ar1", pd.DataFrame({"model": ["ar1"]}), np.zeros((2, 3))),
        steps.Simulation(forecasts(end), pd.DataFrame()),
        pd.DataFrame({"suite": ["history"]}),
        sweep,
        steps.Vintage.empty(),
        settings,
    )


def test_run_outputs_name_every_warehouse_run_table(settings, calibration, class_fit):
    tables = outputs(settings, calibration, class_fit, None).tables()
    assert set(tables) == set(warehouse.RUN_TABLES) and len(tables) == len(warehouse.RUN_TABLES)
    assert all(isinstance(t, pd.DataFrame) for t in tables.values())
    assert tables["sweep_results"].empty
    assert tables["backtests"].model.tolist() == ["ar1"] and tables["gate_results"].suite.tolist() == ["history"]
    assert len(tables["fit_diagnostics"]) == 1  # the calibration's; the backtests had none


def test_a_sweep_adds_its_comparison(settings, calibration, class_fit):
    sweep = {"p1": {"launch_year": 2027}, "p2": {"launch_year": 2030}}
    table = outputs(settings, calibration, class_fit, sweep).sweep_results
    assert table.scenario.tolist() == ["p2", "p1"] and table.cumulative_p50.tolist() == [9.0, 5.0]
    assert table.factors.tolist() == ['{"launch_year": 2030}', '{"launch_year": 2027}']
