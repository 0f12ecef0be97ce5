"""The maps section's functions: load -> compute -> charts -> wording -> ``ctx`` output."""
from __future__ import annotations

import inspect
import time
import warnings

import pandas as pd

from ... import hotspots
from ...formatting import slugify
from ..trends.constants import ALL_CRIME, ASB
from . import charts, compute, load, tables, wording
from .compute import MIN_FOLLOWED, MIN_LSOAS, _latest_usable
from .wording import _md, label


def _show(ctx, fig, alt: str) -> None:
    """Show a figure with its alt text where ``ctx.show`` accepts one; else say it beside the map."""
    try:
        takes_alt = "alt" in inspect.signature(ctx.show).parameters
    except (TypeError, ValueError):
        takes_alt = False
    if takes_alt:
        from ...alt_text import figure_title

        title = figure_title(fig)  # the alt text starts with the chart's own title, as the generated ones do
        if title and not alt.startswith(title):
            alt = f"{title}. {alt}"
        ctx.show(fig, alt=alt)
    else:
        ctx.show(fig)
        ctx.say(f"*Map description:* {_md(alt)}")


# ---------------------------------------------------------------------------- geography
def geography(ctx) -> dict:
    """The partnership's LSOAs (both vintages) with names, centroids (BNG), boundaries and outline."""
    lk, cent, polys = load.load_geography(ctx.con, ctx.params.lad_codes)
    return compute.geography_frame(lk, cent, polys)


def _universe(counts: pd.Series, geo: dict) -> tuple[list[str], str]:
    """LSOA codes to test (the vintage holding most of the records, with a centroid) and the note."""
    u = compute.test_universe(counts, geo["lsoas"])
    return u["codes"], wording.universe_note(u)


# ---------------------------------------------------------------------------- density maps
def density(ctx, res, geo: dict, measure: str) -> dict | None:
    """Density map of one measure: latest 12 months beside the previous 12 (matched months).

    Without matched months in the earlier year, the latest 12 months' usable months alone.
    """
    a, b = compute.density_months(res, measure)
    guard = wording.no_map(len(a), "usable months in the latest 12", measure)
    if guard:
        ctx.say(guard)
        return None
    pts = load.load_points(ctx.con, ctx.params.lad_codes, measure, a, b)
    guard = wording.no_map(len(pts), "records with coordinates in these months", measure)
    if guard:
        ctx.say(guard)
        return None
    pts["x"], pts["y"] = hotspots.to_bng(pts["longitude"], pts["latitude"])
    extent, labels = compute.density_layout(pts, geo)
    fig, alt = charts.density_map(pts, a, b, geo, extent, labels, what=f"{label(measure)} records",
                                  area=ctx.params.name, measure=measure)
    if not b:
        ctx.say(wording.latest_only(measure))
    _show(ctx, fig, alt)
    return {"alt": alt, "n_latest": int((pts["period"] == "latest").sum()),
            "n_previous": int((pts["period"] == "previous").sum()), "extent": extent, "labels": labels}


# ---------------------------------------------------------------------------- tested hot spots
def _test_guard(codes: list[str], cnt: pd.Series, measure: str) -> str | None:
    return (wording.no_test(len(codes), MIN_LSOAS, "LSOAs", measure)
            or wording.no_test(int(cnt.reindex(codes).fillna(0).sum()), 1, "records in those LSOAs", measure))


def tested(ctx, res, geo: dict, measure: str, emerging: bool = False) -> dict | None:
    """Gi* hot spots of one measure in the latest 12 months (usable months), with a map, table and sentences."""
    a = _latest_usable(res, measure)
    guard = wording.no_test(len(a), 1, "usable months in the latest 12", measure)
    if guard:
        ctx.say(guard)
        return None
    bym = load.load_lsoa_months(ctx.con, ctx.params.lad_codes, measure, a)
    cnt = bym.groupby("lsoa_code")["n"].sum()
    codes, unote = _universe(cnt, geo)
    guard = _test_guard(codes, cnt, measure)
    if guard:
        ctx.say(guard)
        return None
    lk = geo["lsoas"].set_index("lsoa_code")
    names = lk["lsoa_name"].dropna().to_dict()
    w, wtext = compute.weights_for(geo, codes)
    r = compute.gi_star_result(cnt, codes, w, compute.monthly_by_lsoa(bym, a))
    what = f"{label(measure)} records"
    ctx.say(wording.gi_heading(measure, hotspots.hot_spot_sentence(r, what, names), a, wtext, unote))
    n_hot = int((r["classification"] == "Hot spot").sum())
    fig, alt = charts.hot_spot_map(r, lk.loc[codes, ["x", "y"]].reset_index(), geo, codes,
                                   compute.hot_spot_labels(r, lk, names), title=wording.gi_map_title(measure, a),
                                   what=what, area=ctx.params.name)
    _show(ctx, fig, alt)
    ctx.table(tables._gi_display(r, names), f"gi_star_{slugify(measure)}",
              wording.gi_caption(measure, r.attrs["threshold"]), float_dp=tables.GI_FLOAT_DP,
              max_rows=compute.rows_shown(n_hot), note=wording.GI_NOTE)
    out = {"result": r, "alt": alt, "n_hot": n_hot, "weights": wtext}
    if emerging:
        out["emerging"] = _emerging(ctx, res, geo, measure, codes, w, names)
    return out


