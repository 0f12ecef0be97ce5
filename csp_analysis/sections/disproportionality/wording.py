"""The disproportionality report's words: sentences, notes and captions built from computed
results (:mod:`.compute`); strings only, no ctx and no output.

Numbers go through :mod:`csp_analysis.formatting`; ratios and "people of a group" are
worded as in :mod:`csp_analysis.disproportionality`'s own sentences (``_r``, ``_who``). ``p``
arguments are the partnership's parameters (``name``, ``start``, ``end``,
``small_number_threshold``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ... import disproportionality as dp
from ...data import month_range_text as _ranges
from ...formatting import capitalise, format_number, format_p_value, format_percent
from . import compute as _compute
from .compute import (NO_SUSPECT, REFERENCE, SEARCH_GROUPS, STABLE_MIN, ComparisonResult,
                      OutcomesResult, PlacesResult, StopSearchResult)
from .tables import find_table, publishable, search_table

#: Ratio for text (two decimals below 0.95, one above) and the people of a group, worded as in
#: csp_analysis.disproportionality's own sentences.
_r = dp.format_ratio
_who = dp.describe_group
#: kept for older imports: formatting.capitalise (first letter up, the rest as written)
_cap = capitalise


def _pct(x: float, dp_: int = 1) -> str:
    """A 0-1 share as a percentage (``–`` when missing)."""
    return format_percent(x, dp_, scale=100, missing="–")


def _months_text(months) -> str:
    """'18 months (Jan 2023 to Jun 2024)'."""
    months = sorted(pd.to_datetime(list(months)))
    if not months:
        return "no months"
    n = len(months)
    return f"{n} month{'s' if n != 1 else ''} ({_ranges(months)})"


def _when(months) -> str:
    months = sorted(pd.to_datetime(list(months)))
    return f"in {_ranges(months)}" if len(months) == 1 else f"pooled over {_ranges(months)}"


def not_shown(reason: str, tail: str) -> str:
    """The reason a part is not shown, with ``tail`` ("This section is empty.") unless the
    reason (the :func:`csp_analysis.formatting.not_enough_data` sentence) already says so."""
    return reason if reason.endswith("so it is not shown.") else f"{reason} {tail}"


def supp_note(threshold: int) -> str:
    """The suppression rule, for table notes ("" when nothing is suppressed)."""
    if threshold <= 1:
        return ""
    return (f" Counts of people from 1 to {threshold - 1} are suppressed ([c]), with further counts suppressed where "
            "a total would reveal them; rates and ratios worked out from a suppressed count are left blank.")


# ============================================================================ stop and search
def ratio_method(t: pd.DataFrame) -> str:
    """How the ratio intervals were made, for the table note."""
    phi = float(t["dispersion"].iloc[0]) if "dispersion" in t and len(t) else 1.0
    if phi > 1:
        return (f"quasi-Poisson across months: searches vary {phi:.1f} times as much from month to month as "
                f"chance alone would give (allowing for neighbouring months being alike), so the intervals are "
                f"about {np.sqrt(phi):.1f} times as wide as exact "
                f"Poisson ones (score test, t on {t['dispersion_df'].iloc[0]:.0f} df).")
    return ("exact conditional Poisson method (the month-to-month variation is no more than chance would "
            "give, or the months are not known).")


def search_sentence(row, area: str, months, unstable: bool) -> str:
    """One group's ratio to White, with its interval and verdict."""
    if row["count"] == 0:
        return (f"No searches of {_who(row['group'])} were recorded in {area} {_when(months)}; with so few searches "
                f"the data are consistent with a ratio to White people anywhere from 0 to {_r(row['upper'])} "
                "(95% CI).")
    s = (f"In {area}, {_who(row['group'])} were searched at {_r(row['ratio'])} times the rate of White people "
         f"(95% CI {_r(row['lower'])} to {_r(row['upper'])}), {_when(months)}")
    if row["lower"] > 1:
        s += "; unlikely to be chance."
    elif row["upper"] < 1:
        s += "; a lower rate, unlikely to be chance."
    else:
        s += f"; the difference could be chance ({format_p_value(row['p_value'])})."
    if unstable:
        s += f" Fewer than {STABLE_MIN} searches: too few for a stable ratio."
    return s


