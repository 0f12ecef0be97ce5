"""The disproportionality report (02_disproportionality): who and where bears more than
its share, with honest uncertainty.

The notebook first computes everything (:func:`analyse`, no output), so that the
plain-English summary can come first, and then renders each part:

>>> res = analyse(ctx)            # doctest: +SKIP
>>> summary(ctx, res)             # doctest: +SKIP
>>> stop_search_section(ctx, res) # doctest: +SKIP
>>> places_section(ctx, res)      # doctest: +SKIP
>>> comparison_section(ctx, res)  # doctest: +SKIP
>>> outcomes_section(ctx, res)    # doctest: +SKIP

The package is split by concern (issue 15: compute, then render):

* :mod:`.compute` - the analysis: ``load_*`` (data layer) -> ``compute_*`` (pure) for each
  part (:func:`stop_search_analysis`, :func:`places_analysis`, :func:`comparison_analysis`,
  :func:`outcomes_analysis`), returning plain dataclasses of DataFrames;
* :mod:`.tables` - the tables as published (plain column names, small counts suppressed);
* :mod:`.charts` - matplotlib figures from computed results;
* :mod:`.wording` - sentences, notes and captions from computed results;
* this module - the section functions the notebook calls, each a short sequence of
  tables, charts and words sent to the report context (``ctx.say``, ``ctx.table``,
  ``ctx.show``, ``ctx.headline``).

Choices made here (and said in the report):

* Stop and search: searches of people (``Type`` other than "Vehicle search") by
  officer-defined ethnicity, against Census 2021 usual residents of the broad group
  (White, Black, Asian, Other; officer-defined ethnicity has no Mixed group, so Mixed
  residents are shown but are not a denominator). The months of the analysis window are
  pooled (all months in the store only when the window has none, and the report says so) and
  rates are per 1,000 residents per year. Searches are placed in the partnership with
  :func:`csp_analysis.geo.locate_stop_search`; where a force publishes no coordinates,
  or the store has nothing to place them against, figures are for the force area (its
  LADs from ``lad_lookup``).
* Places: recorded crime excluding anti-social behaviour, in months whose files use 2021
  LSOA codes (the residents are Census 2021 by 2021 LSOA; the store has no 2011-to-2021
  best-fit lookup, so 2011-coded months are not mapped). Funnel limits use Spiegelhalter's
  additive random-effects over-dispersion adjustment (tau-squared from 10% Winsorised
  z-scores, debiased).
* Deprivation: IoD 2019 deciles are keyed by 2011 LSOA codes; only 2021 LSOAs whose code is
  unchanged between the vintages are matched (the count is reported).
* Outcomes: each partnership share against the rest of the force area with
  :func:`csp_analysis.local_stats.two_proportions` (Newcombe interval, Fisher's exact test),
  Holm-adjusted across crime types (:func:`csp_analysis.multiplicity.adjust_p_values`).
"""
from __future__ import annotations

import pandas as pd

from . import charts, compute, tables, wording
from .charts import _cap_off_scale, _show_limits  # noqa: F401 - names kept for older imports
# the names below are re-exported: tests, notebooks and older code import them from here
from .compute import (ASB, COURT_OUTCOMES,  # noqa: F401
                      FUNNEL_CONFIDENCE, NATIONAL_MIN_FORCES, NFA, NFA_LINKED_MAX, NO_SUSPECT,
                      REFERENCE, SEARCH_GROUPS, STABLE_MIN, TOP_FRACTION, ComparisonResult,
                      DisproportionalityResults, OutcomesResult, PlacesResult, StopSearchResult, _lsoa_counts,
                      _pfa_codes, _pfa_names, _quiet_ctx, _rri, _street_months, _table_exists_with_rows,
                      _vintage_by_month, analyse, comparison_analysis, ethnic_population, outcomes_analysis,
                      places_analysis, stop_search_analysis)
from .tables import _BOUND_COLS, _RATIO_COLS, _View, suppress_people  # noqa: F401
from .wording import _cap, _months_text, _pct, _r, _ratio_phrase, _when, _who, dispersion_sentence  # noqa: F401

__all__ = [
    "analyse", "summary", "stop_search_section", "places_section", "comparison_section", "outcomes_section",
    "stop_search_analysis", "places_analysis", "comparison_analysis", "outcomes_analysis", "ethnic_population",
    "suppress_people", "dispersion_sentence", "DisproportionalityResults", "StopSearchResult", "PlacesResult",
    "ComparisonResult", "OutcomesResult", "SEARCH_GROUPS", "REFERENCE", "STABLE_MIN", "NO_SUSPECT", "NFA",
    "NFA_LINKED_MAX", "ASB", "COURT_OUTCOMES", "NATIONAL_MIN_FORCES", "FUNNEL_CONFIDENCE", "TOP_FRACTION",
    "compute", "tables", "charts", "wording",
]


