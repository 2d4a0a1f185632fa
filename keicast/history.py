"""The reference history (data/reference/*.csv): year,value,unit series and tables, each with its sources.

Every reference file opens with '#' lines naming its sources; they are kept verbatim beside the numbers.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from keicast.config import Settings
from keicast.errors import ConfigError, InputError, Problem
from keicast.inputs import read_bounded, reason

MAX_REFERENCE_BYTES = 10_000_000  # the largest reference series is about 2 KB; 10 MB is a mistake or an attack


def _reference_text(path: Path) -> str:
    """A reference file's text (regular file, size-limited, UTF-8). Raises InputError."""
    try:
        return read_bounded(path, MAX_REFERENCE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = reason(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError([Problem(str(path), "", str(path), f"a readable reference CSV file ({why})")]) from None


PARTIAL_MARK = "# partial:"  # a header line "# partial: 1999 (why)" marks a year that is not a full year


def partial_years(path: Path, text: str) -> set[int]:
    """The years a reference file marks as partial (a launch late in its first year): kept, never fitted as
    full years. Raises InputError on a mark that names no year."""
    years = set()
    for line in text.splitlines():
        if line.lower().startswith(PARTIAL_MARK):
            word = line[len(PARTIAL_MARK) :].split()[:1]
            if not word or not word[0].isdigit():
                raise InputError([Problem(str(path), "partial", line, "'# partial: YEAR (reason)'")])
            years.add(int(word[0]))
    return years


def read_series(path: Path, text: str | None = None) -> pd.DataFrame:
    """One reference file as (year, value, unit, partial); '#' header lines are the source notes, and a
    '# partial: YEAR' line marks that year's row as a partial year. Raises InputError naming the file's own line
    number (as an editor counts it) for a malformed row, a number written with thousands separators (its digits
    would be read as the unit) or a unit that changes within the file."""
    text = _reference_text(path) if text is None else text
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.startswith("#")]
    if not lines or lines[0][1].split(",")[:3] != ["year", "value", "unit"]:
        raise InputError(
            [Problem(str(path), "header", [ln for _, ln in lines[:1]], "a first data line 'year,value,unit'")]
        )
    rows = []
    for number, line in lines[1:]:
        parts = line.split(",", 2)  # the unit may itself contain commas
        try:
            row = (int(parts[0]), float(parts[1]), parts[2].strip() if len(parts) > 2 else "")
        except (ValueError, IndexError):
            row = None
        expected = None
        if row is None or not math.isfinite(row[1]):
            expected = "year,value,unit with a finite value"
        elif row[2][:1].isdigit():
            expected = "a value without thousands separators (13859700, not 13,859,700)"
        elif rows and row[2] != rows[0][2]:
            expected = f"the file's one unit, '{rows[0][2]}'"
        if expected:
            raise InputError([Problem(str(path), f"line {number}", line, expected)])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["year", "value", "unit"])
    return frame.assign(partial=frame.year.isin(partial_years(path, text)))


def source_notes(text: str) -> str:
    """The '#' source lines of a reference file's text, kept verbatim."""
    lines = text.splitlines(keepends=True)
    return "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines if line.startswith("#"))


def load_history(reference_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All reference series in long form (series, year, value, unit, partial) and their sources (series, file,
    notes)."""
    frames, sources = [], []
    for path in sorted(Path(reference_dir).glob("*.csv")):
        text = _reference_text(path)
        frame = read_series(path, text)
        frame.insert(0, "series", path.stem)
        frames.append(frame)
        sources.append({"series": path.stem, "file": str(path), "notes": source_notes(text)})
    if not frames:
        raise InputError([Problem(str(reference_dir), "", str(reference_dir), "a folder of reference *.csv files")])
    history = pd.concat(frames, ignore_index=True)
    history["year"] = history["year"].astype(int)
    history["value"] = history["value"].astype(float)
    return history, pd.DataFrame(sources)


def series(history: pd.DataFrame, name: str) -> pd.Series:
    """One history series as a year-indexed Series."""
    part = history[history.series == name]
    return part.set_index("year")["value"].sort_index()


def baseline_history(history: pd.DataFrame, settings: Settings) -> pd.Series:
    """The baseline series, every year the history holds (an actual for a horizon year included), with enough
    years before the horizon for ``baseline.min_train`` plus one to test on. Raises ConfigError naming the
    setting and the years available."""
    cfg, start = settings.config.baseline, settings.run.horizon.start
    y = series(history, cfg.series)
    before = y[y.index < start]
    if len(before) <= cfg.min_train:
        raise ConfigError(
            [
                Problem(
                    settings.config_path,
                    "baseline.min_train",
                    cfg.min_train,
                    f"fewer years than the {len(before)} of {cfg.series} before {start} (one must be left to test on)",
                )
            ]
        )
    return y


TABLES_DIR = "tables"  # reference tables that are not year,value,unit series (data/reference/tables/*.csv)


def read_table(path: Path) -> pd.DataFrame:
    """A reference table with its own columns; '#' header lines are the source notes."""
    try:
        frame = pd.read_csv(io.StringIO(_reference_text(path)), comment="#", skip_blank_lines=True)
    except ValueError as exc:
        raise InputError([Problem(str(path), "", str(path), f"a readable CSV table ({exc})")]) from None
    if frame.empty or frame.isna().any().any():
        raise InputError([Problem(str(path), "rows", len(frame), "a non-empty table with no missing cells")])
    return frame


def load_tables(reference_dir: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Reference tables by name and their sources (series 'tables/<name>', file, notes)."""
    paths = sorted((Path(reference_dir) / TABLES_DIR).glob("*.csv"))
    notes = [
        {"series": f"{TABLES_DIR}/{p.stem}", "file": str(p), "notes": source_notes(_reference_text(p))} for p in paths
    ]
    return {p.stem: read_table(p) for p in paths}, pd.DataFrame(notes, columns=["series", "file", "notes"])
