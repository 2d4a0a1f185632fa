import shutil

import pandas as pd
import pytest

from keicast.errors import ConfigError
from keicast.evidence import load_history, load_register, load_tables, read_series, series, verify_quotes

from .conftest import FIXTURES, ROOT, SEEDS

REGISTER = ROOT / "data" / "register.yaml"


@pytest.fixture(scope="module")
def register():
    return load_register(REGISTER)


def test_the_five_figures_the_model_must_use(register):
    a = register.assumptions
    assert a["market.us_new_vehicle_sales"].value == 16_000_000
    assert a["japan.kei_share"].value == pytest.approx(1 / 3, abs=1e-3)
    assert a["market.avg_new_vehicle_price"].value == 50_000
    assert a["policy.section_232_auto_tariff"].value == 0.25
    assert a["kei.target_price"].value == 10_000
    for key in (
        "market.us_new_vehicle_sales",
        "japan.kei_share",
        "market.avg_new_vehicle_price",
        "policy.section_232_auto_tariff",
        "kei.target_price",
    ):
        assert a[key].kind == "article" and a[key].evidence
    # the 25% article figure is kept; imports pay today's rate, with a range that covers the article's
    assert a["policy.import_tariff"].range_low <= 0.25 <= a["policy.import_tariff"].range_high


def test_every_assumption_has_provenance(register):
    for key, a in register.assumptions.items():
        assert a.provenance(), key
        assert a.use, key


def test_quotes_verify_on_small_fixtures():
    small = load_register(FIXTURES / "register_small.yaml")
    checks = verify_quotes(small, FIXTURES / "articles")
    assert [c.ok for c in checks] == [True, True]


def test_a_wrong_quote_or_figure_fails(tmp_path):
    text = (FIXTURES / "register_small.yaml").read_text()
    bad = tmp_path / "register.yaml"
    bad.write_text(
        text.replace('figure: "25%"', 'figure: "30%"').replace("about 16 million vehicles", "about 17 million vehicles")
    )
    checks = {c.key: c for c in verify_quotes(load_register(bad), FIXTURES / "articles")}
    assert not checks["policy.import_tariff"].ok and "not in the quote" in checks["policy.import_tariff"].reason
    assert not checks["market.us_new_vehicle_sales"].ok and "not found" in checks["market.us_new_vehicle_sales"].reason


def test_quotes_are_whitespace_insensitive(tmp_path):
    shutil.copy(FIXTURES / "articles" / "good.txt", tmp_path / "good.txt")
    (tmp_path / "good.txt").write_text((tmp_path / "good.txt").read_text().replace("16 million\n", "16  million \n\n"))
    assert all(c.ok for c in verify_quotes(load_register(FIXTURES / "register_small.yaml"), tmp_path))


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside this checkout")
def test_every_quote_occurs_in_the_source_articles(register):
    failed = [c for c in verify_quotes(register, SEEDS) if not c.ok]
    assert not failed


def test_register_refuses_an_article_figure_without_quote(tmp_path):
    bad = tmp_path / "register.yaml"
    bad.write_text(
        (FIXTURES / "register_small.yaml")
        .read_text()
        .replace(
            '    evidence:\n      - {source: good, figure: "25%", quote: "the tariff on imports stands at 25%"}\n', ""
        )
    )
    with pytest.raises(ConfigError) as info:
        load_register(bad)
    assert "policy.import_tariff" in str(info.value)


def test_reference_units_may_contain_commas():
    frame = read_series(ROOT / "data" / "reference" / "us_new_vehicle_atp_kbb_december.csv")
    assert frame.unit.iloc[0] == "USD (December ATP, nominal)"
    assert frame.set_index("year").value[2025] == 50326


