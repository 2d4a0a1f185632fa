"""A run's scenario report: reports/<run_id>/index.html (self-contained) and report.md (plain summary).

Every user-written text (scenario descriptions, overrides, quotes) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from keicast import charts
from keicast import formatting as fmt
from keicast.calibration import HYPER_PRIORS
from keicast.compare import (
    COMPARED_METRICS,
    REPORT_YEARS,
    assumption_changes,
    forecast_deltas,
    headline_cells,
    market_check,
    moved,
    once_for_all_scenarios,
)
from keicast.record import report_section as track_record_section
from models.baseline import NESTED, skill_summary
from models.class_share import japan_price_ratio, kei_utility, logistic, logit, us_utility
from models.grey_import import grey_buyer_price
from models.scenario import required_keys

TEMPLATES = Path(__file__).parent / "templates"
NO_LAUNCH_YEAR = 2030  # the report states P(no new kei car sold by the end of this year) per scenario
SCENARIO_TABLE_METRICS = (
    ("kei_sales", "count"),
    ("kei_share", "share"),
    ("kei_in_use", "count"),
    ("new_kei_sales", "count"),
)


def _fmt(value, kind: str = "count") -> str:
    """A value for people, by the one formatting policy (keicast.formatting)."""
    return {"share": fmt.share, "percent": fmt.share, "ratio": fmt.number}.get(kind, fmt.count)(value)


def scenario_title(name: str, scenario) -> str:
    """The scenario's readable title (config ``title``), else its name in words."""
    title = getattr(scenario, "title", None)
    return title or name.replace("_", " ").capitalize()


def scenario_titles(forecasts: pd.DataFrame, config) -> dict[str, str]:
    """Each forecast scenario's title, for every table and chart that names scenarios to a reader."""
    return {name: scenario_title(name, config.scenarios.get(name)) for name in forecasts.scenario.unique()}


