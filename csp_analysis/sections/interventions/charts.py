"""The intervention report's charts: each function draws one matplotlib figure from an
:class:`~.compute.InterventionAnalysis` and returns it (no ctx; titles and axis labels only).

The estimator charts call the result objects' own ``.plot(ax=...)`` and add the report's
titles and labels.
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .compute import InterventionAnalysis


def wrap_title(text: str, width: int = 75) -> str:
    """A chart title wrapped onto lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(text, width))


def shade_scheme(ax, a: InterventionAnalysis, x0, x1) -> None:
    """Shade the phase-in (orange) and the months the scheme was in place (green) between x0 and x1."""
    iv, cov = a.iv, a.cov
    s = max(pd.Timestamp(iv.start), x0)
    eff = max(cov.effective_start, x0)
    e = min(pd.Timestamp(iv.end) + pd.offsets.MonthEnd(0), x1) if iv.end else x1
    if s > x1 or e < x0:
        return
    if eff > s:
        ax.axvspan(s, min(eff, e), color="tab:orange", alpha=0.08, label="Phase-in (left out)")
    if eff <= e:
        lbl = "Scheme in place" + (f" (from {pd.Timestamp(iv.start):%b %Y})" if pd.Timestamp(iv.start) < x0 else "")
        ax.axvspan(eff, e, color="tab:green", alpha=0.10, label=lbl)


def series_chart(a: InterventionAnalysis, full: pd.DatetimeIndex):
    """The treated area's monthly target crimes over the analysis window ``full``, the comparison
    area scaled to its level, the scheme's window shaded and months without usable data marked."""
    d = a.data
    y = d.treated.reindex(full).astype(float)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(full, y.values, marker=".", color="black", label="Treated area")
    if d.comparison is not None and d.comparison.sum() > 0:
        ref = a.cov.pre if a.cov.pre else d.usable
        k = d.treated.reindex(ref).mean() / max(d.comparison.reindex(ref).mean(), 1e-9)
        ax.plot(full, (d.comparison.reindex(full) * k).values, color="tab:grey", ls="--", lw=1,
                label="Comparison area, scaled to the treated area's " + ("before-period" if a.cov.pre else "overall")
                      + " level")
    shade_scheme(ax, a, full[0], full[-1] + pd.offsets.MonthEnd(0))
    miss = [m for m in full if m not in set(d.usable)]
    if miss:
        ax.plot(miss, np.zeros(len(miss)), "|", color="tab:red", markersize=10, label="No usable data this month")
    ax.set_title(wrap_title(f"{a.iv.name}: {d.type_label} in the treated area"))
    ax.set_xlabel("Month")
    ax.set_ylabel("Recorded crimes per month (count)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="best")
    return fig


def _result_chart(result, title: str, xlabel: str, ylabel: str, height: float = 4):
    """An estimator result's own plot (``result.plot(ax)``) with the report's title and labels."""
    fig, ax = plt.subplots(figsize=(9, height))
    result.plot(ax=ax)
    ax.set_title(wrap_title(title))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def its_chart(a: InterventionAnalysis):
    """Observed counts and the ITS's no-scheme counterfactual."""
    fig, _ = _result_chart(a.its, f"{a.iv.name}: observed {a.data.type_label} and the no-scheme counterfactual",
                           "Month", "Recorded crimes per month (count)", height=4.5)
    return fig


def did_event_chart(a: InterventionAnalysis):
    """The DiD's event study (treated vs comparison, month by month), or None without one."""
    if a.did.event_study is None or len(a.did.event_study) <= 1:
        return None
    fig, _ = _result_chart(a.did, f"{a.iv.name}: treated vs comparison area, month by month",
                           "Months relative to the start (reference: the month before)",
                           "Rate ratio, treated vs comparison")
    return fig


def sc_chart(a: InterventionAnalysis):
    """The treated area's index and its synthetic control's."""
    fig, ax = _result_chart(a.sc, f"{a.iv.name}: treated area and its synthetic control", "Month",
                            "Index (before-period average = 100)")
    h, _ = ax.get_legend_handles_labels()
    ax.legend(h[:2], ["Treated area", "Synthetic control (weighted donors)"], fontsize=8)
    return fig


def placebo_chart(a: InterventionAnalysis):
    """Placebo estimates at the fake start dates, and the real estimate."""
    fig, _ = _result_chart(a.placebo, f"{a.iv.name}: placebo estimates at fake start dates and the real estimate",
                           "Start date used", "Level change (rate ratio)")
    return fig
