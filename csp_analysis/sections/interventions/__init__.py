"""The intervention report (``03_intervention_effects``): did the scheme change the numbers?

For every intervention in the partnership's parameters, in this order:

1. the target series (the treated area's monthly count of the target crime types) with the
   scheme's window shaded, and what the data cover;
2. the **minimum detectable effect** first: with this much data, how large a change could
   have been detected at all (:func:`csp_analysis.interventions.minimum_detectable_effect`);
3. the **interrupted time series** (quasi-Poisson segmented regression on counts per day,
   linear trend, one term per calendar month for the season, a step change at the start,
   autocorrelation-robust standard errors), with its counterfactual chart and a sensitivity
   table (negative binomial, a slope change, no seasonal terms, months treated as independent);
4. the **comparison-area difference-in-differences** (Poisson with place and month fixed
   effects, standard errors clustered by place; event study and pre-trend check);
5. a **synthetic control** when a donor pool exists (series indexed to their own
   before-period average);
6. **displacement or diffusion of benefits** into a buffer ring (WDQ and WDD test);
7. **placebo-in-time** checks (fake start dates in the before period);
8. a **verdict** in plain English: what the evidence does and does not show.

Where the data cannot support a model (too few months before or after the start, gaps;
rules in :mod:`csp_analysis.intervention_data`), the section says so plainly and fits nothing.
All series are built by :func:`csp_analysis.intervention_data.build_intervention_data`.

The package is split as compute then render:

* :mod:`.compute` - load (the data layer) and fit (pure functions to the estimators' own
  result objects; :class:`InterventionAnalysis`, :func:`~.compute.assess_evidence`);
* :mod:`.charts` - one matplotlib figure per function, from a computed result;
* :mod:`.wording` - sentences, verdicts, notes and the text tables, from a computed result;
* this module - the section functions the notebook calls, each compute -> charts ->
  wording -> ``ctx`` output.

Usage (thin notebook)::

    res = interventions.analyse(ctx)
    interventions.summary(ctx, res)
    for item in res:
        interventions.intervention_report(ctx, item)
    interventions.methods(ctx)
"""
from __future__ import annotations

import warnings

import pandas as pd

from . import charts, compute, wording
from .compute import (  # noqa: F401 - the section's public names, as before the split
    ALPHA, HAC_LABEL, HAC_LAGS, M_DID, M_DISP, M_ITS, M_MDE, M_PLACEBO, M_SC, MAX_DID_COMPARISON_UNITS, OUTCOME,
    SMALL_COUNT, Evidence, InterventionAnalysis,
)

__all__ = [
    "InterventionAnalysis", "analyse", "summary", "intervention_report", "series_chart", "mde_section",
    "its_section", "did_section", "sc_section", "displacement_section", "placebo_section", "methods",
    "compute", "charts", "wording",
]


