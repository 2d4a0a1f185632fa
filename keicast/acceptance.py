"""Accepting a claim: the register edit and the warehouse's accepted_key, done so that a retry always finishes.

The two live in different files and cannot share one transaction, so the order makes every interruption
recoverable by running the same command again:

1. under the warehouse's run lock, read the claim (busy or missing: nothing has changed yet);
2. write the register (one atomic, durable rename; see keicast.register_editor);
3. mark the claim accepted and commit.

A process killed after 2 and before 3 leaves the register holding the claim's evidence and the claim not yet
marked. The retry finds the evidence already in the register (``register_edit`` returns None), marks the claim
and says so. A failure the process sees itself (a failed commit) puts the register back before it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keicast import warehouse
from keicast.errors import ConfigError, Problem, WarehouseBusy
from keicast.register_editor import RegisterEdit, register_edit, remove_stale_staging


@dataclass(frozen=True)
class Acceptance:
    """What accepting did: ``edit`` is the register change written now (None if the register already held the
    claim); ``completed`` says the warehouse was marked now to finish an earlier, interrupted accept."""

    claim_id: str
    key: str
    register: Path
    edit: RegisterEdit | None
    completed: bool

    @property
    def changed(self) -> bool:
        return self.edit is not None or self.completed


def accept_claim(run, claim_id: str, key: str, today: str, new: bool = False) -> Acceptance:
    """Accept ``claim_id`` as evidence for ``key``: the register and the claim's row, or neither (see the module
    docstring for what a kill in between leaves, and how the retry finishes it).

    ``run`` is the validated RunSettings; ``new`` allows a key the register lacks. Raises ConfigError (unknown
    claim, unfit key), WarehouseBusy (with what to do: nothing was changed) or KeicastError.
    """
    try:
        with warehouse.run_lock(run.warehouse, run.lock_timeout_seconds):
            return _accept_locked(run, claim_id, key, today, new)
    except WarehouseBusy as exc:
        raise WarehouseBusy(
            f"claim {claim_id} was not accepted: {exc} Nothing was changed; run the same command again once "
            "the warehouse is free: it completes the accept"
        ) from None


def _accept_locked(run, claim_id: str, key: str, today: str, new: bool) -> Acceptance:
    register = Path(run.register_file)
    remove_stale_staging(register)  # left by an accept killed mid-write; the lock keeps others out
    edit = None
    try:
        with warehouse.transaction(run.warehouse, run.lock_timeout_seconds) as con:
            row = warehouse.claim_to_accept(con, claim_id)
            if row is None:
                raise ConfigError([Problem("CLAIM_ID", "", claim_id, "a claim id from `keicast articles scan`")])
            edit = register_edit(register, row, key, today, new)
            if edit is not None:
                edit.write()
            completed = edit is None and row.get("accepted_key") != key
            if edit is not None or completed:
                warehouse.mark_claim_accepted(con, claim_id, key)
    except BaseException:
        if edit is not None and register.read_text(encoding="utf-8") == edit.after:
            edit.undo()  # the commit failed after the rename: the register goes back, nothing changed
        raise
    return Acceptance(claim_id, key, register, edit, completed)
