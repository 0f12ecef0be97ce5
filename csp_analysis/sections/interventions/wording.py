"""The intervention report's words: sentences, verdicts, notes and the text tables.

Strings (and DataFrames of text and numbers for ``ctx.table``) built from an
:class:`~.compute.InterventionAnalysis`; no ctx, no matplotlib. Numbers are worded with
:mod:`csp_analysis.formatting` (``format_p_value``, ``capitalise``, ``join_and``); the
rate-ratio wording (``30% lower``) is this report's own (:func:`change_text`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...formatting import capitalise, format_p_value, join_and
from ... import intervention_data as idata
from .compute import (
    ALPHA, CAUTION_HAC, CAUTION_PLACEBO, CAUTION_PRETREND, M_DID, M_DISP, M_ITS, M_MDE, M_PLACEBO, M_SC,
    SMALL_COUNT, Evidence, InterventionAnalysis, assess_evidence, effect, p_cell, sc_noise,
)


# ============================================================================ small pieces
def change_text(rr: float, dp: int = 0) -> str:
    """'30% lower' / '5% higher' for a rate ratio."""
    if rr is None or not np.isfinite(rr):
        return "–"
    pct = (rr - 1.0) * 100.0
    if round(abs(pct), dp) == 0:
        return "no different"
    return f"{abs(pct):.{dp}f}% {'lower' if pct < 0 else 'higher'}"


def ci_text(lo: float, hi: float, dp: int = 0) -> str:
    """'95% CI from 40% lower to 20% lower' for an interval of rate ratios."""
    return f"95% CI from {change_text(lo, dp)} to {change_text(hi, dp)}"


def chance_text(p: float) -> str:
    return "unlikely to be chance" if (p is not None and np.isfinite(p) and p < ALPHA) else "could well be chance"


def p_text(p: float) -> str:
    """``p = 0.412``: a p-value in a sentence, three decimals (``format_p_value(p, digits=3)``)."""
    return format_p_value(p, digits=3)


def month_text(ts) -> str:
    """'April 2023'."""
    return f"{pd.Timestamp(ts):%B %Y}"


# ============================================================================ verdict
CAUTIONS = {
    CAUTION_PLACEBO: ("the placebo check found changes of similar size at fake start dates before the scheme, "
                      "so this change may not be unusual"),
    CAUTION_HAC: ("the time-series result could be chance once the correlation between neighbouring months "
                  "is allowed for (Newey-West standard errors)"),
    CAUTION_PRETREND: ("the treated and comparison areas were already moving apart before the start, which "
                       "weakens the comparison"),
}
LIMITS = (" **What this does not show:** that the scheme itself caused any change. Anything else that changed "
          "in the same place at the same time (other initiatives, policing, recording practice, a new "
          "development) would look the same; and if the area was chosen because crime had just peaked, part "
          "of a fall could be a return to normal. The comparison-area design allows for changes shared with "
          "the comparison area, but not for changes particular to the treated area.")


def write_verdict(a: InterventionAnalysis) -> None:
    """Set ``a.finding``, ``a.verdict`` and ``a.verdict_short`` from :func:`~.compute.assess_evidence`."""
    ev = assess_evidence(a)
    a.finding = "cannot_answer" if ev.finding == "no_model" else ev.finding
    if ev.finding == "cannot_answer":
        a.verdict_short, a.verdict = cannot_answer_verdict(a)
        return
    if ev.finding == "no_model":
        a.verdict_short = "No model could be fitted."
        a.verdict = f"**No model could be fitted for {a.iv.name}**: " + "; ".join(
            f"{k}: {v}" for k, v in a.skipped.items()) + "."
        return
    a.verdict_short, a.verdict = finding_verdict(a, ev)
    if ev.cautions:
        a.verdict += " Caution: " + "; ".join(CAUTIONS[c] for c in ev.cautions) + "."
    mde = mde_verdict_text(a)
    if a.finding in ("reduction", "increase") and mde:
        a.verdict += mde.replace(" With this much data, only", " For reference, with this much data only")
    if a.disp is not None:
        a.verdict += displacement_verdict_text(a)
    a.verdict += LIMITS


def cannot_answer_verdict(a: InterventionAnalysis) -> tuple[str, str]:
    """(short, full) verdict when the coverage rules allow no model."""
    d, cov = a.data, a.cov
    if d.problems:
        why = "the treated area could not be defined"
    elif not d.usable:
        why = "no usable data in the store"
    elif cov.n_pre < idata.MIN_PRE:
        why = (f"only {cov.n_pre} usable month(s) before the start; at least {idata.MIN_PRE} are needed"
               if cov.n_pre else "no usable data before the start")
    elif cov.n_post < idata.MIN_POST:
        why = f"only {cov.n_post} usable month(s) after the start; at least {idata.MIN_POST} are needed"
    else:
        why = "too few crimes in the area before the start"
    short = f"The data cannot answer this question ({why}). No model fitted."
    full = (f"**The data cannot say whether {a.iv.name} changed {d.type_label}.** "
            + " ".join(cov.reasons) +
            " No model was fitted, because its answer could not be trusted. "
            "This is not evidence that the scheme failed, nor that it worked: the published data simply do "
            "not cover the right months. " + what_would_help(a))
    return short, full


def estimates_text(a: InterventionAnalysis, ev: Evidence) -> str:
    """'the time series puts the change at 30% lower (95% CI ...; p = ...); the comparison with ...'."""
    parts = []
    for k, (rr, lo, hi, p) in ev.estimates.items():
        label = "the time series" if k == M_ITS else "the comparison with " + (
            "similar areas" if a.data.comparison_label == "" else "the comparison area")
        parts.append(f"{label} puts the change at {change_text(rr)} ({ci_text(lo, hi)}; {p_text(p)})")
    return "; ".join(parts)


def mde_verdict_text(a: InterventionAnalysis) -> str:
    """' With this much data, only a fall larger than about 12% ... could reliably be detected.' (or '')."""
    if a.mde is None:
        return ""
    dec = abs(a.mde.table.loc["mde_decrease", "estimate"])
    inc = a.mde.table.loc["mde_increase", "estimate"]
    return (f" With this much data, only a fall larger than about {dec:.0f}% (or a rise larger than "
            f"{inc:.0f}%) could reliably be detected.")


def finding_verdict(a: InterventionAnalysis, ev: Evidence) -> tuple[str, str]:
    """(short, full) verdict for a modelled intervention, before cautions and limits."""
    what, name = a.data.type_label, a.iv.name
    est_txt = estimates_text(a, ev)
    if ev.finding in ("reduction", "increase"):
        word = "fell" if ev.finding == "reduction" else "rose"
        strength = "Consistent evidence" if not ev.cautions else "Evidence, with caveats,"
        rr = ev.estimates.get(M_DID, ev.estimates.get(M_ITS))[0]
        return (f"{capitalise(what)} {word}: about {change_text(rr)} than expected (two designs agree).",
                f"**{strength} that {what} in the area {word} after {name} started, by more than chance "
                f"would explain:** {est_txt}.")
    if ev.finding.startswith("some_evidence"):
        word = "fall" if ev.finding.endswith("reduction") else "rise"
        return (f"Weak evidence of a {word} (only one design finds it).",
                f"**Some evidence of a {word} in {what}, but the designs do not agree:** {est_txt}. "
                f"Only the {join_and(list(ev.significant))} estimate is unlikely to be chance, so the finding is weak.")
    if ev.finding == "mixed":
        return ("Mixed evidence: the designs disagree.",
                f"**The evidence is mixed:** {est_txt}. The designs point in different directions.")
    return ("No detectable change (a small effect cannot be ruled out).",
            f"**No change in {what} that could be told apart from normal variation:** {est_txt}."
            f"{mde_verdict_text(a)} So an effect smaller than that cannot be ruled out: this is an absence of "
            "evidence, not evidence that the scheme did nothing.")


def displacement_verdict_text(a: InterventionAnalysis) -> str:
    """The verdict's sentence on the buffer ring (WDD and WDQ)."""
    t = a.disp.table
    w = t.loc["wdd_displacement"]
    nums = f"WDD {w['estimate']:+.0f} crimes, {p_text(w['p_value'])}; WDQ {t.loc['wdq', 'estimate']:.2f}"
    if w["p_value"] < ALPHA and w["estimate"] > 0:
        return (f" Crime in the buffer around the area rose relative to the comparison area ({nums}), "
                "which may be displacement.")
    if w["p_value"] < ALPHA:
        return (f" Crime in the buffer also fell relative to the comparison area ({nums}): a possible "
                "diffusion of benefits.")
    return (f" Crime in the surrounding buffer changed much as in the comparison area ({nums}): no sign "
            "of crime being displaced into it, nor of benefits spreading to it.")