def excess_sentence(row) -> str:
    """' That is about N more searches than at the White rate.' when the ratio is clearly above 1."""
    return (f" That is about {row['excess']:,.0f} more searches than at the White rate."
            if row["count"] > 0 and row["lower"] > 1 else "")


def _ratio_phrase(r) -> str:
    return f"{_who(r['group'])} **{_r(r['ratio'])} times** (95% CI {_r(r['lower'])} to {_r(r['upper'])})"


def _find_summary(ss: StopSearchResult, threshold: int) -> str:
    fv = find_table(ss.find, threshold)
    if fv.ref_suppressed:
        return "**Find rate:** too few searches to compare find rates."
    ref = ss.find[ss.find["group"] == REFERENCE].iloc[0]
    lows = [f"{_who(r['group'])} {_pct(r['value'], 0)} (95% CI {_pct(r['lower'], 0)} to {_pct(r['upper'], 0)})"
            for i, r in ss.find.iterrows()
            if not (r["unknown"] or r["group"] == REFERENCE or fv.rows.loc[i]) and r["difference_upper"] < 0]
    if lows:
        return ("**Find rate:** searches found what was looked for less often for " + "; ".join(lows)
                + f" than for White people ({_pct(ref['value'], 0)}), which suggests a lower threshold "
                  "for searching these groups.")
    return ("**Find rate:** no group's find rate was clearly lower than White people's "
            f"({_pct(ref['value'], 0)}).")


def stop_search_summary(ss: StopSearchResult, p) -> tuple[list[str], list[str]]:
    """The summary's stop-and-search bullets and its 'missing or limited data' notes."""
    bullets, missing = [], []
    if not ss.available:
        missing.append("Stop and search: " + ss.reason)
        return bullets, missing
    thr = p.small_number_threshold
    t = ss.table
    v = search_table(t, thr)
    mt = _months_text(ss.months)
    where = p.name if ss.scope == "partnership" else ss.area
    stable = [g for g in publishable(t, v) if g not in ss.unstable]
    weak = [g for g in SEARCH_GROUPS if g != REFERENCE and g not in stable]
    text = f"**Stop and search ({where}, {mt}):** "
    if stable:
        text += ("compared with White people, " + "; ".join(_ratio_phrase(t[t["group"] == g].iloc[0]) for g in stable)
                 + " as likely to be searched, per resident.")
    if weak:
        text += (" " if stable else "") + (f"Too few searches of {', '.join(_who(g) for g in weak)} for a stable "
                                           f"ratio (fewer than {STABLE_MIN}, or suppressed).")
    if weak and ss.force_table is not None:
        ft = ss.force_table
        fok = [g for g in publishable(ft, search_table(ft, thr)) if g in weak]
        if fok:
            text += (f" Across {ss.force_area}: " + "; ".join(_ratio_phrase(ft[ft["group"] == g].iloc[0]) for g in fok)
                     + " the White rate.")
    bullets.append(text)
    if ss.scope == "force":
        missing.append(f"Searches cannot be placed in {p.name}: the stop-and-search figures are for {ss.area}.")
    if len(ss.months) < 3:
        missing.append(f"Stop and search: only {mt} in the store, too few for stable ratios in small groups.")
    if ss.find is not None:
        bullets.append(_find_summary(ss, thr))
    return bullets, missing


