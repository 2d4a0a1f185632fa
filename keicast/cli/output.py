"""Printing for people and programs: tables by the one formatting policy (keicast.formatting), CSV, JSON."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keicast.cli.options import Format

out = Console(width=None if sys.stdout.isatty() else 180, markup=False, highlight=False)


err = Console(stderr=True, width=None if sys.stderr.isatty() else 180, markup=False, highlight=False)


def emit(frame: pd.DataFrame, fmt: Format, title: str | None = None, widths: dict[str, int] | None = None) -> None:
    """Print a frame as a rich table, CSV or JSON records. A table cuts the columns in ``widths`` to that many
    characters with an ellipsis: long text (a unit, a citation) would otherwise fold into many lines."""
    if fmt is Format.json:
        sys.stdout.write(frame.to_json(orient="records", indent=2, date_format="iso") + "\n")
    elif fmt is Format.csv:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        quantities = bool({"metric", "scenario", "actual"} & set(map(str, frame.columns)))  # forecasts, or scores
        shows = [_column_format(str(c), quantities) for c in frame.columns]
        cuts = [(widths or {}).get(str(c)) for c in frame.columns]
        units = frame["unit"].tolist() if "unit" in frame.columns else [None] * len(frame)
        for row, fraction, unit in zip(frame.itertuples(index=False), _fraction_rows(frame), units, strict=True):
            cells = [Text(show(v, fraction, unit)) for show, v in zip(shows, row, strict=True)]
            for cell, cut in zip(cells, cuts, strict=True):
                if cut:
                    cell.truncate(cut, overflow="ellipsis")
            table.add_row(*cells)
        out.print(table)


def _fraction_rows(frame: pd.DataFrame) -> list[bool]:
    """Rows of a forecast metric that is a fraction (the kei share, the probability of a launch): their count
    columns print as percentages, so that a 61% chance of a launch does not read "under 1"."""
    if "metric" not in frame.columns:
        return [False] * len(frame)
    from models.scenario import FRACTION_METRICS

    return frame["metric"].isin(FRACTION_METRICS).tolist()


IDENTIFIERS = {"year", "origin", "cutoff", "as_of", "seed", "vintage"}  # labels (and *_year, *_id): never rounded
# In a frame with a unit column (assumptions, claims, actuals, assumption changes), these columns are in that unit
IN_UNITS = {f"{c}{when}" for c in ("value", "low", "high") for when in ("", "_before", "_after")}
IN_UNITS |= {"registered_value", "previous_value"}  # a claim's register value, an actual's value before revision


def _column_format(column: str, quantities: bool = True):
    """The formatting policy for a table column: counts to 2 significant figures, errors as percentages, other
    numbers (integers too) to 3; years, seeds and ids as they are; timestamps to the second. A row's ``unit``
    (the register's) formats its value, low and high as the report does (keicast.formatting.by_unit: $10k, 33%,
    1997); a fraction metric's counts are percentages. A mean or quantile is a count only in a table of
    ``quantities`` (forecasts of sales, or their scores against actuals): a fit's coefficients are not cars."""
    from keicast import formatting

    quantile = column == "mean" or column.startswith(("p0", "p1", "p2", "p5", "p7", "p9"))
    count = (
        column in ("actual", "mae", "m", "se_m", "rse") or column.startswith("cumulative_") or (quantile and quantities)
    )
    # a fraction of the actual, or of hold-out years covered: "23%", "83%", as the report says them
    share = column in ("abs_pct_error", "median_ape") or column.startswith("coverage_")
    label = column in IDENTIFIERS or column.endswith(("_year", "_id"))

    def show(value, fraction: bool = False, unit: str | None = None) -> str:
        if formatting.is_missing(value):
            return formatting.MISSING
        if hasattr(value, "strftime"):  # a timestamp: to the second, as the report dates runs
            return formatting.moment(value)
        if isinstance(value, bool | np.bool_ | str) or not isinstance(value, int | float | np.number):
            return str(value)
        if label:
            return formatting.year(value) if float(value).is_integer() else str(value)
        if unit is not None and column in IN_UNITS:
            return formatting.by_unit(value, unit)
        if share:
            return formatting.share(value)
        if count:
            return formatting.share(value) if fraction else formatting.count(value)
        return formatting.number(value)

    return show


def as_json(value):
    return json.loads(value.to_json(orient="records")) if isinstance(value, pd.DataFrame) else value
