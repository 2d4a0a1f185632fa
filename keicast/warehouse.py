"""The DuckDB warehouse: schema, connections, the run lock and the run's one transaction.

This is the only module that opens DuckDB. DuckDB allows one writer or many readers, never both, so every
connection retries until ``timeout`` and then raises WarehouseBusy with a clear message. Whole runs are
serialised by a file lock beside the warehouse (``<warehouse>.lock``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from filelock import FileLock, Timeout

from keicast import __version__
from keicast.errors import ConfigError, KeicastError, Problem, WarehouseBusy, WarehouseDamaged

SCHEMA = """
create table if not exists runs (
    run_id varchar primary key, started_at timestamp, finished_at timestamp, status varchar,
    config_path varchar, config_sha256 varchar, overrides json, scenarios json, draws bigint, seed bigint,
    flow_run_id varchar, code_version varchar, message varchar, pid integer, host varchar, timings json);
create table if not exists sources (
    source_id varchar, file varchar, folder varchar, publisher varchar, headline varchar, date varchar);
create table if not exists assumptions (
    run_id varchar, scenario varchar, key varchar, value double, low double, high double, unit varchar,
    kind varchar, domain varchar, source_id varchar, source varchar, quote varchar, use varchar,
    rationale varchar, overridden boolean, override_origin varchar);
create table if not exists history (series varchar, year integer, value double, unit varchar, partial boolean);
create table if not exists history_sources (series varchar, file varchar, notes varchar);
create table if not exists forecasts (
    run_id varchar, scenario varchar, year integer, metric varchar,
    mean double, p05 double, p10 double, p50 double, p90 double, p95 double);
create table if not exists backtests (
    run_id varchar, series varchar, model varchar, horizon integer, origins integer,
    mae double, mase double, mase_naive double, skill_vs_naive double,
    coverage_80 double, coverage_90 double, spread_scale double, selected boolean);
create table if not exists calibration (
    run_id varchar, series varchar, form varchar, p double, q double, m double,
    se_p double, se_q double, se_m double, rse double, df integer, r2 double, aic double,
    converged boolean, at_bound varchar, used boolean, n integer);
create table if not exists calibration_fit (
    run_id varchar, series varchar, year integer, observed double, fitted double);
create table if not exists adoption_backtests (
    run_id varchar, shape varchar, series varchar, mode varchar, fit_years integer, model varchar,
    cumulative_actual double, cumulative_forecast double, abs_pct_error double, crps double,
    coverage_80 double, holdout_years integer);
create table if not exists adoption_backtest_paths (
    run_id varchar, shape varchar, series varchar, mode varchar, fit_years integer, year integer,
    actual double, p10 double, p50 double, p90 double);
create table if not exists fit_diagnostics (
    run_id varchar, fit varchar, shape varchar, left_out varchar, seed bigint, max_rhat double, min_ess double,
    divergences integer, mean_steps double, worst_parameter varchar, converged boolean);
create table if not exists adoption_parameters (
    run_id varchar, parameter varchar, distribution varchar,
    p05 double, p25 double, p50 double, p75 double, p95 double);
create table if not exists sensitivity (
    run_id varchar, scenario varchar, method varchar, key varchar, low double, high double,
    headline_at_low double, headline_at_high double, headline_base double, swing double,
    s1 double, s1_conf double, st double, st_conf double, value double, headline double, samples integer,
    headline_se double);
create table if not exists class_share_fit (
    run_id varchar, beta_prior double, beta_prior_sd double, beta_within double, beta_within_se double,
    beta double, beta_sd double, pooled_slope double, utility double, price_ratio double, between_sd double,
    predictive_sd double, addressable double, analogs integer, points integer,
    loo_mae double, loo_mae_vs_naive double, naive_mae double, coverage_80 double);
create table if not exists class_share_analogs (
    run_id varchar, analog varchar, year integer, units double, share double, price_ratio double,
    utility double, level double, fitted double,
    loo_predicted double, loo_sd double, inside_80 boolean, naive_predicted double);
create table if not exists reference_launches (
    run_id varchar, launch varchar, year integer, units double, market_units double, partial boolean,
    family varchar, kind varchar, country varchar, launch_year integer, price_ratio double,
    policy_created boolean, t integer, share double, scored boolean, fitted boolean, vehicles_per_1000 double);
