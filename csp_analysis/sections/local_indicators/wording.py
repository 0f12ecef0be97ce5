"""The local-indicators report's words: sentences, notes and captions built from computed results.

Strings only (no ``ctx``, no matplotlib). Numbers are written with
:mod:`csp_analysis.formatting` (``format_count``, ``format_percent``,
``format_p_value``, ``capitalise``, ``join_and``); the suppression mark and the
withheld-note text come from :mod:`.common`.
"""
from __future__ import annotations

import math

import pandas as pd

from ...formatting import capitalise, format_count, format_p_value, format_percent, join_and
from .common import (
    CONFIDENCE,
    MARK,
    WITHHELD,
    discrepancy,
    group_part,
    lower_first,
    number_word,
    period_text,
    period_type_of,
    suppressed_sentence,
)
from .compute import LocalResult, pooled_share, published_dp


def p_cell(p) -> str:
    """A p-value for a table cell: empty when missing, ``<0.001`` below 0.001, else three decimals."""
    return format_p_value(p, style="cell")

def fmt_value(value, unit: str) -> str:
    """Format a published figure by its unit (``3,133``; ``27.2%``; ``+11.3%``; ``£46,010``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if unit == "percent":
        return f"{v:g}%"
    if unit == "percent_change":
        return f"{v:+g}%"
    if unit == "gbp":
        return f"£{v:,.0f}" if v.is_integer() else f"£{v:,.2f}"
    if unit == "ratio":
        return f"{v:g} times"
    if unit in ("mean", "rate"):
        return f"{v:,.1f}" if not v.is_integer() else f"{int(v):,}"
    return format_count(v)

# --------------------------------------------------------------------------- sentences of the analysis tables


def share_change_sentences(shares: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Word each change in share on its Holm-adjusted verdict (within the breakdown)."""
    if shares.empty:
        return shares
    out = shares.copy()
    alpha = 1 - confidence
    key = ["indicator", "previous_period", "current_period"]
    for _, idx in out.groupby(key, sort=False).groups.items():
        ok = [i for i in idx if pd.notna(out.at[i, "p_value"])]
        for i in ok:
            out.at[i, "sentence"] = _share_change_sentence(out.loc[i], len(ok), alpha, confidence)
    return out


def _share_change_sentence(r, k: int, alpha: float, confidence: float) -> str:
    d, p, ph = r["difference_points"], r["p_value"], r["p_value_holm"]
    verb = "rose" if d > 0 else "fell" if d < 0 else "was unchanged"
    verdict = "unlikely to be chance" if ph < alpha else "could be chance"
    test = f"Fisher's exact test {format_p_value(p)}"
    if k > 1:
        test += f" ({format_p_value(ph)} after Holm adjustment for the {number_word(k)} groups)"
    implied = " (counts derived from the published percentages)" if r["implied_numerator"] else ""
    pp = period_text(r["previous_period"], r["previous_period_type"])
    cp = period_text(r["current_period"], r["current_period_type"])
    return (f"{r['indicator_label']}{group_part(r['group'])}: the share {verb} from "
            f"{format_percent(r['previous_percent'])} of {format_count(r['previous_denominator'])} in {pp} to "
            f"{format_percent(r['current_percent'])} of {format_count(r['current_denominator'])} in {cp}{implied}, "
            f"a change of {d:+.1f} percentage points ({confidence:.0%} CI {r['lower']:+.1f} to {r['upper']:+.1f}); "
            f"{test}: {verdict}.")


def published_check_sentences(pc: pd.DataFrame) -> pd.DataFrame:
    """The sentence of each published percentage change checked against the counts."""
    if pc.empty:
        return pc
    pc = pc.copy()
    pc["sentence"] = [_published_check_sentence(r) for _, r in pc.iterrows()]
    return pc


def _published_check_sentence(r) -> str:
    published, computed = r["published_percent_change"], r["computed_percent_change"]
    dp = published_dp(published)
    counts = f"{format_count(r['previous'])} to {format_count(r['current'])}"
    return (f"The published change in {lower_first(r['indicator_label'])}, {published:+g}%, is "
            + (f"reproduced by the computation from the counts ({counts}: {computed:+.{max(dp, 1)}f}%)."
               if r["agrees"] else
               f"not what the counts give ({counts}: {computed:+.{max(dp, 1)}f}%); the computed figure is used."))


