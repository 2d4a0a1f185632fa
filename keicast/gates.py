"""Data-quality gates: Great Expectations suites (expectations/*.json) run on pandas frames.

Each stage of the pipeline prepares the frames its suites check (``*_frames`` below), then ``check`` validates
them. GX is imported lazily (about 2.5 s) and runs with progress bars and analytics off. The suites take their
plausibility bounds from config.yaml ``gates`` as GX expectation parameters ({"$PARAMETER": name}).
GX's SQL path does not work against DuckDB here, so frames are read into pandas first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from keicast.compare import market_check
from keicast.formatting import number

if TYPE_CHECKING:  # the validator process imports this module: it needs GX and pandas, not the config's stack
    from keicast.config import Config

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"
STAGES: dict[str, tuple[str, ...]] = {
    "history": ("history", "history_spans"),
    "assumptions": ("assumptions", "scenario_prices"),
    "calibration": ("calibration", "fit_diagnostics"),
    "adoption": ("adoption_backtests", "fit_diagnostics"),
    "reference": ("reference_backtests",),
    "baseline": ("baseline_skill",),
    "forecasts": (
        "forecasts",
        "forecast_bounds",
        "forecast_coverage",
        "market_check",
        "layering",
        "status_quo_check",
        "sensitivity_precision",
        "sensitivity_mean",
    ),
}
# A sensitivity mean further than the tolerance from the Monte Carlo's fails unless within this many standard errors
# of the two means' noise. At the default 20k draws 3 se is 3-5% of the mean, so the 5% tolerance binds; a quick run
# of 2k draws is spared its noise (the mean of a heavy-tailed total, and a sample sd that understates its tail).
SENSITIVITY_NOISE_Z = 3.0
RESULT_COLUMNS = [
    "suite", "expectation", "check_name", "column", "success", "observed", "expected", "advice", "checked_at"
]  # fmt: skip


# ---------------------------------------------------------------------------------------------- frames
def history_frames(history: pd.DataFrame, required_series: list[str]) -> dict[str, pd.DataFrame]:
    """Frames for the history suites: the long history and each series' year span."""
    spans = history.groupby("series").year.agg(first_year="min", last_year="max", years="nunique").reset_index()
    spans["gaps"] = spans.last_year - spans.first_year + 1 - spans.years
    spans["required_contiguous"] = spans.series.isin(required_series)
    return {
        "history": history.assign(is_percent=history.unit.str.contains("percent", case=False)),
        "history_spans": spans,
    }


def assumption_frames(assumptions: pd.DataFrame, buyer_prices: dict[str, float]) -> dict[str, pd.DataFrame]:
    """Frames for the assumption suites: the rows themselves and each scenario's prices."""
    wide = assumptions.pivot_table(index="scenario", columns="key", values="value", aggfunc="first")
    prices = pd.DataFrame(
        {
            "scenario": wide.index,
            "kei_target_price": wide["kei.target_price"].to_numpy(),
            "avg_new_vehicle_price": wide["market.avg_new_vehicle_price"].to_numpy(),
        }
    )
    prices["kei_buyer_price"] = prices.scenario.map(buyer_prices)
    return {"assumptions": assumptions, "scenario_prices": prices}


