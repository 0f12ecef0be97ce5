"""The local-indicators report's charts: each function draws a matplotlib figure from a computed
result and returns it (``None`` when there is nothing to draw); the caller shows it
(``ctx.show``, which writes the alt text from the figure's own data).

No ``ctx`` and no text beyond titles, axis labels and legends. Figures hide what the
report's one suppression decision hides (:func:`.compute.hidden_flags`) and small counts of
children.
"""
from __future__ import annotations

import textwrap
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .common import (
    CONFIDENCE,
    MARK,
    UNIT_WORDS,
    financial_year_of,
    group_part,
    is_small_count,
    period_text,
    quietly,
)
from .compute import LocalResult, hidden_flags
from .wording import fmt_value


def _wrap(text: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _tight(fig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()


def unit_label(unit: str) -> str:
    return UNIT_WORDS.get(unit, unit)


def forest_chart(t: pd.DataFrame, title: str):
    """Count changes as ratios with their intervals on a log scale (``None`` for fewer than two)."""
    ok = t[t["ratio"].notna() & t["lower"].notna() & t["upper"].notna() & np.isfinite(t["upper"])
           & (t["lower"] > 0)]
    if len(ok) < 2:
        return None
    ok = ok.iloc[::-1]
    labels = [f"{r['indicator_label']}{group_part(r['group'])}" for _, r in ok.iterrows()]
    labels = [_wrap(lab, 48) for lab in labels]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(ok) + 1.6))
    y = np.arange(len(ok))
    sig = (ok["p_value_holm"] if "p_value_holm" in ok else ok["p_value"]) < 1 - CONFIDENCE
    ax.errorbar(ok["ratio"], y, xerr=[ok["ratio"] - ok["lower"], ok["upper"] - ok["ratio"]], fmt="none",
                ecolor="#555555", capsize=3, linewidth=1)
    ax.scatter(ok["ratio"][~sig], y[~sig.to_numpy()], color="#9e9e9e", zorder=3, label="Could be chance")
    ax.scatter(ok["ratio"][sig], y[sig.to_numpy()], color="#1f4e79", zorder=3, label="Unlikely to be chance")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    lo, hi = float(ok["lower"].min()), float(ok["upper"].max())
    grid = (0.1, 0.25, 0.5, 1, 2, 4, 10) if hi / lo > 6 else (0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2)
    ticks = [t_ for t_ in grid if lo / 1.2 <= t_ <= hi * 1.2]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{(t_ - 1) * 100:+.0f}%" if t_ != 1 else "0%" for t_ in ticks])
    ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"Change on the previous period (%, log scale), with {CONFIDENCE:.0%} confidence interval")
    ax.set_ylabel("Indicator")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    _tight(fig)
    return fig


def monthly_yoy_chart(res: LocalResult, ind: str, series: pd.DataFrame, label: str, cur: str, prev: str):
    """Two financial years' monthly counts, month by month (hidden counts left as gaps)."""
    thr = res.threshold
    fig, ax = plt.subplots()
    months_order = [4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3]
    for fy, style in ((prev, dict(color="#9e9e9e", marker="o", linestyle="--")),
                      (cur, dict(color="#1f4e79", marker="o"))):
        s = series[series["period_start"].map(financial_year_of) == fy]
        y = []
        for m in months_order:
            hit = s[s["period_start"].dt.month == m]
            v = hit["value"].iloc[0] if not hit.empty else np.nan
            hide = not hit.empty and (hidden_flags(res, ind, hit["period"].iloc[0], None)[0]
                                      or (is_small_count(v, thr) and bool(s["counts_children"].iloc[0])))
            y.append(np.nan if hide else v)
        ax.plot(range(12), y, label=fy, **style)
    ax.set_xticks(range(12))
    ax.set_xticklabels(["Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar"])
    ax.set_xlabel("Month of the financial year")
    ax.set_ylabel("Number at the month (count)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{label}: {prev} and {cur} by month")
    ax.legend(title="Financial year")
    return fig


def monthly_series_chart(s: pd.DataFrame, label: str):
    """A monthly count series: its c-chart when one was computed, else the line of the shown months."""
    chart = s.attrs.get("chart")
    if chart is not None:
        from ...trends import plot_control_chart

        ax = quietly(plot_control_chart, chart, title=f"{label}: c-chart by month",
                    ylabel="Number per month (count)")
        return ax.figure
    fig, ax = plt.subplots()
    y = s["value"].where(~s["suppressed"])
    ax.plot(s["period_start"], y, marker="o", color="#1f4e79")
    ax.set_xlabel("Month")
    ax.set_ylabel("Number per month (count)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{label} by month")
    return fig


