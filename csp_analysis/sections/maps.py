"""Maps and tested hot spots for the trends report; the intervention map for the intervention report.

Call from a notebook after :func:`csp_analysis.sections.trends.analyse`::

    from csp_analysis.sections import maps
    maps.section(ctx, res)

It adds "Where: maps and tested hot spots": for all crime, ASB and each priority type, a
density map of the latest 12 months beside the previous 12 (the headline's matched
months, one colour scale), Getis-Ord Gi* hot spots at LSOA level with an FDR threshold
(table, map, sentences) and, where the months allow, emerging / persistent hot spots
(:mod:`csp_analysis.hotspots`, :mod:`csp_analysis.maps`).

:func:`intervention_map` draws an intervention's treated area and buffer on one map, for
the intervention report's displacement section.

Without an LSOA boundary file in the store everything works from LSOA centroids (the
supplied centroid lookup, else the mean of each LSOA's published coordinates) and the
section says what a boundary file would add.
"""
from __future__ import annotations

import html
import inspect
import re
import time
import warnings

import numpy as np
import pandas as pd

from .. import boundaries as boundaries_mod
from .. import data, hotspots
from .. import maps as maps_mod
from .trends import ALL_CRIME, ASB, cap, label

#: Places labelled on each density map (the busiest LSOAs of the latest period).
N_LABELS = 5
#: Most recent quarters used for the emerging hot-spot classification.
MAX_PERIODS = 12


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _md(text: str) -> str:
    """Text from the data (LSOA names) made safe inside Markdown: HTML escaped, Markdown marks
    backslash-escaped."""
    out = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", out)


def _show(ctx, fig, alt: str) -> None:
    """Show a figure with its alt text where ``ctx.show`` accepts one; else say it beside the map."""
    try:
        takes_alt = "alt" in inspect.signature(ctx.show).parameters
    except (TypeError, ValueError):
        takes_alt = False
    if takes_alt:
        from ..alt_text import figure_title

        title = figure_title(fig)  # the alt text starts with the chart's own title, as the generated ones do
        if title and not alt.startswith(title):
            alt = f"{title}. {alt}"
        ctx.show(fig, alt=alt)
    else:
        ctx.show(fig)
        ctx.say(f"*Map description:* {_md(alt)}")


def _crime_types(measure: str) -> list[str]:
    """The crime types of a measure, as the data layer takes them ([] = all crime except ASB)."""
    return data.measure_crime_types(measure, ALL_CRIME)


def _measures(res) -> list[str]:
    out = [ALL_CRIME, ASB]
    return out + [m for m in res.priorities if m not in out and m in res.measures]


# ---------------------------------------------------------------------------- geography
def geography(ctx) -> dict:
    """The partnership's LSOAs (both vintages) with names, centroids (BNG), boundaries and outline."""
    p, con = ctx.params, ctx.con
    lk = data.lsoa_vintage_summary(con, p.lad_codes)
    cent = data.lsoa_centroids(con, p.lad_codes)
    lk = lk.merge(cent[["lsoa_code", "longitude", "latitude", "source"]], on="lsoa_code", how="left")
    have = lk["longitude"].notna()
    lk["x"], lk["y"] = np.nan, np.nan
    if have.any():
        x, y = hotspots.to_bng(lk.loc[have, "longitude"], lk.loc[have, "latitude"])
        lk.loc[have, "x"], lk.loc[have, "y"] = x, y
    polys = boundaries_mod.read_boundaries(con, lk["lsoa_code"].tolist()) if len(lk) else None
    outline = None
    if polys is not None:
        cur = polys[polys["lsoa_code"].isin(lk.loc[lk["in_2021"], "lsoa_code"])]
        outline = (cur if len(cur) else polys).geometry.union_all()
        # centroids of the polygons where no centroid was supplied or estimated
        pc = polys.set_index("lsoa_code").geometry.centroid
        miss = lk["x"].isna() & lk["lsoa_code"].isin(pc.index)
        if miss.any():
            lk.loc[miss, "x"] = lk.loc[miss, "lsoa_code"].map(pc.x).astype(float)
            lk.loc[miss, "y"] = lk.loc[miss, "lsoa_code"].map(pc.y).astype(float)
    return {"lsoas": lk, "polygons": polys, "outline": outline}