def what_would_help(a: InterventionAnalysis) -> str:
    """What data would let the report answer (or '')."""
    cov = a.cov
    need = []
    if cov.n_pre < idata.MIN_PRE:
        need.append(f"at least {idata.MIN_PRE} (better {idata.MIN_PRE_SEASONAL}) consecutive months of street-level "
                    f"data before {month_text(cov.start)}")
    if cov.n_post < idata.MIN_POST:
        need.append(f"at least {idata.MIN_POST} months after {month_text(cov.effective_start)}")
    if not need:
        return ""
    return ("To answer it, the store needs " + join_and(need) + " (data.police.uk keeps about three years of monthly "
            "files online; older months are in its archive files), or the partnership's own records for the period.")


# ============================================================================ tables
def _pct_row(method: str, est=np.nan, lo=np.nan, hi=np.nan, p=np.nan, note: str = "") -> dict:
    return {"Method": method, "Estimate (% change)": est, "Lower 95% (% change)": lo,
            "Upper 95% (% change)": hi, "p-value": p, "Note": note}


def estimates_table(a: InterventionAnalysis) -> pd.DataFrame:
    """Every estimate in one table (% change = (rate ratio - 1) x 100), with a note on each."""
    rows = []
    if a.mde is not None:
        t = a.mde.table
        rows.append(_pct_row(M_MDE, note=f"not an estimate: the smallest fall "
                                         f"({float(t.loc['mde_decrease', 'estimate']):.1f}%) or rise "
                                         f"(+{float(t.loc['mde_increase', 'estimate']):.1f}%) these data could "
                                         "detect with 80% power"))
    if a.its is not None:
        r = a.its.table.loc["level_change"]
        rows.append(_pct_row(M_ITS, 100 * (r["estimate"] - 1), 100 * (r["lower"] - 1), 100 * (r["upper"] - 1),
                             float(r["p_value"]), a.its.method + "; step change"))
    if a.did_adj is not None:
        r = a.did_adj
        rows.append(_pct_row(M_DID, 100 * (r["estimate"] - 1), 100 * (r["lower"] - 1), 100 * (r["upper"] - 1),
                             float(r["p_value"]),
                             "Poisson GLM with place and month fixed effects; interval and p-value: " + r["basis"]
                             + ("" if r["calibrated"] else " (cannot be relied on to hold its 95% level here)")))
    if a.sc is not None:
        rows.append(_pct_row(M_SC, 100 * (a.sc_ratio - 1), p=float(a.sc.p_value),
                             note="permutation (placebo-in-space) p-value; no confidence interval"))
    if a.disp is not None:
        w = a.disp.table.loc["wdd_displacement"]
        rows.append(_pct_row(M_DISP, p=float(w["p_value"]),
                             note=f"buffer's change relative to the control area: {w['estimate']:+.0f} crimes "
                                  f"(95% CI {w['lower']:+.0f} to {w['upper']:+.0f}; WDQ "
                                  f"{a.disp.table.loc['wdq', 'estimate']:.2f})"))
    if a.placebo is not None:
        n = len(a.placebo.table)
        rows.append(_pct_row(M_PLACEBO, note=("real estimate larger than every placebo estimate"
                                              if a.placebo.real_is_unusual
                                              else "real estimate NOT unusual among placebo estimates")
                             + f" ({n} fake starts: rank p-value {a.placebo.rank_p_value:.3f}, "
                               f"the smallest possible being {1 / (n + 1):.3f})"))
    out = pd.DataFrame(rows)
    if len(out):
        out["p-value"] = out["p-value"].map(p_cell)
    return out


