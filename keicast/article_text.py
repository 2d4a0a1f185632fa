"""One article file as plain text: read safely, front matter taken apart, HTML reduced to its text.

An article is plain text, Markdown or HTML, optionally opening with YAML front matter between '---' lines
(publisher, title, date, url). Problems with a file become a 'rejected' status or a message, never an
exception, so the inbox scan and the register's quote check can read any file they are given.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from keicast.errors import ConfigError
from keicast.inputs import InputRefused, read_bounded, reason
from keicast.yamlfile import parse_yaml

MAX_ARTICLE_BYTES = 2_000_000
MAX_FRONT_MATTER_CHARS = 20_000  # publisher, title, date and url take a few hundred
FRONT_MATTER_KEYS = ("publisher", "title", "date", "url")


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
