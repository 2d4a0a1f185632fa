"""Actuals: the gate (known series, units, periods, values, source), revisions, and one history with the
reference series (keicast/actuals.py)."""

from datetime import datetime

import pandas as pd
import pytest

from keicast import warehouse
from keicast.actuals import join_history, read_actuals_file, stored_actuals, validate, year_to_date
from keicast.config import load_settings
from keicast.errors import ActualsRefused
from keicast.record import store_actuals

from ..conftest import base_config, write_config

TODAY = datetime(2026, 12, 2)
MARKET = "us_light_vehicle_sales_annual"
REFERENCE = pd.DataFrame(
    {"series": MARKET, "year": [2024, 2025], "value": [15.85e6, 16.26e6], "unit": "units", "partial": False}
)
NOTHING = pd.DataFrame(columns=["series", "period", "value", "revision"])


def csv(tmp_path, text, name="a.csv"):
    path = tmp_path / name
    path.write_text(text)
    return read_actuals_file(path)


def refused(file, series=MARKET, source="https://fred.stlouisfed.org", stored=NOTHING, **kw) -> str:
    with pytest.raises(ActualsRefused) as info:
        validate(file, series, source, stored, REFERENCE, today=TODAY, **kw)
    assert info.value.exit_code == 2
    return str(info.value)


def test_a_good_file_becomes_rows_with_source_and_digest(tmp_path):
    rows = validate(csv(tmp_path, "year,value\n2026,16100000\n"), MARKET, "https://x", NOTHING, REFERENCE, today=TODAY)
    row = rows.iloc[0]
    assert (row.period, row.year, row.value, row.revision, row.source) == ("2026", 2026, 16.1e6, 1, "https://x")
    assert len(row.file_sha256) == 64 and row.unit == "units"


def test_the_gate_refuses_with_file_line_and_value(tmp_path):
    good = csv(tmp_path, "year,value\n2026,16100000\n")
    assert "--series = 'kei_everything'" in refused(good, series="kei_everything")
    assert "--source" in refused(good, source=" ")
    assert "line 2, value = '-5'" in refused(csv(tmp_path, "year,value\n2026,-5\n"))
    assert "line 2, value = 'nan'" in refused(csv(tmp_path, "year,value\n2026,nan\n"))
    assert "line 2, period = '2031'" in refused(csv(tmp_path, "year,value\n2031,16000000\n"))
    assert "each period once" in refused(csv(tmp_path, "year,value\n2026,1\n2026,2\n"))
    assert "unit" in refused(csv(tmp_path, "year,value,unit\n2026,16,million\n"))
    with pytest.raises(ActualsRefused, match="header = 'date,sales'"):
        csv(tmp_path, "date,sales\n2026,16\n")
    assert "YYYY-MM" in refused(csv(tmp_path, "period,value\n2026-13,1\n"), series="us_light_vehicle_sales_monthly")


def test_a_changed_value_is_a_revision_refused_without_revise(tmp_path):
    file = csv(tmp_path, "year,value\n2025,16000000\n")
    message = refused(file)
    assert "2025" in message and "16,259,249" not in message and "--revise --reason" in message
    assert "--reason" in refused(file, revise=True)
    rows = validate(file, MARKET, "https://x", NOTHING, REFERENCE, True, "BEA benchmark revision", today=TODAY)
    assert (rows.revision.iloc[0], rows.previous_value.iloc[0], rows.reason.iloc[0]) == (
        2,
        16.26e6,
        "BEA benchmark revision",
    )


def test_the_same_value_again_is_nothing_new(tmp_path):
    assert validate(csv(tmp_path, "year,value\n2025,16260000\n"), MARKET, "x", NOTHING, REFERENCE, today=TODAY).empty


def test_an_inbox_file_names_its_series_and_source(tmp_path):
    file = csv(tmp_path, "# series: us_kei_truck_imports_annual\n# source: https://x\nyear,value\n2025,9000\n")
    rows = validate(file, None, None, NOTHING, REFERENCE, today=TODAY)
    assert rows.series.iloc[0] == "us_kei_truck_imports_annual" and rows.source.iloc[0] == "https://x"


def test_actuals_join_the_history_and_a_complete_month_year_becomes_a_year():
    actuals = pd.DataFrame(
        {
            "series": [MARKET] + ["us_light_vehicle_sales_monthly"] * 15,
            "period": ["2025"] + [f"2027-{m:02d}" for m in range(1, 13)] + ["2028-01", "2028-02", "2028-03"],
            "year": [2025] + [2027] * 12 + [2028] * 3,
            "month": [None] + list(range(1, 13)) + [1, 2, 3],
            "value": [16.0e6] + [1.0e6] * 15,
        }
    )
    joined = join_history(REFERENCE, actuals)
    market = joined[joined.series == MARKET].set_index("year").value
    assert market.to_dict() == {2024: 15.85e6, 2025: 16.0e6, 2027: 12.0e6}  # 2028 has 3 months only
    assert year_to_date(actuals) == [
        {"series": "us_light_vehicle_sales_monthly", "year": 2028, "months": 3, "total": 3e6}
    ]


def test_a_revision_keeps_the_earlier_value_in_the_warehouse(tmp_path):
    settings = load_settings(write_config(tmp_path, base_config(tmp_path)))
    first = validate(csv(tmp_path, "year,value\n2026,16100000\n"), MARKET, "https://a", NOTHING, REFERENCE, today=TODAY)
    store_actuals(settings, first, REFERENCE)
    stored = stored_actuals(settings.run.warehouse, 5)
    second = validate(
        csv(tmp_path, "year,value\n2026,16300000\n", "b.csv"), MARKET, "https://b", stored, REFERENCE, True, "revised"
    )
    store_actuals(settings, second, REFERENCE)
    every = warehouse.query(settings.run.warehouse, "select * from actuals order by revision")
    assert every.value.tolist() == [16.1e6, 16.3e6] and every.current.tolist() == [False, True]
    assert every.previous_value.iloc[1] == 16.1e6 and every.reason.iloc[1] == "revised"
    assert stored_actuals(settings.run.warehouse, 5).value.tolist() == [16.3e6]


def test_a_newer_grey_import_count_becomes_the_curves_latest_point(tmp_path):
    import numpy as np

    from keicast import steps
    from models import montecarlo
    from models.scenario import kei_outcomes

    settings = load_settings(write_config(tmp_path, base_config(tmp_path)))
    evidence = steps.load_evidence(settings)
    calibrated = steps.calibrate_assumptions(settings, evidence)
    count = pd.DataFrame({"series": "us_kei_truck_imports_annual", "year": [2025], "value": [9100.0], "unit": "units"})
    history = pd.concat([evidence.history, count.assign(partial=False)], ignore_index=True)
    old, new = (
        steps.scenario_specs(settings, calibrated.table, calibrated.calibration.fit, h, calibrated.reference)[0]
        for h in (evidence.history, history)
    )
    assert (old.grey_latest_year, new.grey_latest_year) == (2023, 2025)
    assert new.ranges["grey.imports_2023"].base == new.ranges["grey.imports_2023"].high == 9100.0
    paths = np.full((10, 2), 16e6)
    values, market = montecarlo.sample_chunk(new, paths, 500, 0, 0)
    grey = kei_outcomes(new, values, market, np.array([2025, 2026]))["grey_imports"]
    np.testing.assert_allclose(grey[:, 0], 9100.0)  # the curve runs through the new count