def forecast_frames(
    forecasts: pd.DataFrame,
    assumptions: pd.DataFrame,
    start: int,
    status_quo: tuple[str, ...] = (),
    sensitivity: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Frames for the forecast suites: the long table, per (scenario, year) bounds, coverage, market check,
    layering over the status quo, the status quo against the latest import count, Sobol precision and the
    sensitivity analysis's mean against the Monte Carlo's."""
    wide = forecasts.pivot_table(index=["scenario", "year"], columns="metric", values=["p05", "p50", "p95"])
    wide.columns = [f"{metric}_{q}" for q, metric in wide.columns]
    wide = wide.reset_index()
    ceiling = assumptions[assumptions.key == "japan.kei_share"].set_index("scenario").high
    wide["japan_kei_share_high"] = wide.scenario.map(ceiling)
    coverage = forecasts.groupby(["scenario", "metric"]).year.agg(years="nunique", first_year="min").reset_index()
    article = assumptions[assumptions.key == "market.us_new_vehicle_sales"].value.iloc[0]
    market = market_check(forecasts, article, start)
    reported = assumptions[assumptions.key == "grey.imports_2023"].set_index("scenario").value
    grey = forecasts[(forecasts.metric == "grey_imports") & (forecasts.year == start)]
    status = pd.DataFrame({"scenario": grey.scenario, "ratio_to_reported": grey.p50 / grey.scenario.map(reported)})
    return {
        "forecasts": gated_forecasts(forecasts),
        "forecast_bounds": wide,
        "forecast_coverage": coverage,
        "market_check": market,
        "layering": layering_frame(forecasts, status_quo),
        "status_quo_check": status,
        **sensitivity_frames(forecasts, sensitivity),
    }


def gated_forecasts(forecasts: pd.DataFrame) -> pd.DataFrame:
    """The forecasts the suite checks: every row but a forecast given a launch in a year no draw has launched by
    (it has no draws to be over, so it is NaN by design)."""
    from models.scenario import CONDITIONAL_METRICS

    launched = forecasts[forecasts.metric == "launched"].set_index(["scenario", "year"])["mean"]
    index = pd.MultiIndex.from_frame(forecasts[["scenario", "year"]])
    none = launched.reindex(index).fillna(0).to_numpy() == 0
    return forecasts[~(forecasts.metric.isin(CONDITIONAL_METRICS).to_numpy() & none)]


def sensitivity_frames(forecasts: pd.DataFrame, sensitivity: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The sensitivity suites' frames: the Sobol rows, and per scenario the sensitivity analysis's mean headline
    (models.sensitivity.headline_means) against the Monte Carlo's mean of the same sum of kei sales.

    ``beyond_noise`` marks a difference above SENSITIVITY_NOISE_Z standard errors of the two means' noise; only
    such a difference is held to the tolerance, so a run of few draws is not failed for its Monte Carlo noise.
    """
    empty = sensitivity is None or sensitivity.empty
    table = pd.DataFrame(columns=["method", "s1_conf", "st_conf"]) if empty else sensitivity
    means = table[table.method == "mean"].reindex(columns=["scenario", "low", "high", "headline", "headline_se"])
    sales = forecasts[forecasts.metric == "kei_sales"]
    window = [sales[(sales.scenario == r.scenario) & sales.year.between(r.low, r.high)] for r in means.itertuples()]
    frame = pd.DataFrame(
        {
            "scenario": means.scenario.to_numpy(),
            "sensitivity_mean": means.headline.to_numpy(dtype=float),
            "monte_carlo_mean": [float(part["mean"].sum()) for part in window],
            "standard_error": means.headline_se.to_numpy(dtype=float),
        }
    )
    difference = (frame.sensitivity_mean - frame.monte_carlo_mean).abs()
    frame["relative_difference"] = difference / frame.monte_carlo_mean
    frame["beyond_noise"] = difference > SENSITIVITY_NOISE_Z * frame.standard_error
    return {"sensitivity_precision": table[table.method == "sobol"], "sensitivity_mean": frame}


def layering_frame(forecasts: pd.DataFrame, status_quo: tuple[str, ...]) -> pd.DataFrame:
    """Per scenario, year and quantile: total kei sales, its grey-import layer and the status quo's total."""
    columns = ["p05", "p10", "p50", "p90", "p95"]
    long = forecasts[forecasts.metric.isin(["kei_sales", "grey_imports"])].melt(
        id_vars=["scenario", "year", "metric"], value_vars=columns, var_name="quantile"
    )
    wide = long.pivot_table(index=["scenario", "year", "quantile"], columns="metric", values="value").reset_index()
    wide = wide.rename(columns={"kei_sales": "total"})
    base = wide[wide.scenario.isin(status_quo)][["year", "quantile", "total"]].rename(columns={"total": "status_quo"})
    if base.empty:
        return wide.assign(status_quo=wide.grey_imports)
    return wide.merge(base.drop_duplicates(["year", "quantile"]), on=["year", "quantile"], how="left")


def adoption_frames(cases: pd.DataFrame, shape: str) -> dict[str, pd.DataFrame]:
    """The adoption suite's frame: the configured shape's pooled post-launch scores, chain and naive, one row.

    Pooled score = median over cases of the scaled CRPS; coverage = share of all hold-out years inside the 80%
    interval.
    """
    from models.adoption_backtest import summarise

    part = cases[(cases["shape"] == shape) if "shape" in cases else slice(None)]
    summary = summarise(part).query("mode == 'post_launch'").set_index("model")
    return {
        "adoption_backtests": pd.DataFrame(
            {
                "shape": [shape],
                "cases": [int(summary.cases.get("chain", 0))],
                "chain_crps": [summary.median_crps.get("chain", float("nan"))],
                "naive_crps": [summary.median_crps.get("naive", float("nan"))],
                "chain_median_ape": [summary.median_ape.get("chain", float("nan"))],
                "naive_median_ape": [summary.median_ape.get("naive", float("nan"))],
                "chain_coverage_80": [summary.coverage_80.get("chain", float("nan"))],
            }
        )
    }


def baseline_frames(backtests: pd.DataFrame, max_horizon: int, fixed: bool) -> dict[str, pd.DataFrame]:
    """The baseline suite's frame, one row: the market model, whether it was fixed in advance, and the skill
    against naive over horizons 1..``max_horizon`` that is held to the bar (``skill_summary``'s "honest": a fixed
    model's own, since no origin chose it, else the skill of choosing inside each origin)."""
    from models.baseline import skill_summary

    chosen = backtests[backtests.selected].model
    skill = skill_summary(backtests, max_horizon, fixed)
    row = {
        "model": chosen.iloc[0] if len(chosen) else None,
        "choice": "fixed" if fixed else "auto",
        "skill": skill["honest"],
        "in_sample_skill": skill["in_sample"],
        "nested_skill": skill["nested"],
    }
    return {"baseline_skill": pd.DataFrame([row])}


def reference_frames(cases: pd.DataFrame, shape: str, converged: bool = True) -> dict[str, pd.DataFrame]:
    """The reference suite's frame, one row: the chosen shape's pre-launch chain (cases, families, pooled coverage,
    median interval ratio, median CRPS and abs % error) beside the reference-class benchmark, and post-launch the
    chain beside naive, and whether the fit converged. A mode or model without cases gives NaN, which the suite
    refuses."""
    from models.reference_backtest import summarise

    summary = summarise(cases[cases["shape"] == shape]).set_index(["mode", "model"])

    def pick(mode: str, model: str, column: str) -> float:
        return float(summary[column].get((mode, model), float("nan")))

    row = {
        "shape": shape,
        "fit_converged": bool(converged),
        "cases": pick("pre_launch", "chain", "cases"),
        "families": pick("pre_launch", "chain", "families"),
    }
    for column in ("coverage_80", "interval_ratio_80", "median_crps", "median_ape"):
        row[f"chain_{column}"] = pick("pre_launch", "chain", column)
        row[f"reference_{column}"] = pick("pre_launch", "reference_class", column)
        row[f"post_chain_{column}"] = pick("post_launch", "chain", column)
        row[f"post_naive_{column}"] = pick("post_launch", "naive", column)
    return {"reference_backtests": pd.DataFrame([row])}


def parameters(config: Config) -> dict[str, float]:
    """Expectation parameters: config.yaml gates plus values derived from the horizon."""
    g = config.gates
    h = config.run.horizon
    return {
        **g.model_dump(),
        "horizon_years": h.end - h.start + 1,
        "horizon_start": h.start,
        # an actual may report a horizon year that has happened (keicast.actuals): no year after this one
        "last_history_year": max(h.start - 1, date.today().year),
        "market_ratio_min": 1 - g.market_check_tolerance,
        "market_ratio_max": 1 + g.market_check_tolerance,
        "status_quo_ratio_min": 1 - g.status_quo_tolerance,
        "status_quo_ratio_max": 1 + g.status_quo_tolerance,
    }


# ---------------------------------------------------------------------------------------------- GX
@lru_cache(maxsize=1)
def _context():
    """An in-memory GX context with one pandas asset whose batches are the frames handed to ``check``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)  # GX logs routine INFO lines at every context

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("frames").add_dataframe_asset("frame").add_batch_definition_whole_dataframe("all")
    return context


@lru_cache(maxsize=64)
def _suite(suite_key: str, path: Path, modified: float):
    """A suite built from its JSON once per process (re-read when the file changes)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = json.loads(path.read_text(encoding="utf-8"))
    expectations = [
        ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp.get("meta", {})).to_domain_obj()
        for exp in spec["expectations"]
    ]
    return gx.ExpectationSuite(name=suite_key, expectations=expectations, meta=spec.get("meta", {}))


