"""Claim extraction time and peak memory against article size: it must grow linearly, and an article at the
2 MB inbox limit must take seconds, not days (before the fix: 10/20/40 KB of figures took 13/41/174 s).

Two 2 MB texts: figure-dense (a figure every ~20 characters; extraction stops at MAX_CLAIMS) and prose with a
number in every sentence (no unit after it, so quantulum is never called); ``--scaling`` times figure-dense
text without the claims limit at growing sizes (the per-size cost of extraction itself; 2 MB of it would take
about 9 minutes, which is why the limit exists). Peak memory is tracemalloc's peak of Python
allocations during the call, plus the process's maximum RSS at the end.

    .venv/bin/python bench/bench_extraction.py            # 2 MB articles
    .venv/bin/python bench/bench_extraction.py --scaling  # 25/50/100/200 KB without the claims limit
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings

from keicast.article_text import MAX_ARTICLE_BYTES
from keicast.claims import extract_claims

DENSE = "Prices rose to ${i},000 and about {j}% of {j} million buyers want {i} cc cars with {j} hp at {k} mph in 2027. "
PROSE = "Chapter {i} of the report looks at the cities where small cars are parked on narrow streets every day. "


def article(sentence: str, size: int) -> str:
    """Sentences with varying numbers (no two windows alike, so no cache helps) up to ``size`` characters."""
    parts, length, n = [], 0, 0
    while length < size:
        n += 1
        parts.append(sentence.format(i=n, j=n % 97 + 1, k=n % 89 + 1))
        length += len(parts[-1])
    return "".join(parts)[:size]


def measure(label: str, text: str, limit: int | None = None) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    claims = extract_claims(text) if limit is None else extract_claims(text, limit=limit)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{label:<34} {len(text) / 1e3:>7,.0f} KB {len(claims):>7,} claims {seconds:>8.2f} s "
        f"{peak / 2**20:>8.1f} MiB peak (Python allocations)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", action="store_true", help="25-200 KB without the claims limit")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    extract_claims("warm-up: quantulum loads its unit tables once, 660 cc")
    if args.scaling:
        for kb in (25, 50, 100, 200):
            measure("figures, no claims limit", article(DENSE, kb * 1000), limit=10**9)
        return
    measure("figures (stops at the claims limit)", article(DENSE, MAX_ARTICLE_BYTES))
    measure("prose, a number per sentence", article(PROSE, MAX_ARTICLE_BYTES))
    print(f"max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
