"""An analyst's adoption series (`keicast calibrate SERIES.csv`, `keicast backtest --series FILE.csv`): one
validated reader for both.

The file is a CSV with a header line: ``year,value`` (either order; a ``unit`` label column as in the
data/reference files is allowed), or for ``calibrate`` a single column of values, one per consecutive period.
'#' lines and blank lines are skipped. A row is refused, naming its line, unless its year is a whole year in
YEARS and its value a finite number from 0 to MAX_ADOPTIONS; the file is refused without data rows, with a year
given twice, or with fewer than MIN_YEARS distinct years. Any other column (``date``, ``month``) is refused
rather than ignored: rows that are months of one year would otherwise be fitted as consecutive years.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keicast.errors import InputError, Problem
from keicast.inputs import read_bounded, reason

MAX_SERIES_BYTES = 10_000_000  # an adoption series is a few hundred bytes
MAX_ADOPTIONS = 1e9  # per period: ten times the world's yearly vehicle sales; more is a unit mistake
YEARS = (1900, 2100)
MIN_YEARS = 3  # fewer cannot tell a level from a trend; a Bass fit itself needs 4
MAX_PROBLEMS = 10  # a file of bad rows is reported by its first few


@dataclass(frozen=True)
class AdoptionSeries:
    """Adoptions per period in file order; ``years`` is None for a one-column file; ``lines`` are the rows'
    line numbers in the file (for messages about a row)."""

    values: np.ndarray
    years: np.ndarray | None
    lines: tuple[int, ...]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every line that is not blank or a '#' comment."""
    name = str(path)
    try:
        text = read_bounded(path, MAX_SERIES_BYTES).decode("utf-8-sig")
    except OSError as exc:
        raise InputError([Problem(name, "", name, f"an existing, readable CSV file ({reason(exc)})")]) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(name, "", "(not UTF-8)", f"a UTF-8 CSV file ({exc.reason} at byte {exc.start})")]
        ) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    return [(n, [cell.strip() for cell in next(csv.reader([line]))]) for n, line in lines]


def _columns(name: str, rows, need_years: bool) -> tuple[int | None, int]:
    """The positions of the year (None without one) and value columns in the header row."""
    one_column = "one 'value' column" if not need_years else ""
    expected = f"a header line naming the columns 'year,value'{' or ' + one_column if one_column else ''}"
    expected += " (and optionally 'unit')"
    if not rows:
        raise InputError([Problem(name, "", "(empty file)", expected)])
    number, header = rows[0]
    names = [h.lower() for h in header]
    if {"year", "value"} <= set(names) <= {"year", "value", "unit"} and len(set(names)) == len(names):
        return names.index("year"), names.index("value")  # 'unit' (as in data/reference files) is a label
    if len(names) == 1 and not need_years and names[0] != "year" and _number(names[0]) is None:
        return None, 0
    raise InputError(
        [Problem(name, f"line {number}", ",".join(header), f"{expected}, nothing else (one row per year)")]
    )


def _row_problems(name: str, number: int, cells: list[str], year_at, value_at, width: int) -> list[Problem]:
    if len(cells) != width:
        return [Problem(name, f"line {number}", ",".join(cells), f"{width} comma-separated field(s), as the header")]
    problems = []
    value = _number(cells[value_at])
    if value is None or not 0 <= value <= MAX_ADOPTIONS:
        problems.append(
            Problem(
                name, f"line {number}, value", cells[value_at], f"a number of adoptions from 0 to {MAX_ADOPTIONS:,.0f}"
            )
        )
    if year_at is not None:
        year = _number(cells[year_at])
        if year is None or year != round(year) or not YEARS[0] <= year <= YEARS[1]:
            problems.append(
                Problem(name, f"line {number}, year", cells[year_at], f"a whole year from {YEARS[0]} to {YEARS[1]}")
            )
    return problems


def read_adoption_series(path: Path | str, need_years: bool = False) -> AdoptionSeries:
    """The validated series in ``path`` (see the module docstring). Raises InputError naming the file, the line
    and the reason; nothing is fitted from a file with any problem."""
    path, name = Path(path), str(path)
    rows = _rows(path)
    year_at, value_at = _columns(name, rows, need_years)
    width = len(rows[0][1])
    data = rows[1:]
    if not data:
        raise InputError(
            [Problem(name, "", "(a header only)", f"a header line and one row per year, at least {MIN_YEARS} years")]
        )
    problems = [p for number, cells in data for p in _row_problems(name, number, cells, year_at, value_at, width)]
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    lines = tuple(number for number, _ in data)
    values = np.array([float(cells[value_at]) for _, cells in data])
    years = None if year_at is None else np.array([int(float(cells[year_at])) for _, cells in data])
    _check_years(name, years, lines, len(values))
    return AdoptionSeries(values, years, lines)


def _check_years(name: str, years: np.ndarray | None, lines: tuple[int, ...], count: int) -> None:
    if years is None:
        if count < MIN_YEARS:
            raise InputError([Problem(name, "", f"{count} row(s)", f"at least {MIN_YEARS} rows, one per period")])
        return
    first: dict[int, int] = {}
    for year, line in zip(years.tolist(), lines, strict=True):
        if year in first:
            raise InputError(
                [Problem(name, f"line {line}, year", year, f"each year once (it is on line {first[year]} too)")]
            )
        first[year] = line
    if len(first) < MIN_YEARS:
        raise InputError(
            [Problem(name, "year", f"{len(first)} distinct year(s)", f"at least {MIN_YEARS} distinct years")]
        )