def _plain(value) -> str:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    value = getattr(value, "item", lambda: value)()
    if isinstance(value, float) and not (value.is_integer() and abs(value) < 10_000):  # years and small counts stay
        return number(value)
    return str(int(value)) if isinstance(value, float) else str(value)


def _label(frame: pd.DataFrame, index, rows: list[str]) -> str:
    """A failing row named by its identifying columns: 'backtest (shape bass, left_out us_hev, seed 0)'."""
    values = [f"{c} {_plain(frame.at[index, c])}" for c in rows[1:] if c in frame and str(frame.at[index, c]) != ""]
    head = _plain(frame.at[index, rows[0]]) if rows[0] in frame else str(index)
    return head + (f" ({', '.join(values)})" if values else "")


def _against(value, bounds: tuple) -> str:
    """``value`` as ``_plain`` shows it, marked "just above" or "just below" where rounding makes it read as the
    bound it broke: an R-hat of 1.0104 against a maximum of 1.01 is "1.01 (just above)"."""
    text = _plain(value)
    value, (low, high) = getattr(value, "item", lambda: value)(), bounds  # numpy scalars as Python numbers
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(high, int | float) and value > high and text == _plain(high):
            return text + " (just above)"
        if isinstance(low, int | float) and value < low and text == _plain(low):
            return text + " (just below)"
    return text


