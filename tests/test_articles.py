"""The article inbox: safe reading of every kind of file, and what a scan processes again."""

import shutil

import pandas as pd
import pytest

from keicast.articles import MAX_ARTICLE_BYTES, pending, read_article, scan
from keicast.evidence import load_register

from .conftest import FIXTURES, ROOT

NO_ARTICLES = pd.DataFrame(columns=["article_id", "path", "status"])


@pytest.fixture(scope="module")
def register():
    return load_register(ROOT / "data" / "register.yaml")


def test_front_matter_is_read_and_removed(tmp_path):
    article = read_article(FIXTURES / "inbox" / "prices.md")
    assert article.status == "processed"
    assert article.meta == {
        "publisher": "Test Wire",
        "title": "New-car prices ease",
        "date": "2026-11-01",
        "url": "https://example.invalid/prices",
    }
    assert article.text.startswith("The average new car price")


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty file"),
        (b"   \n\t\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"a" * (MAX_ARTICLE_BYTES + 1), "too large"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    article = read_article(path)
    assert article.status == "rejected" and reason in article.messages[0]


def test_non_utf8_text_is_read_with_a_message(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Prices now average over $50,000 \u2013 says the caf\u00e9 owner.".encode("cp1252"))
    article = read_article(path)
    assert article.status == "processed" and "not UTF-8" in article.messages[0]
    assert "café" in article.text and "$50,000" in article.text


def test_html_scripts_are_removed_and_the_title_kept(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Kei cars &amp; tariffs</title><script>var x = '$99,999';</script>"
        "<style>p {color: red}</style></head><body><p>A new 25% tariff on imported cars.</p>"
        "<script>alert(1)</script></body></html>"
    )
    article = read_article(path)
    assert article.meta["title"] == "Kei cars & tariffs"
    assert "$99,999" not in article.text and "alert" not in article.text and "25% tariff" in article.text
    assert "removed 2 <script> block(s)" in article.messages


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


def test_front_matter_alias_bomb_is_ignored_at_once(tmp_path):
    bomb = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    path = tmp_path / "bomb.md"
    path.write_text("---\nl0: &l0 [lol]\n" + bomb + "---\nPrices rose 25% this year.\n")
    article = read_article(path)
    assert article.status == "processed" and "aliases" in article.messages[0]
    assert article.text == "Prices rose 25% this year."


def test_claims_per_article_are_capped_with_a_message(tmp_path, register):
    from keicast.claims import MAX_CLAIMS

    (tmp_path / "figures.txt").write_text("A tariff of 25% was set. " * (MAX_CLAIMS + 10))
    articles, claims = scan(tmp_path, register, NO_ARTICLES)
    assert len(claims) == MAX_CLAIMS and f"only the first {MAX_CLAIMS:,} claims" in articles.message.iloc[0]
