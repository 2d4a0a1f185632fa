"""The shape of config.yaml: typed sections (every nested model forbids unknown keys), the validated Settings a
run receives, and the RunRequest that asks for one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from keicast.register import Register
from models.adoption import MAX_DIVERGENCES, MAX_RHAT, MIN_BULK_ESS
from models.diffusion import ADOPTION_SHAPES
from models.reference_class import SHAPES
from models.scenario import LEVEL_MODELS, METRICS, PRODUCTION, ROAD_ACCESS

REFERENCE_SHAPES = ("auto", *SHAPES)  # auto: the calibrated shape with the lowest median pre-launch CRPS

MAX_CHUNK_BYTES = 1 << 30  # one Monte Carlo chunk's metric arrays (draws x years x metrics x 8 bytes)


NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


DEFAULT_CONFIG = Path("config.yaml")


# ---------------------------------------------------------------------------------------------- schema
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class FieldProblem(ValueError):
    """A rule across a model's fields that one field breaks: reported at that field's key with its own value
    (keicast.config.problems), not at the model's key with the whole mapping."""

    def __init__(self, field: str, value: object, expected: str):
        super().__init__(f"{field} = {value!r}: {expected}")
        self.field, self.value, self.expected = field, value, expected


class OverrideRange(Strict):
    """An assumption override: a bare number, or a mapping with its own range and the analyst's reason."""

    value: float
    low: float | None = None
    high: float | None = None
    rationale: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _bare_number(cls, data):
        return {"value": data} if isinstance(data, int | float) and not isinstance(data, bool) else data


Override = OverrideRange


class Horizon(Strict):
    start: int = Field(2026, ge=2000, le=2100)
    end: int = Field(2040, ge=2000, le=2100)

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise FieldProblem("end", self.end, f"a year not before the start ({self.start})")
        return self


