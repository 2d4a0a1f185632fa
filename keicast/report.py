"""A run's scenario report: reports/<run_id>/index.html (self-contained) and report.md (plain summary).

Every user-written text (scenario descriptions, overrides, quotes) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from keicast import charts
from keicast.compare import assumption_changes, forecast_deltas

TEMPLATES = Path(__file__).parent / "templates"
REPORT_YEARS = (2030, 2035, 2040)


def _fmt(value, kind: str = "count") -> str:
    if value is None or pd.isna(value):
        return "–"
    if kind == "share":
        return f"{100 * value:.2f}%"
    if kind == "ratio":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def headline_rows(forecasts: pd.DataFrame, years: list[int]) -> list[dict]:
    """Per scenario: kei sales, share and cars in use at ``years`` as P10 / P50 / P90 strings."""
    rows = []
    for scenario, part in forecasts.groupby("scenario", sort=False):
        row = {"scenario": scenario, "cells": []}
        for metric, kind in (("kei_sales", "count"), ("kei_share", "share"), ("kei_in_use", "count")):
            for year in years:
                r = part[(part.metric == metric) & (part.year == year)]
                row["cells"].append(
                    "–"
                    if r.empty
                    else f"{_fmt(r.p10.iloc[0], kind)} / {_fmt(r.p50.iloc[0], kind)} / {_fmt(r.p90.iloc[0], kind)}"
                )
        rows.append(row)
    return rows


def cumulative_rows(forecasts: pd.DataFrame, window_end: int) -> list[dict]:
    """Cumulative kei sales from the first year to ``window_end``: P10 / P50 / P90 / mean per scenario."""
    part = forecasts[(forecasts.metric == "kei_sales_cumulative") & (forecasts.year == window_end)]
    return [
        {"scenario": r.scenario, "p10": _fmt(r.p10), "p50": _fmt(r.p50), "p90": _fmt(r.p90), "mean": _fmt(r.mean)}
        for r in part.itertuples()
    ]


def breakable(text) -> Markup:
    """Escaped text with line-break opportunities after dots, slashes and underscores (long keys, paths)."""
    out = str(escape(text))
    for mark in "./_":
        out = out.replace(mark, mark + "<wbr>")
    return Markup(out)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (not NaN, which templates would print)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def assumption_rows(assumptions: pd.DataFrame) -> list[dict]:
    """Rows identical in every scenario once (scenario 'all'), scenario-specific ones per scenario."""
    scenarios = assumptions.scenario.unique()
    rows = []
    for key, part in assumptions.groupby("key", sort=False):
        same = part[["value", "low", "high", "override_origin"]].astype(str).drop_duplicates()
        subset = part.head(1) if len(same) == 1 and len(part) == len(scenarios) else part
        for r in _records(subset):
            rows.append(
                {
                    "scenario": "all" if subset is not part else r["scenario"],
                    "key": key,
                    "value": _fmt_value(r["value"]),
                    "low": _fmt_value(r["low"]),
                    "high": _fmt_value(r["high"]),
                    "unit": r["unit"],
                    "kind": r["kind"],
                    "source": r["source"],
                    "quote": r["quote"],
                    "use": r["use"],
                    "rationale": r["rationale"],
                    "overridden": bool(r["overridden"]),
                    "origin": r["override_origin"],
                }
            )
    return rows


def _fmt_value(v) -> str:
    if v is None or pd.isna(v):
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def adoption_section(outputs: dict, shape: str) -> dict | None:
    """'Does the model forecast past launches?': scores against naive, per-shape comparison, charts, parameters."""
    from models.adoption_backtest import summarise

    cases = outputs.get("adoption_backtests")
    if cases is None or cases.empty:
        return None
    chosen = cases[cases["shape"] == shape]
    compare = pd.concat(
        [
            summarise(part).assign(shape=name).query("model == 'chain'")
            for name, part in cases.groupby("shape", sort=False)
        ]
        + [summarise(chosen).assign(shape="naive").query("model == 'naive'")],
        ignore_index=True,
    )
    bands = outputs.get("adoption_backtest_paths", pd.DataFrame())
    charts_ = [
        charts.adoption_backtest_chart(part, name.removesuffix("_sales_annual"))
        for name, part in bands.groupby("series", sort=False)
    ]
    parameters = outputs.get("adoption_parameters", pd.DataFrame())
    return {
        "shape": shape,
        "summary": summarise(chosen).to_dict("records"),
        "compare": compare.to_dict("records"),
        "cases": _records(chosen.sort_values(["series", "mode", "fit_years", "model"])),
        "charts": charts_,
        "parameters": parameters.to_dict("records"),
        "parameters_chart": charts.prior_posterior_chart(parameters, "adoption parameters of a new launch")
        if not parameters.empty
        else None,
    }


def render_report(outputs: dict, previous: dict | None, settings, directory: Path) -> None:
    """Write index.html and report.md for one run into ``directory``."""
    run = outputs["run"].iloc[0]
    fc = outputs["forecasts"]
    config = settings.config
    years = [y for y in REPORT_YEARS if fc.year.min() <= y <= fc.year.max()]
    window_end = config.run.headline_window[1]
    history = outputs["history"]
    base_series = history[history.series == config.baseline.series].set_index("year").value.sort_index()
    article_market = outputs["assumptions"].query("key == 'market.us_new_vehicle_sales'").value.iloc[0]
    first_scenario = fc.scenario.iloc[0]
    market = fc[(fc.scenario == first_scenario) & (fc.metric == "total_market")]
    scenarios = []
    sens = outputs["sensitivity"]
    descriptions = {name: sc.description for name, sc in config.scenarios.items()}
    for name, part in fc.groupby("scenario", sort=False):
        s = sens[sens.scenario == name]
        tornado = s[s.method == "tornado"].sort_values("swing", ascending=False)
        sobol = s[s.method == "sobol"].sort_values("st", ascending=False)
        scenarios.append(
            {
                "name": name,
                "description": descriptions.get(name, ""),
                "spec": config.scenarios.get(name),
                "fan": charts.fan_chart(part[part.metric == "kei_sales"], f"{name}: kei sales per year", "cars/year"),
                "fleet": charts.fan_chart(part[part.metric == "kei_in_use"], f"{name}: kei cars in use", "cars"),
                "tornado": charts.tornado_chart(tornado, f"{name}: swing of cumulative sales to {window_end}")
                if not tornado.empty
                else None,
                "sobol": charts.sobol_chart(sobol, f"{name}: Sobol indices") if not sobol.empty else None,
                "sobol_rows": sobol.head(10).to_dict("records"),
            }
        )
    cal = outputs["calibration"]
    curves = outputs["calibration_fit"]
    calibration = [
        {"row": r._asdict(), "chart": charts.calibration_chart(curves[curves.series == r.series], f"{r.series}")}
        for r in cal.itertuples()
    ]
    bt = outputs["backtests"].sort_values(["model", "horizon"])
    changes = None
    if previous is not None:
        prev_run = previous["run"].iloc[0]
        changes = {
            "run_id": prev_run.run_id,
            "assumptions": assumption_changes(previous["assumptions"], outputs["assumptions"]).to_dict("records"),
            "forecasts": forecast_deltas(previous["forecasts"], outputs["forecasts"], years)
            .query("metric in ['kei_sales', 'kei_sales_cumulative']")
            .to_dict("records"),
        }
    context = {
        "run": run,
        "overrides": json.loads(run.overrides or "[]"),
        "years": years,
        "window_end": window_end,
        "headline": headline_rows(fc, years),
        "cumulative": cumulative_rows(fc, window_end),
        "comparison": charts.comparison_chart(
            fc[fc.metric == "kei_sales"], "kei sales per year, all scenarios", "cars/year"
        ),
        "comparison_share": charts.comparison_chart(
            fc[fc.metric == "kei_share"], "kei share of US new-vehicle sales", "share"
        ),
        "market_chart": charts.fan_chart(
            market,
            "US light-vehicle sales: history and baseline forecast",
            "vehicles/year",
            base_series,
            (article_market, "articles: ~16 million"),
        ),
        "market_rows": market.to_dict("records"),
        "selected_model": bt[bt.selected].model.iloc[0] if bt.selected.any() else "?",
        "backtests": bt.to_dict("records"),
        "scenarios": scenarios,
        "calibration": calibration,
        "adoption": adoption_section(outputs, config.calibration.shape),
        "assumptions": assumption_rows(outputs["assumptions"]),
        "gates": outputs["gate_results"].to_dict("records"),
        "changes": changes,
        "fmt": _fmt,
        "evidence": _records(outputs["evidence"]) if "evidence" in outputs else [],
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = breakable
    html = env.get_template("report.html.j2").render(**context)
    (directory / "index.html").write_text(html, encoding="utf-8")
    md = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True, lstrip_blocks=True)
    (directory / "report.md").write_text(md.get_template("report.md.j2").render(**context), encoding="utf-8")
