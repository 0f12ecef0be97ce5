"""The local-indicators report's sections, as the notebook calls them: compute -> charts -> wording -> output.

:func:`analyse` loads the partnership's figures and computes everything (no output), so
that the summary can come first; each ``*_section`` then shows its part with ``ctx``
(tables with their suppression notes, charts, sentences, headlines).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import charts, wording
from .common import (
    CONFIDENCE,
    MARK,
    MAX_FINDINGS,
    UNLIKELY_COL,
    WITHHELD,
    group_part,
    is_small_count,
    period_text,
)
from .compute import LocalResult, hidden_flags, load, run_analyses
from .wording import (
    breakdown_sentences,
    bullets,
    comparison_summary,
    condensed_sentences,
    excluded_months,
    fmt_value,
    latest_point_sentence,
    monthly_series_summary,
    monthly_summary,
    p_cell,
    p_chart_summary,
    suppression_note,
)


# --------------------------------------------------------------------------- analysis


def analyse(ctx) -> LocalResult:
    """Load the partnership's local indicators and compute every analysis (no output)."""
    res = load(ctx)
    if res.ok:
        analyse_frame(res)
    return res


def analyse_frame(res: LocalResult) -> LocalResult:
    """Run the analyses that fit each indicator of ``res.df`` and word them (filled in place)."""
    run_analyses(res)
    res.share_changes = wording.share_change_sentences(res.share_changes)
    res.published_checks = wording.published_check_sentences(res.published_checks)
    res.findings = wording.findings(res)
    return res


# --------------------------------------------------------------------------- display helpers


def _counts(values, suppressed) -> np.ndarray:
    """A display column of counts: whole numbers without decimals, [c] where suppressed, missing as NaN."""
    out = []
    for v, sup in zip(values, suppressed):
        if sup:
            out.append(MARK)
        elif v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append(np.nan)
        else:
            out.append(int(v) if float(v).is_integer() else float(v))
    arr = np.empty(len(out), dtype=object)
    arr[:] = out
    return arr

def _totals(res: LocalResult, t: pd.DataFrame) -> np.ndarray:
    """A display column of the denominators of ``t``, [c] where the report withholds one."""
    hide = [hidden_flags(res, i, p, g)[2] for i, p, g in zip(t["indicator"], t["period"], t["group"])]
    return _counts(t["denominator"], hide)

def _blank_small(tab: pd.DataFrame, cols: list[str], threshold: int, children: pd.Series | bool = True) -> pd.DataFrame:
    """Show small counts of children as [c] in a display table (cells already blanked stay blank)."""
    out = tab.copy()
    if not threshold:
        return out
    cc = children if isinstance(children, pd.Series) else pd.Series(children, index=out.index)
    for c in cols:
        if c not in out:
            continue
        out[c] = out[c].astype(object)
        for i, v in out[c].items():
            if cc.loc[i] and is_small_count(v, threshold):
                out.at[i, c] = MARK
    return out

