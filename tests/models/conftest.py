import csv
from pathlib import Path

import numpy as np
import pytest

from models.scenario import Range, ScenarioSpec, required_keys

RANGES = Path(__file__).parent / "fixtures" / "assumption_ranges.csv"
YEARS = np.arange(2026, 2041)


@pytest.fixture(scope="session")
def register_ranges() -> dict[str, Range]:
    """The register's ranges for the keys the kernel reads, as a fixture shipped beside these tests."""
    with RANGES.open() as lines:
        rows = csv.DictReader(line for line in lines if not line.startswith("#"))
        return {r["key"]: Range(float(r["low"]), float(r["value"]), float(r["high"])) for r in rows}


@pytest.fixture(scope="session")
def make_spec(register_ranges):
    def make(
        name="federal",
        launch_year=2028,
        imported=False,
        road_access="kei_class",
        posteriors=(),
        level_model="analogs",
        **overrides,
    ) -> ScenarioSpec:
        ranges = dict(register_ranges)
        for key, value in overrides.items():
            ranges[key.replace("__", ".")] = value if isinstance(value, Range) else Range(value, value, value)
        assert required_keys(road_access, imported, level_model) <= set(ranges)
        return ScenarioSpec(
            name, launch_year, imported, road_access, ranges, tuple(posteriors), level_model=level_model
        )

    return make


POLICIES = {  # the shipped scenarios' rules: name -> (launch year, imported, road access)
    "low_speed_class": (2028, False, "low_speed"),
    "federal_approval_domestic": (2028, False, "kei_class"),
    "japan_imports_tariff": (2027, True, "kei_class"),
    "full_fmvss_compliance": (2029, False, "fmvss"),
}


@pytest.fixture(scope="session")
def status_quo(make_spec) -> ScenarioSpec:
    return make_spec("status_quo", 2015, True, "grey_import")


@pytest.fixture(scope="session")
def market_paths() -> np.ndarray:
    rng = np.random.default_rng(0)
    return 16e6 * np.exp(np.cumsum(rng.normal(0, 0.05, (500, len(YEARS))), axis=1))