# --------------------------------------------------------------------------- the summary's findings


def _finding(found: list, priority, key, label, value, sentence, **extra):
    found.append({"priority": priority, "key": key, "label": label, "value": value, "sentence": sentence, **extra})


def findings(res: LocalResult) -> list[dict]:
    """The summary's key findings, in order of interest (priority, then the order found)."""
    found: list[dict] = []
    _change_findings(res, found)
    for ind, (t, cur, prev) in res.monthly_yoy.items():
        _finding(found, 2, f"{ind}__year_on_year", f"{t['indicator_label'].iloc[0]}: months compared",
                 int(t["percent_change"].notna().sum()), monthly_summary(t, cur, prev))
    for ind, t in res.proportions.items():
        if "in_chart" in t and t["in_chart"].any():
            _finding(found, 2, f"{ind}__share", f"{t['indicator_label'].iloc[0]}: share",
                     pooled_share(t)["percent"], p_chart_summary(t))
    for ind, t in res.comparisons.items():
        _finding(found, 3, f"{ind}__comparators", f"{t['indicator_label'].iloc[0]}: comparisons",
                 int((t["p_value_holm"] < 1 - CONFIDENCE).sum()), comparison_summary(t))
    for ba in res.before_after:
        t = ba.get("table")
        if t is None:
            continue
        r = t.iloc[0]
        _finding(found, 3, f"{ba['indicator']}__before_after", f"{r['indicator_label']}: before and after",
                 r["difference"], f"{r['sentence']} {caveat_short(r)}")
    if not res.share_changes.empty:
        for _, r in res.share_changes.iterrows():
            if r["suppressed"] or pd.isna(r["p_value"]):
                continue
            if r["group"] is None:
                _finding(found, 4, f"{r['indicator']}__share_change", f"{r['indicator_label']}: change in share",
                         r["difference_points"], r["sentence"])
    if not res.discrepancies.empty:
        n = len(res.discrepancies)
        _finding(found, 5, "local_data__discrepancies", "Inconsistencies in the source", n,
                 f"The source document has {n} inconsistenc{'y' if n == 1 else 'ies'} (listed under Data notes); "
                 "the figures are used as published and the affected figures are left out of the statistics that "
                 "they would distort.")
    found.sort(key=lambda f: f["priority"])
    return found


def _change_findings(res: LocalResult, found: list) -> None:
    """Findings of priority 1: each ungrouped count change (with the published check when it agrees)."""
    if res.changes.empty:
        return
    checks = res.published_checks.set_index("indicator") if not res.published_checks.empty else None
    for _, r in res.changes[res.changes["group"].isna()].iterrows():
        if pd.isna(r["percent_change"]):
            continue
        s = r["sentence"]
        if checks is not None and r["indicator"] in checks.index and checks.loc[r["indicator"], "agrees"]:
            s += f" This reproduces the published {checks.loc[r['indicator'], 'published_percent_change']:+g}%."
        _finding(found, 1, f"{r['indicator']}__change", f"{r['indicator_label']}: change", r["percent_change"], s,
                 lower=r["percent_lower"], upper=r["percent_upper"])


def caveat_short(r) -> str:
    min_points = r.get("min_points", 8)
    if r["n_before"] < min_points or r["n_after"] < min_points:
        n = int(r["n_before"] + r["n_after"])
        return f"With only {number_word(n)} points, the data cannot separate the change from an underlying trend."
    return "A before/after comparison assumes no underlying trend."

# --------------------------------------------------------------------------- summaries of a table


