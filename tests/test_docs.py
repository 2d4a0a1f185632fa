"""The README is a newcomer's page; the reference lives in docs/, and its schema page is generated."""

from keicast import warehouse

from .conftest import ROOT


def test_the_schema_page_is_current():
    page = (ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    assert page == warehouse.schema_page(), "docs/warehouse.md is stale: run `make docs`"


def test_every_warehouse_column_is_on_the_schema_page():
    page = warehouse.schema_page()
    for table in warehouse.RUN_TABLES:
        assert f"## `{table}`" in page
    assert "| crps | double | mean over hold-out years, over the mean actual |" in page


def test_the_readme_is_short_and_links_every_reference_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in readme, page.name
