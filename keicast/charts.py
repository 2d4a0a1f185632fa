"""Report charts as inline SVG written directly: self-contained, no scripts, text kept as text, prints cleanly.

Each chart is a few dozen SVG elements built from the data (no plotting library: rendering 26 charts took 2-3 s
with matplotlib and takes milliseconds this way). Axes are labelled with units and numbers follow the report's
formatting policy (``keicast.formatting``); hovering a point or bar shows its values (SVG ``<title>``, no script,
so the report's Content-Security-Policy holds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape

import numpy as np
import pandas as pd

from keicast import formatting as fmt

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
FONT = 'font-family="system-ui, sans-serif"'
CHAR = 6.2  # average glyph width at 11 px, to size the label margin


def nice_ticks(lo: float, hi: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values covering [lo, hi] at a 1-2-5 step (Heckbert 1990, "Nice numbers for graph labels");
    ``whole`` keeps the step a whole number (an axis of cars, which come whole)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    power = max(power, 1) if whole else power
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and (not whole or m * power % 1 == 0))
    first = math.floor(lo / step) * step
    ticks = [first + i * step for i in range(int(math.ceil((hi - first) / step - 1e-9)) + 1)]
    return [round(t, 12) for t in ticks]


@dataclass(frozen=True)
class Plot:
    """Pixel geometry of one chart: data coordinates -> SVG coordinates."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = 640
    height: int = 280
    left: int = 60
    right: int = 14
    top: int = 26
    bottom: int = 40

    def x(self, value) -> np.ndarray:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (np.asarray(value, dtype=float) - self.x0) / span * (self.width - self.left - self.right)

    def y(self, value) -> np.ndarray:
        span = (self.y1 - self.y0) or 1.0
        inner = self.height - self.top - self.bottom
        return self.top + inner - (np.asarray(value, dtype=float) - self.y0) / span * inner


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _svg(plot: Plot, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {plot.width} {plot.height}" width="{plot.width}" '
        f'height="{plot.height}" role="img" aria-label="{escape(title)}" {FONT} font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="15" font-size="12" font-weight="600">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _y_axis(plot: Plot, ticks: Sequence[float], label: str, show: Callable[[float], str]) -> list[str]:
    parts = [f'<path d="M{plot.left},{plot.top} V{plot.height - plot.bottom}" stroke="#444" fill="none"/>']
    for tick in ticks:
        y = float(plot.y(tick))
        parts.append(f'<path d="M{plot.left - 4},{y:.1f} H{plot.width - plot.right}" stroke="#e3e3e3" fill="none"/>')
        parts.append(f'<text x="{plot.left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(show(tick))}</text>')
    mid = (plot.top + plot.height - plot.bottom) / 2
    parts.append(f'<text transform="translate(12,{mid:.0f}) rotate(-90)" text-anchor="middle">{escape(label)}</text>')
    return parts


def _x_axis(plot: Plot, ticks: Sequence[float], label: str, show: Callable[[float], str]) -> list[str]:
    base = plot.height - plot.bottom
    parts = [f'<path d="M{plot.left},{base} H{plot.width - plot.right}" stroke="#444" fill="none"/>']
    for tick in ticks:
        x = float(plot.x(tick))
        parts.append(f'<path d="M{x:.1f},{base} v4" stroke="#444" fill="none"/>')
        parts.append(f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{escape(show(tick))}</text>')
    parts.append(
        f'<text x="{(plot.left + plot.width - plot.right) / 2:.0f}" y="{plot.height - 4}" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return parts


def _legend_width(label: str) -> float:
    return 26 + CHAR * len(label)


def _legend_rows(x: float, right: float, entries: list[tuple[str, str, str]]) -> list[list[tuple[str, str, str]]]:
    """Legend entries wrapped into rows that fit between ``x`` and ``right`` (one entry a row at the least)."""
    rows: list[list] = [[]]
    width = 0.0
    for entry in entries:
        if rows[-1] and x + width + _legend_width(entry[0]) > right:
            rows.append([])
            width = 0.0
        rows[-1].append(entry)
        width += _legend_width(entry[0])
    return rows


def _legend(x: float, y: float, entries: list[tuple[str, str, str]]) -> list[str]:
    """Legend entries (label, colour, kind: line|band|dash) laid out left to right from (x, y)."""
    parts = []
    for label, color, kind in entries:
        if kind == "band":
            parts.append(f'<path d="M{x},{y - 5} h14 v10 h-14 Z" fill="{color}" fill-opacity="0.3" stroke="none"/>')
        else:
            dash = ' stroke-dasharray="4 3"' if kind == "dash" else ""
            parts.append(f'<path d="M{x},{y} h14" stroke="{color}" stroke-width="2" fill="none"{dash}/>')
        parts.append(f'<text x="{x + 18}" y="{y + 4}">{escape(label)}</text>')
        x += _legend_width(label)
    return parts


def _band(plot: Plot, x, low, high, color: str, opacity: float) -> str:
    xs, lo, hi = plot.x(x), plot.y(low), plot.y(high)
    outline = _points(np.r_[xs, xs[::-1]], np.r_[hi, lo[::-1]])
    return f'<path d="M{outline} Z" fill="{color}" fill-opacity="{opacity}" stroke="none"/>'


def _line(plot: Plot, x, y, color: str, width: float = 2, dash: bool = False) -> str:
    style = ' stroke-dasharray="4 3"' if dash else ""
    return f'<path d="M{_points(plot.x(x), plot.y(y))}" stroke="{color}" stroke-width="{width}" fill="none"{style}/>'


def _hover(plot: Plot, x, y, labels: Sequence[str], color: str) -> list[str]:
    return [
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}" fill-opacity="0.001"><title>{escape(text)}</title>'
        "</circle>"
        for cx, cy, text in zip(plot.x(x), plot.y(y), labels, strict=True)
    ]


def _time_plot(years: np.ndarray, values: np.ndarray, show: Callable[[float], str], **size) -> tuple[Plot, list]:
    """A plot with calendar years across and values (from zero) up; returns the plot and its y ticks."""
    finite = values[np.isfinite(values)]
    ticks = nice_ticks(0.0, float(finite.max()) if finite.size else 1.0, whole=show is fmt.count)
    labels = max((len(show(t)) for t in ticks), default=3)
    plot = Plot(float(years.min()), float(years.max()), 0.0, ticks[-1], left=int(26 + CHAR * labels), **size)
    return plot, ticks


def _year_ticks(years: np.ndarray) -> list[float]:
    """Whole years only: a short span shows each of its years once."""
    lo, hi = float(years.min()), float(years.max())
    ticks = [t for t in nice_ticks(lo, hi, 6) if lo <= t <= hi and float(t).is_integer()]
    return ticks if len(ticks) >= 2 else [float(y) for y in range(int(lo), int(hi) + 1)]


def fan_chart(
    frame: pd.DataFrame,
    title: str,
    ylabel: str,
    history: pd.Series | None = None,
    reference: tuple[float, str] | None = None,
    show: Callable[[float], str] = fmt.count,
) -> str:
    """P05-P95 and P10-P90 bands with the median, optionally with history and a reference line."""
    years = frame.year.to_numpy(dtype=float)
    every = [frame.p95.to_numpy(dtype=float)]
    if history is not None:
        every.append(history.to_numpy(dtype=float))
        years_all = np.r_[history.index.to_numpy(dtype=float), years]
    else:
        years_all = years
    if reference is not None:
        every.append(np.array([reference[0]]))
    plot, ticks = _time_plot(years_all, np.concatenate(every), show)
    color = PALETTE[0]
    body = _y_axis(plot, ticks, ylabel, show) + _x_axis(plot, _year_ticks(years_all), "year", fmt.year)
    body += [
        _band(plot, years, frame.p05, frame.p95, color, 0.15),
        _band(plot, years, frame.p10, frame.p90, color, 0.3),
        _line(plot, years, frame.p50, color),
    ]
    legend = [("P05–P95", color, "band"), ("80% range (P10–P90)", color, "band"), ("median", color, "line")]
    if history is not None:
        body.append(_line(plot, history.index, history.to_numpy(dtype=float), "#222", 1.2))
        legend.append(("history", "#222", "line"))
    if reference is not None:
        body.append(_line(plot, [years_all.min(), years_all.max()], [reference[0]] * 2, PALETTE[1], 1, dash=True))
        legend.append((reference[1], PALETTE[1], "dash"))
    hover = [
        f"{fmt.year(r.year)}: median {show(r.p50)}, 80% range {show(r.p10)}–{show(r.p90)}" for r in frame.itertuples()
    ]
    legend_parts = _legend(plot.left + 6, plot.top + 8, legend)
    return _svg(plot, title, body + _hover(plot, years, frame.p50, hover, color) + legend_parts)


def comparison_chart(
    frame: pd.DataFrame, title: str, ylabel: str, show: Callable[[float], str] = fmt.count, names: dict | None = None
) -> str:
    """Median and P10-P90 band of one metric for every scenario."""
    years = frame.year.to_numpy(dtype=float)
    groups = list(frame.groupby("scenario", sort=False))
    entries = [((names or {}).get(s, s), PALETTE[i % len(PALETTE)], "line") for i, (s, _) in enumerate(groups)]
    rows = _legend_rows(8, Plot.width - Plot.right, entries)  # under the title, wrapped to the chart's width
    size = {"height": 290 + 14 * len(rows), "top": 30 + 14 * len(rows)}
    plot, ticks = _time_plot(years, frame.p90.to_numpy(dtype=float), show, **size)
    body = _y_axis(plot, ticks, ylabel, show) + _x_axis(plot, _year_ticks(years), "year", fmt.year)
    for (label, color, _), (_, part) in zip(entries, groups, strict=True):
        body += [_band(plot, part.year, part.p10, part.p90, color, 0.12), _line(plot, part.year, part.p50, color)]
        hover = [f"{label}, {fmt.year(r.year)}: median {show(r.p50)}" for r in part.itertuples()]
        body += _hover(plot, part.year, part.p50, hover, color)
    for i, row in enumerate(rows):
        body += _legend(8, 28 + 14 * i, row)
    return _svg(plot, title, body)


def _bars(labels: Sequence[str], top: int = 26) -> Plot:
    """Geometry for horizontal bars, 22 px a bar, with room on the left for the longest label."""
    left = int(14 + CHAR * max((len(s) for s in labels), default=4))
    height = top + 44 + 22 * max(len(labels), 1)
    return Plot(0, 1, 0, max(len(labels), 1), width=max(640, left + 340), height=height, left=left, top=top)


def tornado_chart(frame: pd.DataFrame, title: str, top: int = 10, labels: dict | None = None) -> str:
    """Horizontal bars from the headline at each assumption's low to its high, largest swing on top."""
    part = frame.head(top)
    names = [(labels or {}).get(k, k) for k in part.key]
    low = np.minimum(part.headline_at_low, part.headline_at_high).to_numpy(dtype=float)
    high = np.maximum(part.headline_at_low, part.headline_at_high).to_numpy(dtype=float)
    base = float(part.headline_base.iloc[0]) if len(part) else 0.0
    ticks = nice_ticks(float(min(low.min(initial=base), 0)), float(high.max(initial=base)))
    plot = replace(_bars(names), x0=ticks[0], x1=ticks[-1])
    body = _x_axis(plot, ticks, "cumulative kei sales (cars)", fmt.count)
    for i, (name, lo, hi, r) in enumerate(zip(names, low, high, part.itertuples(), strict=True)):
        y = plot.top + 4 + 22 * i
        x0, x1 = float(plot.x(lo)), float(plot.x(hi))
        tip = f"{name}: {fmt.count(r.headline_at_low)} at its low, {fmt.count(r.headline_at_high)} at its high"
        body.append(
            f'<path d="M{x0:.1f},{y} H{max(x1, x0 + 1):.1f} v16 H{x0:.1f} Z" fill="{PALETTE[0]}" '
            f'fill-opacity="0.7"><title>{escape(tip)}</title></path>'
        )
        body.append(f'<text x="{plot.left - 6}" y="{y + 12}" text-anchor="end">{escape(name)}</text>')
    xb = float(plot.x(base))
    body.append(f'<path d="M{xb:.1f},{plot.top} V{plot.height - plot.bottom}" stroke="#222" fill="none"/>')
    return _svg(plot, title, body)


def sobol_chart(frame: pd.DataFrame, title: str, top: int = 10, labels: dict | None = None) -> str:
    """First-order and total Sobol indices per assumption (share of the headline's variance)."""
    part = frame.head(top)
    names = [(labels or {}).get(k, k) for k in part.key]
    plot = _bars(names, top=40)
    body = _x_axis(plot, nice_ticks(0, 1), "share of the variance of cumulative kei sales", fmt.share)
    for i, (name, r) in enumerate(zip(names, part.itertuples(), strict=True)):
        y = plot.top + 4 + 22 * i
        for offset, value, color, what in ((0, r.st, PALETTE[1], "total"), (9, r.s1, PALETTE[0], "first-order")):
            x1 = float(plot.x(min(max(value, 0.0), 1.0)))  # the bar, like the number, within [0, 1]
            tip = f"{name}: {what} index {fmt.variance_share(value)}"
            body.append(
                f'<path d="M{plot.left},{y + offset} H{max(x1, plot.left + 1):.1f} v8 H{plot.left} Z" fill="{color}" '
                f'fill-opacity="0.7"><title>{escape(tip)}</title></path>'
            )
        body.append(f'<text x="{plot.left - 6}" y="{y + 12}" text-anchor="end">{escape(name)}</text>')
    legend = [("total (ST)", PALETTE[1], "band"), ("first order (S1)", PALETTE[0], "band")]
    return _svg(plot, title, body + _legend(plot.left + 6, 30, legend))


def calibration_chart(frame: pd.DataFrame, title: str) -> str:
    """Observed adoptions per year (bars) against the fitted Bass curve."""
    years = frame.year.to_numpy(dtype=float)
    values = np.r_[frame.observed.to_numpy(dtype=float), frame.fitted.to_numpy(dtype=float)]
    plot, ticks = _time_plot(years, values, fmt.count, width=420, height=240, top=40)
    plot = replace(plot, x0=years.min() - 0.5, x1=years.max() + 0.5)
    body = _y_axis(plot, ticks, "sales (cars/year)", fmt.count) + _x_axis(plot, _year_ticks(years), "year", fmt.year)
    bar = 0.7 * (float(plot.x(1)) - float(plot.x(0)))
    for r in frame.itertuples():
        x, y, base = float(plot.x(r.year)), float(plot.y(r.observed)), float(plot.y(0))
        tip = f"{fmt.year(r.year)}: observed {fmt.count(r.observed)}, fitted {fmt.count(r.fitted)}"
        body.append(
            f'<path d="M{x - bar / 2:.1f},{base:.1f} V{y:.1f} h{bar:.1f} V{base:.1f} Z" fill="#999">'
            f"<title>{escape(tip)}</title></path>"
        )
    body.append(_line(plot, years, frame.fitted.to_numpy(dtype=float), PALETTE[1]))
    legend = [("observed", "#999", "band"), ("Bass fit", PALETTE[1], "line")]
    return _svg(plot, title, body + _legend(plot.left + 6, 30, legend))


def range_chart(frame: pd.DataFrame, names: dict[str, str], xlabel: str) -> str:
    """Per scenario a bar from P10 to P90 with the median marked: the headline's 80% ranges side by side."""
    labels = [names.get(s, s) for s in frame.scenario]
    ticks = nice_ticks(0.0, float(frame.p90.max()) if len(frame) else 1.0)
    plot = replace(_bars(labels, top=30), x0=ticks[0], x1=ticks[-1])
    body = _x_axis(plot, ticks, xlabel, fmt.count)
    for i, (label, r) in enumerate(zip(labels, frame.itertuples(), strict=True)):
        y = plot.top + 4 + 22 * i
        x0, x50, x1 = (float(plot.x(v)) for v in (r.p10, r.p50, r.p90))
        tip = f"{label}: median {fmt.count(r.p50)}, 80% range {fmt.count(r.p10)}–{fmt.count(r.p90)}"
        color = PALETTE[i % len(PALETTE)]
        body.append(
            f'<path d="M{x0:.1f},{y + 3} H{max(x1, x0 + 1):.1f} v10 H{x0:.1f} Z" fill="{color}" fill-opacity="0.35">'
            f"<title>{escape(tip)}</title></path>"
        )
        body.append(f'<path d="M{x50:.1f},{y} v16" stroke="{color}" stroke-width="3" fill="none"/>')
        body.append(f'<text x="{plot.left - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
        body.append(f'<text x="{x1 + 4:.1f}" y="{y + 12}">{escape(fmt.count(r.p50))}</text>')
    legend = [("80% range (P10–P90)", PALETTE[0], "band"), ("median", PALETTE[0], "line")]
    return _svg(plot, "Kei cars sold by scenario", body + _legend(plot.left + 6, 28, legend))


def adoption_backtest_chart(bands: pd.DataFrame, title: str) -> str:
    """One analog's actual sales with the chain's forecasts: from launch (pre-launch) and from mid-life."""
    actual = bands.drop_duplicates("year").sort_values("year")
    pre = bands[bands["mode"] == "pre_launch"].sort_values("year")
    post = bands[bands["mode"] == "post_launch"]
    years = actual.year.to_numpy(dtype=float)
    top = 2.5 * float(np.nanmax(actual.actual)) if len(actual) else 1.0  # wide bands are clipped, not rescaled to
    plot, ticks = _time_plot(years, np.array([top]), fmt.count, width=420, height=250, top=54)
    body = _y_axis(plot, ticks, "sales (cars/year)", fmt.count) + _x_axis(plot, _year_ticks(years), "year", fmt.year)
    legend = []
    clip = lambda v: np.minimum(np.asarray(v, dtype=float), ticks[-1])  # noqa: E731
    if not pre.empty:
        body += [_band(plot, pre.year, clip(pre.p10), clip(pre.p90), PALETTE[0], 0.12)]
        body += [_line(plot, pre.year, clip(pre.p50), PALETTE[0], 1.5, dash=True)]
        legend.append(("from launch (P10–P90)", PALETTE[0], "dash"))
    if not post.empty:
        k = int(post.fit_years.dropna().median())
        mid = post[post.fit_years == k].sort_values("year")
        body += [_band(plot, mid.year, clip(mid.p10), clip(mid.p90), PALETTE[1], 0.2)]
        body += [_line(plot, mid.year, clip(mid.p50), PALETTE[1], 1.8)]
        legend.append((f"after {k} years (P10–P90)", PALETTE[1], "line"))
    body.append(_line(plot, actual.year, actual.actual, "#222", 1.2))
    hover = [f"{fmt.year(r.year)}: {fmt.count(r.actual)} sold" for r in actual.itertuples()]
    body += _hover(plot, actual.year, actual.actual, hover, "#222")
    legend.append(("actual", "#222", "line"))
    return _svg(plot, title, body + _legend(plot.left + 6, 30, legend[:2]) + _legend(plot.left + 6, 44, legend[2:]))


def _axis_map(plot: Plot, lo: float, hi: float, log: bool):
    """Value -> x pixel over [lo, hi] across the plot, on a log scale when ``log``."""
    scale = np.log if log else (lambda v: v)
    span = float(scale(hi) - scale(lo)) or 1.0
    return lambda v: plot.left + float(scale(v) - scale(lo)) / span * (plot.width - plot.left - plot.right)


def prior_posterior_chart(parameters: pd.DataFrame, title: str) -> str:
    """P05-P95 (thin) and P25-P75 (thick) of each adoption parameter under the prior and the posterior.

    One row per parameter, each on its own scale (logarithmic for p and q), so very different magnitudes share
    the chart; the values are printed at both ends and show on hover.
    """
    spread = parameters.groupby("parameter", sort=False).apply(lambda g: (g.p95 - g.p05).max(), include_groups=False)
    keys = [key for key, width in spread.items() if width > 0]  # a shape without a trend fixes it at 0
    plot = Plot(0, 1, 0, 1, width=640, height=50 + 46 * len(keys), left=130, right=70, top=40, bottom=10)
    body: list[str] = []
    for i, key in enumerate(keys):
        part = parameters[parameters.parameter == key].set_index("distribution")
        log = key in ("adoption.bass_p", "adoption.bass_q")
        lo, hi = float(part.p05.min()), float(part.p95.max())
        x = _axis_map(plot, lo, hi, log and lo > 0)
        y0 = plot.top + 46 * i
        body.append(f'<text x="{plot.left - 8}" y="{y0 + 18}" text-anchor="end">{escape(key)}</text>')
        for j, (name, color) in enumerate((("prior", "#999999"), ("posterior", PALETTE[0]))):
            if name not in part.index:
                continue
            r, y = part.loc[name], y0 + 8 + 16 * j
            tip = f"{key}, {name}: median {fmt.number(r.p50)}, 90% {fmt.number(r.p05)}–{fmt.number(r.p95)}"
            body.append(f'<path d="M{x(r.p05):.1f},{y} H{x(r.p95):.1f}" stroke="{color}" stroke-width="1.5"/>')
            body.append(
                f'<path d="M{x(r.p25):.1f},{y} H{max(x(r.p75), x(r.p25) + 1):.1f}" stroke="{color}" stroke-width="7">'
                f"<title>{escape(tip)}</title></path>"
            )
            body.append(f'<circle cx="{x(r.p50):.1f}" cy="{y}" r="2.5" fill="white"/>')
        body.append(f'<text x="{plot.width - plot.right + 4}" y="{y0 + 18}">{escape(fmt.number(hi))}</text>')
        body.append(f'<text x="{plot.left}" y="{y0 + 40}" font-size="9" fill="#777">{escape(fmt.number(lo))}'
                    f'{" (log scale)" if log else ""}</text>')  # fmt: skip
    legend = [("prior", "#999999", "line"), ("posterior", PALETTE[0], "line")]
    return _svg(plot, title, body + _legend(plot.left, 30, legend))


def vintage_chart(bands: pd.DataFrame, actual: pd.Series, title: str) -> str:
    """Past vintages' medians and 80% ranges against the actuals, as in the EIA's AEO Retrospective: one fan per
    vintage (run_id), from its first forecast year."""
    start = float(bands.year.min()) - 5
    history = actual[actual.index >= start]
    years_all = np.r_[history.index.to_numpy(dtype=float), bands.year.to_numpy(dtype=float)]
    plot, ticks = _time_plot(
        years_all, np.r_[history.to_numpy(dtype=float), bands.p90.to_numpy(dtype=float)], fmt.count
    )
    body = _y_axis(plot, ticks, "vehicles per year", fmt.count) + _x_axis(
        plot, _year_ticks(years_all), "year", fmt.year
    )
    hover = []
    for i, (vintage, part) in enumerate(bands.groupby("run_id", sort=False)):
        part = part.sort_values("year")
        color = PALETTE[i % len(PALETTE)]
        years = part.year.to_numpy(dtype=float)
        body += [_band(plot, years, part.p10, part.p90, color, 0.12), _line(plot, years, part.p50, color, 1.2)]
        labels = [
            f"{vintage}, {fmt.year(r.year)}: median {fmt.count(r.p50)}, 80% range {fmt.count(r.p10)}–{fmt.count(r.p90)}"
            for r in part.itertuples()
        ]
        hover += _hover(plot, years, part.p50, labels, color)
    body.append(_line(plot, history.index, history.to_numpy(dtype=float), "#222", 2))
    hover += _hover(
        plot, history.index, history, [f"{fmt.year(y)}: actual {fmt.count(v)}" for y, v in history.items()], "#222"
    )
    legend = [
        ("actual", "#222", "line"),
        ("a vintage's median", PALETTE[0], "line"),
        ("its 80% range", PALETTE[0], "band"),
    ]
    return _svg(plot, title, body + hover + _legend(plot.left + 6, plot.top + 8, legend))


def pit_chart(histogram: pd.DataFrame, title: str) -> str:
    """PIT histogram: counts per tenth of [0, 1]; a calibrated record is flat at the dashed line."""
    counts = histogram["count"].to_numpy(dtype=float)
    ticks = nice_ticks(0.0, max(float(counts.max(initial=0)), 1.0))
    plot = Plot(0.0, 1.0, 0.0, ticks[-1], height=220)
    body = _y_axis(plot, ticks, "forecasts", fmt.number) + _x_axis(plot, nice_ticks(0, 1), "PIT", fmt.number)
    for r in histogram.itertuples():
        x0, x1, y = float(plot.x(r.low)) + 1, float(plot.x(r.high)) - 1, float(plot.y(r.count))
        base = plot.height - plot.bottom
        tip = f"PIT {fmt.number(r.low, 2)}–{fmt.number(r.high, 2)}: {r.count} forecast(s)"
        body.append(
            f'<path d="M{x0:.1f},{base} V{y:.1f} H{x1:.1f} V{base} Z" fill="{PALETTE[0]}" fill-opacity="0.7">'
            f"<title>{escape(tip)}</title></path>"
        )
    flat = counts.sum() / max(len(counts), 1)
    body.append(_line(plot, [0.0, 1.0], [flat, flat], PALETTE[1], 1, dash=True))
    return _svg(plot, title, body)


def _power_share(power: float) -> str:
    """A log-axis tick 10^power as a share: a percentage down to 0.001%, below it one car in so many."""
    return fmt.share(10**power) if power >= -5 else f"1 in {fmt.count(10**-power)}"


def reference_class_chart(launches: pd.DataFrame, kei: pd.DataFrame, title: str) -> str:
    """The reference class's launches (launch, t, share: one grey line each, shares on a log scale) against the
    kei forecast given a launch (t, p10, p50, p90 of its share by year on sale)."""
    values = np.r_[launches.share.to_numpy(float), kei[["p10", "p90"]].to_numpy(float).ravel()]
    values = values[np.isfinite(values) & (values > 0)]
    lo, hi = math.floor(np.log10(values.min())), math.ceil(np.log10(values.max()))
    t_max = float(max(launches.t.max(), kei.t.max()))
    plot = Plot(1.0, t_max, float(lo), float(hi), width=640, height=300, left=64, top=40)
    ticks = [float(p) for p in range(lo, hi + 1)]
    body = _y_axis(plot, ticks, "share of the market's new cars", _power_share)
    body += _x_axis(plot, [t for t in nice_ticks(1, t_max, 8) if t >= 1 and float(t).is_integer()], "year on sale",
                    lambda t: str(int(t)))  # fmt: skip
    for launch, part in launches.sort_values("t").groupby("launch"):
        line = _line(plot, part.t, np.log10(part.share), "#9a9a9a", 1.0)
        body.append(line.replace("/>", f"><title>{escape(str(launch))}</title></path>", 1))
    k = kei.sort_values("t")
    body.append(_band(plot, k.t, np.log10(k.p10), np.log10(k.p90), PALETTE[0], 0.25))
    body.append(_line(plot, k.t, np.log10(k.p50), PALETTE[0], 2.2))
    legend = [
        ("past launches", "#9a9a9a", "line"),
        ("kei by years from its planned launch (P10–P90, P50)", PALETTE[0], "band"),
    ]
    return _svg(plot, title, body + _legend(plot.left + 6, 30, legend))
