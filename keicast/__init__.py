"""keicast: demand and adoption forecasts for Japanese-style kei cars in the US under policy scenarios."""

import os


def _thread_count_set(name: str) -> bool:
    """Whether ``name`` holds a thread count OpenBLAS obeys: a positive integer (empty, 0 or text: every core)."""
    value = os.environ.get(name, "").strip()
    return value.isdigit() and int(value) > 0


# One BLAS thread per process, set before numpy or scipy loads OpenBLAS, unless the analyst set a thread count
# OpenBLAS reads. The fits' matrices are small: extra threads only spin, and beside a second run on the same
# cores they slow both many-fold (bench/bench_blas_threads.py; docs/operations.md, "Runs side by side").
if not any(_thread_count_set(name) for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

__version__ = "0.1.0"