def summary_table(results: list[InterventionAnalysis]) -> pd.DataFrame:
    """One row per intervention: when, what, the months usable, the two estimates and the verdict."""
    rows = []
    for r in results:
        iv = r.iv
        row = {
            "Intervention": iv.name, "Start": pd.Timestamp(iv.start),
            "End": pd.Timestamp(iv.end) if iv.end else pd.NaT,
            "Target crimes": r.data.type_label,
            "Usable months before / after": f"{r.cov.n_pre} / {r.cov.n_post}",
            "Change (time series, %)": np.nan, "Change (comparison, %)": np.nan,
            "Verdict": r.verdict_short,
        }
        e = effect(r, M_ITS)
        if e:
            row["Change (time series, %)"] = 100 * (e[0] - 1)
        e = effect(r, M_DID)
        if e:
            row["Change (comparison, %)"] = 100 * (e[0] - 1)
        rows.append(row)
    return pd.DataFrame(rows)


def _period_label(a: InterventionAnalysis, m: pd.Timestamp) -> str:
    """Which part of the evaluation a month belongs to (for the monthly series table)."""
    cov = a.cov
    end = pd.Timestamp(a.iv.end) if a.iv.end else None
    if not cov.can_model:
        if end is not None and m > end:
            return "after the scheme ended"
        if m >= cov.effective_start:
            return "after the start"
        if m >= cov.start:
            return "phase-in"
        return "before the start"
    if m in set(cov.pre):
        return "before"
    if m in set(cov.phase_in):
        return "phase-in (not used)"
    if m in set(cov.post):
        return "after"
    if end is not None and m > end:
        return "after the scheme ended (not used)"
    if m >= cov.effective_start:
        return "after a gap (not used)"
    if cov.pre and m < min(cov.pre):
        return "before a gap (not used)"
    return "not used"


