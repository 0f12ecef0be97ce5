"""Wording of the trends report: sentences, notes and captions built from computed results.

Strings only: no report context, no figures, no HTML (the report escapes what it prints).
Numbers are formatted with :mod:`csp_analysis.formatting`; the sentences are those of the
report before the section split, word for word, so that reports stay identical.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...formatting import capitalise, format_number, format_p_value, format_percent, join_and, not_enough_data
from ...multiplicity import allowing_text
from .constants import ALL_CRIME, ASB, CHART_MONTHS, CONFIDENCE, EW_FORCES, MULTIPLICITY, TOP_N
from .periods import month_text as _month_text
from .periods import ranges as _ranges

#: Kept names of the helpers the section module had before the split.
cap = capitalise
_list = join_and


def label(measure: str) -> str:
    """The measure as it reads inside a sentence ("burglary", "all crime (excluding ASB)")."""
    if measure == ALL_CRIME:
        return "all crime (excluding ASB)"
    if measure == ASB:
        return "anti-social behaviour (ASB)"
    return measure[0].lower() + measure[1:]


def _pct(x: float, signed: bool = True) -> str:
    """A % change for a sentence: ``+4.0%`` (one decimal, signed by default); ``–`` when missing."""
    return format_percent(x, 1, signed=signed, missing="–")


def p_cell(p) -> str:
    """A p-value in a table cell in the sentence style without ``p =``: ``0.04``, ``< 0.001``, ``–``.

    Not :func:`csp_analysis.formatting.format_p_value`'s ``"cell"`` style (three decimals),
    which would change the published tables."""
    return format_p_value(p).replace("p ", "").replace("= ", "") if pd.notna(p) else "–"


def _fig(x: float) -> str:
    """A slope for text: no decimals from 10, one from 1, two below (no sign)."""
    a = abs(x)
    return format_number(float(a), 0 if a >= 10 else 1 if a >= 1 else 2)


def _ci() -> str:
    return f"{int(CONFIDENCE * 100)}% CI"


# ============================================================================ results' own sentences
def sen_sentence(what: str, trend: str, slope: float, lower: float, upper: float, p: float,
                 test: str) -> str:
    """Sen's slope in words, in the unit of the long-run table: the change in the monthly
    count, in records per month, each year (``slope`` and its interval in that unit)."""
    name = "seasonal Kendall" if test.startswith("seasonal") else "Mann-Kendall"
    conf = _ci()
    total = f"about {_fig(12 * slope)} {'more' if slope > 0 else 'fewer'} records a year in total"
    if trend == "no trend" or not np.isfinite(slope) or slope == 0:
        return (f"{cap(name)} check: no clear upward or downward trend in the monthly count of {what} "
                f"({name} {format_p_value(p)}); Sen's slope is {slope:+.1f} records per month each year "
                f"({conf} {lower:+.1f} to {upper:+.1f}), which could be chance.")
    verb = "rose" if slope > 0 else "fell"
    return (f"{cap(name)} check: the monthly count of {what} {verb} by about {_fig(slope)} records per month "
            f"each year, {total} (Sen's slope {slope:+.1f} records per month each year, {conf} {lower:+.1f} to "
            f"{upper:+.1f}); the {'upward' if slope > 0 else 'downward'} trend is unlikely to be chance "
            f"({name} {format_p_value(p)}).")


def verdict_clause(p: float, p_adj: float, n: int, chance: bool) -> str:
    """The chance clause of a comparison sentence, worded on the adjusted p-value."""
    verdict = "unlikely to be chance" if chance else "could be chance"
    if n <= 1:
        return f"{verdict} ({format_p_value(p)})"
    return f"{verdict} ({format_p_value(p)}; {format_p_value(p_adj)} {allowing_text(n, MULTIPLICITY)})"


_verdict_clause = verdict_clause


def national_note(included: bool, best: pd.Period | None, absent: list[str], n_full: int) -> str:
    """Why England and Wales is, or is not, in the headline table.

    ``best``: the month with street files from most forces (None: no other force's files);
    ``absent``: the forces missing in it; ``n_full``: months with all 43 forces' files."""
    if included:
        return ("England and Wales is included: the store holds street files from all 43 forces "
                "for the months compared.")
    if best is None:
        return ("England and Wales is not shown: the store holds no street files from other forces, "
                "so there is no national comparison.")
    have = len(EW_FORCES) - len(absent)
    note = (f"England and Wales is not shown: a national comparison needs street files from all "
            f"43 forces for both periods, and the store holds files from at most {have} of them in "
            f"any month (most: {_month_text(best)}")
    note += (f"; missing {_list(absent)})" if absent else ")")
    note += (f", and from all 43 for {n_full} month{'s' if n_full != 1 else ''}." if n_full else
             ", never all 43 in one month.")
    return note


def vintage_note(same: bool, v_cur: int | None, v_prev: int | None, n_unchanged: int, lost: float) -> str:
    """How the hot-spot comparison deals with the 2011 and 2021 LSOA vintages."""
    if same:
        return (f"Both periods use {v_cur or v_prev or 2021} LSOA codes, so LSOAs are compared like with like."
                if (v_cur or v_prev) else "LSOAs are compared like with like (their codes are the same in both "
                "periods).")
    return (f"The latest period uses {v_cur} LSOA codes and the comparison period {v_prev} codes. To compare "
            f"like with like, the top-10 comparison uses only the {n_unchanged:,} LSOAs whose boundaries did "
            f"not change between the 2011 and 2021 vintages ({int(lost):,} records in changed LSOAs are left "
            "out of it); each period's concentration uses its own vintage's LSOAs.")


# ============================================================================ summary
def _change_phrase(r) -> str:
    return (f"{label(r['measure'])} {_pct(r['percent_change'])} "
            f"({_ci()} {_pct(r['percent_lower'])} to {_pct(r['percent_upper'])})")


def period_sentence(res) -> str:
    """'the latest 12 months (Jan 2025 to Dec 2025) against the previous 12 months (...)'."""
    lat, prev = res.latest, res.previous
    return (f"the latest 12 months ({_month_text(lat[0])} to {_month_text(lat[-1])}) against "
            f"{'the previous 12 months' if res.lag == 12 else 'the same months ' + str(res.lag // 12) + ' years earlier'}"
            f" ({_month_text(prev[0])} to {_month_text(prev[-1])})")


_period_sentence = period_sentence


def no_comparison_sentence(months_compared: int) -> str:
    """The summary's "not enough data" sentence when no month can be compared."""
    return not_enough_data(months_compared, 1, "months present in both the latest 12 months and an earlier year",
                           "a year-on-year change") + " See *Data quality* below."


#: The summary's groups: title and the test of a partnership headline row.
SUMMARY_GROUPS = (
    ("Went up, and the rise is unlikely to be chance", lambda p: (p["percent_change"] > 0) & p["unlikely_chance"]),
    ("Went down, and the fall is unlikely to be chance", lambda p: (p["percent_change"] < 0) & p["unlikely_chance"]),
    ("Went up, but within normal variation (could be chance)",
     lambda p: (p["percent_change"] > 0) & ~p["unlikely_chance"].astype(bool)),
    ("Went down, but within normal variation (could be chance)",
     lambda p: (p["percent_change"] < 0) & ~p["unlikely_chance"].astype(bool)),
    ("No change", lambda p: p["percent_change"] == 0),
)


def _summary_bullets(part: pd.DataFrame, n_all: int) -> list[str]:
    bullets = []
    for title, test in SUMMARY_GROUPS:
        sub = part[test(part).fillna(False).astype(bool)]
        if not len(sub):
            continue
        items = []
        for _, r in sub.iterrows():
            text = _change_phrase(r)
            if r["months_compared"] != n_all:
                text += f" [{r['months_compared']} months]"
            items.append(f"**{text}**" if r["priority"] or r["measure"] in (ALL_CRIME, ASB) else text)
        bullets.append(f"- **{title}:** " + "; ".join(items) + ".")
    return bullets


def summary_changes(res, part: pd.DataFrame) -> str:
    """The summary's year-on-year paragraph and bullets from the partnership's compared rows
    (``part``: headline rows with ``months_compared > 0``)."""
    n_all = int(part.loc[part["measure"] == ALL_CRIME, "months_compared"].iloc[0]) \
        if (part["measure"] == ALL_CRIME).any() else int(part["months_compared"].max())
    months = f"{n_all} matching month{'s' if n_all != 1 else ''} for all crime"
    if res.lag > 12:
        lines = [f"The previous 12 months are missing from the store, so this report compares "
                 f"{period_sentence(res)}, using only months present in both ({months}):"]
    else:
        lines = [f"Comparing {period_sentence(res)}, using only months present in both periods ({months}):"]
    order = {m: i for i, m in enumerate(res.measures)}
    part = part.assign(_o=part["measure"].map(order)).sort_values("_o")
    lines += _summary_bullets(part, n_all)
    n_fam = int(part["n_comparisons"].iloc[0]) if "n_comparisons" in part and len(part) else len(part)
    lines.append("\nPriority crime types, all crime and ASB are in bold. \"Unlikely to be chance\" means the "
                 "95% confidence interval of the change excludes no change and p < 0.05 "
                 f"{allowing_text(n_fam, MULTIPLICITY)}, so that a summary of {n_fam} crime types does not "
                 "show changes by chance alone. Each test allows for the way the crime type's counts vary "
                 "more than chance alone from month to month (estimated from the partnership's own months).")
    return "\n".join(lines)


def key_measures(priorities) -> list[str]:
    """All crime, ASB, then the priority types (the measures in bold and in the headlines)."""
    return [ALL_CRIME, ASB, *[x for x in priorities if x not in (ALL_CRIME, ASB)]]


def summary_long_run(res) -> str | None:
    """The summary's long-run sentence (None when no key measure has a count-model fit)."""
    if not len(res.long_run):
        return None
    lr = res.long_run.set_index("measure")
    bits = []
    for m in key_measures(res.priorities):
        if m in lr.index and pd.notna(lr.loc[m].get("annual_change", np.nan)):
            r = lr.loc[m]
            verdict = ("unlikely to be chance" if (r["change_lower"] > 0 or r["change_upper"] < 0)
                       else "could be chance")
            bits.append(f"{label(m)} {_pct(r['annual_change'])} a year "
                        f"({_pct(r['change_lower'])} to {_pct(r['change_upper'])}; {verdict})")
    if not bits:
        return None
    first, last = res.long_run["first_month"].dropna(), res.long_run["last_month"].dropna()
    span = (f" ({pd.Period(first.min()).strftime('%b %Y')} to {pd.Period(last.max()).strftime('%b %Y')})"
            if len(first) else "")
    return (f"**Long-run trend{span}**, from a count model allowing for seasonality and for months "
            "that vary more than chance alone: " + "; ".join(bits) + ".")


def summary_caveats(res) -> str | None:
    """Missing and excluded months, in one sentence (None when there are none)."""
    notes = []
    if res.missing:
        n = len(res.missing)
        notes.append(f"{n} month{'s' if n != 1 else ''} of the window {'are' if n != 1 else 'is'} missing from "
                     f"the published data ({_ranges(res.missing)}) and {'are' if n != 1 else 'is'} not filled in")
    ex = {m: v for m, v in res.excluded.items() if v}
    if ex:
        notes.append("flagged months left out of every comparison and model: " + "; ".join(
            f"{label(m)} {_ranges(v)}" for m, v in ex.items()))
    if not notes:
        return None
    return "**Data caveats:** " + "; ".join(notes) + ". Details under *Data quality*."


# ============================================================================ data quality
NO_FLAGS = ("No month was flagged as an extract artefact or a sudden drop in the force file(s), the "
            "partnership or its districts.")

FLAGGED_TABLE_CAPTION = ("Months flagged by the data-quality checks (extract artefacts and sudden drops), by area "
                         "and crime type.")
FLAGGED_TABLE_NOTE = ("Force file rows include records with no location and records the force recorded in "
                      "neighbouring areas. Usual level: median of the other months (artefacts) or of nearby "
                      "months (drops). A month flagged for exclusion in any area is excluded for that crime "
                      "type in every area (Excluded = yes), so that areas are compared over the same months.")


def excluded_sentence(ex: pd.DataFrame) -> str | None:
    """Why each excluded measure's months were left out (``ex``: the flag rows with ``exclude``)."""
    if not len(ex):
        return None
    parts = []
    for measure, g in ex.groupby("series", sort=False):
        months = sorted({pd.Period(m, freq="M") for m in g["month"]})
        art = g[g["flag"] == "extract_artefact"]
        why = []
        if len(art):
            why.append("a capped extract in " + _list(sorted(set(art["area"]))) + ": exactly " + "; ".join(
                f"{int(r.n):,} rows in {pd.Period(r.month, freq='M').strftime('%b %Y')}"
                for r in art.itertuples()) + f" against a usual {art['reference'].median():,.0f}")
        drops = g[g["flag"] == "sudden_drop"]
        if len(drops):
            why.append("far below the usual level in " + _list(sorted(set(drops["area"]))))
        parts.append(f"**{label(measure)}** in {_ranges(months)} ({'; '.join(why)})")
    return ("**Flagged and excluded.** These months are left out of every comparison and model below, "
            "for every area, and are never interpolated: " + "; ".join(parts) + ".")


def kept_sentence(kept: pd.DataFrame) -> str | None:
    """The flagged months that were kept (an unusually low month that could be seasonal)."""
    if not len(kept):
        return None
    return ("**Flagged for checking but kept** (an unusually low month that could be seasonal or "
            "chance): " + "; ".join(
                f"{label(r.series)} in {r.area}, {pd.Period(r.month, freq='M').strftime('%b %Y')} "
                f"({int(r.n):,} against a usual {r.reference:,.0f})" for r in kept.itertuples()) + ".")


# ============================================================================ headline table
def headline_intro(res) -> str:
    """What the year-on-year tables compare and how."""
    prev_text = ("the previous 12 months" if res.lag == 12 else f"the same months {res.lag // 12} years earlier")
    gap_text = ("" if res.lag == 12 else
                f" The {res.lag // 12 - 1} year{'s' if res.lag > 24 else ''} in between "
                f"{'are' if res.lag > 24 else 'is'} missing from the store, so this is the most recent like-for-like "
                "comparison possible; a change over several years is not a year-on-year change.")
    return (
        f"The latest 12 months ({_month_text(res.latest[0])} to {_month_text(res.latest[-1])}) are compared with "
        f"{prev_text} ({_month_text(res.previous[0])} to {_month_text(res.previous[-1])}).{gap_text} "
        "Only months present, "
        "and not flagged, in **both** periods are counted, so a missing or excluded month cannot make a change "
        "appear. Recorded crime counts vary more than chance alone (a Poisson process) would make them, and "
        "neighbouring months are alike, so the % change, its 95% confidence interval and p come from a "
        "comparison of two counts that allows for that extra variation, estimated for each crime type and "
        "area from its own months (quasi-Poisson; the exact test for two Poisson counts where no extra "
        "variation is found). Each table is one family of comparisons: the verdict uses the p-value adjusted "
        "for the number of comparisons in the table (Holm's method), shown beside the unadjusted p. The rate "
        "per 1,000 residents a year is for the latest period's matching months (exact Poisson limits below 10 "
        "records, Byar's method above)."
    )


def no_months_sentence(n_months: int, purpose: str) -> str | None:
    """The guard for a section with no covered month (None when there is at least one)."""
    return not_enough_data(n_months, 1, "months in the store", purpose)


def months_compared_sentence(res) -> str:
    """Which months each of the partnership's comparisons used (one sentence per distinct match)."""
    sentences: dict[str, list[str]] = {}
    for m in res.measures:
        mm = res.matches.get((res.partnership, m))
        if mm is not None:
            sentences.setdefault(mm.sentence, []).append(label(m))
    if len(sentences) == 1:
        return "**Months compared:** " + next(iter(sentences))
    return "**Months compared:** " + " ".join(
        f"For {_list(v)}: {cap(k[0].lower() + k[1:])}" for k, v in sentences.items())


def residents_sentence(population) -> str:
    if not population:
        return "The store has no population for this partnership, so rates per 1,000 residents are not shown."
    return f"Residents: {population:,.0f} (ONS mid-year estimate or Census 2021 where no estimate is in the store)."


def headline_change_sentence(res, r) -> str:
    """The headline figure's sentence for one partnership row."""
    return (f"{cap(label(r['measure']))} in {res.partnership}, latest 12 months against "
            f"{'the previous 12' if res.lag == 12 else 'the same months of ' + str(res.previous[0].year)}"
            f" ({r['months_compared']} matching months): "
            f"{r['sentence'][0].lower() + r['sentence'][1:]}")


def partnership_table_note(n_comparisons: int) -> str:
    return ("Months: matching months compared. Latest, Comparison: records in those months. % change with "
            "its 95% CI and p (comparison of two counts allowing for each crime type's extra variation; "
            "exact Poisson test where none is found); p (adjusted): Holm's adjustment over the "
            f"{n_comparisons} comparisons in "
            "this table, on which the verdict rests. Rate per 1,000 residents a "
            "year in the latest period, 95% CI. All crime excludes anti-social behaviour (ASB), which is "
            "recorded as incidents, not crimes.")


def areas_intro(res) -> str:
    return ("The same comparison for the force area, the partnership and each of its districts (the "
            "force / CSP / district comparison of the monthly performance report), over the same months. "
            "Force-area counts are records located in the force area's LSOAs. " + res.national_note +
            " " + res.county_note)


def areas_in_brief(res, key_rows: pd.DataFrame, key: list[str], n_key: int) -> str | None:
    """The bullet list under the key-measures table: each area's % change, † where unlikely chance."""
    sents = []
    for m in key:
        g = key_rows[(key_rows["measure"] == m) & (key_rows["months_compared"] > 0)]
        if len(g):
            sents.append(f"{cap(label(m))}: " + ", ".join(
                f"{'whole partnership' if r['area'] == res.partnership else r['area']} "
                f"{_pct(r['percent_change'])}" + ("†" if r["unlikely_chance"] else "")
                for _, r in g.iterrows()))
    if not sents:
        return None
    return (f"In brief († = unlikely to be chance {allowing_text(n_key, MULTIPLICITY)} in the table "
            "above):\n\n" + "\n".join(f"- {s}" for s in sents))


# ============================================================================ priority sections
PRIORITY_INTRO = ("For each of the partnership's priority types: the monthly count with the long-run trend, a "
                  "seasonal decomposition where the series is long enough, and a control chart that marks months "
                  "showing special-cause variation. Grey bands are months with no published data; red crosses are "
                  "flagged months, left out of every calculation.")


def stl_not_shown(longest: list, needed: int) -> str:
    """The "not enough data" sentence for the seasonal decomposition, with the longest stretch."""
    where = f" The longest stretch without a gap or flagged month is {_ranges(longest)}." if longest else ""
    return (f"*Seasonal decomposition:* " + not_enough_data(len(longest), needed, "consecutive usable months",
                                                             "a seasonal decomposition (STL)")
            + where + " Missing months are not filled in. The count model below estimates the seasonal pattern "
            "despite the gaps.")


def _month_name(k: int) -> str:
    return pd.Timestamp(2000, k, 1).strftime("%B")


def stl_sentence(run: list, n_usable: int, summary: dict) -> str:
    """The seasonal decomposition in words (``summary`` from :func:`compute.seasonal_summary`)."""
    return (f"*Seasonal decomposition* ({len(run)} consecutive months, {_ranges(run)}): the seasonal pattern "
            f"peaks in {_month_name(summary['peak'])} (about {summary['peak_value']:+,.0f} records against the "
            f"trend) and is lowest in {_month_name(summary['low'])} ({summary['low_value']:+,.0f}). Strength of "
            f"seasonality {summary['seasonal_strength']:.2f} and of trend {summary['trend_strength']:.2f} "
            "(0 = none, 1 = dominant). " + ("" if len(run) == n_usable else
                                              "Months outside this stretch are left out: STL cannot bridge gaps."))


def stl_title(partnership: str, measure: str, run: list) -> str:
    return (f"{partnership}: {label(measure)}, seasonal decomposition (STL), "
            f"{_month_text(run[0])} to {_month_text(run[-1])}")


_RULE_TEXT = {
    "outside_limits": "a point outside the process limits",
    "shift": "a run of 7 or more months on one side of the mean (shift)",
    "trend": "7 or more months each higher, or each lower, than the one before (trend)",
    "two_of_three": "two of three months close to a limit (near the limit)",
}


def _run_rule_groups(chart: pd.DataFrame, rule: str, months: list) -> list[str]:
    from .periods import runs as _runs

    idx = chart.index
    groups = []
    for run in _runs(months):
        seg = chart.loc[[m for m in idx if pd.Period(m, freq="M") in set(run)]]
        if rule == "trend":
            d = "rising" if seg["value"].iloc[-1] > seg["value"].iloc[0] else "falling"
        else:
            d = "above the mean" if (seg["value"] > seg["centre"]).mean() > 0.5 else "below the mean"
        groups.append(f"{_ranges(run)} ({d})")
    return groups


def rule_sentences(chart: pd.DataFrame) -> list[str]:
    """One sentence per Making Data Count rule that fired, naming the months."""
    out = []
    idx = chart.index
    for rule, text in _RULE_TEXT.items():
        mask = chart[rule].to_numpy(dtype=bool)
        if not mask.any():
            continue
        months = [pd.Period(m, freq="M") for m in idx[mask]]
        above = chart["value"].to_numpy()[mask] > chart["centre"].to_numpy()[mask]
        if rule in ("shift", "trend", "two_of_three"):
            out.append(f"{cap(text)}: {'; '.join(_run_rule_groups(chart, rule, months))}.")
        else:
            hi = [m for m, a in zip(months, above) if a]
            lo = [m for m, a in zip(months, above) if not a]
            items = ([f"above the upper limit in {_ranges(hi)}"] if hi else []) + \
                    ([f"below the lower limit in {_ranges(lo)}"] if lo else [])
            out.append(f"{cap(text)}: {'; '.join(items)}.")
    return out


def chart_span(window: dict) -> str:
    """Which months the control chart shows (``window`` from :func:`compute.chart_window`)."""
    months, run = window["months"], window["run"]
    if window["across_gaps"]:
        return (f"all {len(months)} usable months ({_ranges(months)}); the latest stretch without gaps is only "
                f"{len(run)} months, so the runs rules are read across the gaps")
    span = f"the latest {len(run)} consecutive usable months ({_ranges(run)})"
    if window["capped"]:
        span += f" (at most {CHART_MONTHS} months, so that the limits describe the current process)"
    return span


def control_chart_title(partnership: str, measure: str, kind: str) -> str:
    return f"{partnership}: {label(measure)}, control chart ({kind.split(' (')[0]})"


def control_chart_text(kind: str, span: str, poisson: pd.DataFrame | None, chart: pd.DataFrame) -> str:
    """The control chart in words: which chart, why (when the Poisson limits were set aside), the signals."""
    text = (f"*Control chart:* {'an' if kind.startswith('XmR') else 'a'} {kind} of {span}, with the NHS "
            "*Making Data Count* rules (a fall is shown as an improvement). ")
    if poisson is not None:
        share_out = float(poisson["outside_limits"].mean())
        text += (f"The Poisson ({poisson.attrs['kind']} chart) limits were tried first, but {share_out:.0%} of months "
                 f"({int(poisson['outside_limits'].sum())} of {len(poisson)}) fall outside them: the counts vary "
                 "much more from month to month than a steady Poisson process would (seasonality and genuine "
                 "fluctuation), so on that chart ordinary months such as the usual seasonal highs and lows look "
                 "like special causes. Following *Making Data Count*, the XmR chart, whose limits come from the "
                 "series' own month-to-month variation, is used instead, and its verdicts are the ones given here. "
                 "It still reads a strong seasonal pattern as runs above or below the mean, so a single signal "
                 "in a usually high or low month deserves a look at the same month in earlier years. ")
    n_sc = int(chart["special_cause"].sum())
    if n_sc == 0:
        return text + "No month shows special-cause variation: the series is within normal variation."
    return (text + f"{n_sc} of {len(chart)} months show special-cause variation:\n\n" +
            "\n".join(f"- {s}" for s in rule_sentences(chart)))


def same_month_text(res, measure: str, month: pd.Period, years: int = 2) -> str:
    """The month's count against the same calendar month in up to ``years`` earlier years
    (usable months only): the seasonal yardstick a control chart lacks."""
    usable = set(res.usable(measure))
    if month not in usable:
        return ""
    s = res.series[measure]
    earlier = [month - 12 * k for k in range(1, years + 1) if (month - 12 * k) in usable]
    if not earlier:
        return ""
    return (f" Against the same month in earlier years (the seasonal yardstick): {int(s[month]):,} records in "
            f"{_month_text(month)}, against " + _list([f"{int(s[m]):,} in {_month_text(m)}" for m in earlier]) + ".")


_same_month_text = same_month_text


def latest_month_text(res, measure: str, chart: pd.DataFrame, xmr: bool) -> str:
    """The latest month's verdict on the chart of record, with the seasonal yardstick."""
    last = chart.iloc[-1]
    latest = pd.Period(chart.index[-1], freq="M")
    return (f"Latest month ({_month_text(latest)}), on the "
            f"{'XmR' if xmr else 'Poisson'} chart: {last['variation'].lower()}."
            + same_month_text(res, measure, latest) + (
                f" With only {len(chart)} months the limits are provisional (Making Data Count advises at least "
                "15 to 20)." if len(chart) < 15 else ""))


# ============================================================================ long-run trend
def long_run_intro(lr: pd.DataFrame) -> str:
    span = ""
    if "first_month" in lr and lr["first_month"].notna().any():
        span = (f" from {pd.Period(lr['first_month'].dropna().min()).strftime('%B %Y')} to "
                f"{pd.Period(lr['last_month'].dropna().max()).strftime('%B %Y')}")
    return (f"The annual % change{span} comes from a negative binomial regression of the monthly counts with a "
            "term for each calendar month (so seasonality is not mistaken for trend), fitted to the months "
            "present; gaps are allowed and flagged months are left out. The Mann-Kendall test (seasonal "
            "Kendall, comparing January with January and so on, where each calendar month appears in at least "
            "two years) is a check that does not assume a straight-line trend. Its estimate, Sen's slope, is "
            "the change in the **monthly** count each year (records per month, per year): a slope of 5 means "
            "each month has about 5 more records than the same month a year before, about 60 more a year in "
            "total.")


def long_run_not_shown(lr: pd.DataFrame) -> str | None:
    """The guard for the long-run section: None when at least one measure has usable months."""
    available = int(lr["months_used"].max()) if len(lr) and "months_used" in lr else 0
    return not_enough_data(available, 1, "usable months", "a long-run trend")


def long_run_caption(partnership: str) -> str:
    return f"{partnership}: annual % change (count model) and Mann-Kendall trend test, by crime type."


LONG_RUN_NOTE = ("Count model: negative binomial GLM with month-of-year terms, dispersion by the Pearson "
                 "moment estimator, t intervals. Mann-Kendall: seasonal Kendall test where at least six calendar "
                 "months appear in two or more years, otherwise the plain test (which seasonality can mislead); "
                 "verdict at the 5% level. Sen's slope is the change in the monthly count, in records per "
                 "month, each year (the plain test's slope per month is multiplied by 12 to give the same unit); "
                 "times 12 again, it is the change in the annual total.")


def _long_run_bullet(m: str, r) -> str | None:
    if isinstance(r.get("model_sentence"), str):
        s = r["model_sentence"]
        if isinstance(r.get("mk_sentence"), str):
            s += " " + r["mk_sentence"]
        return s
    if isinstance(r.get("model_note"), str) or isinstance(r.get("mk_sentence"), str):
        note = r.get("model_note") if isinstance(r.get("model_note"), str) else "too few months"
        return (f"{cap(label(m))}: no trend model ({note})."
                + (f" {r['mk_sentence']}" if isinstance(r.get("mk_sentence"), str) else ""))
    return None


def long_run_bullets(lr: pd.DataFrame, priorities) -> str | None:
    """One bullet per key measure: the count model's sentence and the Mann-Kendall check."""
    sents = []
    for m in key_measures(priorities):
        r = lr[lr["measure"] == m]
        if len(r):
            s = _long_run_bullet(m, r.iloc[0])
            if s is not None:
                sents.append(s)
    return "\n".join(f"- {s}" for s in sents) if sents else None


# ============================================================================ hot spots
HOT_SPOTS_INTRO = (
    f"Where records are concentrated: the top {TOP_N} LSOAs (neighbourhoods of about 1,500 residents) and "
    f"the top {TOP_N} street locations (the anonymised \"on or near\" points of data.police.uk, within their "
    "LSOA), in the latest period's matching months against the comparison period's, and how "
    "concentrated records are across all the partnership's LSOAs, including those with no records. "
    "Places at the top of the earlier list tend to fall back next time by chance alone (regression to "
    "the mean), so a fall there is weak evidence on its own; the ratio's interval shows whether a "
    "change at one place is larger than chance.")

CONCENTRATION_NOTE = ("Top 5% and 10% are rounded up to whole LSOAs. The shares have no interval: they "
                      "describe this partnership's own LSOAs, all of them, not a sample. The Gini's interval "
                      "comes from resampling LSOAs, so it says how much the Gini would vary over other sets "
                      "of LSOAs like these, not how uncertain this year's figure is.")


def hot_spots_not_shown(months_matched: int) -> str | None:
    return not_enough_data(months_matched, 1, "matching months", "a hot-spot comparison")


def hot_spot_periods(hs: dict) -> str:
    return (f"Latest period: {_ranges(hs['months_latest'])}; comparison period: "
            f"{_ranges(hs['months_previous'])}. {hs['vintage_note']}")


def concentration_caption(measure: str) -> str:
    return (f"{cap(label(measure))}: concentration across LSOAs (shares of records in the busiest "
            "whole LSOAs, in %; generalised Gini 0-1 with a 95% bootstrap interval).")


def concentration_sentences(c: pd.DataFrame) -> str:
    """Plain-English concentration for one period: top shares in whole LSOAs (no interval),
    the Gini with what its bootstrap interval means."""
    out = []
    for _, r in c.iterrows():
        if r["measure"] == "gini":
            out.append(f"The Gini coefficient of records across {int(r['n_places']):,} LSOAs is {r['value']:.2f} "
                       "(0 = spread as evenly as possible, 1 = all in one place); resampling LSOAs gives a 95% "
                       f"interval of {r['lower']:.2f} to {r['upper']:.2f}, the spread expected over other sets of "
                       "LSOAs like these rather than the uncertainty of this figure.")
        else:
            frac = r["measure"].split("_")[-1]
            k, n = int(r["n_top_places"]), int(r["n_places"])
            rounded = "" if abs(float(frac.rstrip("%")) / 100 * n - k) < 1e-9 else ", rounded up"
            out.append(f"The busiest {k} of {n:,} LSOAs (the top {frac}{rounded}) had {r['value'] * 100:.1f}% of "
                       "records.")
    return " ".join(out)


def top_lsoas_caption(measure: str) -> str:
    return (f"{cap(label(measure))}: top {TOP_N} LSOAs in either period (ratio = latest / previous, "
            "exact 95% CI).")


def top_streets_caption(measure: str) -> str:
    return f"{cap(label(measure))}: top {TOP_N} street locations in either period."


def entered_left(t: pd.DataFrame) -> str:
    """Places that entered and left the top-N list."""
    if not len(t):
        return ""
    ent = [str(n) for n in t.loc[t["entered"], "name"].fillna(t["place"])]
    left = [str(n) for n in t.loc[t["left"], "name"].fillna(t["place"])]
    parts = [f"Entered the top {TOP_N}: {_list(ent)}." if ent else f"No new entry in the top {TOP_N}.",
             f"Left the top {TOP_N}: {_list(left)}." if left else ""]
    return " ".join(p for p in parts if p)


_entered_left = entered_left


def street_points_note(ts: pd.DataFrame) -> str:
    """Street locations with no records in the other period: usually a moved map point."""
    new = ts[ts["entered"] & (ts["count_previous"] == 0)]
    gone = ts[ts["left"] & (ts["count_current"] == 0)]
    k = len(new) + len(gone)
    if not k:
        return ""
    return (f" {k} of these location{'s' if k != 1 else ''} "
            "had no records at all in the other period, which often means data.police.uk added, moved "
            "or renamed the anonymised map point rather than a real change at that place.")
