"""Scheduled runs as an operator gets them: a standing Prefect server whose scheduler creates the runs.

A run triggered by hand never exercises the server's scheduler service (which failed on every loop with
SQLAlchemy 2.1), so these tests start a real `prefect server start`, give the deployments a one-minute cron and
wait, bounded, for runs the scheduler created (``auto_scheduled``) to succeed: one through `keicast deploy` and a
process worker, one through `keicast serve`.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import base_config, query_warehouse, write_config

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
FLOW = "keicast-pipeline"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(command: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def standing_server(tmp_path_factory):
    """`prefect server start` with its own PREFECT_HOME; yields the environment its clients need."""
    home = tmp_path_factory.mktemp("standing-prefect")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO")
    server = _spawn(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        home,
        home / "server.log",
    )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        _stop(server)
        pytest.fail("the standing Prefect server did not start: " + (home / "server.log").read_text()[-2000:])
    yield {**env, "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING"}, home
    _stop(server)
    log = (home / "server.log").read_text()
    assert "Can't evaluate bulk DML statement" not in log, "the scheduler service failed (SQLAlchemy pin?)"


def every_minute_project(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = base_config(tmp_path, lock_timeout_seconds=300)  # a run still going when the next minute fires: wait
    config["schedule"] = {"cron": "* * * * *", "timezone": "UTC"}
    return write_config(tmp_path, config)


def keicast(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "keicast"), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def read_deployment(api: str, name: str) -> dict:
    response = httpx.get(f"{api}/deployments/name/{FLOW}/{name}", timeout=10)
    response.raise_for_status()
    return response.json()


def scheduled_runs(api: str, deployment_id: str) -> list[dict]:
    """Runs of the deployment that the scheduler created and that have started or ended (not the ~100 waiting)."""
    body = {
        "flow_runs": {
            "deployment_id": {"any_": [deployment_id]},
            "state": {"type": {"not_any_": ["SCHEDULED"]}},
            "tags": {"all_": ["auto-scheduled"]},
        },
        "limit": 50,
    }
    response = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10)
    response.raise_for_status()
    return [r for r in response.json() if r["auto_scheduled"]]


def wait_for_scheduled_success(api: str, deployment_id: str, timeout: float = 240) -> dict:
    """The first run the scheduler created for this deployment that completed; fails on a crashed/failed one."""
    deadline, runs = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        try:
            runs = scheduled_runs(api, deployment_id)
        except httpx.TimeoutException:  # a server busy running the flow on 2 cores answers late: ask again
            time.sleep(3)
            continue
        bad = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
        assert not bad, [(r["name"], r["state"]["message"]) for r in bad]
        done = [r for r in runs if r["state_type"] == "COMPLETED"]
        if done:
            return done[0]
        time.sleep(3)
    pytest.fail(f"no scheduled run completed within {timeout:.0f} s; runs started: {[r['state_type'] for r in runs]}")


def assert_published(project: Path, flow_run: dict) -> None:
    row = query_warehouse(project, "select run_id, status from runs where flow_run_id = ?", [flow_run["id"]])
    assert list(row.status) == ["succeeded"]
    run_id = row.run_id.iloc[0]
    assert flow_run["name"] == f"keicast-run-{run_id}" and f"run:{run_id}" in flow_run["tags"]
    assert "scenario:federal_approval_domestic" in flow_run["tags"]
    assert (project / "reports" / run_id / "index.html").is_file()


def test_deploy_creates_the_work_pool_and_exactly_one_schedule_idempotently(standing_server, tmp_path):
    env, _ = standing_server
    api = env["PREFECT_API_URL"]
    config = every_minute_project(tmp_path)
    for _ in range(2):
        keicast(env, "deploy", "--config", str(config))
    assert httpx.get(f"{api}/work_pools/keicast-process", timeout=10).json()["type"] == "process"
    deployment = read_deployment(api, "keicast-scheduled")
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["* * * * *"]
    body = {"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}, "limit": 200}
    waiting = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
    assert all(r["parameters"] == {"request": {"config_path": str(config.resolve())}} for r in waiting)
    assert deployment["parameters"] == {"request": {"config_path": str(config.resolve())}}
    assert deployment["job_variables"] == {"working_dir": str(tmp_path.resolve())}


def test_the_servers_scheduler_starts_runs_that_succeed_via_worker_and_via_serve(standing_server, tmp_path):
    """Both ways of running on a schedule, side by side: deploy + worker, and serve (distinct deployments)."""
    env, home = standing_server
    api = env["PREFECT_API_URL"]
    pooled, served = every_minute_project(tmp_path / "pooled"), every_minute_project(tmp_path / "served")
    keicast(env, "deploy", "--config", str(pooled))
    worker = _spawn(
        [str(BIN / "prefect"), "worker", "start", "--pool", "keicast-process"], env, home, tmp_path / "worker.log"
    )
    # serve from an unrelated folder: the run must still find its config and write into its project
    server = _spawn([str(BIN / "keicast"), "serve", "--config", str(served)], env, home, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                served_id = read_deployment(api, "keicast-served")["id"]
                break
            except httpx.HTTPStatusError:
                time.sleep(1)
        else:
            pytest.fail("keicast serve did not register its deployment: " + (tmp_path / "serve.log").read_text())
        pooled_id = read_deployment(api, "keicast-scheduled")["id"]
        assert_published(pooled.parent, wait_for_scheduled_success(api, pooled_id))
        assert_published(served.parent, wait_for_scheduled_success(api, served_id))
    finally:
        _stop(worker)
        _stop(server)
