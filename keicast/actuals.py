"""Actuals: what happened since the reference files were written, read, validated and stored with their source.

Two ways in: ``keicast actuals add FILE.csv --series NAME --source URL`` and the inbox ``run.actuals_dir``,
scanned at the start of every run. An inbox file names its series and source in '#' header lines::

    # series: us_light_vehicle_sales_annual
    # source: https://fred.stlouisfed.org/series/LTOTALNSA
    # note: BEA, not seasonally adjusted, summed over the year
    year,value
    2026,16102000

Every file passes one gate before anything is stored: a known series (SERIES), its unit, periods inside the
series' range (not in the future), finite non-negative values within the series' plausible maximum, each period
once, and a source. A value that differs from the one stored (or from the reference file's) is a revision:
refused unless ``--revise --reason TEXT`` is given; the earlier value is kept (its row stays, ``current`` false,
or the reference file keeps it). Any refusal raises ActualsRefused (exit 2) and changes nothing.

Actuals and reference series are one history (:func:`join_history`): the baseline market is fitted on it at the
next run, and the record scores earlier forecasts against it.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from keicast import warehouse
from keicast.errors import ActualsRefused, Problem
from keicast.inputs import read_bounded, reason

MAX_ACTUALS_BYTES = 10_000_000  # a decade of monthly figures is a few hundred bytes


@dataclass(frozen=True)
class ActualSeries:
    """A series actuals may be added to: its period (year or month), unit, first year, plausible maximum per
    period, and the yearly history series it becomes (a monthly series once its year is complete)."""

    frequency: str
    unit: str
    first_year: int
    max_value: float
    history: str
    description: str


SERIES = {
    "us_light_vehicle_sales_annual": ActualSeries(
        "year", "units", 1950, 40e6, "us_light_vehicle_sales_annual", "US light-vehicle sales per calendar year"
    ),
    "us_light_vehicle_sales_monthly": ActualSeries(
        "month", "units", 1950, 4e6, "us_light_vehicle_sales_annual", "US light-vehicle sales per month (NSA)"
    ),
    "us_kei_truck_imports_annual": ActualSeries(
        "year", "units", 1990, 1e6, "us_kei_truck_imports_annual", "grey kei imports (25-year rule) per year"
    ),
}
COLUMNS = [
    "series", "period", "year", "month", "value", "unit", "source", "note", "file", "file_sha256", "added_at",
    "revision", "reason", "previous_value",
]  # fmt: skip


@dataclass(frozen=True)
class ActualsFile:
    """What a file says: its rows (line, period, value, unit) and the series / source / note of its header."""

    path: Path
    digest: str
    rows: list[tuple[int, str, str, str]]
    meta: dict[str, str]


def read_actuals_file(path: Path) -> ActualsFile:
    """A `year,value` or `period,value` CSV (optional `unit` column), '#' lines as `key: value` metadata."""
    name = str(path)
    try:
        data = read_bounded(path, MAX_ACTUALS_BYTES, follow_symlinks=False)
        text = data.decode("utf-8")
    except OSError as exc:
        raise ActualsRefused([Problem(name, "", name, f"a readable actuals CSV file ({reason(exc)})")]) from None
    except UnicodeDecodeError:
        raise ActualsRefused([Problem(name, "", name, "UTF-8 text")]) from None
    meta, lines = {}, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if value.strip():
                meta[key.strip().lower()] = value.strip()
        elif line.strip():
            lines.append((number, line))
    if not lines:
        raise ActualsRefused([Problem(name, "header", "", "a first data line 'year,value' or 'period,value'")])
    header = [c.strip().lower() for c in next(csv.reader([lines[0][1]]))]
    if header[:2] not in (["year", "value"], ["period", "value"]) or header[2:] not in ([], ["unit"]):
        raise ActualsRefused(
            [Problem(name, "header", lines[0][1], "'year,value' or 'period,value' (optional ',unit')")]
        )
    rows = []
    for number, line in lines[1:]:
        cells = [c.strip() for c in next(csv.reader([line]))]
        cells += [""] * (3 - len(cells))
        rows.append((number, cells[0], cells[1], cells[2]))
    if not rows:
        raise ActualsRefused([Problem(name, "rows", 0, "at least one period with a value")])
    return ActualsFile(Path(path), hashlib.sha256(data).hexdigest(), rows, meta)


def _period(text: str, spec: ActualSeries, today: datetime) -> tuple[int, int | None] | str:
    """(year, month) of a period, or what was expected."""
    try:
        if spec.frequency == "year":
            year, month = int(text), None
        else:
            head, _, tail = text.partition("-")
            year, month = int(head), int(tail)
            if len(tail) != 2 or not 1 <= month <= 12:
                return "a month written YYYY-MM"
    except ValueError:
        return "a whole year (YYYY)" if spec.frequency == "year" else "a month written YYYY-MM"
    if not spec.first_year <= year <= today.year or (month and (year, month) > (today.year, today.month)):
        return f"a period from {spec.first_year} to today (actuals have happened)"
    return year, month


def validate(
    file: ActualsFile,
    series: str | None,
    source: str | None,
    stored: pd.DataFrame,
    reference: pd.DataFrame,
    revise: bool = False,
    why: str | None = None,
    note: str | None = None,
    today: datetime | None = None,
) -> pd.DataFrame:
    """The gate: the rows to store (new periods and accepted revisions; empty if nothing is new).

    ``stored`` are the actuals in force, ``reference`` the reference history (its values count as stored).
    Raises ActualsRefused with every problem found.
    """
    name, series, source = str(file.path), series or file.meta.get("series"), source or file.meta.get("source")
    if series not in SERIES:
        return _refuse([Problem(name, "--series", series, f"a known series: {', '.join(SERIES)}")])
    spec, problems, rows, seen = SERIES[series], [], [], set()
    if not (source or "").strip():
        problems.append(Problem(name, "--source", source, "where the figures come from (a URL or a citation)"))
    if revise and not (why or "").strip():
        problems.append(Problem(name, "--reason", why, "why the stored values are revised (with --revise)"))
    before = _stored_values(series, spec, stored, reference)
    for line, period, raw, unit in file.rows:
        row = _checked_row(name, spec, (line, period, raw, unit), before, seen, revise, today or datetime.now(UTC))
        if isinstance(row, Problem):
            problems.append(row)
        elif row is not None:
            rows.append((series, *row))
    if problems:
        return _refuse(problems)
    frame = pd.DataFrame(rows, columns=["series", "period", "year", "month", "value", "revision", "previous_value"])
    frame = frame.assign(
        unit=spec.unit,
        source=(source or "").strip(),
        note=note or file.meta.get("note"),
        file=name,
        file_sha256=file.digest,
        added_at=datetime.now(UTC).replace(tzinfo=None),
        reason=why if revise else None,
    )
    frame["month"] = frame.month.astype("Int64")
    return frame[COLUMNS]


def _checked_row(name: str, spec: ActualSeries, row: tuple, before: dict, seen: set, revise: bool, today: datetime):
    """One data line: (period, year, month, value, revision, previous_value) to store, None when the value is
    already stored, or the Problem that refuses it."""
    line, period, raw, unit = row
    where = f"line {line}"
    parsed = _period(period, spec, today)
    if isinstance(parsed, str):
        return Problem(name, f"{where}, period", period, parsed)
    key = period if spec.frequency == "month" else str(parsed[0])
    if key in seen:
        return Problem(name, f"{where}, period", period, "each period once")
    seen.add(key)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value > spec.max_value:
        return Problem(name, f"{where}, value", raw, f"a number from 0 to {spec.max_value:,.0f}")
    if unit and unit.lower() != spec.unit:
        return Problem(name, f"{where}, unit", unit, f"the series' unit, '{spec.unit}'")
    old = before.get(key)
    if old is not None and math.isclose(old[0], value, rel_tol=1e-9, abs_tol=1e-9):
        return None  # already stored: nothing new
    if old is not None and not revise:
        expected = f"{old[0]:,.0f} as stored: a revision needs --revise --reason TEXT (the earlier value is kept)"
        return Problem(name, f"{where}, value for {key}", value, expected)
    revision, previous = (old[1] + 1, old[0]) if old is not None else (1, None)
    return key, parsed[0], parsed[1], value, revision, previous


def _refuse(problems: list[Problem]) -> pd.DataFrame:
    raise ActualsRefused(problems)


def _stored_values(series: str, spec: ActualSeries, stored: pd.DataFrame, reference: pd.DataFrame) -> dict:
    """period -> (value, revision) in force: stored actuals, else the reference file's value (revision 1)."""
    values = {}
    if spec.frequency == "year":
        part = reference[reference.series == spec.history]
        values = {str(int(y)): (float(v), 1) for y, v in zip(part.year, part.value, strict=True)}
    mine = stored[stored.series == series]
    revisions = mine.revision if "revision" in mine else pd.Series(1, index=mine.index)
    for period, value, revision in zip(mine.period, mine.value, revisions, strict=True):
        values[str(period)] = (float(value), int(revision))
    return values


