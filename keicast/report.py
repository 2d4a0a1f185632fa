"""A run's scenario report: reports/<run_id>/index.html (self-contained) and report.md (plain summary).

Every user-written text (scenario descriptions, overrides, quotes) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from keicast import charts
from keicast.compare import assumption_changes, forecast_deltas
from models.class_share import japan_price_ratio, kei_utility, logistic, logit

TEMPLATES = Path(__file__).parent / "templates"
REPORT_YEARS = (2030, 2035, 2040)
NO_LAUNCH_YEAR = 2030  # the report states P(no new kei car sold by the end of this year) per scenario
HEADLINE_METRICS = (("kei_sales", "count"), ("kei_share", "share"), ("kei_in_use", "count"), ("new_kei_sales", "count"))


def _fmt(value, kind: str = "count") -> str:
    if value is None or pd.isna(value):
        return "–"
    if kind == "share":
        return f"{100 * value:.2f}%"
    if kind == "ratio":
        return f"{value:.3f}"
    if kind == "percent":
        return f"{100 * value:.0f}%"
    return f"{value:,.0f}"


def headline_rows(forecasts: pd.DataFrame, years: list[int]) -> list[dict]:
    """Per scenario: kei sales, share and cars in use at ``years`` as P10 / P50 / P90 strings."""
    rows = []
    for scenario, part in forecasts.groupby("scenario", sort=False):
        row = {"scenario": scenario, "cells": []}
        for metric, kind in HEADLINE_METRICS:
            for year in years:
                r = part[(part.metric == metric) & (part.year == year)]
                row["cells"].append(
                    "–"
                    if r.empty
                    else f"{_fmt(r.p10.iloc[0], kind)} / {_fmt(r.p50.iloc[0], kind)} / {_fmt(r.p90.iloc[0], kind)}"
                )
        rows.append(row)
    return rows


def _at(part: pd.DataFrame, metric: str, year: int) -> pd.Series | None:
    r = part[(part.metric == metric) & (part.year == year)]
    return None if r.empty else r.iloc[0]


def no_launch_probability(part: pd.DataFrame, year: int) -> float | None:
    """P(no maker has launched by the end of ``year``) from the 'launched' metric; None for the status quo."""
    launched = _at(part, "launched", year)
    new = part[part.metric == "new_kei_sales"]
    if launched is None or new.empty or float(new.p95.max()) == 0.0:
        return None
    return 1.0 - float(launched["mean"])


def cumulative_rows(forecasts: pd.DataFrame, window_end: int) -> list[dict]:
    """Per scenario: cumulative kei sales to ``window_end`` (total and the increment over the status quo, P10 / P50
    / P90 / mean) and P(no new kei car sold by NO_LAUNCH_YEAR)."""
    rows = []
    for scenario, part in forecasts.groupby("scenario", sort=False):
        total, new = _at(part, "kei_sales_cumulative", window_end), _at(part, "new_kei_sales_cumulative", window_end)
        if total is None:
            continue
        rows.append(
            {
                "scenario": scenario,
                **{q: _fmt(total[q]) for q in ("p10", "p50", "p90", "mean")},
                **{f"new_{q}": _fmt(new[q]) if new is not None else "–" for q in ("p10", "p50", "p90", "mean")},
                "no_launch": _fmt(no_launch_probability(part, NO_LAUNCH_YEAR), "percent"),
            }
        )
    return rows


def launch_rows(forecasts: pd.DataFrame, years: list[int]) -> list[dict]:
    """Per policy scenario: P(no maker has launched by the end of each year)."""
    rows = []
    for scenario, part in forecasts.groupby("scenario", sort=False):
        probabilities = [no_launch_probability(part, y) for y in years]
        if any(p is not None for p in probabilities):
            rows.append({"scenario": scenario, "cells": [_fmt(p, "percent") for p in probabilities]})
    return rows


def _base(assumptions: pd.DataFrame, key: str) -> float:
    return float(assumptions[assumptions.key == key].value.iloc[0])


def class_share_context(outputs: dict, scenario_access: dict[str, str]) -> dict | None:
    """The two anchors with base values: the analog fit, Japan's conditions, the gap between them, w per scenario."""
    fit, points, a = outputs.get("class_share_fit"), outputs.get("class_share_analogs"), outputs["assumptions"]
    if fit is None or fit.empty:
        return None
    f = fit.iloc[0]
    beta, u_a, r_a = (
        _base(a, "demand.price_elasticity"),
        _base(a, "analog.us_class_utility"),
        _base(a, "analog.us_price_ratio"),
    )
    j = _base(a, "japan.kei_share")
    r_jp = float(japan_price_ratio(_base(a, "japan.kei_price_ratio"), _base(a, "japan.kei_ownership_advantage")))
    u_us_at_jp = u_a + beta * np.log(r_jp / r_a)
    check = float(logistic(kei_utility(r_jp, beta, u_a, r_a, j, r_jp, 1.0)))
    weights = []
    for name, access in scenario_access.items():
        rows = a[(a.key == f"access.{access}.japan_gap_closed") & (a.scenario == name)]
        if not rows.empty:
            weights.append(
                {"scenario": name, "w": float(rows.value.iloc[0]), "low": rows.low.iloc[0], "high": rows.high.iloc[0]}
            )
    return {
        "fit": f.to_dict(),
        "points": _records(points),
        "beta": beta,
        "utility": u_a,
        "price_ratio": r_a,
        "analog_share": float(f.addressable * logistic(u_a)),
        "japan_share": j,
        "japan_logit": float(logit(j)),
        "japan_ratio": r_jp,
        "us_at_japan": float(u_us_at_jp),
        "us_share_at_japan": float(logistic(u_us_at_jp)),
        "gap": float(logit(j) - u_us_at_jp),
        "japan_check": check,
        "weights": weights,
    }