def series_table(a: InterventionAnalysis) -> pd.DataFrame | None:
    """Monthly counts by area over the usable months, with each month's period (None without data)."""
    d = a.data
    if not d.usable:
        return None
    t = pd.DataFrame({"Month": pd.DatetimeIndex(d.usable)})
    t["Treated area"] = d.treated.reindex(d.usable).to_numpy()
    if d.buffer is not None:
        t["Buffer"] = d.buffer.reindex(d.usable).to_numpy()
    if d.comparison is not None:
        t["Comparison area"] = d.comparison.reindex(d.usable).to_numpy()
    t["Period"] = [_period_label(a, m) for m in t["Month"]]
    return t


def displacement_counts_table(a: InterventionAnalysis) -> pd.DataFrame:
    """The before/after counts by area behind the WDQ and WDD."""
    tab = a.disp.counts.astype(np.int64).reset_index().rename(
        columns={"index": "Area", "before": "Before", "after": "After", "change": "Change"})
    tab["Area"] = tab["Area"].map({"target": "Treated area", "buffer": "Buffer", "control": "Control (comparison)",
                                   "control_buffer": "Control buffer"}).fillna(tab["Area"])
    return tab


def sc_weights_table(a: InterventionAnalysis) -> pd.DataFrame:
    """Donor weights above 0.001, largest first."""
    tw = a.sc.weights.sort_values(ascending=False).reset_index()
    tw.columns = ["Donor", "Weight"]
    return tw[tw["Weight"] > 0.001]


# ============================================================================ summary
def no_interventions_text(slug: str) -> str:
    return ("## Summary\n\nNo interventions are declared in this partnership's parameters "
            f"(`params/{slug}.yaml`, field `interventions`). Add one (name, start month, area, target crime "
            "types) to have it evaluated here.")


def summary_text(name: str, results: list[InterventionAnalysis]) -> str:
    n_ok = sum(r.cov.can_model for r in results)
    return ("## Summary\n\n"
            f"{len(results)} intervention(s) are declared for {name}. For each one this report first asks whether the "
            "data *could* show an effect (enough months before and after the start, and how large a change would be "
            "detectable), and only then estimates the change with designs that guard against different mistakes. "
            f"The data can support an evaluation of **{n_ok} of {len(results)}**.")


SUMMARY_NOTE = ("Changes are relative to what the before period (time series) or the comparison area "
                "(difference-in-differences) imply; negative = fewer crimes than expected.")


def headline(r: InterventionAnalysis) -> tuple[float | None, str]:
    """(value, sentence) of an intervention's headline: the DiD's change, else the ITS's."""
    best = effect(r, M_DID) or effect(r, M_ITS)
    val = round(100 * (best[0] - 1), 1) if best else None
    return val, r.verdict_short + (f" Estimated change {change_text(best[0])} ({ci_text(best[1], best[2])})."
                                   if best else "")


# ============================================================================ one intervention
def intervention_intro(a: InterventionAnalysis) -> str:
    iv, d = a.iv, a.data
    when = f"from {month_text(iv.start)}" + (f" to {month_text(iv.end)}" if iv.end else " (no end date)")
    if iv.phase_in_months:
        when += f"; the first {iv.phase_in_months} month(s) are a phase-in period, left out of the estimates"
    return (f"## {a.index}. {iv.name}\n\n" + (f"{iv.description}\n\n" if iv.description else "") +
            f"**When:** {when}. **Target crimes:** {d.type_label}.  \n**Where:** " + " ".join(d.notes))


def no_series_text(full: pd.DatetimeIndex) -> str:
    return (f"The store has no usable month of data for this area in the analysis window "
            f"({full[0]:%B %Y} to {full[-1]:%B %Y}), so there is no series to show.")