def stop_search_intro(ss: StopSearchResult, p) -> str:
    """Which records, which months, what is left out and what the rates are."""
    mt = _months_text(ss.months)
    if len(ss.months) == 1:
        text = (f"The store holds stop-and-search records of {', '.join(ss.forces)} for one month only "
                f"({ss.months[0]:%B %Y}); one month is too few for stable ratios in small groups, so read the "
                "intervals.")
    else:
        text = (f"Stop-and-search records of {', '.join(ss.forces)} are used for {mt}"
                + ("" if ss.months_outside_window else f", the months of the analysis window ({p.start:%B %Y} to "
                   f"{p.end:%B %Y}) that the store holds")
                + "; they are pooled (single months are too few for stable ratios).")
    n_out = len(ss.months_outside_window)
    if n_out:
        text += (f" {'That month lies' if n_out == 1 and len(ss.months) == 1 else f'{n_out} of these months lie'} "
                 f"outside the report's analysis window ({p.start:%B %Y} to {p.end:%B %Y}); "
                 f"{'it is' if len(ss.months) == 1 else 'they are'} the only stop-and-search data available.")
    text += (f" Of {format_number(ss.n_rows)} searches, {format_number(ss.n_vehicle_only)} were of vehicles only "
             "(no person) and are left out. "
             "Rates are searches per 1,000 residents a year (annualised) by **officer-defined ethnicity** (the "
             "officer's view; self-defined ethnicity is often not given) against Census 2021 usual residents in the "
             "same broad group. Officer-defined ethnicity has no Mixed group, so Mixed residents are not a "
             "denominator (officers record people of Mixed ethnicity in one of the four groups, which slightly "
             "inflates all four rates).")
    return text


def placement_notes(ss: StopSearchResult, p) -> list[str]:
    """How the searches were placed: geo's notes, the force-level warning, or the share not placed."""
    out = []
    for n in ss.notes:
        if ss.scope == "partnership" and "are not placed" in n:
            continue  # said below, for searches of people
        out.append(f"*Placing searches:* {n}")
    if ss.scope == "force":
        out.append(f"> **Force-level figures.** Searches cannot be placed in {p.name}, so every stop-and-search "
                   f"figure below is for {ss.area} (residents of all its local authority districts).")
    elif ss.unplaced_by_group is not None and ss.n_unplaced:
        ub = ss.unplaced_by_group.set_index("group")["share_unplaced"]
        parts = ", ".join(f"{g} {_pct(ub[g], 0)}" for g in SEARCH_GROUPS if g in ub.index)
        out.append(f"{format_number(ss.n_unplaced)} of {format_number(ss.n_person_force)} searches of people by the "
                   f"force ({ss.n_unplaced / ss.n_person_force:.0%}) have no usable coordinates and could not be "
                   "placed, so the partnership's rates are somewhat too low. The ratios are unbiased if the share "
                   f"not placed is similar in every group; force-wide it was {parts}.")
    return out


def rates_caption(where: str, months) -> str:
    return (f"Searches of people by officer-defined ethnic group, {where}, {_months_text(months)}: "
            "rates per 1,000 residents a year, ratio to White with 95% CI, excess searches (searches above "
            "what the White rate would give) and the bounds if every search with unknown ethnicity belonged to "
            "the group, or to White people.")


def rates_note(t: pd.DataFrame, threshold: int) -> str:
    return ("Residents: Census 2021 usual residents (summed over the districts). Ratios: " + ratio_method(t)
            + " Rates: exact Poisson (fewer than 10 searches) or Byar's method." + supp_note(threshold))


def unstable_sentence(groups, months, has_force_table: bool) -> str:
    return (f"**Too few searches for stable ratios:** {', '.join(_who(g) for g in groups)} "
            f"(fewer than {STABLE_MIN} searches in {_months_text(months)}). Read the intervals, not the point "
            "estimates; more months are needed"
            + (", or see the force-wide figures below." if has_force_table else "."))


def suppressed_sentence(groups, threshold: int, ref_suppressed: bool) -> str:
    return (f"Figures for {', '.join(groups)} are suppressed: fewer than {threshold} people, or "
            "suppressed so that a total cannot reveal a small number."
            + (" Because the White count is suppressed, no ratio to White can be shown." if ref_suppressed else ""))