def _observed(result: dict, frame: pd.DataFrame, column: str | None, rows: list[str], bounds: tuple) -> str:
    """What failed, in words: the failing rows named with their values, or the observed value; ``bounds`` are
    the (low, high) it was held to, with parameters resolved."""
    if "observed_value" in result:
        return _against(result["observed_value"], bounds)
    values = result.get("unexpected_list") or result.get("partial_unexpected_list") or []
    count = result.get("unexpected_count", len(values))
    indices = result.get("unexpected_index_list") or []
    if rows and indices and column:
        pairs = zip(indices[:5], values, strict=False)
        named = [f"{_label(frame, i, rows)}: {column} = {_against(v, bounds)}" for i, v in pairs]
        return "; ".join(named) + (f"; and {count - 5} more rows" if count > 5 else "")
    if not count:
        return "no row outside"  # a passing row check: nothing to name
    shown = ", ".join(_against(v, bounds) for v in values[:5])
    return f"{count} row{'s' if count != 1 else ''}" + (f" with {column} = {shown}" if column else f": {shown}")


def _bounds(kwargs: dict, params: dict) -> tuple:
    """The (low, high) an expectation holds a column to, parameters resolved from config.yaml gates."""

    def value(v):
        return params.get(v["$PARAMETER"], v) if isinstance(v, dict) and "$PARAMETER" in v else v

    return value(kwargs.get("min_value")), value(kwargs.get("max_value"))


def _expected(kwargs: dict, params: dict) -> str:
    """The bound an expectation holds a column to, in words, with its value from config.yaml gates."""
    low, high = _bounds(kwargs, params)
    if low is not None and high is not None:
        return f"between {_plain(low)} and {_plain(high)}"
    if high is not None:
        return f"{'below' if kwargs.get('strict_max') else 'at most'} {_plain(high)}"
    if low is not None:
        return f"{'above' if kwargs.get('strict_min') else 'at least'} {_plain(low)}"
    if "value_set" in kwargs:
        return "one of " + ", ".join(_plain(v) for v in kwargs["value_set"])
    return ""


def _result_row(suite_name: str, r, now: datetime, frame: pd.DataFrame, params: dict, advice: str) -> tuple:
    """One gate_results row; ``advice`` is the suite's "what to do", for an expectation without its own."""
    cfg = r.expectation_config
    meta = cfg.meta or {}
    column = (
        cfg.kwargs.get("column")
        or ",".join(str(cfg.kwargs[k]) for k in ("column_A", "column_B") if k in cfg.kwargs)
        or ",".join(cfg.kwargs.get("column_list", []))
    )
    if r.result:
        bounds = _bounds(cfg.kwargs, params)
        observed = _observed(r.result, frame, cfg.kwargs.get("column"), meta.get("rows", []), bounds)
    else:
        observed = str(r.exception_info.get("exception_message", ""))
    return (
        suite_name,
        cfg.type,
        meta.get("check", cfg.type),
        column or None,
        bool(r.success),
        observed,
        _expected(cfg.kwargs, params),
        meta.get("advice") or advice,
        now,
    )