def series_text(a: InterventionAnalysis, full: pd.DatetimeIndex) -> str:
    """What the data cover: usable months, the before and after periods and their mean counts."""
    d, cov = a.data, a.cov
    txt = (f"The store has usable data for {len(d.usable)} of the {len(full)} months of the analysis window "
           f"({idata.month_range_text(d.usable)}).")
    if cov.can_model:
        txt += (f" **Before** the start: {cov.n_pre} months ({idata.month_range_text(cov.pre)}), with "
                f"{d.treated.reindex(cov.pre).mean():.1f} target crimes a month on average. **After**: {cov.n_post} "
                f"months ({idata.month_range_text(cov.post)}), {d.treated.reindex(cov.post).mean():.1f} a month.")
    return txt


def skipped_text(a: InterventionAnalysis, method: str, lead: str, default: str) -> str:
    """'Not fitted: no donor pool: ...' - why a design was not run."""
    return f"{lead}{a.skipped.get(method, default)}."


# ---------------------------------------------------------------- minimum detectable effect
def mde_text(a: InterventionAnalysis) -> str:
    t = a.mde.table
    dec, inc = abs(t.loc["mde_decrease", "estimate"]), t.loc["mde_increase", "estimate"]
    return (
        f"**With this much data, only changes larger than about {dec:.0f}% (a fall) or {inc:.0f}% (a rise) could "
        "be detected.** That is the smallest step change that an interrupted time series of "
        f"{a.mde.n_pre} consecutive months before and {a.cov.n_post} after (about {a.mde.mean_pre:.0f} target crimes a "
        f"month, and month-to-month variation {a.mde.dispersion:.2f} times what chance alone gives) would find with 80% power at the 5% level. "
        "The power was found by simulating the after period from the before period's own trend, season, variability and "
        "month-to-month correlation, and analysing each simulated series as below. A real effect "
        "smaller than that would usually be missed, so a 'no significant change' result below cannot rule it out."
    )


def mde_headline(a: InterventionAnalysis) -> tuple[str, float, str]:
    """(label, value, sentence) of the minimum detectable fall headline."""
    dec = abs(a.mde.table.loc["mde_decrease", "estimate"])
    return (f"{a.iv.name}: minimum detectable fall (%)", round(float(dec), 1),
            f"With this much data only a fall larger than about {dec:.0f}% in {a.data.type_label} could be "
            "detected (80% power, 5% level).")


# ---------------------------------------------------------------- interrupted time series
def its_model_text(a: InterventionAnalysis) -> str:
    """The model, its inference and (with small counts) why the interval is approximate."""
    r = a.its
    disp = r.diagnostics["dispersion"]
    season = ("a linear trend, one term for each calendar month (the seasonal pattern)" if r.seasonality
              else "a linear trend (no seasonal terms: fewer than 24 months before the start)")
    lag1 = r.diagnostics.get("serial_lag1", float("nan"))
    fam = (f"Crime counts vary more than pure chance (here the dispersion is {disp:.2f}; 1 = chance alone) and "
           "busy and quiet spells run on from one month to the next"
           + (f" (estimated month-to-month correlation {lag1:.2f})" if np.isfinite(lag1) else "")
           + ". The interval and p-value allow for both (autocorrelation-robust standard errors); in simulations of "
           "series like this one they hold their stated 95% level.")
    mean_pre = float(np.nanmean(r.counterfactual.loc[~r.counterfactual["post"], "observed"]))
    if np.isfinite(mean_pre) and mean_pre < SMALL_COUNT:
        fam += (f" With so few crimes a month (about {mean_pre:.0f} before the start), that calibration cannot be "
                "guaranteed: treat the interval as approximate.")
    return ("Model: Poisson-type regression of the monthly count "
            f"(as a rate per day, so months of different lengths compare fairly) on {season}, and a step change from "
            f"{month_text(a.cov.effective_start)}. {fam} A negative binomial model and other variants are shown below "
            "as checks.")


def its_result_text(a: InterventionAnalysis) -> str:
    r = a.its
    lv = r.table.loc["level_change"]
    pdiff = r.table.loc["post_period_difference"]
    return (
        f"**After the start, {a.data.type_label} in the area were {change_text(lv['estimate'])} than the before-period "
        f"trend and season predict** (rate ratio {lv['estimate']:.2f}, {ci_text(lv['lower'], lv['upper'])}; "
        f"{p_text(lv['p_value'])}: {chance_text(lv['p_value'])}). Over the {r.diagnostics['n_post_used']} months after "
        f"the start that is about {abs(pdiff['estimate']):,.0f} {'fewer' if pdiff['estimate'] < 0 else 'more'} crimes "
        f"than the counterfactual (95% CI {pdiff['lower']:+,.0f} to {pdiff['upper']:+,.0f})."
    )