create table if not exists reference_fit (
    run_id varchar, shape varchar, parameter varchar, mean double, sd double);
create table if not exists reference_backtests (
    run_id varchar, shape varchar, series varchar, family varchar, mode varchar, fit_years integer, model varchar,
    cumulative_actual double, cumulative_forecast double, abs_pct_error double, crps double,
    coverage_80 double, interval_ratio_80 double, holdout_years integer);
create table if not exists reference_backtest_paths (
    run_id varchar, shape varchar, series varchar, family varchar, mode varchar, fit_years integer, year integer,
    actual double, p10 double, p50 double, p90 double);
create table if not exists gate_results (
    run_id varchar, suite varchar, expectation varchar, check_name varchar, "column" varchar,
    success boolean, observed varchar, expected varchar, advice varchar, checked_at timestamp);
create table if not exists sweep_results (
    run_id varchar, scenario varchar, factors json,
    cumulative_p10 double, cumulative_p50 double, cumulative_p90 double);
create table if not exists articles (
    article_id varchar, path varchar, title varchar, publisher varchar, date varchar, url varchar,
    status varchar, message varchar, claims integer, scanned_at timestamp);
create table if not exists claims (
    claim_id varchar, article_id varchar, text varchar, value double, low double, high double, unit varchar,
    family varchar, qualifier varchar, subject varchar, sentence varchar, start_char integer, end_char integer,
    key varchar, status varchar, registered_value double, reason varchar, scanned_at timestamp,
    accepted_key varchar);
create table if not exists actuals (
    series varchar, period varchar, year integer, month integer, value double, unit varchar, source varchar,
    note varchar, file varchar, file_sha256 varchar, added_at timestamp, revision integer, reason varchar,
    previous_value double, current boolean);
create table if not exists vintages (
    run_id varchar, kind varchar, series varchar, cutoff integer, model varchar, created_at timestamp);
create table if not exists vintage_quantiles (
    run_id varchar, series varchar, year integer, quantile double, value double);
create table if not exists scores (
    vintage varchar, kind varchar, series varchar, period varchar, year integer, horizon integer, actual double,
    p10 double, p50 double, p90 double, pit double, inside_80 boolean, inside_90 boolean, crps double,
    crps_scaled double, abs_pct_error double, scored_at timestamp);
