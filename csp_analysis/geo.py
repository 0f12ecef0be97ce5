"""Place stop-and-search records: coordinate repair and assignment to LSOAs.

data.police.uk snaps every location to an anonymised point shared by several addresses.
Street-level crimes carry the LSOA of their snap point, stop-and-search records do not,
so a search is assigned the LSOA of the nearest street-crime snap point (exact matches
are the norm; points further than ``max_km`` away are left unassigned). Where a force
publishes no coordinates (South Yorkshire) nothing can be assigned and analysis is
force-level only.

Some forces publish easting and northing swapped (Nottinghamshire 2024, see
``../shared/data/README.md``): :func:`repair_swapped_coordinates` converts to British
National Grid, exchanges easting and northing and converts back, and
:func:`detect_swapped` decides per force and month whether that puts the points where
the force's own crimes are (a force may publish some months swapped and others not).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

EARTH_KM_PER_DEG_LAT = 111.2


@lru_cache(maxsize=1)
def _transformers():
    import pyproj  # well-kept projection library; OSGB36 / BNG transforms

    return (pyproj.Transformer.from_crs(4326, 27700, always_xy=True),
            pyproj.Transformer.from_crs(27700, 4326, always_xy=True))


def repair_swapped_coordinates(longitude, latitude) -> tuple[np.ndarray, np.ndarray]:
    """Undo an easting/northing swap: WGS84 -> BNG, swap, BNG -> WGS84.

    Returns
    -------
    (longitude, latitude) : arrays
    """
    fwd, back = _transformers()
    e, n = fwd.transform(np.asarray(longitude, float), np.asarray(latitude, float))
    lon, lat = back.transform(n, e)
    return np.asarray(lon), np.asarray(lat)


def _xy(lon, lat, lat0: float) -> np.ndarray:
    """Local equirectangular projection in km (ample at the scale of one force)."""
    return np.column_stack([np.asarray(lon, float) * EARTH_KM_PER_DEG_LAT * np.cos(np.radians(lat0)),
                            np.asarray(lat, float) * EARTH_KM_PER_DEG_LAT])


def nearest_points(points: pd.DataFrame, lon, lat, max_km: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``points`` (columns longitude, latitude) of the nearest point, and distance in km.

    Indexes are -1 where the nearest point is further than ``max_km`` or coordinates are missing.
    """
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    idx = np.full(len(lon), -1)
    dist = np.full(len(lon), np.nan)
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if not ok.any() or len(points) == 0:
        return idx, dist
    lat0 = float(np.nanmean(points["latitude"]))
    tree = cKDTree(_xy(points["longitude"], points["latitude"], lat0))
    d, i = tree.query(_xy(lon[ok], lat[ok], lat0))
    keep = d <= max_km
    sub = np.where(keep, i, -1)
    idx[ok] = sub
    dist[ok] = d
    return idx, dist


def detect_swapped(points: pd.DataFrame, lon, lat, max_km: float = 2.0) -> bool:
    """True when repairing a swap puts far more points near the reference points.

    ``points``: snap points of the force's own street crimes (longitude, latitude).
    """
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if ok.sum() == 0:
        return False
    i0, _ = nearest_points(points, lon[ok], lat[ok], max_km)
    rlon, rlat = repair_swapped_coordinates(lon[ok], lat[ok])
    i1, _ = nearest_points(points, rlon, rlat, max_km)
    near0, near1 = (i0 >= 0).mean(), (i1 >= 0).mean()
    return near0 < 0.5 and near1 > 0.8


def _positions_by(keys: pd.Series):
    """(key, positions) for each distinct non-missing key, in sorted key order."""
    codes, uniques = pd.factorize(keys, sort=True)
    for j, key in enumerate(uniques):
        yield key, np.flatnonzero(codes == j)
    if (codes < 0).any():  # records without a month: judged together
        yield None, np.flatnonzero(codes < 0)


def snap_points(con, forces, home_only: bool = True) -> pd.DataFrame:
    """Distinct street-crime snap points of the forces with their LSOA and LAD.

    With ``home_only`` only points inside the force's own police force area are kept
    (a force's file also holds crimes it recorded elsewhere, sometimes far away).
    """
    from . import data

    return data.snap_points(con, forces, home_only)


def locate_stop_search(con, records: pd.DataFrame, max_km: float = 1.0) -> tuple[pd.DataFrame, list[str]]:
    """Add ``lsoa_code``, ``lad_code`` and ``coordinates_repaired`` to stop-and-search records.

    Returns the records and a list of plain-English notes (swaps repaired, forces without
    coordinates, share unassigned).
    """
    out = records.copy()
    out["lsoa_code"] = None
    out["lad_code"] = None
    out["coordinates_repaired"] = False
    notes: list[str] = []
    for force, grp in out.groupby("force"):
        has = grp["latitude"].notna() & grp["longitude"].notna()
        if not has.any():
            notes.append(f"{force}: no coordinates are published, so searches cannot be placed in a "
                         "partnership; only force-level figures are possible.")
            continue
        pts = snap_points(con, [force])
        if pts.empty:
            notes.append(f"{force}: no street-level data in the store to place searches against.")
            continue
        lon, lat = grp["longitude"].to_numpy(float), grp["latitude"].to_numpy(float)
        # A force may publish swapped coordinates in some months only (Nottinghamshire
        # 2024-11 and 2024-12), so the swap is detected and repaired month by month.
        swapped = np.zeros(len(grp), dtype=bool)
        repaired_months = []
        months = grp["month"] if "month" in grp else pd.Series(0, index=grp.index)
        has_xy = has.to_numpy()
        for month, pos in _positions_by(months):
            if detect_swapped(pts, lon[pos], lat[pos]):
                swapped[pos[has_xy[pos]]] = True
                repaired_months.append(month)
        if swapped.any():
            lon, lat = lon.copy(), lat.copy()
            lon[swapped], lat[swapped] = repair_swapped_coordinates(lon[swapped], lat[swapped])
            out.loc[grp.index, "longitude"] = lon
            out.loc[grp.index, "latitude"] = lat
            out.loc[grp.index[swapped], "coordinates_repaired"] = True
            named = [f"{pd.Timestamp(m):%Y-%m}" for m in repaired_months if m is not None and "month" in grp]
            when = f" in {', '.join(named)}" if named else ""
            notes.append(f"{force}: coordinates were published with easting and northing swapped{when}; they were "
                         "repaired (converted to British National Grid, swapped back) before placing searches.")
        idx, _ = nearest_points(pts, lon, lat, max_km)
        hit = idx >= 0
        out.loc[grp.index[hit], "lsoa_code"] = pts["lsoa_code"].to_numpy()[idx[hit]]
        out.loc[grp.index[hit], "lad_code"] = pts["lad_code"].to_numpy()[idx[hit]]
        miss = (~hit).sum()
        if miss:
            notes.append(f"{force}: {miss:,} of {len(grp):,} searches ({miss / len(grp):.0%}) have no coordinates or "
                         f"lie more than {max_km:g} km from any published crime location, and are not placed.")
    return out, notes