def its_diagnostics_text(a: InterventionAnalysis) -> str:
    """'**Diagnostics:** ...' from the ITS's warnings (or '')."""
    r = a.its
    notes = []
    for w in r.warnings:
        if "autocorrelated" in w and "allow for this" in w:
            w = (f"What the model leaves unexplained is correlated from one month to the next (Ljung-Box test "
                 f"{p_text(r.diagnostics['ljung_box_p'])}); the interval above already allows for this.")
        elif "autocorrelated" in w and a.its_hac is not None:
            h = a.its_hac.table.loc["level_change"]
            w = (f"What the model leaves unexplained is correlated from one month to the next (Ljung-Box test "
                 f"{p_text(r.diagnostics['ljung_box_p'])}), so the interval above may be too narrow. With Newey-West "
                 f"standard errors, which allow for this, the change is {change_text(h['estimate'])} "
                 f"({ci_text(h['lower'], h['upper'])}; {p_text(h['p_value'])}).")
        notes.append(w)
    return ("**Diagnostics:** " + " ".join(notes)) if notes else ""


ITS_SENSITIVITY_CAPTION = "Interrupted time series: the main model and variants (level change as a rate ratio)."
ITS_SENSITIVITY_NOTE = ("If the variants broadly agree, the result does not hinge on one modelling choice. "
                        "The 'level and slope' variant measures the level change at the first month, which "
                        "is less precise; its average change over the after period is comparable with the "
                        "main model's.")


# ---------------------------------------------------------------- difference-in-differences
def did_design_text(a: InterventionAnalysis) -> str:
    d = a.data
    clus = ("place (LSOA)" if d.cluster == "unit" else "district") + (
        "; comparison places grouped into their MSOAs" if a.did_frame["unit"].astype(str).str.startswith("MSOA ").any()
        else "")
    n_treated = int(a.did_frame.loc[a.did_frame["treated"] == 1, "unit"].nunique())
    return (
        f"Comparison area: {d.comparison_label}. Model: Poisson regression of each place's monthly count with a "
        "fixed effect for every place and every month (so differences in level between places, and changes "
        f"shared by all places, such as the season, drop out), standard errors clustered by {clus} "
        f"({a.did.n_clusters} clusters, {n_treated} of them treated); this allows for over-dispersion and for "
        "correlation between a place's months."
    )


def did_inference_text(a: InterventionAnalysis) -> str:
    """How far the DiD's interval can be trusted: calibrated bootstrap, uncalibrated bootstrap, model-based."""
    if a.did_adj["calibrated"]:
        return (
            "The interval and p-value come from a wild cluster bootstrap, which stays close to its stated level "
            "when only a few places are treated: in simulations of over-dispersed, month-to-month correlated counts "
            "with 5 treated of 20 places over 5 years, it called 4-7% of no-effect panels 'unlikely to be chance' "
            "and its 95% interval held the true effect 92-98% of the time. In a harder case (8 small treated places "
            "of very different sizes, only 6 months after the start) it called about 8% 'unlikely to be chance', "
            "so a p-value near 0.05 is weak evidence."
        )
    if a.did.inference == "wild_bootstrap":
        return (
            "The interval and p-value come from a wild cluster bootstrap, but **with so few treated (or comparison) "
            "clusters no interval of this kind can be relied on to hold its stated 95% level**: it tends to be too "
            "wide, so a real effect can be missed. Read this estimate as indicative."
        )
    return (
        "There are too few clusters for cluster-based inference, so quasi-Poisson model-based standard errors "
        "are used; "
        "**they assume a place's months vary independently and cannot be relied on to hold the stated 95% "
        "level** when counts are correlated over time. Read this estimate as indicative."
    )


def did_result_text(a: InterventionAnalysis) -> str:
    r = a.did_adj
    return (
        f"**Relative to the comparison area, {a.data.type_label} in the treated area were {change_text(r['estimate'])} "
        f"than expected after the start** (ratio of rate ratios {r['estimate']:.2f}, "
        f"{ci_text(r['lower'], r['upper'])}; {p_text(r['p_value'])}: {chance_text(r['p_value'])})."
    )