def monthly_summary(t: pd.DataFrame, cur: str, prev: str) -> str:
    """One sentence on a month-by-month comparison (snapshot counts are never added up)."""
    label = t["indicator_label"].iloc[0]
    both = t[t["percent_change"].notna()]
    n = len(both)
    if n == 0:
        return f"{label}: no month is published (unsuppressed) in both {prev} and {cur}."
    p = both["p_value_holm"] if "p_value_holm" in both else both["p_value"]
    sig = (p < 1 - CONFIDENCE) & ((both["lower"] > 1) | (both["upper"] < 1))
    down = both[sig & (both["percent_change"] < 0)]
    up = both[sig & (both["percent_change"] > 0)]
    parts = []
    for part, word in ((down, "lower"), (up, "higher")):
        if part.empty:
            continue
        lo, hi = part["percent_change"].abs().min(), part["percent_change"].abs().max()
        size = f"by {lo:.0f}%" if round(lo) == round(hi) else f"by {lo:.0f}% to {hi:.0f}%"
        which = (f"in all {number_word(n)} months" if len(part) == n else
                 f"in {number_word(len(part))} month{'s' if len(part) != 1 else ''} "
                 f"({join_and(part['month'].tolist())})"
                 if len(part) <= 6 else f"in {number_word(len(part))} months")
        parts.append(f"{word} in {cur} {which}, {size}, more than chance would explain (after Holm adjustment "
                     f"for the {number_word(n)} months)")
    rest = n - len(down) - len(up)
    if rest:
        parts.append(f"in the other {number_word(rest)} the change could be chance" if parts else
                     f"in all {number_word(rest)} the change could be chance")
    mean_prev, mean_cur = both["previous"].mean(), both["current"].mean()
    return (f"{label}: of the {number_word(n)} months published for both {prev} and {cur}, the count was "
            + "; ".join(parts) + f". Averaged over these months: {format_count(round(mean_prev))} in {prev} and "
            f"{format_count(round(mean_cur))} in {cur} (monthly snapshots, compared month by month, never added up).")

def excluded_months(t: pd.DataFrame, df: pd.DataFrame | None = None) -> list[str]:
    """One sentence per month left out of a p-chart, with the reason (and the source's discrepancy note)."""
    out = []
    monthly = t[t["period_type"] == "month"]
    for _, r in monthly[~monthly["in_chart"].fillna(False).astype(bool)].iterrows():
        when = period_text(r["period"], "month")
        if r["suppressed"]:
            out.append(f"{when} is left out: its count is suppressed (a count of children below the threshold).")
            continue
        why = "no denominator is recorded"
        note = None
        if df is not None:
            src = df[(df["indicator"] == r["indicator"]) & (df["period"] == r["period"])
                     & (df["group"].fillna("") == (r["group"] or "")) & df["comparator"].isna()]
            if not src.empty:
                note = discrepancy(src["source"].iloc[0])
        if note:
            why += f", because the published figures are inconsistent (source note: {note})"
        out.append(f"{when} is left out of the chart and the pooled share: {why}.")
    return out

def p_chart_summary(t: pd.DataFrame, df: pd.DataFrame | None = None) -> str:
    label = t["indicator_label"].iloc[0]
    ps = pooled_share(t)
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    first, last = period_text(inc["period"].iloc[0], "month"), period_text(inc["period"].iloc[-1], "month")
    left = t[(t["period_type"] == "month") & ~t["in_chart"].fillna(False).astype(bool)]
    left_txt = (f", {join_and([period_text(p, 'month') for p in left['period']])} left out"
                if not left.empty else "")
    n_sc = int(inc["chart_special_cause"].fillna(False).astype(bool).sum()) if "chart_special_cause" in inc else 0
    chart_txt = ("no month shows special-cause variation on the p-chart: month-to-month differences are within "
                 "what chance would produce" if n_sc == 0 else
                 f"{number_word(n_sc)} month{'s' if n_sc != 1 else ''} show special-cause variation on the p-chart")
    return (f"{label}: {format_count(ps['x'])} of {format_count(ps['n'])} over the {number_word(ps['months'])} "
            f"months with a denominator ({first} to {last}{left_txt}), {format_percent(ps['percent'])} "
            f"({CONFIDENCE:.0%} CI {format_percent(ps['lower'])} to "
            f"{format_percent(ps['upper'])}); {chart_txt}.")

def latest_point_sentence(t: pd.DataFrame) -> str:
    """The latest month of a p-chart against its process limits."""
    inc = t[t["in_chart"].fillna(False).astype(bool)].sort_values("period")
    if inc.empty:
        return ""
    r = inc.iloc[-1]
    where = ("within" if r["chart_lower"] <= r["chart_value"] <= r["chart_upper"] else "outside")
    return (f"Latest month ({period_text(r['period'], 'month')}): {format_percent(r['chart_value'])}, {where} "
            "the process limits "
            f"for that month ({format_percent(r['chart_lower'])} to {format_percent(r['chart_upper'])}); "
            f"{str(r['chart_variation']).lower()}.")

