"""keicast.reference_class: the shipped reference class, bad files refused by name, and the draws a scenario
gets."""

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keicast.config.schema import CalibrationSettings
from keicast.errors import ConfigError
from keicast.reference_class import (
    LAUNCHES,
    SALES,
    calibrate_reference,
    check_left_out,
    chosen_shape,
    launch_values,
    load_reference_class,
    model_rows,
)
from models import reference_class as rc
from tests.conftest import FIT_CACHE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "data" / "reference_class"


def test_the_shipped_class_has_twenty_launches_in_eight_families_with_sources():
    frame, sources = load_reference_class(SHIPPED)
    assert frame.launch.nunique() >= 20 and frame.family.nunique() >= 8
    assert set(frame.kind) == {"class", "nameplate", "technology"}
    assert not frame[frame.partial].scored.any()  # a partial year is kept, never fitted
    assert (frame.t >= 1).all() and np.allclose(frame.share, frame.units / frame.market_units, equal_nan=True)
    assert len(sources) == 2 and all(len(n) > 200 for n in sources.notes)
    rows = model_rows(frame, ["us_plugin_total"])
    assert "us_plugin_total" not in set(rows.launch) and rows.log_share.notna().all()


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(SHIPPED, tmp_path / "rc")
    return tmp_path / "rc"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


ROWS = {"Y": "yugo_us", "H": "hyundai_excel_us", "B": "bmw_i3_us,2015"}  # the rows the cases below edit


def _line_of(file: str, row: str) -> int:
    """The 1-based line of ``file`` (shipped) that starts with ``row``: the cases need no line numbers."""
    lines = (SHIPPED / file).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(row + ","))


@pytest.mark.parametrize(
    "file,old,new,where,value",
    [
        (LAUNCHES, ",nameplate,US,1985,0.335,", ",microcar,US,1985,0.335,", "line {Y} (yugo_us): kind", "microcar"),
        (LAUNCHES, ",US,1985,0.335,", ",US,1985,cheap,", "line {Y} (yugo_us): price_ratio", "cheap"),
        (LAUNCHES, ",nameplate,US,1985,0.335,", ",nameplate,USA,1985,0.335,", "line {Y} (yugo_us): country", "USA"),
        (LAUNCHES, ",US,1985,0.335,", ",US,1985.5,0.335,", "line {Y} (yugo_us): launch_year", "1985.5"),
        (LAUNCHES, "1985,0.335,false", "1985,0.335,maybe", "line {Y} (yugo_us): policy_created", "maybe"),
        (LAUNCHES, "1985,0.335,false", "1985,0.335,", "line {Y} (yugo_us): policy_created", ""),
        (LAUNCHES, "hyundai_excel_us,us_1980s", "yugo_us,us_1980s", "line {H} (yugo_us): launch", "yugo_us"),
        (LAUNCHES, "0.335,false,660,", "0.335,false,,", "line {Y} (yugo_us): vehicles_per_1000", ""),
        (LAUNCHES, "0.335,false,660,", "0.335,false,many,", "line {Y} (yugo_us): vehicles_per_1000", "many"),
        (LAUNCHES, "0.335,false,660,", "0.335,false,6600,", "line {Y} (yugo_us): vehicles_per_1000", "6600"),
        (SALES, "bmw_i3_us,2015,11024", "bmw_i3,2015,11024", "line {B} (bmw_i3): launch", "bmw_i3"),
        (SALES, "bmw_i3_us,2015,11024", "bmw_i3_us,2015,-5", "line {B} (bmw_i3_us): units", "-5"),
        (SALES, "bmw_i3_us,2015,11024", "bmw_i3_us,2016,11024", "(bmw_i3_us): year", "2016"),  # twice
        (SALES, "bmw_i3_us,2015,11024", "bmw_i3_us,2005,11024", "line {B} (bmw_i3_us): year", "2005"),
        (
            SALES,
            "\nlaunch,year,units,market_units,partial\n",
            "\nlaunch,yr,units,market_units,partial\n",
            "header",
            None,
        ),
    ],
)
def test_a_bad_row_is_refused_naming_the_file_line_column_and_value(copy, file, old, new, where, value):
    where = re.sub(r"\{(.+?)\}", lambda m: str(_line_of(file, ROWS[m.group(1)])), where)
    _edit(copy / file, old, new)
    with pytest.raises(ConfigError) as info:
        load_reference_class(copy)
    (problem,) = info.value.problems
    assert problem.file == str(copy / file) and where in problem.key, problem
    if value is not None:
        assert str(problem.value) == value