def _universe(counts: pd.Series, geo: dict) -> tuple[list[str], str]:
    """LSOA codes to test: the vintage holding most of the records, with a centroid."""
    lk = geo["lsoas"]
    c11 = set(lk.loc[lk["in_2011"], "lsoa_code"])
    c21 = set(lk.loc[lk["in_2021"], "lsoa_code"])
    only11 = counts[counts.index.isin(c11 - c21)].sum()
    only21 = counts[counts.index.isin(c21 - c11)].sum()
    vintage = 2011 if only11 > only21 else 2021
    codes = c11 if vintage == 2011 else c21
    located = set(lk.loc[lk["x"].notna(), "lsoa_code"])
    keep = sorted(codes & located)
    notes = []
    lost = counts[~counts.index.isin(keep)].sum()
    if lost:
        notes.append(f"{int(lost):,} records in LSOAs of the other vintage or without a known location are left out "
                     "of the test.")
    nolocate = len(codes - located)
    if nolocate:
        notes.append(f"{nolocate} LSOA(s) with no record and no supplied centroid cannot be placed and are left out.")
    return keep, f"The test uses the {len(keep)} LSOAs of the {vintage} boundaries. " + " ".join(notes)


def _latest_usable(res, measure: str) -> list[pd.Period]:
    """The latest 12 months' covered months that are not excluded for this measure."""
    usable = set(res.usable(measure))
    return [m for m in res.latest if m in usable]


# ---------------------------------------------------------------------------- density maps
def density(ctx, res, geo: dict, measure: str) -> dict | None:
    """Density map of one measure: latest 12 months beside the previous 12 (matched months).

    Without matched months in the earlier year, the latest 12 months' usable months alone.
    """
    mm = res.matches.get((res.partnership, measure))
    if mm is not None and mm.a:
        a = [pd.Period(m, freq="M") for m in mm.a]
        b = [pd.Period(m, freq="M") for m in mm.b]
    else:
        a, b = _latest_usable(res, measure), []
    if not a:
        ctx.say(f"No usable months in the latest 12 for {label(measure)}, so no map.")
        return None
    pts = data.records_by_period(ctx.con, ctx.params.lad_codes, _crime_types(measure), a, b)
    if not len(pts):
        ctx.say(f"No {label(measure)} records with coordinates in these months, so no map.")
        return None
    pts["x"], pts["y"] = hotspots.to_bng(pts["longitude"], pts["latitude"])
    lk = geo["lsoas"]
    located = lk[lk["x"].notna()]
    ex, ey = np.r_[pts["x"], located["x"]], np.r_[pts["y"], located["y"]]
    if geo["outline"] is not None:  # the whole partnership outline stays in view
        bounds = geo["outline"].bounds
        ex, ey = np.r_[ex, bounds[0], bounds[2]], np.r_[ey, bounds[1], bounds[3]]
    extent = maps_mod.map_extent(ex, ey)
    # Most records first, ties by LSOA code, so the labelled places do not depend on row order.
    vc = pts[pts["period"] == "latest"]["lsoa_code"].value_counts()
    top = (vc.rename_axis("code").reset_index(name="n").sort_values(["n", "code"], ascending=[False, True])
           .head(N_LABELS).set_index("code")["n"])
    lab = located.set_index("lsoa_code").reindex(top.index).dropna(subset=["x"])
    labels = pd.DataFrame({"label": lab["lsoa_name"].fillna(pd.Series(lab.index, index=lab.index)),
                           "x": lab["x"], "y": lab["y"], "lsoa_code": lab.index})
    panels = []
    for per, months in (("latest", a), ("previous", b)):
        if not months:
            continue
        s = pts[pts["period"] == per]
        panels.append((data.month_range_text([m.to_timestamp() for m in months]), s["x"].to_numpy(),
                       s["y"].to_numpy()))
    fig, alt = maps_mod.density_maps(panels, extent=extent, outline=geo["outline"], labels=labels,
                                     what=f"{label(measure)} records", area=ctx.params.name)
    fig.suptitle(f"{cap(label(measure))}: where records were published, latest 12 months"
                 + (" and the 12 before" if b else ""), fontsize=11)
    if not b:
        ctx.say(f"The store holds no matching months a year earlier for {label(measure)}, so the map shows the "
                "latest period only.")
    _show(ctx, fig, alt)
    return {"alt": alt, "n_latest": int((pts["period"] == "latest").sum()),
            "n_previous": int((pts["period"] == "previous").sum()), "extent": extent, "labels": labels}


