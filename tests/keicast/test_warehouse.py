import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from keicast import warehouse
from keicast.config import load_settings
from keicast.errors import WarehouseBusy

from ..conftest import base_config, write_config


@pytest.fixture
def settings(tmp_path):
    return load_settings(write_config(tmp_path, base_config(tmp_path)))


def outputs(**tables) -> dict:
    """A run's outputs: every run table, empty unless given."""
    return {t: tables.get(t, pd.DataFrame()) for t in warehouse.RUN_TABLES}


def test_a_run_missing_a_table_or_naming_an_unknown_one_commits_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    with pytest.raises(ValueError, match="missing tables \\['adoption_backtest_paths'"):
        warehouse.commit_run(db, "r1", {"forecasts": pd.DataFrame()}, {}, 5)
    with pytest.raises(ValueError, match="unknown tables \\['forecast'\\]"):
        warehouse.commit_run(db, "r1", {**outputs(), "forecast": pd.DataFrame()}, {}, 5)


def status(path, run_id):
    return warehouse.query(path, "select status from runs where run_id = ?", [run_id]).status.iloc[0]


def test_transaction_rolls_back_on_error(tmp_path):
    db = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError), warehouse.transaction(db) as con:
        con.execute("insert into history values ('x', 2000, 1.0, 'units', false)")
        raise RuntimeError("boom")
    assert warehouse.query(db, "select count(*) as n from history").n.iloc[0] == 0


def test_run_lifecycle_and_interrupted_runs(settings):
    db = settings.run.warehouse
    warehouse.begin_run(db, "r1", settings, None, 5)
    warehouse.begin_run(db, "r2", settings, None, 5)  # r1 never finished: its process is gone
    assert status(db, "r1") == "interrupted"
    forecasts = pd.DataFrame(
        {
            "scenario": ["a"],
            "year": [2026],
            "metric": ["kei_sales"],
            "mean": [1.0],
            "p05": [0.5],
            "p10": [0.6],
            "p50": [1.0],
            "p90": [1.4],
            "p95": [1.5],
        }
    )
    warehouse.commit_run(db, "r2", outputs(forecasts=forecasts), {}, 5)
    assert status(db, "r2") == "succeeded"
    assert warehouse.query(db, "select run_id from forecasts").run_id.tolist() == ["r2"]


def test_a_failed_commit_leaves_no_outputs_and_no_success(settings):
    db = settings.run.warehouse
    warehouse.begin_run(db, "r1", settings, None, 5)
    good = pd.DataFrame(
        {
            "scenario": ["a"],
            "year": [2026],
            "metric": ["m"],
            "mean": [1.0],
            "p05": [1.0],
            "p10": [1.0],
            "p50": [1.0],
            "p90": [1.0],
            "p95": [1.0],
        }
    )
    bad = pd.DataFrame({"no_such_column": [1]})
    with pytest.raises(duckdb.Error):
        warehouse.commit_run(db, "r1", outputs(forecasts=good, backtests=bad), {}, 5)
    assert status(db, "r1") == "running"
    assert warehouse.query(db, "select count(*) as n from forecasts").n.iloc[0] == 0


def test_fail_run_never_overwrites_a_success(settings):
    db = settings.run.warehouse
    warehouse.begin_run(db, "r1", settings, None, 5)
    warehouse.commit_run(db, "r1", outputs(), {}, 5)
    warehouse.fail_run(db, "r1", "failed", "publish failed", None, 5)
    assert status(db, "r1") == "succeeded"


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold(path, mode, seconds):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_a_held_warehouse_gives_a_clear_bounded_wait(tmp_path, mode):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db):
        pass
    proc = hold(db, mode, 30)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as info, warehouse.connect(db, timeout=1.0):
            pass
        assert time.monotonic() - started < 10
        assert "in use by another process" in str(info.value)
    finally:
        proc.kill()
        proc.wait()
    with warehouse.connect(db, timeout=10):  # free again once the holder is gone
        pass


def test_a_writer_waits_for_a_short_reader(tmp_path):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db):
        pass
    proc = hold(db, "ro", 1.5)
    try:
        with warehouse.transaction(db, timeout=30) as con:
            con.execute("insert into history values ('x', 2000, 1.0, 'u', false)")
    finally:
        proc.wait()
    assert warehouse.query(db, "select count(*) as n from history").n.iloc[0] == 1


LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1] + ".lock"); lock.acquire()
print("holding", flush=True)
time.sleep(30)
"""


def test_run_lock_times_out_with_a_message(tmp_path):
    db = tmp_path / "w.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", LOCK, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    try:
        with pytest.raises(WarehouseBusy) as info, warehouse.run_lock(db, timeout=0.5):
            pass
        assert "another keicast run" in str(info.value)
    finally:
        proc.kill()
        proc.wait()
    with warehouse.run_lock(db, timeout=5):
        pass


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_a_run_is_succeeded_only_after_publishing(settings):
    db = settings.run.warehouse
    warehouse.begin_run(db, "r1", settings, None, 5)
    warehouse.commit_run(db, "r1", outputs(), {}, 5, status="publishing")
    assert status(db, "r1") == "publishing"
    warehouse.fail_run(db, "r1", "failed", "publishing run r1 failed (No space left on device)", None, 5)
    assert status(db, "r1") == "failed"
    warehouse.begin_run(db, "r2", settings, None, 5)
    warehouse.commit_run(db, "r2", outputs(), {}, 5, status="publishing")
    warehouse.finish_run(db, "r2", {"publish": 1.0}, 5)
    assert status(db, "r2") == "succeeded"
    warehouse.begin_run(db, "r3", settings, None, 5)
    warehouse.commit_run(db, "r3", outputs(), {}, 5, status="publishing")  # then the process is killed
    warehouse.begin_run(db, "r4", settings, None, 5)
    row = warehouse.query(db, "select status, message from runs where run_id = 'r3'").iloc[0]
    assert row.status == "interrupted" and "while publishing" in row.message


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: p.mkdir(), "a DuckDB file, not a folder"),
        (lambda p: p.write_bytes(b"pretend warehouse"), "this file is something else"),
        (lambda p: None, "a writable place for the warehouse"),
    ],
)
def test_open_failures_say_what_is_wrong_not_in_use(tmp_path, make, expected):
    from keicast.errors import ConfigError

    db = tmp_path / "w.duckdb"
    make(db)
    if not db.exists():
        db = tmp_path / "file" / "w.duckdb"  # its parent is a file: nothing can be created there
        (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as info, warehouse.connect(db, timeout=5):
        pass
    assert expected in str(info.value) and "in use" not in str(info.value)


def test_a_truncated_warehouse_is_refused_before_anything_is_written(settings):
    from keicast.errors import WarehouseDamaged

    db = settings.run.warehouse
    with warehouse.transaction(db) as con:
        con.execute("insert into history select 's', range, random(), 'u', false from range(300000)")
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.truncate(size - 300_000)
    before = db.read_bytes()
    with pytest.raises(WarehouseDamaged, match="damaged or truncated") as info:
        warehouse.check(db, 5)
    assert "nothing was run or changed" in str(info.value)
    assert db.read_bytes() == before


def test_two_names_for_one_warehouse_share_one_run_lock(tmp_path):
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    alias = tmp_path / "alias.duckdb"
    alias.symlink_to(db)
    with warehouse.run_lock(db, timeout=5):
        with pytest.raises(WarehouseBusy), warehouse.run_lock(alias, timeout=0.5):
            pass
