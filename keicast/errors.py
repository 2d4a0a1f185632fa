"""Errors as types; the CLI maps each to its exit code in one place (keicast.cli)."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND_LINE = re.compile(r"--?[a-z][a-z0-9-]*|[A-Z][A-Z0-9_]*")  # an option (--set) or an argument (QUERY)


class KeicastError(Exception):
    """Base class: anything keicast reports to a user without a traceback. Exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One configuration problem: where (file, dotted key), the offending value, and what was expected."""

    file: str
    key: str
    value: object
    expected: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        if self.key and self.key.endswith(str(self.value)):
            return f"{where}: {self.expected}"  # the key is the offending value: say it once
        shown = repr(self.value)
        if len(shown) > 160:
            shown = shown[:157] + "..."
        return f"{where} = {shown}: {self.expected}"

    @property
    def on_command_line(self) -> bool:
        """In a command-line option (--set) or argument (QUERY, RUN_ID) rather than a file."""
        return COMMAND_LINE.fullmatch(self.file) is not None


class ConfigError(KeicastError):
    """Invalid configuration or usage (exit 2). Carries every problem found, not only the first.

    Its head line names the kind of input that was wrong (``heading``) and what became of the command
    (``outcome``; a run that had started says how it stopped, keicast.runner.recorded)."""

    exit_code = 2
    outcome = "nothing was run or changed"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))

    def __reduce__(self):  # picklable for Prefect's failed states, with a run's outcome
        return (type(self), (self.problems,), self.__dict__)

    @property
    def heading(self) -> str:
        """Usage when every problem is on the command line: a bad SQL statement or run id is not configuration."""
        usage = self.problems and all(p.on_command_line for p in self.problems)
        return "invalid usage" if usage else "invalid configuration"

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{self.heading} ({count} problem{'s' if count != 1 else ''}); {self.outcome}:"
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class InputError(ConfigError):
    """A data file keicast reads (a reference series or table) that is malformed (exit 2): not configuration."""

    heading = "invalid input"


class ActualsRefused(ConfigError):
    """An actuals file the gate refused (exit 2): every problem, each naming the file, line and value."""

    heading = "actuals refused"
    outcome = "nothing was stored or changed"


class GateFailed(KeicastError):
    """A data-quality gate failed (exit 3). ``failures`` holds (suite, expectation, column, observed) rows;
    ``results`` every gate result of the run so far (a frame of gates.RESULT_COLUMNS), stored with the run."""

    exit_code = 3

    def __init__(self, suite: str, failures: list[dict], docs_path: str | None = None, results=None):
        self.suite = suite
        self.failures = failures
        self.docs_path = docs_path
        self.results = results
        super().__init__(suite)

    def __reduce__(self):
        return (type(self), (self.suite, self.failures, self.docs_path, self.results))

    def __str__(self) -> str:
        lines = [f"data-quality gate '{self.suite}' failed; nothing was published:"]
        for f in self.failures[:20]:
            expected = f"; expected {f['expected']}" if f.get("expected") else ""
            lines.append(f"  - {f['expectation']}: {f['observed']}{expected}")
            if f.get("advice"):
                lines.append(f"    what to do: {f['advice']}")
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more (see the gate_results table)")
        if self.docs_path:
            lines.append(f"Data Docs: {self.docs_path}")
        return "\n".join(lines)


class FitNotConverged(KeicastError):
    """A fit asked for on its own (``keicast calibrate``) that did not converge (exit 3, as a failed gate): its
    estimates are printed, and this says why they cannot be used and what to do."""

    exit_code = 3

    def __init__(self, source: str, why: str, advice: str):
        self.source, self.why, self.advice = source, why, advice
        super().__init__(
            f"the fit to {source} did not converge ({why}); its estimates are not usable\n  what to do: {advice}"
        )

    def __reduce__(self):
        return (type(self), (self.source, self.why, self.advice))


class WarehouseBusy(KeicastError):
    """The warehouse stayed locked by another process past the timeout (exit 1)."""


class WarehouseDamaged(KeicastError):
    """The warehouse file cannot be read end to end: truncated or damaged (exit 1)."""

    def __init__(self, path, detail: str):
        self.path, self.detail = path, detail
        super().__init__(
            f"the warehouse {path} is damaged or truncated ({detail}); nothing was run or changed. Restore it from "
            "a backup, or move it away to start a new one (the published reports and exports are kept)"
        )

    def __reduce__(self):
        return (type(self), (self.path, self.detail))


def transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn`` for I/O tasks: retry unless the failure is a keicast error (bad input,
    a damaged warehouse, a lock that stayed held past its own wait), which a retry cannot cure."""
    return not isinstance(state.result(raise_on_failure=False), KeicastError)
