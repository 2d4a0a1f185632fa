"""Commands on the evidence: the assumption table, the register's sources, the article inbox."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from keicast.cli.options import (
    ConfigOpt,
    Format,
    FormatOpt,
    ScenarioOpt,
    SetOpt,
)
from keicast.cli.output import emit, err, out
from keicast.cli.process import attended, guarded, quiet_environment, quiet_known_errors
from keicast.cli.runs import resolve_run_id
from keicast.errors import ConfigError, Problem
from keicast.server import start_temporary_server


def calibrated_inputs(config: Path, sets: list[str] | None, scenarios: list[str] | None):
    """Settings, evidence, and the calibrated assumption table (the pipeline's steps up to assembly)."""
    from keicast import steps
    from keicast.config import load_settings

    settings = load_settings(config, scenarios, sets)
    evidence = steps.load_evidence(settings)
    return settings, evidence, steps.calibrate_assumptions(settings, evidence)


@guarded
def assumptions(
    config: ConfigOpt = Path("config.yaml"),
    scenario: ScenarioOpt = None,
    set_: SetOpt = None,
    fmt: FormatOpt = Format.table,
    run_id: Annotated[str | None, typer.Option("--run", help="Show a stored run's table instead.")] = None,
) -> None:
    """The assumption table (one row per scenario x key) with values, ranges, sources and quotes."""
    if run_id:
        from keicast import warehouse
        from keicast.config import load_settings

        settings = load_settings(config)
        table = warehouse.run_assumptions(settings.run.warehouse, resolve_run_id(settings, run_id, "--run"))
        if table.empty:
            raise ConfigError([Problem("--run", "", run_id, "a run id in the warehouse (see `keicast runs`)")])
        if scenario:
            table = table[table.scenario.isin(scenario)]
    else:
        table = calibrated_inputs(config, set_, scenario)[2].table
    if fmt is Format.table:
        shown = table[["scenario", "key", "value", "low", "high", "unit", "override_origin"]].assign(
            source=[_short_source(k, s) for k, s in zip(table.kind, table.source, strict=True)]
        )
        emit(shown.rename(columns={"override_origin": "origin"}), fmt, "assumptions", {"unit": 20, "source": 28})
    else:
        emit(table, fmt)


def _short_source(kind: str, source: str | None) -> str:
    """Where a value comes from, in the register's terms and short: the article file, the reference data file its
    source names (else "reference data"), the citation, or "rationale" (an analyst's judgement; an override is one)."""
    if kind == "article":
        return str(source).split(" (")[0]  # the file, without its publisher and headline
    if kind == "literature":
        return str(source)
    if kind != "reference_data":
        return "rationale"
    named = re.search(r"data/[\w./-]*\w", source or "")
    return Path(named.group()).name if named else "reference data"


@guarded
def sources_verify(
    articles: Annotated[Path, typer.Option("--articles", help="Folder with the article texts.")] = Path(
        "data/articles"
    ),
    register: Annotated[
        Path, typer.Option("--register", metavar="PATH", help="The evidence register to check.")
    ] = Path("data/register.yaml"),
) -> None:
    """Check that every quote occurs in its article and contains its figure."""
    from keicast.register import load_register, verify_quotes

    if not articles.is_dir():
        raise ConfigError([Problem("--articles", "", str(articles), "an existing folder of article texts")])
    checks = verify_quotes(load_register(register), articles)
    bad = [c for c in checks if not c.ok]
    for c in bad:
        err.print(f"  - {c.key} ({c.source}): {c.reason} [figure {c.figure!r}]")
    out.print(f"{len(checks) - len(bad)}/{len(checks)} quotes verified against {articles}")
    if bad:
        raise typer.Exit(1)


@guarded
def articles_scan(
    directory: Annotated[
        Path | None, typer.Argument(metavar="DIR", help="Inbox folder (default: run.articles_dir).")
    ] = None,
    config: ConfigOpt = Path("config.yaml"),
    fmt: FormatOpt = Format.table,
) -> None:
    """Read new or changed articles, extract their figures and match them against the register."""
    from keicast import warehouse
    from keicast.config import load_settings, request_from_options

    quiet_environment()
    request = request_from_options(config)
    settings = load_settings(request)
    inbox = directory or settings.run.articles_dir
    if not inbox.is_dir():  # named where it was given: the argument, or config.yaml's run.articles_dir
        where = ("DIR", "") if directory else (str(config), "run.articles_dir")
        raise ConfigError([Problem(*where, str(inbox), "an existing folder of articles")])
    if server_ready := start_temporary_server():
        server_ready()
    from flows.articles import keicast_articles

    quiet_known_errors()
    with attended():
        summary = keicast_articles(request, directory=str(inbox))
    for row in summary["not_processed"]:
        err.print(f"keicast: {row['path']}: {row['status']}: {row['message']}")
    with warehouse.connect(settings.run.warehouse, read_only=True, timeout=settings.run.lock_timeout_seconds) as con:
        shown = warehouse.evidence(con)
    shown = shown[shown.path.map(lambda p: Path(p).parent.resolve() == inbox.resolve())].drop(columns=["path"])
    contradictions = int((shown.status == "contradicts").sum())
    err.print(
        f"keicast: {inbox}: {summary['new_or_changed']} article(s) new or changed this scan, {summary['claims']} new "
        f"claim(s); {len(shown)} claim(s) in all, {contradictions} contradiction(s)"
    )
    if fmt is Format.table:
        columns = ["claim_id", "article", "text", "qualifier", "status", "key", "registered_value", "unit"]
        emit(shown[columns], fmt, "claims")
    else:
        emit(shown, fmt)


@guarded
def articles_accept(
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM_ID", help="A claim id from `keicast articles scan`.")],
    key: Annotated[str, typer.Option("--key", help="Register key the claim supports.")],
    new: Annotated[
        bool, typer.Option("--new", help="Create KEY, a key the register lacks, as a context-only figure.")
    ] = False,
    config: ConfigOpt = Path("config.yaml"),
) -> None:
    """Add a claim to the evidence register (value, quote, source): a reviewed, versioned change. Interrupted at
    any point, the same command run again completes it."""
    from datetime import date

    from keicast.acceptance import accept_claim
    from keicast.config import load_settings

    settings = load_settings(config)
    done = accept_claim(settings.run, claim_id, key, date.today().isoformat(), new)
    claim, evidence = f"claim {claim_id}", f"evidence for {key} in {done.register}"
    if done.edit is not None:
        sys.stdout.write(done.edit.diff())
        err.print(
            f"keicast: {claim} accepted as {evidence}; review the diff above and commit the register", soft_wrap=True
        )
    elif done.completed:
        err.print(
            f"keicast: {claim} was already {evidence} (written by an accept that was interrupted); "
            "the warehouse now records it as accepted: the accept is complete",
            soft_wrap=True,
        )
    else:
        err.print(f"keicast: {claim} is already {evidence}; nothing changed", soft_wrap=True)
