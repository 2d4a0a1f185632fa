"""keicast's one on-disk cache and its one digest.

A cached result is keyed on everything it was computed from: the data (as CSV), the settings (as JSON) and the
source of the code that computed it, so editing the maths invalidates it. Results are Parquet frames written
atomically into ``<cache_dir>/<key>/``: plain data, never pickles (loading a pickle runs code).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd


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

    if stored():
        return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}
    frames = compute()
    if stored():  # another process stored the same key meanwhile: same inputs, same frames; theirs stays
        return frames
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for n in names:
        frames[n].to_parquet(tmp / f"{n}.parquet", index=False)
    shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder (a frame missing)
    try:
        os.replace(tmp, folder)
    except OSError:  # stored by another process between the check and the rename
        shutil.rmtree(tmp, ignore_errors=True)
        if not stored():
            raise
    return frames
