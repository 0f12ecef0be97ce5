"""The data overview section shared by every report: coverage, gaps and a first chart."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .. import data
from ..formatting import format_number, format_percent


def data_coverage(ctx) -> dict:
    """Say which months the store holds for the partnership and which are missing.

    Returns a dict with ``months`` (present), ``missing`` and ``counts`` (monthly counts
    by crime type inside the analysis window).
    """
    p = ctx.params
    counts = data.monthly_counts(ctx.con, p.lad_codes, p.start, p.end, forces=p.forces)
    months = sorted(counts["month"].unique()) if len(counts) else []
    missing = data.missing_months(months, p.start, p.end)
    if months:
        text = (f"The store holds street-level records for **{len(months)} of the "
                f"{len(months) + len(missing)} months** from {p.start:%B %Y} to {p.end:%B %Y}.")
        if missing:
            text += " Months with no published file in the store: " + data.month_range_text(missing) + \
                ". Missing months are never filled in: comparisons use only months present in both periods."
        ctx.say(text)
        noloc = data.no_location_counts(ctx.con, p.forces)
        if len(noloc):
            tot = noloc["rows_no_location"].sum()
            share = format_percent(tot / noloc["rows_read"].sum(), 1, scale=100)
            ctx.say(f"Across the force file(s), {format_number(tot)} records ({share}) had no "
                    "location and cannot be placed in any partnership; they are counted, not used.")
    return {"months": months, "missing": missing, "counts": counts}


def monthly_chart(ctx, counts: pd.DataFrame, excluded: dict | None = None) -> None:
    """A labelled monthly chart of all recorded crime and ASB (gaps left as gaps).

    ``excluded`` (optional) maps "Anti-social behaviour" (or "All crime (excl. ASB)") to
    months flagged by the data-quality checks: they are drawn as red crosses, off the line.
    """
    p = ctx.params
    full = pd.date_range(p.start, p.end, freq="MS")
    asb = counts[counts["crime_type"] == "Anti-social behaviour"].groupby("month")["n"].sum().reindex(full).astype(float)
    crime = counts[counts["crime_type"] != "Anti-social behaviour"].groupby("month")["n"].sum().reindex(full).astype(float)
    fig, ax = plt.subplots()
    flagged = []
    for key, series in (("All crime (excl. ASB)", crime), ("Anti-social behaviour", asb)):
        months = pd.to_datetime([pd.Period(m, freq="M").to_timestamp() for m in (excluded or {}).get(key, [])])
        months = [m for m in months if m in series.index and pd.notna(series[m])]
        if months:
            flagged.append((months, series[months].to_numpy()))
            series[months] = float("nan")
    ax.plot(crime.index, crime.values, marker=".", label="Recorded crime (excluding ASB)")
    ax.plot(asb.index, asb.values, marker=".", label="Anti-social behaviour incidents")
    for i, (months, values) in enumerate(flagged):
        ax.plot(months, values, "x", color="tab:red", markersize=8,
                label="Flagged month (excluded from analysis)" if i == 0 else None)
    ax.set_title(f"{p.name}: records per month")
    ax.set_xlabel("Month")
    ax.set_ylabel("Records per month (count)")
    ax.set_ylim(bottom=0)
    ax.legend()
    ctx.show(fig)


def annual_table(ctx, counts: pd.DataFrame, excluded: dict | None = None) -> pd.DataFrame:
    """Records by crime type and calendar year (months present only).

    ``excluded`` (optional) maps a crime type (or "All crime (excl. ASB)") to months flagged
    by the data-quality checks (extract errors, severe drops). The table keeps the records
    as published, so the caption says which year totals include such months.
    """
    c = counts.copy()
    c["year"] = c["month"].dt.year
    months = c.groupby("year")["month"].nunique()
    t = c.pivot_table(index="crime_type", columns="year", values="n", aggfunc="sum", fill_value=0)
    t.columns = [f"{y} ({months[y]} months)" for y in t.columns]
    t = t.reset_index().rename(columns={"crime_type": "Crime type"})
    present = set(pd.PeriodIndex(pd.to_datetime(c["month"]), freq="M"))
    notes = []
    for what, flagged in (excluded or {}).items():
        flagged = sorted(pd.Period(m, freq="M") for m in flagged)
        flagged = [m for m in flagged if m in present]
        if not flagged:
            continue
        by_year: dict[int, list] = {}
        for m in flagged:
            by_year.setdefault(m.year, []).append(m)
        who = "every crime type except ASB" if what == "All crime (excl. ASB)" else what
        notes.append("; ".join(
            f"the {y} total for {who} includes {', '.join(m.strftime('%b %Y') for m in ms)}"
            for y, ms in by_year.items()))
    caption = "Records by crime type and calendar year (months in the store)."
    note = None
    if notes:
        note = ("Totals are as published, including months flagged as extract errors or severe drops: "
                + "; ".join(notes) + ". Those months are left out of every comparison and model in this report, "
                "so these year totals are not comparable with the other years for those crime types.")
        caption = ("Records by crime type and calendar year (months in the store; some totals include months "
                   "flagged as extract errors, see the note).")
    return ctx.table(t, "records_by_type_year", caption, note=note)
