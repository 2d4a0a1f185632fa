"""Paths in ``run:``: relative to the config file's folder, and outputs that never overlap the inputs."""

from __future__ import annotations

import os
from pathlib import Path

from keicast.config.schema import RunSettings
from keicast.errors import Problem

PATH_FIELDS = (
    "warehouse", "register_file", "reference_dir", "reference_class_dir", "articles_dir", "actuals_dir",
    "reports_dir", "exports_dir",
)  # fmt: skip


OUTPUT_DIRS = ("reports_dir", "exports_dir")


INPUTS = {"register_file": "file", "reference_dir": "folder", "reference_class_dir": "folder"}  # a run reads them


def project_paths(run: RunSettings, base: Path, file: str) -> tuple[RunSettings, list[Problem]]:
    """The run's paths resolved against the config file's folder (the project).

    A relative path must stay inside the project; an absolute path is the user's explicit choice and is kept. An
    input a run reads must be there: named here by its key and value as written, where its reader could name only
    the path.
    """
    resolved, problems = {}, []
    for name in PATH_FIELDS:
        value = getattr(run, name)
        path = Path(os.path.normpath(base / value))
        if not value.is_absolute() and not path.is_relative_to(base):
            problems.append(
                Problem(
                    file,
                    f"run.{name}",
                    str(value),
                    f"a path inside the project folder {base} (write an absolute path for a place outside it)",
                )
            )
        elif name in INPUTS and (not path.exists() or path.is_dir() != (INPUTS[name] == "folder")):
            found = "a folder" if path.is_dir() else "a file" if path.exists() else "nothing"
            expected = f"an existing {INPUTS[name]} (found {found} at {path})"
            problems.append(Problem(file, f"run.{name}", str(value), expected))
        resolved[name] = path
    return run.model_copy(update=resolved), problems


def overlapping_paths(run: RunSettings, file: str) -> list[Problem]:
    """Each output folder apart from the other and from every input: publishing replaces what is inside them."""
    real = {name: getattr(run, name).resolve() for name in PATH_FIELDS}
    problems = []
    for out in OUTPUT_DIRS:
        for other in PATH_FIELDS:
            if other == out or (other in OUTPUT_DIRS and other > out):  # the pair of outputs once
                continue
            a, b = real[out], real[other]
            if a == b or a in b.parents or b in a.parents:
                problems.append(
                    Problem(
                        file,
                        f"run.{other}",
                        str(getattr(run, other)),
                        f"a path apart from run.{out} ({getattr(run, out)}), neither inside the other: "
                        "publishing a run would overwrite it",
                    )
                )
    return problems
