"""How numbers are shown to people: one policy for the report, report.md, CLI tables, `compare` and `sweep`.

Forecasts carry 2-4x uncertainty, so counts are rounded to two significant figures (never fewer than their
integer digits once scaled: 152,866 is "153k", not "150k"), with k / M / B / T suffixes, and are whole below a
thousand (cars come whole: 3.3 is "3"); shares are percentages to two significant figures (0.00012 is "0.012%");
years are years ("1997", never "1,997"); money has a count's figures and suffixes with a dollar sign, but is not
rounded to whole dollars ("$3.3"). An input (an assumption's value, range or a claim: by_unit) keeps three
figures, as stated ("27.5%"). Nothing shows more than three significant figures (MAX_SIG) or scientific notation:
a count between 0 and 1 is "under 1", a share below 0.001% is "<0.001%", any other number below 0.001 is
"<0.001", and a count of a thousand trillion or more is "over 999T".
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MISSING = "–"
MAX_SIG = 3  # significant figures no rendered number exceeds
TINY_SHARE = 1e-5  # shares below this (0.001%) are "<0.001%"
TINY_NUMBER = 1e-3  # other numbers below this are "<0.001"
HUGE = 999.5e12  # counts from here on are "over 999T"


def is_missing(value) -> bool:
    """No value: None, NaN of any float type, pandas' NA (a nullable integer column's NULL) or NaT."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar
        return False


def _significant(value: float, sig: int) -> float:
    """``value`` rounded to ``sig`` significant figures, keeping at least every integer digit."""
    if value == 0:
        return 0.0
    magnitude = math.floor(math.log10(abs(value)))
    places = max(sig, magnitude + 1) - 1 - magnitude
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)  # 5.25 -> 5.3
    return float(exact)


def _plain(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _edge(value: float, small: float, large: float, shown: tuple[str, str, str, str]) -> str | None:
    """What to show instead of digits: ``shown`` = (tiny positive, tiny negative, huge positive, huge negative)
    for 0 < |value| < ``small`` or |value| >= ``large``; None for every other value."""
    if 0 < abs(value) < small:
        return shown[0] if value > 0 else shown[1]
    if abs(value) >= large:
        return shown[2] if value > 0 else shown[3]
    return None


def count(value, sig: int = 2) -> str:
    """A count for people: 76,075 -> "76k", 1,852 -> "1.9k", 16,000,000 -> "16M", 950 -> "950", 3.3 -> "3",
    0.4 -> "under 1"."""
    return _scaled(value, sig, whole=True)


def _scaled(value, sig: int, whole: bool) -> str:
    """``value`` to ``sig`` significant figures with a k / M / B / T suffix; below a thousand ``whole`` rounds it to
    a whole number (cars come whole; $3.30 stays "$3.3")."""
    if is_missing(value):
        return MISSING
    value, sig = float(value), min(sig, MAX_SIG)
    small = ("under 1", "over -1") if whole else ("<0.001", ">-0.001")  # a whole count, or dollars and inputs
    edge = _edge(value, 1.0 if whole else TINY_NUMBER, HUGE, (*small, "over 999T", "under -999T"))
    if edge:
        return edge
    for scale, suffix in _SUFFIXES:
        if abs(value) >= scale * 0.9995:
            mantissa = _significant(value / scale, sig)
            if abs(mantissa) >= 1000:  # 999,999 rounds up into the next suffix
                return _scaled(mantissa * scale, sig, whole)
            return _plain(mantissa) + suffix
    return _plain(_significant(value, 1 if whole else sig))  # one figure keeps every integer digit, no decimal


def share(value, sig: int = 2) -> str:
    """A share as a percentage: 0.00012 -> "0.012%", 0.3333 -> "33%", 0 -> "0%", 1e-7 -> "<0.001%"."""
    if is_missing(value):
        return MISSING
    value = float(value)
    if abs(value) >= 9.995:  # 1,000% and more (from what rounds to it): "1.2k%"
        return count(100 * value, sig) + "%"
    edge = _edge(value, TINY_SHARE, math.inf, ("<0.001%", ">-0.001%", "", ""))
    return edge or _plain(_significant(100 * value, min(sig, MAX_SIG))) + "%"


def money(value, sig: int = 2) -> str:
    """Dollars: 10,000 -> "$10k", 50,326 -> "$50k", -2,500 -> "-$2.5k"."""
    if is_missing(value):
        return MISSING
    text = _scaled(value, sig, whole=False)
    return "-$" + text[1:] if text.startswith("-") else "$" + text


def year(value) -> str:
    """A calendar or model year: 1997 -> "1997"."""
    return MISSING if is_missing(value) else str(int(value))


def moment(value) -> str:
    """A timestamp to the second, as stored (UTC): 2026-12-04 19:44:24.610388 -> "2026-12-04 19:44:24"."""
    if is_missing(value):
        return MISSING
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)[:19]


def number(value, sig: int = 3) -> str:
    """Any other number (a rate, a coefficient, an index) to ``sig`` <= 3 significant figures: 0.38 -> "0.38",
    1.0042 -> "1", 0.0002 -> "<0.001", 16,100,000 -> "16.1M"."""
    if is_missing(value):
        return MISSING
    value, sig = float(value), min(sig, MAX_SIG)
    if abs(value) >= 999.5:  # 999.7 is "1k", not "1000"
        return count(value, sig)
    edge = _edge(value, TINY_NUMBER, math.inf, ("<0.001", ">-0.001", "", ""))
    return edge or _plain(_significant(value, sig))


def variance_share(value) -> str:
    """A Sobol index, a share of the output's variance, which lies in [0, 1]: an estimate outside it is sampling
    noise around 0 or 1 (Saltelli et al. 2010, *Comput. Phys. Commun.* 181(2)), shown as 0 or 1, not ">-0.001"."""
    return MISSING if is_missing(value) else number(min(max(float(value), 0.0), 1.0))


def signed_percent(value, sig: int = 2) -> str:
    """A change as a signed percentage: 0.053 -> "+5.3%", -0.2 -> "-20%"."""
    if is_missing(value):
        return MISSING
    text = share(value, sig)
    return text if text.startswith(("-", "<", ">")) else "+" + text


def by_unit(value, unit: str | None) -> str:
    """Format an input (an assumption, a claim) by its register unit: share, USD, year, count; no unit (None, NaN)
    is a plain number. Inputs are figures as stated, not forecasts: three significant figures, so a 27.5% duty
    reads "27.5%", not "28%"."""
    unit = unit.lower() if isinstance(unit, str) else ""
    if unit.startswith(("fraction", "share", "probability")) or unit.endswith("(fraction)"):
        return share(value, MAX_SIG)
    if unit.startswith(("usd", "$")):
        return money(value, MAX_SIG)
    if unit in ("year", "model year", "calendar year"):
        return year(value)
    if "vehicles" in unit or "cars" in unit or unit in ("count", "units"):
        return _scaled(value, MAX_SIG, whole=False)  # as stated: an input of 12.35 a year is not rounded to 12
    return number(value)
