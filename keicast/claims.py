"""Quantitative claims in article text, and how each one relates to the evidence register.

Extraction combines rules of our own, for what general quantity parsers get wrong in this domain (dollar
amounts with k/million, percentages, fractions in words, "16 million", hyphenated counts such as "six-lane",
ranges, and the qualifiers over/under/nearly/about that must be kept, not lost), with quantulum3 for
physical units (cc, hp, mph, feet, tons, years), normalised with pint. Matching compares a claim with every
register key of the same unit family, scoring the words around the claim against the key's own words and
quotes (nearer words count more), then compares values: confirms, contradicts, or new.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from keicast import formatting
from keicast.register import Register

QUALIFIERS = (
    "more than",
    "less than",
    "at least",
    "at most",
    "up to",
    "older than",
    "over",
    "under",
    "nearly",
    "about",
    "around",
    "almost",
    "roughly",
    "approximately",
    "below",
    "above",
    "some",
    "max out around",
)
FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1}
WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "twenty": 20,
}
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
)
STOPWORDS = set(
    """a an the of to in on for and or but with by at from as is are was were be been being it its this
that these those their they them he she his her we our you your i not no if than then so such can could would should
may might will just also only very more most less into out up down over under about after before while which who whom
what when where why how all any each other some there here have has had do does did said says""".split()
)
# Unit family -> the register's unit and domain for it (a key accepted from a claim gets these). A claim
# matches register keys of its own family only: a register unit belongs to the family whose unit it starts with.
REGISTER_UNITS = {
    "usd": ("USD", "positive"),
    "fraction": ("fraction", "fraction"),
    "count": ("vehicles", "positive"),
    "cc": ("cc", "positive"),
    "hp": ("hp", "positive"),
    "mph": ("mph", "positive"),
    "year": ("model year", "year"),
    "years": ("years", "positive"),
    "tons": ("tons", "positive"),
    "feet": ("feet", "positive"),
    "lanes": ("lanes", "positive"),
}
UNIT_FAMILIES = tuple((unit.lower(), family) for family, (unit, _) in REGISTER_UNITS.items())
TOLERANCE = 0.01  # relative difference still counted as the same figure (rounding in print)
MAX_CLAIMS = 1_000  # per article: a news article quotes tens of figures; more is not an article to review by hand
MAX_PIECE_CHARS = 2_000  # text handed to quantulum at once: its unit disambiguation rescans all of it per unit
CONTEXT_WORDS = 50  # words each side of a claim used to match it (weights fall as 1 / (1 + d / 2))


@dataclass
class Claim:
    """One quantitative figure in an article, with where it stands and what it says."""

    text: str
    value: float
    unit: str
    family: str
    start: int
    end: int
    sentence: str = ""
    qualifier: str | None = None
    low: float | None = None
    high: float | None = None
    subject: str = ""
    context: list[tuple[str, int]] = field(default_factory=list, repr=False)
    key: str | None = None
    status: str = "new"
    registered_value: float | None = None
    reason: str = ""

    def claim_id(self, article_id: str) -> str:
        return hashlib.sha256(f"{article_id}:{self.start}:{self.end}:{self.text}".encode()).hexdigest()[:12]

    def record(self, article_id: str) -> dict:
        row = {k: v for k, v in asdict(self).items() if k != "context"}
        return {"claim_id": self.claim_id(article_id), "article_id": article_id, **row}


# ---------------------------------------------------------------------------------------------- rules
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WORDNUM = "|".join(sorted(WORD_NUMBERS, key=len, reverse=True))
_RULES: list[tuple[str, re.Pattern]] = [
    (
        "usd_range",
        re.compile(
            rf"\$\s?(?P<a>{_NUM})\s?(?P<sa>k|thousand|million|billion|bn)?\s?(?:-|–|to)\s?\$?\s?"
            rf"(?P<b>{_NUM})\s?(?P<sb>k|thousand|million|billion|bn)?\b",
            re.I,
        ),
    ),
    ("usd", re.compile(rf"\$\s?(?P<a>{_NUM})(?:\s?(?P<sa>k|thousand|million|billion|bn)\b)?", re.I)),
    ("percent", re.compile(rf"(?P<a>{_NUM})\s?(?:%|percent\b|per cent\b)", re.I)),
    ("fraction", re.compile(rf"\b(?:(?P<n>{_WORDNUM})[- ])?(?P<f>half|third|quarter|fifth|tenth)s?\b", re.I)),
    ("scaled", re.compile(rf"\b(?P<a>{_NUM})\s?(?P<sa>thousand|million|billion)\b", re.I)),
    (
        "hyphen_count",
        re.compile(rf"\b(?P<a>{_NUM}|{_WORDNUM})-(?P<u>lane|row|seat|door|ton|year|foot|inch|mile)s?\b", re.I),
    ),
]
_HYPHEN_UNITS = {
    "lane": "lanes",
    "row": "rows",
    "seat": "seats",
    "door": "doors",
    "ton": "tons",
    "year": "years",
    "foot": "feet",
    "inch": "inches",
    "mile": "miles",
}  # noun -> unit (= family)
# quantulum3 entity/unit -> (canonical pint unit, unit shown, family)
_PHYSICAL = {
    "cubic centimetre": ("cm ** 3", "cc", "cc"),
    "horsepower": ("horsepower", "hp", "hp"),
    "mile per hour": ("mile/hour", "mph", "mph"),
    "kilometre per hour": ("mile/hour", "mph", "mph"),
    "foot": ("foot", "feet", "feet"),
    "metre": ("foot", "feet", "feet"),
    "inch": ("foot", "feet", "feet"),
    "ton": ("ton", "tons", "tons"),
    "tonne": ("ton", "tons", "tons"),
    "kilogram": ("ton", "tons", "tons"),
    "pound-mass": ("ton", "tons", "tons"),  # pint: "pound"
    "year": ("year", "years", "years"),
    "litre": ("cm ** 3", "cc", "cc"),
}


# A number (digits or a number word) and, for physical quantities, the unit words that may follow it.
_NUMBER = re.compile(
    r"(?<![\w.,/])(?:(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d/])|(?:"
    + "|".join(w for w in sorted(WORD_NUMBERS, key=len, reverse=True) if len(w) > 2)
    + r")\b)",
    re.I,
)
_UNIT_AFTER = re.compile(
    r"[\s-]{0,3}(?:cc|cm3|cubic|c\.c\.|hp|bhp|horsepower|horse|mph|miles?|km/h|kmh|kph|kilomet\w*|ft|feet|foot|"
    r"m|metres?|meters?|in|inch\w*|tons?|tonnes?|t|kg|kilograms?|lbs?|pounds?|years?|yrs?|l|litres?|liters?)\b",
    re.I,
)
UNIT_WINDOW = 40  # characters after a number handed to quantulum: the unit and its qualifiers


def _number(text: str) -> float:
    text = text.lower()
    return float(WORD_NUMBERS[text]) if text in WORD_NUMBERS else float(text.replace(",", ""))


def _scaled(number: str, scale: str | None) -> float:
    return _number(number) * (SCALES[scale.lower()] if scale else 1.0)


class _Taken:
    """Disjoint spans already claimed: an overlap test and an insert in O(log n), not a scan of all of them."""

    def __init__(self, spans: list[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in spans:
            self.add(start, end)

    def free(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return (i == 0 or self.ends[i - 1] <= start) and (i == len(self.starts) or self.starts[i] >= end)

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


def _rule_claims(text: str) -> list[Claim]:
    claims: list[Claim] = []
    taken = _Taken()
    for kind, pattern in _RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            if not taken.free(start, end):
                continue
            g = m.groupdict()
            if kind == "usd_range":
                low, high = _scaled(g["a"], g["sa"] or g["sb"]), _scaled(g["b"], g["sb"])
                claim = Claim(m.group(0), (low + high) / 2, "USD", "usd", start, end, low=low, high=high)
            elif kind == "usd":
                claim = Claim(m.group(0), _scaled(g["a"], g["sa"]), "USD", "usd", start, end)
            elif kind == "percent":
                claim = Claim(m.group(0), _number(g["a"]) / 100, "fraction", "fraction", start, end)
            elif kind == "fraction":
                count = _number(g["n"]) if g["n"] else 1.0
                claim = Claim(m.group(0), count * FRACTIONS[g["f"].lower()], "fraction", "fraction", start, end)
            elif kind == "scaled":
                claim = Claim(m.group(0), _scaled(g["a"], g["sa"]), "count", "count", start, end)
            else:
                unit = _HYPHEN_UNITS[g["u"].lower()]
                claim = Claim(m.group(0), _number(g["a"]), unit, unit, start, end)
            claims.append(claim)
            taken.add(start, end)
    return claims


@lru_cache(maxsize=1)
def _units():
    import pint

    return pint.UnitRegistry()


def _convert(value: float, quantulum_name: str, target: str) -> float:
    """``value`` in quantulum's unit converted to ``target`` with pint (the value as printed if pint cannot)."""
    expression = {"pound-mass": "pound", "cubic centimetre": "cm ** 3"}.get(quantulum_name, quantulum_name)
    expression = expression.replace(" per ", " / ")
    try:
        units = _units()
        return float(units.Quantity(value, units.parse_units(expression)).to(target).magnitude)
    except Exception:  # noqa: BLE001 - pint raises several types for unknown names
        return value


