"""Quantitative claims in article text, and how each one relates to the evidence register.

Extraction combines rules of our own, for what general quantity parsers get wrong in this domain (dollar
amounts with k/million, percentages, fractions in words, "16 million", hyphenated counts such as "six-lane",
ranges, and the qualifiers over/under/nearly/about that must be kept, not lost), with quantulum3 for
physical units (cc, hp, mph, feet, tons, years), normalised with pint. Matching compares a claim with every
register key of the same unit family, scoring the words around the claim against the key's own words and
quotes (nearer words count more), then compares values: confirms, contradicts, or new.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from keicast.evidence import Register

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
# Register units -> unit family; a claim matches register keys of its own family only.
UNIT_FAMILIES = (
    ("usd", "usd"),
    ("fraction", "fraction"),
    ("vehicles", "count"),
    ("cc", "cc"),
    ("hp", "hp"),
    ("mph", "mph"),
    ("model year", "year"),
    ("years", "years"),
    ("tons", "tons"),
    ("feet", "feet"),
    ("lanes", "lanes"),
)
TOLERANCE = 0.01  # relative difference still counted as the same figure (rounding in print)


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


def _number(text: str) -> float:
    text = text.lower()
    return float(WORD_NUMBERS[text]) if text in WORD_NUMBERS else float(text.replace(",", ""))


def _scaled(number: str, scale: str | None) -> float:
    return _number(number) * (SCALES[scale.lower()] if scale else 1.0)


def _rule_claims(text: str) -> list[Claim]:
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    for kind, pattern in _RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            if not free(start, end):
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
            taken.append((start, end))
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


def _quantulum_claims(text: str, taken: list[tuple[int, int]]) -> list[Claim]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from quantulum3 import parser

        quantities = parser.parse(text)
    claims = []
    for q in quantities:
        start, end = q.span
        surface = text[start:end]
        if any(not (end <= a or start >= b) for a, b in taken):
            continue
        has_number = bool(re.search(r"\d", surface)) or any(
            w in WORD_NUMBERS for w in re.findall(r"[a-z]+", surface.lower())
        )
        if not has_number or surface.lower().startswith(("a ", "an ")):
            continue  # quantulum reads "a mix" as a mile and "a U" as an atomic mass unit
        name = q.unit.name
        if name in _PHYSICAL:
            target, shown, family = _PHYSICAL[name]
            value = _convert(float(q.value), name, target)
            claims.append(Claim(surface, value, shown, family, start, end))
        elif name == "dimensionless" and re.fullmatch(r"\d{4}", surface) and 1900 <= q.value <= 2100:
            after = text[end : end + 1]
            before = text[max(0, start - 12) : start].lower()
            if after == "s" or any(m in before for m in MONTHS) or re.search(r"\d{1,2},\s*$", before):
                continue  # a decade ("1960s") or part of a date ("December 3, 2025")
            claims.append(Claim(surface, float(q.value), "model year", "year", start, end))
        elif name == "dimensionless" and re.fullmatch(r"[a-z]+", surface.lower()) and surface.lower() in WORD_NUMBERS:
            following = re.match(r"\W*(\w+)", text[end:])
            noun = following.group(1).lower() if following else ""
            if noun and noun not in STOPWORDS and not surface[0].isupper():
                claims.append(Claim(f"{surface} {noun}", float(q.value), noun, noun, start, end + 1 + len(noun)))
    return claims


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z“\"‘(])|\n+")


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        bounds.append((start, m.start() + 1))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


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


def extract_claims(text: str) -> list[Claim]:
    """Every quantitative claim in ``text``, in reading order, with its sentence, qualifier and context."""
    claims = _rule_claims(text)
    claims += _quantulum_claims(text, [(c.start, c.end) for c in claims])
    sentences = _sentences(text)
    for c in claims:
        s_start, s_end = next(((a, b) for a, b in sentences if a <= c.start < b), (0, len(text)))
        c.sentence = re.sub(r"\s+", " ", text[s_start:s_end]).strip()
        q = _qualifier(text, c.start)
        if q and c.qualifier is None:
            c.qualifier = q
        before = _words(text[s_start : c.start])
        after = _words(text[c.end : s_end])
        c.context = [(_stem(w), len(before) - i) for i, w in enumerate(before)] + [
            (_stem(w), i + 1) for i, w in enumerate(after)
        ]
        c.subject = " ".join((before[-3:] + ["…"] + after[:3]) if before or after else [])
    return sorted(claims, key=lambda c: c.start)


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
            f"{c.value:g} vs registered {registered:g} ({difference:+.1%}{how})"
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
