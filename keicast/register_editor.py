"""Accepting a claim into the register: a round-trip edit of data/register.yaml (comments kept), validated
before anything is written, written by one atomic, durable rename and undone the same way.

A write goes to a staging file in the register's folder, is fsynced, renamed over the register and the folder
is fsynced: a process killed at any instant leaves the old register or the new one, never a mix, and the new
one survives a power cut once ``write`` returns. A staging file left by a killed process is removed by the next
accept (accepts are serialised by the warehouse's run lock).
"""

from __future__ import annotations

import difflib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from keicast.claims import REGISTER_UNITS, unit_family
from keicast.errors import ConfigError, KeicastError, Problem
from keicast.register import KEY_PATTERN, validated_register
from keicast.yamlfile import parse_yaml, read_yaml_bytes


def _quote_around(sentence: str, figure: str, width: int = 160) -> str:
    """A verbatim window of the sentence around the figure, cut at word boundaries."""
    at = sentence.find(figure)
    if len(sentence) <= 2 * width or at < 0:
        return sentence
    start, end = max(0, at - width), min(len(sentence), at + len(figure) + width)
    while start > 0 and sentence[start - 1] != " ":
        start += 1
    while end < len(sentence) and sentence[end] != " ":
        end -= 1
    return sentence[start:end].strip()


@dataclass(frozen=True)
class RegisterEdit:
    """A prepared, validated change to the register: written by one atomic rename, undone the same way."""

    path: Path
    before: str
    after: str

    def diff(self) -> str:
        name = str(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True), name, name))

    def write(self) -> None:
        """Replace the register with the edit, refusing if the file changed since the edit was prepared (an
        editor saved it meanwhile: its change would be lost)."""
        if read_yaml_bytes(self.path).decode("utf-8") != self.before:
            raise KeicastError(
                f"{self.path} changed while the claim was being accepted; nothing was changed: "
                "run the same command again"
            )
        replace_text(self.path, self.after)

    def undo(self) -> None:
        replace_text(self.path, self.before)


STAGING_SUFFIX = ".new"


def _staging_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*{STAGING_SUFFIX}"))


def remove_stale_staging(path: Path) -> None:
    """Remove staging files a killed write left beside ``path``; call only while holding the run lock."""
    for stale in _staging_files(Path(path)):
        stale.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably (staging file, fsync, rename, fsync of the folder)."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}{STAGING_SUFFIX}")
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(staging, path)
        _fsync_folder(path.parent)  # the rename itself survives a power cut
    finally:
        staging.unlink(missing_ok=True)


def _claim_source(doc, claim: dict) -> dict:
    """The register source of the claim's article, added when the article is new to the register."""
    file_name = Path(claim["path"]).name
    source = next((s for s in doc["sources"] if s["file"] == file_name), None)
    if source is not None:
        return source
    source_id = re.sub(r"[^a-z0-9_]+", "_", Path(file_name).stem.lower()).strip("_") or "article"
    ids = {s["id"] for s in doc["sources"]}
    while source_id in ids:
        source_id += "_1"
    folder = Path(claim["path"]).parent
    if folder.is_absolute() and folder.is_relative_to(Path.cwd()):
        folder = Path(os.path.relpath(folder))  # the register is committed: no machine-specific paths in it
    source = {
        "id": source_id,
        "file": file_name,
        "folder": str(folder),
        "publisher": claim.get("publisher"),
        "headline": claim.get("title"),
        "date": claim.get("date"),
    }
    doc["sources"].append(source)
    return source


def register_edit(register_path: Path, claim: dict, key: str, today: str, new: bool = False) -> RegisterEdit | None:
    """The register with a claim added as evidence for ``key`` (existing, or new when ``new``), validated but not
    written; None when the claim is already evidence for that key (accepting twice changes nothing). An unknown
    key without ``new`` is refused with the nearest existing key: a typo must not become a register entry.

    ``claim`` is a claims row joined with its article's path, title, publisher and date. An existing key takes
    the claim's value (its range widened to include it) and the claim's quote first; a new key becomes a
    context-only article figure. The file is edited round-trip (comments kept).
    """
    register_path = Path(register_path)
    before = read_yaml_bytes(register_path).decode("utf-8")
    yaml_rt = _round_trip_yaml()
    doc = yaml_rt.load(before)
    source = _claim_source(doc, claim)
    evidence = {
        "source": source["id"],
        "figure": claim["text"],
        "quote": _quote_around(claim["sentence"], claim["text"]),
    }
    entries = doc["assumptions"]
    if key not in entries:
        if not new:
            close = difflib.get_close_matches(key, list(entries), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError([Problem("--key", "", key, f"a register key{hint}; add --new to create this key")])
        entries[key] = _new_entry(key, claim, evidence, today)
    elif not _update_entry(entries[key], key, claim, evidence, today):
        return None
    doc["version"] = int(doc["version"]) + 1
    buffer = io.StringIO()
    yaml_rt.dump(doc, buffer)
    after = buffer.getvalue()
    validated_register(parse_yaml(after, str(register_path)), register_path)  # nothing written if invalid
    return RegisterEdit(register_path, before, after)


def _round_trip_yaml():
    """A ruamel.yaml round-trip loader/dumper that keeps comments, quotes and long lines as they are."""
    from ruamel.yaml import YAML  # imported here: only accepting a claim needs it

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    yaml_rt.indent(mapping=2, sequence=4, offset=2)  # the register's own layout: "  - id: ..." under sources
    yaml_rt.representer.add_representer(  # "null" as written, not an empty value
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml_rt


def _update_entry(entry, key: str, claim: dict, evidence: dict, today: str) -> bool:
    """Put the claim's value and quote first in an existing key, widening its range; False if already there."""
    if any(dict(ev) == evidence for ev in entry.get("evidence") or []):
        return False
    if unit_family(str(entry["unit"])) != claim["family"]:
        raise ConfigError(
            [
                Problem(
                    "--key",
                    "",
                    key,
                    f"a key whose unit fits the claim's ({claim['family']}); {key} is in {entry['unit']}",
                )
            ]
        )
    previous = entry["value"]
    entry["value"] = claim["value"]
    if "low" in entry and claim["value"] < entry["low"]:
        entry["low"] = claim["value"]
    if "high" in entry and claim["value"] > entry["high"]:
        entry["high"] = claim["value"]
    entry.setdefault("evidence", [])
    entry["evidence"].insert(0, evidence)
    note = f"Accepted {claim['text']!r} from {Path(claim['path']).name} on {today} (was {previous})."
    entry["rationale"] = f"{entry['rationale']} {note}" if entry.get("rationale") else note
    return True


def _new_entry(key: str, claim: dict, evidence: dict, today: str) -> dict:
    """A new context-only article figure for the claim, in the register's unit for its family."""
    if not KEY_PATTERN.match(key):
        raise ConfigError([Problem("--key", "", key, "a key of lower-case words joined by dots ([a-z0-9_.] only)")])
    unit, domain = REGISTER_UNITS.get(claim["family"], (claim["unit"], "any"))
    return {
        "kind": "article",
        "value": claim["value"],
        "unit": unit,
        "domain": domain,
        "use": f"context only (accepted from {Path(claim['path']).name} on {today})",
        "evidence": [evidence],
    }
