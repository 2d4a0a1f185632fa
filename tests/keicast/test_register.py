"""The evidence register: the figures the model must use, provenance for every value, quotes verified."""

import shutil

import pytest

from keicast.errors import ConfigError
from keicast.history import load_history, load_tables, series
from keicast.register import load_register, verify_quotes

from ..conftest import FIXTURES, ROOT, SOURCE_ARTICLES

REGISTER = ROOT / "data" / "register.yaml"
REFERENCE = ROOT / "data" / "reference"


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


def test_every_quote_occurs_in_the_source_articles(register):
    """The register's article quotes against the five source articles shipped in data/articles."""
    failed = [c for c in verify_quotes(register, SOURCE_ARTICLES) if not c.ok]
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


def test_grey_import_counts_match_the_data_file(register):
    history, _ = load_history(REFERENCE)
    imports = series(history, "us_kei_truck_imports_annual")
    assert register.assumptions["grey.imports_2018"].value == imports[2018]
    assert register.assumptions["grey.imports_2023"].value == imports[2023]


def test_japan_share_range_is_the_history_range(register):
    history, _ = load_history(REFERENCE)
    share = series(history, "japan_kei_share_annual") / 100
    a = register.assumptions["japan.kei_share"]
    assert a.low == pytest.approx(share.min(), abs=1e-4) and a.high == pytest.approx(share.max(), abs=1e-4)


def test_tariff_is_todays_japanese_rate_with_a_range_over_2025(register):
    tables, notes = load_tables(REFERENCE)
    schedule = tables["us_tariff_japan_autos"].sort_values("effective_date")
    a = register.assumptions["policy.import_tariff"]
    assert a.value == schedule.rate.iloc[-1] == 0.15 and schedule.effective_date.iloc[-1] == "2025-09-16"
    assert a.range_low == 0.15 and a.range_high == schedule.rate.max() == 0.275
    assert register.assumptions["policy.tariff_japan_before_2025"].value == schedule.rate.iloc[0]
    assert set(notes.series) >= {"tables/us_tariff_japan_autos", "tables/us_small_car_analogs"}
    assert all(notes.notes.str.len() > 200)