def comparison_summary(t: pd.DataFrame) -> str:
    """One sentence on an indicator's comparisons, naming each group's share and the comparators'."""
    label = t["indicator_label"].iloc[0]
    ok = t[~t["suppressed"] & t["p_value_holm"].notna()]
    k = len(ok)
    alpha = 1 - CONFIDENCE
    sig = ok[ok["p_value_holm"] < alpha]
    comps = list(dict.fromkeys(t["comparator"]))
    cper = list(dict.fromkeys(t["comparator_period"]))
    per = t["period"].iloc[0]
    head = f"{label}, {per}, against {join_and(comps)} ({join_and(cper)}): "
    if k == 0:
        return head + "every comparison is suppressed or has no denominator, so none can be tested."
    if k == 1:
        r = ok.iloc[0]
        verdict = "unlikely to be chance" if r["p_value"] < alpha else "could be chance"
        return (head + f"{format_percent(r['local_percent'])} of {format_count(r['denominator'])} against "
                f"{format_percent(r['comparator_percent'])}, "
                f"a difference of {r['difference_points']:+.1f} percentage points that {verdict} "
                f"({format_p_value(r['p_value'])}).")
    parts = []
    for g, gg in ok.groupby(ok["group"].fillna(""), sort=False):
        r0 = gg.iloc[0]
        local = f"{format_percent(r0['local_percent'])} of {format_count(r0['denominator'])}"
        if not r0["implied_numerator"]:
            local += f" ({format_count(r0['numerator'])})"
        vs = ", ".join(f"{format_percent(r['comparator_percent'])} for {r['comparator']}"
                       f"{' (differs)' if r['p_value_holm'] < alpha else ''}" for _, r in gg.iterrows())
        parts.append(f"{g or 'all'}: {local} against {vs}")
    n_sig = len(sig)
    lead = (f"{capitalise(number_word(n_sig))} of the {number_word(k)} comparisons differ" if n_sig else
            f"None of the {number_word(k)} comparisons differs")
    return (head + f"{lead} by more than chance would explain after Holm adjustment, marked (differs). "
            + "; ".join(parts) + ".")

def monthly_series_summary(s: pd.DataFrame, label: str, threshold: int) -> str:
    """The sentence under a monthly series: the average and the range over **every**
    month (suppression applies to what is shown, never to what is computed).

    A suppressed month's count is shown as "fewer than ``threshold``" where it is the
    lowest or highest month. The average is withheld when it would let a reader work
    out the suppressed counts: exactly one month suppressed (average x months minus the
    shown months gives it), or the suppressed months' total within one of its least or
    greatest possible value (all 1s, or all ``threshold - 1``, give or take one).

    Parameters
    ----------
    s : DataFrame
        One row per month, in order: ``period``, ``value``, ``suppressed``.
    """
    vals = pd.to_numeric(s["value"], errors="coerce")
    supp = s["suppressed"].fillna(False).astype(bool).to_numpy()
    ok = vals.notna().to_numpy()
    months = [period_text(p, "month") for p in s["period"]]
    n = int(ok.sum())
    if n == 0:
        return f"{label}: no month has a figure."

    def shown(i) -> str:
        return f"fewer than {threshold}" if supp[i] else format_count(vals.iloc[i])

    v = vals[ok]
    i_lo, i_hi = s.index.get_loc(v.idxmin()), s.index.get_loc(v.idxmax())
    sv = vals[supp & ok]
    k, tot = len(sv), float(sv.sum())
    # the suppressed months' total (average x months minus the shown months) pins their counts down when
    # one month is suppressed, or the total is within one of its least (all 1s) or greatest (all threshold-1)
    discloses = k == 1 or (k > 1 and (tot <= k + 1 or tot >= k * (threshold - 1) - 1))
    if discloses:
        avg = (f"the average is withheld, as it would reveal a count below {threshold} (the months with "
               f"such counts are shown as [c])")
        text = f"{label} over the {number_word(n)} months from {months[0]} to {months[-1]}: {avg}"
    else:
        text = (f"{label}: {format_count(round(float(v.mean()), 1))} a month on average over the "
                f"{number_word(n)} months from "
                f"{months[0]} to {months[-1]}")
    text += (f"; from {shown(i_lo)} ({period_text(s['period'].iloc[i_lo], 'month')}) to {shown(i_hi)} "
             f"({period_text(s['period'].iloc[i_hi], 'month')}).")
    if n < len(s):
        text += f" {number_word(len(s) - n).capitalize()} month{'s' if len(s) - n != 1 else ''} without a figure."
    return text

