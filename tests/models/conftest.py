import numpy as np
import pytest

from keicast.evidence import load_register
from models.scenario import Range, ScenarioSpec, required_keys

from ..conftest import ROOT

YEARS = np.arange(2026, 2041)


@pytest.fixture(scope="session")
def register_ranges() -> dict[str, Range]:
    register = load_register(ROOT / "data" / "register.yaml")
    return {k: Range(a.range_low, a.value, a.range_high) for k, a in register.assumptions.items()}


@pytest.fixture(scope="session")
def make_spec(register_ranges):
    def make(name="federal", launch_year=2028, imported=False, road_access="kei_class", **overrides) -> ScenarioSpec:
        ranges = dict(register_ranges)
        for key, value in overrides.items():
            ranges[key.replace("__", ".")] = value if isinstance(value, Range) else Range(value, value, value)
        assert required_keys(road_access) <= set(ranges)
        return ScenarioSpec(name, launch_year, imported, road_access, ranges)

    return make


@pytest.fixture(scope="session")
def market_paths() -> np.ndarray:
    rng = np.random.default_rng(0)
    return 16e6 * np.exp(np.cumsum(rng.normal(0, 0.05, (500, len(YEARS))), axis=1))