# ---------------------------------------------------------------------------- tested hot spots
def _gi_display(r: pd.DataFrame, names: dict) -> pd.DataFrame:
    return pd.DataFrame({
        "LSOA": r["lsoa_code"], "Name": r["lsoa_code"].map(names), "Records": r["count"].astype(int),
        "Neighbours": r["neighbours"].astype(int),
        "Neighbourhood records per LSOA / average": r["value"], "Lower 95%": r["lower"], "Upper 95%": r["upper"],
        "Gi* z": r["gi_z"], "p-value": r["p_value"], "Result": r["classification"],
    })


def _quarters(usable: list) -> list[list[pd.Period]]:
    """The latest unbroken run of complete calendar quarters of usable months (oldest first),
    at most MAX_PERIODS: the classes (persistent, emerging, former) assume consecutive periods."""
    ms = sorted({pd.Period(m, freq="M") for m in usable})
    by_q: dict = {}
    for m in ms:
        by_q.setdefault(m.asfreq("Q"), []).append(m)
    full = sorted(q for q, v in by_q.items() if len(v) == 3)
    run: list = []
    for q in reversed(full):
        if run and run[-1].ordinal - q.ordinal != 1:
            break
        run.append(q)
    return [sorted(by_q[q]) for q in reversed(run)][-MAX_PERIODS:]


def tested(ctx, res, geo: dict, measure: str, emerging: bool = False) -> dict | None:
    """Gi* hot spots of one measure in the latest 12 months (usable months), with a map, table and sentences."""
    con, p = ctx.con, ctx.params
    a = _latest_usable(res, measure)
    if not a:
        ctx.say(f"No usable months in the latest 12 for {label(measure)}, so no hot-spot test.")
        return None
    bym = data.lsoa_month_counts(con, p.lad_codes, _crime_types(measure), months=a)
    cnt = bym.groupby("lsoa_code")["n"].sum()
    monthly = bym.pivot_table(index="month", columns="lsoa_code", values="n", aggfunc="sum", fill_value=0) \
        .reindex(pd.to_datetime([m.to_timestamp() for m in a]), fill_value=0) if len(bym) else None
    codes, unote = _universe(cnt, geo)
    if len(codes) < 10 or cnt.reindex(codes).fillna(0).sum() == 0:
        ctx.say(f"Too few LSOAs or records to test {label(measure)} for hot spots.")
        return None
    lk = geo["lsoas"].set_index("lsoa_code")
    names = lk["lsoa_name"].dropna().to_dict()
    cache = geo.setdefault("weights", {})  # same LSOAs for every measure: build the weights once
    if tuple(codes) not in cache:
        cache[tuple(codes)] = hotspots.lsoa_weights(codes, _centroid_frame(lk), boundaries=geo["polygons"])
    w, wtext = cache[tuple(codes)]
    r = hotspots.gi_star(cnt.reindex(codes).fillna(0), w, monthly=monthly)
    r = r.sort_values("gi_z", ascending=False).reset_index(drop=True)
    what = f"{label(measure)} records"
    ctx.say(f"### {cap(label(measure))}\n\n" + _md(hotspots.hot_spot_sentence(r, what, names))
            + f" Months tested: {data.month_range_text([m.to_timestamp() for m in a])}. {wtext} {unote}")
    n_hot = int((r["classification"] == "Hot spot").sum())
    pts = lk.loc[codes, ["x", "y"]].reset_index()
    hot_lab = r[r["classification"] == "Hot spot"].head(N_LABELS)
    labels = pd.DataFrame({"label": hot_lab["lsoa_code"].map(names).fillna(hot_lab["lsoa_code"]),
                           "x": hot_lab["lsoa_code"].map(lk["x"]), "y": hot_lab["lsoa_code"].map(lk["y"]),
                           "lsoa_code": hot_lab["lsoa_code"]})
    polys = geo["polygons"][geo["polygons"]["lsoa_code"].isin(codes)] if geo["polygons"] is not None else None
    fig, alt = maps_mod.hot_spot_map(r, pts, polygons=polys, outline=geo["outline"], labels=labels,
                                     title=f"{cap(label(measure))}: Getis-Ord Gi* hot and cold spots, "
                                           f"{data.month_range_text([m.to_timestamp() for m in a])}",
                                     what=what, area=p.name)
    _show(ctx, fig, alt)
    shown = min(max(n_hot + 3, 5), 25)
    ctx.table(_gi_display(r, names), f"gi_star_{_slug(measure)}",
              f"{cap(label(measure))}: Getis-Ord Gi* by LSOA, latest 12 months, strongest clusters first "
              f"(FDR threshold p < {r.attrs['threshold']:.4f}).",
              float_dp={"Neighbourhood records per LSOA / average": 2, "Lower 95%": 2, "Upper 95%": 2,
                        "Gi* z": 2, "p-value": 4}, max_rows=shown,
              note="A hot spot is an LSOA whose neighbourhood (itself and its neighbours) has more records than "
                   "shuffling the partnership's LSOA counts at random gives (9,999 shuffles). The ratio's interval "
                   "allows for the month-to-month variation of the neighbourhood's records (quasi-Poisson) and "
                   "treats the partnership average as fixed; the verdict rests on the test.")
    out = {"result": r, "alt": alt, "n_hot": n_hot, "weights": wtext}
    if emerging:
        out["emerging"] = _emerging(ctx, res, geo, measure, codes, w, names)
    return out


