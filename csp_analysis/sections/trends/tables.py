"""The trends report's tables as shown: computed results -> display DataFrames (formatted
p-values, verdicts, rounded numbers, reader-facing column names). No output."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .constants import ALL_CRIME, ASB, AREA_ORDER, SEN_COLUMN
from .wording import p_cell

_DISPLAY = {
    "area": "Area", "measure": "Crime type", "priority": "Priority", "months_compared": "Months",
    "latest": "Latest", "previous": "Comparison", "percent_change": "% change",
    "percent_lower": "% CI lower", "percent_upper": "% CI upper", "p_value": "p",
    "p_adjusted": "p (adjusted)", "verdict": "Verdict", "rate": "Rate per 1,000 a year", "rate_lower": "Rate CI lower",
    "rate_upper": "Rate CI upper",
}


def _display_headline(h: pd.DataFrame, area: bool = True, partnership: str | None = None) -> pd.DataFrame:
    """Headline rows as shown: formatted p-values, verdicts; the partnership's own rows
    labelled "Whole partnership" (``partnership``), or no area column (``area=False``)."""
    t = h.copy()
    if partnership is not None:
        t["area"] = t["area"].where(t["area"] != partnership, "Whole partnership")
    for c in ("percent_change", "percent_lower", "percent_upper", "p_value", "p_adjusted", "rate", "rate_lower",
              "rate_upper", "unlikely_chance"):
        if c not in t:
            t[c] = np.nan
    t["verdict"] = np.where(t["months_compared"] == 0, "no months to compare",
                            np.where(t["unlikely_chance"].fillna(False).astype(bool), "unlikely to be chance",
                                     "could be chance"))
    for c in ("p_value", "p_adjusted"):
        t[c] = [p_cell(v) for v in t[c]]
    t["priority"] = np.where(t["priority"], "yes", "")
    for c in ("latest", "previous"):
        t[c] = t[c].astype("Int64")
    for c in ("percent_change", "percent_lower", "percent_upper"):
        t[c] = t[c].astype(float).round(1)
    for c in ("rate", "rate_lower", "rate_upper"):
        t[c] = t[c].astype(float).round(2)
    cols = [c for c in _DISPLAY if area or c != "area"]
    return t[cols].rename(columns=_DISPLAY)


display_headline = _display_headline


def in_measure_order(rows: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Rows sorted in the order of ``measures``."""
    order = {m: i for i, m in enumerate(measures)}
    return rows.assign(_o=rows["measure"].map(order)).sort_values("_o")


def area_rows_ordered(part: pd.DataFrame, others: pd.DataFrame, measures: list[str],
                      priorities: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The partnership's and the other areas' rows, key measures first (all crime, ASB, the
    priorities), then by area type (:data:`AREA_ORDER`) and area; also the key measures."""
    key = [ALL_CRIME, ASB] + [m for m in priorities if m not in (ALL_CRIME, ASB)]
    rest = [m for m in measures if m not in key]
    morder = {m: i for i, m in enumerate(key + rest)}
    both = pd.concat([part, others])
    both = both.assign(_m=both["measure"].map(morder), _a=both["area_type"].map(AREA_ORDER))
    return both.sort_values(["_m", "_a", "area"]), key


def flagged_months_table(f: pd.DataFrame, final: np.ndarray) -> pd.DataFrame:
    """The flagged months as shown, force files first (``final``: excluded in the end)."""
    t = pd.DataFrame({
        "Area": f["area"], "Month": f["month"], "Crime type": f["series"],
        "Records": f["n"].astype(int), "Usual level": f["reference"].round(0).astype(int),
        "Ratio": f["ratio"].round(2), "Flag": f["flag"].str.replace("_", " "),
        "Excluded": np.where(final, "yes", "no"),
    })
    return t.assign(_f=~t["Area"].str.endswith("force file")).sort_values(
        ["_f", "Crime type", "Area", "Month"], kind="stable").drop(columns="_f")


def long_run_table(lr: pd.DataFrame, priorities) -> pd.DataFrame:
    """The long-run table: count model's annual % change and the Mann-Kendall check."""
    t = pd.DataFrame({"Crime type": lr["measure"],
                      "Priority": np.where(lr["measure"].isin(priorities), "yes", ""),
                      "Months used": lr["months_used"], "Months excluded": lr["months_excluded"]})
    for src, dst, dp in [("annual_change", "Annual % change", 1), ("change_lower", "CI lower (%)", 1),
                         ("change_upper", "CI upper (%)", 1)]:
        t[dst] = lr[src].astype(float).round(dp) if src in lr else np.nan
    t["p-value"] = [p_cell(v) for v in lr.get("change_p", pd.Series(np.nan, index=lr.index))]
    t["Mann-Kendall test"] = lr.get("mk_test", "")
    t["MK verdict"] = lr.get("mk_trend", "")
    t["MK p-value"] = [p_cell(v) for v in lr.get("mk_p", pd.Series(np.nan, index=lr.index))]
    for src, dst in [("sen_slope_year", SEN_COLUMN), ("sen_lower", "Sen CI lower"),
                     ("sen_upper", "Sen CI upper"),
                     ("sen_annual_total", "Sen: change in annual total (records a year)")]:
        t[dst] = lr[src].astype(float).round(1) if src in lr else np.nan
    return t


def concentration_display(c: pd.DataFrame) -> pd.DataFrame:
    """The concentration table as shown: top shares (whole LSOAs) without an interval, the
    Gini with its bootstrap interval."""
    gini = (c["measure"] == "gini").to_numpy()
    what = [("Generalised Gini" if g else
             f"Share of records in the busiest {int(k)} LSOAs (top {m.split('_')[-1]})")
            for g, m, k in zip(gini, c["measure"], c["n_top_places"].fillna(0))]
    return pd.DataFrame({
        "Period": c["period"].map({"latest": "Latest", "previous": "Comparison"}),
        "Measure": what,
        "Value": np.where(gini, c["value"], c["value"] * 100).round(2),
        "CI lower": np.where(gini, c["lower"], np.nan).round(2),
        "CI upper": np.where(gini, c["upper"], np.nan).round(2),
        "LSOAs (incl. none recorded)": c["n_places"].astype(int), "Records": c["n_records"].astype(int),
    })


def _top_display(t: pd.DataFrame, what: str) -> pd.DataFrame:
    """A top-10 list as shown (``what``: the place column's heading)."""
    if not len(t):
        return pd.DataFrame()
    return pd.DataFrame({
        "Rank (latest)": t["rank_current"], what: t["name"].fillna(t["place"]),
        "Code": t["place"].str.split(" | ", regex=False).str[0],
        "Latest": t["count_current"].astype(int), "Previous": t["count_previous"].astype(int),
        "Change": t["change"].astype(int), "Rank (previous)": t["rank_previous"],
        "Ratio": t["value"].replace(np.inf, np.nan).astype(float).round(2),
        "Ratio CI lower": t["lower"].replace(np.inf, np.nan).astype(float).round(2),
        "Ratio CI upper": t["upper"].replace(np.inf, np.nan).astype(float).round(2),
        "Top-10 list": np.where(t["entered"], "entered", np.where(t["left"], "left", "stayed")),
    })


top_display = _top_display
