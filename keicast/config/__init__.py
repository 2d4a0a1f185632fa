"""config.yaml + --set -> one validated, typed Settings object (``load_settings``). The only place raw YAML is read.

Precedence of assumption values: register (data/register.yaml) < calibration (adoption posterior) < config.yaml
(global ``assumptions``, then the scenario's own ``assumptions``) < ``--set``. Every problem found is reported
at once (ConfigError), each with the file, dotted key, offending value and what was expected.

schema: the sections and the typed results; problems: errors in words (did-you-mean, blame); sweep: generated
scenarios; paths: path rules; settings: the validation itself.
"""

from keicast.config.schema import (
    AssumptionOverride,
    CalibrationSettings,
    Config,
    RunRequest,
    Settings,
    SweepPoint,
    TaskRunnerSettings,
)
from keicast.config.settings import load_settings, request_from_options
from keicast.config.sweep import sweep_plan

__all__ = [
    "AssumptionOverride",
    "CalibrationSettings",
    "Config",
    "RunRequest",
    "Settings",
    "SweepPoint",
    "TaskRunnerSettings",
    "load_settings",
    "request_from_options",
    "sweep_plan",
]
