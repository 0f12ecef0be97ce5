"""The disproportionality report's charts: each function draws a matplotlib figure from a
computed result (:mod:`.compute`) and returns it (``None`` when there is nothing to draw).

No ctx and no text beyond titles and axis labels; the section shows the figure with
``ctx.show(fig)``, which writes its alternative text from the figure's own data.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...data import month_range_text as _ranges
from ...formatting import capitalise
from ...funnels import plot_funnel
from .compute import REFERENCE, ComparisonResult, PlacesResult


def rate_chart(t: pd.DataFrame, shown: pd.Series, where: str):
    """Searches per 1,000 residents a year by group (bars, 95% CI), known groups whose count
    is published (``shown``: False where the row is suppressed)."""
    k = t[~t["unknown"].to_numpy() & shown.to_numpy()]
    if k.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.8))
    y = np.arange(len(k))
    ax.barh(y, k["rate"], color=["#7F7F7F" if g == REFERENCE else "#1F77B4" for g in k["group"]])
    ax.errorbar(k["rate"], y, xerr=[k["rate"] - k["rate_lower"], k["rate_upper"] - k["rate"]], fmt="none",
                ecolor="black", capsize=3, linewidth=1)
    ax.set_yticks(y, k["group"])
    ax.invert_yaxis()
    ax.set_xlabel("Searches per 1,000 residents a year (95% CI)")
    ax.set_ylabel("Officer-defined ethnic group")
    ax.set_title(f"Stop and search rate by ethnic group, {where}")
    return fig


def find_chart(f: pd.DataFrame, shown: pd.Series, where: str):
    """Find rate by group (Wilson 95% CI) with the White find rate as a line."""
    k = f[~f["unknown"].to_numpy() & shown.to_numpy()]
    if k.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.5))
    y = np.arange(len(k))
    ax.errorbar(k["value"] * 100, y, xerr=[(k["value"] - k["lower"]) * 100, (k["upper"] - k["value"]) * 100],
                fmt="o", color="#1F77B4", ecolor="black", capsize=3)
    ref = f[f["group"] == REFERENCE]
    if len(ref):
        ax.axvline(float(ref["value"].iloc[0]) * 100, color="#7F7F7F", linestyle="--", linewidth=1,
                   label="White find rate")
        ax.legend(frameon=False, fontsize=8)
    ax.set_yticks(y, k["group"])
    ax.invert_yaxis()
    ax.set_xlabel("Searches that found the object searched for (%, Wilson 95% CI)")
    ax.set_ylabel("Officer-defined ethnic group")
    ax.set_title(f"Find rate by ethnic group, {where}")
    return fig


def _show_limits(ax, units: pd.DataFrame) -> None:
    """Widen the y-axis so that the 99.8% limits at the units' sizes are visible."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(0.0, min(lo, float(np.nanmin(units["lower"])) * 0.9)),
                max(hi, float(np.nanmax(units["upper"])) * 1.05))


def _cap_off_scale(ax, units: pd.DataFrame, factor: float = 1.6) -> None:
    """Keep the funnel readable when a few areas are far above it: cut the y-axis and
    mark those areas at the top with their values."""
    cap = float(np.nanmax(units["upper"])) * factor
    far = units[units["ratio"] > cap]
    if far.empty:
        return
    ax.set_ylim(top=cap)
    ax.scatter(far["expected"], np.full(len(far), cap * 0.97), marker="^", s=40, color="#D62728", zorder=6)
    for _, r in far.iterrows():
        ax.annotate(f"{r['name']} ({r['ratio']:.1f}, off scale)", (r["expected"], cap * 0.97),
                    textcoords="offset points", xytext=(6, -4), fontsize=7)


