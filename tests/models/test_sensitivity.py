import numpy as np
import pytest

from models import montecarlo, sensitivity
from models.scenario import LAUNCH_TIME, STATUS_QUO_ACCESS

from .conftest import POLICIES, YEARS


@pytest.fixture
def median_market(market_paths):
    return np.median(market_paths, axis=0)


def ishigami(u: dict) -> np.ndarray:
    """Ishigami & Homma (1990) with a = 7, b = 0.1 on [-pi, pi]^3."""
    x1, x2, x3 = (-np.pi + 2 * np.pi * u[k] for k in ("x1", "x2", "x3"))
    return np.sin(x1) + 7 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1)


def test_saltelli_indices_reproduce_the_ishigami_known_answer():
    s = sensitivity.saltelli_indices(ishigami, ["x1", "x2", "x3"], 2**14, seed=1).set_index("key")
    np.testing.assert_allclose(s.s1, [0.3139, 0.4424, 0.0], atol=0.02)
    np.testing.assert_allclose(s.st, [0.5576, 0.4424, 0.2437], atol=0.02)
    assert (s.s1_conf < 0.05).all() and (s.st_conf < 0.05).all()


def test_tornado_swings_inputs_between_the_monte_carlos_own_p10_and_p90(make_spec, median_market, market_paths):
    spec = make_spec("imports", *POLICIES["japan_imports_tariff"])
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035)).set_index("key")
    assert list(t.swing) == sorted(t.swing, reverse=True)
    assert "fleet.median_lifetime_years" not in t.index  # lifetimes cannot move sales
    values, _ = montecarlo.sample_chunk(spec, market_paths, 100_000, seed=3, chunk=0)
    for key in ("kei.target_price", "policy.import_tariff", "analog.us_class_utility"):
        p10, p90 = np.quantile(values[key], [0.1, 0.9])
        width = spec.ranges[key].high - spec.ranges[key].low
        assert t.loc[key, "low"] == pytest.approx(p10, abs=0.01 * width)
        assert t.loc[key, "high"] == pytest.approx(p90, abs=0.01 * width)
    assert np.isnan(t.loc[LAUNCH_TIME, "high"])  # at its P90, no maker launches


def test_sobol_and_tornado_agree_on_what_drives_a_policy_scenario(make_spec, median_market):
    spec = make_spec("federal", *POLICIES["federal_approval_domestic"])
    s = sensitivity.sobol_indices(spec, median_market, YEARS, (2026, 2035), 2**12, seed=1)
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035))
    assert set(s.key.head(2)) == set(t.key.head(2)) == {"analog.us_class_utility", LAUNCH_TIME}
    assert s.st.max() <= 1.05 and s.s1.sum() <= 1.05
    assert s.set_index("key").loc["policy.import_tariff", "st"] < 0.01  # domestic: the tariff only reaches grey imports


def test_status_quo_sensitivity_is_the_grey_import_layer(status_quo, median_market):
    s = sensitivity.sobol_indices(status_quo, median_market, YEARS, (2026, 2035), 2**11, seed=1)
    assert set(s.key.head(2)) == {"grey.headroom", "grey.road_legal_states"}
    assert s.s1_conf.max() < 0.05


def test_what_if_shows_the_weight_japans_share_carries(make_spec, status_quo, median_market):
    shares = [0.05, 1 / 3, 0.6]
    federal = sensitivity.what_if(make_spec(), "japan.kei_share", shares, median_market, YEARS, (2026, 2035), 512)
    assert np.all(np.diff(federal.headline) > 0)
    quo = sensitivity.what_if(status_quo, "japan.kei_share", shares, median_market, YEARS, (2026, 2035), 512)
    assert np.ptp(quo.headline) == 0


def test_a_scenario_with_every_assumption_fixed_is_analysed_without_error(make_spec, median_market, register_ranges):
    fixed = {key.replace(".", "__"): r.base for key, r in register_ranges.items()}
    spec = make_spec("imports", *POLICIES["japan_imports_tariff"], **fixed)
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035))
    assert not set(t.key) & set(register_ranges)  # only launch timing and posterior rows can remain
    s = sensitivity.sobol_indices(spec, median_market, YEARS, (2026, 2035), 64, seed=1)
    assert not set(s.key) & set(register_ranges)
    status_quo = make_spec("status_quo", 2015, True, STATUS_QUO_ACCESS, **fixed)  # nothing random at all
    assert sensitivity.sobol_indices(status_quo, median_market, YEARS, (2026, 2035), 64, seed=1).empty