# ============================================================================ kept private names
def _search_view(ctx, t: pd.DataFrame) -> _View:
    """:func:`.tables.search_table` at the partnership's small-number threshold."""
    return tables.search_table(t, ctx.params.small_number_threshold)


def _find_view(ctx, f: pd.DataFrame) -> _View:
    """:func:`.tables.find_table` at the partnership's small-number threshold."""
    return tables.find_table(f, ctx.params.small_number_threshold)


_publishable = tables.publishable
_ratio_method = wording.ratio_method
_search_sentence = wording.search_sentence


def _supp_note(ctx) -> str:
    return wording.supp_note(ctx.params.small_number_threshold)


def _show(ctx, fig) -> None:
    if fig is not None:
        ctx.show(fig)


# ============================================================================ summary
def summary(ctx, res: DisproportionalityResults) -> None:
    """The plain-English summary: what stands out, with numbers and uncertainty."""
    bullets, missing = wording.stop_search_summary(res.stop_search, ctx.params)
    pl, cm, oc = res.places, res.comparison, res.outcomes
    if pl.available:
        bullets.append(wording.places_summary(pl))
    else:
        missing.append("Places: " + pl.reason)
    if cm.available:
        bullets.append(wording.comparison_summary(cm))
    elif pl.available:
        missing.append("Comparison with other partnerships: " + cm.reason)
    if oc.available:
        bullets.append(wording.outcomes_summary(oc))
    elif pl.available:
        missing.append("Outcomes: " + oc.reason)
    ctx.say(wording.summary_text(bullets, missing))
    ctx.say(wording.SUMMARY_NOTE)


# ============================================================================ stop and search
def _stop_search_rates(ctx, ss: StopSearchResult, where: str) -> None:
    """The rates table, a sentence and headline per group, the caveats and the rate chart."""
    p, thr = ctx.params, ctx.params.small_number_threshold
    ctx.say(f"### Searches per 1,000 residents, {where}")
    t = ss.table
    v = tables.search_table(t, thr)
    ctx.table(v.table, "stop_search_rates", wording.rates_caption(where, ss.months), float_dp=2,
              note=wording.rates_note(t, thr))
    ok = tables.publishable(t, v)
    for g in ok:
        r = t[t["group"] == g].iloc[0]
        s = wording.search_sentence(r, where, ss.months, g in ss.unstable)
        ctx.say("- " + s + wording.excess_sentence(r))
        if r["count"] > 0:
            ctx.headline(f"stop_search_ratio_{g.lower()}", f"Stop and search: {g} to White ratio",
                         round(float(r["ratio"]), 2), s, lower=round(float(r["lower"]), 2),
                         upper=round(float(r["upper"]), 2), scope=ss.scope)
    unstable = [g for g in ss.unstable if g in ok]
    if unstable:
        ctx.say(wording.unstable_sentence(unstable, ss.months, ss.force_table is not None))
    supp = [g for g, r in zip(t["group"], v.rows) if r]
    if supp:
        ctx.say(wording.suppressed_sentence(supp, p.small_number_threshold, v.ref_suppressed))
    unknown = wording.unknown_sentence(t, v.unknown_suppressed)
    if unknown:
        ctx.say(unknown)
    _show(ctx, charts.rate_chart(t, ~v.rows, where))
    if ss.force_table is not None:
        fv = tables.search_table(ss.force_table, thr)
        ctx.table(fv.table, "stop_search_rates_force", wording.force_rates_caption(ss.force_area, ss.months),
                  float_dp=2, note=wording.supp_note(thr).strip() or None)


