"""A run's scenario report: reports/<run_id>/index.html (self-contained) and report.md (plain summary).

Every user-written text (scenario descriptions, overrides, quotes) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from keicast import charts
from keicast import formatting as fmt
from keicast.compare import assumption_changes, forecast_deltas
from models.scenario import required_keys

TEMPLATES = Path(__file__).parent / "templates"
REPORT_YEARS = (2030, 2035, 2040)


def _fmt(value, kind: str = "count") -> str:
    """A value for people, by the one formatting policy (keicast.formatting)."""
    return {"share": fmt.share, "ratio": fmt.number}.get(kind, fmt.count)(value)


def scenario_title(name: str, scenario) -> str:
    """The scenario's readable title (config ``title``), else its name in words."""
    title = getattr(scenario, "title", None)
    return title or name.replace("_", " ").capitalize()


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


WIDE = 3.0  # a P90/P10 ratio at least this large is flagged: the data do not pin the answer down


def answers(forecasts: pd.DataFrame, config, window: tuple[int, int]) -> list[dict]:
    """The first screen: per scenario, its title and conditions and the headline in plain words."""
    end = forecasts.year.max()
    rows = []
    for name, part in forecasts.groupby("scenario", sort=False):
        spec = config.scenarios.get(name)
        total = part[(part.metric == "kei_sales_cumulative") & (part.year == window[1])].iloc[0]
        last = {m: part[(part.metric == m) & (part.year == end)].iloc[0] for m in ("kei_sales", "kei_share")}
        rows.append(
            {
                "name": name,
                "title": scenario_title(name, spec),
                "conditions": (
                    f"from {spec.launch_year}, {spec.production} production, road access: "
                    f"{spec.road_access.replace('_', ' ')}"
                    if spec
                    else ""
                ),
                "p50": fmt.count(total.p50),
                "range": f"{fmt.count(total.p10)}–{fmt.count(total.p90)}",
                "wide": bool(total.p10 > 0 and total.p90 / total.p10 >= WIDE) or bool(total.p10 <= 0 < total.p90),
                "spread": f"{total.p90 / total.p10:.0f}×" if total.p10 > 0 else "unbounded",
                "year": fmt.year(end),
                "annual": fmt.count(last["kei_sales"].p50),
                "share": fmt.share(last["kei_share"].p50),
            }
        )
    return rows


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
    scenarios = assumptions.scenario.nunique()
    by_key: dict[str, list[dict]] = {}
    for record in _records(assumptions):
        by_key.setdefault(record["key"], []).append(record)
    rows = []
    for key, part in by_key.items():
        variants = {tuple(str(r[c]) for c in ("value", "low", "high", "override_origin")) for r in part}
        shared = len(variants) == 1 and len(part) == scenarios
        for r in part[:1] if shared else part:
            rows.append(
                {
                    "scenario": "all" if shared else r["scenario"],
                    "key": key,
                    "value": _fmt_value(r["value"], r["unit"]),
                    "low": _fmt_value(r["low"], r["unit"]),
                    "high": _fmt_value(r["high"], r["unit"]),
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


def _fmt_value(v, unit: str | None = None) -> str:
    return fmt.by_unit(v, unit)


def assumption_label(key: str) -> str:
    """A register key in words for chart axes: 'policy.import_tariff' -> 'import tariff (policy)'."""
    group, _, rest = key.partition(".")
    return f"{rest.replace('.', ' ').replace('_', ' ')} ({group})" if rest else key.replace("_", " ")


def gate_summary(gates: pd.DataFrame) -> dict:
    """Passing checks as one line per suite (details on expand); failures listed in full."""
    suites = gates.groupby("suite", sort=False).success.agg(["size", "sum"]).reset_index()
    return {
        "checks": len(gates),
        "passed": int(gates.success.sum()),
        "suites": [{"suite": r.suite, "checks": int(r.size), "passed": int(r.sum)} for r in suites.itertuples()],
        "failed": gates[~gates.success].to_dict("records"),
        "all": gates.to_dict("records"),
    }


def run_changes(previous: dict, outputs: dict, years: list[int]) -> dict:
    """What moved since the previous run: changed assumptions, and only the forecast cells that changed."""
    deltas = forecast_deltas(previous["forecasts"], outputs["forecasts"], years).query(
        "metric in ['kei_sales', 'kei_sales_cumulative']"
    )
    moved = deltas.p50_change_pct.abs() >= 0.05  # under 0.05% is Monte Carlo noise at most, shown as unchanged
    return {
        "run_id": previous["run"].iloc[0].run_id,
        "assumptions": assumption_changes(previous["assumptions"], outputs["assumptions"]).to_dict("records"),
        "forecasts": deltas[moved].to_dict("records"),
        "unchanged": int((~moved).sum()),
    }


def downloads(outputs: dict, directory: Path, exports: Path) -> list[dict]:
    """Write the run's forecasts and assumptions as CSV beside the report; link the Parquet exports too."""
    files = []
    for table in ("forecasts", "assumptions"):
        name = f"{table}.csv"
        outputs[table].drop(columns=["run_id"], errors="ignore").to_csv(directory / name, index=False)
        files.append({"href": name, "label": f"{table} (CSV)"})
        files.append({"href": f"{exports.as_posix()}/{table}/", "label": f"{table} (Parquet, one folder per scenario)"})
    return files


def scenario_section(name: str, part: pd.DataFrame, sens: pd.DataFrame, config, window_end: int) -> dict:
    """One scenario's description, fan charts and sensitivity charts."""
    spec = config.scenarios.get(name)
    title = scenario_title(name, spec)
    s = sens[sens.scenario == name] if not sens.empty else sens
    tornado = s[s.method == "tornado"].sort_values("swing", ascending=False) if not s.empty else s
    sobol = s[s.method == "sobol"].sort_values("st", ascending=False) if not s.empty else s
    labels = {k: assumption_label(k) for k in s.key} if not s.empty else {}
    return {
        "name": name,
        "title": title,
        "description": spec.description if spec else "",
        "spec": spec,
        "fan": charts.fan_chart(part[part.metric == "kei_sales"], f"{title}: kei sales per year", "cars per year"),
        "fleet": charts.fan_chart(part[part.metric == "kei_in_use"], f"{title}: kei cars in use", "cars in use"),
        "tornado": charts.tornado_chart(tornado, f"{title}: cumulative sales to {window_end}", labels=labels)
        if not tornado.empty
        else None,
        "sobol": charts.sobol_chart(sobol, f"{title}: Sobol indices", labels=labels) if not sobol.empty else None,
    }


def render_report(outputs: dict, previous: dict | None, settings, directory: Path) -> None:
    """Write index.html, report.md, data_quality.html and the CSV downloads for one run into ``directory``."""
    run, fc, config = outputs["run"].iloc[0], outputs["forecasts"], settings.config
    years = [y for y in REPORT_YEARS if fc.year.min() <= y <= fc.year.max()]
    window = tuple(config.run.headline_window)
    history = outputs["history"]
    base_series = history[history.series == config.baseline.series].set_index("year").value.sort_index()
    article_market = outputs["assumptions"].query("key == 'market.us_new_vehicle_sales'").value.iloc[0]
    market = fc[(fc.scenario == fc.scenario.iloc[0]) & (fc.metric == "total_market")]
    titles = {name: scenario_title(name, config.scenarios.get(name)) for name in fc.scenario.unique()}
    bt = outputs["backtests"].sort_values(["model", "horizon"])
    exports = Path(os.path.relpath(settings.run.exports_dir / run.run_id, settings.run.reports_dir / run.run_id))
    inputs = {k for sc in config.scenarios.values() for k in required_keys(sc.road_access)}
    assumptions = assumption_rows(outputs["assumptions"])
    cumulative = fc[(fc.metric == "kei_sales_cumulative") & (fc.year == window[1])]
    context = {
        "run": run,
        "overrides": json.loads(run.overrides or "[]"),
        "timings": json.loads(run.timings) if run.timings else {},
        "years": years,
        "window": window,
        "window_end": window[1],
        "answers": answers(fc, config, window),
        "range_chart": charts.range_chart(cumulative, titles, f"kei cars sold {window[0]}–{window[1]}"),
        "headline": headline_rows(fc, years),
        "cumulative": cumulative_rows(fc, window[1]),
        "comparison": charts.comparison_chart(
            fc[fc.metric == "kei_sales"], "Kei sales per year, all scenarios", "cars per year", names=titles
        ),
        "comparison_share": charts.comparison_chart(
            fc[fc.metric == "kei_share"], "Kei share of US new-vehicle sales", "share of sales", fmt.share, titles
        ),
        "market_chart": charts.fan_chart(
            market,
            "US light-vehicle sales: history and baseline forecast",
            "vehicles per year",
            base_series,
            (article_market, "articles: about 16 million"),
        ),
        "market_check": market_check(market, article_market),
        "selected_model": bt[bt.selected].model.iloc[0] if bt.selected.any() else "?",
        "backtests": bt.to_dict("records"),
        "selection_horizon": config.baseline.max_horizon,
        "scenarios": [
            scenario_section(name, part, outputs["sensitivity"], config, window[1])
            for name, part in fc.groupby("scenario", sort=False)
        ],
        "calibration": calibration_rows(outputs["calibration"], outputs["calibration_fit"]),
        "model_inputs": [a for a in assumptions if a["key"] in inputs],
        "context_figures": [a for a in assumptions if a["key"] not in inputs],
        "gates": gate_summary(outputs["gate_results"]),
        "changes": run_changes(previous, outputs, years) if previous is not None else None,
        "downloads": downloads(outputs, directory, exports),
        "fmt": _fmt,
        "f": fmt,
        "evidence": _records(outputs["evidence"]) if "evidence" in outputs else [],
    }
    _write(directory, context)


def market_check(market: pd.DataFrame, article_market: float) -> dict:
    """The first forecast year's market median and 80% interval beside the articles' figure."""
    first = market.sort_values("year").iloc[0]
    return {"year": int(first.year), "p10": first.p10, "p50": first.p50, "p90": first.p90,
            "article": article_market, "ratio": first.p50 / article_market}  # fmt: skip


def calibration_rows(fits: pd.DataFrame, curves: pd.DataFrame) -> list[dict]:
    """Each analog fit with its chart of observed against fitted sales."""
    return [
        {"row": r._asdict(), "chart": charts.calibration_chart(curves[curves.series == r.series], f"{r.series}")}
        for r in fits.itertuples()
    ]


def _write(directory: Path, context: dict) -> None:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = breakable
    for template, name in (("report.html.j2", "index.html"), ("data_quality.html.j2", "data_quality.html")):
        (directory / name).write_text(env.get_template(template).render(**context), encoding="utf-8")
    md = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True, lstrip_blocks=True)
    (directory / "report.md").write_text(md.get_template("report.md.j2").render(**context), encoding="utf-8")