def _display_values(res: LocalResult, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of ``res.df`` as published: the report's one suppression decision (``res.published``)."""
    return res.published.loc[rows.index].reset_index(drop=True)



# --------------------------------------------------------------------------- summary


def summary(ctx, res: LocalResult) -> None:
    """The plain-English summary first; or say why there is nothing to show."""
    if res.status == "none":
        ctx.say(wording.no_local_data_text(res.name, ctx.params_file.name))
        ctx.headline("local_indicators", "Local indicators", 0,
                     f"No local indicators file is listed for {res.name}.")
        return
    if res.status == "error":
        ctx.say(wording.problems_text(res))
        ctx.headline("local_indicators_error", "Local indicators: problems", len(res.problems),
                     wording.problems_headline(res))
        return
    if res.status == "empty":
        ctx.say("## No local indicators to show\n\n" + res.message)
        ctx.headline("local_indicators", "Local indicators", 0, res.message)
        return
    ctx.say(wording.summary_text(res))
    top = res.findings[:MAX_FINDINGS]
    if top:
        ctx.say("**Main findings**\n\n" + bullets(f["sentence"] for f in top))
    for f in top:
        extra = {k: v for k, v in f.items() if k not in ("priority", "key", "label", "value", "sentence")}
        value = f["value"]
        if isinstance(value, float) and math.isfinite(value):
            value = round(value, 2)
        ctx.headline(f["key"], f["label"], value, f["sentence"], **extra)


# --------------------------------------------------------------------------- changes


def _show(ctx, fig) -> None:
    if fig is not None:
        ctx.show(fig)


def changes_section(ctx, res: LocalResult) -> None:
    """Change in counts between the latest two periods, and monthly snapshots a year apart."""
    if not res.ok:
        return
    if res.changes.empty and not res.monthly_yoy and not res.monthly_series:
        ctx.say(wording.NO_CHANGES)
        return
    ctx.say("## Change over time")
    if not res.changes.empty:
        _count_changes_block(ctx, res)
    for ind, (t, cur, prev) in res.monthly_yoy.items():
        _monthly_yoy_block(ctx, res, ind, t, cur, prev)
    for ind, s in res.monthly_series.items():
        _monthly_series_block(ctx, res, ind, s)


def _count_changes_table(res: LocalResult, t: pd.DataFrame) -> pd.DataFrame:
    """The display table of count changes: [c] for hidden counts, no change where either is hidden."""
    cc = t["indicator"].map(res.local().groupby("indicator")["counts_children"].first()).fillna(False)
    changed = t["percent_change"].notna()
    disp = pd.DataFrame({
        "Indicator": t["indicator_label"], "Group": t["group"].fillna(""),
        "Previous period": t["previous_period"], "Previous": t["previous"],
        "Latest period": t["current_period"], "Latest": t["current"],
        "Change (%)": t["percent_change"],
        "CI lower (%)": t["percent_lower"].where(changed),
        "CI upper (%)": t["percent_upper"].where(changed),
        "p-value": t["p_value"].where(changed).map(p_cell),
        "p-value (Holm, within the breakdown)": t["p_value_holm"].where(changed).map(p_cell),
    })
    disp["Previous"] = _counts(t["previous"], t["previous_suppressed"])
    disp["Latest"] = _counts(t["current"], t["current_suppressed"])
    return _blank_small(disp, ["Previous", "Latest"], res.threshold, cc)


def _count_changes_block(ctx, res: LocalResult) -> None:
    t = res.changes
    ctx.say(wording.CHANGES_INTRO)
    _show(ctx, charts.forest_chart(t, f"{res.name}: change in counts on the previous period"))
    disp = _count_changes_table(res, t)
    ctx.table(disp, "count_changes", "Counts in the latest two periods, with the percentage change and its "
              f"{CONFIDENCE:.0%} confidence interval.", note=suppression_note(res, disp))
    ctx.say(bullets(condensed_sentences(t, res.threshold)))
    if not res.published_checks.empty:
        pc = res.published_checks
        ctx.say("**Published changes checked.** " + " ".join(pc["sentence"]))
        disp = pd.DataFrame({"Indicator": pc["indicator_label"], "Previous period": pc["previous_period"],
                             "Previous": _counts(pc["previous"], [False] * len(pc)),
                             "Latest period": pc["current_period"],
                             "Latest": _counts(pc["current"], [False] * len(pc)),
                             "Published change (%)": pc["published_percent_change"],
                             "Computed change (%)": pc["computed_percent_change"].round(2),
                             "Agrees": pc["agrees"].map({True: "yes", False: "no"})})
        ctx.table(disp, "published_changes_checked", "Published percentage changes against the change "
                  "computed from the transcribed counts.", float_dp=2)


def _monthly_yoy_block(ctx, res, ind, t, cur, prev) -> None:
    label = t["indicator_label"].iloc[0]
    thr = res.threshold
    ctx.say(wording.monthly_yoy_intro(label))
    series = res.local()
    series = series[(series["indicator"] == ind) & (series["period_type"] == "month") & series["group"].isna()]
    if not series.empty:
        ctx.show(charts.monthly_yoy_chart(res, ind, series, label, cur, prev))
    disp = pd.DataFrame({
        "Month": t["month"], "Group": t["group"].fillna(""), prev: t["previous"], cur: t["current"],
        "Change (%)": t["percent_change"], "CI lower (%)": t["percent_lower"], "CI upper (%)": t["percent_upper"],
        "p-value": t["p_value"].map(p_cell),
        "p-value (Holm, over the months)": t["p_value_holm"].map(p_cell),
    })
    if not disp["Group"].astype(bool).any():
        disp = disp.drop(columns="Group")
    disp[prev] = _counts(t["previous"], t["previous_suppressed"])
    disp[cur] = _counts(t["current"], t["current_suppressed"])
    cc = bool(series["counts_children"].iloc[0]) if not series.empty else True
    disp = _blank_small(disp, [prev, cur], thr, cc)
    ctx.table(disp, f"{ind}_month_by_month", f"{label}: each month of {cur} against the same month of {prev}.",
              note=suppression_note(res, disp))
    ctx.say(monthly_summary(t, cur, prev))
    ctx.say(bullets(condensed_sentences(t, thr)))


def _monthly_series_block(ctx, res, ind, s) -> None:
    label = s["indicator_label"].iloc[0]
    ctx.say(f"### {label}: month by month")
    ctx.show(charts.monthly_series_chart(s, label))
    chart = s.attrs.get("chart")
    text = monthly_series_summary(s, label, res.threshold)
    if chart is not None:
        text += wording.c_chart_sentences(chart)
    ctx.say(text)
    disp = pd.DataFrame({"Month": s["period"], "Count": _counts(s["value"], s["suppressed"])})
    if chart is not None:
        disp["Variation"] = s["chart_variation"].to_numpy()
    ctx.table(disp, f"{ind}_by_month", f"{label} by month.", note=suppression_note(res, disp))


# --------------------------------------------------------------------------- shares


def proportions_section(ctx, res: LocalResult) -> None:
    """Shares with Wilson intervals; p-charts for monthly shares; change in share between years."""
    if not res.ok:
        return
    if not res.proportions:
        ctx.say(wording.NO_SHARES)
        return
    ctx.say(wording.SHARES_INTRO)
    single = []
    for ind, t in res.proportions.items():
        monthly_chart = "in_chart" in t and bool(t["in_chart"].fillna(False).astype(bool).sum() >= 2)
        if not monthly_chart and not t["group"].notna().any() and len(t) == 1:
            single.append(t)
            continue
        _shares_block(ctx, res, ind, t, monthly_chart)
    if single:
        _other_shares_block(ctx, res, pd.concat(single, ignore_index=True))


def _shares_table(res: LocalResult, ind: str, t: pd.DataFrame) -> pd.DataFrame:
    disp = pd.DataFrame({
        "Period": t["period"], "Group": t["group"].fillna(""),
        "Count": _counts(t["numerator"], t["suppressed"]),
        "Total": _totals(res, t), "Share (%)": t["percent"], "CI lower (%)": t["lower"],
        "CI upper (%)": t["upper"],
    })
    if t["implied_numerator"].any():
        disp["Count from a %"] = t["implied_numerator"].map({True: "yes", False: ""})
    if "in_chart" in t:
        disp["In p-chart"] = t["in_chart"].map({True: "yes", False: "no"}).fillna("no")
        disp["Variation"] = t["chart_variation"].fillna("")
    if not disp["Group"].astype(bool).any():
        disp = disp.drop(columns="Group")
    cc = res.local().groupby("indicator")["counts_children"].first().get(ind, True)
    return _blank_small(disp, ["Count", "Total"], res.threshold, bool(cc))


def _shares_block(ctx, res: LocalResult, ind: str, t: pd.DataFrame, monthly_chart: bool) -> None:
    label = t["indicator_label"].iloc[0]
    ctx.say(f"### {label}")
    if monthly_chart:
        ctx.show(charts.p_chart(t))
        ctx.say(p_chart_summary(t, res.df) + " " + latest_point_sentence(t))
        ex = excluded_months(t, res.df)
        if ex:
            ctx.say("**Left out:** " + " ".join(ex))
        ctx.say(wording.P_CHART_NOTE)
    else:
        for (per, ptype), _ in t.groupby(["period", "period_type"], sort=False):
            _show(ctx, charts.share_bars(t, per, ptype))
    disp = _shares_table(res, ind, t)
    ctx.table(disp, f"{ind}_shares", f"{label}: count, total and share with {CONFIDENCE:.0%} confidence "
              "interval.", note=suppression_note(res, disp))
    if not monthly_chart:
        ctx.say(bullets(condensed_sentences(t, res.threshold)))
    sc = res.share_changes[res.share_changes["indicator"] == ind] if not res.share_changes.empty else None
    if sc is not None and not sc.empty:
        ctx.say("**Change in share on the previous period.** " + " ".join(sc["sentence"]))


def _other_shares_block(ctx, res: LocalResult, s: pd.DataFrame) -> None:
    ctx.say("### Other shares")
    disp = pd.DataFrame({
        "Indicator": s["indicator_label"], "Period": s["period"],
        "Count": _counts(s["numerator"], s["suppressed"]),
        "Total": _totals(res, s), "Share (%)": s["percent"], "CI lower (%)": s["lower"],
        "CI upper (%)": s["upper"], "Count from a %": s["implied_numerator"].map({True: "yes", False: ""}),
    })
    cc = s["indicator"].map(res.local().groupby("indicator")["counts_children"].first()).fillna(True)
    disp = _blank_small(disp, ["Count", "Total"], res.threshold, cc.astype(bool))
    ctx.table(disp, "other_shares", f"Other shares, with {CONFIDENCE:.0%} confidence intervals.",
              note=suppression_note(res, disp))
    ctx.say(bullets(condensed_sentences(s, res.threshold)))
    sc = res.share_changes[res.share_changes["indicator"].isin(s["indicator"])] \
        if not res.share_changes.empty else None
    if sc is not None and not sc.empty:
        ctx.say(bullets(sc["sentence"]))


# --------------------------------------------------------------------------- comparators


def comparators_section(ctx, res: LocalResult) -> None:
    """Each group's share against each comparator, a test per comparison, Holm-adjusted."""
    if not res.ok:
        return
    if not res.comparisons and not res.comparisons_descriptive:
        return
    ctx.say(wording.COMPARATORS_INTRO)
    for ind, t in res.comparisons.items():
        label = t["indicator_label"].iloc[0]
        ctx.say(f"### {label}")
        _show(ctx, charts.comparator_chart(t))
        ctx.say(comparison_summary(t))
        disp = _comparator_table(res, t)
        ctx.table(disp, f"{ind}_comparators", f"{label}, {t['period'].iloc[0]}: share against each comparator, "
                  "with the exact binomial test and the Holm-adjusted p-value.", note=suppression_note(res, disp))
        ctx.say(bullets(condensed_sentences(t, res.threshold)))
    for ind, (t, reason) in res.comparisons_descriptive.items():
        _side_by_side_block(ctx, res, ind, t, reason)


def _comparator_table(res: LocalResult, t: pd.DataFrame) -> pd.DataFrame:
    ci = [("" if pd.isna(a) else f"{a:.1f} to {b:.1f}") for a, b in zip(t["lower"], t["upper"])]
    disp = pd.DataFrame({
        "Group": t["group"].fillna(""),
        "Comparator": [f"{c} ({p})" for c, p in zip(t["comparator"], t["comparator_period"])],
        "Count": _counts(t["numerator"], t["suppressed"]), "Total": _totals(res, t),
        "Share (%)": t["local_percent"], f"{CONFIDENCE:.0%} CI (%)": ci,
        "Comparator (%)": t["comparator_percent"], "Difference (points)": t["difference_points"],
        "p-value": t["p_value"].map(p_cell),
        "p-value (Holm)": t["p_value_holm"].map(p_cell),
        UNLIKELY_COL: (t["p_value_holm"] < 1 - CONFIDENCE).map({True: "yes", False: "no"}),
    })
    disp.loc[(t["suppressed"] | t["p_value_holm"].isna()).to_numpy(), UNLIKELY_COL] = ""
    if not disp["Group"].astype(bool).any():
        disp = disp.drop(columns="Group")
    return _blank_small(disp, ["Count", "Total"], res.threshold, True)


def _side_by_side_block(ctx, res: LocalResult, ind: str, t: pd.DataFrame, reason: str) -> None:
    thr = res.threshold
    label = t["indicator_label"].iloc[0]
    ctx.say(f"### {label}\n\nNo test is possible ({reason}); the figures are set side by side.")
    disp = pd.DataFrame({
        "Group": t["group"].fillna(""), "Period": t["period"],
        "This partnership": [fmt_value(v, u) for v, u in zip(t["value"], t["unit"])],
        "Comparator": t["comparator"], "Comparator period": t["comparator_period"],
        "Comparator figure": [fmt_value(v, u) for v, u in zip(t["comparator_value"], t["comparator_unit"])],
    })
    if not disp["Group"].astype(bool).any():
        disp = disp.drop(columns="Group")
    for i, r in t.iterrows():
        if (hidden_flags(res, ind, r["period"], r["group"])[0]
                or (r["counts_children"] and r["unit"] == "count" and is_small_count(r["value"], thr))):
            disp.at[i, "This partnership"] = MARK
    ctx.table(disp, f"{ind}_comparators", f"{label}: this partnership and its comparators (no test possible).")
    ctx.say(bullets(
        f"{label}{group_part(r['group'])}: {disp.at[i, 'This partnership']} in {r['period'] or 'no period'}, "
        f"against {disp.at[i, 'Comparator figure']} for {r['comparator']} in {r['comparator_period']}."
        for i, r in t.iterrows()))


# --------------------------------------------------------------------------- before/after


def before_after_section(ctx, res: LocalResult) -> None:
    """Before and after each process change named in the parameters, with the caveats."""
    if not res.ok:
        return
    ctx.say("## Before and after a process change")
    if not res.process_changes:
        ctx.say(wording.NO_PROCESS_CHANGE)
        return
    for pc in res.process_changes:
        ctx.say(f"### {pc.name} (from {pc.start:%B %Y})" + (f"\n\n{pc.description}" if pc.description else ""))
        for ba in [b for b in res.before_after if b["change"] is pc]:
            if ba.get("table") is None:
                ctx.say(f"`{ba['indicator']}`{group_part(ba['group'])}: no comparison possible: {ba['error']}.")
                continue
            r = ba["table"].iloc[0]
            _show(ctx, charts.before_after_chart(res, ba, r))
            ctx.say(r["sentence"])
            ctx.say(f"**Caveat.** {r['caveat']}")
            disp = pd.DataFrame([{
                "Indicator": r["indicator_label"], "Group": r["group"] or "", "Change from": r["change_period"],
                "Periods before": wording.period_span(r["before_periods"]),
                "Periods after": wording.period_span(r["after_periods"]),
                "Measure": r["measure"],
                "Before": r["before"], "After": r["after"], "Difference": r["difference"],
                "CI lower": r["lower"], "CI upper": r["upper"],
                "p-value": p_cell(r["p_value"]),
                "Method": r["method"],
            }])
            if not disp["Group"].astype(bool).any():
                disp = disp.drop(columns="Group")
            ctx.table(disp, f"{ba['indicator']}_before_after", f"{r['indicator_label']}: before and after "
                      f"{pc.name}.")


# --------------------------------------------------------------------------- other figures


def other_figures_section(ctx, res: LocalResult) -> None:
    """Every published figure not used above: breakdowns as small tables, the rest in one table."""
    if not res.ok:
        return
    rest = res.df[~res.df["indicator"].isin(res.used)]
    if rest.empty:
        return
    thr = res.threshold
    ctx.say(wording.OTHER_FIGURES_INTRO)
    shown = _display_values(res, rest)
    shown["Figure"] = shown.apply(wording.figure_text, axis=1)
    shown["Sentence"] = shown.apply(lambda r: wording.row_sentence(r, thr), axis=1)
    grouped = shown.groupby("indicator", sort=False)["group"].apply(lambda g: g.notna().any())
    for ind in grouped[grouped].index:
        _breakdown_block(ctx, res, ind, shown[shown["indicator"] == ind])
    singles = shown[~shown["indicator"].isin(grouped[grouped].index)]
    if not singles.empty:
        ctx.say("### Single figures")
        disp = pd.DataFrame({"Indicator": singles["indicator_label"], "Period": singles["period"],
                             "Figure": singles["Figure"], "Comparator": singles["comparator"].fillna(""),
                             "In words": singles["Sentence"]})
        if not disp["Comparator"].astype(bool).any():
            disp = disp.drop(columns="Comparator")
        ctx.table(disp, "single_figures", "Other single published figures.",
                  note=suppression_note(res, disp))


def _breakdown_block(ctx, res: LocalResult, ind: str, b: pd.DataFrame) -> None:
    """One breakdown as published: bars for a one-period breakdown of three or more, a wide table, sentences."""
    thr = res.threshold
    label = b["indicator_label"].iloc[0]
    unit = b["unit"].iloc[0]
    ctx.say(f"### {label}")
    bl = b[b["comparator"].isna()]
    periods = list(dict.fromkeys(bl.sort_values("period_start")["period"]))
    if unit in ("count", "gbp") and len(periods) == 1 and bl["group"].nunique() >= 3:
        ctx.show(charts.breakdown_bars(bl, unit, thr))
    wide = bl.pivot_table(index="group", columns="period", values="Figure", aggfunc="first", sort=False)
    wide = wide.reindex(columns=periods).reset_index().rename(columns={"group": "Group"})
    wide.columns = ["Group"] + [period_text(p, bl.loc[bl["period"] == p, "period_type"].iloc[0]) for p in periods]
    ctx.table(wide, f"{ind}", f"{label} ({charts.unit_label(unit).lower()}).",
              note=suppression_note(res, wide))
    ctx.say(bullets(breakdown_sentences(b, thr)))


# --------------------------------------------------------------------------- notes and sources


def data_notes(ctx, res: LocalResult) -> None:
    """Inconsistencies in the source document, figures left out, analyses not possible."""
    if not res.ok:
        return
    parts = wording.data_notes_parts(res)
    if parts:
        ctx.say("## Data notes\n\n" + "\n\n".join(parts))


def sources_section(ctx, res: LocalResult) -> None:
    """Where the figures come from: the files, the documents, and every figure's source note (CSV)."""
    if res.status in ("none",):
        return
    ctx.say(wording.sources_text(res))
    if not res.ok:
        return
    shown = _display_values(res, res.df)
    withheld = (shown["suppressed"] | shown["denominator_suppressed"]) & shown["comparator"].isna()
    disp = pd.DataFrame({
        "Indicator": shown["indicator"], "Period": shown["period"], "Group": shown["group"].fillna(""),
        "Comparator": shown["comparator"].fillna(""), "Figure": shown.apply(wording.figure_text, axis=1),
        "Unit": shown["unit"], "Source note": shown["source"].where(~withheld, WITHHELD),
    })
    ctx.table(disp, "all_figures_with_sources", "Every local figure used in this report, with its source note.",
              max_rows=8, note=suppression_note(res, disp))
