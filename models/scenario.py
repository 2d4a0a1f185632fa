"""One policy scenario as numbers: which assumptions feed the demand kernel, and the kernel itself.

The kernel is the single place where the pieces meet. Every scenario is the status quo plus, for a policy, a layer
of new kei cars on top of it (the grey-import flow continues under every policy):

    grey_t      = grey imports calibrated to the reported counts      models.grey_import   (status-quo layer)
    price       = buyer price at launch (target + duty on the customs value for imports + compliance cost)
    share_inf   = a sigma(u(price / avg_price))  anchored on US analogs and Japan    models.class_share
    L           = launch time: planned year + delay, or never (no maker launches)      models.montecarlo
    F_t         = GBM adoption fraction at years since L                              models.diffusion
    new_t       = share_inf * F_t * market_t                                          (policy layer)
    kei_sales_t = grey_t + new_t;  kei_in_use = grey fleet (incl. imports before the horizon) + new fleet
                  x e^{u_t}: the adoption path's AR(1) yearly deviations (models.adoption), shape
                  chosen by the analog backtests; new share capped at Japan's share of the addressed buyers
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from models.adoption import ar1_deviations
from models.class_share import buyer_price, japan_price_ratio, kei_class_share, kei_utility
from models.diffusion import annual_adoption_fraction
from models.fleet import cars_in_use
from models.grey_import import grey_buyer_price, grey_imports
from models.reference_class import REFERENCE_PRICE_RATIO, log_share_path

ROAD_ACCESS = ("grey_import", "low_speed", "kei_class", "fmvss")
STATUS_QUO_ACCESS = "grey_import"  # no policy layer: grey imports only
PRODUCTION = ("domestic", "import")
METRICS = (
    "total_market",
    "kei_sales",
    "kei_share",
    "kei_in_use",
    "kei_sales_cumulative",
    "new_kei_sales",
    "new_kei_sales_cumulative",
    "grey_imports",
    "launched",
    "new_kei_sales_if_launched",
    "new_kei_sales_cumulative_if_launched",
)
# Metrics over the draws in which a maker has launched by that year (NaN elsewhere): the forecast given a launch.
CONDITIONAL_METRICS = ("new_kei_sales_if_launched", "new_kei_sales_cumulative_if_launched")
# Metrics that are fractions, not counts: the kei share of the market, the share of draws launched by the year.
FRACTION_METRICS = ("kei_share", "launched")
LAUNCH_TIME = "launch"  # values[LAUNCH_TIME]: launch time per draw in years (inf: no maker launches)
GREY_COUNT_YEARS = (2018, 2023)  # the years of grey.imports_2018 and grey.imports_2023
GREY_FLEET_START = 2005  # grey imports from this year on are counted in cars in use
# values[ADOPTION_SHOCKS]: standard normals (draws, years) that drive the adoption path's yearly deviations.
ADOPTION_SHOCKS = "adoption.shocks"

# Kernel parameter -> assumption key of the policy (new-kei) layer; {access} is the scenario's road access,
# {route} its road access and production (e.g. kei_class_import).
PARAMETER_KEYS: dict[str, str] = {
    "japan_share": "japan.kei_share",
    "japan_price_ratio": "japan.kei_price_ratio",
    "japan_advantage": "japan.kei_ownership_advantage",
    "japan_weight": "access.{access}.japan_gap_closed",
    "avg_price": "market.avg_new_vehicle_price",
    "target_price": "kei.target_price",
    "compliance_cost": "access.{access}.compliance_cost",
    "addressable": "access.{access}.addressable_share",
    "tariff": "policy.import_tariff",
    "pass_through": "policy.tariff_pass_through",
    "customs_ratio": "kei.customs_value_ratio",
    "elasticity": "demand.price_elasticity",
    "us_utility": "analog.us_class_utility",
    "us_price_ratio": "analog.us_price_ratio",
    "bass_p": "adoption.bass_p",
    "bass_q": "adoption.bass_q",
    "price_trend": "kei.real_price_trend",
    "price_coefficient": "adoption.gbm_price_coefficient",
    "adoption_trend": "adoption.trend",
    "noise_sd": "adoption.noise_sd",
    "noise_ar": "adoption.noise_ar",
    "median_life": "fleet.median_lifetime_years",
    "survival_shape": "fleet.survival_shape",
    "no_launch": "launch.{route}.no_launch_probability",
    "launch_delay": "launch.{route}.delay_years",
}
# Kernel parameter -> assumption key of the status-quo (grey-import) layer, present in every scenario.
GREY_KEYS: dict[str, str] = {
    "grey_early": "grey.imports_2018",
    "grey_latest": "grey.imports_2023",
    "grey_headroom": "grey.headroom",
    "grey_states": "grey.road_legal_states",
    "grey_states_counted": "grey.road_legal_states_counted",
    "grey_used_price": "grey.used_price",
    "grey_customs_ratio": "grey.customs_value_ratio",
    "tariff": "policy.import_tariff",
    "tariff_counted": "policy.tariff_japan_before_2025",
    "pass_through": "policy.tariff_pass_through",
    "elasticity": "demand.price_elasticity",
    "grey_life": "grey.median_remaining_life_years",
    "survival_shape": "fleet.survival_shape",
}
# The reference-class model of the new-kei layer (models.reference_class): kernel parameter -> the column of its
# joint posterior draws (keicast.reference), drawn one row per Monte Carlo draw.
REFERENCE_POSTERIOR = "reference_class.posterior"
REFERENCE_KEYS: dict[str, str] = {
    "level": "reference.level",
    "price_slope": "reference.price_slope",
    "rise": "reference.rise",
    "decline": "reference.decline",
    "deviation_sd": "reference.deviation_sd",
    "deviation_ar": "reference.deviation_ar",
}
# The analog model's parameters (Bass path x class share): not read when the reference class sets the level.
ANALOG_PARAMETERS = (
    "japan_price_ratio",
    "japan_advantage",
    "japan_weight",
    "us_utility",
    "us_price_ratio",
    "bass_p",
    "bass_q",
    "price_trend",
    "price_coefficient",
    "adoption_trend",
    "noise_sd",
    "noise_ar",
)
# What a launch under each road access is in the reference class's terms: (kind, created by a policy).
LAUNCH_KIND = {"low_speed": ("class", True), "kei_class": ("class", True), "fmvss": ("nameplate", False)}
FULL_ACCESS = "kei_class"  # the reference class's classes had full road access: restricted access scales from it
LEVEL_MODELS = ("reference_class", "analogs")
# Parameters that only reach cars in use, never sales.
FLEET_PARAMETERS = ("median_life", "survival_shape", "grey_life")
# Keys whose range shapes another input's draw (the launch delay inside the launch time), not drawn on their own.
DISTRIBUTION_KEYS = ("launch_delay",)


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
class Posterior:
    """Joint draws of some assumption keys (e.g. a Bayesian fit's posterior): one uniform picks a row for all."""

    name: str
    draws: Mapping[str, np.ndarray]  # key -> (rows,) values, row i of every key belonging together

    @property
    def rows(self) -> int:
        return len(next(iter(self.draws.values())))


@dataclass(frozen=True)
class ScenarioSpec:
    """What the kernel needs to know about one scenario: its rules and its assumption ranges by key."""

    name: str
    launch_year: int
    imported: bool
    road_access: str
    ranges: Mapping[str, Range]
    posteriors: tuple[Posterior, ...] = field(default=())
    adoption_shape: str = "bass"  # models.diffusion.ADOPTION_SHAPES, chosen by the analog backtests
    level_model: str = "analogs"  # LEVEL_MODELS: what sets the new-kei layer (config: calibration.model)
    grey_latest_year: int = GREY_COUNT_YEARS[1]  # the year of the latest grey-import count (a newer actual's)

    @property
    def has_policy(self) -> bool:
        """False for the status quo (grey imports only)."""
        return self.road_access != STATUS_QUO_ACCESS

    @property
    def route(self) -> str:
        return route(self.road_access, self.imported)

    @property
    def keys(self) -> dict[str, str]:
        """Kernel parameter -> assumption key for this scenario."""
        policy = {p: k.format(access=self.road_access, route=self.route) for p, k in PARAMETER_KEYS.items()}
        if self.level_model == "reference_class":
            policy = {p: k for p, k in policy.items() if p not in ANALOG_PARAMETERS} | REFERENCE_KEYS
            policy["addressable_full"] = PARAMETER_KEYS["addressable"].format(access=FULL_ACCESS)
        return {**GREY_KEYS, **(policy if self.has_policy else {})}

    def base_values(self) -> dict[str, float]:
        """Assumption key -> base value for every key the kernel reads."""
        return {key: self.ranges[key].base for key in set(self.keys.values())}


def route(road_access: str, imported: bool) -> str:
    """A policy route: road access and production, e.g. kei_class_import."""
    return f"{road_access}_{'import' if imported else 'domestic'}"


def required_keys(road_access: str, imported: bool = False, level_model: str = "analogs") -> set[str]:
    """Assumption keys a scenario with this road access and production needs."""
    return set(ScenarioSpec("", 0, imported, road_access, {}, level_model=level_model).keys.values())


def base_buyer_price(spec: ScenarioSpec) -> float:
    """The buyer's price at launch with every assumption at its base value (a grey import's for the status quo)."""
    v = {param: spec.ranges[key].base for param, key in spec.keys.items()}
    if not spec.has_policy:
        return float(grey_buyer_price(v["grey_used_price"], v["tariff"], v["pass_through"], v["grey_customs_ratio"]))
    price = buyer_price(
        v["target_price"], v["compliance_cost"], v["tariff"], v["pass_through"], v["customs_ratio"], spec.imported
    )
    return float(price)


def _columns(spec: ScenarioSpec, values: Mapping[str, np.ndarray | float]) -> dict[str, np.ndarray]:
    return {param: np.reshape(np.asarray(values[key], dtype=float), (-1, 1)) for param, key in spec.keys.items()}


def grey_layer(v: dict[str, np.ndarray], years: np.ndarray, latest_year: int = GREY_COUNT_YEARS[1]) -> np.ndarray:
    """Grey imports per draw for ``years`` (which may start before the horizon), through the early count and the
    latest one (``grey_latest``, counted in ``latest_year``)."""
    price = grey_buyer_price(v["grey_used_price"], v["tariff"], v["pass_through"], v["grey_customs_ratio"])
    price_counted = grey_buyer_price(
        v["grey_used_price"], v["tariff_counted"], v["pass_through"], v["grey_customs_ratio"]
    )
    return grey_imports(
        years,
        (GREY_COUNT_YEARS[0], v["grey_early"]),
        (latest_year, v["grey_latest"]),
        v["grey_headroom"],
        v["grey_states"] / v["grey_states_counted"],
        price / price_counted,
        v["elasticity"],
        first_forecast_year=latest_year + 1,
    )


def long_run_share(spec: ScenarioSpec, v: dict[str, np.ndarray]) -> np.ndarray:
    """The policy layer's long-run kei share of new-vehicle sales per draw (models.class_share)."""
    price = buyer_price(
        v["target_price"], v["compliance_cost"], v["tariff"], v["pass_through"], v["customs_ratio"], spec.imported
    )
    utility = kei_utility(
        price / v["avg_price"],
        v["elasticity"],
        v["us_utility"],
        v["us_price_ratio"],
        v["japan_share"],
        japan_price_ratio(v["japan_price_ratio"], v["japan_advantage"]),
        v["japan_weight"],
    )
    return kei_class_share(utility, v["addressable"])


def analog_layer(spec: ScenarioSpec, v: dict[str, np.ndarray], values: Mapping, since_launch: np.ndarray):
    """The analog model's new-kei share per draw and year: long-run class share x adoption fraction x e^{u_t}."""
    adoption = annual_adoption_fraction(
        since_launch,
        v["bass_p"],
        v["bass_q"],
        v["price_trend"],
        v["price_coefficient"],
        v["adoption_trend"],
        spec.adoption_shape,
    )
    if ADOPTION_SHOCKS in values:
        shocks = values[ADOPTION_SHOCKS]
        adoption = adoption * np.exp(ar1_deviations(shocks, v["noise_sd"], v["noise_ar"], since_launch > 0))
    return long_run_share(spec, v) * adoption


def reference_layer(spec: ScenarioSpec, v: dict[str, np.ndarray], values: Mapping, since_launch: np.ndarray):
    """The reference-class model's new-kei share per draw and year (models.reference_class): one level of demand.

    ln s_t = level + price_slope ln(price / avg_price / 0.5) + rise ln t + decline (t - 1) + u_t
             + ln(addressable / addressable of the full-access kei class),

    with t the calendar year's number on sale as the reference class counts it (year - launch year + 1: the launch
    year is t = 1, a partial year selling its fraction of the year), u_t the AR(1) yearly deviations starting at zero
    at launch, and the launch's own level inside ``level``.
    """
    r = {p: np.reshape(np.asarray(values[k], dtype=float), (-1, 1)) for p, k in REFERENCE_KEYS.items()}
    price = buyer_price(
        v["target_price"], v["compliance_cost"], v["tariff"], v["pass_through"], v["customs_ratio"], spec.imported
    )
    t = np.maximum(np.ceil(since_launch - 1e-9), 1.0)  # a launch in mid-2029: 2029 is t = 1, 2030 is t = 2
    log_share = log_share_path(
        r["level"], r["price_slope"], r["rise"], r["decline"], np.log(price / v["avg_price"] / REFERENCE_PRICE_RATIO), t
    ) + np.log(v["addressable"] / v["addressable_full"])
    if ADOPTION_SHOCKS in values:
        shocks = values[ADOPTION_SHOCKS]
        log_share = log_share + ar1_deviations(shocks, r["deviation_sd"], r["deviation_ar"], since_launch > 0)
    return np.exp(log_share) * np.clip(since_launch, 0.0, 1.0)


def kei_sales_layers(
    spec: ScenarioSpec,
    values: Mapping[str, np.ndarray | float],
    market: np.ndarray,
    years: np.ndarray,
) -> dict[str, np.ndarray]:
    """The two layers of kei sales per draw and year: grey imports and new kei cars, and whether launched.

    Args:
        spec: the scenario (launch year, import or domestic, road access).
        values: assumption key -> (draws,) array or scalar; for a policy, also LAUNCH_TIME -> launch time.
        market: total US new-vehicle sales, (draws, years) or (years,).
        years: calendar years of the horizon.
    Returns:
        grey, new, launched (0/1) and market, each (draws, years).
    """
    v = _columns(spec, values)
    market = np.atleast_2d(np.asarray(market, dtype=float))
    grey = grey_layer(v, years, spec.grey_latest_year)
    draws = max(len(market), len(grey))
    if not spec.has_policy:
        zeros = np.zeros((draws, len(years)))
        return {"grey": np.broadcast_to(grey, zeros.shape), "new": zeros, "launched": zeros, "market": market}
    launch = np.reshape(np.asarray(values[LAUNCH_TIME], dtype=float), (-1, 1))
    since_launch = np.asarray(years)[None, :] - launch + 1.0
    layer = reference_layer if spec.level_model == "reference_class" else analog_layer
    ceiling = v["japan_share"] * v["addressable"]  # never above Japan's share of the addressed buyers
    new = np.minimum(layer(spec, v, values, since_launch), ceiling) * market
    launched = (launch < np.asarray(years)[None, :] + 1.0).astype(float)
    shape = np.broadcast_shapes(grey.shape, new.shape)
    return {
        "grey": np.broadcast_to(grey, shape),
        "new": new,
        "launched": np.broadcast_to(launched, shape),
        "market": market,
    }


def kei_outcomes(
    spec: ScenarioSpec,
    values: Mapping[str, np.ndarray | float],
    market: np.ndarray,
    years: np.ndarray,
) -> dict[str, np.ndarray]:
    """Evaluate the kernel for a batch of draws: metric name -> (draws, years) for every metric in METRICS."""
    layers = kei_sales_layers(spec, values, market, years)
    v = _columns(spec, values)
    sales = layers["grey"] + layers["new"]
    past = np.arange(GREY_FLEET_START, years[0])
    grey_history = np.broadcast_to(grey_layer(v, past, spec.grey_latest_year), (len(sales), len(past)))
    grey_fleet = cars_in_use(np.hstack([grey_history, layers["grey"]]), v["grey_life"].ravel(), v["survival_shape"])
    in_use = grey_fleet[:, len(past) :]
    if spec.has_policy:
        in_use = in_use + cars_in_use(layers["new"], v["median_life"].ravel(), v["survival_shape"].ravel())
    market = np.broadcast_to(layers["market"], sales.shape)
    launched = layers["launched"] > 0
    return {
        "total_market": market,
        "kei_sales": sales,
        "kei_share": sales / market,
        "kei_in_use": in_use,
        "kei_sales_cumulative": np.cumsum(sales, axis=1),
        "new_kei_sales": layers["new"],
        "new_kei_sales_cumulative": np.cumsum(layers["new"], axis=1),
        "grey_imports": layers["grey"],
        "launched": layers["launched"],
        "new_kei_sales_if_launched": np.where(launched, layers["new"], np.nan),
        "new_kei_sales_cumulative_if_launched": np.where(launched, np.cumsum(layers["new"], axis=1), np.nan),
    }
