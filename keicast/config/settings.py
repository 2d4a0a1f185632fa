"""config.yaml + --set -> one validated, typed Settings object: ``load_settings`` is the one entry point."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from keicast.config.paths import overlapping_paths, project_paths
from keicast.config.problems import blame_command_line, parse_set, schema_problems, suggest
from keicast.config.schema import (
    DEFAULT_CONFIG,
    NAME_PATTERN,
    AssumptionOverride,
    Config,
    Override,
    OverrideRange,
    RunRequest,
    RunSettings,
    Settings,
)
from keicast.config.sweep import with_sweep
from keicast.errors import ConfigError, KeicastError, Problem
from keicast.register import KEY_PATTERN, Register, load_register
from keicast.yamlfile import parse_yaml, read_yaml_bytes
from models.scenario import required_keys


def _key_hint(key: str, known) -> str:
    """ " (did you mean 'policy.import_tariff'?)" for a misspelt key, or for a key's last word alone."""
    same_word = [k for k in known if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
    return suggest(key, known) or (f" (did you mean '{same_word[0]}'?)" if len(same_word) == 1 else "")


def _check_override(file: str, where: str, key: str, ov: Override, register) -> list[Problem]:
    """Key exists and is well formed; value (and range) lies in the key's domain."""
    hint = _key_hint(key, register.assumptions)
    if not KEY_PATTERN.match(key):
        expected = f"an assumption key: lower-case words joined by dots ([a-z0-9_.] only){hint}"
        return [Problem(file, where, key, expected)]
    entry = register.assumptions.get(key)
    if entry is None:
        return [Problem(file, where, key, f"an assumption key from the register{hint}")]
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
    problems = [Problem("--set", k, k, f"an assumption key{suggest(k, known)}") for k, _ in sets if k not in known]
    return [
        Problem(file, f"{where}.{key}", key, f"an assumption key from the register{suggest(str(key), known)}")
        for where, block in places
        if isinstance(block, dict)
        for key in block
        if key not in known
    ] + problems


def _as_override(key: str, ov: Override, scenario: str, origin: str) -> AssumptionOverride:
    return AssumptionOverride(key, ov.value, ov.low, ov.high, scenario, origin, ov.rationale)


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
        raw, problems = with_sweep(raw, sweep, file)
        if problems:
            raise ConfigError(problems)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        found = blame_command_line(schema_problems(file, exc), options, sweep)
        raise ConfigError(found + _raw_override_problems(raw, file, sets, base)) from None
    run, problems = project_paths(config.run, base, file)
    cache = Path(os.path.normpath(base / config.calibration.cache_dir))  # like the run's paths: the project's
    calibration = config.calibration.model_copy(update={"cache_dir": cache})
    config = config.model_copy(update={"run": run, "calibration": calibration})
    problems += overlapping_paths(run, file)
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
    return config, blame_command_line(problems, options, sweep)


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
        Problem("--scenario", "", name, f"one of {sorted(config.scenarios)}{suggest(name, config.scenarios)}")
        for name in chosen
        if name not in config.scenarios
    ]
    for series in config.calibration.analogs + [config.baseline.series]:
        if not (config.run.reference_dir / f"{series}.csv").is_file():
            where = "calibration.analogs" if series != config.baseline.series else "baseline.series"
            problems.append(Problem(file, where, series, f"a series file in {config.run.reference_dir}/"))
    return problems


def validate_request(request: RunRequest) -> Settings:
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
        raise ConfigError(blame_command_line(problems, {}, sweep))
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


def request_from_options(
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
    request = RunRequest(
        config_path=str(config_path or DEFAULT_CONFIG),
        scenarios=tuple(scenarios) if scenarios else None,
        overrides=tuple(pairs),
        draws=draws,
        seed=seed,
        sweep=sweep,
    )
    if problems:  # reported with the config's own problems: every problem at once
        try:
            validate_request(request)
        except ConfigError as exc:
            problems += exc.problems
        raise ConfigError(problems)
    return request


def load_settings(
    request: RunRequest | Path | str | None = None,
    scenarios: list[str] | None = None,
    sets: list[str] | None = None,
    draws: int | None = None,
    seed: int | None = None,
    sweep: dict[str, dict] | None = None,
) -> Settings:
    """The validated settings of a request, or of a config path and command-line options (request_from_options).
    Raises ConfigError with every problem found.

    Validated once per process: the CLI validates at the edge (to exit 2 before any server starts) and the flow it
    then runs gets the same object, while the config file and the register are byte-for-byte unchanged. A
    deployment's flow run validates its request here, once."""
    if not isinstance(request, RunRequest):
        request = request_from_options(request, scenarios, sets, draws, seed, sweep)
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
    settings = validate_request(request)
    _VALIDATED[key] = (settings, _register_digest(settings))
    return settings