def condensed_sentences(t: pd.DataFrame, threshold: int) -> list[str]:
    """The rows' sentences, with the suppressed rows of each indicator gathered into one sentence.

    A change whose count is suppressed in one period only keeps its own sentence
    (which gives the other count).
    """
    if "suppressed" not in t:
        return list(t["sentence"])
    sup = t["suppressed"].fillna(False).astype(bool)
    if {"previous_suppressed", "current_suppressed"} <= set(t.columns):
        gone = [t[f"{x}_suppressed"].fillna(False).astype(bool) | ~t[f"{x}_period"].map(lambda v: isinstance(v, str))
                for x in ("previous", "current")]
        sup = sup & gone[0] & gone[1]
    sup = sup.to_numpy()
    out = [x for x, hide in zip(t["sentence"], sup) if not hide]
    if not sup.any():
        return out
    for label, g in t[sup].groupby("indicator_label", sort=False):
        names = []
        periods = (list(dict.fromkeys(period_text(p, pt) for p, pt in zip(g["period"], g["period_type"])))
                   if {"period", "period_type"} <= set(g.columns) else [])
        one_period = len(periods) == 1
        for _, r in g.iterrows():
            bits = [r.get("group") if isinstance(r.get("group"), str) else None,
                    r.get("month") if isinstance(r.get("month"), str) else None,
                    None if one_period or not periods else period_text(r["period"], r["period_type"])]
            name = ", ".join(b for b in bits if b)
            if name and name not in names:
                names.append(name)
        if one_period:
            names = [f"{join_and(names)} in {periods[0]}"] if names else [periods[0]]
        secondary = "secondary" in g and g["secondary"].fillna(False).astype(bool).any()
        why = (f"counts of children below {threshold}"
               + (", or a figure from which one could be worked out" if secondary else "")
               + "; publishing them could identify a child")
        what = f" for {join_and(names)}" if names else ""
        out.append(f"{label}: suppressed{what} ({why}).")
    return out

def bullets(items) -> str:
    return "\n".join(f"- {s}" for s in items if s)

def suppression_note(res: LocalResult, disp: pd.DataFrame | None = None) -> str | None:
    """The suppression note, for a table that has suppressed cells."""
    if not res.threshold:
        return None
    if disp is not None and not disp.isin([MARK]).any().any():
        return None
    return (f"Counts of children from 1 to {res.threshold - 1}, and counts whose remainder of a published total "
            f"is that small, are suppressed ({MARK}), with a second figure suppressed where a total would reveal "
            "the first; the same figures are suppressed in every table.")

def period_span(periods: str) -> str:
    """'2021-04, 2021-05, ..., 2022-03' as 'April 2021 to March 2022 (12)'."""
    items = [p.strip() for p in str(periods).split(",") if p.strip()]
    if len(items) <= 3:
        return ", ".join(items)
    first, last = period_text(items[0], period_type_of(items[0])), period_text(items[-1], period_type_of(items[-1]))
    return f"{first} to {last} ({len(items)})"

def figure_text(r) -> str:
    if r["comparator"] is not None:
        return fmt_value(r["comparator_value"], r["unit"])
    if r["suppressed"]:
        return MARK
    return fmt_value(r["value"], r["unit"])

def row_sentence(r, threshold: int) -> str:
    what = f"{r['indicator_label']}{group_part(r['group'])}"
    when = period_text(r["period"], r["period_type"])
    if r["comparator"] is not None:
        return f"{what}: {fmt_value(r['comparator_value'], r['unit'])} for {r['comparator']} in {when}."
    if r["suppressed"]:
        return suppressed_sentence(f"{what}, {when}", threshold, bool(r.get("secondary", False)))
    v = fmt_value(r["value"], r["unit"])
    if r["unit"] == "percent_change":
        return f"{what}: {v} in {when} (a published change; the counts behind it are not in the file)."
    of = f" of {format_count(r['denominator'])}" if pd.notna(r["denominator"]) else ""
    return f"{what}: {v}{of} in {when}."

