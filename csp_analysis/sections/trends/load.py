"""The trends report's data: every read goes through :mod:`csp_analysis.data` (the SQL lives there).

Each ``load_*`` function returns DataFrames (or the small containers of :mod:`.compute`) for
the pure analysis; none computes a statistic.
"""
from __future__ import annotations

import pandas as pd

from ... import data, geography
from .compute import ALL_CRIME, AreaCounts, TrendsInputs, national_area, national_coverage


def _districts(con, p, info: pd.DataFrame) -> list[AreaCounts]:
    if len(p.lad_codes) <= 1:
        return []
    dc = data.monthly_counts(con, p.lad_codes, p.start, p.end, by=("lad_code", "crime_type"), forces=p.forces)
    names = dict(zip(info["lad_code"], info["lad_name"])) if len(info) else {}
    return [AreaCounts(names.get(code, code), "District", data.population(con, [code]),
                       dc[dc["lad_code"] == code][["month", "crime_type", "n"]])
            for code in p.lad_codes]


def _county(con, p) -> list[AreaCounts]:
    county = geography.county_of(con, p.lad_codes)
    if county is None:
        return []
    cc = data.monthly_counts(con, county["lad_codes"], p.start, p.end, forces=p.forces)
    return [AreaCounts(f"{county['county_name']} (county)", "County", county["population"], cc, own_months=True)]


def _force_areas(con, p, info: pd.DataFrame) -> list[AreaCounts]:
    pfas = info[["pfa_code", "pfa_name"]].dropna().drop_duplicates() if len(info) else pd.DataFrame()
    return [AreaCounts(f"{r.pfa_name} (force area)", "Force area",
                       data.population(con, data.lads_in_pfa(con, r.pfa_code)),
                       data.monthly_counts(con, None, p.start, p.end, pfa_code=r.pfa_code, forces=p.forces),
                       own_months=True)
            for r in pfas.itertuples()]


def load_national_coverage(con) -> tuple[list[pd.Period], pd.Period | None, list[str]]:
    """Months with a street file from all 43 forces, the month with most and the forces missing in it."""
    return national_coverage(data.street_file_months(con))


def load_trends_inputs(con, p) -> TrendsInputs:
    """The partnership, its districts, county and force area(s), the force files' counts and
    the national coverage, for ``p`` (a :class:`csp_analysis.params.ReportParams`)."""
    counts = data.monthly_counts(con, p.lad_codes, p.start, p.end, forces=p.forces)
    info = data.lad_info(con, p.lad_codes)
    areas = [AreaCounts(p.name, "Partnership", data.population(con, p.lad_codes), counts)]
    areas += _districts(con, p, info)
    areas += _county(con, p)
    areas += _force_areas(con, p, info)
    return TrendsInputs(partnership=p.name, start=p.start, end=p.end,
                        priority_crime_types=list(p.priority_crime_types), areas=areas,
                        force_file_counts=data.force_file_counts(con, p.forces, p.start, p.end),
                        national=load_national_coverage(con),
                        county_note=geography.county_note(con, p.lad_codes, p.name))


def load_national(con, months_in: list) -> AreaCounts:
    """England and Wales's counts and population over ``months_in``."""
    return national_area(data.england_wales_counts(con, months_in), data.area_population(con, "K04000001"),
                         months_in)


def load_hot_spot_records(con, lad_codes, measure: str, a: list, b: list) -> tuple[pd.DataFrame, set, set, dict]:
    """Records by period, LSOA and street location for one measure, and the partnership's LSOA
    codes of each vintage (2011, 2021) with their names."""
    recs = data.location_counts_by_period(con, lad_codes, data.measure_crime_types(measure, ALL_CRIME), a, b)
    c11, c21, names = load_lsoa_vintages(con, lad_codes)
    return recs, c11, c21, names


def load_lsoa_vintages(con, lad_codes) -> tuple[set, set, dict]:
    """The partnership's LSOA codes of the 2011 and 2021 vintages and code -> name."""
    df = data.lsoa_vintages(con, lad_codes)
    c11 = set(df.loc[df["vintage"] == 2011, "lsoa_code"])
    c21 = set(df.loc[df["vintage"] == 2021, "lsoa_code"])
    names = dict(zip(df["lsoa_code"], df["lsoa_name"]))
    return c11, c21, names
