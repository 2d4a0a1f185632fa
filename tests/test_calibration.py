"""The class-share fit on the shipped analog table and the refinements it makes to the register."""

import pandas as pd
import pytest

from keicast.calibration import analog_points, class_share_refinements, class_share_tables, fit_class_share
from keicast.errors import ConfigError
from keicast.evidence import load_history, load_register, load_tables

from .conftest import ROOT


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
