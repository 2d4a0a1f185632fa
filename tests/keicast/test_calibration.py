"""Calibration on US analogs: the class-share fit and its refinements; the adoption fit, its disk cache, the
assumption rows and joint draws it yields, and the Smart replay."""

import numpy as np
import pandas as pd
import pytest

from keicast.assumptions import assemble, scenario_spec
from keicast.calibration import (
    POSTERIOR_KEYS,
    adoption_refinements,
    analog_frame,
    analog_points,
    class_share_refinements,
    class_share_tables,
    fit_adoption,
    fit_class_share,
    replay_smart,
)
from keicast.config import load_settings
from keicast.errors import ConfigError
from keicast.history import load_history, load_tables
from keicast.register import load_register
from models.adoption import HierarchicalAdoption

from ..conftest import ROOT, base_config, write_config

SMART_2008_2014 = 24_622 + 14_595 + 5_927 + 5_208 + 10_009 + 9_264 + 10_453


@pytest.fixture(scope="module")
def data():
    history, _ = load_history(ROOT / "data" / "reference")
    tables, _ = load_tables(ROOT / "data" / "reference")
    return history, tables, load_register(ROOT / "data" / "register.yaml")


def test_the_register_holds_what_the_analog_fit_gives(data):
    history, tables, register = data
    points = analog_points(tables, history, "us_light_vehicle_sales_annual")
    assert len(points) >= 5 and points.analog.nunique() >= 4  # more than one analog, more than a launch-year peak
    smart = points[points.analog == "smart_fortwo"].set_index("year")
    assert smart.share[2011] == pytest.approx(5208 / 12_741_816)
    assert smart.price_ratio[2011] == pytest.approx(11_990 / 29_817)
    fit = fit_class_share(points, register)
    refined = {o.key: o for o in class_share_refinements(fit, register)}
    a = register.assumptions
    assert refined["analog.us_class_utility"].value == pytest.approx(a["analog.us_class_utility"].value, abs=1e-3)
    assert refined["analog.us_class_utility"].low == pytest.approx(a["analog.us_class_utility"].low, abs=1e-3)
    assert refined["analog.us_price_ratio"].value == pytest.approx(a["analog.us_price_ratio"].value, abs=1e-4)
    # one price point per analog but the Smart's two: no residual degrees of freedom, beta stays the literature's
    assert not fit.informative_ and "demand.price_elasticity" not in refined
    summary, table = class_share_tables(fit)
    assert len(summary) == 1 and len(table) == len(points)


