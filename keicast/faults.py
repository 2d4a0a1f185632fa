"""Pause points for crash tests: with KEICAST_PAUSE_AT=<name> the run stops there so a test can SIGKILL it.

The names are the points where a crash matters. A run: ``assumptions`` (inputs assembled, nothing written but
the 'running' row), ``monte_carlo`` (simulation under way) and ``publish`` (report staged, not yet renamed).
``articles accept``: ``accept_prepared`` (edit validated, nothing written), ``register_staged`` (new register
fsynced beside the old one), ``register_renamed`` (renamed, folder not yet fsynced), ``register_written``
(register done, claim not marked), ``claim_marked`` (marked, not committed) and ``accept_committed``.
"""

from __future__ import annotations

import os
import sys
import time


def pause_point(name: str) -> None:
    """Block forever at ``name`` when KEICAST_PAUSE_AT names it; a no-op otherwise."""
    if os.environ.get("KEICAST_PAUSE_AT") == name:
        sys.stderr.write(f"KEICAST_PAUSED {name}\n")
        sys.stderr.flush()
        while True:
            time.sleep(60)