def unknown_sentence(t: pd.DataFrame, unknown_suppressed: bool) -> str | None:
    """Searches with no officer-defined ethnicity (None when there are no searches)."""
    total = float(t["count"].sum())
    n_unknown = float(t.loc[t["unknown"], "count"].sum())
    if total <= 0:
        return None
    if n_unknown == 0:
        return "**Unknown ethnicity.** Every search of a person has an officer-defined ethnicity."
    if unknown_suppressed:
        return ("**Unknown ethnicity.** A few searches of people have no officer-defined ethnicity (number "
                "suppressed).")
    return (f"**Unknown ethnicity.** {format_number(n_unknown, 0)} of {format_number(total, 0)} searches of people "
            f"({n_unknown / total:.1%}) have no officer-defined ethnicity. Wherever they belong, each ratio "
            "lies between the two bounds in the table.")


def force_rates_caption(force_area: str, months) -> str:
    return (f"For context: the same figures for {force_area} (all searches of people by the force, Census 2021 "
            f"residents of its districts), {_months_text(months)}.")


FIND_INTRO = ("The *find rate* is the share of searches whose outcome was linked to the object searched for "
              "(data.police.uk 'Outcome linked to object of search'). A lower find rate for a group suggests that "
              "its members are searched on weaker grounds (a lower threshold for searching).")


def find_unavailable(ss: StopSearchResult) -> str:
    return "Find rates cannot be computed: " + (ss.find_reason or "no searches with a recorded outcome") + "."


def find_data_quality(nfa_linked_share: float) -> str:
    return (f"> **Data quality.** {_pct(nfa_linked_share, 0)} of this force's searches that ended in 'A no "
            "further action disposal' are marked as linked to the object searched for, so here the flag cannot "
            "mean that the object was found. Finds are therefore counted as searches linked to the object "
            "**and** ending in action (arrest, summons, caution, warning, penalty notice or community "
            "resolution). Compare these find rates with other forces' with care.")


def find_caption(where: str, months) -> str:
    return (f"Find rate by officer-defined ethnic group, {where}, {_months_text(months)}, with Wilson 95% CIs, the "
            "ratio to White (score CI) and the difference in percentage points (Fisher's exact test).")


# ============================================================================ summary
def places_summary(pl: PlacesResult) -> str:
    f = pl.funnel
    hi = f[f["direction"] == "high"].sort_values("z_adjusted", ascending=False)
    b = pl.burden.iloc[0]
    txt = (f"**Places:** {len(hi)} of {len(f)} LSOAs have crime rates above the 99.8% funnel limits"
           + (f" (highest: {', '.join(hi.index[:3])})" if len(hi) else "") + ". "
           f"The {int(b['n_top'])} LSOAs with the highest rates (the top 10%) had **{_pct(b['share_of_count'], 0)} "
           f"of crime** but {_pct(b['share_of_population'], 0)} of residents.")
    if pl.gradient is not None:
        r = pl.gradient.summary.iloc[1]
        txt += (f" Crime rates in the most deprived areas are modelled at **{r['value']:.1f} times** those in the "
                f"least deprived (relative index of inequality, 95% CI {r['lower']:.1f} to {r['upper']:.1f}).")
    return txt


def comparison_summary(cm: ComparisonResult) -> str:
    r = cm.partnership_row
    pos = {"high": "above the upper limit", "low": "below the lower limit"}.get(r["outlier"], "within the limits")
    scope = ("every partnership with data " + (f"in {cm.months[0]:%B %Y}" if len(cm.months) == 1 else
                                               f"pooled over {_months_text(cm.months)}")
             if cm.kind == "national" else "the other partnerships of its force area")
    return (f"**Against other partnerships** ({scope}; {len(cm.units)} areas): {r['rate']:.0f} crimes per "
            f"1,000 residents a year, {_r(r['ratio'])} times the average, {pos}.")


