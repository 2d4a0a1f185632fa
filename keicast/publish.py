"""Publishing: a run's report (reports/<run_id>/) and Parquet exports (exports/<run_id>/), switched in atomically.

Everything is rendered into a staging folder first and renamed into place; ``latest`` is a symlink replaced
with one rename, so a reader or a crash never sees a half-written report.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from keicast import warehouse
from keicast.faults import pause_point


def _swap_latest(root: Path, target_name: str) -> None:
    tmp = root / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target_name, target_is_directory=True)
    latest = root / "latest"
    if latest.exists() and not latest.is_symlink():
        shutil.rmtree(latest)
    os.replace(tmp, latest)


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


def publish_run(settings, run_id: str, make_latest: bool = True) -> Path:
    """Render ``run_id`` from the warehouse into reports/<run_id>/ and exports/<run_id>/; update latest."""
    from keicast.report import render_report

    run = settings.run
    outputs = warehouse.run_outputs(run.warehouse, run_id, run.lock_timeout_seconds)
    previous = warehouse.query(
        run.warehouse,
        "select run_id from runs where status = 'succeeded' and started_at < "
        "(select started_at from runs where run_id = ?) order by started_at desc limit 1",
        [run_id],
        run.lock_timeout_seconds,
    )
    previous_outputs = (
        warehouse.run_outputs(run.warehouse, previous.run_id.iloc[0], run.lock_timeout_seconds)
        if not previous.empty
        else None
    )
    for root, write in (
        (run.reports_dir, lambda d: render_report(outputs, previous_outputs, settings, d)),
        (run.exports_dir, lambda d: write_exports(outputs, d)),
    ):
        root.mkdir(parents=True, exist_ok=True)
        staging = _stage(root, run_id)
        write(staging)
        pause_point("publish")
        final = root / run_id
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        if make_latest:
            _swap_latest(root, run_id)
    return run.reports_dir / run_id / "index.html"
