"""The trends report's section functions: each is load/compute -> charts -> wording -> ``ctx`` output."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...formatting import not_enough_data, slugify
from . import charts, compute, load, tables, wording
from .compute import TrendsResult
from .constants import ALL_CRIME, ASB, MIN_CHART_MONTHS, MIN_STL_MONTHS
from .periods import to_period as _to_period
from .wording import cap, label

__all__ = ["analyse", "summary", "data_quality", "headline_table", "priority_sections", "long_run",
           "hot_spots", "hot_spot_data"]


# ============================================================================ analysis
def analyse(ctx) -> TrendsResult:
    """Compute everything the trends report shows for ``ctx.params`` (no output).

    Load (:mod:`.load`, through the data layer) -> prepare (months, flags, window) -> load
    England and Wales when every force's file covers the months compared -> compute."""
    inputs = load.load_trends_inputs(ctx.con, ctx.params)
    prepared = compute.prepare(inputs)
    nat_in = compute.national_months_to_use(prepared["months"], prepared["latest"], prepared["lag"],
                                            inputs.national[0])
    national = load.load_national(ctx.con, nat_in) if nat_in is not None else None
    return compute.compute_trends(inputs, prepared, national)


def hot_spot_data(con, params, res: TrendsResult, measure: str) -> dict | None:
    """Top LSOAs and street locations, concentration and the top-10 changes for one measure.

    Uses the partnership's matched months for the measure (the headline comparison).
    Returns None when there are no matched months.
    """
    mm = res.matches.get((res.partnership, measure))
    if mm is None or not mm.a:
        return None
    a, b = _to_period(mm.a), _to_period(mm.b)
    recs, c11, c21, names = load.load_hot_spot_records(con, params.lad_codes, measure, a, b)
    return compute.hot_spots_from_records(recs, c11, c21, names, a, b)


# ============================================================================ summary
def summary(ctx, res: TrendsResult) -> None:
    """The plain-English summary at the top of the report, generated from the results."""
    h = res.headline
    part = h[(h["area"] == res.partnership) & (h["months_compared"] > 0)]
    ctx.say("## Summary")
    if not len(part):
        ctx.say(wording.no_comparison_sentence(0))
    else:
        ctx.say(wording.summary_changes(res, part))
    for text in (wording.summary_long_run(res), wording.summary_caveats(res)):
        if text:
            ctx.say(text)


# ============================================================================ data quality
def _flags_section(ctx, res: TrendsResult) -> None:
    f = res.flags.copy()
    final = np.array([pd.Period(m, freq="M") in set(res.excluded.get(k, []))
                      for m, k in zip(f["month"], f["series"])], dtype=bool)
    for text in (wording.excluded_sentence(f[f["exclude"]]), wording.kept_sentence(f[~final])):
        if text:
            ctx.say(text)
    ctx.table(tables.flagged_months_table(f, final), "flagged_months", wording.FLAGGED_TABLE_CAPTION, float_dp=2,
              note=wording.FLAGGED_TABLE_NOTE)


def data_quality(ctx, res: TrendsResult) -> None:
    """Coverage, gaps, flagged months and what was done with them."""
    from .. import overview

    ctx.say("## Data quality")
    cov = overview.data_coverage(ctx)
    if res.flags is None or not len(res.flags):
        ctx.say(wording.NO_FLAGS)
    else:
        _flags_section(ctx, res)
    ex_asb = res.excluded.get(ASB, [])
    overview.monthly_chart(ctx, cov["counts"], excluded={ASB: ex_asb} if ex_asb else None)
    overview.annual_table(ctx, cov["counts"], excluded={m: v for m, v in res.excluded.items() if v} or None)


# ============================================================================ headline table
def _headline_figures(ctx, res: TrendsResult, part: pd.DataFrame) -> None:
    """The headline figure of each key measure's year-on-year change."""
    for _, r in part.iterrows():
        if not (r["measure"] in (ALL_CRIME, ASB) or r["priority"]) or not r["months_compared"] > 0:
            continue
        ctx.headline(f"change_{slugify(r['measure'])}", f"{cap(label(r['measure']))}: % change",
                     round(float(r["percent_change"]), 1) if np.isfinite(r["percent_change"]) else None,
                     wording.headline_change_sentence(res, r), lower=round(float(r["percent_lower"]), 1),
                     upper=round(float(r["percent_upper"]), 1), p_value=float(r["p_value"]),
                     p_adjusted=float(r["p_adjusted"]), n_comparisons=int(r["n_comparisons"]),
                     dispersion=float(r["dispersion"]), method=str(r["method"]),
                     latest=int(r["latest"]), previous=int(r["previous"]),
                     months=int(r["months_compared"]))