def outcomes_summary(oc: OutcomesResult) -> str:
    t = oc.table
    ns = t[t["measure"] == "No suspect identified"]
    overall = oc.overall["No suspect identified"]
    clear = ns[ns["clear_difference"]].assign(ad=lambda d: d["difference"].abs()).sort_values("ad", ascending=False)
    txt = (f"**Outcomes:** {_pct(overall['share'], 0)} of crimes ended with no suspect identified "
           f"({oc.force_area}: {_pct(overall['force_share'], 0)}).")
    if len(clear):
        txt += (f" {len(clear)} crime type(s) differ clearly from the rest of the force; the largest: " + "; ".join(
            f"{ct} ({_pct(s, 0)} against {_pct(fs, 0)})" for ct, s, fs in
            zip(clear["crime_type"][:3], clear["share"][:3], clear["force_share"][:3])) + ".")
    else:
        txt += " No crime type differs clearly from the rest of the force."
    return txt


def summary_text(bullets: list[str], missing: list[str]) -> str:
    """The summary section: bullets, then the 'missing or limited data' paragraph."""
    return ("## Summary\n\n" + ("\n".join(f"- {b}" for b in bullets) if bullets else
                                "The store holds too little data for this partnership to show disproportionality.")
            + ("\n\n**Missing or limited data.** " + " ".join(missing) if missing else ""))


SUMMARY_NOTE = ("Ratios come with 95% confidence intervals (CI): the range of values consistent with the data. "
                "A ratio describes how often something is recorded; it does not, on its own, say why.")


# ============================================================================ places
def places_intro(pl: PlacesResult) -> str:
    text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in each LSOA "
            f"(2021 boundaries; Census 2021 usual residents), pooled over {_months_text(pl.months)}.")
    if pl.mapped_2011:
        text += (" No month in the window uses 2021 LSOA codes, so the 2011-coded months are used and only crimes in "
                 "LSOAs whose code is the same in both vintages are kept.")
    elif pl.months_2011:
        text += (f" The {len(pl.months_2011)} earlier month(s) ({_ranges(pl.months_2011)}) were published with 2011 "
                 "LSOA codes and are left out: residents are counted on 2021 LSOAs, and some 2011 LSOAs were split "
                 "or merged in 2021, so mixing vintages would put crimes and residents on different areas (the "
                 "store has no official best-fit lookup to map them).")
    if pl.n_dropped_codes:
        text += (f" {format_number(pl.n_dropped_codes)} crimes in these months carry an LSOA code with no 2021 "
                 "population and are not used.")
    text += (f" In all, {format_number(pl.n_records)} crimes in {len(pl.lsoa)} LSOAs; the partnership rate is "
             f"{pl.overall_rate:.1f} per 1,000 a year.")
    return text


def funnel_explanation(tau2: float) -> str:
    return ("Each dot is an LSOA: its crimes divided by the crimes expected at the partnership-wide rate for its "
            "residents (1 = the partnership average). Small LSOAs scatter more by chance, so the limits widen "
            "towards the left. Crime differs between neighbourhoods far more than chance alone allows, so the "
            "limits are widened with **Spiegelhalter's additive (random-effects) over-dispersion adjustment** "
            f"(between-LSOA variance tau² = {tau2:.3f} on the square-root scale, estimated from 10% Winsorised "
            "z-scores and corrected for the bias of Winsorising). Points outside the 99.8% limits differ by more "
            "than ordinary variation between neighbourhoods would explain.")


def outliers_sentence(out: pd.DataFrame) -> str:
    """How many LSOAs lie above and below the 99.8% limits, naming the highest five."""
    hi = out[out["outlier"] == "high"]
    lo = out[out["outlier"] == "low"]
    named = ", ".join(f"{n} ({r:.0f} per 1,000 a year, {_r(x)} times average)"
                      for n, r, x in zip(hi["lsoa_name"][:5], hi["rate"][:5], hi["ratio"][:5]))
    return (f"**{len(hi)} LSOA(s) above and {len(lo)} below the 99.8% limits.**"
            + (f" Highest: {named}." if len(hi) else ""))


