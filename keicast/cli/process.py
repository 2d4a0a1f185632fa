"""The command process: a quiet environment, progress lines, errors mapped to exit codes in one place (0
success, 2 invalid configuration or usage, 3 a data-quality gate failed, 1 anything else), and an exit that
skips the interpreter's teardown."""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import sys
import traceback
import warnings

import typer

from keicast.cli.output import err
from keicast.errors import KeicastError


def quiet_environment() -> None:
    for name, value in (
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        ("GX_ANALYTICS_ENABLED", "false"),
        ("DO_NOT_TRACK", "1"),
        ("DASK_LOGGING__DISTRIBUTED", "warning"),
        # a temporary server's first start migrates its database: on a busy 2-core machine that outlasts 20 s
        ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"),
        ("PREFECT_LOGGING_LEVEL", os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")),
    ):
        os.environ.setdefault(name, value)
    # with PREFECT_API_URL set, an unwritable HOME is no problem; without it, keicast.server.check_prefect_home says so
    warnings.filterwarnings("ignore", message="Failed to create the Prefect home directory")


def _error_names(kind: type = KeicastError) -> set[str]:
    """The names of keicast's error types, as Prefect's failed-state messages spell them."""
    return {kind.__name__}.union(*(_error_names(sub) for sub in kind.__subclasses__()))


class _KnownErrorFilter(logging.Filter):
    """Keeps Prefect's console log free of tracebacks and failed-state lines for errors the CLI reports itself
    (gate, config, input, busy, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeicastError):
            return False
        message = record.getMessage()
        return not any(name in message for name in _error_names())


def quiet_known_errors() -> None:
    if os.environ.get("KEICAST_DEBUG"):
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not any(
            isinstance(f, _KnownErrorFilter) for f in handler.filters
        ):
            handler.addFilter(_KnownErrorFilter())


@contextlib.contextmanager
def attended():
    """Prefect settings for a flow run this process waits on: no flow-run heartbeats.

    Heartbeats let a server mark runs that nobody watches as crashed; an attended run's end is its process's
    exit, and the warehouse records how it ended. Their thread holds the run's end up to a second as it stops.
    A heartbeat frequency set in the environment wins.
    """
    if {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"} & set(os.environ):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def show_progress(quiet: bool) -> None:
    """Print the pipeline's stage status lines (logger keicast.progress) on stderr, unless --quiet."""
    progress = logging.getLogger("keicast.progress")
    progress.handlers.clear()
    progress.propagate = False
    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("keicast: %(message)s"))
        progress.addHandler(handler)
        progress.setLevel(logging.INFO)


def guarded(fn):
    """Run a command, turning keicast's errors into a message and their exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            _release_frames(exc)
            raise

    return _reported(wrapper)


def _release_frames(exc: BaseException) -> None:
    """Drop the local variables of the frames an error passed through. Prefect keeps a failed flow's exception
    until exit, and with it any DuckDB connection those frames held: at exit DuckDB's bindings then print
    "nanobind: leaked ..." lines after keicast's message."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _reported(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeicastError as exc:
            err.print(f"keicast: {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err.print("keicast: interrupted")
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence: message, exit 1
            if os.environ.get("KEICAST_DEBUG"):
                raise
            err.print(
                f"keicast: unexpected error: {exc.__class__.__name__}: {exc} (set KEICAST_DEBUG=1 for a traceback)",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper


_exit_code = 0


def _exit_without_teardown() -> None:
    """The last exit handler: end the process once every other handler has run, skipping the interpreter's
    teardown. Its garbage collections walk every object Prefect, GX and pandas made (about 1 s on 2 cores) only to
    free memory the system takes back anyway. Logging is shut down (flushed) first, as the teardown would."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code)


def run_command(app) -> None:  # pragma: no cover - the console entry point
    """Run the ``keicast`` command ``app``, ending the process with its exit code and without the teardown."""
    global _exit_code
    atexit.register(_exit_without_teardown)  # registered first: runs after Prefect's handlers
    try:
        app()
    except SystemExit as exc:
        _exit_code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    except KeyboardInterrupt:
        _exit_code = 130
        raise
    except BaseException:
        _exit_code = 1
        raise