def test_an_analog_year_without_market_data_is_a_config_error(data):
    history, tables, _ = data
    broken = {**tables, "us_small_car_analogs": pd.concat([tables["us_small_car_analogs"].assign(year=1900)])}
    with pytest.raises(ConfigError) as info:
        analog_points(broken, history, "us_light_vehicle_sales_annual")
    assert "us_small_car_analogs.csv" in str(info.value) and "1900" in str(info.value)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Settings of the shipped config (its sampler and cache), the history and the default fit."""
    tmp = tmp_path_factory.mktemp("calibration")
    settings = load_settings(write_config(tmp, base_config(tmp)))
    history, _ = load_history(settings.run.reference_dir)
    cal = settings.config.calibration
    frame = analog_frame(history, cal.analogs, settings.config.baseline.series)
    return settings, history, fit_adoption(frame, cal.analogs, cal)


def test_a_fit_is_cached_on_disk_by_its_data_and_settings(shipped, tmp_path, monkeypatch):
    settings, history, _ = shipped
    cal = settings.config.calibration.model_copy(update={"cache_dir": tmp_path})
    names = cal.analogs[:2]
    frame = analog_frame(history, names, settings.config.baseline.series)
    fits = []

    def counted(model, panel):  # the sampler is not the point here: a fit that counts its calls
        fits.append(panel.names)
        draws = pd.DataFrame({"p": [0.01, 0.02], "q": [0.4, 0.5], "trend": 0.0, "log_share": -5.0, "sigma": 0.3,
                              "phi": 0.5})  # fmt: skip
        model.population_, model.analogs_ = draws, draws.assign(series=names[0], draw=[0, 1])
        model.diagnostics_ = {"max_rhat": 1.0, "min_ess": 1000.0, "divergences": 0}
        return model

    monkeypatch.setattr(HierarchicalAdoption, "fit", counted)
    first = fit_adoption(frame, names, cal)
    again = fit_adoption(frame, names, cal)
    assert len(fits) == 1 and again.population.equals(first.population) and again.diagnostics == first.diagnostics
    fit_adoption(frame.assign(sales=frame.sales * 1.01), names, cal)  # new data: a new fit and a new entry
    fit_adoption(frame, names, cal.model_copy(update={"samples": 751}))  # new settings too
    assert len(fits) == 3 and len([p for p in tmp_path.iterdir() if p.name != "jax" and p.suffix != ".lock"]) == 3


def test_calibrated_adoption_keys_are_drawn_jointly_unless_overridden(shipped, tmp_path):
    settings, _, fit = shipped
    config = base_config(tmp_path)
    config["calibration"]["model"] = "analogs"  # the analog model draws the adoption keys
    overridden = load_settings(write_config(tmp_path, config), sets=["adoption.bass_p=0.05"])
    settings = load_settings(write_config(tmp_path, config, "analogs.yaml"))
    table = assemble(
        settings.register,
        settings.config,
        ("federal_approval_domestic",),
        overridden.overrides,
        adoption_refinements(fit, settings.register),
    )
    rows = table.set_index("key")
    assert rows.loc["adoption.bass_q", "override_origin"] == "calibration"
    assert rows.loc["adoption.bass_p", "value"] == 0.05
    spec = scenario_spec("federal_approval_domestic", settings.config, table, fit)
    assert not scenario_spec("status_quo", settings.config, table, fit).posteriors  # no adoption path to draw
    (posterior,) = spec.posteriors
    assert set(posterior.draws) == set(POSTERIOR_KEYS) - {"adoption.bass_p"}
    assert posterior.rows == len(fit.population)
    q = rows.loc["adoption.bass_q"]
    assert q.low <= q.value <= q.high and q.value == pytest.approx(np.median(fit.population.q))


def test_replaying_the_smart_fortwo_through_the_kernel_lands_within_50_percent_of_its_sales(shipped):
    """2008-2014 cumulative P50 within +/-50% of the 80,078 sold: the kernel's new-kei layer at the Smart's own
    price ratio, FMVSS access and w = 0, the class share anchored on the US analogs (keicast.calibration)."""
    settings, history, fit = shipped
    tables, _ = load_tables(settings.run.reference_dir)
    points = analog_points(tables, history, settings.config.baseline.series)
    class_fit = fit_class_share(points, settings.register)
    refined = adoption_refinements(fit, settings.register) + class_share_refinements(class_fit, settings.register)
    table = assemble(settings.register, settings.config, ("full_fmvss_compliance",), (), refined)
    replay = replay_smart(fit, table, tables, history, settings.config.baseline.series, draws=20_000)
    cumulative = replay[(replay.metric == "new_kei_sales_cumulative") & (replay.year == 2014)].iloc[0]
    assert 0.5 * SMART_2008_2014 <= cumulative.p50 <= 1.5 * SMART_2008_2014, cumulative
    assert cumulative.p10 < SMART_2008_2014 < cumulative.p90


@pytest.mark.slow
def test_the_shipped_calibration_converges_on_eight_seeds_with_a_cold_cache(tmp_path):
    """The gate's rule (R-hat < 1.01, bulk ESS >= 400, no divergence) on seeds 1-8, none of them chosen."""
    settings = load_settings(ROOT / "config.yaml")
    history, _ = load_history(settings.run.reference_dir)
    cal = settings.config.calibration
    frame = analog_frame(history, cal.analogs, settings.config.baseline.series)
    for seed in range(1, 9):
        fit = fit_adoption(frame, cal.analogs, cal.model_copy(update={"seed": seed, "cache_dir": tmp_path}))
        assert fit.converged, (seed, fit.diagnostics)


def test_partial_launch_years_keep_their_place_and_are_never_fitted():
    history, _ = load_history(ROOT / "data" / "reference")
    names = ["us_hev_sales_annual", "us_smart_fortwo_sales_annual"]
    frame = analog_frame(history, names, "us_light_vehicle_sales_annual")
    hybrids = frame[frame.series == "us_hev_sales_annual"]
    assert hybrids.year.min() == 2000 and hybrids.t.min() == 2  # 1999 (17 units, one month) is partial
    assert frame[frame.series == "us_smart_fortwo_sales_annual"].t.min() == 1