-- migrations for warehouses created by earlier versions
alter table runs add column if not exists timings json;
alter table history add column if not exists partial boolean;
alter table gate_results add column if not exists expected varchar;
alter table gate_results add column if not exists advice varchar;
alter table sources add column if not exists folder varchar;
alter table backtests add column if not exists mase_naive double;
alter table backtests add column if not exists coverage_80 double;
alter table backtests add column if not exists coverage_90 double;
alter table backtests add column if not exists spread_scale double;
alter table sensitivity add column if not exists value double;
alter table sensitivity add column if not exists headline double;
alter table sensitivity add column if not exists samples integer;
alter table sensitivity add column if not exists headline_se double;
alter table reference_launches add column if not exists vehicles_per_1000 double;
"""

# What each table holds, and the columns that need a word: the schema page (docs/warehouse.md, `keicast schema`).
TABLE_NOTES = {
    "runs": "Every run, with how it ended and its stage timings.",
    "sources": "The register's articles (a snapshot, replaced by each run).",
    "assumptions": "One row per scenario x assumption key of a run: value, range, provenance, override.",
    "history": "The reference series the run saw (a snapshot).",
    "history_sources": "The source notes of the reference files (a snapshot).",
    "forecasts": "Monte Carlo quantiles per scenario, year and metric.",
    "backtests": "Rolling-origin skill and interval coverage of the baseline market's candidates.",
    "calibration": "The adoption fit per analog (posterior summaries).",
    "calibration_fit": "Observed and fitted (posterior median) analog paths.",
    "adoption_backtests": "Post- and pre-launch backtests of the adoption chain per analog and case.",
    "adoption_backtest_paths": "The chain's yearly bands in the backtests, for the report's charts.",
    "fit_diagnostics": "Every NUTS fit of the run (calibration and backtests), gated.",
    "adoption_parameters": "Prior and posterior quantiles of a new launch's adoption parameters.",
    "sensitivity": "Tornado swings, Sobol indices and Japan's share what-if per scenario.",
    "class_share_fit": "The class-share fit on the US small-car analogs.",
    "class_share_analogs": "The class-share fit's points, with leave-one-analog-out predictions.",
    "reference_launches": "The reference class of past launches the run saw: sales and market per launch and year.",
    "reference_fit": "The reference-class model's coefficients and variance parts (models.reference_class).",
    "reference_backtests": "Family hold-out backtests of the reference-class chain and its benchmarks, every shape.",
    "reference_backtest_paths": "The chosen shape's yearly bands in the reference-class backtests.",
    "gate_results": "Every expectation checked by the run's data-quality gates, passing ones too.",
    "sweep_results": "A sweep's headline per generated scenario.",
    "articles": "Articles scanned from the inbox.",
    "claims": "Figures found in the articles, matched against the register.",
    "actuals": "What happened since the reference files: every actual added, with its source and every revision.",
    "vintages": "Each published run's or backfill's data cut-off per series it forecast (keicast.record).",
    "vintage_quantiles": "A vintage's forecast distribution: a P01-P99 quantile grid per series and year.",
    "scores": "Every vintage scored against every actual it forecast (derived: replaced whole on every change).",
}
COLUMN_NOTES = {
    ("runs", "status"): "running, publishing, succeeded, failed_gate, failed, interrupted",
    ("runs", "timings"): "seconds per stage",
    ("forecasts", "metric"): "total_market; kei_sales (grey imports + new kei cars); kei_share; kei_in_use; "
    "kei_sales_cumulative; new_kei_sales, new_kei_sales_cumulative (over the status quo); grey_imports; "
    "launched (its mean is P(a maker has launched by the year's end)); new_kei_sales_if_launched, "
    "new_kei_sales_cumulative_if_launched (mean and quantiles over the draws that have launched by that year)",
    ("backtests", "skill_vs_naive"): "1 - MASE / MASE of naive, same origins",
    ("backtests", "model"): "a candidate, or auto: the choice made inside each origin from what it had seen "
    "(kept beside a model fixed in advance as what choosing would score)",
    ("backtests", "coverage_80"): "out-of-sample share of outcomes inside the 80% interval",
    ("backtests", "spread_scale"): "conformal factor of the model's paths",
    ("calibration", "form"): "the adoption shape",
    ("calibration", "m"): "long-run share",
    ("fit_diagnostics", "left_out"): "the analogs a backtest fit did not see",
    ("fit_diagnostics", "max_rhat"): "rank-normalised split R-hat",
    ("fit_diagnostics", "min_ess"): "bulk ESS",
    ("fit_diagnostics", "mean_steps"): "leapfrog steps per draw",
    ("reference_launches", "t"): "years on sale, 1 in the launch year",
    ("reference_launches", "scored"): "a full year with a market total: fitted and scored",
    ("reference_launches", "fitted"): "in the model's rows (not a launch left out as a sum of others)",
    ("reference_launches", "price_ratio"): "launch price over the market's average new car (empty: not sourced)",
    ("reference_launches", "vehicles_per_1000"): "motor vehicles per 1,000 people in the launch market (under 300: "
    "motorising)",
    ("reference_backtests", "model"): "chain, naive, reference_class (the other launches' own outcomes)",
    ("reference_backtests", "interval_ratio_80"): "median over hold-out years of P90 / P10",
    ("adoption_backtests", "mode"): "post_launch, pre_launch",
    ("adoption_backtests", "model"): "chain, naive",
    ("adoption_backtests", "crps"): "mean over hold-out years, over the mean actual",
    ("sensitivity", "method"): "tornado, sobol, what_if, mean (the analysis's own mean headline: headline at the "
    "mean market path, headline_base at the median, headline_se the standard error against the Monte Carlo's)",
    ("gate_results", "observed"): "the failing rows named, with their values",
    ("gate_results", "expected"): "the bound, from gates:",
    ("gate_results", "advice"): "what to do",
    ("history", "partial"): "a year its file marks '# partial: YEAR (why)', never fitted as a full year",
    ("articles", "status"): "processed, duplicate, rejected, superseded",
    ("claims", "status"): "confirms, contradicts, new",
    ("actuals", "period"): "YYYY, or YYYY-MM for a monthly series",
    ("actuals", "revision"): "1 for the first value; a revision keeps the earlier row",
    ("actuals", "current"): "false once revised",
    ("vintages", "run_id"): "a run id, or backfill-YEAR",
    ("vintages", "kind"): "live, backfill",
    ("vintages", "cutoff"): "the last year of the series the vintage saw",
    ("vintage_quantiles", "quantile"): "0.01 ... 0.99",
    ("scores", "horizon"): "year - the vintage's cutoff",
    ("scores", "pit"): "F(actual) read off the quantile grid",
    ("scores", "crps_scaled"): "crps over the actual",
    ("scores", "abs_pct_error"): "abs(P50 - actual) / actual",
}


# Tables holding one run's outputs (run_id column); written together in the run's final transaction.
RUN_TABLES = (
    "assumptions",
    "forecasts",
    "backtests",
    "calibration",
    "calibration_fit",
    "adoption_backtests",
    "adoption_backtest_paths",
    "adoption_parameters",
    "fit_diagnostics",
    "sensitivity",
    "class_share_fit",
    "class_share_analogs",
    "reference_launches",
    "reference_fit",
    "reference_backtests",
    "reference_backtest_paths",
    "gate_results",
    "sweep_results",
    "vintages",
    "vintage_quantiles",
)
# Tables holding the current snapshot of inputs; replaced in the same transaction.
SNAPSHOT_TABLES = ("sources", "history", "history_sources", "scores")


def now() -> datetime:
    """The time stored with rows: UTC, as DuckDB's naive timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def _open_failure(path: Path, exc: Exception) -> KeicastError | None:
    """What a failed open means, in words (None: another process holds the file, worth waiting for)."""
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        return None
    if "Is a directory" in text:
        return ConfigError([Problem("run.warehouse", "", str(path), "a DuckDB file, not a folder")])
    if "not a valid DuckDB database file" in text:
        return ConfigError(
            [Problem("run.warehouse", "", str(path), "a DuckDB warehouse; this file is something else (move it away)")]
        )
    if isinstance(exc, OSError) or "Cannot open file" in text:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else text.rsplit(": ", 1)[-1]
        return ConfigError([Problem("run.warehouse", "", str(path), f"a writable place for the warehouse ({why})")])
    return WarehouseDamaged(path, text)


