"""The reference history: series and tables with their source notes, and what it refuses."""

import os

import pytest

from keicast.config import load_settings
from keicast.errors import ConfigError, InputError
from keicast.history import baseline_history, load_history, load_tables, read_series, series

from ..conftest import ROOT, base_config, write_config

REFERENCE = ROOT / "data" / "reference"


def test_reference_units_may_contain_commas():
    frame = read_series(REFERENCE / "us_new_vehicle_atp_kbb_december.csv")
    assert frame.unit.iloc[0] == "USD (December ATP, nominal)"
    assert frame.set_index("year").value[2025] == 50326


def test_history_loads_every_series_with_its_sources():
    history, sources = load_history(REFERENCE)
    assert len(sources) == len(list(REFERENCE.glob("*.csv")))
    assert all(sources.notes.str.len() > 20)
    us = series(history, "us_light_vehicle_sales_annual")
    assert us.index.min() == 1976 and us.index.max() == 2025


def test_malformed_reference_line_names_file_and_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# source\nyear,value,unit\n2020,abc,units\n")
    with pytest.raises(InputError) as info:
        read_series(path)
    assert (info.value.problems[0].key, info.value.problems[0].value) == ("line 3", "2020,abc,units")
    assert str(info.value).startswith("invalid input (1 problem)")  # a data file, not the configuration
    assert f"{path}: line 3 = '2020,abc,units': year,value,unit with a finite value" in str(info.value)


@pytest.mark.parametrize(
    "row, expected",
    [
        ("1990,13,859,700,units", "a value without thousands separators (13859700, not 13,859,700)"),
        ("1990,13859700,thousands", "the file's one unit, 'units'"),
    ],
)
def test_a_number_split_by_separators_or_a_second_unit_is_refused_at_its_line(tmp_path, row, expected):
    """'13,859,700' would otherwise be read as 13 with the unit '859,700,units'."""
    path = tmp_path / "x.csv"
    path.write_text(f"# source\n\nyear,value,unit\n1989,14000000,units\n{row}\n")
    with pytest.raises(InputError) as info:
        read_series(path)
    assert [(p.key, p.value, p.expected) for p in info.value.problems] == [("line 5", row, expected)]


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_infinite_values_and_special_files_in_reference_data_are_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("year,value,unit\n2020,inf,units\n")
    with pytest.raises(ConfigError, match="finite value"):
        read_series(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_history(tmp_path)


def test_a_baseline_needs_more_history_than_min_train(tmp_path):
    config = base_config(tmp_path)
    config["baseline"]["min_train"] = 60
    settings = load_settings(write_config(tmp_path, config))
    history, _ = load_history(REFERENCE)
    with pytest.raises(ConfigError) as info:
        baseline_history(history, settings)
    problem = info.value.problems[0]
    assert problem.key == "baseline.min_train" and "fewer years than the 50 of" in problem.expected


def test_tables_load_with_their_sources_and_a_missing_cell_is_refused(tmp_path):
    tables, notes = load_tables(REFERENCE)
    assert set(tables) == {p.stem for p in (REFERENCE / "tables").glob("*.csv")}
    assert list(notes.series) == [f"tables/{name}" for name in sorted(tables)]
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "gap.csv").write_text("# source\nyear,rate\n2020,0.1\n2021,\n")
    with pytest.raises(ConfigError) as info:
        load_tables(tmp_path)
    assert "gap.csv" in str(info.value) and "no missing cells" in str(info.value)
