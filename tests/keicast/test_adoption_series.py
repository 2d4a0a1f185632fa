"""The analyst's adoption series reader: what it returns for good files and how it names a bad row."""

import pytest

from keicast.adoption_series import MAX_ADOPTIONS, read_adoption_series
from keicast.errors import ConfigError

from ..conftest import ROOT


def test_a_reference_file_reads_with_its_years_values_and_line_numbers():
    series = read_adoption_series(ROOT / "data" / "reference" / "us_smart_fortwo_sales_annual.csv", need_years=True)
    assert series.years[0] == 2008 and len(series.years) == len(series.values) == len(series.lines) >= 6
    assert series.lines[0] > 1  # the '#' source notes and the header come first


def test_a_one_column_file_is_periods_without_years_and_a_bom_is_ignored(tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes("\ufeffunits\n5\n\n7\n9\n".encode())
    series = read_adoption_series(path)
    assert series.years is None and series.values.tolist() == [5, 7, 9] and series.lines == (2, 4, 5)
    with pytest.raises(ConfigError, match="header line naming the columns 'year,value'"):
        read_adoption_series(path, need_years=True)


@pytest.mark.parametrize(
    "text,where",
    [
        ("year,value\n2001,1\n2002,-1\n2003,1\n", "line 3, value"),
        (f"year,value\n2001,1\n2002,{MAX_ADOPTIONS * 1.01}\n2003,1\n", "line 3, value"),
        ("year,value\n1850,1\n2002,1\n2003,1\n", "line 2, year"),
        ("year,value,month\n2001,1,1\n2002,1,1\n2003,1,1\n", "line 1"),
    ],
)
def test_a_bad_row_is_named_by_its_line(tmp_path, text, where):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_adoption_series(path)
    assert info.value.problems[0].file == str(path) and info.value.problems[0].key == where


def test_every_bad_row_is_listed_up_to_ten(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("year,value\n" + "".join(f"{2000 + i},x\n" for i in range(30)))
    with pytest.raises(ConfigError) as info:
        read_adoption_series(path)
    assert len(info.value.problems) == 10
