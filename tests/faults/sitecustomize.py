"""Pause points for crash tests, installed from outside the code under test.

A test starts a keicast process with this folder on PYTHONPATH and KEICAST_PAUSE_AT=<name>; Python imports this
module at start-up, and it wraps the function at that point so the process writes ``KEICAST_PAUSED <name>`` to
stderr and blocks there, for the test to SIGKILL or Ctrl-C it. No production code calls a fault hook.

The points are where a crash matters. A run: ``assumptions`` (inputs assembled, nothing written but the
'running' row), ``monte_carlo`` (the first chunks done, simulation under way) and ``publish`` (report staged,
not yet renamed). ``articles accept``: ``accept_prepared`` (edit validated, nothing written),
``register_staged`` (new register fsynced beside the old one), ``register_renamed`` (renamed, folder not yet
fsynced), ``register_written`` (register done, claim not marked), ``claim_marked`` (marked, not committed) and
``accept_committed``.
"""

from __future__ import annotations

import functools
import os
import sys
import time

POINT = os.environ.get("KEICAST_PAUSE_AT")


def pause(name: str) -> None:
    if POINT == name:
        sys.stderr.write(f"KEICAST_PAUSED {name}\n")
        sys.stderr.flush()
        while True:
            time.sleep(60)


def _after(module, attribute: str, name: str) -> None:
    original = getattr(module, attribute)

    @functools.wraps(original)
    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        pause(name)
        return result

    setattr(module, attribute, paused)


def _around_renames() -> None:
    """``os.replace`` of a staging name: the register's (``.new``: staged before, renamed after) and the report's
    (``.staging-``: publish, before the first rename into place)."""
    original = os.replace

    def replace(src, dst, *args, **kwargs):
        base = os.path.basename(os.fspath(src))
        if base.startswith(".staging-"):
            pause("publish")
        if base.endswith(".new"):
            pause("register_staged")
        original(src, dst, *args, **kwargs)
        if base.endswith(".new"):
            pause("register_renamed")

    os.replace = replace


def _install() -> None:
    if POINT in ("assumptions", "monte_carlo"):
        from keicast import runner, steps

        _after(steps, "scenario_specs", "assumptions")
        progress_bar = runner.progress_bar

        def paused_bar(label):  # the first chunks are in: pause where the run's loop takes them
            bar = progress_bar(label)
            advance = bar.advance

            def advanced(*args, **kwargs):
                advance(*args, **kwargs)
                pause("monte_carlo")

            bar.advance = advanced
            return bar

        runner.progress_bar = paused_bar
    elif POINT in ("accept_prepared", "register_written", "claim_marked", "accept_committed"):
        from keicast import acceptance, register_editor, warehouse

        _after(acceptance, "register_edit", "accept_prepared")
        _after(register_editor.RegisterEdit, "write", "register_written")
        _after(warehouse, "mark_claim_accepted", "claim_marked")
        _after(acceptance, "_accept_locked", "accept_committed")
    elif POINT:
        _around_renames()


_install()