def headline_rows(forecasts: pd.DataFrame, years: list[int]) -> list[dict]:
    """Per scenario: kei sales, share and cars in use at ``years`` as P10 / P50 / P90 strings."""
    rows = []
    for scenario, part in forecasts.groupby("scenario", sort=False):
        row = {"scenario": scenario, "cells": []}
        for metric, kind in SCENARIO_TABLE_METRICS:
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
        given = _at(part, "new_kei_sales_cumulative_if_launched", window_end)
        if total is None:
            continue
        rows.append(
            {
                "scenario": scenario,
                **{q: _fmt(total[q]) for q in ("p10", "p50", "p90", "mean")},
                **{f"new_{q}": _fmt(new[q]) if new is not None else "–" for q in ("p10", "p50", "p90", "mean")},
                **{f"given_{q}": _fmt(given[q]) if given is not None else "–" for q in ("p10", "p50", "p90")},
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
    u_us_at_jp = us_utility(r_jp, beta, u_a, r_a)
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
        st = "–" if sobol.empty else f"{fmt.variance_share(sobol.st.iloc[0])} ± {fmt.number(sobol.st_conf.iloc[0])}"
        rows.append(
            {
                "scenario": scenario,
                "st": st,
                "cells": [(fmt.share(v), _fmt(h)) for v, h in zip(what_if.value, what_if.headline, strict=True)],
            }
        )
    return rows


def status_quo_context(forecasts: pd.DataFrame, assumptions: pd.DataFrame, start: int) -> dict | None:
    """The grey-import layer against the reported counts, its buyer price and the fleet it starts from."""
    grey, in_use = _at(forecasts, "grey_imports", start), _at(forecasts, "kei_in_use", start)
    if grey is None:
        return None
    reported = _base(assumptions, "grey.imports_2023")
    price = grey_buyer_price(
        *(_base(assumptions, k) for k in ("grey.used_price", "policy.import_tariff", "policy.tariff_pass_through",
                                          "grey.customs_value_ratio"))
    )  # fmt: skip
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


WIDE = 3.0  # a P90/P10 ratio at least this large is flagged: the data do not pin the answer down


def _range(row: pd.Series) -> str:
    return f"{fmt.count(row.p50)} (80% range {fmt.count(row.p10)}–{fmt.count(row.p90)})"


def _spread(row: pd.Series | None) -> tuple[bool, str]:
    """(wide, P90/P10 in words) of a forecast row: wide when the ratio is WIDE or more."""
    if row is None or not row.p90 > 0:
        return False, "–"
    if not row.p10 > 0:
        return True, "unbounded"
    ratio = row.p90 / row.p10
    return bool(ratio >= WIDE), f"{fmt.number(ratio, 2)}×"


def grey_total(part: pd.DataFrame, window: tuple[int, int]) -> float:
    """Mean grey imports summed over ``window`` (means add; quantiles of yearly rows would not)."""
    grey = part[(part.metric == "grey_imports") & part.year.between(*window)]
    return float(grey["mean"].sum())


def answers(forecasts: pd.DataFrame, config, window: tuple[int, int]) -> list[dict]:
    """The first screen: per scenario, its title and conditions, and in plain words, in this order: the chance a
    maker launches by NO_LAUNCH_YEAR, the range of new kei cars given a launch, grey imports, and the
    unconditional total over every draw."""
    end = int(forecasts.year.max())
    rows = []
    for name, part in forecasts.groupby("scenario", sort=False):
        spec = config.scenarios.get(name)
        total = _at(part, "kei_sales_cumulative", window[1])
        given = _at(part, "new_kei_sales_cumulative_if_launched", window[1])
        annual, share = _at(part, "kei_sales", end), _at(part, "kei_share", end)
        no_launch = no_launch_probability(part, NO_LAUNCH_YEAR)
        grey = f"grey imports add about {fmt.count(grey_total(part, window))} over {window[0]}–{window[1]}"
        everything = f"{window[0]}–{window[1]} over every draw: {_range(total)} kei cars"
        if spec is not None and spec.road_access != "grey_import" and no_launch is not None:
            sentence = f"A {fmt.share(1 - no_launch)} chance that a maker sells a new kei car by {NO_LAUNCH_YEAR}"
            if given is not None and given.p90 > 0:
                sentence += f"; given a launch by {window[1]}, {_range(given)} new kei cars {window[0]}–{window[1]}"
            sentence += f"; {grey}; {everything}"
            wide, spread = _spread(given)
        else:
            sentence = f"No new kei cars: {grey}; {everything}"
            wide, spread = _spread(total)
        sentence += f"; about {fmt.count(annual.p50)} a year by {end} ({fmt.share(share.p50)} of new-vehicle sales)."
        rows.append(
            {
                "name": name,
                "title": scenario_title(name, spec),
                "conditions": _conditions(spec),
                "sentence": sentence,
                "wide": wide,
                "spread": spread,
            }
        )
    return rows


def _conditions(spec) -> str:
    if spec is None:
        return ""
    if spec.road_access == "grey_import":
        return "grey-market imports of 25-year-old kei cars and trucks only"
    return f"planned launch {spec.launch_year}, {spec.production} production, road access: " + spec.road_access.replace(
        "_", " "
    )


def breakable(text) -> Markup:
    """Escaped text with line-break opportunities after dots, slashes and underscores (long keys, paths)."""
    out = str(escape(text))
    for mark in "./_":
        out = out.replace(mark, mark + "<wbr>")
    return Markup(out)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None (not NaN, which templates would print)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


PROVENANCE = ("source", "quote", "use", "rationale")


def assumption_rows(assumptions: pd.DataFrame) -> list[dict]:
    """Rows identical in every scenario once (scenario '(all)'), scenario-specific ones per scenario, by key. A
    source, quote or rationale that an earlier row of the same key printed is not printed again (``said_above``;
    the rows of a key are adjacent): a reference-class key's paragraphs would otherwise stand once per scenario."""
    order = {key: n for n, key in enumerate(dict.fromkeys(assumptions.key))}
    collapsed = once_for_all_scenarios(assumptions, ["key", "value", "low", "high", "override_origin"])
    collapsed = collapsed.sort_values("key", key=lambda k: k.map(order), kind="stable")
    rows = [
        {
            "scenario": r["scenario"],
            "key": r["key"],
            **{c: fmt.by_unit(r[c], r["unit"]) for c in ("value", "low", "high")},
            **{c: r[c] for c in ("unit", "kind", "source", "quote", "use", "rationale")},
            "overridden": bool(r["overridden"]),
            "origin": r["override_origin"],
        }
        for r in _records(collapsed)
    ]
    first: dict = {}  # (key, field, text) -> the scenario of the first row that printed that text
    for row in rows:
        said = {c: first.setdefault((row["key"], c, row[c]), row["scenario"]) for c in PROVENANCE if row[c]}
        row["said_above"] = {c for c, scenario in said.items() if scenario != row["scenario"]}
        new = [c for c in said if c != "source" and c not in row["said_above"]]
        row["said_note"] = ("source as above" if new else "as above") if "source" in row["said_above"] else None
    return rows


def _with_range(value, low, high, unit) -> str:
    """A value in its unit, with its range when it has one: "15% (10%–27.5%)"."""
    shown = fmt.by_unit(value, unit)
    if fmt.is_missing(low) or fmt.is_missing(high) or low == high:
        return shown
    return f"{shown} ({fmt.by_unit(low, unit)}–{fmt.by_unit(high, unit)})"


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
        "failed": _records(gates[~gates.success]),
        "all": _records(gates),  # a check on the whole table has no column: None, not "nan"
    }


def run_changes(previous: dict, outputs: dict, years: list[int]) -> dict:
    """What moved since the previous run: changed assumptions, and only the forecast cells that changed."""
    deltas = forecast_deltas(previous["forecasts"], outputs["forecasts"], years)
    deltas = deltas[deltas.metric.isin(COMPARED_METRICS)]
    changed = moved(deltas)
    assumptions = _records(assumption_changes(previous["assumptions"], outputs["assumptions"]))
    for a in assumptions:  # a range-only change must show: "15% (10%–27.5%)" -> "15%"
        for when in ("before", "after"):
            a[when] = _with_range(a[f"value_{when}"], a[f"low_{when}"], a[f"high_{when}"], a["unit"])
    return {
        "run_id": previous["run"].iloc[0].run_id,
        "assumptions": assumptions,
        "forecasts": _records(deltas[changed]),
        "unchanged": int((~changed).sum()),
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
        "sobol_rows": sobol.head(10).to_dict("records") if not sobol.empty else [],
        "max_halfwidth": float(sobol[["s1_conf", "st_conf"]].max().max()) if not sobol.empty else None,
        "samples": int(sobol.samples.max()) if "samples" in sobol and sobol.samples.notna().any() else None,
        "ranking_notes": ranking_notes(tornado, sobol) if not (tornado.empty or sobol.empty) else [],
    }


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


def kei_given_launch(outputs: dict, scenario: str, launch_year: int) -> pd.DataFrame:
    """A scenario's new kei share given a launch by year on sale from its planned launch year: quantiles of
    new_kei_sales_if_launched over the median market (t, p10, p50, p90)."""
    fc = outputs["forecasts"]
    part = fc[fc.scenario == scenario]
    given = part[part.metric == "new_kei_sales_if_launched"].set_index("year")
    market = part[part.metric == "total_market"].set_index("year").p50
    shares = given[["p10", "p50", "p90"]].div(market, axis=0).dropna()
    shares = shares[shares.index >= launch_year]
    return shares.assign(t=shares.index - launch_year + 1).reset_index(drop=True)


def _pre_launch(cases: pd.DataFrame) -> dict:
    """The chain's pre-launch coverage and median P90/P10, for the section's plain statement of them."""
    chain = cases[(cases["mode"] == "pre_launch") & (cases.model == "chain")]
    covered = float((chain.coverage_80 * chain.holdout_years).sum() / chain.holdout_years.sum())
    return {"coverage": fmt.share(covered), "ratio": fmt.number(chain.interval_ratio_80.median())}


def _span(low: float, high: float) -> str:
    """Two numbers as a range, or one where they are the same: "476–769", "769"."""
    low_text, high_text = fmt.number(low), fmt.number(high)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def reference_section(outputs: dict, config) -> dict | None:
    """The reference class: its launches as a table and a chart against the kei forecast given a launch, the
    fit, and the family hold-out backtests of every shape."""
    from models.reference_backtest import summarise
    from models.reference_class import MOTORISING_BELOW

    launches, cases = outputs.get("reference_launches"), outputs.get("reference_backtests")
    if launches is None or launches.empty or cases is None or cases.empty:
        return None
    fit = outputs["reference_fit"]
    shape = str(fit["shape"].iloc[0])
    full = launches[launches.scored]
    table = [
        {
            "launch": launch, "family": p.family.iloc[0], "kind": p.kind.iloc[0], "country": p.country.iloc[0],
            "launch_year": fmt.year(p.launch_year.iloc[0]), "price_ratio": fmt.number(p.price_ratio.iloc[0], 2),
            "policy": "yes" if p.policy_created.iloc[0] else "no", "years": int(p.scored.sum()),
            "vehicles": fmt.number(p.vehicles_per_1000.iloc[0]) if "vehicles_per_1000" in p else "–",
            "first": fmt.share(full[full.launch == launch].share.iloc[0]) if (full.launch == launch).any() else "–",
            "peak": fmt.share(p.share[p.scored].max()), "fitted": bool(p.fitted.any()),
        }
        for launch, p in launches.groupby("launch", sort=False)
    ]  # fmt: skip
    policy = [n for n, sc in config.scenarios.items() if sc.road_access != "grey_import"]
    chosen = next((n for n in policy if config.scenarios[n].road_access == "kei_class"), policy[0] if policy else None)
    chart = None
    if chosen is not None:
        kei = kei_given_launch(outputs, chosen, config.scenarios[chosen].launch_year)
        title = "Past launches' share by year on sale, against the kei forecast given a launch"
        chart = charts.reference_class_chart(full[full.fitted], kei, title) if not kei.empty else None
    compare = pd.concat([summarise(part).assign(shape=name) for name, part in cases.groupby("shape")])
    per_1000 = launches.get("vehicles_per_1000", pd.Series(dtype=float))
    motorised = per_1000[per_1000 >= MOTORISING_BELOW]
    return {
        "shape": shape,
        "motorising_below": fmt.number(MOTORISING_BELOW),
        "motorised": _span(motorised.min(), motorised.max()) if len(motorised) else None,
        "launches": table,
        "families": launches.family.nunique(),
        "unpriced": int(launches.drop_duplicates("launch").price_ratio.isna().sum()),
        "family_sd": fmt.number(float(fit.set_index("parameter")["mean"].get("family_sd", float("nan"))), 2),
        "chart": chart,
        "chart_scenario": scenario_title(chosen, config.scenarios[chosen]) if chosen else None,
        "fit": fit.to_dict("records"),
        "summary": summarise(cases[cases["shape"] == shape]).to_dict("records"),
        "sharpness": _pre_launch(cases[cases["shape"] == shape]),
        "compare": compare[compare.model == "chain"].to_dict("records"),
    }


def render_report(outputs: dict, previous: dict | None, settings, directory: Path) -> None:
    """Write index.html, report.md, data_quality.html and the CSV downloads for one run into ``directory``."""
    run, fc, config = outputs["run"].iloc[0], outputs["forecasts"], settings.config
    years = [y for y in REPORT_YEARS if fc.year.min() <= y <= fc.year.max()]
    window = tuple(config.run.headline_window)
    exports = Path(os.path.relpath(settings.run.exports_dir / run.run_id, settings.run.reports_dir / run.run_id))
    model = config.calibration.model
    inputs = {
        k for sc in config.scenarios.values() for k in required_keys(sc.road_access, sc.production == "import", model)
    }
    assumptions = assumption_rows(outputs["assumptions"])
    context = {
        "run": run,
        **scenario_layer(outputs, config, window[1]),
        **headline_section(fc, config, window, years),
        **market_section(outputs, config),
        "overrides": [  # in runs recorded before overrides kept their unit: a plain number
            {"unit": None, **o} | {"shown": _with_range(o["value"], o["low"], o["high"], o.get("unit"))}
            for o in json.loads(run.overrides or "[]")
        ],
        "timings": json.loads(run.timings) if run.timings else {},
        "years": years,
        "window": window,
        "window_end": window[1],
        "scenarios": [
            scenario_section(name, part, outputs["sensitivity"], config, window[1])
            for name, part in fc.groupby("scenario", sort=False)
        ],
        "calibration": calibration_rows(outputs["calibration"], outputs["calibration_fit"]),
        "fit_diagnostics": _records(outputs.get("fit_diagnostics", pd.DataFrame())),
        "fit_gates": config.gates,
        "adoption": adoption_section(outputs, config.calibration.shape),
        "hyper_priors": HYPER_PRIORS,
        "reference": reference_section(outputs, config),
        "level_model": config.calibration.model,
        "model_inputs": [a for a in assumptions if a["key"] in inputs],
        "context_figures": [a for a in assumptions if a["key"] not in inputs],
        "gates": gate_summary(outputs["gate_results"]),
        "changes": run_changes(previous, outputs, years) if previous is not None else None,
        "downloads": downloads(outputs, directory, exports),
        "sweep": sweep_rows(outputs.get("latest_sweep")),
        "fmt": _fmt,
        "f": fmt,
        "evidence": _records(outputs["evidence"]) if "evidence" in outputs else [],
        "track_record": track_record_section(outputs, previous, config),
    }
    _write(directory, context)


def headline_section(fc: pd.DataFrame, config, window: tuple[int, int], years: list[int]) -> dict:
    """The first screen: the answers, the range of cumulative sales, the headline table and the comparisons."""
    titles = scenario_titles(fc, config)
    cumulative = headline_cells(fc, window[1])
    title = f"kei cars sold {window[0]}–{window[1]}"
    share = fc[fc.metric == "kei_share"]
    return {
        "answers": answers(fc, config, window),
        "range_chart": charts.range_chart(cumulative, titles, title),
        "headline": headline_rows(fc, years),
        "cumulative": cumulative_rows(fc, window[1]),
        "comparison": charts.comparison_chart(
            fc[fc.metric == "kei_sales"], "Kei sales per year, all scenarios", "cars per year", names=titles
        ),
        "comparison_share": charts.comparison_chart(
            share, "Kei share of US new-vehicle sales", "share of sales", fmt.share, titles
        ),
    }


def market_section(outputs: dict, config) -> dict:
    """The baseline market: its fan against history and the articles' figure, and the model's backtests."""
    fc, history = outputs["forecasts"], outputs["history"]
    base_series = history[history.series == config.baseline.series].set_index("year").value.sort_index()
    article_market = outputs["assumptions"].query("key == 'market.us_new_vehicle_sales'").value.iloc[0]
    market = fc[(fc.scenario == fc.scenario.iloc[0]) & (fc.metric == "total_market")]
    bt = outputs["backtests"].sort_values(["model", "horizon"])
    nested = bt[bt.model == NESTED]
    return {
        "market_chart": charts.fan_chart(
            market,
            "US light-vehicle sales: history and baseline forecast",
            "vehicles per year",
            base_series,
            (article_market, "articles: about 16 million"),
        ),
        "market_check": market_check(market, article_market, int(market.year.min())).iloc[0].to_dict(),
        "selected_model": bt[bt.selected].model.iloc[0] if bt.selected.any() else "?",
        "backtests": bt.to_dict("records"),
        "nested_skill": dict(zip(nested.horizon, nested.skill_vs_naive, strict=True)),
        "skill": skill_statement(bt, config.baseline.max_horizon, config.baseline.model == "auto"),
        "selection_horizon": config.baseline.max_horizon,
        "model_choice": (
            f"chosen by rolling-origin MASE over horizons 1-{config.baseline.max_horizon}"
            if config.baseline.model == "auto"
            else "fixed in advance in the config"
        ),
    }


def skill_statement(backtests: pd.DataFrame, max_horizon: int, chosen: bool) -> str:
    """The baseline's skill against naive in words (report, report.md, `keicast backtest`). A model fixed in
    advance (``chosen`` False) is scored on origins none of which chose it, and the nested skill of choosing
    instead is given beside it; a chosen (model: auto) model's in-sample skill flatters the choice, so the skill
    of the choice made inside each origin is the honest figure. A skill below zero is said to be no better than
    naive."""
    skill = skill_summary(backtests, max_horizon, fixed=not chosen)
    selected = backtests[backtests.selected].model
    model, span = (selected.iloc[0] if len(selected) else "?"), f"horizons 1–{max_horizon}"
    in_sample = fmt.signed_percent(skill["in_sample"])
    nested = None if math.isnan(skill["nested"]) else fmt.signed_percent(skill["nested"])
    if not chosen:
        verdict = ": no better than naive" if skill["in_sample"] < 0 else ""
        text = (
            f"The {model} model is fixed in advance in the config (baseline.model), not chosen on the origins that "
            f"score it: its skill against naive over {span} is {in_sample}{verdict}."
        )
        choosing = f" Choosing among the candidates inside each origin would score {nested}."
        return text if nested is None else text + choosing
    text = (
        f"Chosen on the same origins that score it, the {model} model's skill against naive over {span} is "
        f"{in_sample}, which flatters the choice; "
    )
    if nested is None:
        return text + "this run did not store the skill of the choice made inside each origin."
    verdict = ": no better than naive." if skill["nested"] < 0 else "."
    return f"{text}chosen inside each origin from only the years it had seen, the baseline's skill is {nested}{verdict}"


def scenario_layer(outputs: dict, config, window_end: int) -> dict:
    """Launch risk, the class share's two anchors, Japan's weight, the grey-import status quo, Sobol precision."""
    fc, sens = outputs["forecasts"], outputs["sensitivity"]
    start = int(fc.year.min())
    access = {name: sc.road_access for name, sc in config.scenarios.items()}
    quo = [n for n in fc.scenario.unique() if access.get(n) == "grey_import"]
    launch_years = list(range(start, window_end + 1))
    return {
        "titles": scenario_titles(fc, config),
        "launch_years": launch_years,
        "launch": launch_rows(fc, launch_years),
        "no_launch_year": NO_LAUNCH_YEAR,
        "class_share": class_share_context(outputs, {n: access[n] for n in fc.scenario.unique() if n in access}),
        "japan_weight": japan_weight_rows(sens) if not sens.empty else [],
        "status_quo": status_quo_context(
            fc[fc.scenario == (quo[0] if quo else fc.scenario.iloc[0])], outputs["assumptions"], start
        ),
        "max_sobol_halfwidth": config.gates.max_sobol_halfwidth,
        "sobol_base_samples": config.run.sobol_base_samples,
    }


def sweep_rows(sweep: pd.DataFrame | None) -> dict | None:
    """The warehouse's latest sweep (`keicast sweep`): each combination's factors and headline, largest first."""
    if sweep is None or sweep.empty:
        return None
    rows = [
        {
            "scenario": r.scenario,
            "factors": ", ".join(
                f"{k} = {fmt.year(v) if k == 'launch_year' else fmt.number(v)}"
                for k, v in json.loads(r.factors).items()
            ),
            "range": f"{fmt.count(r.cumulative_p10)}–{fmt.count(r.cumulative_p90)}",
            "p50": fmt.count(r.cumulative_p50),
        }
        for r in sweep.itertuples()
    ]
    return {"run_id": sweep.run_id.iloc[0], "rows": rows}


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
