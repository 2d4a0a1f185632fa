"""Report charts as inline SVG (matplotlib, text kept as text): self-contained, no scripts, prints cleanly."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "keicast",
        }
    )
    return plt


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _millions_or_units(values: np.ndarray) -> tuple[float, str]:
    peak = float(np.nanmax(np.abs(values))) if len(values) else 0.0
    if peak >= 2e6:
        return 1e6, "millions"
    if peak >= 2e3:
        return 1e3, "thousands"
    return 1.0, ""


def fan_chart(
    frame: pd.DataFrame,
    title: str,
    ylabel: str,
    history: pd.Series | None = None,
    reference: tuple[float, str] | None = None,
) -> str:
    """P05-P95 and P10-P90 bands with the median, optionally with history and a reference line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    scale, unit = _millions_or_units(frame.p95.to_numpy())
    x = frame.year.to_numpy()
    ax.fill_between(x, frame.p05 / scale, frame.p95 / scale, color=PALETTE[0], alpha=0.15, label="P05-P95")
    ax.fill_between(x, frame.p10 / scale, frame.p90 / scale, color=PALETTE[0], alpha=0.3, label="P10-P90")
    ax.plot(x, frame.p50 / scale, color=PALETTE[0], lw=2, label="median")
    if history is not None:
        ax.plot(history.index, history.to_numpy() / scale, color="black", lw=1.2, label="history")
    if reference is not None:
        ax.axhline(reference[0] / scale, color=PALETTE[1], ls="--", lw=1, label=reference[1])
    ax.set_title(title, loc="left")
    ax.set_ylabel(f"{ylabel} ({unit})" if unit else ylabel)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return _svg(fig)


def comparison_chart(frame: pd.DataFrame, title: str, ylabel: str) -> str:
    """Median and P10-P90 band of one metric for every scenario."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    scale, unit = _millions_or_units(frame.p90.to_numpy())
    for i, (scenario, part) in enumerate(frame.groupby("scenario", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        ax.fill_between(part.year, part.p10 / scale, part.p90 / scale, color=color, alpha=0.12)
        ax.plot(part.year, part.p50 / scale, color=color, lw=2, label=scenario)
    ax.set_title(title, loc="left")
    ax.set_ylabel(f"{ylabel} ({unit})" if unit else ylabel)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return _svg(fig)


def tornado_chart(frame: pd.DataFrame, title: str, top: int = 10) -> str:
    """Horizontal bars from the headline at each assumption's low to its high, largest swing on top."""
    plt = _plt()
    part = frame.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(part) + 0.9))
    base = float(part.headline_base.iloc[0]) if len(part) else 0.0
    scale, unit = _millions_or_units(np.r_[part.headline_at_low, part.headline_at_high, base])
    y = np.arange(len(part))
    lo = np.minimum(part.headline_at_low, part.headline_at_high) / scale
    hi = np.maximum(part.headline_at_low, part.headline_at_high) / scale
    ax.barh(y, hi - lo, left=lo, color=PALETTE[0], alpha=0.7)
    ax.axvline(base / scale, color="black", lw=1)
    ax.set_yticks(y, part.key)
    ax.set_xlabel(f"cumulative kei sales ({unit})" if unit else "cumulative kei sales")
    ax.set_title(title, loc="left")
    return _svg(fig)


def sobol_chart(frame: pd.DataFrame, title: str, top: int = 10) -> str:
    """First-order and total Sobol indices per assumption."""
    plt = _plt()
    part = frame.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(part) + 0.9))
    y = np.arange(len(part))
    ax.barh(y + 0.2, part.st.clip(lower=0), height=0.4, color=PALETTE[1], alpha=0.7, label="total (ST)")
    ax.barh(y - 0.2, part.s1.clip(lower=0), height=0.4, color=PALETTE[0], alpha=0.7, label="first order (S1)")
    ax.set_yticks(y, part.key)
    ax.set_xlim(0, 1.05)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    ax.set_title(title, loc="left")
    return _svg(fig)


def calibration_chart(frame: pd.DataFrame, title: str) -> str:
    """Observed adoptions per year against the fitted Bass curve."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    scale, unit = _millions_or_units(frame.observed.to_numpy())
    ax.bar(frame.year, frame.observed / scale, color="#999999", label="observed")
    ax.plot(frame.year, frame.fitted / scale, color=PALETTE[1], lw=2, label="Bass fit")
    ax.set_title(title, loc="left", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"sales ({unit})" if unit else "sales")
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


def adoption_backtest_chart(bands: pd.DataFrame, title: str) -> str:
    """One analog's actual sales with the chain's forecasts: from launch (pre-launch) and from mid-life."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    actual = bands.drop_duplicates("year").sort_values("year")
    scale, unit = _millions_or_units(np.r_[actual.actual, bands.p50])
    pre = bands[bands["mode"] == "pre_launch"].sort_values("year")
    post = bands[bands["mode"] == "post_launch"]
    if not pre.empty:
        ax.fill_between(pre.year, pre.p10 / scale, pre.p90 / scale, color=PALETTE[0], alpha=0.12)
        ax.plot(pre.year, pre.p50 / scale, color=PALETTE[0], lw=1.5, ls="--", label="from launch (P10-P90)")
    if not post.empty:
        k = int(post.fit_years.dropna().median())
        mid = post[post.fit_years == k].sort_values("year")
        ax.fill_between(mid.year, mid.p10 / scale, mid.p90 / scale, color=PALETTE[1], alpha=0.2)
        ax.plot(mid.year, mid.p50 / scale, color=PALETTE[1], lw=1.8, label=f"after {k} years (P10-P90)")
    ax.plot(actual.year, actual.actual / scale, color="black", lw=1.2, marker="o", ms=2.5, label="actual")
    ax.set_title(title, loc="left", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"sales ({unit})" if unit else "sales")
    ax.set_ylim(bottom=0, top=float(np.nanmax(actual.actual)) / scale * 2.5)
    ax.legend(frameon=False, fontsize=6.5, loc="upper left")
    return _svg(fig)


def prior_posterior_chart(parameters: pd.DataFrame, title: str) -> str:
    """P05-P95 (thin) and P25-P75 (thick) of each adoption parameter under the prior and the posterior."""
    plt = _plt()
    spread = parameters.groupby("parameter", sort=False).apply(lambda g: (g.p95 - g.p05).max(), include_groups=False)
    keys = [key for key, width in spread.items() if width > 0]  # a shape without a trend fixes it at 0
    fig, axes = plt.subplots(1, len(keys), figsize=(1.6 * len(keys) + 0.6, 2.4))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        part = parameters[parameters.parameter == key].set_index("distribution")
        for x, (name, color) in enumerate((("prior", "#999999"), ("posterior", PALETTE[0]))):
            if name not in part.index:
                continue
            r = part.loc[name]
            ax.vlines(x, r.p05, r.p95, color=color, lw=1.2)
            ax.vlines(x, r.p25, r.p75, color=color, lw=6)
            ax.plot(x, r.p50, "o", color="white", ms=3)
        ax.set_xticks([0, 1], ["prior", "post."], fontsize=7)
        ax.set_xlim(-0.6, 1.6)
        if key in ("adoption.bass_p", "adoption.bass_q"):
            ax.set_yscale("log")
        ax.set_title(key.removeprefix("adoption."), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, x=0.02, ha="left", fontsize=9)
    fig.tight_layout()
    return _svg(fig)