def did_pretrend_text(a: InterventionAnalysis) -> str:
    """The pre-trend check (the DiD's own pre_trend_difference row and joint test), or ''."""
    pt = a.did_pretrend
    if pt is None:
        return ""
    ok = pt["p_value"] >= ALPHA
    monthly = 100 * (pt["estimate"] - 1)
    joint = a.did.pretrend or {}
    joint_txt = (f" A joint test that the treated and comparison areas differed in no month before the start "
                 f"gives {p_text(joint['p_value'])}." if np.isfinite(joint.get("p_value", np.nan)) else "")
    return (f"Pre-trend check: before the start, the treated area's trend differed from the comparison area's by "
            f"{monthly:+.1f}% a month ({ci_text(pt['lower'], pt['upper'], dp=1)}; {p_text(pt['p_value'])})."
            + joint_txt + " "
            + ("No clear evidence that the two areas were already moving apart before the start."
               if ok else "**The two areas were already moving apart before the start**, so the comparison is a "
                          "weaker guide to what would have happened."))


def did_notes_text(a: InterventionAnalysis) -> str:
    warn = [w for w in a.did.warnings if "over-dispersed" not in w]
    return ("**Notes:** " + " ".join(warn)) if warn else ""


DID_EVENT_CAPTION = ("Each point compares the treated area with the comparison area in one month, relative to the "
                     "month before the start. Look for a shift between the points before the start and those after "
                     "it: when monthly counts are small, the reference month is itself noisy, so all the points can "
                     "sit above or below 1 together.")


# ---------------------------------------------------------------- synthetic control
def sc_fit_text(a: InterventionAnalysis) -> str:
    sc, d = a.sc, a.data
    w = sc.weights[sc.weights > 0.01].sort_values(ascending=False)
    noise = sc_noise(a)
    fit_ok = sc.pre_rmspe <= 1.5 * noise
    return (
        f"A weighted combination of {len(sc.weights)} donors ({d.donor_kind}) chosen to track the treated area "
        "before the start; every series is indexed to its own before-period average (= 100), so donors of any size "
        f"can contribute. Largest weights: {', '.join(f'{k} ({v:.0%})' for k, v in w.head(5).items())}. "
        f"Before the start the synthetic area tracks the treated one with a typical error of {sc.pre_rmspe:.1f} "
        f"index points (month-to-month chance variation alone would give about {noise:.1f})"
        + ("." if fit_ok else " — **a poor fit**, so its after-period gap is not a reliable estimate.")
    )


def sc_result_text(a: InterventionAnalysis) -> str:
    sc = a.sc
    n = len(sc.weights)
    return (
        f"**After the start the treated area was {change_text(a.sc_ratio)} than its synthetic control.** Permutation "
        f"p-value {sc.p_value:.3f} (the treated area's after/before error ratio ranked against each donor treated "
        f"as if it had had the scheme; the smallest possible with {n} donors is "
        f"{1 / (n + 1):.3f}). There is no confidence interval for this method."
        + (f" With only {n} donors the p-value cannot fall below "
           f"{1 / (n + 1):.3f}, so this check cannot reach the usual 5% level on its own."
           if 1 / (n + 1) > ALPHA else "")
    )


# ---------------------------------------------------------------- displacement
def displacement_window_text(a: InterventionAnalysis) -> str:
    before, after = a.disp_window
    return (f"Counts of {a.data.type_label} in the {len(before)} months before ({idata.month_range_text(before)}) and "
            f"the {len(after)} months after ({idata.month_range_text(after)}) the start, in the treated area, the "
            "buffer around it and the comparison (control) area.")


def displacement_text(a: InterventionAnalysis) -> str:
    t = a.disp.table
    wt, wdisp, w = t.loc["wdd_target"], t.loc["wdd_displacement"], t.loc["wdd"]
    interp = a.disp.interpretation
    return (
        f"**Weighted Displacement Quotient (Bowers & Johnson 2003): {t.loc['wdq', 'estimate']:.2f}.** "
        + (f"{interp} "
           if wdisp["p_value"] < ALPHA or not np.isfinite(wdisp["p_value"]) else
           "Read by its sign alone it would suggest: " + interp[0].lower()
           + interp[1:].rstrip(".") + "; but the buffer's change relative to the control area could "
           "well be chance (test below), so there is no clear displacement or diffusion of benefits. ")
        + "(The WDQ itself has no significance test.)  \n"
        f"**Weighted Displacement Difference test (Wheeler & Ratcliffe 2018):** relative to the control area, the "
        f"treated area had {wt['estimate']:+.0f} crimes (95% CI {wt['lower']:+.0f} to {wt['upper']:+.0f}; "
        f"{p_text(wt['p_value'])}) and the buffer {wdisp['estimate']:+.0f} (95% CI {wdisp['lower']:+.0f} to "
        f"{wdisp['upper']:+.0f}; {p_text(wdisp['p_value'])}); together {w['estimate']:+.0f} ({p_text(w['p_value'])}). "
        "Without a buffer around the control area, the buffer's change is not adjusted for the general trend, and "
        "the test assumes Poisson counts (real counts vary more, so its p-values are optimistic)."
    )


