"""Accepting a claim: killed at any point, the register stays loadable (old or fully accepted) and a retry of the
same command completes the accept; a busy warehouse changes nothing and says what to do."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keicast import warehouse
from keicast.register import load_register

from ..conftest import ROOT, base_config, paused_at, query_warehouse, write_config

BIN = Path(sys.executable).parent
KEY = "market.avg_new_vehicle_price"
PAUSE_POINTS = (
    "accept_prepared",
    "register_staged",
    "register_renamed",
    "register_written",
    "claim_marked",
    "accept_committed",
)


def make_project(folder: Path) -> tuple[Path, str]:
    """A project whose warehouse holds the scanned claims of tests/fixtures/inbox (scanned without Prefect);
    returns the config path and the id of the $48,000 claim."""
    from keicast.articles import scan
    from keicast.config import load_settings

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "data" / "register.yaml", folder / "register.yaml")
    (folder / "articles").mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "inbox" / "prices.md", folder / "articles" / "prices.md")
    config = write_config(
        folder,
        base_config(folder, register_file=str(folder / "register.yaml"), articles_dir=str(folder / "articles")),
    )
    settings = load_settings(config)
    db = settings.run.warehouse
    articles, claims = scan(settings.run.articles_dir, settings.register, warehouse.known_articles(db))
    with warehouse.transaction(db) as con:
        warehouse.record_articles(con, articles, claims)
    return config, claims[claims.text == "$48,000"].claim_id.iloc[0]


def copy_project(template: Path, target: Path) -> Path:
    """A copy of a project folder with its config's absolute paths pointed at the copy."""
    shutil.copytree(template, target)
    config = target / "config.yaml"
    config.write_text(config.read_text().replace(str(template), str(target)))
    return config


def start_accept(config: Path, claim_id: str, pause_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, **paused_at(pause_at)}
    return subprocess.Popen(
        [str(BIN / "keicast"), "articles", "accept", claim_id, "--key", KEY, "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_at_pause(proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if f"KEICAST_PAUSED {name}" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"accept ended before pausing at {name}: {proc.stderr.read()}")
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"no pause at {name}")


def accepted_key(project: Path, claim_id: str):
    found = query_warehouse(project, "select accepted_key from claims where claim_id = ?", [claim_id])
    return found.accepted_key.iloc[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A scanned project, and the register text a complete accept produces in it."""
    folder = tmp_path_factory.mktemp("accept") / "template"
    config, claim_id = make_project(folder)
    reference = copy_project(folder, folder.parent / "reference")
    started = time.monotonic()
    done = start_accept(reference, claim_id)
    assert done.wait(timeout=120) == 0, done.stderr.read()
    duration = time.monotonic() - started
    return folder, claim_id, (reference.parent / "register.yaml").read_text(), duration


@pytest.mark.slow
def test_an_accept_killed_at_any_point_leaves_a_loadable_register_and_a_retry_completes_it(template, tmp_path):
    """SIGKILL at every pause point of the accept (each step of writing the register and the warehouse) and at
    18 instants spread over an uninterrupted accept's run time: 24 kills, each on a fresh copy of the project."""
    folder, claim_id, after, duration = template
    before = (folder / "register.yaml").read_text()
    points = [("pause", name) for name in PAUSE_POINTS]
    points += [("time", duration * i / 18) for i in range(1, 19)]
    outcomes = []
    for number, (how, where) in enumerate(points):
        config = copy_project(folder, tmp_path / f"kill{number}")
        project = config.parent
        proc = start_accept(config, claim_id, pause_at=where if how == "pause" else None)
        if how == "pause":
            kill_at_pause(proc, where)
        else:
            time.sleep(where)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        register = project / "register.yaml"
        load_register(register)  # loadable after every kill: raises ConfigError otherwise
        text = register.read_text()
        assert text in (before, after), (how, where)
        marked = accepted_key(project, claim_id) == KEY
        assert not marked or text == after, (how, where)  # the warehouse never records an accept the register lacks
        outcomes.append((how, where, "accepted" if text == after else "unchanged", marked))
        retry = start_accept(config, claim_id)
        assert retry.wait(timeout=120) == 0, (how, where, retry.stderr.read())
        assert register.read_text() == after and accepted_key(project, claim_id) == KEY, (how, where)
        assert not list(project.glob(".register.yaml.*")), (how, where)  # no staging file left behind
    seen = {(state, marked) for _, _, state, marked in outcomes}
    assert {("unchanged", False), ("accepted", False), ("accepted", True)} <= seen, outcomes


def test_a_busy_warehouse_changes_nothing_says_so_and_the_retry_completes_an_interrupted_accept(template, tmp_path):
    folder, claim_id, after, _ = template
    config = copy_project(folder, tmp_path / "busy")
    project, register = config.parent, config.parent / "register.yaml"
    config.write_text(config.read_text().replace("lock_timeout_seconds: 20", "lock_timeout_seconds: 1"))
    kill_at_pause(start_accept(config, claim_id, pause_at="register_written"), "register_written")
    assert register.read_text() == after and accepted_key(project, claim_id) is None
    holder = subprocess.Popen(  # a run holding the warehouse's run lock
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire(); "
            "print('held', flush=True); time.sleep(120)",
            f"{(project / 'warehouse.duckdb').resolve()}.lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = start_accept(config, claim_id)
        assert busy.wait(timeout=60) == 1
        message = busy.stderr.read()
        assert f"claim {claim_id} was not accepted" in message and "Nothing was changed" in message, message
        assert "run the same command again" in message and "Traceback" not in message
        assert register.read_text() == after and accepted_key(project, claim_id) is None
    finally:
        holder.kill()
        holder.wait()
    retry = start_accept(config, claim_id)
    assert retry.wait(timeout=60) == 0
    assert "interrupted" in retry.stderr.read() and retry.stdout.read() == ""
    assert accepted_key(project, claim_id) == KEY and register.read_text() == after
    again = start_accept(config, claim_id)
    assert again.wait(timeout=60) == 0 and "nothing changed" in again.stderr.read()
