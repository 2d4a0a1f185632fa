"""Where the gates run: Great Expectations loads (about 2.5 s of imports) before the first gate, overlapping
what runs next, and with ``in_worker`` the gates then run in a validator process of their own.

Runner plumbing, kept light: the spawned validator imports this module and keicast.gates (GX and pandas), not
Prefect or the models.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from keicast import gates

_VALIDATOR: list[ProcessPoolExecutor] = []  # the validator process, when preload started one
_PRELOADED: list[threading.Thread | None] = []  # the loading thread (None: the validator loads GX)


def preload(in_worker: bool = False) -> None:
    """Load GX once per process, in the background.

    ``in_worker``: in a validator process of its own, where every gate then runs: the import takes a core that
    would otherwise idle (a run against a standing Prefect server) instead of this process's interpreter lock.
    Otherwise in a background thread, which pays off when this process waits anyway (for a temporary server).
    """
    if _PRELOADED:
        return
    if in_worker:
        validator = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_warm)
        validator.submit(int)  # starts the process now; its initializer builds the GX context
        _VALIDATOR.append(validator)
        _PRELOADED.append(None)
        return
    thread = threading.Thread(target=gates._context, name="keicast-gx-preload", daemon=True)
    thread.start()
    _PRELOADED.append(thread)


def _warm() -> None:
    """The validator's start: build the GX context. Ctrl-C is the command's to handle (it reaches the whole
    process group; the command then stops this process). At its end, skip the interpreter's teardown (its garbage
    collection of GX's objects took about 1 s, which the command waited for)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    atexit.register(os._exit, 0)
    gates._context()


def check(stage: str, frames: dict[str, pd.DataFrame], params: dict, docs_dir: Path | None) -> pd.DataFrame:
    """``gates.check`` in the validator process when ``preload`` started one (here if it has died); waits for a
    preloading thread first."""
    if _VALIDATOR:
        try:
            return _VALIDATOR[0].submit(gates.check, stage, frames, params, docs_dir).result()
        except BrokenProcessPool:
            _VALIDATOR.clear()
    if _PRELOADED and _PRELOADED[0] is not None:
        _PRELOADED[0].join()
    return gates.check(stage, frames, params, docs_dir)
