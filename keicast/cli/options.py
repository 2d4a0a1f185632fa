"""Options the commands share, and the output formats."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", metavar="PATH", help="Path to config.yaml.")]


SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="KEY=VALUE", help="Override an assumption, e.g. policy.import_tariff=0.15 (repeatable)."
    ),
]


ScenarioOpt = Annotated[
    list[str] | None, typer.Option("--scenario", "-s", metavar="NAME", help="Scenario name (repeatable).")
]


DrawsOpt = Annotated[int | None, typer.Option("--draws", metavar="N", min=100, help="Monte Carlo draws per scenario.")]


SeedOpt = Annotated[int | None, typer.Option("--seed", metavar="N", min=0, max=2**63 - 1, help="Random seed.")]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class BassForm(StrEnum):
    pdf = "pdf"
    increments = "increments"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output: a table for people, or CSV / JSON.")]


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No status line per stage, no progress bar.")]
