"""config.yaml + --set -> one validated, typed Settings object. The only place raw YAML is read.

Precedence of assumption values: register (data/register.yaml) < calibration (adoption posterior) < config.yaml
(global ``assumptions``, then the scenario's own ``assumptions``) < ``--set``. Every problem found is reported
at once (ConfigError), each with the file, dotted key, offending value and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keicast.errors import ConfigError, KeicastError, Problem
from keicast.register import KEY_PATTERN, Register, load_register
from keicast.yamlfile import parse_yaml, read_yaml_bytes
from models.adoption import MAX_DIVERGENCES, MAX_RHAT, MIN_BULK_ESS
from models.diffusion import ADOPTION_SHAPES
from models.scenario import METRICS, PRODUCTION, ROAD_ACCESS, required_keys

MAX_CHUNK_BYTES = 1 << 30  # one Monte Carlo chunk's metric arrays (draws x years x metrics x 8 bytes)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_CONFIG = Path("config.yaml")


# ---------------------------------------------------------------------------------------------- schema
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


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
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
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
    articles_dir: Path = Path("articles")
    actuals_dir: Path = Path("actuals")  # inbox of actuals files (keicast.actuals), scanned at every run
    reports_dir: Path = Path("reports")
    exports_dir: Path = Path("exports")
    lock_timeout_seconds: float = Field(120.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _powers(self):
        if self.sobol_base_samples & (self.sobol_base_samples - 1):
            raise ValueError(f"sobol_base_samples ({self.sobol_base_samples}) must be a power of 2")
        lo, hi = self.headline_window
        if not (self.horizon.start <= lo <= hi <= self.horizon.end):
            raise ValueError(f"headline_window {list(self.headline_window)} must lie inside the horizon")
        years = self.horizon.end - self.horizon.start + 1
        chunk_bytes = self.chunk_size * years * len(METRICS) * 8
        if chunk_bytes > MAX_CHUNK_BYTES:
            raise ValueError(
                f"chunk_size {self.chunk_size:,} x {years} years x {len(METRICS)} metrics x 8 bytes is "
                f"{chunk_bytes / 2**30:.1f} GiB per chunk, over the {MAX_CHUNK_BYTES / 2**30:.0f} GiB limit: "
                f"use chunk_size <= {MAX_CHUNK_BYTES // (years * len(METRICS) * 8):,}"
            )
        return self


BaselineModel = Literal["auto", "naive", "drift", "ar1", "ar2_trend", "ets_damped", "theta", "combo", "combo_weighted"]


class BaselineSettings(Strict):
    series: str = "us_light_vehicle_sales_annual"
    model: BaselineModel = "auto"
    max_horizon: int = Field(5, ge=1, le=15)
    coverage_horizon: int = Field(10, ge=1, le=15)
    min_train: int = Field(20, ge=10)  # ETS heuristic initial states need 10 years

    @model_validator(mode="after")
    def _horizons(self):
        if self.coverage_horizon < self.max_horizon:
            raise ValueError(
                f"coverage_horizon ({self.coverage_horizon}) must be at least max_horizon ({self.max_horizon}):"
                " the backtest runs to coverage_horizon and the choice of model scores horizons 1..max_horizon"
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
        repeated = sorted(
            {s for s in self.analogs + self.backtest_also if (self.analogs + self.backtest_also).count(s) > 1}
        )
        if repeated:
            raise ValueError(f"series listed twice in analogs/backtest_also: {repeated}")
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
    min_adoption_coverage: float = Field(0.5, ge=0, le=1)  # pooled 80% interval coverage of the adoption backtests
    max_adoption_coverage: float = Field(0.98, ge=0, le=1)
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


def _field_names(loc: tuple) -> list[str]:
    """Field names allowed at the parent of ``loc`` in the Config schema (for 'did you mean')."""
    node: Any = Config
    for part in loc[:-1]:
        if isinstance(node, type) and issubclass(node, BaseModel):
            info = node.model_fields.get(str(part))
            node = info.annotation if info else None
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        else:
            return []
        while get_origin(node) is Annotated:
            node = get_args(node)[0]
        args = [a for a in get_args(node) if isinstance(a, type) and issubclass(a, BaseModel)]
        if get_origin(node) is not dict and args:
            node = args[0]
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _schema_problems(file: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc if not str(p).startswith("function-after"))
        if err["type"] == "extra_forbidden":
            hint = _suggest(str(loc[-1]), _field_names(loc))
            problems.append(Problem(file, key, err.get("input"), f"a known key{hint}"))
        elif err["type"] == "missing":
            problems.append(Problem(file, key, "(missing)", "a value: this key is required"))
        else:
            problems.append(Problem(file, key, err.get("input"), err["msg"]))
    return problems


def parse_set(items: list[str]) -> tuple[list[tuple[str, float]], list[Problem]]:
    """Parse ``--set KEY=VALUE`` arguments into (key, number) pairs."""
    pairs, problems = [], []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            problems.append(Problem("--set", item, item, "KEY=VALUE, e.g. --set policy.import_tariff=0.1"))
            continue
        try:
            value = float(raw.strip().replace("_", ""))
        except ValueError:
            problems.append(Problem("--set", key, raw, "a number"))
            continue
        if not math.isfinite(value):
            problems.append(Problem("--set", key, raw, "a finite number"))
            continue
        pairs.append((key, value))
    return pairs, problems


def _check_override(file: str, where: str, key: str, ov: Override, register) -> list[Problem]:
    """Key exists and is well formed; value (and range) lies in the key's domain."""
    if not KEY_PATTERN.match(key):
        return [Problem(file, where, key, "an assumption key: lower-case words joined by dots ([a-z0-9_.] only)")]
    entry = register.assumptions.get(key)
    if entry is None:
        return [Problem(file, where, key, f"an assumption key from the register{_suggest(key, register.assumptions)}")]
    problems = []
    for label, number in (("value", ov.value), ("low", ov.low), ("high", ov.high)):
        if number is None:
            continue
        if not math.isfinite(number):
            problems.append(Problem(file, f"{where}.{label}" if label != "value" else where, number, "a finite number"))
            continue
        reason = entry.domain_violation(number)
        if reason:
            problems.append(Problem(file, f"{where}.{label}" if label != "value" else where, number, reason))
    if ov.low is not None and ov.high is not None and not (ov.low <= ov.value <= ov.high):
        problems.append(Problem(file, where, [ov.low, ov.value, ov.high], "low <= value <= high"))
    return problems


