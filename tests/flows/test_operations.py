"""Running keicast unattended: deployments, crashes, concurrent runs, caching, sweeps and the Dask runner."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from keicast.cli import app

from ..conftest import base_config, paused_at, query_warehouse, write_config

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def api_env(prefect_server):
    """Environment for child processes: talk to the session's test server instead of starting their own."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}


def start_run(config, env, *extra, pause_at=None):
    env = {**env, **paused_at(pause_at)}
    return subprocess.Popen(
        [str(BIN / "keicast"), "run", "--config", str(config), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_pause(proc, name, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if f"KEICAST_PAUSED {name}" in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"run ended before pausing at {name}: {proc.stderr.read()}")
    raise AssertionError(f"no pause at {name}")


def assert_consistent(project):
    orphans = query_warehouse(
        project,
        "select run_id from runs where status = 'succeeded' and run_id not in (select distinct run_id from forecasts)",
    )
    assert orphans.empty, orphans
    latest = project / "reports" / "latest"
    if latest.exists():
        html = (latest / "index.html").read_text()
        assert html.rstrip().endswith("</html>")
        newest = query_warehouse(
            project, "select run_id from runs where status = 'succeeded' and run_id = ?", [latest.resolve().name]
        )
        assert len(newest) == 1


def test_sigkill_at_any_point_leaves_everything_consistent(api_env, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    first = start_run(config, api_env)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    published = (tmp_path / "reports" / "latest").resolve().name
    killed = []
    for point in ("assumptions", "monte_carlo", "publish"):
        proc = start_run(config, api_env, pause_at=point)
        wait_for_pause(proc, point)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed.append(
            query_warehouse(tmp_path, "select run_id from runs order by started_at desc limit 1").run_id.iloc[0]
        )
        assert_consistent(tmp_path)
        assert (tmp_path / "reports" / "latest").resolve().name == published
    last = start_run(config, api_env)
    assert last.wait(timeout=300) == 0, last.stderr.read()
    statuses = query_warehouse(tmp_path, "select run_id, status from runs").set_index("run_id").status
    assert [statuses[r] for r in killed] == ["interrupted"] * 3  # the last one while publishing: not succeeded
    kept = query_warehouse(tmp_path, "select count(*) as n from forecasts where run_id = ?", [killed[2]])
    assert kept.n.iloc[0] > 0  # killed after its commit: its outputs are safe in the warehouse
    assert_consistent(tmp_path)
    assert (tmp_path / "reports" / "latest").resolve().name != published
    assert not list((tmp_path / "reports").glob(".staging-*"))
    import shutil

    shutil.rmtree(tmp_path / "reports" / published)
    regenerated = CliRunner().invoke(app, ["report", published, "--config", str(config)])
    assert regenerated.exit_code == 0 and (tmp_path / "reports" / published / "index.html").is_file()


def test_two_runs_started_together_both_complete_one_after_the_other(api_env, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path, lock_timeout_seconds=300))  # the second waits its turn
    runs = [start_run(config, api_env), start_run(config, api_env)]
    assert [p.wait(timeout=400) for p in runs] == [0, 0], [p.stderr.read() for p in runs]
    done = query_warehouse(
        tmp_path, "select started_at, finished_at from runs where status = 'succeeded' order by started_at"
    )
    assert len(done) == 2
    assert done.started_at.iloc[1] >= done.finished_at.iloc[0] - __import__("datetime").timedelta(seconds=1)


def test_a_run_against_a_warehouse_held_by_a_reader_times_out_clearly(api_env, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path, lock_timeout_seconds=3))
    db = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], "
            "read_only=True); print('ready', flush=True); time.sleep(120)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    try:
        proc = start_run(config, api_env)
        assert proc.wait(timeout=120) == 1
        stderr = proc.stderr.read()
        assert "in use by another process" in stderr and "Traceback" not in stderr
    finally:
        holder.kill()
        holder.wait()


def test_an_unchanged_rerun_takes_calibration_and_baseline_from_the_cache(prefect_server, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    config = write_config(tmp_path, base_config(tmp_path))
    for _ in range(2):
        assert CliRunner().invoke(app, ["run", "--config", str(config)]).exit_code == 0
    flow_runs = query_warehouse(tmp_path, "select flow_run_id from runs order by started_at").flow_run_id.tolist()
    with get_client(sync_client=True) as client:
        second = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_runs[1]])),
            limit=200,
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    states = {t.name: t.state.name for t in second}
    # the calibration is cached once, on disk by the fit (keicast.cache); Prefect caches only what has no cache
    assert states["calibrate-adoption"] == "Completed" and states["fit-baseline"] == "Cached"
    assert all(state == "Cached" for name, state in states.items() if name.startswith("sensitivity-"))
    assert all(state != "Cached" for name, state in states.items() if name.startswith("simulate-"))
    cache = tmp_path / "warehouse.duckdb.cache"  # in the project, owner-only: no other clone loads these pickles
    assert {p.name.split("-")[0] for p in cache.iterdir()} == {"baseline", "sensitivity"}
    assert cache.stat().st_mode & 0o077 == 0
    shared = Path(os.environ["PREFECT_HOME"]) / "storage"
    assert not shared.exists() or not [p for p in shared.iterdir() if p.name.startswith(("calibrate", "baseline"))]