def test_a_left_out_launch_must_exist():
    frame, _ = load_reference_class(SHIPPED)
    check_left_out(frame, ["us_plugin_total"])
    with pytest.raises(ConfigError) as info:
        check_left_out(frame, ["us_plugin_totl"])
    (problem,) = info.value.problems
    assert (problem.key, problem.value) == ("calibration.reference_left_out", "us_plugin_totl")


def test_a_missing_file_is_refused_by_name(copy):
    (copy / SALES).unlink()
    with pytest.raises(ConfigError, match="launch_sales.csv"):
        load_reference_class(copy)


def test_each_road_access_is_a_launch_of_its_kind():
    assert launch_values("kei_class") == launch_values("low_speed")  # both a class created by a policy
    assert launch_values("kei_class")["policy_created"] == 1 and launch_values("fmvss")["policy_created"] == 0
    assert all(launch_values(a)["us_market"] == 1 and launch_values(a)["log_price_ratio"] == 0 for a in ("fmvss",))


def _cases(shape: str, crps: float) -> pd.DataFrame:
    """A pre-launch chain case and a naive one of ``shape``."""
    row = {"series": "L", "family": "F", "abs_pct_error": 0.5, "interval_ratio_80": 10.0, "holdout_years": 4}
    return pd.DataFrame(
        [
            {**row, "shape": shape, "mode": "pre_launch", "model": "chain", "crps": crps, "coverage_80": 0.8},
            {**row, "shape": shape, "mode": "pre_launch", "model": "naive", "crps": 0.1, "coverage_80": 0.8},
        ]
    )


def test_the_shape_is_the_sharpest_one_the_gate_admits():
    cases = pd.concat([_cases("level", 0.9), _cases("rise", 1.0), _cases("rise_peak_decline", 1.1)])
    assert chosen_shape(cases, ["rise", "rise_peak_decline"]) == "rise"  # level scores best but is not admitted
    assert chosen_shape(cases, rc.SHAPES) == "level"
    assert chosen_shape(cases, []) == "level"  # none admitted: the lowest CRPS, which the gate then refuses


def test_the_reference_step_admits_only_what_the_gate_passes():
    """calibrate_reference asks about every shape and keeps the admitted one with the lowest CRPS."""
    asked = []

    def admissible(cases, shape, converged):
        asked.append(shape)
        return shape == "level"

    cal = CalibrationSettings(cache_dir=Path(FIT_CACHE))  # the session's backtests, computed once
    reference = calibrate_reference(SHIPPED, cal, admissible)
    assert sorted(asked) == sorted(rc.SHAPES) and reference.fit.shape == "level"


def test_a_scenarios_reference_rationale_rounds_its_numbers_for_people():
    """The rationale the assumption table and the report print: "20k joint draws", never a bare 20000."""
    from keicast.config import load_settings
    from keicast.reference_class import reference_refinements

    settings = load_settings(ROOT / "config.yaml")
    cal = settings.config.calibration.model_copy(update={"cache_dir": Path(FIT_CACHE)})
    reference = calibrate_reference(SHIPPED, cal, lambda cases, shape, converged: True)
    why = {o.rationale for o in reference_refinements(reference, settings.config.scenarios, cal)}
    assert why and all(f"of {cal.reference_draws // 1000}k joint draws" in text for text in why)
    assert not [text for text in why if re.search(r"(?<![\w.,])\d{5,}", text)]