def _raw_override_problems(raw: dict, file: str, sets: tuple[tuple[str, float], ...], base: Path) -> list[Problem]:
    """Unknown assumption keys in a config that failed its schema check, so one pass reports every problem."""
    run = raw.get("run") if isinstance(raw.get("run"), dict) else {}
    try:
        register = load_register(base / Path(run.get("register_file") or RunSettings().register_file))
    except (KeicastError, TypeError):
        return []  # the register's own problem is reported when the schema is fixed
    places = [("assumptions", raw.get("assumptions"))]
    scenarios = raw.get("scenarios") if isinstance(raw.get("scenarios"), dict) else {}
    places += [
        (f"scenarios.{n}.assumptions", s.get("assumptions")) for n, s in scenarios.items() if isinstance(s, dict)
    ]
    known = register.assumptions
    problems = [Problem("--set", k, k, f"an assumption key{_suggest(k, known)}") for k, _ in sets if k not in known]
    return [
        Problem(file, f"{where}.{key}", key, f"an assumption key from the register{_suggest(str(key), known)}")
        for where, block in places
        if isinstance(block, dict)
        for key in block
        if key not in known
    ] + problems


def _as_override(key: str, ov: Override, scenario: str, origin: str) -> AssumptionOverride:
    return AssumptionOverride(key, ov.value, ov.low, ov.high, scenario, origin, ov.rationale)