def lsoa_funnel_chart(pl: PlacesResult, name: str):
    """Funnel plot of LSOA crime against the partnership average, the eight most extreme
    outliers labelled."""
    f = pl.funnel
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_funnel(f, ax=ax, title=f"{name}: crime by LSOA against the partnership average",
                xlabel="Expected crimes in the period (residents x partnership rate)",
                ylabel="Observed / expected crimes (1 = average)", label_outliers=False)
    _show_limits(ax, pl.lsoa)
    top = f[f["outlier"]].assign(az=lambda d: d["z_adjusted"].abs()).sort_values("az", ascending=False).head(8)
    for label, r in top.iterrows():
        ax.annotate(str(label), (r["expected"], r["ratio"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    return fig


def deprivation_chart(bd: pd.DataFrame, name: str):
    """Crime rate by deprivation decile with the quasi-Poisson 95% CIs (``PlacesResult.decile_table``)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(bd["decile"].astype(str), bd["value"], color="#1F77B4")
    ax.errorbar(np.arange(len(bd)), bd["value"], yerr=[bd["value"] - bd["rate_lower_adjusted"],
                                                       bd["rate_upper_adjusted"] - bd["value"]],
                fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_xlabel("IMD 2019 decile (1 = most deprived)")
    ax.set_ylabel("Crimes per 1,000 residents a year")
    ax.set_title(f"{name}: crime rate by deprivation decile (95% CI, allowing for over-dispersion)")
    return fig


def comparison_chart(cm: ComparisonResult, name: str):
    """Funnel plot of the partnerships compared: the partnership ringed, named comparators
    marked, areas far above the limits shown at the top."""
    u = cm.units
    fig, ax = plt.subplots(figsize=(9, 5))
    when = f"{cm.months[0]:%B %Y}" if len(cm.months) == 1 else _ranges(cm.months)
    plot_funnel(cm.funnel, ax=ax, title=f"Crime rate: partnerships compared ({when})", label_outliers=False,
                xlabel="Expected crimes in the period (residents x average rate)",
                ylabel="Observed / expected crimes (1 = average)")
    _show_limits(ax, u)
    _cap_off_scale(ax, u)
    r = cm.partnership_row
    ax.scatter([r["expected"]], [r["ratio"]], s=90, facecolors="none", edgecolors="#FF7F0E", linewidths=2,
               label=name, zorder=5)
    ax.annotate(name, (r["expected"], r["ratio"]), textcoords="offset points", xytext=(6, -12), fontsize=8,
                color="#FF7F0E")
    comp = u[u["is_comparator"]]
    if len(comp):
        ax.scatter(comp["expected"], comp["ratio"], s=70, marker="D", facecolors="none", edgecolors="#6A3D9A",
                   linewidths=1.5, label="Named comparators", zorder=5)
        for _, c in comp.iterrows():
            ax.annotate(c["name"], (c["expected"], c["ratio"]), textcoords="offset points", xytext=(6, 4),
                        fontsize=7, color="#6A3D9A")
    ax.legend(frameon=False, fontsize=8)
    return fig


def outcome_chart(ns: pd.DataFrame, name: str, force_area: str):
    """'No suspect identified' share by crime type, partnership against force area (Wilson 95% CIs)."""
    m = ns[ns["crimes"] > 0].sort_values("share")
    if m.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(m) + 1.5))
    y = np.arange(len(m))
    ax.errorbar(m["share"] * 100, y + 0.15, xerr=[(m["share"] - m["lower"]) * 100, (m["upper"] - m["share"]) * 100],
                fmt="o", color="#1F77B4", capsize=2, label=name)
    ax.errorbar(m["force_share"] * 100, y - 0.15, xerr=[(m["force_share"] - m["force_lower"]) * 100,
                                                       (m["force_upper"] - m["force_share"]) * 100],
                fmt="s", color="#7F7F7F", capsize=2, label=capitalise(force_area))
    ax.set_yticks(y, m["crime_type"])
    ax.set_xlabel("Crimes ending 'no suspect identified' (%, Wilson 95% CI)")
    ax.set_ylabel("Crime type")
    ax.set_title("No suspect identified, by crime type")
    ax.legend(frameon=False, fontsize=8)
    return fig
