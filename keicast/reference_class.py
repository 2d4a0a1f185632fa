"""The reference class of past launches (data/reference_class): read, checked, and turned into model rows.

Two files, each opening with '#' lines naming its sources (kept verbatim beside the numbers, as in data/reference):

    launches.csv      one row per launch: launch, family, kind (class | nameplate | technology), country,
                      launch_year, price_ratio (launch price / the market's average new car; empty = not sourced),
                      policy_created, name, notes
    launch_sales.csv  launch, year, units, market_units (empty = not found), partial (true: not a full year)

A year with no market total or marked partial is kept in the table but never fitted or scored.

:func:`calibrate_reference` is the pipeline's step: the family hold-out backtests of every shape (disk-cached on
data + settings + code, keicast.cache), the shape they choose, and the fit on every launch; :func:`reference_draws`
turns the fit into the Monte Carlo's joint draws for a scenario's launch, and :func:`reference_refinements` into
the assumption rows that carry their provenance.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keicast import formatting as fmt
from keicast.cache import cached_frames, code_digest, digest
from keicast.config.schema import AssumptionOverride, CalibrationSettings, Scenario
from keicast.errors import ConfigError, InputError, Problem
from keicast.history import MAX_REFERENCE_BYTES, source_notes
from keicast.inputs import read_bounded, reason
from models import adoption_backtest, reference_backtest
from models import reference_class as rc
from models.reference_class import REFERENCE_PRICE_RATIO, covariates
from models.scenario import LAUNCH_KIND, REFERENCE_KEYS, STATUS_QUO_ACCESS

LAUNCHES, SALES = "launches.csv", "launch_sales.csv"
LAUNCH_COLUMNS = [
    "launch",
    "family",
    "kind",
    "country",
    "launch_year",
    "price_ratio",
    "policy_created",
    "vehicles_per_1000",
    "name",
    "notes",
]
COVARIATE_INPUTS = ("kind", "policy_created", "price_ratio", "country", "vehicles_per_1000")  # covariates()' order
SALES_COLUMNS = ["launch", "year", "units", "market_units", "partial"]
KINDS = ("class", "nameplate", "technology")
MAX_VEHICLES_PER_1000 = 1500.0  # no country has had more than about 1,200 motor vehicles per 1,000 people


def _read(path: Path, expected: list[str]) -> tuple[pd.DataFrame, str]:
    """The CSV without its '#' lines, each row with the ``line`` of the file it came from."""
    try:
        text = read_bounded(path, MAX_REFERENCE_BYTES).decode("utf-8")
        frame = pd.read_csv(io.StringIO(text), comment="#", skip_blank_lines=True, keep_default_na=False, dtype=str)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = reason(exc) if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise InputError([Problem(str(path), "", str(path), f"a readable reference-class CSV ({why})")]) from None
    if list(frame.columns) != expected:
        raise InputError([Problem(str(path), "header", list(frame.columns), f"the columns {','.join(expected)}")])
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")][1:]
    return frame.assign(line=lines if len(lines) == len(frame) else np.arange(2, len(frame) + 2)), text


def _refuse(path: Path, frame: pd.DataFrame, bad: pd.Series, column: str, expected: str) -> None:
    """InputError naming the file line, launch, column and value of the first ``bad`` row, if any."""
    if bad.any():
        row = frame[bad.to_numpy()].iloc[0]
        where = f"line {row.line} ({row.launch}): {column}"
        raise InputError([Problem(str(path), where, row[column] if column in row else "", expected)])


def _number(path: Path, frame: pd.DataFrame, column: str, blank_ok: bool = False, whole: bool = False) -> pd.Series:
    """A positive number per row (a whole one when ``whole``); empty only when ``blank_ok`` (then NaN)."""
    values = pd.to_numeric(frame[column].str.strip().replace("", np.nan), errors="coerce")
    bad = (values.isna() & ((frame[column].str.strip() != "") | (not blank_ok))) | (values <= 0)
    bad = bad | ((values % 1 != 0) & values.notna() if whole else False)
    need = ("a whole year" if whole else "a positive number") + (" or empty" if blank_ok else "")
    _refuse(path, frame, bad, column, need)
    return values


def _flag(path: Path, frame: pd.DataFrame, column: str, blank_ok: bool) -> pd.Series:
    words = frame[column].str.strip().str.lower()
    _refuse(path, frame, ~words.isin(["true", "false", *([""] if blank_ok else [])]), column, "true or false")
    return words == "true"


def _launches(path: Path, launches: pd.DataFrame) -> pd.DataFrame:
    for column, bad, want in (
        ("launch", launches.launch.str.strip() == "", "a non-empty name"),
        ("launch", launches.launch.duplicated(), "each launch once"),
        ("family", launches.family.str.strip() == "", "a non-empty name"),
        ("kind", ~launches.kind.isin(KINDS), f"one of {', '.join(KINDS)}"),
        ("country", ~launches.country.str.fullmatch(r"[A-Z]{2}"), "a two-letter country or region code, e.g. US"),
    ):
        _refuse(path, launches, bad, column, want)
    vehicles = _number(path, launches, "vehicles_per_1000")
    _refuse(path, launches, vehicles > MAX_VEHICLES_PER_1000, "vehicles_per_1000", "at most 1,500 per 1,000 people")
    return launches.assign(
        price_ratio=_number(path, launches, "price_ratio", blank_ok=True),
        launch_year=_number(path, launches, "launch_year", whole=True).astype(int),
        policy_created=_flag(path, launches, "policy_created", blank_ok=False),
        vehicles_per_1000=vehicles,
    )


def _sales(path: Path, sales: pd.DataFrame, launches: pd.DataFrame) -> pd.DataFrame:
    _refuse(path, sales, ~sales.launch.isin(launches.launch), "launch", f"a launch listed in {LAUNCHES}")
    sales = sales.assign(
        year=_number(path, sales, "year", whole=True).astype(int),
        units=_number(path, sales, "units"),
        market_units=_number(path, sales, "market_units", blank_ok=True),
        partial=_flag(path, sales, "partial", blank_ok=True),
    )
    _refuse(path, sales, sales.duplicated(["launch", "year"]), "year", "each launch's year once")
    frame = sales.merge(launches.drop(columns=["name", "notes", "line"]), on="launch")
    t = frame.year - frame.launch_year + 1
    _refuse(path, frame, t < 1, "year", "a year from the launch's launch_year on")
    return frame.assign(t=t)


def load_reference_class(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference class in long form, one row per launch and year (launch, family, kind, country,
    launch_year, price_ratio, policy_created, year, t, units, market_units, share, partial, scored), and the
    sources (series, file, notes). Raises InputError naming the file, line, launch, column and value."""
    folder = Path(folder)
    launches, launch_text = _read(folder / LAUNCHES, LAUNCH_COLUMNS)
    sales, sales_text = _read(folder / SALES, SALES_COLUMNS)
    frame = _sales(folder / SALES, sales, _launches(folder / LAUNCHES, launches)).drop(columns=["line"])
    frame["share"] = frame.units / frame.market_units
    frame["scored"] = ~frame.partial & frame.market_units.notna()
    sources = pd.DataFrame(
        [
            {"series": f"reference_class/{p.stem}", "file": str(folder / p.name), "notes": source_notes(text)}
            for p, text in ((Path(LAUNCHES), launch_text), (Path(SALES), sales_text))
        ]
    )
    return frame.sort_values(["family", "launch", "year"], ignore_index=True), sources