@lru_cache(maxsize=4096)
def _quantulum(window: str) -> tuple[tuple[int, int, str, float], ...]:
    """quantulum3's quantities in a short window: (start, end, unit name, value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from quantulum3 import parser

        return tuple((*q.span, q.unit.name, float(q.value)) for q in parser.parse(window))


def _year_or_count(text: str, m: re.Match) -> Claim | None:
    """A bare four-digit year (not a decade or part of a date), or a number word and the noun it counts."""
    start, end, surface = m.start(), m.end(), m.group(0)
    if surface[0].isdigit():
        before = text[max(0, start - 12) : start].lower()
        if not re.fullmatch(r"\d{4}", surface) or not 1900 <= int(surface) <= 2100:
            return None
        if text[end : end + 1] in ("s", "-", "%") or any(mo in before for mo in MONTHS):
            return None  # a decade ("1960s"), a range, part of a date ("December 3, 2025")
        if re.search(r"\d{1,2},\s*$", before):
            return None
        return Claim(surface, float(surface), "model year", "year", start, end)
    following = re.match(r"\W*(\w+)", text[end : end + 40])
    noun = following.group(1).lower() if following else ""
    if surface.lower() == "one":
        return None  # "one thing", "one of them": a pronoun far more often than a count
    if noun and noun not in STOPWORDS and not surface[0].isupper() and not noun.isdigit():
        return Claim(f"{surface} {noun}", WORD_NUMBERS[surface.lower()], noun, noun, start, end + 1 + len(noun))
    return None


def _unit_claims(text: str, taken: _Taken) -> list[Claim]:
    """Physical quantities (quantulum3 on a short window after each number followed by a unit word; pint
    converts), bare years, and number words with their noun. Each number costs O(1): quantulum is never handed
    more than the number and the words after it."""
    claims = []
    for m in _NUMBER.finditer(text):
        if not taken.free(m.start(), m.end()):
            continue
        if not _UNIT_AFTER.match(text, m.end()):
            claim = _year_or_count(text, m)
            if claim is not None and taken.free(claim.start, claim.end):
                claims.append(claim)
            continue
        window = text[m.start() : m.end() + UNIT_WINDOW]
        for start, end, name, number in _quantulum(window):
            if start != 0 or name not in _PHYSICAL:
                continue
            target, shown, family = _PHYSICAL[name]
            value = _convert(number, name, target)
            claims.append(Claim(window[start:end], value, shown, family, m.start() + start, m.start() + end))
            taken.add(m.start() + start, m.start() + end)
    return claims


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z“\"‘(])|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        bounds.append((start, m.start() + 1))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


def _pieces(text: str) -> Iterator[tuple[int, int, list[tuple[int, int]]]]:
    """Consecutive runs of whole sentences of at most MAX_PIECE_CHARS, with their sentences; a longer sentence
    is cut at spaces into pieces of its own. Everything extraction does per claim looks only inside a piece,
    which is what keeps it linear in the article's length."""
    start, sentences = None, []
    for a, b in _sentences(text):
        if start is not None and b - start > MAX_PIECE_CHARS:
            yield start, sentences[-1][1], sentences
            start, sentences = None, []
        while b - a > MAX_PIECE_CHARS:
            cut = text.rfind(" ", a + 1, a + MAX_PIECE_CHARS)
            cut = cut if cut > a else a + MAX_PIECE_CHARS
            yield a, cut, [(a, cut)]
            a = cut
        start = a if start is None else start
        sentences.append((a, b))
    if start is not None:
        yield start, sentences[-1][1], sentences


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z0-9'-]*", text.lower()) if w not in STOPWORDS and len(w) > 1]