def _with_sweep(raw: dict, sweep: dict[str, dict], file: str) -> tuple[dict, list[Problem]]:
    """The raw config with one scenario per sweep combination."""
    base_scenarios = raw.get("scenarios") or {}
    generated, problems = {}, []
    for name, spec in sweep.items():
        base = base_scenarios.get(spec["base"])
        if not isinstance(base, dict):
            problems.append(
                Problem("--base", "", spec["base"], f"a scenario in {file}{_suggest(spec['base'], base_scenarios)}")
            )
            continue
        scenario = {**base, "assumptions": dict(base.get("assumptions") or {})}
        for key, value in spec["factors"].items():
            if key == "launch_year":
                scenario["launch_year"] = int(value)
            else:
                scenario["assumptions"][key] = value
        scenario["description"] = f"Sweep of {spec['base']}: " + ", ".join(
            f"{k}={v}" for k, v in spec["factors"].items()
        )
        generated[name] = scenario
    return {**raw, "scenarios": {**base_scenarios, **generated}}, problems


PATH_FIELDS = (
    "warehouse", "register_file", "reference_dir", "articles_dir", "actuals_dir", "reports_dir", "exports_dir",
)  # fmt: skip
OUTPUT_DIRS = ("reports_dir", "exports_dir")


def _project_paths(run: RunSettings, base: Path, file: str) -> tuple[RunSettings, list[Problem]]:
    """The run's paths resolved against the config file's folder (the project).

    A relative path must stay inside the project; an absolute path is the user's explicit choice and is kept.
    """
    resolved, problems = {}, []
    for name in PATH_FIELDS:
        value = getattr(run, name)
        path = Path(os.path.normpath(base / value))
        if not value.is_absolute() and not path.is_relative_to(base):
            problems.append(
                Problem(
                    file,
                    f"run.{name}",
                    str(value),
                    f"a path inside the project folder {base} (write an absolute path for a place outside it)",
                )
            )
        resolved[name] = path
    return run.model_copy(update=resolved), problems


def _overlapping_paths(run: RunSettings, file: str) -> list[Problem]:
    """Each output folder apart from the other and from every input: publishing replaces what is inside them."""
    real = {name: getattr(run, name).resolve() for name in PATH_FIELDS}
    problems = []
    for out in OUTPUT_DIRS:
        for other in PATH_FIELDS:
            if other == out or (other in OUTPUT_DIRS and other > out):  # the pair of outputs once
                continue
            a, b = real[out], real[other]
            if a == b or a in b.parents or b in a.parents:
                problems.append(
                    Problem(
                        file,
                        f"run.{other}",
                        str(getattr(run, other)),
                        f"a path apart from run.{out} ({getattr(run, out)}), neither inside the other: "
                        "publishing a run would overwrite it",
                    )
                )
    return problems


def _blame_command_line(problems: list[Problem], options: dict, sweep: dict | None) -> list[Problem]:
    """Problems caused by a command-line value name the option (--draws, --seed, --vary), not config.yaml."""
    blamed = []
    for p in problems:
        if p.key in options and options[p.key][1] is not None:
            p = Problem(options[p.key][0], "", p.value, p.expected)
        parts = p.key.split(".", 2)
        if sweep and len(parts) == 3 and parts[0] == "scenarios" and parts[1] in sweep:
            factor = parts[2].removeprefix("assumptions.")
            if factor in sweep[parts[1]]["factors"]:
                p = Problem("--vary", factor, p.value, p.expected)
        blamed.append(p)
    return list({str(p): p for p in blamed}.values())  # one line per distinct problem


