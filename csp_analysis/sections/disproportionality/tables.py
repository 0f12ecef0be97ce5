"""The disproportionality report's tables as published: plain column names, rounding, and
small counts of people suppressed (with what they would reveal blanked).

Pure functions from computed results (:mod:`.compute`) to DataFrames for ``ctx.table``; no
ctx, no output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import disproportionality as dp
from ...formatting import format_p_value
from .compute import REFERENCE, STABLE_MIN, _quiet_ctx


def suppress_people(df: pd.DataFrame, count_cols: list[str], derived_cols: list[str], threshold: int,
                    totals: str = "columns") -> tuple[pd.DataFrame, pd.Series]:
    """Suppress small counts of people (primary and secondary) and blank what reveals them.

    Counts from 1 to ``threshold - 1`` in ``count_cols`` become "[c]", with secondary
    suppression (:func:`csp_analysis.disproportionality.suppress_small_numbers`) so that
    totals cannot reveal them. In every row with a suppressed count, the ``derived_cols``
    (rates, ratios, excess: anything the count could be worked out from) are set to NaN.

    Returns the table and a boolean Series: True for rows with a suppressed count.
    """
    if threshold <= 1 or df.empty:
        return df.copy(), pd.Series(False, index=df.index)
    base = df.copy()
    for c in count_cols:
        base[c] = pd.to_numeric(base[c], errors="coerce")
    with _quiet_ctx():
        out, mask = dp.suppress_small_numbers(base, count_cols, threshold=threshold, totals=totals)
    rows = mask[count_cols].any(axis=1)
    for c in count_cols:  # whole numbers stay whole in the CSV
        out[c] = out[c].map(lambda v: int(v) if isinstance(v, (int, float, np.integer, np.floating))
                            and np.isfinite(v) and float(v).is_integer() else v)
    for c in derived_cols:
        if c in out.columns:
            out[c] = out[c].astype(float)
            out.loc[rows, c] = np.nan
    return out, rows


@dataclass
class _View:
    """A table as published: suppressed counts, and what they blank."""

    table: pd.DataFrame
    rows: pd.Series            # True where the row's own count is suppressed
    ref_suppressed: bool       # the reference (White) count is suppressed: no ratio can be shown
    unknown_suppressed: bool   # the unknown count is suppressed: no sensitivity bounds


SearchView = _View

_RATIO_COLS = ["Ratio to White", "Ratio: lower 95% CI", "Ratio: upper 95% CI", "Excess searches"]
_BOUND_COLS = ["Ratio if every unknown were this group", "Ratio if every unknown were White"]


def _search_notes(t: pd.DataFrame, rows: pd.Series, ref_supp: bool) -> list[str]:
    """The table's Note column: suppressed, not recorded, reference, or too few for a stable ratio."""
    known = ~t["unknown"].to_numpy()
    ref_n = float(t.loc[t["group"] == REFERENCE, "count"].iloc[0])
    notes = []
    for i, (g, n, k) in enumerate(zip(t["group"], t["count"], known)):
        if rows.iloc[i]:
            notes.append("suppressed (small number)")
        elif not k:
            notes.append("not recorded")
        elif g == REFERENCE:
            notes.append("reference group")
        elif ref_supp:
            notes.append("ratio not shown (White count suppressed)")
        elif n < STABLE_MIN or ref_n < STABLE_MIN:
            notes.append(f"fewer than {STABLE_MIN} searches: ratio unstable")
        else:
            notes.append("")
    return notes