class RunSettings(Strict):
    horizon: Horizon = Horizon()
    headline_window: tuple[int, int] = (2026, 2035)
    draws: int = Field(20_000, ge=100, le=100_000_000)
    seed: int = Field(20251204, ge=0, le=2**63 - 1)  # stored as a DuckDB BIGINT
    chunk_size: int = Field(200_000, ge=1_000, le=5_000_000)
    market_paths: int = Field(2_000, ge=100, le=100_000)
    sobol_base_samples: int = Field(256, ge=16, le=65_536)
    warehouse: Path = Path("data/keicast.duckdb")
    register_file: Path = Path("data/register.yaml")
    reference_dir: Path = Path("data/reference")
    reference_class_dir: Path = Path("data/reference_class")  # past launches (keicast.reference_class)
    articles_dir: Path = Path("articles")
    actuals_dir: Path = Path("actuals")  # inbox of actuals files (keicast.actuals), scanned at every run
    reports_dir: Path = Path("reports")
    exports_dir: Path = Path("exports")
    lock_timeout_seconds: float = Field(120.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _powers(self):
        if self.sobol_base_samples & (self.sobol_base_samples - 1):
            raise FieldProblem("sobol_base_samples", self.sobol_base_samples, "a power of 2")
        window, (start, end) = list(self.headline_window), (self.horizon.start, self.horizon.end)
        if window[0] > window[1]:
            raise FieldProblem("headline_window", window, "[first year, last year], the first not after the last")
        if not (start <= window[0] and window[1] <= end):
            raise FieldProblem("headline_window", window, f"years inside the horizon ({start} to {end})")
        years = end - start + 1
        chunk_bytes = self.chunk_size * years * len(METRICS) * 8
        if chunk_bytes > MAX_CHUNK_BYTES:
            raise FieldProblem(
                "chunk_size",
                self.chunk_size,
                f"at most {MAX_CHUNK_BYTES // (years * len(METRICS) * 8):,}: {self.chunk_size:,} draws x {years} "
                f"years x {len(METRICS)} metrics x 8 bytes is {chunk_bytes / 2**30:.1f} GiB per chunk, over the "
                f"{MAX_CHUNK_BYTES / 2**30:.0f} GiB limit",
            )
        return self


BaselineModel = Literal["auto", "naive", "drift", "ar1", "ar2_trend", "ets_damped", "theta", "combo", "combo_weighted"]


class BaselineSettings(Strict):
    series: str = "us_light_vehicle_sales_annual"
    model: BaselineModel = "combo"  # fixed in advance (docs/model.md); "auto" must then beat naive nested
    max_horizon: int = Field(5, ge=1, le=15)
    coverage_horizon: int = Field(10, ge=1, le=15)
    min_train: int = Field(20, ge=10)  # ETS heuristic initial states need 10 years

    @model_validator(mode="after")
    def _horizons(self):
        if self.coverage_horizon < self.max_horizon:
            raise FieldProblem(
                "coverage_horizon",
                self.coverage_horizon,
                f"at least max_horizon ({self.max_horizon}): the backtest runs to coverage_horizon and the choice of "
                "model scores horizons 1..max_horizon",
            )
        return self


ANALOG_SALES = (
    "us_hev_sales_annual",
    "us_plugin_ev_sales_total_owid_iea",
    "us_mini_brand_sales_annual",
    "us_smart_fortwo_sales_annual",
)


PLUGIN_PARTS = ("us_bev_sales_annual", "us_phev_sales_annual")


class CalibrationSettings(Strict):
    """The adoption path: its shape, the analogs pooled by the hierarchical fit, the sampler and its cache."""

    model: Literal[LEVEL_MODELS] = "reference_class"  # type: ignore[valid-type]
    reference_shape: Literal[REFERENCE_SHAPES] = "auto"  # type: ignore[valid-type]
    reference_left_out: list[str] = ["us_plugin_total"]  # launches that are sums of others: counted once
    reference_draws: int = Field(20_000, ge=100, le=1_000_000)  # joint posterior rows per launch kind
    shape: Literal[ADOPTION_SHAPES] = "bass"  # type: ignore[valid-type]
    analogs: list[str] = Field(list(ANALOG_SALES), min_length=2)
    backtest_also: list[str] = list(PLUGIN_PARTS)  # scored by the backtests, not pooled
    # Series that are parts or sums of each other: a pre-launch case leaves out its whole family.
    families: list[list[str]] = [[*PLUGIN_PARTS, "us_plugin_ev_sales_total_owid_iea"]]
    warmup: int = Field(500, ge=10, le=20_000)
    samples: int = Field(750, ge=10, le=20_000)
    chains: int = Field(4, ge=1, le=8)
    seed: int = Field(0, ge=0)
    cache_dir: Path = Path("data/cache")
    compare_shapes: list[Literal[ADOPTION_SHAPES]] = ["bass"]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _distinct(self):
        listed = self.analogs + self.backtest_also
        repeated = sorted({s for s in listed if listed.count(s) > 1})
        if repeated:
            field = "analogs" if any(self.analogs.count(s) > 1 for s in repeated) else "backtest_also"
            raise FieldProblem(field, repeated, "each series once in analogs and backtest_also together")
        return self


class Scenario(Strict):
    title: str | None = Field(None, min_length=1, max_length=120)  # the report's plain-words name
    description: str = Field(min_length=1, max_length=4000)
    launch_year: int = Field(ge=1990, le=2100)
    production: Literal[PRODUCTION] = "domestic"  # type: ignore[valid-type]
    road_access: Literal[ROAD_ACCESS]  # type: ignore[valid-type]
    assumptions: dict[str, Override] = {}


class TaskRunnerSettings(Strict):
    kind: Literal["local", "dask"] = "local"
    address: str | None = None
    workers: int = Field(2, ge=1, le=64)


class ScheduleSettings(Strict):
    cron: str = "0 6 * * 1"
    timezone: str = "UTC"


class GateSettings(Strict):
    """Plausibility bounds handed to the Great Expectations suites as expectation parameters."""

    min_avg_price: float = 15_000
    max_avg_price: float = 150_000
    min_kei_price: float = 3_000
    max_kei_price: float = 60_000
    min_market: float = 5_000_000
    max_market: float = 30_000_000
    max_history_value: float = 40_000_000
    min_history_year: int = 1950
    max_bass_p: float = 1.0
    max_bass_q: float = 10.0
    min_bass_q: float = 0.01
    market_check_tolerance: float = Field(0.2, gt=0, lt=1)
    status_quo_tolerance: float = Field(0.3, gt=0, lt=1)  # first-year grey imports vs the latest reported count
    max_sobol_halfwidth: float = Field(0.03, gt=0)  # every Sobol index's 95% half-width
    sensitivity_mean_tolerance: float = Field(0.05, gt=0)  # sensitivity mean headline vs the Monte Carlo's, relative
    min_adoption_coverage: float = Field(0.5, ge=0, le=1)  # pooled 80% interval coverage of the adoption backtests
    max_adoption_coverage: float = Field(0.98, ge=0, le=1)
    min_reference_coverage: float = Field(0.7, ge=0, le=1)  # pooled 80% coverage of the pre-launch backtests
    max_reference_coverage: float = Field(0.9, ge=0, le=1)
    max_interval_ratio_80: float = Field(200.0, gt=1)  # median pre-launch P90 / P10: the sharpness bound
    min_baseline_skill: float = 0.0  # baseline skill vs naive, horizons 1..max_horizon: a fixed model's, else nested
    max_rhat: float = Field(MAX_RHAT, gt=1)  # every NUTS fit: rank-normalised R-hat, bulk ESS, divergent
    min_bulk_ess: float = Field(MIN_BULK_ESS, gt=0)  # transitions (models.adoption.converged)
    max_divergences: int = Field(MAX_DIVERGENCES, ge=0)


class Config(Strict):
    run: RunSettings = RunSettings()
    baseline: BaselineSettings = BaselineSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    assumptions: dict[str, Override] = {}
    scenarios: dict[str, Scenario] = Field(min_length=1)
    gates: GateSettings = GateSettings()
    task_runner: TaskRunnerSettings = TaskRunnerSettings()
    schedule: ScheduleSettings = ScheduleSettings()


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class AssumptionOverride:
    """One override after validation: where it applies (scenario or '*') and where it came from."""

    key: str
    value: float
    low: float | None
    high: float | None
    scenario: str
    origin: str
    rationale: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, validated: the config, the register, the overrides and the chosen scenarios."""

    config: Config
    config_path: str
    config_sha256: str
    register: Register
    overrides: tuple[AssumptionOverride, ...]
    scenarios: tuple[str, ...]

    @property
    def run(self) -> RunSettings:
        return self.config.run


# ---------------------------------------------------------------------------------------------- run request
class SweepPoint(Strict):
    """One generated scenario of a sweep: a copy of scenario ``base`` with ``factors`` as assumption overrides
    (``launch_year`` sets the launch year)."""

    base: str
    factors: dict[str, int | float]


class RunRequest(Strict):
    """What a run was asked for, typed once at the edge (the CLI's options, a deployment's parameters) and passed
    down: the flow, its steps and the tests take this, never raw option strings."""

    config_path: str = str(DEFAULT_CONFIG)
    scenarios: tuple[str, ...] | None = None
    overrides: tuple[tuple[str, float], ...] = ()  # --set KEY=VALUE, parsed
    draws: int | None = None
    seed: int | None = None
    sweep: dict[str, SweepPoint] | None = None  # generated scenario name -> its definition