def _centroid_frame(lk: pd.DataFrame) -> pd.DataFrame:
    return lk.reset_index()[["lsoa_code", "longitude", "latitude"]]


def _emerging(ctx, res, geo, measure, codes, w, names) -> pd.DataFrame | None:
    quarters = _quarters(res.usable(measure))
    if len(quarters) < hotspots.MIN_PERIODS:
        ctx.say(f"Emerging and persistent hot spots need at least {hotspots.MIN_PERIODS} consecutive complete "
                f"quarters of usable months; the latest run has {len(quarters)}, so they are not classified.")
        return None
    months = [m for q in quarters for m in q]
    df = data.lsoa_month_counts(ctx.con, ctx.params.lad_codes, _crime_types(measure), months=months)
    df["quarter"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="Q")
    # LSOAs of either vintage: when the quarters mix vintages, only LSOAs whose code is the
    # same in both (unchanged boundaries) can be followed over time.
    lk = geo["lsoas"]
    same = set(lk.loc[lk["in_2011"] & lk["in_2021"], "lsoa_code"])
    other = df[~df["lsoa_code"].isin(codes)]["n"].sum()
    # Only restrict to unchanged LSOAs when the records really mix vintages and the lookup
    # knows both (a lookup with one vintage only, e.g. 2021 codes, follows every LSOA).
    mixed = bool(other) and bool(lk["in_2011"].any()) and bool(lk["in_2021"].any())
    follow = [c for c in codes if c in same] if mixed and len(same) < len(codes) else list(codes)
    if len(follow) < 3:
        ctx.say("Emerging and persistent hot spots are not classified: the quarters mix LSOA vintages and "
                f"only {len(follow)} LSOAs can be followed across them.")
        return None
    note = ""
    if other and len(follow) < len(codes):
        import libpysal

        w = libpysal.weights.w_subset(w, follow)
        w.transform = "B"
        note = (f" The quarters use both LSOA vintages, so only the {len(follow)} LSOAs whose boundaries did not "
                "change in 2021 are followed.")
    panel = df[df["lsoa_code"].isin(follow)].pivot_table(index="quarter", columns="lsoa_code", values="n",
                                                         aggfunc="sum", fill_value=0)
    panel = panel.reindex(index=[q[0].asfreq("Q") for q in quarters], columns=list(w.id_order), fill_value=0)
    em = hotspots.emerging_hot_spots(panel, w)
    em.insert(1, "name", em["lsoa_code"].map(names))
    k = em["classification"].value_counts()
    parts = [f"{n} {c.lower()}{'s' if n != 1 else ''}" for c, n in k.items() if c != "No pattern"]
    qtext = f"{quarters[0][0].asfreq('Q')} to {quarters[-1][0].asfreq('Q')}"
    ctx.say(f"**Over time** ({len(quarters)} quarters, {qtext}): "
            + (", ".join(parts) + "." if parts else "no LSOA was a hot or cold spot in enough quarters to form a "
               "pattern.")
            + " Each quarter is tested on its own (Gi*, 5% level per LSOA). Persistent means a hot spot in at "
            "least 80% of the quarters; emerging, a hot spot in every one of the latest 20% of quarters and in "
            "none before; former, in at least half of the earlier quarters but none of the latest; intermittent, "
            "in at least half of the quarters otherwise. These rules are stricter than sfhotspot's defaults, so "
            "that on a map with no real clusters only about 1 LSOA in 500 gets any of these labels by chance "
            "(simulations of over-dispersed counts). "
            "Whether a patterned LSOA's Gi* rises or falls over the quarters is a Mann-Kendall test, with an FDR "
            "threshold across those LSOAs." + note)
    shown = em[em["classification"] != "No pattern"].sort_values(["classification", "latest_z"],
                                                                    ascending=[True, False])
    if len(shown):
        ctx.table(shown[["lsoa_code", "name", "classification", "hot_periods", "cold_periods", "periods", "latest_z",
                         "tau", "trend_p", "trend"]].rename(columns={
                             "lsoa_code": "LSOA", "name": "Name", "classification": "Pattern",
                             "hot_periods": "Quarters hot", "cold_periods": "Quarters cold", "periods": "Quarters",
                             "latest_z": "Latest Gi* z", "tau": "Kendall tau", "trend_p": "Trend p-value",
                             "trend": "Trend"}),
                  f"emerging_hot_spots_{_slug(measure)}",
                  f"{cap(label(measure))}: LSOAs with a hot- or cold-spot pattern over {len(quarters)} quarters.",
                  float_dp={"Latest Gi* z": 2, "Kendall tau": 2, "Trend p-value": 4}, max_rows=20)
    return em