@contextmanager
def connect(path: Path | str, read_only: bool = False, timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting up to ``timeout`` seconds while another process holds it.

    Any other failure says what is wrong: a folder, a file that is not DuckDB, a place that cannot be written
    (exit 2), or a damaged file (exit 1); never "in use" unless it is.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise KeicastError(f"no warehouse at {path}: run `keicast run` first")
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except (duckdb.Error, OSError) as exc:
            failure = _open_failure(path, exc)
            if failure is not None:
                raise failure from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is in use by another process (a run or an open DuckDB session) "
                    f"and stayed locked for {timeout:.0f} s; close that session or try again"
                ) from None
            time.sleep(0.25)
    try:
        if not read_only:
            try:
                con.execute(SCHEMA)
            except duckdb.IOException as exc:
                raise WarehouseDamaged(path, str(exc)) from None
        yield con
    finally:
        con.close()


def check(path: Path | str, timeout: float = 60.0) -> None:
    """Read every table end to end (DuckDB verifies each block's checksum).

    Run before a run writes anything: a truncated or damaged file is refused with a message instead of a
    pipeline that runs, commits into it and fails at publishing. A warehouse not yet created is left alone.
    """
    if not Path(path).exists():
        return
    with connect(path, read_only=True, timeout=timeout) as con:
        tables = con.execute("select table_name from duckdb_tables() where database_name = current_database()")
        for (table,) in tables.fetchall():
            try:
                con.execute(f'select sum(hash(columns(*))) from "{table}"').fetchall()
            except duckdb.Error as exc:
                raise WarehouseDamaged(Path(path), f"table {table}: {exc}") from None


