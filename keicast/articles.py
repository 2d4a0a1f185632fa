"""The article inbox: read each file safely, skip what was seen before, extract and match its claims.

An article is plain text, Markdown or HTML, optionally opening with YAML front matter between '---' lines
(publisher, title, date, url). Its id is the SHA-256 of its bytes: an unchanged file is not processed again,
a changed file is processed anew (its previous version is marked superseded) and a copy of an article already
seen is recorded as a duplicate. A bad file (empty, binary, too large, unreadable) is recorded with a clear
message and never stops the others.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from keicast.claims import MAX_CLAIMS, extract_claims, match_claims
from keicast.config import parse_yaml
from keicast.errors import ConfigError
from keicast.evidence import Register
from keicast.inputs import InputRefused, read_bounded, reason

MAX_ARTICLE_BYTES = 2_000_000
MAX_FRONT_MATTER_CHARS = 20_000  # publisher, title, date and url take a few hundred
SUFFIXES = (".txt", ".md", ".html", ".htm")
FRONT_MATTER_KEYS = ("publisher", "title", "date", "url")
ARTICLE_COLUMNS = [
    "article_id",
    "path",
    "title",
    "publisher",
    "date",
    "url",
    "status",
    "message",
    "claims",
    "scanned_at",
]
CLAIM_COLUMNS = [
    "claim_id",
    "article_id",
    "text",
    "value",
    "low",
    "high",
    "unit",
    "family",
    "qualifier",
    "subject",
    "sentence",
    "start_char",
    "end_char",
    "key",
    "status",
    "registered_value",
    "reason",
    "scanned_at",
]


@dataclass
class Article:
    path: Path
    article_id: str
    text: str = ""
    meta: dict = field(default_factory=dict)
    status: str = "processed"
    messages: list[str] = field(default_factory=list)


class _TextOnly(HTMLParser):
    """HTML to text: drops script/style contents, keeps the <title>, breaks lines at block elements."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "header"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.scripts = 0
        self.in_title = False
        self.title = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "noscript"):
            self.skipping += 1
            self.scripts += tag == "script"
        elif tag == "title":
            self.in_title = True
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript"):
            self.skipping = max(0, self.skipping - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        elif not self.skipping:
            self.parts.append(data)


def _front_matter(text: str) -> tuple[dict, str, str | None]:
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", text[: MAX_FRONT_MATTER_CHARS + 16], re.S)
    if not match:
        return {}, text, None
    try:  # the config's loader: no aliases (a 529-byte alias bomb expands to gigabytes), no tags, bounded depth
        raw = parse_yaml(match.group(1), "front matter") or {}
    except ConfigError as exc:
        return {}, text[match.end() :], f"front matter ignored: not plain YAML ({exc.problems[0].value})"
    if not isinstance(raw, dict):
        return {}, text[match.end() :], "front matter ignored: not a mapping"
    meta = {k: str(raw[k]) for k in FRONT_MATTER_KEYS if raw.get(k) is not None}
    unknown = sorted(set(map(str, raw)) - set(FRONT_MATTER_KEYS))
    note = f"front matter keys ignored: {', '.join(unknown)}" if unknown else None
    return meta, text[match.end() :], note


def read_article(path: Path, follow_symlinks: bool = False) -> Article:
    """Read one inbox file; problems become a 'rejected' status or a message, never an exception.

    A symbolic link is not followed (it could bring any readable file on the machine into the claims and
    the published report) and anything but a regular file is refused before it is read.
    """
    path = Path(path)
    try:
        data = read_bounded(path, MAX_ARTICLE_BYTES, follow_symlinks=follow_symlinks)
    except InputRefused as exc:
        return Article(path, f"unreadable:{path.name}", status="rejected", messages=[reason(exc)])
    except OSError as exc:
        return Article(path, f"unreadable:{path.name}", status="rejected", messages=[f"unreadable: {reason(exc)}"])
    article = Article(path, hashlib.sha256(data).hexdigest())
    if not data.strip():
        article.status, article.messages = "rejected", ["empty file"]
        return article
    if b"\x00" in data[:8192]:
        article.status, article.messages = "rejected", ["binary file (NUL bytes), not an article"]
        return article
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        article.messages.append("not UTF-8: read as Windows-1252, unknown bytes replaced")
    meta, text, note = _front_matter(text)
    if note:
        article.messages.append(note)
    if path.suffix.lower() in (".html", ".htm") or re.search(r"<(html|body|p|div)\b", text[:2000], re.I):
        parser = _TextOnly()
        parser.feed(text)
        text = "".join(parser.parts)
        if parser.title.strip():
            meta.setdefault("title", parser.title.strip())
        if parser.scripts:
            article.messages.append(f"removed {parser.scripts} <script> block(s)")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n", text).strip()
    if not text:
        article.status, article.messages = "rejected", article.messages + ["no text left to read"]
    article.text, article.meta = text, meta
    return article


def inbox_files(directory: Path) -> list[Path]:
    """Entries in the inbox with an article's suffix, sorted (links and special files too, to be refused
    with a message by read_article); folders and other names are ignored."""
    return sorted(
        p for p in Path(directory).iterdir() if p.suffix.lower() in SUFFIXES and (p.is_symlink() or not p.is_dir())
    )


def pending(directory: Path, known: pd.DataFrame) -> list[Path]:
    """Inbox files a scan would process: new, changed, or newly unreadable (refused files are recorded once).

    Only hashes bytes (no parsing, no extraction), so a run with nothing new in the inbox skips ingestion.
    """
    current = {(os.path.abspath(p), a) for p, a in zip(known.path, known.article_id, strict=True)}
    waiting = []
    for path in inbox_files(directory):
        try:
            digest = hashlib.sha256(read_bounded(path, MAX_ARTICLE_BYTES, follow_symlinks=False)).hexdigest()
        except OSError:
            digest = f"unreadable:{path.name}"
        if (os.path.abspath(path), digest) not in current:
            waiting.append(path)
    return waiting


def scan(directory: Path, register: Register, known: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New article rows and claim rows for every new or changed file in ``directory``.

    ``known`` holds the articles already in the warehouse (article_id, path, status). Unchanged files (same
    path, same content) are skipped; a copy of a known article becomes a 'duplicate' row without claims.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    seen_ids = dict(zip(known.article_id, known.path, strict=True)) if not known.empty else {}
    # paths recorded relative to the working directory by earlier versions compare equal to absolute ones
    current = {(os.path.abspath(p), a) for p, a in zip(known.path, known.article_id, strict=True)}
    articles, claims = [], []
    for path in inbox_files(directory):
        article = read_article(path)
        if (os.path.abspath(path), article.article_id) in current:
            continue
        if article.status == "processed" and article.article_id in seen_ids:
            article.status = "duplicate"
            article.messages.append(f"same content as {seen_ids[article.article_id]}")
        found = []
        if article.status == "processed":
            found = match_claims(extract_claims(article.text), register)
            if len(found) >= MAX_CLAIMS:
                article.messages.append(f"only the first {MAX_CLAIMS:,} claims were extracted")
            claims += [{**c.record(article.article_id), "scanned_at": now} for c in found]
            seen_ids[article.article_id] = str(path)
        articles.append(
            {
                "article_id": article.article_id,
                "path": str(path),
                "title": article.meta.get("title"),
                "publisher": article.meta.get("publisher"),
                "date": article.meta.get("date"),
                "url": article.meta.get("url"),
                "status": article.status,
                "message": "; ".join(article.messages) or None,
                "claims": len(found),
                "scanned_at": now,
            }
        )
    claim_frame = pd.DataFrame(claims).rename(columns={"start": "start_char", "end": "end_char"})
    return pd.DataFrame(articles, columns=ARTICLE_COLUMNS), claim_frame.reindex(columns=CLAIM_COLUMNS)
