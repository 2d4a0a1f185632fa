"""keicast's one on-disk cache and its one digest.

A cached result is keyed on everything it was computed from: the data (as CSV), the settings (as JSON) and the
source of the code that computed it, so editing the maths invalidates it. Results are Parquet frames written
atomically into ``<cache_dir>/<key>/``: plain data, never pickles (loading a pickle runs code). A key is computed by
one process at a time (a file lock beside it); a complete folder is never replaced, so readers need no lock.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from filelock import FileLock


def digest(*parts: str) -> str:
    """SHA-256 of the parts joined by a unit separator, so that ("ab", "c") and ("a", "bc") differ."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def code_digest(*modules) -> str:
    """The source of the modules a cached step runs."""
    return digest(*(inspect.getsource(m) for m in modules))


def cached_frames(
    cache_dir: Path, key: str, compute: Callable[[], dict[str, pd.DataFrame]], names: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Frames ``names`` from ``cache_dir/key``, computing and storing them (atomically) when absent."""
    folder = Path(cache_dir) / key

    def stored() -> bool:
        return all((folder / f"{n}.parquet").is_file() for n in names)

    def read() -> dict[str, pd.DataFrame]:
        return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}

    if stored():  # a complete folder is never removed, so it is read without the lock
        return read()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(folder.with_name(f"{folder.name}.lock")):  # one process computes a key; others wait, then read
        if stored():
            return read()
        frames = compute()
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        tmp.mkdir(exist_ok=True)
        for n in names:
            frames[n].to_parquet(tmp / f"{n}.parquet", index=False)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder (a frame missing), under the lock
        os.replace(tmp, folder)
    return frames