@contextmanager
def transaction(path: Path | str, timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """One write transaction: committed if the block succeeds, rolled back otherwise."""
    with connect(path, timeout=timeout) as con:
        con.execute("begin transaction")
        try:
            yield con
            con.execute("commit")
        except BaseException as exc:
            try:
                con.execute("rollback")
            except duckdb.Error:
                pass  # a failed commit has already ended the transaction
            if isinstance(exc, duckdb.IOException):  # disk full, I/O error: one paragraph, not a traceback
                raise KeicastError(f"writing to the warehouse {path} failed, nothing was changed: {exc}") from None
            raise


@contextmanager
def run_lock(path: Path | str, timeout: float) -> Iterator[None]:
    """Serialise whole runs on one warehouse; a second run waits up to ``timeout`` seconds.

    The lock sits beside the real file (symbolic links resolved), so two names for one warehouse share it.
    """
    lock_path = f"{Path(path).resolve()}.lock"
    try:
        Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path)
        lock.acquire(timeout=timeout)
    except Timeout:
        raise WarehouseBusy(
            f"another keicast run holds {lock_path}; waited {timeout:.0f} s (run.lock_timeout_seconds). "
            "Try again when it finishes (`keicast runs` shows it)."
        ) from None
    except OSError as exc:
        raise ConfigError(
            [Problem("run.warehouse", "", str(path), f"a writable place for the warehouse ({exc.strerror or exc})")]
        ) from None
    try:
        yield
    finally:
        lock.release()


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``table`` matching columns by name."""
    if frame.empty:
        return
    con.execute(f"insert into {table} by name select * from frame")  # DuckDB scans the local DataFrame


def begin_run(path: Path, run_id: str, settings, flow_run_id: str | None, timeout: float) -> None:
    """Record the run as 'running' and mark runs left 'running' by a dead process as 'interrupted'.

    Called under the run lock, so any other 'running' or 'publishing' row belongs to a process that died.
    """
    units = {key: a.unit for key, a in settings.register.assumptions.items()}
    overrides = [{**o.__dict__, "unit": units.get(o.key)} for o in settings.overrides]  # to print it as the report does
    with transaction(path, timeout) as con:
        con.execute(
            "update runs set status = 'interrupted', message = case status when 'publishing' then "
            "'process ended while publishing: outputs are in the warehouse, nothing was published' "
            "else 'process ended before the run finished' end where status in ('running', 'publishing')"
        )
        con.execute(
            "insert into runs (run_id, started_at, status, config_path, config_sha256, overrides, scenarios, draws, "
            "seed, flow_run_id, code_version, pid, host) values (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                now(),
                settings.config_path,
                settings.config_sha256,
                json.dumps(overrides),
                json.dumps(list(settings.scenarios)),
                settings.run.draws,
                settings.run.seed,
                flow_run_id,
                code_version(),
                os.getpid(),
                socket.gethostname(),
            ],
        )


def record_articles(con: duckdb.DuckDBPyConnection, articles: pd.DataFrame, claims: pd.DataFrame) -> None:
    """Add newly scanned articles and their claims; earlier versions of a changed file become 'superseded'."""
    for row in articles.itertuples():
        con.execute(
            "update articles set status = 'superseded' where path = ? and article_id <> ? and status <> 'superseded'",
            [row.path, row.article_id],
        )
    insert(con, "articles", articles)
    insert(con, "claims", claims)


def claim_to_accept(con: duckdb.DuckDBPyConnection, claim_id: str) -> dict | None:
    """A claim joined with its article's path, title, publisher and date (the processed copy first)."""
    found = con.execute(
        "select c.*, a.path, a.title, a.publisher, a.date from claims c join articles a using (article_id) "
        "where claim_id = ? order by a.status = 'processed' desc, a.scanned_at desc limit 1",
        [claim_id],
    ).df()
    return None if found.empty else found.iloc[0].to_dict()


def mark_claim_accepted(con: duckdb.DuckDBPyConnection, claim_id: str, key: str) -> None:
    con.execute("update claims set accepted_key = ? where claim_id = ?", [key, claim_id])


def known_articles(path: Path, timeout: float = 30.0) -> pd.DataFrame:
    """Articles already scanned and still current (article_id, path, status); empty without a warehouse."""
    if not Path(path).exists():
        return pd.DataFrame(columns=["article_id", "path", "status"])
    return query(path, "select article_id, path, status from articles where status <> 'superseded'", timeout=timeout)