def join_history(history: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Reference series and actuals as one history: a yearly actual replaces or extends its series' year; a
    monthly series' complete year (12 months) adds the year when no yearly figure exists for it."""
    if actuals.empty:
        return history
    yearly, monthly = [], actuals[actuals.month.notna()]
    for series, part in actuals[actuals.month.isna()].groupby("series"):
        yearly.append(
            pd.DataFrame({"series": SERIES[series].history, "year": part.year.astype(int), "value": part.value})
        )
    frame = pd.concat(yearly) if yearly else pd.DataFrame(columns=["series", "year", "value"])
    for (series, year), part in monthly.groupby(["series", "year"]):
        target = SERIES[series].history
        known = set(history[history.series == target].year) | set(frame[frame.series == target].year)
        if part.month.nunique() == 12 and int(year) not in known:
            row = {"series": target, "year": int(year), "value": float(part.value.sum())}
            frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    if frame.empty:
        return history
    frame = frame.assign(unit="units", partial=False, year=frame.year.astype(int), value=frame.value.astype(float))
    keys = set(zip(frame.series, frame.year, strict=True))
    kept = history[[k not in keys for k in zip(history.series, history.year, strict=True)]]
    joined = pd.concat([kept, frame[history.columns]], ignore_index=True)
    return joined.sort_values(["series", "year"], kind="stable").reset_index(drop=True)


def year_to_date(actuals: pd.DataFrame) -> list[dict]:
    """Monthly series whose latest year is incomplete: the months received so far and their total. The report
    states them but does not set them against the yearly forecast: the forecast has no seasonal share."""
    monthly = actuals[actuals.month.notna()]
    shown = []
    for series, part in monthly.groupby("series"):
        year = int(part.year.max())
        months = part[part.year == year]
        if months.month.nunique() < 12:
            shown.append({"series": series, "year": year, "months": int(months.month.nunique()),
                          "total": float(months.value.sum())})  # fmt: skip
    return shown


def inbox_files(directory: Path) -> list[Path]:
    """The inbox's CSV files, in name order (none when the folder does not exist)."""
    return sorted(p for p in Path(directory).glob("*.csv")) if Path(directory).is_dir() else []


def scan_inbox(directory: Path, path: Path, reference: pd.DataFrame, timeout: float) -> pd.DataFrame:
    """Validate every inbox file not added before (by digest) against the warehouse at ``path``; the rows to add.

    An inbox file cannot revise a stored value (that takes `keicast actuals add --revise --reason`). Raises
    ActualsRefused naming every refused file.
    """
    files = inbox_files(directory)
    if not files:
        return pd.DataFrame(columns=COLUMNS)
    stored, known = _stored(path, timeout)
    frames, problems = [], []
    for file in files:
        try:
            read = read_actuals_file(file)
            if read.digest in known:
                continue
            rows = validate(read, None, None, stored, reference)
        except ActualsRefused as exc:
            problems.extend(exc.problems)
            continue
        frames.append(rows)
        stored = pd.concat([stored, rows.assign(current=True)], ignore_index=True)  # two files, one period: checked
    if problems:
        raise ActualsRefused(problems)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def _stored(path: Path, timeout: float) -> tuple[pd.DataFrame, set[str]]:
    if not Path(path).exists():
        return pd.DataFrame(columns=[*COLUMNS, "current"]), set()
    return warehouse.stored_actuals(path, timeout)


def stored_actuals(path: Path, timeout: float) -> pd.DataFrame:
    """The actuals in force, with every column (empty without a warehouse)."""
    return _stored(path, timeout)[0]