def breakdown_sentences(b: pd.DataFrame, threshold: int) -> list[str]:
    """One sentence per period of a breakdown: every group's figure, suppressed ones named."""
    out = []
    local = b[b["comparator"].isna()]
    for per, g in local.groupby("period", sort=False):
        label = g["indicator_label"].iloc[0]
        when = period_text(per, g["period_type"].iloc[0])
        items = [f"{r['group']} {MARK if r['suppressed'] else fmt_value(r['value'], r['unit'])}"
                 for _, r in g.iterrows()]
        text = f"{label}, {when}: " + "; ".join(items) + "."
        if g["suppressed"].any():
            text += (f" {MARK}: suppressed, a count of children below {threshold}"
                     + (" or a second figure that a total would reveal" if g.get("secondary", pd.Series(False)).any()
                        else "") + ".")
        out.append(text)
    for _, r in b[b["comparator"].notna()].iterrows():
        out.append(row_sentence(r, threshold))
    return out


# --------------------------------------------------------------------------- the sections' text


def no_local_data_text(name: str, params_file: str) -> str:
    return ("## No local indicators\n\n"
            f"The parameters of {name} (`{params_file}`) list no local indicators files "
            "(`local_data`), so this report has nothing to show. A partnership can add its own figures "
            "(referrals, children in need, missing-children reports and the like) as a CSV in the format of "
            "`docs/local_indicators_format.md` and list it under `local_data` in its parameters.")


def problems_text(res: LocalResult) -> str:
    """Why the files could not be read: each problem with its file, row, line and column (25 at most)."""
    shown = res.problems[:25]
    more = len(res.problems) - len(shown)
    return ("## Local indicators could not be read\n\n"
            f"The local indicators file(s) listed for {res.name} failed validation, so nothing from them is "
            "shown (a file either loads whole or not at all). Each problem names the file, the data row (and "
            "its line in the file) and the column:\n\n"
            + "\n".join(f"- `{m}`" for m in shown)
            + (f"\n- … and {more} more." if more > 0 else "")
            + "\n\nCorrect the file(s) and run the report again; the format is described in "
              "`docs/local_indicators_format.md`.")


def problems_headline(res: LocalResult) -> str:
    n = len(res.problems)
    return (f"The local indicators file could not be read ({n} problem{'s' if n != 1 else ''}; "
            f"first: {res.problems[0]})")


def summary_text(res: LocalResult) -> str:
    """The summary's opening paragraph: what was read, from where, and what was left out."""
    local = res.local()
    n_ind = local["indicator"].nunique()
    n_comp = int(res.df["comparator"].notna().sum())
    text = (f"## Summary\n\n{len(local):,} published figures on {n_ind} indicators"
            + (f", with {n_comp} comparator figures (statistical neighbours, national averages and the like)"
               if n_comp else "")
            + f", {res.read_note}. Every share comes with its {CONFIDENCE:.0%} confidence interval (CI) and every "
              "change with a test of whether it could be chance.")
    out = res.outside_window
    if not out.empty:
        text += (f" {len(out)} figure{'s' if len(out) != 1 else ''} for periods "
                 f"outside the analysis window ({res.window[0]:%B %Y} to {res.window[1]:%B %Y}) "
                 f"{'are' if len(out) != 1 else 'is'} left out: "
                 + join_and([f"{r.indicator_label}{group_part(r.group)}, {period_text(r.period, r.period_type)}"
                            for r in out.itertuples()][:6])
                 + (" and others" if len(out) > 6 else "") + ".")
    return text


NO_CHANGES = ("## Change over time\n\nNo count is published for two comparable periods, so no change can be "
              "computed.")

CHANGES_INTRO = (
    "### Counts: latest period against the one before\n\n"
    "Each count is compared with the same count in the period before, with the exact conditional test for "
    "two counts (the counts are treated as Poisson). The confidence interval is for the percentage "
    "change. Where an indicator is broken down into groups, several changes are tested at once, so "
    "their p-values are Holm-adjusted within the breakdown before a change is called unlikely to be "
    "chance (the intervals are not adjusted). Where a count of children is suppressed in one period, "
    "the other is still shown but no change is given. Chance is not the only explanation: recording "
    "practice and definitions change too.")


def monthly_yoy_intro(label: str) -> str:
    return (f"### {label}: each month against the same month a year earlier\n\n"
            "Monthly counts like these are usually snapshots (the children open to a service at a date): "
            "largely the same children are counted month after month, so the months are **not added up** into "
            "a yearly total. Each month is compared with the same month of the previous year instead; the "
            "interval shows whether a change is larger than counting noise, not the full uncertainty (policy and "
            "recording changes move such counts too). The months are tested together, so their p-values are "
            "Holm-adjusted before a change is called more than chance would explain.")