def _validated_config(raw: Any, file: str, base: Path, draws, seed, sweep, sets) -> tuple[Config, list[Problem]]:
    """The typed Config (paths resolved against ``base``) and the problems found in it."""
    if raw is None:
        raise ConfigError([Problem(file, "", "(empty file)", "a YAML mapping with at least 'scenarios'")])
    if not isinstance(raw, dict):
        raise ConfigError([Problem(file, "", type(raw).__name__, "a YAML mapping at the top level")])
    options = {"run.draws": ("--draws", draws), "run.seed": ("--seed", seed)}
    for key, (_, value) in options.items():
        if value is not None:
            raw = {**raw, "run": {**(raw.get("run") or {}), key.split(".")[1]: value}}
    if sweep:
        raw, problems = _with_sweep(raw, sweep, file)
        if problems:
            raise ConfigError(problems)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        found = _blame_command_line(_schema_problems(file, exc), options, sweep)
        raise ConfigError(found + _raw_override_problems(raw, file, sets, base)) from None
    run, problems = _project_paths(config.run, base, file)
    cache = Path(os.path.normpath(base / config.calibration.cache_dir))  # like the run's paths: the project's
    calibration = config.calibration.model_copy(update={"cache_dir": cache})
    config = config.model_copy(update={"run": run, "calibration": calibration})
    problems += _overlapping_paths(run, file)
    for name, sc in config.scenarios.items():
        if not NAME_PATTERN.match(name):
            problems.append(
                Problem(file, f"scenarios.{name}", name, "a scenario name of [a-z0-9_], starting with a letter")
            )
        if sc.launch_year > run.horizon.end:
            problems.append(
                Problem(
                    file,
                    f"scenarios.{name}.launch_year",
                    sc.launch_year,
                    f"a year up to the horizon's end ({run.horizon.end}): a later launch sells nothing in the forecast",
                )
            )
    return config, _blame_command_line(problems, options, sweep)


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

    @classmethod
    def from_options(
        cls,
        config_path: Path | str | None = None,
        scenarios: list[str] | None = None,
        sets: list[str] | None = None,
        draws: int | None = None,
        seed: int | None = None,
        sweep: dict[str, dict] | None = None,
    ) -> RunRequest:
        """The request of command-line options. A malformed ``--set`` is a ConfigError, listed with every problem
        of the rest of the request."""
        pairs, problems = parse_set(list(sets or []))
        request = cls(
            config_path=str(config_path or DEFAULT_CONFIG),
            scenarios=tuple(scenarios) if scenarios else None,
            overrides=tuple(pairs),
            draws=draws,
            seed=seed,
            sweep=sweep,
        )
        if problems:  # reported with the config's own problems: every problem at once
            try:
                _validated(request)
            except ConfigError as exc:
                problems += exc.problems
            raise ConfigError(problems)
        return request


MAX_SWEEP = 500
VARY_FORMAT = "KEY=V1,V2,... with finite numbers (whole years for launch_year), e.g. policy.import_tariff=0,0.25"