NO_OUTLIERS = ("No LSOA lies outside the 99.8% limits: the differences between neighbourhoods are within what "
               "ordinary variation between neighbourhoods explains.")


def outside_95_sentence(w95: pd.DataFrame) -> str:
    return (f"A further {len(w95)} LSOA(s) lie outside the 95% limits only (about 1 in 20 LSOAs would by "
            "chance alone): " + ", ".join(f"{n} ({_r(x)} times average)" for n, x in
                                          zip(w95["lsoa_name"][:8], w95["ratio"][:8]))
            + ("; see the full table" if len(w95) > 8 else "") + ".")


def high_outliers_headline(n_high: int, n_lsoas: int) -> str:
    return (f"{n_high} of {n_lsoas} LSOAs have crime rates above the 99.8% over-dispersion-adjusted "
            "funnel limits (Spiegelhalter additive adjustment).")


def gradient_unavailable(pl: PlacesResult) -> str:
    """Why no deprivation gradient is shown (the guard's sentence as it stands)."""
    if pl.n_matched == 0:
        reason = pl.gradient_reason or "no LSOA could be matched"
        return reason if reason.endswith(".") else f"The deprivation gradient cannot be shown: {reason}."
    return pl.gradient_reason if pl.gradient_reason.endswith(".") else \
        f"No gradient is estimated: {pl.gradient_reason}."


def deprivation_intro(pl: PlacesResult) -> str:
    return (f"Deprivation deciles come from the English Indices of Deprivation 2019, published for 2011 LSOAs. "
            f"{pl.n_matched} of the {pl.n_lsoas} LSOAs (2021) keep the same code as in 2011 and could be matched "
            f"({_pct(pl.share_residents_matched, 0)} of residents); LSOAs created or changed in 2021 are left out "
            "of this part. Decile 1 is the most deprived 10% of LSOAs in England.")


def dispersion_sentence(dispersion: float) -> str:
    """What the quasi-Poisson dispersion means, in words."""
    if not np.isfinite(dispersion):
        return ("The intervals below assume that crime counts vary between LSOAs only by chance (there are too "
                "few LSOAs per decile to check).")
    if dispersion <= 1.5:
        return (f"LSOAs in the same decile differ about as much as chance alone would give (dispersion "
                f"{dispersion:.1f}), so the intervals below are close to simple Poisson intervals.")
    return (f"LSOAs in the same decile differ far more than chance alone would give: the variation in their crime "
            f"counts is about {dispersion:,.0f} times what a pure-chance (Poisson) model expects (the "
            f"*dispersion*). So the intervals below come from a quasi-Poisson model and are about "
            f"{np.sqrt(dispersion):,.0f} times as wide as simple Poisson intervals; the Poisson ones would make "
            "small differences between deciles look certain.")


DEPRIVATION_CAPTION = ("Crime rate by deprivation decile, with the rate ratio to the least deprived decile "
                       "present (95% CIs from a quasi-Poisson model of the LSOA counts with a term for each decile, "
                       "which allows for LSOAs varying more than chance).")


def deprivation_note(dispersion: float) -> str:
    return (f"Intervals are widened by the square root of the dispersion ({dispersion:,.0f}), so they reflect how "
            "much LSOAs in the same decile differ, not just chance.")


def gradient_sentence(r) -> str:
    """One row of the gradient summary (rate ratio per decile, RII) with its p-value."""
    return ("- " + r["sentence"] + f" ({format_p_value(r['p_value'])}; quasi-Poisson model, dispersion "
            f"{r['dispersion']:,.0f}.)")


