"""One policy scenario as numbers: which assumptions feed the demand kernel, and the kernel itself.

The kernel is the single place where the pieces meet (class share x adoption path x market, then the fleet):

    price_t     = buyer price at launch (target price + passed-through tariff for imports + compliance cost)
    share_inf   = kei_class_share(price / avg_price)             long-run class share, models.class_share
    A_t         = adoption path since launch x e^{u_t}            models.diffusion (shape), models.adoption
                  (u_t the AR(1) yearly deviation, when the Monte Carlo supplies its shocks)
    kei_sales_t = share_inf * A_t * market_t
    kei_in_use  = cars_in_use(kei_sales)                         models.fleet
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.adoption import ar1_deviations
from models.class_share import buyer_price, calibrate_class_constant, kei_class_share
from models.diffusion import annual_adoption_fraction
from models.fleet import cars_in_use

ROAD_ACCESS = ("grey_import", "low_speed", "kei_class", "fmvss")
PRODUCTION = ("domestic", "import")
METRICS = ("total_market", "kei_sales", "kei_share", "kei_in_use", "kei_sales_cumulative")
# values[ADOPTION_SHOCKS]: standard normals (draws, years) that drive the adoption path's yearly deviations.
ADOPTION_SHOCKS = "adoption.shocks"

# Kernel parameter -> assumption key; {access} is the scenario's road-access rule.
PARAMETER_KEYS: dict[str, str] = {
    "japan_share": "japan.kei_share",
    "avg_price": "market.avg_new_vehicle_price",
    "target_price": "kei.target_price",
    "compliance_cost": "access.{access}.compliance_cost",
    "addressable": "access.{access}.addressable_share",
    "tariff": "policy.import_tariff",
    "pass_through": "policy.tariff_pass_through",
    "elasticity": "demand.price_elasticity",
    "analog_share": "analog.smart_peak_share",
    "analog_price_ratio": "analog.smart_price_ratio",
    "analog_addressable": "access.fmvss.addressable_share",
    "bass_p": "adoption.bass_p",
    "bass_q": "adoption.bass_q",
    "price_trend": "kei.real_price_trend",
    "price_coefficient": "adoption.gbm_price_coefficient",
    "adoption_trend": "adoption.trend",
    "noise_sd": "adoption.noise_sd",
    "noise_ar": "adoption.noise_ar",
    "median_life": "fleet.median_lifetime_years",
    "survival_shape": "fleet.survival_shape",
}


@dataclass(frozen=True)
class Range:
    """An assumption's low / base / high values."""

    low: float
    base: float
    high: float

    @property
    def uncertain(self) -> bool:
        return self.high > self.low


@dataclass(frozen=True)
class ScenarioSpec:
    """What the kernel needs to know about one scenario: its rules and its assumption ranges by key."""

    name: str
    launch_year: int
    imported: bool
    road_access: str
    ranges: Mapping[str, Range]
    adoption_shape: str = "bass"
    # Joint posterior draws of adoption keys (columns = assumption keys), drawn by row in the Monte Carlo.
    adoption_draws: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def keys(self) -> dict[str, str]:
        """Kernel parameter -> assumption key for this scenario's road access."""
        return {param: key.format(access=self.road_access) for param, key in PARAMETER_KEYS.items()}

    def base_values(self) -> dict[str, float]:
        """Assumption key -> base value for every key the kernel reads."""
        return {key: self.ranges[key].base for key in set(self.keys.values())}


def required_keys(road_access: str) -> set[str]:
    """Assumption keys a scenario with this road access needs."""
    return {key.format(access=road_access) for key in PARAMETER_KEYS.values()}


def base_buyer_price(spec: ScenarioSpec) -> float:
    """The buyer's price at launch with every assumption at its base value."""
    v = {param: spec.ranges[key].base for param, key in spec.keys.items()}
    return float(buyer_price(v["target_price"], v["compliance_cost"], v["tariff"], v["pass_through"], spec.imported))


def kei_outcomes(
    spec: ScenarioSpec,
    values: Mapping[str, np.ndarray | float],
    market: np.ndarray,
    years: np.ndarray,
) -> dict[str, np.ndarray]:
    """Evaluate the kernel for a batch of draws.

    Args:
        spec: the scenario (launch year, import or domestic, road access).
        values: assumption key -> (draws,) array or scalar.
        market: total US new-vehicle sales, (draws, years) or (years,).
        years: calendar years of the horizon.
    Returns:
        Metric name -> (draws, years) array for every metric in :data:`METRICS`.
    """
    v = {param: np.reshape(np.asarray(values[key], dtype=float), (-1, 1)) for param, key in spec.keys.items()}
    market = np.atleast_2d(np.asarray(market, dtype=float))
    price = buyer_price(v["target_price"], v["compliance_cost"], v["tariff"], v["pass_through"], spec.imported)
    constant = calibrate_class_constant(
        v["analog_share"], v["analog_price_ratio"], v["elasticity"], v["japan_share"], v["analog_addressable"]
    )
    long_run_share = kei_class_share(
        price / v["avg_price"], v["elasticity"], constant, v["japan_share"], v["addressable"]
    )
    adoption = annual_adoption_fraction(
        (np.asarray(years) - spec.launch_year + 1)[None, :],
        v["bass_p"],
        v["bass_q"],
        v["price_trend"],
        v["price_coefficient"],
        v["adoption_trend"],
        spec.adoption_shape,
    )
    if ADOPTION_SHOCKS in values:
        adoption = adoption * np.exp(ar1_deviations(values[ADOPTION_SHOCKS], v["noise_sd"], v["noise_ar"]))
    share = np.minimum(
        long_run_share * adoption, v["japan_share"] * v["addressable"]
    )  # deviations stay under the ceiling
    sales = share * market
    return {
        "total_market": np.broadcast_to(market, sales.shape),
        "kei_sales": sales,
        "kei_share": share,
        "kei_in_use": cars_in_use(sales, v["median_life"].ravel(), v["survival_shape"].ravel()),
        "kei_sales_cumulative": np.cumsum(sales, axis=1),
    }
