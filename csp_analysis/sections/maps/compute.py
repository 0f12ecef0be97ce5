"""The maps section's analysis: pure functions from loaded DataFrames to what is mapped and tested.

No report context, no figures, no text output. LSOA positions are British National Grid
metres (:func:`csp_analysis.hotspots.to_bng`); hot spots are Getis-Ord Gi* with an FDR
threshold (:func:`csp_analysis.hotspots.gi_star`), emerging / persistent hot spots
:func:`csp_analysis.hotspots.emerging_hot_spots` over consecutive complete quarters.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ... import hotspots
from ... import maps as maps_mod
from ..trends.constants import ALL_CRIME, ASB

#: Places labelled on each density map (the busiest LSOAs of the latest period).
N_LABELS = 5
#: Most recent quarters used for the emerging hot-spot classification.
MAX_PERIODS = 12
#: The Gi* test needs at least this many LSOAs.
MIN_LSOAS = 10
#: Emerging hot spots need at least this many LSOAs followed across the quarters.
MIN_FOLLOWED = 3


def _measures(res) -> list[str]:
    """All crime, ASB and the partnership's priority types (the section's default measures)."""
    out = [ALL_CRIME, ASB]
    return out + [m for m in res.priorities if m not in out and m in res.measures]


# ---------------------------------------------------------------------------- geography
def geography_frame(lk: pd.DataFrame, cent: pd.DataFrame, polys) -> dict:
    """The partnership's LSOAs with centroids in BNG (supplied or estimated centroids, else the
    polygons' own), the boundaries and the outline (``lsoas``, ``polygons``, ``outline``).

    ``lk``: ``lsoa_code``, ``lsoa_name``, ``in_2011``, ``in_2021``; ``cent``: ``lsoa_code``,
    ``longitude``, ``latitude``, ``source``; ``polys``: a GeoDataFrame or None."""
    lk = lk.merge(cent[["lsoa_code", "longitude", "latitude", "source"]], on="lsoa_code", how="left")
    have = lk["longitude"].notna()
    lk["x"], lk["y"] = np.nan, np.nan
    if have.any():
        x, y = hotspots.to_bng(lk.loc[have, "longitude"], lk.loc[have, "latitude"])
        lk.loc[have, "x"], lk.loc[have, "y"] = x, y
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


def test_universe(counts: pd.Series, lk: pd.DataFrame) -> dict:
    """LSOA codes to test: the vintage holding most of the records, with a centroid.

    Returns ``codes``, ``vintage``, ``lost`` (records outside them) and ``unplaced`` (LSOAs
    of the vintage without a position)."""
    c11 = set(lk.loc[lk["in_2011"], "lsoa_code"])
    c21 = set(lk.loc[lk["in_2021"], "lsoa_code"])
    only11 = counts[counts.index.isin(c11 - c21)].sum()
    only21 = counts[counts.index.isin(c21 - c11)].sum()
    vintage = 2011 if only11 > only21 else 2021
    codes = c11 if vintage == 2011 else c21
    located = set(lk.loc[lk["x"].notna(), "lsoa_code"])
    keep = sorted(codes & located)
    return {"codes": keep, "vintage": vintage, "lost": counts[~counts.index.isin(keep)].sum(),
            "unplaced": len(codes - located)}


def _latest_usable(res, measure: str) -> list[pd.Period]:
    """The latest 12 months' covered months that are not excluded for this measure."""
    usable = set(res.usable(measure))
    return [m for m in res.latest if m in usable]


# ---------------------------------------------------------------------------- density maps
def density_months(res, measure: str) -> tuple[list, list]:
    """The matched months of the headline comparison, or the latest 12 months' usable months
    alone (and no earlier period) when there are none."""
    mm = res.matches.get((res.partnership, measure))
    if mm is not None and mm.a:
        return [pd.Period(m, freq="M") for m in mm.a], [pd.Period(m, freq="M") for m in mm.b]
    return _latest_usable(res, measure), []


def density_layout(pts: pd.DataFrame, geo: dict) -> tuple[tuple, pd.DataFrame]:
    """The map extent (records, located LSOAs and the outline in view) and the labels of the
    busiest LSOAs of the latest period (``pts`` with ``x``, ``y``, ``period``, ``lsoa_code``)."""
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
    return extent, labels


# ---------------------------------------------------------------------------- tested hot spots
def monthly_by_lsoa(bym: pd.DataFrame, months: list) -> pd.DataFrame | None:
    """Month x LSOA counts over ``months`` (zero where none), None when there are no records."""
    if not len(bym):
        return None
    return bym.pivot_table(index="month", columns="lsoa_code", values="n", aggfunc="sum", fill_value=0) \
        .reindex(pd.to_datetime([m.to_timestamp() for m in months]), fill_value=0)