def p_chart(t: pd.DataFrame):
    """The p-chart of a monthly share, with the months left out marked."""
    from ...trends import plot_control_chart

    label = t["indicator_label"].iloc[0]
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    chart = pd.DataFrame({
        "value": inc["chart_value"].to_numpy(dtype=float), "centre": inc["chart_centre"].to_numpy(dtype=float),
        "lower": inc["chart_lower"].to_numpy(dtype=float), "upper": inc["chart_upper"].to_numpy(dtype=float),
        "variation": inc["chart_variation"].to_numpy(),
    }, index=pd.PeriodIndex(inc["period"], freq="M"))
    for c in ("near_lower", "near_upper", "special_cause"):
        if f"chart_{c}" in inc:
            chart[c] = inc[f"chart_{c}"].to_numpy()
    chart.attrs["kind"] = "p"
    ax = quietly(plot_control_chart, chart, title=f"{label}: p-chart by month",
                ylabel="Per cent of the month's total (%)")
    left = t[(t["period_type"] == "month") & ~t["in_chart"].fillna(False).astype(bool)]
    for i, p in enumerate(left["period"]):
        x = pd.Period(p, freq="M").to_timestamp()
        ax.axvline(x, color="#b00020", linestyle=":", linewidth=1.2,
                   label="Month left out (see text)" if i == 0 else None)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower left")
    return ax.figure


def share_bars(t: pd.DataFrame, period: str, ptype: str):
    """The groups' shares in one period with their intervals (``None`` for fewer than two shown)."""
    sub = t[(t["period"] == period) & t["group"].notna()]
    if len(sub) < 2 or int((~sub["suppressed"] & sub["percent"].notna()).sum()) < 2:
        return None
    label = sub["indicator_label"].iloc[0]
    sub = sub.assign(_k=sub["percent"].fillna(-1)).sort_values("_k", kind="stable")
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(sub) + 1.6))
    y = np.arange(len(sub))
    pct = sub["percent"].astype(float)
    ax.barh(y, pct.fillna(0), color="#9ecae1")
    ok = pct.notna() & sub["lower"].notna()
    ax.errorbar(pct[ok], y[ok.to_numpy()], xerr=[(pct - sub["lower"])[ok], (sub["upper"] - pct)[ok]], fmt="none",
                ecolor="#333333", capsize=3, linewidth=1)
    for yi, (_, r) in zip(y, sub.iterrows()):
        if r["suppressed"]:
            ax.text(0.5, yi, f"{MARK} suppressed", va="center", fontsize=8, color="#555555")
    ax.set_yticks(y)
    ax.set_yticklabels([_wrap(g) for g in sub["group"]], fontsize=8)
    ax.set_xlabel(f"Per cent of the total (%), with {CONFIDENCE:.0%} confidence interval")
    ax.set_ylabel("Group")
    ax.set_title(f"{label}, {period_text(period, ptype)}")
    _tight(fig)
    return fig


def comparator_chart(t: pd.DataFrame):
    """Each group's share (with its interval) beside the comparators' (``None`` when all are hidden)."""
    ok = t[~t["suppressed"] & t["local_percent"].notna()]
    if ok.empty:
        return None
    label = t["indicator_label"].iloc[0]
    groups = list(dict.fromkeys(ok["group"].fillna("All")))
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(groups) + 1.8))
    y = {g: i for i, g in enumerate(groups[::-1])}
    first = ok.drop_duplicates(subset=["group"])
    yy = [y[g] for g in first["group"].fillna("All")]
    ax.errorbar(first["local_percent"], yy, xerr=[first["local_percent"] - first["lower"],
                                                  first["upper"] - first["local_percent"]],
                fmt="o", color="#1f4e79", capsize=3, label=f"{t['period'].iloc[0]} (this partnership, "
                f"{CONFIDENCE:.0%} CI)")
    markers = ["D", "s", "^", "v", "P"]
    colours = ["#e6550d", "#31a354", "#756bb1", "#636363", "#de2d26"]
    for k, (comp, cc) in enumerate(ok.groupby("comparator", sort=False)):
        ax.scatter(cc["comparator_percent"], [y[g] - 0.18 * (k + 1) for g in cc["group"].fillna("All")],
                   marker=markers[k % len(markers)], color=colours[k % len(colours)], zorder=3,
                   label=f"{comp} ({', '.join(dict.fromkeys(cc['comparator_period']))})")
    ax.set_ylim(-0.4 - 0.18 * ok["comparator"].nunique(), len(groups) - 0.5)
    ax.set_yticks(list(y.values()))
    ax.set_yticklabels([_wrap(g) for g in y.keys()], fontsize=9)
    ax.set_xlabel("Per cent of the total (%)")
    ax.set_ylabel("Group")
    ax.set_xlim(left=0)
    ax.set_title(f"{label}: this partnership against comparators")
    ax.legend(fontsize=8, loc="best")
    _tight(fig)
    return fig


