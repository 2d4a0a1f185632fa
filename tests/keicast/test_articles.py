"""The article inbox: a bad file never stops the others, and what a scan processes again."""

import shutil

import pandas as pd
import pytest

from keicast.articles import pending, scan
from keicast.register import load_register

from ..conftest import FIXTURES, ROOT

NO_ARTICLES = pd.DataFrame(columns=["article_id", "path", "status"])


@pytest.fixture(scope="module")
def register():
    return load_register(ROOT / "data" / "register.yaml")


def test_one_bad_article_does_not_stop_the_others(tmp_path, register):
    shutil.copy(FIXTURES / "inbox" / "prices.md", tmp_path / "prices.md")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (tmp_path / "notes.csv").write_text("ignored, not an article suffix")
    articles, claims = scan(tmp_path, register, NO_ARTICLES)
    status = dict(zip(articles.path.map(lambda p: p.rsplit("/", 1)[-1]), articles.status, strict=True))
    assert status == {"binary.txt": "rejected", "empty.txt": "rejected", "prices.md": "processed"}
    assert set(claims.status) == {"contradicts", "confirms"}
    contradiction = claims[claims.status == "contradicts"].iloc[0]
    assert contradiction.key == "market.avg_new_vehicle_price" and contradiction.value == 48_000


def known(articles):
    return articles[["article_id", "path", "status"]]


def test_unchanged_articles_are_not_processed_again_and_copies_are_duplicates(tmp_path, register):
    shutil.copy(FIXTURES / "inbox" / "prices.md", tmp_path / "prices.md")
    first, _ = scan(tmp_path, register, NO_ARTICLES)
    again, claims = scan(tmp_path, register, known(first))
    assert again.empty and claims.empty
    shutil.copy(FIXTURES / "inbox" / "prices.md", tmp_path / "copy.md")
    copy, claims = scan(tmp_path, register, known(first))
    assert list(copy.status) == ["duplicate"] and claims.empty
    assert "same content as" in copy.message.iloc[0]


def test_a_changed_article_is_processed_anew(tmp_path, register):
    path = tmp_path / "prices.md"
    shutil.copy(FIXTURES / "inbox" / "prices.md", path)
    first, _ = scan(tmp_path, register, NO_ARTICLES)
    path.write_text(path.read_text().replace("$48,000", "$52,000"))
    changed, claims = scan(tmp_path, register, known(first))
    assert list(changed.status) == ["processed"] and changed.article_id.iloc[0] != first.article_id.iloc[0]
    assert 52_000 in set(claims.value)


def test_pending_lists_exactly_what_a_scan_would_process(tmp_path, register):
    path = tmp_path / "prices.md"
    shutil.copy(FIXTURES / "inbox" / "prices.md", path)
    assert pending(tmp_path, NO_ARTICLES) == [path]
    first, _ = scan(tmp_path, register, NO_ARTICLES)
    assert pending(tmp_path, known(first)) == []  # nothing new: a run skips ingestion
    path.write_text(path.read_text().replace("$48,000", "$52,000"))
    assert pending(tmp_path, known(first)) == [path]
    (tmp_path / "empty.txt").write_bytes(b"")
    assert (tmp_path / "empty.txt") in pending(tmp_path, known(first))


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_links_and_special_files_in_the_inbox_are_refused_and_recorded_once(tmp_path, register):
    import os

    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("The root password costs $99,999 and 42% of admins know it.")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "leak.txt").symlink_to(secret)
    os.mkfifo(inbox / "pipe.md")
    with open(inbox / "sparse.txt", "wb") as handle:
        handle.truncate(6 * 2**30)
    articles, claims = scan(inbox, register, NO_ARTICLES)
    reasons = dict(zip(articles.path.map(lambda p: p.rsplit("/", 1)[-1]), articles.message, strict=True))
    assert "symbolic link, not followed" in reasons["leak.txt"]
    assert "not a regular file" in reasons["pipe.md"]
    assert "too large: 6,442,450,944 bytes" in reasons["sparse.txt"]
    assert set(articles.status) == {"rejected"} and claims.empty
    assert pending(inbox, known(articles)) == []  # refused once, not again at every run


def test_claims_per_article_are_capped_with_a_message(tmp_path, register):
    from keicast.claims import MAX_CLAIMS

    (tmp_path / "figures.txt").write_text("A tariff of 25% was set. " * (MAX_CLAIMS + 10))
    articles, claims = scan(tmp_path, register, NO_ARTICLES)
    assert len(claims) == MAX_CLAIMS and f"only the first {MAX_CLAIMS:,} claims" in articles.message.iloc[0]