def check_left_out(frame: pd.DataFrame, left_out: list[str]) -> None:
    """Each of calibration.reference_left_out must name a launch (a typo would count a sum of launches twice)."""
    unknown = sorted(set(left_out) - set(frame.launch))
    if unknown:
        launches = ", ".join(sorted(frame.launch.unique()))
        raise ConfigError([Problem("config.yaml", "calibration.reference_left_out", unknown[0], f"one of {launches}")])


def model_rows(frame: pd.DataFrame, left_out: list[str] = ()) -> pd.DataFrame:
    """The full, market-sized years as model rows: the covariates of models.reference_class and log_share."""
    rows = frame[frame.scored & ~frame.launch.isin(list(left_out))].copy()
    values = [covariates(*v) for v in zip(*(rows[c] for c in COVARIATE_INPUTS), strict=True)]
    rows = pd.concat([rows.drop(columns=["policy_created"]).reset_index(drop=True), pd.DataFrame(values)], axis=1)
    return rows.assign(log_share=np.log(rows.share))


def launch_covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per launch with its covariate values (for predicting a held-out launch)."""
    first = frame.drop_duplicates("launch").reset_index(drop=True)
    values = [covariates(*v) for v in zip(*(first[c] for c in COVARIATE_INPUTS), strict=True)]
    return pd.concat([first[["launch", "family", "kind", "price_ratio"]], pd.DataFrame(values)], axis=1)


# ---------------------------------------------------------------------------------------------- the pipeline step
@dataclass(frozen=True)
class ReferenceClass:
    """The reference class as the run uses it: the launches (long form), the model rows, the fit of the chosen
    shape, every shape's backtest cases (column ``shape``), the chosen shape's yearly bands, and the sources."""

    launches: pd.DataFrame
    rows: pd.DataFrame
    fit: rc.ReferenceFit
    cases: pd.DataFrame
    bands: pd.DataFrame
    sources: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The warehouse's reference_* run tables."""
        launches = self.launches.assign(fitted=self.launches.launch.isin(self.rows.launch) & self.launches.scored)
        return {
            "reference_launches": launches,
            "reference_fit": self.fit.table().assign(shape=self.fit.shape),
            "reference_backtests": self.cases,
            "reference_backtest_paths": self.bands.assign(shape=self.fit.shape),
        }