def search_table(t: pd.DataFrame, threshold: int) -> _View:
    """The relative-rate table as shown: suppressed, rounded, with plain column names.

    A suppressed count blanks its own rate and ratio; a suppressed reference (White)
    count blanks every ratio (each is worked out from it); a suppressed unknown count
    blanks the sensitivity bounds.
    """
    d = pd.DataFrame({
        "Group (officer-defined)": t["group"],
        "Searches": t["count"].astype(float),
        "Residents (Census 2021)": t["residents"].round(),
        "Searches per 1,000 residents a year": t["rate"],
        "Rate: lower 95% CI": t["rate_lower"],
        "Rate: upper 95% CI": t["rate_upper"],
        "Ratio to White": t["ratio"],
        "Ratio: lower 95% CI": t["lower"],
        "Ratio: upper 95% CI": t["upper"],
        "Excess searches": t["excess"].round(),
        "Ratio if every unknown were this group": t["ratio_if_all_unknown"],
        "Ratio if every unknown were White": t["ratio_if_no_unknown"],
    })
    derived = [c for c in d.columns if c not in ("Group (officer-defined)", "Searches", "Residents (Census 2021)")]
    out, rows = suppress_people(d, ["Searches"], derived, threshold)
    ref_supp = bool(rows[(t["group"] == REFERENCE).to_numpy()].any())
    unk_supp = bool(rows[t["unknown"].to_numpy()].any())
    if ref_supp:
        out[_RATIO_COLS + _BOUND_COLS] = np.nan
    if unk_supp:
        out[_BOUND_COLS] = np.nan
    out["Note"] = _search_notes(t, rows, ref_supp)
    out["Residents (Census 2021)"] = out["Residents (Census 2021)"].astype("Int64")
    out["Excess searches"] = out["Excess searches"].round().astype("Int64")
    return _View(out, rows, ref_supp, unk_supp)


def find_table(f: pd.DataFrame, threshold: int) -> _View:
    """The find-rate table as shown (percentages, p-values as text), suppressed as :func:`search_table`."""
    d = pd.DataFrame({
        "Group (officer-defined)": f["group"],
        "Searches with a recorded outcome": f["searches"].astype(float),
        "Finds": f["finds"].astype(float),
        "Find rate %": f["value"] * 100,
        "Lower 95% CI %": f["lower"] * 100,
        "Upper 95% CI %": f["upper"] * 100,
        "Ratio to White": f["ratio"],
        "Ratio: lower 95% CI": f["ratio_lower"],
        "Ratio: upper 95% CI": f["ratio_upper"],
        "Difference (points)": f["difference"] * 100,
        "p-value (Fisher)": f["p_value"],
    })
    counts = ["Searches with a recorded outcome", "Finds"]
    derived = [c for c in d.columns if c not in ["Group (officer-defined)", *counts]]
    out, rows = suppress_people(d, counts, derived, threshold)
    ref_supp = bool(rows[(f["group"] == REFERENCE).to_numpy()].any())
    if ref_supp:
        out[["Ratio to White", "Ratio: lower 95% CI", "Ratio: upper 95% CI", "Difference (points)",
             "p-value (Fisher)"]] = np.nan
    out["p-value (Fisher)"] = [format_p_value(v) if np.isfinite(v) else "–" for v in out["p-value (Fisher)"]]
    return _View(out, rows, ref_supp, False)


def publishable(t: pd.DataFrame, v: _View) -> list[str]:
    """Non-reference known groups whose ratio to White can be published."""
    if v.ref_suppressed:
        return []
    return [g for i, (g, u) in enumerate(zip(t["group"], t["unknown"]))
            if not u and g != REFERENCE and not v.rows.iloc[i]]


_OUTSIDE = {"": "no", "high": "above", "low": "below"}


def lsoa_outliers_table(out: pd.DataFrame) -> pd.DataFrame:
    """LSOAs outside the 99.8% limits (``out``: outlier rows of ``PlacesResult.lsoa``, sorted)."""
    return pd.DataFrame({
        "LSOA code": out["lsoa_code"], "LSOA": out["lsoa_name"], "Residents": out["population"].astype(int),
        "Crimes": out["crimes"].astype(int), "Crimes per 1,000 a year": out["rate"],
        "Ratio to average": out["ratio"], "Lower 99.8% limit": out["lower"], "Upper 99.8% limit": out["upper"],
        "Direction": out["outlier"].map({"high": "above", "low": "below"}),
    })


