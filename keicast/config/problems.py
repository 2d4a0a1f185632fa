"""Validation problems in words: pydantic errors as (file, dotted key, value, expected) with a did-you-mean, and
problems that come from command-line options blamed on the option rather than the file."""

from __future__ import annotations

import difflib
import math
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from keicast.config.schema import Config, FieldProblem, OverrideRange
from keicast.errors import Problem


def field_names(loc: tuple) -> list[str]:
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


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


NUMBER_ERRORS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
}


def _is_number(text: str, whole: bool) -> bool:
    """Whether ``text`` without its quotes is a number the key would take (a whole one where ``whole``)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return False
    return math.isfinite(value) and (value.is_integer() or not whole)


def _number_expected(err: dict) -> str | None:
    """Plain words for a number the file gave as text: YAML reads a quoted "0.2" as text, and the schema does not
    take text for a number (an override takes a bare number or a mapping)."""
    value, kind = err.get("input"), err["type"]
    if kind == "model_type" and err.get("ctx", {}).get("class_name") == OverrideRange.__name__:
        kind = "float_type"
    if not isinstance(value, str) or kind not in NUMBER_ERRORS:
        return None
    quoted = " (remove the quotes)" if _is_number(value, whole=NUMBER_ERRORS[kind] != "a number") else ""
    return f'{NUMBER_ERRORS[kind]}, not the text "{value}"{quoted}'


def schema_problems(file: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc if not str(p).startswith("function-after"))
        cause = err.get("ctx", {}).get("error")
        if err["type"] == "extra_forbidden":
            hint = suggest(str(loc[-1]), field_names(loc))
            problems.append(Problem(file, key, err.get("input"), f"an unknown key{hint}"))
        elif err["type"] == "missing":
            problems.append(Problem(file, key, "(missing)", "a value: this key is required"))
        elif isinstance(cause, FieldProblem):  # a cross-field rule: blame the field, not the whole mapping
            problems.append(Problem(file, f"{key}.{cause.field}" if key else cause.field, cause.value, cause.expected))
        else:
            expected = _number_expected(err) or err["msg"]
            problems.append(Problem(file, key, err.get("input"), expected))
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


def blame_command_line(problems: list[Problem], options: dict, sweep: dict | None) -> list[Problem]:
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
