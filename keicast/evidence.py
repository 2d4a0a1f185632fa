"""The evidence register (data/register.yaml) and the reference history (data/reference/*.csv).

The register is the source of truth for every figure that can reach a forecast: article figures with their
verbatim quotes, and the model's other assumptions with their literature citation, data file or analyst
rationale. ``verify_quotes`` checks the quotes against the article texts.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keicast.errors import ConfigError, Problem
from keicast.inputs import read_bounded, reason

Kind = Literal["article", "reference_data", "literature", "analyst"]
Domain = Literal["fraction", "positive", "nonnegative", "negative", "year", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Source(_Strict):
    id: str
    file: str
    folder: str | None = None  # where the article lives when it is not among the seed articles
    publisher: str | None = None
    headline: str | None = None
    date: str | None = None


class Evidence(_Strict):
    source: str
    figure: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class Assumption(_Strict):
    kind: Kind
    value: float
    low: float | None = None
    high: float | None = None
    unit: str
    domain: Domain
    use: str
    evidence: list[Evidence] = []
    citation: str | None = None
    rationale: str | None = None

    @model_validator(mode="after")
    def _provenance(self):
        if self.kind == "article" and not self.evidence:
            raise ValueError("an article figure needs at least one evidence quote")
        if self.kind == "literature" and not self.citation:
            raise ValueError("a literature assumption needs a citation")
        if self.kind in ("reference_data", "analyst") and not self.rationale:
            raise ValueError(f"a {self.kind} assumption needs a written rationale")
        if not (self.range_low <= self.value <= self.range_high):
            raise ValueError(f"low <= value <= high does not hold ({self.low}, {self.value}, {self.high})")
        return self

    @property
    def range_low(self) -> float:
        return self.value if self.low is None else self.low

    @property
    def range_high(self) -> float:
        return self.value if self.high is None else self.high

    def domain_violation(self, number: float) -> str | None:
        """Why ``number`` cannot be a value of this assumption, or None."""
        checks = {
            "fraction": (0 <= number <= 1, "a fraction in [0, 1]"),
            "positive": (number > 0, "a number > 0"),
            "nonnegative": (number >= 0, "a number >= 0"),
            "negative": (number < 0, "a number < 0"),
            "year": (1900 <= number <= 2100, "a year between 1900 and 2100"),
            "any": (True, ""),
        }
        ok, expected = checks[self.domain]
        return None if ok else f"{expected} ({self.unit})"

    def provenance(self) -> str:
        """One line saying where the value comes from."""
        if self.kind == "article":
            return self.evidence[0].source
        return self.citation or self.rationale or ""


class Register(_Strict):
    version: int
    sources: list[Source]
    assumptions: dict[str, Assumption]

    @model_validator(mode="after")
    def _sources_known(self):
        ids = {s.id for s in self.sources}
        for key, a in self.assumptions.items():
            for ev in a.evidence:
                if ev.source not in ids:
                    raise ValueError(f"{key}: evidence names unknown source {ev.source!r}")
        return self

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)


def load_register(path: Path) -> Register:
    """Load and validate the register. Raises ConfigError naming the file and key."""
    from keicast.config import load_yaml

    return _validated_register(load_yaml(Path(path)), path)


def _validated_register(raw, path: Path | str) -> Register:
    try:
        return Register.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            [Problem(str(path), ".".join(str(p) for p in e["loc"]), e.get("input"), e["msg"]) for e in exc.errors()]
        ) from None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class QuoteCheck:
    key: str
    source: str
    figure: str
    ok: bool
    reason: str


def verify_quotes(register: Register, articles_dir: Path) -> list[QuoteCheck]:
    """Each quote must occur in its article (whitespace-insensitive) and contain its figure."""
    checks = []
    texts: dict[str, str | None] = {}
    from keicast.articles import read_article

    for s in register.sources:
        path = Path(articles_dir) / s.file
        if not path.is_file() and s.folder:
            path = Path(s.folder) / s.file
        texts[s.id] = _squash(read_article(path, follow_symlinks=True).text) if path.is_file() else None
    for key, a in register.assumptions.items():
        for ev in a.evidence:
            text = texts.get(ev.source)
            quote = _squash(ev.quote)
            if text is None:
                ok, reason = False, f"article file {register.source(ev.source).file} not found in {articles_dir}"
            elif quote not in text:
                ok, reason = False, "quote not found in the article text"
            elif _squash(ev.figure) not in quote:
                ok, reason = False, f"figure {ev.figure!r} not in the quote"
            else:
                ok, reason = True, "ok"
            checks.append(QuoteCheck(key, ev.source, ev.figure, ok, reason))
    return checks


# ---------------------------------------------------------------------------------------------- history
MAX_REFERENCE_BYTES = 10_000_000  # the largest reference series is about 2 KB; 10 MB is a mistake or an attack


def _reference_text(path: Path) -> str:
    """A reference file's text (regular file, size-limited, UTF-8). Raises ConfigError."""
    try:
        return read_bounded(path, MAX_REFERENCE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = reason(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([Problem(str(path), "", str(path), f"a readable reference CSV file ({why})")]) from None


def read_series(path: Path, text: str | None = None) -> pd.DataFrame:
    """One reference file as (year, value, unit); '#' header lines are the source notes."""
    text = _reference_text(path) if text is None else text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines or lines[0].split(",")[:3] != ["year", "value", "unit"]:
        raise ConfigError([Problem(str(path), "header", lines[:1], "a first data line 'year,value,unit'")])
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split(",", 2)  # the unit may itself contain commas
        try:
            row = (int(parts[0]), float(parts[1]), parts[2].strip() if len(parts) > 2 else "")
        except (ValueError, IndexError):
            row = None
        if row is None or not math.isfinite(row[1]):
            raise ConfigError([Problem(str(path), f"data line {number}", line, "year,value,unit with a finite value")])
        rows.append(row)
    return pd.DataFrame(rows, columns=["year", "value", "unit"])


def source_notes(text: str) -> str:
    """The '#' source lines of a reference file's text, kept verbatim."""
    lines = text.splitlines(keepends=True)
    return "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines if line.startswith("#"))


def load_history(reference_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All reference series in long form (series, year, value, unit) and their sources (series, file, notes)."""
    frames, sources = [], []
    for path in sorted(Path(reference_dir).glob("*.csv")):
        text = _reference_text(path)
        frame = read_series(path, text)
        frame.insert(0, "series", path.stem)
        frames.append(frame)
        sources.append({"series": path.stem, "file": str(path), "notes": source_notes(text)})
    if not frames:
        raise ConfigError([Problem(str(reference_dir), "", str(reference_dir), "a folder of reference *.csv files")])
    history = pd.concat(frames, ignore_index=True)
    history["year"] = history["year"].astype(int)
    history["value"] = history["value"].astype(float)
    return history, pd.DataFrame(sources)


def series(history: pd.DataFrame, name: str) -> pd.Series:
    """One history series as a year-indexed Series."""
    part = history[history.series == name]
    return part.set_index("year")["value"].sort_index()


def baseline_history(history: pd.DataFrame, settings) -> pd.Series:
    """The baseline series before the horizon, long enough for ``baseline.min_train`` plus one year to test
    on. Raises ConfigError naming the setting and the years available."""
    cfg, start = settings.config.baseline, settings.run.horizon.start
    y = series(history, cfg.series)
    y = y[y.index < start]
    if len(y) <= cfg.min_train:
        raise ConfigError(
            [
                Problem(
                    settings.config_path,
                    "baseline.min_train",
                    cfg.min_train,
                    f"fewer years than the {len(y)} of {cfg.series} before {start} (one must be left to test on)",
                )
            ]
        )
    return y


TABLES_DIR = "tables"  # reference tables that are not year,value,unit series (data/reference/tables/*.csv)


def read_table(path: Path) -> pd.DataFrame:
    """A reference table with its own columns; '#' header lines are the source notes."""
    try:
        frame = pd.read_csv(io.StringIO(_reference_text(path)), comment="#", skip_blank_lines=True)
    except ValueError as exc:
        raise ConfigError([Problem(str(path), "", str(path), f"a readable CSV table ({exc})")]) from None
    if frame.empty or frame.isna().any().any():
        raise ConfigError([Problem(str(path), "rows", len(frame), "a non-empty table with no missing cells")])
    return frame


def load_tables(reference_dir: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Reference tables by name and their sources (series 'tables/<name>', file, notes)."""
    paths = sorted((Path(reference_dir) / TABLES_DIR).glob("*.csv"))
    notes = [
        {"series": f"{TABLES_DIR}/{p.stem}", "file": str(p), "notes": source_notes(_reference_text(p))} for p in paths
    ]
    return {p.stem: read_table(p) for p in paths}, pd.DataFrame(notes, columns=["series", "file", "notes"])


# ---------------------------------------------------------------------------------------------- accepting claims
REGISTER_UNITS = {
    "usd": ("USD", "positive"),
    "fraction": ("fraction", "fraction"),
    "count": ("vehicles", "positive"),
    "cc": ("cc", "positive"),
    "hp": ("hp", "positive"),
    "mph": ("mph", "positive"),
    "years": ("years", "positive"),
    "year": ("model year", "year"),
    "tons": ("tons", "positive"),
    "feet": ("feet", "positive"),
    "lanes": ("lanes", "positive"),
}


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
        import difflib

        name = str(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True), name, name))

    def write(self) -> None:
        _replace_text(self.path, self.after)

    def undo(self) -> None:
        _replace_text(self.path, self.before)


def _replace_text(path: Path, text: str) -> None:
    import os

    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _claim_source(doc, claim: dict) -> dict:
    """The register source of the claim's article, added when the article is new to the register."""
    import os

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


def register_edit(register_path: Path, claim: dict, key: str, today: str) -> RegisterEdit | None:
    """The register with a claim added as evidence for ``key`` (new or existing), validated but not written;
    None when the claim is already evidence for that key (accepting twice changes nothing).

    ``claim`` is a claims row joined with its article's path, title, publisher and date. An existing key takes
    the claim's value (its range widened to include it) and the claim's quote first; a new key becomes a
    context-only article figure. The file is edited round-trip (comments kept).
    """
    import io

    from ruamel.yaml import YAML

    from keicast.claims import unit_family
    from keicast.config import KEY_PATTERN, _read_config

    register_path = Path(register_path)
    before = _read_config(register_path).decode("utf-8")
    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    doc = yaml_rt.load(before)
    file_name = Path(claim["path"]).name
    source = _claim_source(doc, claim)
    evidence = {
        "source": source["id"],
        "figure": claim["text"],
        "quote": _quote_around(claim["sentence"], claim["text"]),
    }
    entries = doc["assumptions"]
    if key in entries:
        entry = entries[key]
        if any(dict(ev) == evidence for ev in entry.get("evidence") or []):
            return None
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
        note = f"Accepted {claim['text']!r} from {file_name} on {today} (was {previous})."
        entry["rationale"] = f"{entry['rationale']} {note}" if entry.get("rationale") else note
    else:
        if not KEY_PATTERN.match(key):
            raise ConfigError([Problem("--key", "", key, "a key of lower-case words joined by dots ([a-z0-9_.] only)")])
        unit, domain = REGISTER_UNITS.get(claim["family"], (claim["unit"], "any"))
        entries[key] = {
            "kind": "article",
            "value": claim["value"],
            "unit": unit,
            "domain": domain,
            "use": f"context only (accepted from {file_name} on {today})",
            "evidence": [evidence],
        }
    doc["version"] = int(doc["version"]) + 1
    buffer = io.StringIO()
    yaml_rt.dump(doc, buffer)
    after = buffer.getvalue()
    from keicast.config import parse_yaml

    _validated_register(parse_yaml(after, str(register_path)), register_path)  # nothing written if invalid
    return RegisterEdit(register_path, before, after)
