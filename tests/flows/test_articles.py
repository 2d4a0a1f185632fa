"""The article flow on a temporary inbox: claims recorded once, nothing scanned twice, an empty inbox a no-op."""

import shutil

import pytest

from flows.articles import keicast_articles
from keicast.config import RunRequest

from ..conftest import ROOT, base_config, query_warehouse, write_config

CLAIMS = 3  # tests/fixtures/inbox/prices.md: a price, a share and a tariff
INBOX = ROOT / "tests" / "fixtures" / "inbox"


@pytest.fixture
def project(prefect_server, tmp_path):
    """A project whose register is a copy and whose inbox holds the fixture articles; returns its request."""
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    shutil.copytree(INBOX, tmp_path / "articles")
    config = base_config(tmp_path, register_file=str(register), articles_dir=str(tmp_path / "articles"))
    return RunRequest(config_path=str(write_config(tmp_path, config)))


def test_the_inbox_is_scanned_and_its_claims_recorded_once(project, tmp_path):
    summary = keicast_articles(project)
    assert summary == {
        "inbox": str(tmp_path / "articles"), "new_or_changed": 1, "claims": CLAIMS, "not_processed": [],
    }  # fmt: skip
    stored = query_warehouse(tmp_path, "select text, status from claims order by text")
    assert len(stored) == CLAIMS and {"$48,000", "25%"} <= set(stored.text)
    again = keicast_articles(project)
    assert (again["new_or_changed"], again["claims"]) == (0, 0)
    assert len(query_warehouse(tmp_path, "select * from claims")) == CLAIMS


def test_a_file_that_is_not_an_article_is_reported(project, tmp_path):
    (tmp_path / "articles" / "empty.txt").write_text("")
    summary = keicast_articles(project)
    assert summary["new_or_changed"] == 1
    empty = {"path": str(tmp_path / "articles" / "empty.txt"), "status": "rejected", "message": "empty file"}
    assert summary["not_processed"] == [empty]


def test_another_directory_can_be_scanned(project, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    summary = keicast_articles(project, directory=str(other))
    assert summary == {"inbox": str(other), "new_or_changed": 0, "claims": 0, "not_processed": []}


def test_a_missing_inbox_returns_zeros_and_writes_nothing(project, tmp_path):
    shutil.rmtree(tmp_path / "articles")
    summary = keicast_articles(project)
    assert summary == {"inbox": str(tmp_path / "articles"), "new_or_changed": 0, "claims": 0, "not_processed": []}
    assert not (tmp_path / "warehouse.duckdb").exists()