def before_after_chart(res: LocalResult, ba: dict, r):
    """The series around a process change, before and after marked (``None`` without a series)."""
    s = ba["series"]
    if s is None or s.empty:
        return None
    label = r["indicator_label"]
    unit = s["unit"].iloc[0]
    props = ba.get("proportions")
    x = s["period_start"]
    y = s["value"].astype(float)
    lo = hi = None
    if props is not None:
        pp = props[(props["group"].fillna("") == (ba["group"] or ""))].set_index("period")
        y = s["period"].map(pp["percent"]).astype(float)
        lo, hi = s["period"].map(pp["lower"]).astype(float), s["period"].map(pp["upper"]).astype(float)
        unit = "percent"
    if unit == "count":
        hide = [hidden_flags(res, ba["indicator"], p, ba["group"])[0] for p in s["period"]]
        small = y.map(lambda v: is_small_count(v, res.threshold)) & bool(s["counts_children"].iloc[0])
        y = y.where(~(small | pd.Series(hide, index=y.index)))
    fig, ax = plt.subplots()
    change = pd.Timestamp(ba["change"].start)
    before = x < change
    ax.plot(x, y, color="#7f7f7f", linewidth=1)
    ax.scatter(x[before], y[before], color="#9e9e9e", zorder=3, label="Before the change")
    ax.scatter(x[~before], y[~before], color="#1f4e79", zorder=3, label="After the change")
    if lo is not None and lo.notna().any():
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor="#555555", capsize=3, linewidth=1)
    ax.axvline(change - pd.Timedelta(days=15), color="#b00020", linestyle="--", linewidth=1,
               label=f"{ba['change'].name} ({change:%B %Y})")
    if len(x) <= 8:  # few points: label each, and each month on the axis
        for xi, yi in zip(x, y):
            if pd.notna(yi):
                ax.annotate(f"{yi:.0f}%" if unit == "percent" else fmt_value(yi, unit), (xi, yi),
                            textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels([f"{d:%b %Y}" for d in x])
    ax.set_xlabel("Month" if (s["period_type"] == "month").all() else "Period")
    ax.set_ylabel("Per cent (%)" if unit == "percent" else unit_label(unit))
    if unit == "percent":
        ax.set_ylim(0, 100)
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(f"{label}{group_part(ba['group'])}: before and after the change")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def breakdown_bars(b: pd.DataFrame, unit: str, thr: int):
    """A one-period breakdown as bars, suppressed groups marked."""
    b = b.iloc[::-1]
    label = b["indicator_label"].iloc[0]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(b) + 1.6))
    y = np.arange(len(b))
    vals = b["value"].astype(float)
    ax.barh(y, vals.fillna(0), color="#9ecae1")
    for yi, (_, r) in zip(y, b.iterrows()):
        txt = f"{MARK} suppressed" if r["suppressed"] else fmt_value(r["value"], unit)
        ax.text((0 if r["suppressed"] else r["value"]) + vals.max() * 0.01, yi, txt, va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([_wrap(g) for g in b["group"]], fontsize=8)
    ax.set_xlabel(unit_label(unit))
    ax.set_ylabel("Group")
    ax.set_xlim(0, vals.max() * 1.15 if vals.notna().any() else 1)
    ax.set_title(f"{label}, {period_text(b['period'].iloc[0], b['period_type'].iloc[0])}")
    _tight(fig)
    return fig