def burden_sentences(pl: PlacesResult) -> tuple[str, str]:
    """The share-of-burden sentence and the regression-to-the-mean check."""
    b = pl.burden.iloc[0]
    text = ""
    if pl.burden_split:
        sp = pl.burden_split
        text = (f" Choosing the LSOAs with the highest rates also picks some that were unlucky by chance, so the "
                f"share is a little overstated. As a check, ranking LSOAs on {sp['first'][0]:%b %Y} to "
                f"{sp['first'][1]:%b %Y} and measuring {sp['second'][0]:%b %Y} to {sp['second'][1]:%b %Y}, the "
                f"same LSOAs had {_pct(sp['share_of_count'])} of crime and {_pct(sp['share_of_population'])} of "
                "residents.")
    return (b["sentence"] + f" They carry {b['concentration']:.1f} times their share of residents.",
            ("The concentration is descriptive (no interval)." + text).strip())


# ============================================================================ comparison
def comparison_intro(cm: ComparisonResult) -> str:
    """What is compared: national or force-area partnerships, which months, what is missing."""
    u = cm.units
    if cm.kind == "national":
        n_m = len(cm.months)
        if n_m == 1:
            text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year (one month, "
                    f"{cm.months[0]:%B %Y}, times 12: the only month in the window with files from at least "
                    f"{_compute.NATIONAL_MIN_FORCES} forces, so the level carries that month's seasonal high or "
                    f"low) in every partnership (Community Safety Partnership, 2017 boundaries) whose force "
                    f"published a file for that month: {len(u)} areas.")
        else:
            text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in every partnership "
                    f"(Community Safety Partnership, 2017 boundaries) whose force published files for the months "
                    f"compared: {len(u)} areas, pooled over {_months_text(cm.months)}, every month in the window "
                    f"with files from the same forces (crimes in those {n_m} months divided by {n_m}, times 12).")
        if cm.uncovered_pfas:
            text += (f" Force areas with no file for {'that month' if n_m == 1 else 'these months'} are missing: "
                     f"{', '.join(cm.uncovered_pfas)}.")
        if cm.reorganised_pfas:
            text += (f" {' and '.join(cm.reorganised_pfas)} are missing too: their districts were reorganised after "
                     "the 2017 partnership lookup, so their crimes cannot be assigned to a partnership.")
    else:
        text = (f"Recorded crime (excluding anti-social behaviour) per 1,000 residents a year in the partnerships "
                f"of the same force area, pooled over {_months_text(cm.months)}: {len(u)} areas. (The store holds "
                "no month with files from most forces, so a national comparison is not possible.)")
    if cm.n_unassigned > 0:
        text += (f" {format_number(cm.n_unassigned)} crimes lie in districts reorganised since the 2017 partnership "
                 "lookup and are not assigned to a partnership.")
    text += (" Residents: Census 2021. Limits: 99.8% and 95%, widened with Spiegelhalter's additive over-dispersion "
             "adjustment, because areas differ by more than chance.")
    if len(u) < 20:
        text += (f" With only {len(u)} areas the over-dispersion estimate is very uncertain (Spiegelhalter suggests "
                 "at least 20): treat the limits as a rough guide.")
    return text


def partnership_sentence(cm: ComparisonResult, name: str) -> str:
    r = cm.partnership_row
    pos = {"high": "above the upper 99.8% limit", "low": "below the lower 99.8% limit"}.get(r["outlier"],
                                                                                           "within the 99.8% limits")
    return (f"{name}: {r['rate']:.1f} crimes per 1,000 residents a year, {_r(r['ratio'])} times the average "
            f"of the {len(cm.units)} areas compared (limits {r['lower']:.2f} to {r['upper']:.2f}), {pos}.")