# ============================================================================ analysis
def analyse(ctx) -> list[InterventionAnalysis]:
    """Build the series and fit every design the data can support, for each intervention.

    Per intervention: load (:func:`~.compute.load_intervention_data`, the data layer) ->
    fit (:func:`~.compute.analyse_intervention`, pure) -> the estimates table and the
    verdict (:mod:`.wording`).
    """
    out = []
    for i, iv in enumerate(ctx.params.interventions, start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = compute.analyse_intervention(compute.load_intervention_data(ctx, iv), i)
            if a.cov.can_model:
                a.estimates = wording.estimates_table(a)
            wording.write_verdict(a)
        out.append(a)
    return out


# ============================================================================ rendering
def summary(ctx, results: list[InterventionAnalysis]) -> None:
    """Opening summary: one row per intervention, with the verdict, and headline figures."""
    p = ctx.params
    if not results:
        ctx.say(wording.no_interventions_text(p.slug))
        ctx.headline("interventions_evaluated", "Interventions evaluated", 0,
                     "No interventions are declared in the parameters.")
        return
    ctx.say(wording.summary_text(p.name, results))
    ctx.table(wording.summary_table(results), "summary", "The interventions and what the data say about them.",
              note=wording.SUMMARY_NOTE)
    for r in results:
        val, sentence = wording.headline(r)
        ctx.headline(f"intervention_{r.index}", f"{r.iv.name}", val, sentence, finding=r.finding)


def intervention_report(ctx, a: InterventionAnalysis) -> None:
    """The full section for one intervention."""
    ctx.say(wording.intervention_intro(a))
    series_chart(ctx, a)
    if not a.cov.can_model:
        ctx.say("### What the data can say\n\n" + a.verdict)
        _series_table(ctx, a)
        return
    if a.cov.cautions:
        ctx.say("**Data notes:** " + " ".join(a.cov.cautions))
    mde_section(ctx, a)
    its_section(ctx, a)
    did_section(ctx, a)
    sc_section(ctx, a)
    displacement_section(ctx, a)
    placebo_section(ctx, a)
    ctx.say(f"### Verdict\n\n{a.verdict}")
    if a.estimates is not None and len(a.estimates):
        ctx.table(a.estimates, f"iv{a.index}_estimates", f"{a.iv.name}: every estimate in one table.",
                  note="% change = (rate ratio - 1) x 100; negative means fewer crimes than expected.")
    _series_table(ctx, a)


def _series_table(ctx, a: InterventionAnalysis) -> None:
    t = wording.series_table(a)
    if t is None:  # nothing to tabulate; series_chart has said so
        return
    ctx.table(t, f"iv{a.index}_monthly_series", f"{a.iv.name}: monthly counts of {a.data.type_label} by area "
              "(months in the store that passed the quality checks).", max_rows=6)


def series_chart(ctx, a: InterventionAnalysis) -> None:
    """The treated area's monthly target crimes with the scheme's window shaded."""
    p = ctx.params
    full = pd.date_range(p.start, p.end, freq="MS")
    if not a.data.usable:
        ctx.say(wording.no_series_text(full))
        return
    ctx.show(charts.series_chart(a, full))
    ctx.say(wording.series_text(a, full))


def mde_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### How large a change could these data detect?")
    if a.mde is None:
        ctx.say(wording.skipped_text(a, M_MDE, "The minimum detectable effect ", "was not computed"))
        return
    ctx.say(wording.mde_text(a))
    label, value, sentence = wording.mde_headline(a)
    ctx.headline(f"intervention_{a.index}_mde", label, value, sentence)


def its_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Interrupted time series: the area against its own past")
    if a.its is None:
        ctx.say(wording.skipped_text(a, M_ITS, "The interrupted time series ", "was not fitted"))
        return
    ctx.say(wording.its_model_text(a))
    ctx.say(wording.its_result_text(a))
    ctx.show(charts.its_chart(a))
    notes = wording.its_diagnostics_text(a)
    if notes:
        ctx.say(notes)
    sens = a.its_sensitivity
    if sens is not None and len(sens) > 1:
        ctx.table(sens, f"iv{a.index}_its_sensitivity", wording.ITS_SENSITIVITY_CAPTION,
                  float_dp={c: (1 if c.endswith("(%)") else 3) for c in sens.columns},
                  note=wording.ITS_SENSITIVITY_NOTE)


def did_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Difference-in-differences: the area against a comparison area")
    if a.did is None:
        ctx.say(wording.skipped_text(a, M_DID, "The comparison-area estimate could not be made: ", "not fitted"))
        return
    ctx.say(wording.did_design_text(a))
    ctx.say(wording.did_inference_text(a))
    ctx.say(wording.did_result_text(a))
    for text in (wording.did_pretrend_text(a), wording.did_notes_text(a)):
        if text:
            ctx.say(text)
    fig = charts.did_event_chart(a)
    if fig is not None:
        ctx.show(fig)
        ctx.say(wording.DID_EVENT_CAPTION)


def sc_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Synthetic control")
    if a.sc is None:
        ctx.say(wording.skipped_text(a, M_SC, "Not fitted: ", "no donor pool"))
        return
    ctx.say(wording.sc_fit_text(a))
    ctx.say(wording.sc_result_text(a))
    ctx.show(charts.sc_chart(a))
    ctx.table(wording.sc_weights_table(a), f"iv{a.index}_sc_weights", "Synthetic control: donor weights.",
              float_dp=3)


def displacement_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Displacement or diffusion of benefits")
    if a.disp is None:
        ctx.say(wording.skipped_text(a, M_DISP, "Not assessed: ", "no buffer"))
        return
    from .. import maps as maps_section

    maps_section.intervention_map(ctx, a.data)  # treated area and buffer on one map
    ctx.say(wording.displacement_window_text(a))
    ctx.say(wording.displacement_text(a))
    ctx.table(wording.displacement_counts_table(a), f"iv{a.index}_displacement",
              "Target crimes before and after the start, by area (equal-length periods).")


def placebo_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Placebo checks: fake start dates")
    if a.placebo is None:
        ctx.say(wording.skipped_text(a, M_PLACEBO, "Not run: ", "no model"))
        return
    ctx.say(wording.placebo_text(a))
    ctx.show(charts.placebo_chart(a))


def methods(ctx) -> None:
    """How the report works: the rules and the references."""
    ctx.say(wording.methods_text())


# ============================================================================ former private names
# Kept so that code written against the single-module section keeps working.
def _fit_all(a: InterventionAnalysis) -> None:
    compute.fit_all(a)
    a.estimates = wording.estimates_table(a)


_chg, _ci, _chance, _ptxt, _m = (wording.change_text, wording.ci_text, wording.chance_text, compute.p_cell,
                                 wording.month_text)
_title, _shade = charts.wrap_title, charts.shade_scheme
_its_frame, _its_kwargs = compute.its_frame, compute.its_kwargs
_did_adjusted, _did_calibrated, _effect = compute.did_adjusted, compute.did_calibrated, compute.effect
_estimates_table, _verdict, _what_would_help = wording.estimates_table, wording.write_verdict, wording.what_would_help