def test_history_loads_every_series_with_its_sources():
    history, sources = load_history(ROOT / "data" / "reference")
    assert len(sources) == len(list((ROOT / "data" / "reference").glob("*.csv")))
    assert all(sources.notes.str.len() > 20)
    us = series(history, "us_light_vehicle_sales_annual")
    assert us.index.min() == 1976 and us.index.max() == 2025


def test_tariff_is_todays_japanese_rate_with_a_range_over_2025(register):
    tables, notes = load_tables(ROOT / "data" / "reference")
    schedule = tables["us_tariff_japan_autos"].sort_values("effective_date")
    a = register.assumptions["policy.import_tariff"]
    assert a.value == schedule.rate.iloc[-1] == 0.15 and schedule.effective_date.iloc[-1] == "2025-09-16"
    assert a.range_low == 0.15 and a.range_high == schedule.rate.max() == 0.275
    assert register.assumptions["policy.tariff_japan_before_2025"].value == schedule.rate.iloc[0]
    assert set(notes.series) >= {"tables/us_tariff_japan_autos", "tables/us_small_car_analogs"}
    assert all(notes.notes.str.len() > 200)


def test_grey_import_counts_match_the_data_file(register):
    history, _ = load_history(ROOT / "data" / "reference")
    imports = series(history, "us_kei_truck_imports_annual")
    assert register.assumptions["grey.imports_2018"].value == imports[2018]
    assert register.assumptions["grey.imports_2023"].value == imports[2023]


def test_japan_share_range_is_the_history_range(register):
    history, _ = load_history(ROOT / "data" / "reference")
    share = series(history, "japan_kei_share_annual") / 100
    a = register.assumptions["japan.kei_share"]
    assert a.low == pytest.approx(share.min(), abs=1e-4) and a.high == pytest.approx(share.max(), abs=1e-4)


def test_malformed_reference_line_names_file_and_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("# source\nyear,value,unit\n2020,abc,units\n")
    with pytest.raises(ConfigError) as info:
        read_series(path)
    assert "x.csv" in str(info.value) and "data line 2" in str(info.value)
    assert isinstance(pd.DataFrame(), pd.DataFrame)


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_infinite_values_and_special_files_in_reference_data_are_refused(tmp_path):
    import os

    path = tmp_path / "x.csv"
    path.write_text("year,value,unit\n2020,inf,units\n")
    with pytest.raises(ConfigError, match="finite value"):
        read_series(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_history(tmp_path)


def test_a_baseline_needs_more_history_than_min_train(tmp_path):
    from keicast.config import load_settings
    from keicast.evidence import baseline_history

    from .conftest import base_config, write_config

    config = base_config(tmp_path)
    config["baseline"]["min_train"] = 60
    settings = load_settings(write_config(tmp_path, config))
    history, _ = load_history(ROOT / "data" / "reference")
    with pytest.raises(ConfigError) as info:
        baseline_history(history, settings)
    problem = info.value.problems[0]
    assert problem.key == "baseline.min_train" and "fewer years than the 50 of" in problem.expected


CLAIM = {
    "path": "/inbox/prices.md",
    "title": "New-car prices ease",
    "publisher": "Test Wire",
    "date": "2026-11-01",
    "text": "$48,000",
    "value": 48_000.0,
    "unit": "USD",
    "family": "usd",
    "sentence": "The average new car price now sits at about $48,000, down from last year.",
}


def test_a_register_edit_is_prepared_without_writing_and_accepting_twice_changes_nothing(tmp_path):
    import shutil

    from keicast.evidence import register_edit

    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    before = register.read_text()
    edit = register_edit(register, CLAIM, "market.avg_new_vehicle_price", "2026-11-23")
    assert register.read_text() == before and "+    value: 48000" in edit.diff()
    edit.write()
    assert load_register(register).assumptions["market.avg_new_vehicle_price"].value == 48_000
    assert register_edit(register, CLAIM, "market.avg_new_vehicle_price", "2026-11-24") is None
    edit.undo()
    assert register.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["register.yaml"]  # no staging file left
