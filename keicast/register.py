"""The evidence register (data/register.yaml): the source of truth for every figure that can reach a forecast.

Article figures carry their verbatim quotes (the articles are in data/articles/); the model's other
assumptions carry their literature citation, data file or analyst rationale. ``verify_quotes`` checks the
quotes against the article texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keicast.article_text import read_article
from keicast.errors import ConfigError, Problem
from keicast.yamlfile import load_yaml

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")  # an assumption key: dotted lower-case words
Kind = Literal["article", "reference_data", "literature", "analyst"]
Domain = Literal["fraction", "positive", "nonnegative", "negative", "year", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Source(_Strict):
    id: str
    file: str
    folder: str | None = None  # where the article lives when it is not in the folder being checked (data/articles)
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
    return validated_register(load_yaml(Path(path)), path)


def validated_register(raw: Any, path: Path | str) -> Register:
    """``raw`` (parsed YAML) as a Register. Raises ConfigError naming ``path`` and each failing key."""
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