def _find_rates(ctx, ss: StopSearchResult, where: str) -> None:
    """Find rates by group: table, sentences, headlines and chart."""
    thr = ctx.params.small_number_threshold
    ctx.say("### Did the search find what it was looking for?")
    if ss.find is None:
        ctx.say(wording.find_unavailable(ss))
        return
    fv = tables.find_table(ss.find, thr)
    ctx.say(wording.FIND_INTRO)
    if ss.find_definition == "linked_and_action":
        ctx.say(wording.find_data_quality(ss.nfa_linked_share))
    ctx.table(fv.table, "stop_search_find_rates", wording.find_caption(where, ss.months), float_dp=2,
              note=wording.supp_note(thr).strip() or None)
    if fv.ref_suppressed:
        ctx.say("Too few searches of White people to compare find rates.")
        return
    ref_value = float(ss.find.loc[ss.find["group"] == REFERENCE, "value"].iloc[0])
    for i, r in ss.find.iterrows():
        if r["unknown"] or fv.rows.loc[i]:
            continue
        ctx.say("- " + r["sentence"])
        if r["group"] != REFERENCE:
            ctx.headline(f"find_rate_{str(r['group']).lower()}", f"Find rate: {r['group']} (White {ref_value:.0%})",
                         round(float(r["value"]), 3), r["sentence"], lower=round(float(r["lower"]), 3),
                         upper=round(float(r["upper"]), 3), scope=ss.scope)
    _show(ctx, charts.find_chart(ss.find, ~fv.rows, where))


def stop_search_section(ctx, res: DisproportionalityResults) -> None:
    """Stop and search by ethnic group: rates, ratios, excess, unknowns, find rates."""
    p = ctx.params
    ss = res.stop_search
    ctx.say("## Stop and search by ethnic group")
    if not ss.available and not ss.n_rows:
        ctx.say(ss.reason)
        return
    ctx.say(wording.stop_search_intro(ss, p))
    for note in wording.placement_notes(ss, p):
        ctx.say(note)
    if not ss.available:
        ctx.say(ss.reason)
        return
    where = p.name if ss.scope == "partnership" else ss.area
    _stop_search_rates(ctx, ss, where)
    _find_rates(ctx, ss, where)


def _rate_chart(ctx, t, v: _View, where) -> None:
    _show(ctx, charts.rate_chart(t, ~v.rows, where))


def _find_chart(ctx, f, v: _View, where) -> None:
    _show(ctx, charts.find_chart(f, ~v.rows, where))


# ============================================================================ places
def _funnel(ctx, pl: PlacesResult) -> None:
    """The LSOA funnel plot, the outliers table and sentences, the headline and the full table."""
    ctx.say("### Funnel plot of LSOA crime rates")
    ctx.say(wording.funnel_explanation(float(pl.funnel["tau2"].iloc[0])))
    ctx.show(charts.lsoa_funnel_chart(pl, ctx.params.name))
    out = pl.lsoa[pl.lsoa["outlier"] != ""]
    if len(out):
        out = out.sort_values("ratio", ascending=False)
        ctx.table(tables.lsoa_outliers_table(out), "lsoa_outliers",
                  "LSOAs outside the 99.8% over-dispersion-adjusted funnel limits.", float_dp=2)
        ctx.say(wording.outliers_sentence(out))
    else:
        ctx.say(wording.NO_OUTLIERS)
    w95 = pl.lsoa[(pl.lsoa["outlier_95"] != "") & (pl.lsoa["outlier"] == "")].sort_values("ratio", ascending=False)
    if len(w95):
        ctx.say(wording.outside_95_sentence(w95))
    n_high = int((pl.lsoa["outlier"] == "high").sum())
    ctx.headline("lsoa_outliers_high", "LSOAs with crime rates above the funnel limits", n_high,
                 wording.high_outliers_headline(n_high, len(pl.lsoa)))
    ctx.table(tables.lsoa_rates_table(pl.lsoa), "lsoa_rates",
              "Crime rate for every LSOA (highest first; the CSV holds all LSOAs).", float_dp=2, max_rows=10)


def places_section(ctx, res: DisproportionalityResults) -> None:
    """Crime rates by LSOA on a funnel plot, the deprivation gradient and the share of burden."""
    pl = res.places
    ctx.say("## Places: which neighbourhoods bear more crime")
    if not pl.available:
        ctx.say(wording.not_shown(pl.reason, "This section is empty."))
        return
    ctx.say(wording.places_intro(pl))
    _funnel(ctx, pl)
    _deprivation(ctx, pl)
    _burden(ctx, pl)


