"""How long a what-if run takes: `keicast run` as a whole process against the import floor of its stack.

The import floor is `python -c "import prefect, great_expectations, statsmodels.api, duckdb, pandas,
scipy"`: no run can start faster than its libraries load. Three commands run in turn, ``--rounds`` times, so
machine noise hits them alike, and medians are compared:

- floor:     the import floor;
- temporary: `keicast run` with no PREFECT_API_URL, so it starts (and stops) a temporary Prefect server;
- standing:  `keicast run` against a `prefect server start` that the bench starts once beforehand.

Each run uses the default config.yaml (20,000 draws) pointed at a temporary warehouse, reports, exports and an
article inbox holding the source articles (so after the first run, ingestion has nothing new: the what-if case).
One warm-up run of each kind is not timed (it fills the calibration/baseline caches and scans the articles).
Targets (issue #17): temporary <= 2.0x the floor, standing <= 1.5x. The last run's stage timings are printed.

``--cold`` times instead the first run after installing: each round a fresh project folder, so an empty
calibration cache (no stored fits, no compiled sampler), a new warehouse and a temporary server, against the
floor measured in the same rounds. Target (issue #22): cold <= 10x the floor.

    .venv/bin/python bench/bench_run.py [--rounds 3] [--draws N] [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from keicast.yamlfile import dump_yaml, parse_yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keicast import warehouse  # noqa: E402

BIN = Path(sys.executable).parent
SOURCE_ARTICLES = ROOT / "data" / "articles"  # the five source articles the register cites
FLOOR = "import prefect, great_expectations, statsmodels.api, duckdb, pandas, scipy"


def project(tmp: Path, draws: int | None) -> Path:
    """config.yaml with the run's outputs in ``tmp``; the inbox holds the source articles when present."""
    config = parse_yaml((ROOT / "config.yaml").read_text(), "test")
    inbox = tmp / "articles"
    inbox.mkdir()
    for article in (ROOT / "articles", SOURCE_ARTICLES):
        if article.is_dir():
            for path in article.glob("*.txt"):
                shutil.copy(path, inbox / path.name)
            break
    config["run"].update(
        warehouse=str(tmp / "warehouse.duckdb"),
        reports_dir=str(tmp / "reports"),
        exports_dir=str(tmp / "exports"),
        articles_dir=str(inbox),
        register_file=str(ROOT / "data" / "register.yaml"),
        reference_dir=str(ROOT / "data" / "reference"),
    )
    if draws:
        config["run"]["draws"] = draws
    path = tmp / "config.yaml"
    path.write_text(dump_yaml(config))
    return path


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def standing_server(env: dict, home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "PREFECT_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    for _ in range(180):
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return proc, api
        except httpx.HTTPError:
            time.sleep(1)
    raise SystemExit("the standing Prefect server did not start")


def last_timings(config: Path) -> dict:
    warehouse_path = Path(parse_yaml(config.read_text(), "test")["run"]["warehouse"])
    runs = warehouse.succeeded_runs(warehouse_path)
    return json.loads(runs.timings.iloc[0]) if len(runs) else {}


def report(times: dict[str, list[float]], stages: dict) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'command':<10} {'median s':>9}  {'x floor':>7}  rounds")
    for name, values in times.items():
        ratio = medians[name] / medians["floor"]
        print(f"{name:<10} {medians[name]:>9.2f}  {ratio:>7.2f}  " + ", ".join(f"{v:.2f}" for v in values))
    print("stage timings of the last run (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))


def cold(rounds: int, draws: int | None, env: dict, tmp: Path) -> None:
    """The first run after installing, ``rounds`` times, each in a fresh project (empty cache), beside the floor."""
    times: dict[str, list[float]] = {"floor": [], "cold": []}
    for n in range(rounds):
        folder = tmp / f"cold-{n}"
        folder.mkdir()
        config = project(folder, draws)
        times["floor"].append(timed([sys.executable, "-c", FLOOR], env))
        times["cold"].append(timed([str(BIN / "keicast"), "run", "--config", str(config)], env))
    report(times, last_timings(config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--cold", action="store_true", help="time the first run after installing (empty cache)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="keicast-bench-run-"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(GX_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    if args.cold:
        try:
            cold(args.rounds, args.draws, env, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    config = project(tmp, args.draws)
    server, api = standing_server(env, tmp / "standing-home")
    standing_env = {**env, "PREFECT_API_URL": api}
    commands = {
        "floor": ([sys.executable, "-c", FLOOR], env),
        "temporary": ([str(BIN / "keicast"), "run", "--config", str(config)], env),
        "standing": ([str(BIN / "keicast"), "run", "--config", str(config)], standing_env),
    }
    try:
        for name in ("temporary", "standing"):  # warm-up: caches, article scan, server database
            timed(*commands[name])
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (command, command_env) in commands.items():
                times[name].append(timed(command, command_env))
        stages = last_timings(config)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    report(times, stages)


if __name__ == "__main__":
    main()