def backtests(rows: pd.DataFrame, shape: str, cal: CalibrationSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The family hold-out backtests of ``shape`` (models.reference_backtest), from the cache if there."""
    code = code_digest(rc, reference_backtest, adoption_backtest)  # adoption_backtest scores the cases
    key = "reference-" + digest(rows.to_csv(index=False), shape, str(cal.seed), code)[:24]

    def compute():
        cases, bands = reference_backtest.backtest(rows, shape, cal.seed)
        return {"cases": cases, "bands": bands}

    frames = cached_frames(cal.cache_dir, key, compute, ("cases", "bands"))
    cases = frames["cases"].astype({"fit_years": "Int64", "holdout_years": int}).assign(shape=shape)
    return cases, frames["bands"].astype({"fit_years": "Int64"})


def chosen_shape(cases: pd.DataFrame, admissible: Iterable[str]) -> str:
    """Sharpness subject to calibration (Gneiting, Balabdaoui & Raftery 2007): among the ``admissible`` shapes (those
    the reference gate passes: calibrated before and after a launch, sharp enough, no worse than the benchmarks),
    the one whose chain has the lowest median pre-launch CRPS (the kei case is a pre-launch forecast). With none
    admissible, the lowest of all, which the gate then refuses."""
    chain = cases[(cases["mode"] == "pre_launch") & (cases.model == "chain")]
    crps = chain.groupby("shape").crps.median()
    passing = crps[crps.index.isin(list(admissible))]
    return str((passing if len(passing) else crps).idxmin())


def calibrate_reference(
    folder: Path, cal: CalibrationSettings, admissible: Callable[[pd.DataFrame, str, bool], bool] = lambda *_: True
) -> ReferenceClass:
    """Load the reference class, backtest and fit every shape, choose one (``cal.reference_shape``, or when "auto"
    by the backtests among the shapes ``admissible(cases, shape, converged)`` accepts) and keep its fit on every
    launch but ``cal.reference_left_out``."""
    launches, sources = load_reference_class(folder)
    check_left_out(launches, cal.reference_left_out)
    rows = model_rows(launches, cal.reference_left_out)
    results = {shape: backtests(rows, shape, cal) for shape in rc.SHAPES}
    cases = pd.concat([r[0] for r in results.values()], ignore_index=True)
    fits = {shape: rc.fit(rows, shape) for shape in rc.SHAPES}
    if cal.reference_shape == "auto":
        shape = chosen_shape(cases, [s for s in rc.SHAPES if admissible(cases, s, fits[s].converged)])
    else:
        shape = cal.reference_shape
    return ReferenceClass(launches, rows, fits[shape], cases, results[shape][1], sources)


US_VEHICLES_PER_1000 = 860.0  # the US market the kei case launches into: motorised (models.reference_class)
US_VEHICLES_SOURCE = "OICA 2020 via visualcapitalist.com/vehicles-per-capita-by-country"


def launch_values(road_access: str) -> dict[str, float]:
    """The covariates of a US launch under ``road_access`` (models.scenario.LAUNCH_KIND), at the reference price
    ratio: the kernel adds each draw's own price term."""
    kind, policy_created = LAUNCH_KIND[road_access]
    return covariates(kind, policy_created, REFERENCE_PRICE_RATIO, "US", US_VEHICLES_PER_1000)


def reference_draws(reference: ReferenceClass, road_access: str, cal: CalibrationSettings) -> pd.DataFrame:
    """Joint draws of the reference keys (models.scenario.REFERENCE_KEYS) for a launch under ``road_access``:
    level, price slope and shape from the fit's posterior and the launch's own effects; the deviations' sd and
    autocorrelation at their fitted values."""
    rng = np.random.default_rng([cal.seed, zlib.crc32(road_access.encode())])
    draws = rc.parameter_draws(reference.fit, launch_values(road_access), rng, cal.reference_draws)
    draws["deviation_sd"], draws["deviation_ar"] = reference.fit.deviation_sd, reference.fit.deviation_ar
    return pd.DataFrame({key: draws[p].to_numpy(float) for p, key in REFERENCE_KEYS.items()})


def reference_refinements(
    reference: ReferenceClass, scenarios: dict[str, Scenario], cal: CalibrationSettings
) -> tuple[AssumptionOverride, ...]:
    """Each policy scenario's reference keys at their draws' median, P05-P95 as the range (the Monte Carlo draws
    the rows jointly), with the fit that made them as the rationale."""
    fit, out = reference.fit, []
    for name, scenario in scenarios.items():
        if scenario.road_access == STATUS_QUO_ACCESS:
            continue
        draws = reference_draws(reference, scenario.road_access, cal)
        kind, policy = LAUNCH_KIND[scenario.road_access]
        chosen = "chosen by" if cal.reference_shape == "auto" else "fixed in config.yaml after"
        aggregate, nameplate = fmt.number(fit.aggregate_slope_sd, 2), fmt.number(fit.slope_sd, 2)
        spread = (
            f"a nameplate, {nameplate}, against a class's {aggregate}"
            if kind == "nameplate"
            else f"a class, {aggregate}, against a single nameplate's {nameplate}"
        )
        why = (
            f"Reference class ({fit.launches} launches in {fit.families} families, data/reference_class), shape "
            f"{fit.shape} {chosen} the family hold-out backtests; a US {kind} launch"
            f"{', created by a policy' if policy else ''} (its own slope in ln t with the sd of {spread}), "
            f"in a motorised market ({fmt.number(US_VEHICLES_PER_1000)} motor vehicles per 1,000 people, "
            f"{US_VEHICLES_SOURCE}), at price ratio {fmt.number(REFERENCE_PRICE_RATIO)} (the kernel "
            f"adds each draw's price term): median and P05-P95 of {fmt.count(len(draws))} joint draws "
            "(models.reference_class)."
        )
        for key in draws.columns:
            low, value, high = np.quantile(draws[key], [0.05, 0.5, 0.95])
            out.append(AssumptionOverride(key, float(value), float(low), float(high), name, "calibration", why))
    return tuple(out)