def c_chart_sentences(chart: pd.DataFrame) -> str:
    """What a c-chart of monthly counts shows (special causes, provisional limits), after the summary."""
    n_sc = int(chart["special_cause"].sum())
    text = (" On a c-chart (Poisson limits, NHS *Making Data Count* rules) "
            + ("no month shows special-cause variation: the ups and downs are within what chance would "
               "produce." if n_sc == 0 else
               f"{number_word(n_sc)} month{'s' if n_sc != 1 else ''} show special-cause variation: "
               + "; ".join(f"{period_text(str(m), 'month')} ({chart.loc[m, 'rules']})"
                           for m in chart.index[chart['special_cause'].to_numpy(dtype=bool)]) + "."))
    if len(chart) < 15:
        text += f" With {number_word(len(chart))} months the limits are provisional (15 to 20 are advised)."
    return text


NO_SHARES = "## Shares\n\nNo figure is published with a denominator, so no share or interval can be computed."

SHARES_INTRO = (
    "## Shares, with confidence intervals\n\n"
    f"Each share has a {CONFIDENCE:.0%} Wilson confidence interval: the range of underlying rates that could "
    "plausibly have produced the published count. Where only a percentage and its base are published, "
    "the count is worked back from the percentage (the interval is then approximate to the rounding).")

P_CHART_NOTE = ("The p-chart's limits are wider in months with fewer cases; a point outside them, or a long run "
                "on one side of the mean, would signal a change in the process (NHS *Making Data Count* rules).")

COMPARATORS_INTRO = (
    "## Against comparators\n\n"
    "Each share is set against the comparators' (statistical neighbours, national average). The test is "
    "an exact binomial test of the partnership's count against the comparator's share, treated as known "
    "(comparators average many areas). Several comparisons are made at once, so the p-values are "
    "Holm-adjusted before a difference is called unlikely to be chance. Comparators may be for an earlier "
    "year and defined slightly differently; the sentences say when.")

NO_PROCESS_CHANGE = (
    "No process change is named in the parameters. To compare an indicator before and after a change "
    "(a new triage process, a new team), add `process_changes` (name, start month, indicator ids) "
    "to the `local_data` entry.")

OTHER_FIGURES_INTRO = (
    "## Other published figures\n\n"
    "The remaining figures are shown as published: single figures, breakdowns without a total, and "
    "figures such as scores or amounts to which no test applies.")


def data_notes_parts(res: LocalResult) -> list[str]:
    """The data notes: inconsistencies in the source, figures outside the window, analyses not computed."""
    parts = []
    if not res.discrepancies.empty:
        parts.append("**Inconsistencies in the source document.** The figures are transcribed as published and "
                     "never corrected; where an inconsistency would distort a statistic, the figure is left out of "
                     "it (as said where it applies).\n\n"
                     + bullets(f"{r.indicator_label} ({r.period}): {r.discrepancy}."
                                  for r in res.discrepancies.itertuples()))
    if not res.outside_window.empty:
        parts.append("**Outside the analysis window** (left out): "
                     + "; ".join(f"{r.indicator_label}{group_part(r.group)}, {period_text(r.period, r.period_type)}"
                                 for r in res.outside_window.itertuples()) + ".")
    if res.notes:
        parts.append("**Not computed:**\n\n" + bullets(res.notes))
    return parts


def sources_text(res: LocalResult) -> str:
    """The files (with their descriptions) and, when they were read, the source documents."""
    lines = [f"- `{f}`" + (f": {res.descriptions.get(f)}" if res.descriptions.get(f) else "") for f in res.files]
    text = "## Sources\n\nLocal indicators file(s), listed under `local_data` in the parameters:\n\n" + "\n".join(lines)
    if not res.ok:
        return text
    docs = res.df["source"].map(lambda s: s.split(";")[0].strip()).value_counts()
    return text + ("\n\nSource documents: " + "; ".join(f"{d} ({n} figure{'s' if n != 1 else ''})"
                                                         for d, n in docs.items())
                   + ". Every figure carries a source note (document, section, table, and anything odd about the "
                     "figure); the table below has them all (download the CSV), except the notes of suppressed "
                     f"figures, which are {WITHHELD.split(' (')[0]} because they may quote the hidden number.")