# ---------------------------------------------------------------- placebo-in-time
def placebo_text(a: InterventionAnalysis) -> str:
    pl = a.placebo
    n = len(pl.table)
    n_sig = int(round(pl.share_significant * n))
    return (
        f"The time-series model was refitted to the before period only, pretending the scheme started at each of "
        f"{n} fake dates ({month_text(pl.table['fake_start'].iloc[0].to_timestamp())} to "
        f"{month_text(pl.table['fake_start'].iloc[-1].to_timestamp())}). Nothing happened then, so these 'effects' "
        f"show how big a change arises by chance or from a wrong model. {n_sig} of {n} were 'significant' (about 5% "
        "would be expected; neighbouring fake dates give similar answers, so this is a rough guide). "
        + ("**The real estimate is larger than every placebo estimate**: a change of this size was not seen at other "
           "times before the scheme." if pl.real_is_unusual else
           "**The real estimate is not unusual among the placebo estimates**: changes of this size also happened "
           "before the scheme, when nothing changed, so it should not be attributed to the scheme on this evidence.")
        + f" (Rank p-value {pl.rank_p_value:.3f}; the smallest possible with {n} fake dates is {1 / (n + 1):.3f}.)"
    )


# ---------------------------------------------------------------- methods
def methods_text() -> str:
    """How the report works: the rules and the references."""
    return (
        "## How this report works\n\n"
        "**Series.** Records are counted by the LSOA where they were recorded (data.police.uk's anonymised, snapped "
        "locations). Street files up to 2022 carry 2011 LSOA codes and later files 2021 codes: LSOAs whose code did "
        "not change are used as they are, and LSOAs that were split, merged or redrawn are joined into one stable "
        "place (linked by nearest centroid within the district), so no series jumps at the change of codes. "
        "The buffer is the ring of places whose centroid lies within the chosen distance of a treated LSOA's "
        "centroid (supplied centroids where the store has them, else the average of the records' own coordinates). "
        "Months with no published file are gaps, never filled in; months the data-quality checks mark as extract "
        "errors are left out.\n\n"
        f"**When the data cannot answer.** No model is fitted unless there are at least {idata.MIN_PRE} usable "
        f"months before the start and {idata.MIN_POST} after it (after any phase-in), with at least "
        f"{idata.MIN_PRE_TOTAL} target crimes before. Seasonal terms and placebo checks need "
        f"{idata.MIN_PRE_SEASONAL} months before. A gap of more than {idata.MAX_GAP} months ends the before or after "
        "period (a trend cannot be projected across a long gap). For a scheme with an end date, only months up to "
        "the end are used. A synthetic control needs at least "
        f"{idata.MIN_DONORS} donors with {idata.MIN_DONOR_MEAN:g}+ target crimes a month.\n\n"
        "**Methods.** Minimum detectable effect: simulated power of the time-series step change under the "
        "before period's own variability and autocorrelation (Zhang, Wagner & Ross-Degnan 2011; Bloom 1995). "
        "Interrupted time series: segmented quasi-Poisson regression (Lopez Bernal, Cummins & Gasparrini 2017; "
        "Wagner et al. 2002) with autocorrelation-robust standard errors (Zeger 1988; Liang & Zeger 1986). "
        "Difference-in-differences: Poisson with place and month "
        "fixed effects and cluster-robust errors (Wooldridge 2023; Bertrand, Duflo & Mullainathan 2004). Synthetic "
        "control: Abadie, Diamond & Hainmueller (2010). Displacement: Bowers & Johnson (2003); Wheeler & Ratcliffe "
        "(2018). Placebo-in-time checks: Abadie, Diamond & Hainmueller (2015); Lopez Bernal, Cummins & Gasparrini "
        "(2018). 'Unlikely to be chance' means p < 0.05; every estimate comes with its 95% confidence interval."
    )