def _areas_tables(ctx, res: TrendsResult, part: pd.DataFrame, others: pd.DataFrame) -> None:
    """The force / partnership / district tables: key measures (with the in-brief list), then the rest."""
    both, key = tables.area_rows_ordered(part, others, res.measures, res.priorities)
    key_rows = compute.adjust_family(both[both["measure"].isin(key)])
    n_key = int(key_rows["n_comparisons"].max()) if len(key_rows) else 0
    ctx.table(tables.display_headline(key_rows, partnership=res.partnership), "headline_areas",
              "All crime, ASB and priority crime types: force area, partnership and districts.",
              note=f"p (adjusted): Holm's adjustment over the {n_key} comparisons in this table; the verdict "
                   "and the daggers below rest on it.")
    brief = wording.areas_in_brief(res, key_rows, key, n_key)
    if brief:
        ctx.say(brief)
    other_rows = compute.adjust_family(both[~both["measure"].isin(key)])
    n_other = int(other_rows["n_comparisons"].max()) if len(other_rows) else 0
    ctx.table(tables.display_headline(other_rows, partnership=res.partnership),
              "headline_areas_other_types",
              "Other crime types: force area, partnership and districts.",
              note=f"p (adjusted): Holm's adjustment over the {n_other} comparisons in this table; the "
                   "verdict rests on it.")


def headline_table(ctx, res: TrendsResult) -> None:
    """Latest 12 months against the comparison period: partnership, then force, districts, E&W."""
    h = res.headline
    ctx.say("## Year-on-year change")
    guard = wording.no_months_sentence(len(res.months), "a year-on-year comparison")
    if guard:
        ctx.say(guard)
        return
    ctx.say(wording.headline_intro(res))
    part = h[h["area"] == res.partnership]
    ctx.say(wording.months_compared_sentence(res))
    ctx.say(wording.residents_sentence(res.population))
    _headline_figures(ctx, res, part)
    pt = tables.in_measure_order(part, res.measures)
    n = int(pt["n_comparisons"].max()) if "n_comparisons" in pt and len(pt) else 0
    ctx.table(tables.display_headline(pt, area=False), "headline_partnership",
              f"{res.partnership}: latest period against the comparison period, by crime type.",
              note=wording.partnership_table_note(n))
    others = h[h["area"] != res.partnership]
    ctx.say("### Force, partnership and districts")
    ctx.say(wording.areas_intro(res))
    if len(others):
        _areas_tables(ctx, res, part, others)


# ============================================================================ priority sections
def _monthly_chart(ctx, res: TrendsResult, measure: str) -> None:
    ctx.show(charts.monthly_chart(res, measure, ctx.params.start, ctx.params.end))


def _stl(ctx, res: TrendsResult, measure: str) -> None:
    usable = res.usable(measure)
    run, longest = compute.stl_run(usable, MIN_STL_MONTHS)
    if not run:
        ctx.say(wording.stl_not_shown(longest, MIN_STL_MONTHS))
        return
    dec = compute.decompose_run(res.series.loc[run, measure])
    ctx.show(charts.stl_chart(dec, wording.stl_title(res.partnership, measure, run)))
    ctx.say(wording.stl_sentence(run, len(usable), compute.seasonal_summary(dec)))


def _control_chart(ctx, res: TrendsResult, measure: str) -> pd.DataFrame | None:
    window = compute.chart_window(res.usable(measure))
    months = window["months"]
    guard = not_enough_data(len(months), MIN_CHART_MONTHS, "usable months", "a control chart")
    if guard:
        ctx.say(f"*Control chart:* {guard}")
        return None
    s = res.series.loc[months, measure].astype(float)
    s.index = pd.PeriodIndex(months, freq="M")
    chart, poisson, kind, unit = compute.control_chart_of_record(s, res.population)
    ctx.show(charts.control_chart(chart, wording.control_chart_title(res.partnership, measure, kind), unit))
    ctx.say(wording.control_chart_text(kind, wording.chart_span(window), poisson, chart))
    ctx.say(wording.latest_month_text(res, measure, chart, xmr=poisson is not None))
    return chart