def test_dask_runner_gives_the_same_forecasts_as_the_local_runner(prefect_server, tmp_path):
    local = base_config(tmp_path)
    dask = base_config(tmp_path)
    dask["task_runner"] = {"kind": "dask", "address": None, "workers": 2}
    for config in (local, dask):
        path = write_config(tmp_path, config, f"{config['task_runner']['kind']}.yaml")
        result = CliRunner().invoke(app, ["run", "--config", str(path)])
        assert result.exit_code == 0, result.output
    runs = query_warehouse(tmp_path, "select run_id from runs order by started_at").run_id.tolist()
    sql = "select scenario, year, metric, mean, p05, p10, p50, p90, p95 from forecasts where run_id = ? order by all"
    assert query_warehouse(tmp_path, sql, [runs[0]]).equals(query_warehouse(tmp_path, sql, [runs[1]]))


def test_sweep_runs_every_combination_and_stores_a_comparison(prefect_server, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            "--config",
            str(config),
            "--vary",
            "policy.import_tariff=0,0.25",
            "--vary",
            "launch_year=2027,2030",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("[") :])
    assert len(rows) == 4
    factors = [json.loads(r["factors"]) for r in rows]
    assert {(f["policy.import_tariff"], f["launch_year"]) for f in factors} == {
        (0.0, 2027),
        (0.0, 2030),
        (0.25, 2027),
        (0.25, 2030),
    }
    best = factors[0]
    assert best == {"policy.import_tariff": 0.0, "launch_year": 2027}  # cheapest and earliest sells most
    bad = CliRunner().invoke(app, ["sweep", "--config", str(config), "--vary", "policy.import_tariff=2"])
    assert bad.exit_code == 2 and "policy.import_tariff" in bad.output
    assert CliRunner().invoke(app, ["run", "--config", str(config)]).exit_code == 0  # the next report shows it
    html = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert 'id="sweep"' in html and "launch_year = 2027, policy.import_tariff = 0" in html


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_ctrl_c_during_the_monte_carlo_records_the_run_as_interrupted(api_env, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    proc = start_run(config, api_env, pause_at="monte_carlo")
    wait_for_pause(proc, "monte_carlo")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) == 1
    stderr = proc.stderr.read()
    assert "keicast: interrupted" in stderr and "Traceback" not in stderr and "nanobind" not in stderr
    run = query_warehouse(tmp_path, "select status, message from runs").iloc[0]
    assert (run.status, run.message) == ("interrupted", "interrupted (Ctrl-C)")
    assert not (tmp_path / "reports" / "latest").exists()


@pytest.fixture
def full_disk(tmp_path):
    """reports/ on a 300 KB tmpfs: a report does not fit (tests run as root; skipped where mounting fails)."""
    mount = tmp_path / "reports"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_while_publishing_fails_the_run_and_publishes_nothing(prefect_server, tmp_path, full_disk):
    (full_disk / "filler").write_bytes(b"x" * 200_000)
    config = write_config(tmp_path, base_config(tmp_path, draws=500))
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "nothing was published" in result.output
    assert "Traceback" not in result.output
    run = query_warehouse(tmp_path, "select run_id, status, message from runs").iloc[0]
    assert run.status == "failed" and "No space left on device" in run.message
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no report, no staging, no latest
    assert not (tmp_path / "exports" / run.run_id).exists() and not (tmp_path / "exports" / "latest").exists()


def test_a_fully_deterministic_run_works(prefect_server, tmp_path):
    config = write_config(tmp_path, base_config(tmp_path))
    listed = CliRunner().invoke(app, ["assumptions", "--config", str(config), "--format", "json"])
    rows = json.loads(listed.stdout)
    fixed = {r["key"]: r["value"] for r in rows if r["low"] is not None and r["low"] < r["high"]}
    sets = [arg for key, value in fixed.items() for arg in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(app, ["run", "--config", str(config), *sets])
    assert result.exit_code == 0, result.output
    varied = query_warehouse(tmp_path, "select distinct key from sensitivity where method <> 'what_if'")
    assert not set(varied.key) & set(fixed)  # what is left to vary: launch timing and the class-share posterior
    assert (tmp_path / "reports" / "latest" / "index.html").is_file()


def test_first_commands_on_an_empty_prefect_home_start_their_servers_one_at_a_time(tmp_path):
    """Each temporary server migrates PREFECT_HOME's database as it starts; started together they raced."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="ERROR")
    code = "from keicast.server import start_temporary_server; start_temporary_server()(); print('up')"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(out.strip() == "up" for out, _ in outs)