def _centroid_frame(lk: pd.DataFrame) -> pd.DataFrame:
    return lk.reset_index()[["lsoa_code", "longitude", "latitude"]]


def weights_for(geo: dict, codes: list[str]):
    """Spatial weights of ``codes`` (:func:`csp_analysis.hotspots.lsoa_weights`), built once per
    set of LSOAs and kept in ``geo["weights"]``: every measure tests the same LSOAs."""
    cache = geo.setdefault("weights", {})
    if tuple(codes) not in cache:
        lk = geo["lsoas"].set_index("lsoa_code")
        cache[tuple(codes)] = hotspots.lsoa_weights(codes, _centroid_frame(lk), boundaries=geo["polygons"])
    return cache[tuple(codes)]


def gi_star_result(counts: pd.Series, codes: list[str], w, monthly) -> pd.DataFrame:
    """Gi* of the LSOA counts over ``codes``, strongest clusters first."""
    r = hotspots.gi_star(counts.reindex(codes).fillna(0), w, monthly=monthly)
    return r.sort_values("gi_z", ascending=False).reset_index(drop=True)


def hot_spot_labels(r: pd.DataFrame, lk: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Labels for the strongest hot spots (``lk`` indexed by ``lsoa_code``)."""
    hot_lab = r[r["classification"] == "Hot spot"].head(N_LABELS)
    return pd.DataFrame({"label": hot_lab["lsoa_code"].map(names).fillna(hot_lab["lsoa_code"]),
                         "x": hot_lab["lsoa_code"].map(lk["x"]), "y": hot_lab["lsoa_code"].map(lk["y"]),
                         "lsoa_code": hot_lab["lsoa_code"]})


def rows_shown(n_hot: int) -> int:
    """Rows of the Gi* table shown: the hot spots and a few more (5 to 25)."""
    return min(max(n_hot + 3, 5), 25)


# ---------------------------------------------------------------------------- emerging hot spots
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


def lsoas_to_follow(df: pd.DataFrame, codes: list[str], lk: pd.DataFrame) -> tuple[list[str], bool]:
    """The LSOAs followed across the quarters and whether the records mix vintages.

    When the quarters mix vintages, only LSOAs whose code is the same in both (unchanged
    boundaries) can be followed; a lookup with one vintage only (e.g. 2021 codes) follows every
    LSOA."""
    same = set(lk.loc[lk["in_2011"] & lk["in_2021"], "lsoa_code"])
    other = df[~df["lsoa_code"].isin(codes)]["n"].sum()
    mixed = bool(other) and bool(lk["in_2011"].any()) and bool(lk["in_2021"].any())
    follow = [c for c in codes if c in same] if mixed and len(same) < len(codes) else list(codes)
    return follow, bool(other) and len(follow) < len(codes)


def emerging_panel(df: pd.DataFrame, follow: list[str], quarters: list, w) -> pd.DataFrame:
    """Quarter x LSOA counts in the order of the weights (``df`` has ``quarter``)."""
    panel = df[df["lsoa_code"].isin(follow)].pivot_table(index="quarter", columns="lsoa_code", values="n",
                                                         aggfunc="sum", fill_value=0)
    return panel.reindex(index=[q[0].asfreq("Q") for q in quarters], columns=list(w.id_order), fill_value=0)


def emerging_hot_spots(df: pd.DataFrame, quarters: list, follow: list[str], w, subset: bool,
                       names: dict) -> pd.DataFrame:
    """The emerging / persistent classification of the followed LSOAs (``subset``: restrict
    the weights to them first)."""
    if subset:
        import libpysal

        w = libpysal.weights.w_subset(w, follow)
        w.transform = "B"
    em = hotspots.emerging_hot_spots(emerging_panel(df, follow, quarters, w), w)
    em.insert(1, "name", em["lsoa_code"].map(names))
    return em


# ---------------------------------------------------------------------------- interventions
def intervention_places(places: pd.DataFrame) -> pd.DataFrame | None:
    """The intervention's located places in BNG (None without a located treated place)."""
    if "longitude" not in places or places["longitude"].isna().all():
        return None
    places = places.dropna(subset=["longitude", "latitude"]).copy()
    places["x"], places["y"] = hotspots.to_bng(places["longitude"], places["latitude"])
    if not (places["role"] == "treated").any():
        return None
    return places


def near_treated(places: pd.DataFrame) -> pd.DataFrame:
    """Places within the view of the treated area and its buffer."""
    keep = places[places["role"].isin(["treated", "buffer"])]
    x0, x1, y0, y1 = maps_mod.map_extent(keep["x"], keep["y"], margin=0.6)
    return places[(places["x"].between(x0, x1)) & (places["y"].between(y0, y1))]
