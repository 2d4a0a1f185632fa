"""The temporary Prefect server a command starts when no PREFECT_API_URL is set.

Prefect would start the same server itself (``prefect.server.api.server.SubprocessASGIServer``), but importing
that module loads the server's whole stack (FastAPI, SQLAlchemy, its models: about 3 s of this process's CPU on
2 cores) only to run a subprocess. keicast runs the same uvicorn command with the same environment, points this
process's PREFECT_API_URL at it before the flow starts, and stops it at exit. The server boots on the second core
while the pipeline's modules import.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from keicast.errors import KeicastError

# what Prefect's own temporary server sets: no UI, ephemeral mode (no background services it does not need)
SERVER_ENVIRONMENT = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
PORT_IN_USE = 3  # uvicorn's exit code when its port was taken between our choosing and its binding


DATABASE_SETTINGS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")


def prefect_home() -> tuple[Path, str]:
    """Prefect's home and the setting that put it there (as Prefect reads it: PREFECT_HOME, else ~/.prefect)."""
    if os.environ.get("PREFECT_HOME"):
        return Path(os.environ["PREFECT_HOME"]).expanduser(), "PREFECT_HOME"
    home = os.environ.get("HOME", "")
    return Path("~/.prefect").expanduser(), f"Prefect's default home ~/.prefect, HOME={home or '(unset)'}"


def prefect_database(home: Path) -> tuple[Path | None, str | None]:
    """The temporary server's SQLite file and the setting naming it (None, None for another database)."""
    for name in DATABASE_SETTINGS:
        url = os.environ.get(name)
        if url:
            prefix = url.partition(":///")
            if not prefix[0].startswith("sqlite") or not prefix[2] or prefix[2].startswith(":memory:"):
                return None, None
            return Path(prefix[2].split("?")[0]).expanduser(), name
    return home / "prefect.db", None


def _unwritable(folder: Path, database: Path | None) -> str | None:
    """Why ``folder`` (and the database file in it, if it exists) cannot be written, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        if database is not None and database.exists():
            os.close(os.open(database, os.O_RDWR))  # SQLite opens its file read-write; a folder or RO file fails
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_prefect_home() -> Path:
    """Prefect's home and the temporary server's database, refused at once when they cannot be written:
    Prefect itself waits for its server, which dies on its SQLite file with a traceback. The message names the
    folder (or file), where it comes from and the setting that moves it."""
    home, origin = prefect_home()
    database, setting = prefect_database(home)
    checks = [(home, None, origin, "PREFECT_HOME")]
    if database is not None:
        checks.append((database.parent, database, setting or origin, setting or "PREFECT_HOME"))
    for folder, file, source, moved_by in checks:
        reason = _unwritable(folder, file)
        if reason is not None:
            what = f"{file}" if file is not None and file.exists() else f"the folder {folder}"
            raise KeicastError(
                f"Prefect needs a writable folder for its database: {what} is not writable ({reason}); it comes "
                f"from {source}. Set {moved_by} to a writable place to move it, or PREFECT_API_URL to a running "
                "Prefect server (`prefect server start`); nothing was run"
            )
    return home


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _use_api(url: str) -> None:
    """Point this process's Prefect settings at ``url`` (its settings were read when Prefect was imported)."""
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()


class TemporaryServer:
    """One temporary Prefect API server for this process, stopped at exit."""

    def __init__(self, home: Path, environment: dict[str, str], timeout: float) -> None:
        self.home, self.environment, self.timeout = home, environment, timeout
        self.process: subprocess.Popen | None = None
        self.url = ""

    def _spawn(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
        self.log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads would stall a talkative server
        self.process = subprocess.Popen(command, env=self.environment, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_until_healthy(self) -> None:
        """Start the server and wait for its health check; one process at a time migrates a new PREFECT_HOME's
        database (first commands started together raced and killed each other), so the start holds a file lock."""
        import httpx
        from filelock import FileLock

        with FileLock(str(self.home / "keicast-server-start.lock")):
            self._spawn()
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code == PORT_IN_USE:
                    self._spawn()
                elif code is not None:
                    self.log.seek(0)
                    raise KeicastError(f"the temporary Prefect server exited ({code}): {self.log.read()[-2000:]}")
                try:
                    if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise KeicastError(f"the temporary Prefect server did not answer within {self.timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _configured_api() -> bool:
    """Whether Prefect's settings name an API server, read without importing Prefect when it is not loaded yet:
    the active profile in profiles.toml (where `prefect config set PREFECT_API_URL=...` writes). With Prefect
    loaded (tests, a long-lived process), its settings answer. Other sources are caught once Prefect loads."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return bool(PREFECT_API_URL.value())
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return bool((profiles.get("profiles", {}).get(active) or {}).get("PREFECT_API_URL"))


def configured() -> bool:
    """Whether a Prefect server is configured (PREFECT_API_URL, or the active profile names one)."""
    return bool(os.environ.get("PREFECT_API_URL")) or _configured_api()


def start_temporary_server() -> Callable[[], None] | None:
    """Without PREFECT_API_URL, start a temporary server at once, in the background; returns the function that
    waits for it (call it before the flow starts: a flow started earlier would start a server of its own), or
    None when a server is configured.

    The server starts before this process imports Prefect, so the two boot side by side. A Prefect profile may
    still name a standing server (learnt only once Prefect is imported): then the temporary one is stopped unused.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    home = check_prefect_home()
    if _configured_api():
        return None
    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 120))
    server = TemporaryServer(home, {**os.environ, **SERVER_ENVIRONMENT}, timeout)
    atexit.register(server.stop)
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.wait_until_healthy()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread by join()
            failure.append(exc)

    thread = threading.Thread(target=start, name="keicast-prefect-server", daemon=True)
    thread.start()

    def join() -> None:
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            server.stop()
            return
        thread.join()
        if failure:
            raise failure[0]
        _use_api(server.url)

    return join
