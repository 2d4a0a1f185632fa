"""One article file read as text: front matter, HTML, bad files rejected with a reason."""

import pytest

from keicast.article_text import MAX_ARTICLE_BYTES, read_article

from ..conftest import FIXTURES


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


def test_front_matter_alias_bomb_is_ignored_at_once(tmp_path):
    bomb = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    path = tmp_path / "bomb.md"
    path.write_text("---\nl0: &l0 [lol]\n" + bomb + "---\nPrices rose 25% this year.\n")
    article = read_article(path)
    assert article.status == "processed" and "aliases" in article.messages[0]
    assert article.text == "Prices rose 25% this year."
