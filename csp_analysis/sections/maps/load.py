"""The maps section's data, through :mod:`csp_analysis.data` and :mod:`csp_analysis.boundaries`."""
from __future__ import annotations

import pandas as pd

from ... import boundaries as boundaries_mod
from ... import data
from ..trends.constants import ALL_CRIME


def _crime_types(measure: str) -> list[str]:
    """The crime types of a measure, as the data layer takes them ([] = all crime except ASB)."""
    return data.measure_crime_types(measure, ALL_CRIME)


def load_geography(con, lad_codes) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """The partnership's LSOAs of both vintages with names, their centroids and the boundary
    polygons (None without a boundary file)."""
    lk = data.lsoa_vintage_summary(con, lad_codes)
    cent = data.lsoa_centroids(con, lad_codes)
    polys = boundaries_mod.read_boundaries(con, lk["lsoa_code"].tolist()) if len(lk) else None
    return lk, cent, polys


def load_points(con, lad_codes, measure: str, a: list, b: list) -> pd.DataFrame:
    """Located records of one measure in the two periods' months."""
    return data.records_by_period(con, lad_codes, _crime_types(measure), a, b)


def load_lsoa_months(con, lad_codes, measure: str, months: list) -> pd.DataFrame:
    """Records of one measure by LSOA and month."""
    return data.lsoa_month_counts(con, lad_codes, _crime_types(measure), months=months)


def load_boundaries(con, codes: list[str]):
    """Boundary polygons of ``codes`` (None without a boundary file or codes)."""
    return boundaries_mod.read_boundaries(con, codes) if len(codes) else None