def comparators_sentence(cm: ComparisonResult) -> str | None:
    """The named comparators' rates, and those not among the areas compared (None when none are named)."""
    comp = cm.units[cm.units["is_comparator"]]
    if not (len(comp) or cm.comparators_missing):
        return None
    parts = [f"{c['name']} {c['rate']:.1f} ({_r(c['ratio'])} times the average, "
             + {"high": "above the limits", "low": "below the limits"}.get(c["outlier"], "within the limits") + ")"
             for _, c in comp.sort_values("rate", ascending=False).iterrows()]
    txt = ("The partnerships named as comparators in the parameters: " + "; ".join(parts) + " crimes per 1,000 "
           "residents a year." if parts else "")
    if cm.comparators_missing:
        txt += (" Named comparators not among the areas compared: " + ", ".join(cm.comparators_missing) + ".")
    return txt.strip()


# ============================================================================ outcomes
def outcomes_intro(oc: OutcomesResult, name: str) -> str:
    return (f"For crimes recorded in {_months_text(oc.months)}, the share whose latest published outcome is "
            f"'{NO_SUSPECT}', and the share charged (an outcome naming a charge), in {name} and in "
            f"{oc.force_area}, with Wilson 95% CIs. Each partnership share is tested against the rest of the force "
            "area (Fisher's exact test); 'clear difference' means p < 0.05 after Holm's correction for testing "
            "every crime type. Outcomes are updated every month, so recent crimes are still open "
            f"({_pct(oc.pending_share, 0)} of the partnership's crimes are under investigation or have no outcome "
            "yet); the partnership and the force are compared on the same months and downloads.")


#: (measure, table name, caption) of the outcome tables, in order.
OUTCOME_TABLES = (
    ("No suspect identified", "outcome_no_suspect", "Share of crimes ending 'Investigation complete; no "
                                                    "suspect identified', partnership against force area."),
    ("Charged", "outcome_charged", "Share of crimes whose latest outcome says the suspect was charged "
                                   "(the outcome contains 'charged')."),
    ("Charged or court stage", "outcome_charged_or_court",
     "Share of crimes charged or at a court stage (an outcome naming a charge, or a court outcome such as "
     "'Awaiting court outcome', which follows a charge)."),
)

CHARGES_NOTE = ("*On charges:* data.police.uk replaces 'suspect charged' with the court stage once a case "
                "reaches court ('Awaiting court outcome', 'Court result unavailable', a sentence), so few crimes "
                "keep an outcome naming a charge. The second table counts both, which is closer to the share of "
                "crimes that led to a charge.")


def clear_differences_sentence(measure: str, m: pd.DataFrame) -> str:
    """The crime types whose share differs clearly from the rest of the force area."""
    clear = m[m["clear_difference"]]
    if not len(clear):
        return f"**{measure}:** no crime type differs clearly from the rest of the force area."
    return (f"**{measure}, clear differences:** " + "; ".join(
        f"{ct} {_pct(s)} (95% CI {_pct(lo)} to {_pct(hi)}) against {_pct(fs)} in the force area"
        for ct, s, lo, hi, fs in zip(clear["crime_type"], clear["share"], clear["lower"], clear["upper"],
                                     clear["force_share"])) + ".")


def no_suspect_sentence(oc: OutcomesResult, name: str) -> str:
    o = oc.overall["No suspect identified"]
    d, lo, hi = o["difference"], o["difference_lower"], o["difference_upper"]
    return (f"{_pct(o['share'])} of crimes in {name} ended with no suspect identified, against "
            f"{_pct(o['force_share'])} in {oc.force_area} (difference from the rest of the force {d * 100:+.1f} "
            f"points, 95% CI {lo * 100:+.1f} to {hi * 100:+.1f}; {format_p_value(o['p_value'])}).")


def charged_sentence(oc: OutcomesResult, name: str, headline: bool = False) -> str:
    o = oc.overall["Charged or court stage"]
    return (f"{_pct(o['share'])} of crimes in {name} were charged or reached a court stage"
            + (" (latest published outcome)" if headline else "")
            + f", against {_pct(o['force_share'])} in {oc.force_area}.")