def _emerging(ctx, res, geo, measure, codes, w, names) -> pd.DataFrame | None:
    """Emerging and persistent hot spots over the latest run of complete quarters."""
    quarters = compute._quarters(res.usable(measure))
    guard = wording.no_emerging(len(quarters), hotspots.MIN_PERIODS, "consecutive complete quarters of usable months")
    if guard:
        ctx.say(guard)
        return None
    months = [m for q in quarters for m in q]
    df = load.load_lsoa_months(ctx.con, ctx.params.lad_codes, measure, months)
    df["quarter"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="Q")
    follow, subset = compute.lsoas_to_follow(df, codes, geo["lsoas"])
    guard = wording.no_emerging(len(follow), MIN_FOLLOWED,
                                "LSOAs that can be followed across quarters that mix LSOA vintages")
    if guard:
        ctx.say(guard)
        return None
    em = compute.emerging_hot_spots(df, quarters, follow, w, subset, names)
    ctx.say(wording.emerging_sentence(em, quarters, len(follow) if subset else None))
    if (em["classification"] != "No pattern").any():
        ctx.table(tables.emerging_display(em), f"emerging_hot_spots_{slugify(measure)}",
                  wording.emerging_caption(measure, len(quarters)), float_dp=tables.EMERGING_FLOAT_DP, max_rows=20)
    return em


# ---------------------------------------------------------------------------- the section
def _density_maps(ctx, res, geo: dict, measures: list[str]) -> dict:
    out = {}
    ctx.say("### Density maps")
    for m in measures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[m] = density(ctx, res, geo, m)
    return out


def _tested_hot_spots(ctx, res, geo: dict, measures: list[str], emerging) -> dict:
    out = {}
    ctx.say(wording.GI_INTRO)
    for m in measures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = tested(ctx, res, geo, m, emerging=emerging is True or (bool(emerging) and m in emerging))
        if r is not None:
            out[m] = r
    return out


def section(ctx, res, measures: list[str] | None = None, emerging=(ALL_CRIME, ASB)) -> dict:
    """Maps and tested hot spots for the trends report (density maps, Gi*, emerging hot spots).

    Parameters
    ----------
    ctx : ReportContext
    res : csp_analysis.sections.trends.TrendsResult
    measures : list of str, optional
        Default: all crime, ASB and the partnership's priority types.
    emerging : sequence of str or bool
        Measures whose emerging / persistent hot spots are classified where there are
        enough quarters (default all crime and ASB: each quarter costs a 9,999-shuffle
        test); True for every measure, False for none.

    Returns
    -------
    dict
        ``density`` and ``hot_spots`` (measure -> result dicts), ``boundaries`` (bool),
        ``seconds`` (time the section took).
    """
    t0 = time.perf_counter()
    out: dict = {"density": {}, "hot_spots": {}}
    if not len(res.months):
        return out
    measures = measures or compute._measures(res)
    geo = geography(ctx)
    out["boundaries"] = geo["polygons"] is not None
    ctx.say("## Where: maps and tested hot spots")
    ctx.say(wording.section_intro(out["boundaries"]))
    out["density"] = _density_maps(ctx, res, geo, measures)
    out["hot_spots"] = _tested_hot_spots(ctx, res, geo, measures, emerging)
    allc = out["hot_spots"].get(ALL_CRIME)
    if allc is not None:
        ctx.headline("gi_hot_spots_all_crime", "LSOAs in tested hot spots (all crime, Gi*)", allc["n_hot"],
                     hotspots.hot_spot_sentence(allc["result"], "crimes (excluding ASB)",
                                                geo["lsoas"].set_index("lsoa_code")["lsoa_name"].dropna().to_dict()))
    out["seconds"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------- interventions (item 4)
def intervention_map(ctx, d, title: str | None = None) -> str | None:
    """Map an intervention's treated area and buffer on the same axes; returns the alt text.

    Parameters
    ----------
    ctx : ReportContext
    d : csp_analysis.intervention_data.InterventionData
        ``d.lsoas`` (``lsoa_code``, ``unit``, ``longitude``, ``latitude``) and
        ``d.places`` (``unit``, ``role``).

    Returns
    -------
    str or None
        The alt text, or None when there is nothing to map (no treated place with a
        location).
    """
    iv = d.intervention
    places = compute.intervention_places(d.places)
    if places is None:
        return None
    near = compute.near_treated(places)
    codes = d.lsoas[d.lsoas["unit"].isin(near["unit"])]
    b = load.load_boundaries(ctx.con, codes["lsoa_code"].tolist())
    polys = None
    if b is not None:
        polys = b.merge(codes[["lsoa_code", "unit"]], on="lsoa_code").merge(near[["unit", "role"]], on="unit")
    km = getattr(iv, "buffer_km", None) if (places["role"] == "buffer").any() else None
    fig, alt = charts.intervention_map(near, polys, km, title=title or f"{iv.name}: treated area and buffer",
                                       area=iv.name)
    _show(ctx, fig, alt)
    if b is None:
        ctx.say(wording.NO_BOUNDARIES_NOTE)
    return alt
