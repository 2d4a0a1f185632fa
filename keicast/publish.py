"""Publishing: a run's report (reports/<run_id>/) and Parquet exports (exports/<run_id>/), switched in atomically.

Everything is rendered into a staging folder first and renamed into place; ``latest`` is a symlink replaced
with one rename, so a reader or a crash never sees a half-written report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from keicast import warehouse
from keicast.errors import ConfigError, KeicastError, Problem


def check_targets(settings) -> None:
    """Refuse, before a run starts, what would make publishing fail or destroy: an output folder that cannot be
    written (exit 2), or a ``latest`` that is not keicast's symbolic link (exit 1; a real folder there is never
    deleted)."""
    for name in ("reports_dir", "exports_dir"):
        root = getattr(settings.run, name)
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as exc:
            raise ConfigError(
                [Problem(f"run.{name}", "", str(root), f"a folder keicast can write ({exc.strerror or exc})")]
            ) from None
        latest = root / "latest"
        if latest.exists() and not latest.is_symlink():
            raise KeicastError(
                f"{latest} is a real {'folder' if latest.is_dir() else 'file'}, not keicast's link to the newest "
                f"run; keicast never deletes it: move it away (e.g. `mv {latest} {latest}.kept`) and run again. "
                "Nothing was run or changed"
            )


def _new_link(root: Path, run_id: str) -> Path:
    link = root / f".latest-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(run_id, target_is_directory=True)
    return link


def _stage(root: Path, run_id: str) -> Path:
    """A fresh staging folder; staging left by a run that died mid-publish is removed (runs are serialised)."""
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root / f".staging-{run_id}"
    staging.mkdir(parents=True)
    return staging


def write_exports(outputs: dict, directory: Path) -> None:
    """Forecasts and assumptions as Parquet, partitioned by scenario (hive layout: scenario=<name>/)."""
    for table in ("forecasts", "assumptions"):
        frame = outputs[table]
        for scenario, part in frame.groupby("scenario"):
            target = directory / table / f"scenario={scenario}"
            target.mkdir(parents=True, exist_ok=True)
            part.drop(columns=["scenario"]).to_parquet(target / "part-0.parquet", index=False)


def _place(writers: dict, run_id: str, make_latest: bool) -> None:
    """Write every root's folder in staging, rename them all into place, then switch every ``latest``.

    On any failure the staging folders, the folders placed so far and the new links are removed: ``latest``
    keeps pointing at the previous run in both roots.
    """
    made: list[Path] = []
    try:
        staged = []
        for root, write in writers.items():
            root.mkdir(parents=True, exist_ok=True)
            staged.append(_stage(root, run_id))
            made.append(staged[-1])
            write(staged[-1])
        for root, staging in zip(writers, staged, strict=True):
            final = root / run_id
            if final.exists():  # regenerating a report whose files went missing
                shutil.rmtree(final)
            os.replace(staging, final)
            made.append(final)
        links = []
        if make_latest:
            for root in writers:
                links.append(_new_link(root, run_id))
                made.append(links[-1])
        for root, link in zip(writers, links, strict=False):
            os.replace(link, root / "latest")  # a rename: needs no space, cannot half-happen
    except BaseException:
        for path in made:
            if path.is_symlink():
                path.unlink(missing_ok=True)
            else:
                shutil.rmtree(path, ignore_errors=True)
        raise


def publish_run(settings, run_id: str, make_latest: bool = True) -> Path:
    """Render ``run_id`` from the warehouse into reports/<run_id>/ and exports/<run_id>/; update latest.

    Raises KeicastError when the files cannot be written (disk full, no permission): nothing is published.
    """
    from keicast.report import render_report

    run = settings.run
    outputs = warehouse.run_outputs(run.warehouse, run_id, run.lock_timeout_seconds)
    previous = warehouse.previous_run(run.warehouse, run_id, run.lock_timeout_seconds)
    previous_outputs = warehouse.run_outputs(run.warehouse, previous, run.lock_timeout_seconds) if previous else None
    if make_latest:
        check_targets(settings)
    writers = {
        run.reports_dir: lambda d: render_report(outputs, previous_outputs, settings, d),
        run.exports_dir: lambda d: write_exports(outputs, d),
    }
    try:
        _place(writers, run_id, make_latest)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise KeicastError(
            f"publishing run {run_id} failed ({exc.strerror or exc}{where}); nothing was published: "
            "reports/latest and exports/latest still point at the previous run"
        ) from None
    return run.reports_dir / run_id / "index.html"