def priority_sections(ctx, res: TrendsResult) -> None:
    """Per priority crime type: monthly chart, seasonal decomposition and control chart."""
    ctx.say("## Priority crime types month by month")
    ctx.say(wording.PRIORITY_INTRO)
    if not len(res.months):
        return
    for measure in res.priorities:
        ctx.say(f"### {cap(label(measure))}")
        row = res.headline[(res.headline["area"] == res.partnership) & (res.headline["measure"] == measure)]
        if len(row) and row.iloc[0]["months_compared"] > 0:
            ctx.say(f"Latest 12 months against the comparison period: {row.iloc[0]['sentence']}")
        _monthly_chart(ctx, res, measure)
        _stl(ctx, res, measure)
        _control_chart(ctx, res, measure)


# ============================================================================ long-run trend
def _long_run_headlines(ctx, lr: pd.DataFrame, priorities) -> None:
    for m in wording.key_measures(priorities):
        r = lr[lr["measure"] == m]
        if len(r) and pd.notna(r.iloc[0].get("annual_change", np.nan)):
            r = r.iloc[0]
            ctx.headline(f"trend_{slugify(m)}", f"{cap(label(m))}: annual % change (long run)",
                         round(float(r["annual_change"]), 1), r["model_sentence"],
                         lower=round(float(r["change_lower"]), 1), upper=round(float(r["change_upper"]), 1),
                         p_value=float(r["change_p"]))


def long_run(ctx, res: TrendsResult) -> None:
    """Annual % change from the count model and Mann-Kendall, every measure."""
    ctx.say("## Long-run trend")
    lr = res.long_run
    guard = wording.long_run_not_shown(lr)
    if guard:
        ctx.say(guard)
        return
    ctx.say(wording.long_run_intro(lr))
    ctx.table(tables.long_run_table(lr, res.priorities), "long_run_trend", wording.long_run_caption(res.partnership),
              note=wording.LONG_RUN_NOTE)
    fig = charts.forest_plot(lr, res.priorities, res.partnership)
    if fig is not None:
        ctx.show(fig)
    bullets = wording.long_run_bullets(lr, res.priorities)
    if bullets:
        ctx.say(bullets)
    _long_run_headlines(ctx, lr, res.priorities)


# ============================================================================ hot spots
def _hot_spot_tables(ctx, measure: str, hs: dict) -> None:
    c = hs["concentration"]
    if len(c):
        ctx.table(tables.concentration_display(c), f"concentration_{slugify(measure)}",
                  wording.concentration_caption(measure), float_dp=2, note=wording.CONCENTRATION_NOTE)
        lat = c[c["period"] == "latest"]
        if len(lat):
            ctx.say(wording.concentration_sentences(lat))
    if len(hs["top_lsoas"]):
        ctx.table(tables.top_display(hs["top_lsoas"], "LSOA"), f"top_lsoas_{slugify(measure)}",
                  wording.top_lsoas_caption(measure), float_dp=2)
        ctx.say("LSOAs: " + wording.entered_left(hs["top_lsoas"]))
    if len(hs["top_streets"]):
        ts = hs["top_streets"]
        ctx.table(tables.top_display(ts, "Street location (LSOA)"), f"top_streets_{slugify(measure)}",
                  wording.top_streets_caption(measure), float_dp=2)
        ctx.say("Street locations: " + wording.entered_left(ts) + wording.street_points_note(ts))


def hot_spots(ctx, res: TrendsResult, measures: list[str] | None = None) -> dict:
    """Top LSOAs and street locations, concentration, entries and exits of the top-10 list."""
    ctx.say("## Hot spots")
    out = {}
    if not len(res.months):
        return out
    measures = measures or [ALL_CRIME, ASB]
    ctx.say(wording.HOT_SPOTS_INTRO)
    for measure in measures:
        hs = hot_spot_data(ctx.con, ctx.params, res, measure)
        ctx.say(f"### {cap(label(measure))}")
        if hs is None:
            ctx.say(wording.hot_spots_not_shown(0))
            continue
        out[measure] = hs
        ctx.say(wording.hot_spot_periods(hs))
        _hot_spot_tables(ctx, measure, hs)
    return out

