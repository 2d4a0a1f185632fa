"""The article inbox: read each file safely, skip what was seen before, extract and match its claims.

Each file is read by :func:`keicast.article_text.read_article`. Its id is the SHA-256 of its bytes: an
unchanged file is not processed again, a changed file is processed anew (its previous version is marked
superseded) and a copy of an article already seen is recorded as a duplicate. A bad file (empty, binary, too
large, unreadable) is recorded with a clear message and never stops the others.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from keicast.article_text import MAX_ARTICLE_BYTES, read_article
from keicast.claims import MAX_CLAIMS, extract_claims, match_claims
from keicast.inputs import read_bounded
from keicast.register import Register

SUFFIXES = (".txt", ".md", ".html", ".htm")
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
