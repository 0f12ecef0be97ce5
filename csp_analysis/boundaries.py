"""LSOA boundary files (optional): ingestion into the store and reading back.

ONS publishes LSOA boundaries (2011 and 2021) as GeoPackage, GeoJSON and shapefiles
(Open Geography Portal, e.g. "LSOA (Dec 2021) Boundaries Generalised Clipped EW (BGC)").
``csp ingest-lookup`` accepts a GeoPackage (``.gpkg``) or GeoJSON (``.geojson`` /
``.json``) file; it is read with geopandas (pyogrio), its LSOA code column recognised by
name (``LSOA21CD`` / ``LSOA11CD``, any case), reprojected to British National Grid
(EPSG:27700, metres) and stored in the table ``lsoa_boundaries`` as WKB with the LSOA
code, name and vintage. A file replaces the rows of the LSOAs it covers (by code and
vintage), in one transaction, like the other lookups.

Without boundaries every map and test still works from LSOA centroids and the
published coordinates; the report then says what a boundary file would add
(contiguity neighbours for Gi*, the partnership outline, LSOA shapes on the maps).

geopandas is imported inside the functions so that reports that draw no map do not
pay its import time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import duckdb
import pandas as pd

from .ingest import IngestError
from .lookups import replace_rows

TABLE = "lsoa_boundaries"
SUFFIXES = (".gpkg", ".geojson", ".json")
BNG = "EPSG:27700"

SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  lsoa_code VARCHAR NOT NULL,
  lsoa_name VARCHAR,
  vintage INTEGER,
  geometry BLOB,
  source VARCHAR
)"""


def is_boundary_file(path: str | os.PathLike) -> bool:
    """True for a file name that :func:`load_boundaries` reads (GeoPackage / GeoJSON)."""
    return Path(path).name.lower().endswith(SUFFIXES)


def _code_column(columns) -> tuple[str, int]:
    lower = {c.lower(): c for c in columns}
    for v in (21, 11):
        for name in (f"lsoa{v}cd", f"lsoa{v}_code"):
            if name in lower:
                return lower[name], 2000 + v
    raise KeyError


def load_boundaries(con, path: str | os.PathLike) -> dict:
    """Load an ONS LSOA boundary file (GeoPackage or GeoJSON) into ``lsoa_boundaries``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A writable store connection.
    path : path
        ``.gpkg``, ``.geojson`` or ``.json`` with an ``LSOA21CD`` or ``LSOA11CD`` column
        (``LSOA21NM`` / ``LSOA11NM`` optional) and polygon geometries with a CRS.

    Returns
    -------
    dict
        ``file``, ``kind`` ("boundaries"), ``table`` and ``rows`` loaded.

    Raises
    ------
    IngestError
        Unreadable file, no LSOA code column, no coordinate reference system, a missing,
        empty or non-polygon geometry, or an LSOA listed twice (file, row and field named).
    """
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several error types for bad files
        raise IngestError(f"{path}: cannot be read as a GeoPackage/GeoJSON boundary file ({exc})") from exc
    try:
        code_col, vintage = _code_column(gdf.columns)
    except KeyError:
        raise IngestError(f"{path}: no LSOA code column (expected LSOA21CD or LSOA11CD; found "
                          f"{', '.join(map(str, list(gdf.columns)[:8]))})") from None
    if gdf.crs is None:
        raise IngestError(f"{path}: the file has no coordinate reference system, so its coordinates cannot be "
                          "placed (ONS files are in EPSG:27700 or EPSG:4326)")
    name_col = next((c for c in gdf.columns if c.lower() in (f"lsoa{vintage % 100}nm", f"lsoa{vintage % 100}_name")),
                    None)
    codes = gdf[code_col].astype(str).str.strip()
    for i, (code, geom) in enumerate(zip(codes, gdf.geometry)):
        where = f"{path}, feature {i + 1} ({code_col} {code!r})"
        if not code or code.lower() in ("nan", "none"):
            raise IngestError(f"{path}, feature {i + 1}: empty {code_col}")
        if geom is None or geom.is_empty:
            raise IngestError(f"{where}: no geometry")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise IngestError(f"{where}: geometry is a {geom.geom_type}, not a polygon")
    dup = codes.duplicated(keep=False)
    if dup.any():
        code = codes[dup].iloc[0]
        feats = [str(i + 1) for i in codes.index[codes == code]]
        raise IngestError(f"{path}, features {', '.join(feats)}: LSOA {code!r} is listed more than once")
    geo = gdf.geometry.to_crs(BNG).make_valid()
    out = pd.DataFrame({
        "lsoa_code": codes.to_numpy(),
        "lsoa_name": gdf[name_col].astype(str).to_numpy() if name_col else None,
        "vintage": vintage,
        "geometry": [g.wkb for g in geo],
        "source": path.name,
    })
    con.execute(SCHEMA)
    replace_rows(con, TABLE, out, ("lsoa_code", "vintage"), path)  # a reload replaces, by LSOA and vintage
    return {"file": str(path), "kind": "boundaries", "table": TABLE, "rows": len(out)}


def has_boundaries(con) -> bool:
    """True when the store has an ``lsoa_boundaries`` table with rows (read-only safe)."""
    try:
        return con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0] > 0
    except duckdb.Error:  # table absent in stores built before boundaries existed
        return False


def read_boundaries(con, lsoa_codes: Sequence[str] | None = None):
    """LSOA polygons from the store as a GeoDataFrame in British National Grid, or None.

    Returns None when the store holds no boundaries (or none for these codes). Where a
    code is in both vintages the 2021 polygon is used.
    """
    if not has_boundaries(con):
        return None
    import geopandas as gpd
    import shapely

    cond = ""
    if lsoa_codes is not None:
        codes = [str(c).replace("'", "''") for c in lsoa_codes]
        if not codes:
            return None
        cond = "WHERE lsoa_code IN (" + ", ".join(f"'{c}'" for c in codes) + ")"
    df = con.execute(f"SELECT lsoa_code, lsoa_name, vintage, geometry FROM {TABLE} {cond} "
                     "QUALIFY row_number() OVER (PARTITION BY lsoa_code ORDER BY vintage DESC) = 1 "
                     "ORDER BY lsoa_code").df()
    if not len(df):
        return None
    geom = shapely.from_wkb([bytes(b) for b in df["geometry"]])
    return gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geom, crs=BNG)