def evidence(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Claims of the current articles with their article's title (or file name) and path, in reading order."""
    return con.execute(
        """
        with current_articles as (
            select *, coalesce(title, regexp_extract(path, '[^/]+$')) as article
            from articles where status = 'processed'
        ),
        final as (
            select c.claim_id, a.article, a.path, c.text, c.value, c.unit, c.qualifier, c.status, c.key,
                   c.registered_value, c.sentence, c.reason, c.accepted_key
            from claims c join current_articles a using (article_id)
            order by a.path, c.start_char
        )
        select * from final
        """
    ).df()


def commit_run(
    path: Path,
    run_id: str,
    outputs: dict[str, pd.DataFrame],
    snapshot: dict[str, pd.DataFrame],
    timeout: float,
    timings: dict[str, float] | None = None,
    status: str = "succeeded",
) -> None:
    """The run's one transaction: all outputs, the input snapshot and its status, or nothing.

    A run that publishes commits as 'publishing' and becomes 'succeeded' only once its report and exports are
    in place (:func:`finish_run`).
    """
    missing, unknown = set(RUN_TABLES) - set(outputs), set(outputs) - set(RUN_TABLES)
    if missing or unknown:  # a misspelt or forgotten table must not be dropped silently
        raise ValueError(f"run outputs: missing tables {sorted(missing)}, unknown tables {sorted(unknown)}")
    with transaction(path, timeout) as con:
        for table in SNAPSHOT_TABLES:
            if table in snapshot:
                con.execute(f"delete from {table}")
                insert(con, table, snapshot[table])
        for table in RUN_TABLES:
            insert(con, table, outputs[table].assign(run_id=run_id))
        con.execute(
            "update runs set status = ?, finished_at = ?, timings = ? where run_id = ?",
            [status, now(), json.dumps(timings or {}), run_id],
        )


def finish_run(path: Path, run_id: str, timings: dict[str, float], timeout: float) -> None:
    """Mark a committed run 'succeeded' (after publishing) with its stage timings."""
    with transaction(path, timeout) as con:
        con.execute(
            "update runs set status = 'succeeded', finished_at = ?, timings = ? "
            "where run_id = ? and status in ('publishing', 'succeeded')",
            [now(), json.dumps(timings), run_id],
        )


def fail_run(
    path: Path, run_id: str, status: str, message: str, gate_results: pd.DataFrame | None, timeout: float
) -> None:
    """Record a failed or interrupted run (for a failed gate, with every expectation checked) in one
    transaction. A run already 'succeeded' stays so."""
    with transaction(path, timeout) as con:
        if gate_results is not None:
            insert(con, "gate_results", gate_results.assign(run_id=run_id))
        con.execute(
            "update runs set status = ?, finished_at = ?, message = ? "
            "where run_id = ? and status in ('running', 'publishing')",
            [status, now(), message[:4000], run_id],
        )


def query(path: Path, sql: str, params: list | None = None, timeout: float = 30.0) -> pd.DataFrame:
    """A read-only query as a DataFrame."""
    with connect(path, read_only=True, timeout=timeout) as con:
        try:
            return con.execute(sql, params or []).df()
        except duckdb.IOException as exc:
            raise WarehouseDamaged(Path(path), str(exc)) from None


def run_outputs(path: Path, run_id: str, timeout: float = 30.0) -> dict[str, pd.DataFrame]:
    """Every table of one run, plus its runs row and the current history snapshot."""
    with connect(path, read_only=True, timeout=timeout) as con:
        out = {t: con.execute(f"select * from {t} where run_id = ?", [run_id]).df() for t in RUN_TABLES}
        out["run"] = con.execute("select * from runs where run_id = ?", [run_id]).df()
        out["history"] = con.execute("select * from history").df()
        out["sources"] = con.execute("select * from sources").df()
        out["evidence"] = evidence(con)
        out.update(track_record(con))
        out["latest_sweep"] = con.execute(
            """
            with sweeps as (
                select distinct s.run_id, r.started_at from sweep_results s join runs r using (run_id)
                where r.status = 'succeeded'
            ),
            latest as (select run_id from sweeps order by started_at desc limit 1)
            select * from sweep_results where run_id in (select run_id from latest) order by cumulative_p50 desc
            """
        ).df()
    return out


def previous_run(path: Path, run_id: str, timeout: float = 30.0) -> str | None:
    """The succeeded run started just before ``run_id`` (what its report compares with), if any."""
    found = query(
        path,
        "select run_id from runs where status = 'succeeded' and started_at < "
        "(select started_at from runs where run_id = ?) order by started_at desc limit 1",
        [run_id],
        timeout,
    )
    return None if found.empty else str(found.run_id.iloc[0])


def succeeded_runs(path: Path, timeout: float = 30.0) -> pd.DataFrame:
    """Succeeded runs, newest first."""
    return query(path, "select * from runs where status = 'succeeded' order by started_at desc", timeout=timeout)


def resolve_run(path: Path, ref: str, timeout: float = 30.0) -> str | None:
    """A run id from what a user types: 'latest' / 'previous' (newest / second-newest succeeded run), a full id,
    or a unique prefix of one. None when nothing (or more than one run) matches."""
    runs = succeeded_runs(path, timeout)
    if ref in ("latest", "previous"):
        index = 0 if ref == "latest" else 1
        return str(runs.run_id.iloc[index]) if len(runs) > index else None
    every = query(path, "select run_id from runs where starts_with(run_id, ?)", [ref], timeout).run_id
    exact = [r for r in every if r == ref]
    return exact[0] if exact else (str(every.iloc[0]) if len(every) == 1 else None)


def run_history(path: Path, limit: int, timeout: float = 30.0) -> pd.DataFrame:
    """The newest ``limit`` runs: status, start, duration, draws, seed, overrides and message."""
    return query(
        path,
        "select run_id, status, started_at, date_diff('microsecond', started_at, finished_at) / 1e6 as seconds, "
        "draws, seed, overrides, message from runs order by started_at desc limit ?",
        [limit],
        timeout,
    )


def sweep_results(path: Path, run_id: str, timeout: float = 30.0) -> pd.DataFrame:
    """A sweep's comparison table, largest median first."""
    return query(path, "select * from sweep_results where run_id = ? order by cumulative_p50 desc", [run_id], timeout)


def run_assumptions(path: Path, run_id: str, timeout: float = 30.0) -> pd.DataFrame:
    """The assumption table a stored run used."""
    return query(path, "select * from assumptions where run_id = ?", [run_id], timeout)


def read_only_query(path: Path, sql: str, timeout: float = 30.0) -> pd.DataFrame:
    """An analyst's own SQL against the warehouse, on a read-only connection (nothing can be changed)."""
    with connect(path, read_only=True, timeout=timeout) as con:
        return con.execute(sql).df()


def schema_page() -> str:
    """The warehouse schema as a Markdown page, built from SCHEMA itself (docs/warehouse.md is this page)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(SCHEMA)
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "order by table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    lines = [
        "# Warehouse schema",
        "",
        "<!-- generated from keicast/warehouse.py by `keicast schema > docs/warehouse.md`; a test keeps it current -->",
        "",
        "One DuckDB file (`run.warehouse`). A run's outputs (the tables with `run_id`) are written in one",
        "transaction with its status; DuckDB allows one writer or many readers, never both, so `keicast sql`",
        "opens it read-only.",
    ]
    tables = list(dict.fromkeys(n for n, _, _ in columns))
    if missing := sorted(set(tables) - set(TABLE_NOTES)):
        raise ValueError(f"warehouse tables without a TABLE_NOTES entry: {missing}")
    for table in sorted(tables, key=list(TABLE_NOTES).index):
        lines += ["", f"## `{table}`", "", TABLE_NOTES[table], "", "| column | type | note |", "|---|---|---|"]
        lines += [f"| {c} | {t.lower()} | {COLUMN_NOTES.get((table, c), '')} |" for n, c, t in columns if n == table]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- track record
def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether a table exists (a read-only connection to a warehouse of an earlier version lacks new ones)."""
    found = con.execute("select count(*) from duckdb_tables() where table_name = ?", [table]).fetchone()
    return bool(found and found[0])


def actuals_in_force(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not _has_table(con, "actuals"):
        return pd.DataFrame(columns=["series", "period", "year", "month", "value", "revision", "current"])
    return con.execute("select * from actuals where current order by series, period").df()


def stored_actuals(path: Path, timeout: float = 30.0) -> tuple[pd.DataFrame, set[str]]:
    """The actuals in force and the digests of every file added, on a read-only connection (a file DuckDB cannot
    read end to end is WarehouseDamaged, as :func:`check` would say)."""
    with connect(path, read_only=True, timeout=timeout) as con:
        try:
            return actuals_in_force(con), known_actual_files(con)
        except duckdb.Error as exc:
            raise WarehouseDamaged(Path(path), str(exc)) from None


def known_actual_files(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Digests of every actuals file already added (an inbox file seen before is skipped)."""
    if not _has_table(con, "actuals"):
        return set()
    return {d for (d,) in con.execute("select distinct file_sha256 from actuals").fetchall()}


def add_actuals(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    """Append actuals; a row that revises a stored period retires the earlier one (kept, current = false)."""
    for row in rows[rows.revision > 1].itertuples():
        con.execute(
            "update actuals set current = false where series = ? and period = ? and current", [row.series, row.period]
        )
    insert(con, "actuals", rows.assign(current=True))


COUNTED_VINTAGES = """
with source as (select v.*, r.status from vintages v left join runs r using (run_id)),
final as (select * from source where kind = 'backfill' or status = 'succeeded')
select run_id, kind, series, cutoff, model, created_at from final order by created_at
"""


def vintage_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every stored vintage (run_id, kind, series, cutoff) and its quantile grid (run_id, series, year, quantile,
    value), for scoring. A live vintage counts once its run has succeeded."""
    if not _has_table(con, "vintages"):
        return vintage_inputs_empty()
    vintages = con.execute(COUNTED_VINTAGES).df()
    grid = con.execute(
        "select q.* from vintage_quantiles q semi join (select distinct run_id from vintages) v using (run_id)"
    ).df()
    return vintages, grid[grid.run_id.isin(set(vintages.run_id))]


def stored_vintages(path: Path, timeout: float = 30.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`vintage_inputs` on a read-only connection (empty without a warehouse)."""
    if not Path(path).exists():
        return vintage_inputs_empty()
    with connect(path, read_only=True, timeout=timeout) as con:
        return vintage_inputs(con)


def vintage_inputs_empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(columns=["run_id", "kind", "series", "cutoff"]), pd.DataFrame(
        columns=["run_id", "series", "year", "quantile", "value"]
    )


def replace_scores(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> None:
    """The record is derived: every score is recomputed from the vintages and the actuals in force."""
    con.execute("delete from scores")
    insert(con, "scores", scores)


def replace_backfill(con: duckdb.DuckDBPyConnection, run_id: str, vintages: pd.DataFrame, grid: pd.DataFrame) -> None:
    """Store one backfill vintage, replacing an earlier backfill of the same cut-off."""
    for table in ("vintages", "vintage_quantiles"):
        con.execute(f"delete from {table} where run_id = ?", [run_id])
    insert(con, "vintages", vintages.assign(run_id=run_id))
    insert(con, "vintage_quantiles", grid.assign(run_id=run_id))


def track_record(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """What the report's track record shows: the scores, every vintage's P10 / P50 / P90, the actuals (every
    revision) and the vintages."""
    if not _has_table(con, "scores"):
        return {}
    bands = con.execute(
        """
        with source as (select * from vintage_quantiles where quantile in (0.1, 0.5, 0.9)),
        final as (
            select run_id, series, year,
                   max(value) filter (where quantile = 0.1) as p10,
                   max(value) filter (where quantile = 0.5) as p50,
                   max(value) filter (where quantile = 0.9) as p90
            from source group by run_id, series, year
        )
        select * from final order by run_id, series, year
        """
    ).df()
    return {
        "scores": con.execute("select * from scores order by series, year, vintage").df(),
        "vintage_bands": bands,
        "actuals": con.execute("select * from actuals order by series, period, revision").df(),
        "vintages": con.execute(COUNTED_VINTAGES).df(),
    }


def record_rows(path: Path, series: str | None, timeout: float = 30.0) -> pd.DataFrame:
    """`keicast record`: the stored scores, one row per vintage x series x period (optionally one series)."""
    return query(
        path,
        """
        with source as (select * from scores where ? is null or series = ?),
        final as (
            select vintage, kind, series, period, horizon, actual, p10, p50, p90, pit, inside_80, inside_90, crps,
                   abs_pct_error
            from source order by series, year, kind, vintage
        )
        select * from final
        """,
        [series, series],
        timeout,
    )
