"""The trends report's charts: each function draws one matplotlib figure from computed results
and returns it (the section shows it; :mod:`csp_analysis.alt_text` describes it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ... import trends as tr
from .periods import runs as _runs
from .wording import label


def monthly_chart(res, measure: str, start, end):
    """The partnership's monthly count of ``measure`` over [start, end] with the long-run trend:
    flagged months as red crosses off the line, months with no data as grey bands."""
    s = res.series[measure]
    full = pd.period_range(pd.Period(start, freq="M"), pd.Period(end, freq="M"), freq="M")
    y = s.reindex(full).astype(float)
    excl = [m for m in res.excluded.get(measure, []) if m in s.index]
    shown = y.copy()
    shown.loc[excl] = np.nan
    x = full.to_timestamp()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x, shown.values, marker=".", color="black", linewidth=1, label="Recorded per month")
    if excl:
        ax.plot(pd.PeriodIndex(excl).to_timestamp(), s.loc[excl].values, "x", color="tab:red", markersize=8,
                label="Flagged month (excluded)")
    fit = res.fits.get(measure)
    if fit is not None:
        tr_ = fit.fitted["trend"].reindex(full)
        ax.plot(x, tr_.values, color="tab:orange", linewidth=2, label="Long-run trend (count model)")
    missing = [m for m in full if m not in s.index]
    for run in _runs(missing):
        ax.axvspan(run[0].to_timestamp(), (run[-1] + 1).to_timestamp(), color="#dddddd", alpha=0.5, linewidth=0)
    if missing:
        ax.plot([], [], color="#dddddd", linewidth=8, label="No data published")
    ax.set_title(f"{res.partnership}: {label(measure)}, records per month")
    ax.set_xlabel("Month")
    ax.set_ylabel("Records per month (count)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    return fig


def _fixed_stl_layout(fig) -> None:
    """Fixed margins for the four-panel STL figure instead of constrained layout.

    Constrained layout measures every tick label and title before drawing, which cost
    about as much as drawing the figure itself. These margins are the ones it chose for
    typical series (axes from 11.5% to 98.5% of the width, panels 19% high with 4% gaps);
    a wider tick label than usual is not clipped, because :func:`csp_analysis.report.render_png`
    draws with room around the figure and crops to what was drawn.
    """
    fig.set_layout_engine(None)
    fig.subplots_adjust(left=0.115, right=0.985, bottom=0.06, top=0.939, hspace=0.215)
    if fig.get_suptitle():
        fig.suptitle(fig.get_suptitle(), y=0.995)


def stl_chart(dec: pd.DataFrame, title: str):
    """The four-panel seasonal decomposition (:func:`csp_analysis.trends.plot_decomposition`)."""
    axes = tr.plot_decomposition(dec, title=title, ylabel="Records per month")
    _fixed_stl_layout(axes[0].figure)
    return axes[0].figure


def control_chart(chart: pd.DataFrame, title: str, unit: str):
    """The control chart of record (:func:`csp_analysis.trends.plot_control_chart`)."""
    ax = tr.plot_control_chart(chart, title=title, ylabel=unit)
    return ax.figure


def forest_plot(lr: pd.DataFrame, priorities, partnership: str):
    """Annual % change with its interval for each measure with a count-model fit (None if none)."""
    ok = lr.dropna(subset=["annual_change"]) if "annual_change" in lr else lr.iloc[0:0]
    if not len(ok):
        return None
    ok = ok.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(ok) + 1.5))
    yy = np.arange(len(ok))
    real = ((ok["change_lower"] > 0) | (ok["change_upper"] < 0)).to_numpy()
    colours = np.where(real, "tab:blue", "#999999")
    ax.errorbar(ok["annual_change"], yy, xerr=[ok["annual_change"] - ok["change_lower"],
                                               ok["change_upper"] - ok["annual_change"]],
                fmt="none", ecolor=colours, elinewidth=2)
    ax.scatter(ok["annual_change"], yy, color=colours, zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.plot([], [], "o-", color="tab:blue", label="Interval excludes no change")
    ax.plot([], [], "o-", color="#999999", label="Could be chance")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_yticks(yy)
    ax.set_yticklabels([m + (" (priority)" if m in priorities else "") for m in ok["measure"]])
    ax.set_xlabel("Annual change in recorded count (% a year, 95% CI)")
    ax.set_ylabel("Crime type")
    ax.set_title(f"{partnership}: long-run annual change by crime type")
    ax.grid(axis="y", alpha=0)
    return fig