def lsoa_rates_table(lsoa: pd.DataFrame) -> pd.DataFrame:
    """Every LSOA, highest rate first."""
    allt = lsoa.sort_values("rate", ascending=False)
    return pd.DataFrame({
        "LSOA code": allt["lsoa_code"], "LSOA": allt["lsoa_name"], "Residents": allt["population"].astype(int),
        "Crimes": allt["crimes"].astype(int), "Crimes per 1,000 a year": allt["rate"],
        "Ratio to average": allt["ratio"],
        "Outside 99.8% limits": allt["outlier"].replace(_OUTSIDE),
        "Outside 95% limits": allt["outlier_95"].replace(_OUTSIDE),
    })


def deprivation_table(bd: pd.DataFrame) -> pd.DataFrame:
    """Crime rate and rate ratio by deprivation decile (``PlacesResult.decile_table``)."""
    return pd.DataFrame({
        "IMD decile (1 = most deprived)": bd["decile"], "LSOAs": bd["lsoas"].astype(int),
        "Residents": bd["residents"].astype(int), "Crimes": bd["count"].astype(int),
        "Crimes per 1,000 a year": bd["value"], "Lower 95% CI": bd["rate_lower_adjusted"],
        "Upper 95% CI": bd["rate_upper_adjusted"],
        f"Ratio to decile {int(bd['decile'].iloc[-1])}": bd["ratio"], "Ratio: lower 95% CI": bd["ratio_lower"],
        "Ratio: upper 95% CI": bd["ratio_upper"],
    })


def burden_table(b: pd.Series) -> pd.DataFrame:
    """Share of crime in the most affected 10% of LSOAs (``b``: the row of ``PlacesResult.burden``)."""
    return pd.DataFrame({
        "Most affected LSOAs": [int(b["n_top"])], "Of LSOAs": [int(b["n_places"])],
        "Their crimes": [int(b["count_top"])], "All crimes": [int(b["count_total"])],
        "Share of crime %": [b["share_of_count"] * 100], "Share of residents %": [b["share_of_population"] * 100],
        "Concentration (ratio)": [b["concentration"]],
        "LSOAs": ["; ".join(map(str, b["top_places"]))],
    })


def partnerships_table(units: pd.DataFrame) -> pd.DataFrame:
    """The partnerships compared, highest rate first."""
    tbl = units.sort_values("rate", ascending=False).reset_index(drop=True)
    tbl["Rank"] = np.arange(1, len(tbl) + 1)
    return pd.DataFrame({
        "Rank (highest rate first)": tbl["Rank"], "Partnership": tbl["name"],
        "Residents": tbl["population"].astype(int),
        "Crimes": tbl["crimes"].astype(int), "Crimes per 1,000 a year": tbl["rate"], "Ratio to average": tbl["ratio"],
        "Lower 99.8% limit": tbl["lower"], "Upper 99.8% limit": tbl["upper"],
        "Outside limits": tbl["outlier"].replace(_OUTSIDE),
        "This partnership": np.where(tbl["is_partnership"], "yes", ""),
        "Named comparator": np.where(tbl["is_comparator"], "yes", ""),
    })


def outcome_measure_table(m: pd.DataFrame) -> pd.DataFrame:
    """One measure of ``OutcomesResult.table`` by crime type (``m`` sorted as shown)."""
    return pd.DataFrame({
        "Crime type": m["crime_type"], "Crimes": m["crimes"].astype(int), "Count": m["count"].astype(int),
        "Partnership %": m["share"] * 100, "Lower 95% CI %": m["lower"] * 100, "Upper 95% CI %": m["upper"] * 100,
        "Force area %": m["force_share"] * 100, "Force: lower %": m["force_lower"] * 100,
        "Force: upper %": m["force_upper"] * 100,
        "Difference from rest of force (points)": m["difference"] * 100,
        "p-value (Holm)": [format_p_value(v) if np.isfinite(v) else "–" for v in m["p_holm"]],
        "Clear difference": np.where(m["clear_difference"], "yes", ""),
    })