def _deprivation(ctx, pl: PlacesResult) -> None:
    """Crime by deprivation decile: matching, table, gradient sentences, headlines, chart."""
    ctx.say("### Crime and deprivation")
    if pl.n_matched == 0 and pl.gradient is None:
        ctx.say(wording.gradient_unavailable(pl))
        return
    ctx.say(wording.deprivation_intro(pl))
    if pl.gradient is None:
        ctx.say(wording.gradient_unavailable(pl))
        return
    bd = pl.decile_table
    disp = float(bd["dispersion"].iloc[0])
    ctx.say(wording.dispersion_sentence(disp))
    ctx.table(tables.deprivation_table(bd), "deprivation_deciles", wording.DEPRIVATION_CAPTION, float_dp=2,
              note=wording.deprivation_note(disp))
    s = pl.gradient.summary
    for _, r in s.iterrows():
        ctx.say(wording.gradient_sentence(r))
    g, rii = s.iloc[0], s.iloc[1]
    ctx.headline("deprivation_rii", "Relative index of inequality (crime by deprivation)",
                 round(float(rii["value"]), 2), rii["sentence"], lower=round(float(rii["lower"]), 2),
                 upper=round(float(rii["upper"]), 2))
    ctx.headline("deprivation_rate_ratio_per_decile", "Crime rate ratio per deprivation decile",
                 round(float(g["value"]), 3), g["sentence"], lower=round(float(g["lower"]), 3),
                 upper=round(float(g["upper"]), 3))
    ctx.show(charts.deprivation_chart(bd, ctx.params.name))


def _burden(ctx, pl: PlacesResult) -> None:
    """Share of crime in the most affected 10% of LSOAs."""
    ctx.say("### Share of crime in the most affected places")
    b = pl.burden.iloc[0]
    for text in wording.burden_sentences(pl):
        ctx.say(text)
    ctx.table(tables.burden_table(b), "share_of_burden",
              "Share of crime borne by the 10% of LSOAs with the highest crime rates.", float_dp=1)
    ctx.headline("share_of_crime_top10pc_lsoas", "Share of crime in the top 10% of LSOAs",
                 round(float(b["share_of_count"]), 3), b["sentence"],
                 share_of_residents=round(float(b["share_of_population"]), 3))


# ============================================================================ comparison
def comparison_section(ctx, res: DisproportionalityResults) -> None:
    """The partnership against other partnerships in the store on a funnel plot."""
    name = ctx.params.name
    cm = res.comparison
    ctx.say("## The partnership against other partnerships")
    if not cm.available:
        ctx.say(wording.not_shown(cm.reason, "This comparison is not shown."))
        return
    ctx.say(wording.comparison_intro(cm))
    ctx.show(charts.comparison_chart(cm, name))
    sentence = wording.partnership_sentence(cm, name)
    ctx.say(sentence)
    comparators = wording.comparators_sentence(cm)
    if comparators is not None:
        ctx.say(comparators)
    r = cm.partnership_row
    ctx.headline("crime_rate_vs_partnerships", "Crime rate relative to other partnerships", round(float(r["ratio"]), 2),
                 sentence, rate_per_1000=round(float(r["rate"]), 1))
    ctx.table(tables.partnerships_table(cm.units), "partnerships_compared",
              "Partnerships compared (highest rate first; the CSV holds every area).", float_dp=2, max_rows=15)


# ============================================================================ outcomes
def outcomes_section(ctx, res: DisproportionalityResults) -> None:
    """Outcome shares by crime type against the force area."""
    name = ctx.params.name
    oc = res.outcomes
    ctx.say("## Outcomes: no suspect identified, and charges")
    if not oc.available:
        ctx.say(wording.not_shown(oc.reason, "This section is empty."))
        return
    ctx.say(wording.outcomes_intro(oc, name))
    t = oc.table
    for measure, table_name, caption in wording.OUTCOME_TABLES:
        if measure == "Charged":
            ctx.say(wording.CHARGES_NOTE)
        m = t[t["measure"] == measure].sort_values("crimes", ascending=False)
        ctx.table(tables.outcome_measure_table(m), table_name, caption, float_dp=1)
        ctx.say(wording.clear_differences_sentence(measure, m))
    sentence = wording.no_suspect_sentence(oc, name)
    ctx.say(sentence)
    ns, ch = oc.overall["No suspect identified"], oc.overall["Charged or court stage"]
    ctx.headline("share_no_suspect_identified", "Crimes ending with no suspect identified",
                 round(float(ns["share"]), 3), sentence, force_share=round(float(ns["force_share"]), 3))
    ctx.say(wording.charged_sentence(oc, name))
    ctx.headline("share_charged_or_court", "Crimes charged or at a court stage", round(float(ch["share"]), 3),
                 wording.charged_sentence(oc, name, headline=True), force_share=round(float(ch["force_share"]), 3))
    _show(ctx, charts.outcome_chart(t[t["measure"] == "No suspect identified"], name, oc.force_area))


def _outcome_chart(ctx, ns: pd.DataFrame, force_area: str) -> None:
    _show(ctx, charts.outcome_chart(ns, ctx.params.name, force_area))