# ---------------------------------------------------------------------------- the section
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
    measures = measures or _measures(res)
    geo = geography(ctx)
    out["boundaries"] = geo["polygons"] is not None
    ctx.say("## Where: maps and tested hot spots")
    intro = ("The maps show where records were published: data.police.uk places each record at an anonymised "
             "\"snap point\" (the middle of a street or a landmark) near where it happened, so the maps are accurate "
             "to a street, not an address. Each map puts the latest 12 months beside the 12 before (the same "
             "matched months as the headline table) on one colour scale, with the busiest LSOAs named.")
    if out["boundaries"]:
        intro += " The partnership boundary comes from the LSOA boundary file in the store."
    else:
        intro += (" No LSOA boundary file is loaded, so the maps have no partnership outline, LSOAs are drawn as "
                  "dots at their centroids, and hot-spot neighbours are the nearest LSOA centroids. Loading the "
                  "ONS LSOA boundaries (GeoPackage or GeoJSON, `csp ingest-lookup`) would add the outline, show "
                  "LSOAs as shapes and base neighbours on shared boundaries.")
    ctx.say(intro)
    ctx.say("### Density maps")
    for m in measures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["density"][m] = density(ctx, res, geo, m)
    ctx.say("### Tested hot spots (Getis-Ord Gi*)\n\nA busy LSOA can be busy by chance. The Getis-Ord Gi* "
            "statistic asks whether an LSOA *and its neighbours* together have more records (a hot spot) or fewer "
            "(a cold spot) than if the partnership's LSOA counts were scattered at random; the p-value comes from "
            "9,999 random shuffles, and the threshold controls the false discovery rate at 5% across all the "
            "LSOAs tested at once. Hot spots describe clusters: each LSOA's own count is held fixed in the shuffles, "
            "so an LSOA is flagged when its neighbours are busy too. An LSOA next to a very busy one can be "
            "flagged with few records of its own, and a single very busy LSOA among quiet ones is a top place "
            "(see the top-10 tables), not a cluster; read the records column too.")
    for m in measures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = tested(ctx, res, geo, m, emerging=emerging is True or (bool(emerging) and m in emerging))
        if r is not None:
            out["hot_spots"][m] = r
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
    places = d.places.copy()
    if "longitude" not in places or places["longitude"].isna().all():
        return None
    places = places.dropna(subset=["longitude", "latitude"])
    places["x"], places["y"] = hotspots.to_bng(places["longitude"], places["latitude"])
    if not (places["role"] == "treated").any():
        return None
    keep = places[places["role"].isin(["treated", "buffer"])]
    x0, x1, y0, y1 = maps_mod.map_extent(keep["x"], keep["y"], margin=0.6)
    near = places[(places["x"].between(x0, x1)) & (places["y"].between(y0, y1))]
    polys = None
    codes = d.lsoas[d.lsoas["unit"].isin(near["unit"])]
    b = boundaries_mod.read_boundaries(ctx.con, codes["lsoa_code"].tolist()) if len(codes) else None
    if b is not None:
        b = b.merge(codes[["lsoa_code", "unit"]], on="lsoa_code").merge(near[["unit", "role"]], on="unit")
        polys = b
    km = getattr(iv, "buffer_km", None) if (places["role"] == "buffer").any() else None
    fig, alt = maps_mod.displacement_map(near, polygons=polys, buffer_km=km,
                                         title=title or f"{iv.name}: treated area and buffer", area=iv.name)
    _show(ctx, fig, alt)
    if b is None:
        ctx.say("Places are drawn as dots at their centroids; with an LSOA boundary file in the store they would "
                "be drawn as shapes.")
    return alt