def _stem(word: str) -> str:
    for suffix in ("ing", "ers", "er", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _qualifier(text: str, start: int) -> str | None:
    before = text[max(0, start - 30) : start].lower()
    before = re.sub(r"\s+", " ", before)
    for q in sorted(QUALIFIERS, key=len, reverse=True):
        if re.search(rf"\b{q}\s+(?:a\s+|an\s+)?$", before):
            return {"older than": "over", "max out around": "up to"}.get(q, q)
    return None


def _describe(text: str, claims: list[Claim], sentences: list[tuple[int, int]]) -> None:
    """Set each claim's sentence, qualifier, context words (nearest CONTEXT_WORDS each side) and subject."""
    sentence_words: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for c in claims:
        s_start, s_end = next(((a, b) for a, b in sentences if a <= c.start < b), (sentences[0][0], sentences[-1][1]))
        c.sentence = re.sub(r"\s+", " ", text[s_start:s_end]).strip()
        q = _qualifier(text, c.start)
        if q and c.qualifier is None:
            c.qualifier = q
        if (s_start, s_end) not in sentence_words:
            found = [(m.start(), m.end(), m.group(0).lower()) for m in _WORD.finditer(text, s_start, s_end)]
            sentence_words[s_start, s_end] = [w for w in found if w[2] not in STOPWORDS and len(w[2]) > 1]
        words = sentence_words[s_start, s_end]
        before = [w for _, end, w in words if end <= c.start][-CONTEXT_WORDS:]
        after = [w for start, _, w in words if start >= c.end][:CONTEXT_WORDS]
        c.context = [(_stem(w), len(before) - i) for i, w in enumerate(before)] + [
            (_stem(w), i + 1) for i, w in enumerate(after)
        ]
        c.subject = " ".join((before[-3:] + ["…"] + after[:3]) if before or after else [])


def extract_claims(text: str, limit: int = MAX_CLAIMS) -> list[Claim]:
    """Every quantitative claim in ``text`` (the first ``limit``), in reading order, with its sentence,
    qualifier and context. Time and memory grow linearly with the text (see bench/bench_extraction.py)."""
    claims: list[Claim] = []
    for start, end, sentences in _pieces(text):
        piece = text[start:end]
        found = _rule_claims(piece)
        found += _unit_claims(piece, _Taken([(c.start, c.end) for c in found]))
        for c in found:
            c.start, c.end = c.start + start, c.end + start
        found.sort(key=lambda c: c.start)
        _describe(text, found, sentences)
        claims += found
        if len(claims) >= limit:
            return claims[:limit]
    return claims


# ---------------------------------------------------------------------------------------------- matching
def unit_family(unit: str) -> str | None:
    """The family of a register unit ("USD" -> "usd", "fraction of ..." -> "fraction")."""
    lowered = unit.lower()
    for needle, family in UNIT_FAMILIES:
        if lowered.startswith(needle) or needle == lowered.split(" ")[0].split("/")[0]:
            return family
    return None


@lru_cache(maxsize=8)
def _key_words(register_json: str) -> dict[str, tuple[str, dict[str, float], float]]:
    """Per key: unit family, word weights (the key's own words 2, its quotes' and use's words 1), value."""
    import json

    raw = json.loads(register_json)
    out = {}
    for key, a in raw.items():
        family = unit_family(a["unit"])
        if family is None:
            continue
        words: dict[str, float] = {}
        for ev in a.get("evidence") or []:
            words.update({_stem(w): 1.0 for w in _words(ev["quote"])})
        if a["kind"] != "article":
            words.update({_stem(w): 1.0 for w in _words(a.get("use") or "")})
        words.update({_stem(w): 2.0 for w in _words(key.replace(".", " ").replace("_", " "))})
        out[key] = (family, words, float(a["value"]))
    return out


def _register_words(register: Register) -> dict[str, tuple[str, dict[str, float], float]]:
    import json

    payload = {k: a.model_dump() for k, a in register.assumptions.items()}
    return _key_words(json.dumps(payload, sort_keys=True))


def registered_equal(value: float, registered: float) -> bool:
    """Equal up to rounding in print (TOLERANCE, relative)."""
    return abs(value - registered) <= TOLERANCE * max(abs(registered), 1e-12)


def match_claims(claims: list[Claim], register: Register, min_score: float = 0.6) -> list[Claim]:
    """Set key, status (confirms / contradicts / new), registered value and a readable reason on each claim."""
    keys = _register_words(register)
    for c in claims:
        best, best_score, shared = None, 0.0, []
        for key, (family, words, value) in keys.items():
            if family != c.family:
                continue
            hits = [(w, d) for w, d in c.context if w in words]
            score = sum(words[w] / (1 + 0.5 * d) for w, d in hits)
            if registered_equal(c.value, value):
                score += 1.0  # the same number in the same unit is itself evidence of the same figure
            if register.assumptions[key].kind != "article":
                score *= 0.5  # the literature and analyst keys have no quote to match against
            if score > best_score:
                best, best_score, shared = key, score, sorted({w for w, _ in hits})
        if best is None or best_score < min_score:
            c.status, c.key = "new", None
            c.reason = f"unit {c.family}; no register key of this unit shares enough nearby words"
            continue
        registered = keys[best][2]
        c.key, c.registered_value = best, registered
        difference = (c.value - registered) / registered if registered else float("inf")
        agrees, how = agreement(c, registered)
        c.status = "confirms" if agrees else "contradicts"
        c.reason = (
            f"unit {c.family}; nearby words shared with {best}: {', '.join(shared)}; "
            f"{formatting.by_unit(c.value, c.unit)} vs registered {formatting.by_unit(registered, c.unit)} "
            f"({formatting.signed_percent(difference)}{how})"
        )
    return claims


LOWER_BOUNDS = ("over", "more than", "above", "at least")
UPPER_BOUNDS = ("under", "less than", "below", "at most", "up to")


def agreement(claim: Claim, registered: float) -> tuple[bool, str]:
    """Whether a claim agrees with the registered value, and why when a qualifier decides it.

    The same number agrees whatever the qualifier. A bound agrees when the registered value lies on its side
    ("over $40,000" agrees with 50,000; "under $40,000" does not). Approximate words (about, nearly) do not
    widen the tolerance: "about $48,000" against 50,000 is worth an analyst's look.
    """
    if registered_equal(claim.value, registered):
        return True, ""
    if claim.low is not None and claim.high is not None and claim.low <= registered <= claim.high:
        return True, "; registered value inside the claimed range"
    if claim.qualifier in LOWER_BOUNDS and registered >= claim.value:
        return True, f"; consistent with '{claim.qualifier}'"
    if claim.qualifier in UPPER_BOUNDS and registered <= claim.value:
        return True, f"; consistent with '{claim.qualifier}'"
    return False, ""