def check(
    stage: str,
    frames: dict[str, pd.DataFrame],
    params: dict,
    docs_dir: Path | None,
    expectations_dir: Path = EXPECTATIONS_DIR,
    build_docs: bool = False,
) -> pd.DataFrame:
    """Validate a stage's frames with its suites; one result row per expectation (passing ones too); no Data Docs
    when ``docs_dir`` is None (a trial, not a gate).

    Each frame is validated directly as a batch (no checkpoint or store round trips). GX Data Docs are written
    only when a suite fails or ``build_docs`` is set (see ``write_data_docs``); every result is also returned
    here, stored in ``gate_results`` and shown in the report, so a passing run needs no Data Docs.
    """
    batch_definition = _context().data_sources.get("frames").get_asset("frame").get_batch_definition("all")
    rows = []
    now = datetime.now(UTC).replace(tzinfo=None)
    for suite_name in STAGES[stage]:
        path = Path(expectations_dir) / f"{suite_name}.json"
        suite = _suite(f"{stage}.{suite_name}", path, path.stat().st_mtime)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frames[suite_name]})
        result = batch.validate(suite, expectation_parameters=params, result_format={"result_format": "COMPLETE"})
        advice = suite.meta.get("advice", "")
        rows += [_result_row(suite_name, r, now, frames[suite_name], params, advice) for r in result.results]
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    if docs_dir is not None and (build_docs or not results.success.all()):
        write_data_docs(stage, frames, params, docs_dir, expectations_dir)
    return results


def write_data_docs(
    stage: str, frames: dict[str, pd.DataFrame], params: dict, docs_dir: Path, expectations_dir: Path
) -> Path:
    """GX Data Docs of one stage's validation, at ``docs_dir``/index.html (checkpoints store what they render).

    The folder is emptied first, so it holds the latest failure only instead of piling up validations.
    """
    import great_expectations as gx

    shutil.rmtree(docs_dir, ignore_errors=True)
    context = _context()
    site = "keicast-" + hashlib.sha256(str(Path(docs_dir).resolve()).encode()).hexdigest()[:8]
    if site not in context.get_site_names():
        backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())}
        context.add_data_docs_site(site_name=site, site_config={"class_name": "SiteBuilder", "store_backend": backend})
    definition = context.data_sources.get("frames").get_asset("frame").get_batch_definition("all")
    for suite_name in STAGES[stage]:
        path = Path(expectations_dir) / f"{suite_name}.json"
        suite = _replace(context.suites, _suite(f"{stage}.{suite_name}", path, path.stat().st_mtime))
        validation = _replace(
            context.validation_definitions,
            gx.ValidationDefinition(name=f"{stage}.{suite_name}.validation", data=definition, suite=suite),
        )
        checkpoint = _replace(
            context.checkpoints,
            gx.Checkpoint(name=f"{stage}.{suite_name}.checkpoint", validation_definitions=[validation]),
        )
        checkpoint.run(batch_parameters={"dataframe": frames[suite_name]}, expectation_parameters=params)
    context.build_data_docs(site_names=[site])
    return docs_index(docs_dir)


def _replace(store, item):
    """Add ``item`` to a GX store, replacing one of the same name."""
    try:
        store.delete(item.name)
    except Exception:  # noqa: BLE001 - GX raises several types for "not there yet"
        pass
    return store.add(item)


def docs_index(docs_dir: Path) -> Path:
    """Where the Data Docs index is written."""
    return Path(docs_dir).resolve() / "index.html"


def passed(stage: str, results: pd.DataFrame, docs_dir: Path, earlier: pd.DataFrame | None = None) -> pd.DataFrame:
    """The run's gate results so far, ``earlier`` and then this stage's ``results``; raises GateFailed (exit 3,
    carrying them all) listing the failed expectations of ``results``, if any."""
    from keicast.errors import GateFailed

    so_far = results if earlier is None else pd.concat([earlier, results], ignore_index=True)
    failed = results[~results.success]
    if not failed.empty:
        failures = [
            {"expectation": f"{r.suite}: {r.check_name}", "column": r.column, "observed": r.observed,
             "expected": r.expected, "advice": r.advice}
            for r in failed.itertuples()
        ]  # fmt: skip
        raise GateFailed(stage, failures, str(docs_index(docs_dir)), so_far)
    return so_far