def _axis(item: str) -> tuple[str, list[float]] | None:
    """``KEY=V1,V2,...`` as (key, values); None when malformed, not finite, or a launch year not a whole year."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    try:
        values = [float(v) for v in raw.split(",") if v.strip()]
    except ValueError:
        return None
    whole = all(math.isfinite(v) and (key != "launch_year" or v.is_integer()) for v in values)
    return (key, values) if sep and key and values and whole else None


def sweep_plan(vary: list[str], base: str) -> dict[str, SweepPoint]:
    """Every combination of the ``--vary`` values as a generated scenario ``sweep_NNN`` of ``base``."""
    axes = [_axis(item) for item in vary]
    problems = [Problem("--vary", item, item, VARY_FORMAT) for item, axis in zip(vary, axes, strict=True) if not axis]
    combos = [] if problems or not axes else list(itertools.product(*[[(k, v) for v in vs] for k, vs in axes]))
    if not problems and not 1 <= len(combos) <= MAX_SWEEP:
        problems.append(Problem("--vary", "", len(combos), f"between 1 and {MAX_SWEEP} combinations"))
    if problems:
        raise ConfigError(problems)
    return {
        f"sweep_{i:03d}": SweepPoint(base=base, factors={k: int(v) if k == "launch_year" else v for k, v in combo})
        for i, combo in enumerate(combos, start=1)
    }


def _register_problems(config: Config, register: Register, file: str) -> list[Problem]:
    """Scenarios whose road access and production need keys the register lacks."""
    problems = []
    for name, sc in config.scenarios.items():
        missing = sorted(required_keys(sc.road_access, sc.production == "import") - set(register.assumptions))
        if missing:
            problems.append(
                Problem(
                    file,
                    f"scenarios.{name}",
                    f"{sc.road_access}, {sc.production}",
                    f"a road access and production whose assumptions the register has (missing: {', '.join(missing)})",
                )
            )
    return problems


def _overrides(
    config: Config, request: RunRequest, register: Register, file: str
) -> tuple[list[AssumptionOverride], list[Problem]]:
    """Every override in precedence order (config-wide, per scenario, --set), each checked against the register."""
    overrides: list[AssumptionOverride] = []
    problems: list[Problem] = []
    for key, ov in config.assumptions.items():
        problems += _check_override(file, f"assumptions.{key}", key, ov, register)
        overrides.append(_as_override(key, ov, "*", f"{file}: assumptions"))
    for name, sc in config.scenarios.items():
        for key, ov in sc.assumptions.items():
            problems += _check_override(file, f"scenarios.{name}.assumptions.{key}", key, ov, register)
            overrides.append(_as_override(key, ov, name, f"{file}: scenarios.{name}"))
    for key, value in request.overrides:
        problems += _check_override("--set", key, key, OverrideRange(value=value), register)
        overrides.append(AssumptionOverride(key, value, None, None, "*", "--set"))
    return overrides, problems


def _choice_problems(config: Config, chosen: list[str], file: str) -> list[Problem]:
    """Unknown scenarios asked for, and analog or market series with no reference file."""
    problems = [
        Problem("--scenario", "", name, f"one of {sorted(config.scenarios)}{_suggest(name, config.scenarios)}")
        for name in chosen
        if name not in config.scenarios
    ]
    for series in config.calibration.analogs + [config.baseline.series]:
        if not (config.run.reference_dir / f"{series}.csv").is_file():
            where = "calibration.analogs" if series != config.baseline.series else "baseline.series"
            problems.append(Problem(file, where, series, f"a series file in {config.run.reference_dir}/"))
    return problems


def _validated(request: RunRequest) -> Settings:
    """Validate a request against its config file and register. Raises ConfigError with every problem found.

    Relative paths in ``run:`` are relative to the config file's folder. A sweep adds its generated scenarios,
    validated like any scenario in the file, and they become the scenarios run.
    """
    path = Path(request.config_path)
    file = str(path)
    data = read_yaml_bytes(path)
    base = Path(os.path.abspath(path.parent))
    sweep = {name: point.model_dump() for name, point in request.sweep.items()} if request.sweep else None
    raw = parse_yaml(data.decode("utf-8"), file)
    config, problems = _validated_config(raw, file, base, request.draws, request.seed, sweep, request.overrides)
    if any(p.key.startswith("run.") for p in problems):  # the register may be unreachable
        raise ConfigError(problems)
    register = load_register(config.run.register_file)
    overrides, override_problems = _overrides(config, request, register, file)
    chosen = list(sweep or request.scenarios or config.scenarios)
    problems += _register_problems(config, register, file) + override_problems + _choice_problems(config, chosen, file)
    if problems:
        raise ConfigError(_blame_command_line(problems, {}, sweep))
    return Settings(
        config=config,
        config_path=file,
        config_sha256=hashlib.sha256(data).hexdigest(),
        register=register,
        overrides=tuple(overrides),
        scenarios=tuple(dict.fromkeys(chosen)),
    )


_VALIDATED: dict[str, tuple[Settings, str]] = {}


def _register_digest(settings: Settings) -> str:
    try:
        return hashlib.sha256(Path(settings.run.register_file).read_bytes()).hexdigest()
    except OSError:
        return ""


def settings_for(request: RunRequest) -> Settings:
    """The validated settings of a request, validated once per process: the CLI validates at the edge (to exit 2
    before any server starts) and the flow it then runs gets the same object, while the config file and the
    register are byte-for-byte unchanged. A deployment's flow run validates its request here, once."""
    key = request.model_dump_json()
    known = _VALIDATED.get(key)
    if known:
        settings, register_sha256 = known
        try:
            unchanged = hashlib.sha256(Path(settings.config_path).read_bytes()).hexdigest() == settings.config_sha256
        except OSError:
            unchanged = False
        if unchanged and _register_digest(settings) == register_sha256:
            return settings
    settings = _validated(request)
    _VALIDATED[key] = (settings, _register_digest(settings))
    return settings


def load_settings(
    config_path: Path | str | None = None,
    scenarios: list[str] | None = None,
    sets: list[str] | None = None,
    draws: int | None = None,
    seed: int | None = None,
    sweep: dict[str, dict] | None = None,
) -> Settings:
    """Settings from command-line options (see RunRequest.from_options and settings_for). Raises ConfigError."""
    return settings_for(RunRequest.from_options(config_path, scenarios, sets, draws, seed, sweep))