def japan_weight_rows(sensitivity: pd.DataFrame) -> list[dict]:
    """Per scenario: japan.kei_share's Sobol ST (with half-width) and the headline at each what-if share."""
    rows = []
    for scenario, part in sensitivity.groupby("scenario", sort=False):
        what_if = part[part.method == "what_if"].sort_values("value")
        if what_if.empty:
            continue
        sobol = part[(part.method == "sobol") & (part.key == "japan.kei_share")]
        rows.append(
            {
                "scenario": scenario,
                "st": f"{sobol.st.iloc[0]:.3f} ± {sobol.st_conf.iloc[0]:.3f}" if not sobol.empty else "–",
                "cells": [(f"{v:.3g}", _fmt(h)) for v, h in zip(what_if.value, what_if.headline, strict=True)],
            }
        )
    return rows


def status_quo_context(forecasts: pd.DataFrame, assumptions: pd.DataFrame, start: int) -> dict | None:
    """The grey-import layer against the reported counts, its buyer price and the fleet it starts from."""
    grey, in_use = _at(forecasts, "grey_imports", start), _at(forecasts, "kei_in_use", start)
    if grey is None:
        return None
    reported = _base(assumptions, "grey.imports_2023")
    duty = _base(assumptions, "policy.tariff_pass_through") * _base(assumptions, "policy.import_tariff")
    price = _base(assumptions, "grey.used_price") * (1 + duty * _base(assumptions, "grey.customs_value_ratio"))
    return {
        "year": start,
        "early": _base(assumptions, "grey.imports_2018"),
        "reported": reported,
        "flow": f"{_fmt(grey.p10)} / {_fmt(grey.p50)} / {_fmt(grey.p90)}",
        "ratio": float(grey.p50 / reported),
        "price": _fmt(price),
        "states": _base(assumptions, "grey.road_legal_states_counted"),
        "in_use": f"{_fmt(in_use.p10)} / {_fmt(in_use.p50)} / {_fmt(in_use.p90)}" if in_use is not None else "–",
    }


def ranking_notes(tornado: pd.DataFrame, sobol: pd.DataFrame, top: int = 6) -> list[str]:
    """Inputs in either method's top ``top`` whose ranks differ by two or more, with both ranks."""
    t_rank = {k: i + 1 for i, k in enumerate(tornado.sort_values("swing", ascending=False).key)}
    s_rank = {k: i + 1 for i, k in enumerate(sobol.sort_values("st", ascending=False).key)}
    keys = [k for k in t_rank if t_rank[k] <= top or s_rank.get(k, 99) <= top]
    return [
        f"{k}: tornado rank {t_rank[k]}, Sobol rank {s_rank.get(k, '–')}"
        for k in sorted(keys, key=lambda k: s_rank.get(k, 99))
        if abs(t_rank[k] - s_rank.get(k, 99)) >= 2
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
                "max_halfwidth": float(sobol[["s1_conf", "st_conf"]].max().max()) if not sobol.empty else None,
                "samples": int(sobol.samples.max()) if "samples" in sobol and sobol.samples.notna().any() else None,
                "ranking_notes": ranking_notes(tornado, sobol) if not (tornado.empty or sobol.empty) else [],
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
    start = int(fc.year.min())
    access = {name: sc.road_access for name, sc in config.scenarios.items()}
    quo = [n for n in fc.scenario.unique() if access.get(n) == "grey_import"]
    launch_years = list(range(start, window_end + 1))
    context = {
        "run": run,
        "launch_years": launch_years,
        "launch": launch_rows(fc, launch_years),
        "no_launch_year": NO_LAUNCH_YEAR,
        "class_share": class_share_context(outputs, {n: access[n] for n in fc.scenario.unique() if n in access}),
        "japan_weight": japan_weight_rows(sens) if not sens.empty else [],
        "status_quo": status_quo_context(
            fc[fc.scenario == (quo[0] if quo else first_scenario)], outputs["assumptions"], start
        ),
        "max_sobol_halfwidth": config.gates.max_sobol_halfwidth,
        "sobol_base_samples": config.run.sobol_base_samples,
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
