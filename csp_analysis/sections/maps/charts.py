"""The maps section's figures: each function draws one map from computed results and returns
``(figure, alt text)`` (:mod:`csp_analysis.maps` draws; the alt text describes the map)."""
from __future__ import annotations

import pandas as pd

from ... import maps as maps_mod
from .wording import density_title, months_text


def density_map(pts: pd.DataFrame, a: list, b: list, geo: dict, extent, labels: pd.DataFrame, what: str,
                area: str, measure: str):
    """Density maps of the records of the latest period beside the previous one, on one colour scale."""
    panels = []
    for per, months in (("latest", a), ("previous", b)):
        if not months:
            continue
        s = pts[pts["period"] == per]
        panels.append((months_text(months), s["x"].to_numpy(), s["y"].to_numpy()))
    fig, alt = maps_mod.density_maps(panels, extent=extent, outline=geo["outline"], labels=labels,
                                     what=what, area=area)
    fig.suptitle(density_title(measure, bool(b)), fontsize=11)
    return fig, alt


def hot_spot_map(r: pd.DataFrame, pts: pd.DataFrame, geo: dict, codes: list[str], labels: pd.DataFrame,
                 title: str, what: str, area: str):
    """Gi* hot and cold spots (LSOA shapes with a boundary file, else dots at the centroids)."""
    polys = geo["polygons"][geo["polygons"]["lsoa_code"].isin(codes)] if geo["polygons"] is not None else None
    return maps_mod.hot_spot_map(r, pts, polygons=polys, outline=geo["outline"], labels=labels,
                                 title=title, what=what, area=area)


def intervention_map(near: pd.DataFrame, polys, buffer_km, title: str, area: str):
    """The treated area and buffer on one map (:func:`csp_analysis.maps.displacement_map`)."""
    return maps_mod.displacement_map(near, polygons=polys, buffer_km=buffer_km, title=title, area=area)
