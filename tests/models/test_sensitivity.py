import numpy as np
import pytest

from models import sensitivity

from .conftest import YEARS


@pytest.fixture
def median_market(market_paths):
    return np.median(market_paths, axis=0)


def test_tornado_ranks_and_ignores_what_cannot_move_sales(make_spec, median_market):
    spec = make_spec()
    t = sensitivity.tornado(spec, median_market, YEARS, (2026, 2035))
    assert list(t.swing) == sorted(t.swing, reverse=True)
    fleet = t[t.key.str.startswith("fleet.")]
    assert np.allclose(fleet.swing, 0)  # lifetimes change cars in use, not sales
    assert "policy.tariff_pass_through" in set(t.key)
    assert t[t.key == "policy.tariff_pass_through"].swing.iloc[0] == 0  # domestic: no tariff
    assert t.swing.iloc[0] > 0


def test_sobol_indices_are_bounded_and_zero_for_inert_inputs(make_spec, median_market):
    s = sensitivity.sobol_indices(make_spec(), median_market, YEARS, (2026, 2035), 256, seed=1)
    assert s.st.max() <= 1.2 and s.s1.sum() <= 1.2
    inert = s[s.key.str.startswith("fleet.")]
    assert np.allclose(inert.st, 0, atol=1e-9)
    assert s.st.iloc[0] > 0.05


def test_a_fully_fixed_scenario_has_no_variance_to_apportion(make_spec, median_market, register_ranges):
    fixed = {key.replace(".", "__"): r.base for key, r in register_ranges.items()}
    spec = make_spec(**fixed)
    assert sensitivity.uncertain_keys(spec) == []
    assert sensitivity.tornado(spec, median_market, YEARS, (2026, 2035)).empty
    sobol = sensitivity.sobol_indices(spec, median_market, YEARS, (2026, 2035), 64, seed=1)
    assert sobol.empty and list(sobol.columns) == ["key", "s1", "s1_conf", "st", "st_conf"]
