"""Read partnership data out of the store for the reports: the data layer.

Every query the reports run lives here (``sections/`` and ``intervention_data`` receive
DataFrames), and every value reaches DuckDB as a bound parameter (lists as one typed array,
``col IN (SELECT unnest($x))``), never spliced into the SQL text.

Every query assigns records to areas by the LAD of their LSOA (view ``street_geo``),
never by the force file they came in. Months are returned as ``pandas.Timestamp``
(first of the month) unless said otherwise. Gaps are never filled: a month with no file
is absent.
"""
from __future__ import annotations

import copy
import functools
import re
from typing import Sequence

import pandas as pd

# ---------------------------------------------------------------------------- query cache
# The notebooks of one partnership ask the store the same questions (covered months,
# monthly counts, LAD names, vintage...). The runner enables this cache in its warm
# kernels (csp_analysis.runner.kernel_reset) and, between partnerships, forgets the answers
# about one partnership while keeping national and force-wide ones (runner.SHARED_QUERIES,
# through clear_cache(keep=...)); it is off by default, so interactive use and tests always query the store. Hand-written
# rather than functools.lru_cache because the key must name the store (path and
# modification time), not the connection object, and results are returned as copies.
_CACHE: dict = {}
_CACHE_ON = [False]


def enable_cache(on: bool = True) -> None:
    """Turn the query cache on (or off) in this process."""
    _CACHE_ON[0] = bool(on)


def clear_cache(keep=None, max_kept: int | None = None) -> None:
    """Forget cached query results.

    Parameters
    ----------
    keep : callable, optional
        ``keep(name)`` is True for the query functions (by name) whose answers stay;
        default: forget everything.
    max_kept : int, optional
        When more answers than this would stay, forget everything (bounded memory).
    """
    if keep is None:
        _CACHE.clear()
        return
    gone = [k for k in _CACHE if not (isinstance(k, tuple) and k and keep(k[0]))]
    for k in gone:
        del _CACHE[k]
    if max_kept is not None and len(_CACHE) > max_kept:
        _CACHE.clear()


def _store_key(con):
    import os

    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    path = row[0] if row else None
    try:
        mtime = os.stat(path).st_mtime_ns if path else None
    except OSError:
        mtime = None
    return path, mtime


def _freeze(x):
    """A hashable, exact stand-in for an argument (no truncated reprs of long arrays)."""
    import numpy as np

    if isinstance(x, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return (type(x).__name__, tuple(_freeze(v) for v in list(x)))
    if isinstance(x, (set, frozenset)):
        return ("set", tuple(sorted((_freeze(v) for v in x), key=repr)))
    if isinstance(x, dict):
        return ("dict", tuple(sorted(((k, _freeze(v)) for k, v in x.items()), key=repr)))
    hash(x)  # TypeError for anything else unhashable: the call is then not cached
    return x


def _cached(fn):
    """Cache ``fn(con, ...)`` by store and arguments while the cache is on; return copies."""
    @functools.wraps(fn)
    def wrapper(con, *args, **kwargs):
        if not _CACHE_ON[0]:
            return fn(con, *args, **kwargs)
        store = _store_key(con)
        if store[0] in (None, "", ":memory:"):
            return fn(con, *args, **kwargs)
        try:
            key = (fn.__name__, store, _freeze(args), _freeze(kwargs))
        except TypeError:
            return fn(con, *args, **kwargs)
        if key not in _CACHE:
            _CACHE[key] = fn(con, *args, **kwargs)
        hit = _CACHE[key]
        return hit.copy(deep=True) if isinstance(hit, pd.DataFrame) else copy.deepcopy(hit)
    wrapper.uncached = fn
    return wrapper


# ---------------------------------------------------------------------------- bound parameters
# Every value reaches DuckDB as a bound parameter (``$name``), never spliced into the SQL
# text. A list is bound as one typed array and tested with ``col IN (SELECT unnest($x))``,
# which keeps SQL's three-valued IN semantics (a NULL column value is neither in nor out).
ASB = "Anti-social behaviour"


def _texts(values: Sequence) -> list[str]:
    """A list of codes/names as strings (the type DuckDB binds as ``VARCHAR[]``)."""
    return [str(v) for v in values]


def _months(values: Sequence) -> list:
    """Months (Timestamp, Period, date or 'YYYY-MM[-DD]' text) as first-of-month ``datetime.date``."""
    return [pd.Period(m, freq="M").to_timestamp().date() for m in values]


def _in_texts(col: str, name: str) -> str:
    return f"{col} IN (SELECT unnest(${name}::VARCHAR[]))"


def _in_months(col: str, name: str) -> str:
    return f"{col} IN (SELECT unnest(${name}::DATE[]))"


def _window(start=None, end=None, col: str = "month") -> tuple[str, dict]:
    """`` AND col >= $start AND col <= $end`` (first of month) and its parameters."""
    w, prm = [], {}
    if start is not None:
        w.append(f"{col} >= $start::DATE")
        prm["start"] = pd.Timestamp(start).replace(day=1).date()
    if end is not None:
        w.append(f"{col} <= $end::DATE")
        prm["end"] = pd.Timestamp(end).replace(day=1).date()
    return ((" AND " + " AND ".join(w)) if w else ""), prm


def _crime_type_condition(crime_types: Sequence[str] | None, prm: dict) -> str:
    """SQL for a choice of crime types (adds ``$types``/``$asb`` to ``prm``).

    ``None``: every type including ASB; ``[]``: every type except ASB; else those types.
    """
    if crime_types is None:
        return "TRUE"
    if not len(crime_types):
        prm["asb"] = ASB
        return "crime_type <> $asb"
    prm["types"] = _texts(crime_types)
    return _in_texts("crime_type", "types")


def measure_crime_types(measure: str, all_crime: str = "All crime") -> list[str]:
    """The crime types of a report measure: ``[]`` (all but ASB) for ``all_crime``, else the type itself."""
    return [] if measure == all_crime else [measure]


def _df(con, sql: str, prm: dict | None = None) -> pd.DataFrame:
    return con.execute(sql, prm or {}).df() if prm else con.execute(sql).df()


@_cached
def monthly_counts(con, lad_codes: Sequence[str] | None = None, start=None, end=None,
                   by: Sequence[str] = ("crime_type",), pfa_code: str | None = None,
                   lsoa_codes: Sequence[str] | None = None, forces: Sequence[str] | None = None) -> pd.DataFrame:
    """Records per month (and per ``by`` columns) for LADs, a police force area or LSOAs.

    Parameters
    ----------
    forces : list of str, optional
        The force(s) whose files cover the area (the partnership's ``forces``). Only
        months for which the store holds a street file of every one of them are
        returned; records that other forces' files place in the area are counted in
        those months. Default: the forces found in the records.

    Returns
    -------
    DataFrame
        ``month`` and the ``by`` columns, and ``n`` (records). Only covered months
        appear (combinations with zero records inside a covered month are filled
        with 0 so that a zero is not mistaken for a gap).
    """
    where, prm = [], {}
    if lad_codes is not None:
        where.append(_in_texts("lad_code", "lads"))
        prm["lads"] = _texts(lad_codes)
    if pfa_code is not None:
        where.append("pfa_code = $pfa")
        prm["pfa"] = str(pfa_code)
    if lsoa_codes is not None:
        where.append(_in_texts("lsoa_code", "lsoas"))
        prm["lsoas"] = _texts(lsoa_codes)
    cond = " AND ".join(where) if where else "TRUE"
    by = list(by)
    for b in by:  # column names cannot be bound: only plain identifiers pass
        if not str(b).isidentifier():
            raise ValueError(f"monthly_counts: 'by' must name columns, got {b!r}")
    cols = ", ".join(["month", *by])
    win, wprm = _window(start, end)
    q = f"SELECT {cols}, count(*) AS n FROM street_geo WHERE {cond}{win} GROUP BY ALL"
    df = _df(con, q, {**prm, **wprm})
    df["month"] = pd.to_datetime(df["month"])
    present = covered_months(con, lad_codes=lad_codes, forces=forces, start=start, end=end)
    df = df[df["month"].isin(present)]
    if by:
        levels = [df[b].dropna().unique() for b in by]
        full = pd.MultiIndex.from_product([present, *levels], names=["month", *by]).to_frame(index=False)
        df = full.merge(df, on=["month", *by], how="left").fillna({"n": 0})
    else:
        df = pd.DataFrame({"month": present}).merge(df, on="month", how="left").fillna({"n": 0})
    df["n"] = df["n"].astype(int)
    return df.sort_values(["month", *by]).reset_index(drop=True)


@_cached
def forces_for(con, lad_codes: Sequence[str]) -> list[str]:
    """The data.police.uk forces whose files hold records in these LADs."""
    q = f"SELECT DISTINCT force FROM street_geo WHERE {_in_texts('lad_code', 'lads')}"
    return sorted(r[0] for r in con.execute(q, {"lads": _texts(lad_codes)}).fetchall())


@_cached
def covered_months(con, lad_codes: Sequence[str] | None = None, forces: Sequence[str] | None = None,
                   start=None, end=None) -> list[pd.Timestamp]:
    """Months for which the store holds a street file of the forces covering these LADs.

    A month is 'covered' when a file of every relevant force was loaded; the LADs'
    forces are found from the records themselves unless ``forces`` is given.
    """
    if forces is None:
        forces = forces_for(con, lad_codes) if lad_codes is not None else None
    cond = _in_texts("force", "forces") if forces else "TRUE"
    win, prm = _window(start, end)
    if forces:
        prm["forces"] = _texts(forces)
    q = (f"SELECT month FROM ingest_log WHERE kind = 'street' AND status IN ('loaded','replaced') "
         f"AND {cond}{win} GROUP BY month "
         f"HAVING count(DISTINCT force) >= $need ORDER BY month")
    # the log may hold superseded copies of the same month; the street table is the truth
    months = [pd.Timestamp(r[0]) for r in con.execute(q, {**prm, "need": len(forces) if forces else 1}).fetchall()]
    have = {pd.Timestamp(r[0]) for r in con.execute(
        f"SELECT DISTINCT month FROM street WHERE {cond}{win}", prm).fetchall()}
    return [m for m in months if m in have]


def missing_months(months: Sequence[pd.Timestamp], start, end) -> list[pd.Timestamp]:
    """Months in [start, end] that are not in ``months``."""
    full = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS")
    have = set(pd.to_datetime(list(months)))
    return [m for m in full if m not in have]


@_cached
def no_location_counts(con, forces: Sequence[str]) -> pd.DataFrame:
    """Rows without a location per force and month (these cannot be placed in a CSP).

    The share is taken against the rows read from the copy of the file currently in the
    store (the latest loaded or replaced log row of the force-month), not an earlier copy.
    """
    df = con.execute(
        f"SELECT n.force, n.month, n.rows_no_location, l.rows_read FROM no_location n "
        f"JOIN (SELECT kind, force, month, rows_read FROM ingest_log "
        f"      WHERE status IN ('loaded','replaced') "
        f"      QUALIFY row_number() OVER (PARTITION BY kind, force, month "
        f"                                 ORDER BY finished_at DESC, started_at DESC) = 1) l "
        f"  ON l.kind = n.kind AND l.force = n.force AND l.month = n.month "
        f"WHERE n.kind = 'street' AND {_in_texts('n.force', 'forces')} ORDER BY 1, 2", {"forces": _texts(forces)}
    ).df()
    df["month"] = pd.to_datetime(df["month"])
    df["share"] = df["rows_no_location"] / df["rows_read"]
    return df.drop_duplicates(["force", "month"], keep="last").reset_index(drop=True)


@_cached
def lad_info(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """LAD names with their CSP and police force area."""
    return con.execute(
        f"SELECT lad_code, lad_name, csp_code, csp_name, pfa_code, pfa_name FROM lad_lookup "
        f"WHERE {_in_texts('lad_code', 'lads')} ORDER BY lad_code", {"lads": _texts(lad_codes)}
    ).df()


@_cached
def lads_in_pfa(con, pfa_code: str) -> list[str]:
    return [r[0] for r in con.execute("SELECT lad_code FROM lad_lookup WHERE pfa_code = ?", [pfa_code]).fetchall()]


@_cached
def population(con, area_codes: Sequence[str]) -> float | None:
    """Residents of LADs (mid-year estimate where available, else Census 2021 by LSOA).

    Loading a mid-year estimates file replaces the areas' earlier estimates, so the
    estimate is the one from the file loaded last (stores built before that rule may hold
    several rows per area: the one inserted last is used).

    Returns None when the store has no population for any of the areas.
    """
    total, found = 0.0, 0
    for code in area_codes:
        rows = con.execute("SELECT population FROM population_area WHERE area_code = ? "
                           "ORDER BY rowid DESC LIMIT 1", [code]).fetchall()
        r = rows[0] if rows else None
        if r is None:
            rows = con.execute(
                "SELECT sum(p.population) FROM population_lsoa p JOIN lsoa_lad l ON l.lsoa_code = p.lsoa_code "
                "WHERE l.lad_code = ?", [code]).fetchall()
            r = rows[0] if rows and rows[0][0] is not None else None
        if r is not None:
            total += float(r[0])
            found += 1
    return total if found == len(area_codes) and found else None


@_cached
def lsoa_population(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """Census 2021 residents per LSOA (2021 codes) in these LADs."""
    return con.execute(
        f"SELECT p.lsoa_code, any_value(p.lsoa_name) AS lsoa_name, sum(p.population) AS population "
        f"FROM population_lsoa p JOIN lsoa_lad l ON l.lsoa_code = p.lsoa_code "
        f"WHERE {_in_texts('l.lad_code', 'lads')} GROUP BY p.lsoa_code ORDER BY p.lsoa_code",
        {"lads": _texts(lad_codes)}).df()


@_cached
def lsoas_by_name(con, names: Sequence[str]) -> list[str]:
    """Resolve LSOA names (either vintage) to codes."""
    rows = con.execute(
        f"SELECT DISTINCT lsoa_code FROM lsoa_lookup WHERE {_in_texts('lsoa_name', 'names')}",
        {"names": _texts(names)}).fetchall()
    return sorted(r[0] for r in rows)


@_cached
def lsoa_centroids(con, lad_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """LSOA centroids: the supplied lookup when there is one, else estimated as the mean
    of the records' own (anonymised, snapped) coordinates."""
    cond = f"AND {_in_texts('lad_code', 'lads')}" if lad_codes is not None else ""
    est = _df(con,
              f"SELECT lsoa_code, avg(longitude) AS longitude, avg(latitude) AS latitude, 'records' AS source "
              f"FROM street_geo WHERE lsoa_code IS NOT NULL AND longitude IS NOT NULL {cond} GROUP BY lsoa_code",
              {"lads": _texts(lad_codes)} if lad_codes is not None else None)
    sup = con.execute("SELECT lsoa_code, longitude, latitude, 'lookup' AS source FROM lsoa_centroids").df()
    if len(sup):
        sup = sup[sup["lsoa_code"].isin(est["lsoa_code"])] if lad_codes is not None else sup
        est = pd.concat([sup, est[~est["lsoa_code"].isin(sup["lsoa_code"])]], ignore_index=True)
    return est.sort_values("lsoa_code").reset_index(drop=True)


@_cached
def data_vintage(con) -> dict:
    """Latest month per kind and force, and when files were ingested."""
    df = con.execute(
        "SELECT kind, force, max(month) AS latest_month, min(month) AS first_month, count(DISTINCT month) AS months, "
        "max(finished_at) AS last_ingest FROM ingest_log WHERE status IN ('loaded','replaced') GROUP BY kind, force "
        "ORDER BY kind, force"
    ).df()
    out = {}
    for r in df.itertuples():
        out[f"{r.kind}/{r.force}"] = {
            "first_month": f"{pd.Timestamp(r.first_month):%Y-%m}",
            "latest_month": f"{pd.Timestamp(r.latest_month):%Y-%m}",
            "months": int(r.months),
            "last_ingest": f"{pd.Timestamp(r.last_ingest):%Y-%m-%d %H:%M} UTC",
        }
    return out


@_cached
def has_street_data(con, lad_codes: Sequence[str], forces: Sequence[str] | None = None) -> bool:
    """True when the store holds records in these LADs (from the given forces' files)."""
    prm = {"lads": _texts(lad_codes)}
    cond = ""
    if forces:
        cond = " AND " + _in_texts("force", "forces")
        prm["forces"] = _texts(forces)
    q = f"SELECT 1 FROM street_geo WHERE {_in_texts('lad_code', 'lads')}{cond} LIMIT 1"
    return con.execute(q, prm).fetchall() != []


@_cached
def stray_records(con, lad_codes: Sequence[str], forces: Sequence[str]) -> int:
    """Records placed in these LADs by *other* forces' files (crimes recorded elsewhere)."""
    if not len(forces):
        # as before parameters were bound: ``force NOT IN (NULL)`` held for no record
        return 0
    q = (f"SELECT count(*) FROM street_geo WHERE {_in_texts('lad_code', 'lads')} "
         f"AND force NOT IN (SELECT unnest($forces::VARCHAR[]))")
    return con.execute(q, {"lads": _texts(lad_codes), "forces": _texts(forces)}).fetchall()[0][0]


@_cached
def stop_search_records(con, forces: Sequence[str], start=None, end=None) -> pd.DataFrame:
    """Stop-and-search records of the given forces (all of the force area)."""
    win, prm = _window(start, end)
    df = con.execute(f"SELECT * FROM stop_search WHERE {_in_texts('force', 'forces')}{win}",
                     {**prm, "forces": _texts(forces)}).df()
    if len(df):
        df["month"] = pd.to_datetime(df["month"])
    return df


def month_range_text(months: Sequence[pd.Timestamp]) -> str:
    """'Jan 2022 to Mar 2022; Jan 2025 to Dec 2025' for a list of months."""
    ms = sorted({pd.Timestamp(m) for m in months})
    if not ms:
        return "none"
    out, start, prev = [], ms[0], ms[0]
    for m in ms[1:] + [None]:
        if m is not None and (m.year * 12 + m.month) == (prev.year * 12 + prev.month) + 1:
            prev = m
            continue
        out.append(f"{start:%b %Y}" if start == prev else f"{start:%b %Y} to {prev:%b %Y}")
        if m is not None:
            start = prev = m
    return "; ".join(out)


# ============================================================================ report-section queries
# The report sections (``csp_analysis/sections``) ask the store only through these
# functions; each returns a DataFrame (or a plain value) and binds every value.
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def table_has_rows(con, table: str) -> bool:
    """True when the store has table ``table`` with at least one row (False if it is missing)."""
    if not _IDENT.match(str(table)):  # a table name cannot be bound: only plain identifiers pass
        raise ValueError(f"table_has_rows: not a table name: {table!r}")
    try:
        return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] > 0
    except Exception:  # noqa: BLE001 - a store without the table
        return False


@_cached
def pfa_names(con, pfa_codes: Sequence[str]) -> list[str]:
    """Names of these police force areas (sorted; unnamed ones left out)."""
    if not len(pfa_codes):
        return []
    rows = con.execute(f"SELECT DISTINCT pfa_name FROM lad_lookup WHERE {_in_texts('pfa_code', 'pfas')}",
                       {"pfas": _texts(pfa_codes)}).fetchall()
    return sorted(r[0] for r in rows if r[0])


@_cached
def pfa_list(con) -> pd.DataFrame:
    """Every police force area of the LAD lookup: ``pfa_code``, ``pfa_name``."""
    return con.execute("SELECT DISTINCT pfa_code, pfa_name FROM lad_lookup WHERE pfa_code IS NOT NULL").df()


@_cached
def lads_in_pfas(con, pfa_codes: Sequence[str]) -> pd.DataFrame:
    """LADs of these police force areas: ``lad_code``, ``lad_name``, ``csp_code``, ``csp_name``."""
    return con.execute(f"SELECT lad_code, lad_name, csp_code, csp_name FROM lad_lookup "
                       f"WHERE {_in_texts('pfa_code', 'pfas')}", {"pfas": _texts(pfa_codes)}).df()


@_cached
def lads_of_lsoas(con, lsoa_codes: Sequence[str]) -> list[str]:
    """The LADs holding these LSOAs (either vintage)."""
    rows = con.execute(f"SELECT DISTINCT lad_code FROM lsoa_lad WHERE {_in_texts('lsoa_code', 'lsoas')}",
                       {"lsoas": _texts(lsoa_codes)}).fetchall()
    return [r[0] for r in rows]


@_cached
def lad_populations(con) -> pd.Series:
    """Census 2021 residents by LSOA summed to every LAD (index ``lad_code``, name ``population``)."""
    return con.execute(
        "SELECT l.lad_code, sum(p.population) AS population FROM population_lsoa p JOIN lsoa_lad l "
        "ON l.lsoa_code = p.lsoa_code GROUP BY l.lad_code").df().set_index("lad_code")["population"]


@_cached
def area_population(con, area_code: str) -> float | None:
    """The population of one area in ``population_area`` (e.g. ``K04000001``), or None."""
    rows = con.execute("SELECT population FROM population_area WHERE area_code = $code LIMIT 1",
                       {"code": str(area_code)}).fetchall()
    return float(rows[0][0]) if rows else None


@_cached
def ethnic_population_rows(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """Census 2021 residents by ``area_code``, ``sex`` and ``ethnic_group`` (as loaded) in these LADs."""
    return con.execute(
        f"SELECT area_code, sex, ethnic_group, sum(population) AS population FROM population_ethnicity "
        f"WHERE {_in_texts('area_code', 'lads')} GROUP BY ALL", {"lads": _texts(lad_codes)}).df()


@_cached
def deprivation_deciles(con, lsoa_codes: Sequence[str]) -> pd.DataFrame:
    """IoD ``imd_decile`` of these LSOAs (``lsoa_code``, ``imd_decile``)."""
    return con.execute(f"SELECT lsoa_code, imd_decile FROM deprivation WHERE {_in_texts('lsoa_code', 'lsoas')}",
                       {"lsoas": _texts(lsoa_codes)}).df()


@_cached
def lsoa_vintages(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """LSOA codes of these LADs (2011 or 2023 LAD codes) per vintage: ``lsoa_code``, ``lsoa_name``, ``vintage``."""
    return con.execute(
        f"SELECT lsoa_code, any_value(lsoa_name) AS lsoa_name, vintage FROM lsoa_lookup "
        f"WHERE {_in_texts('lad_code', 'lads')} OR {_in_texts('lad23_code', 'lads')} GROUP BY lsoa_code, vintage",
        {"lads": _texts(lad_codes)}).df()


@_cached
def lsoa_vintage_summary(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """One row per LSOA code of these LADs: ``lsoa_code``, ``lsoa_name``, ``vintage`` (latest),
    ``in_2011``, ``in_2021``."""
    return con.execute(
        f"SELECT lsoa_code, any_value(lsoa_name) AS lsoa_name, max(vintage) AS vintage, "
        f"bool_or(vintage = 2011) AS in_2011, bool_or(vintage = 2021) AS in_2021 FROM lsoa_lookup "
        f"WHERE {_in_texts('lad_code', 'lads')} OR {_in_texts('lad23_code', 'lads')} GROUP BY lsoa_code",
        {"lads": _texts(lad_codes)}).df()


@_cached
def lsoa_vintage_links(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """LSOAs of these LADs (``lsoa_lad``) with the vintages whose lookup holds each code:
    ``lsoa_code``, ``lsoa_name``, ``lad_code``, ``in_2011``, ``in_2021``, ``name_2011``."""
    return con.execute(
        f"SELECT l.lsoa_code, l.lsoa_name, l.lad_code, "
        f"  bool_or(v.vintage = 2011) AS in_2011, bool_or(v.vintage = 2021) AS in_2021, "
        f"  any_value(CASE WHEN v.vintage = 2011 THEN v.lsoa_name END) AS name_2011 "
        f"FROM lsoa_lad l JOIN lsoa_lookup v ON v.lsoa_code = l.lsoa_code "
        f"WHERE {_in_texts('l.lad_code', 'lads')} GROUP BY l.lsoa_code, l.lsoa_name, l.lad_code",
        {"lads": _texts(lad_codes)}).df()


@_cached
def lsoa_month_counts(con, lad_codes: Sequence[str], crime_types: Sequence[str] | None = None,
                      months: Sequence | None = None, start=None, end=None) -> pd.DataFrame:
    """Records per ``month`` and ``lsoa_code`` (column ``n``) in these LADs.

    ``crime_types``: None = every type, ``[]`` = every type except ASB, else those types.
    ``months`` (a list) and/or ``start``/``end`` restrict the months. Months are not checked
    for coverage (see :func:`covered_months`).
    """
    prm = {"lads": _texts(lad_codes)}
    cond = _crime_type_condition(crime_types, prm)
    mcond = ""
    if months is not None:
        mcond = " AND " + _in_months("month", "months")
        prm["months"] = _months(months)
    win, wprm = _window(start, end)
    return con.execute(
        f"SELECT month, lsoa_code, count(*) AS n FROM street_geo WHERE {_in_texts('lad_code', 'lads')} "
        f"AND {cond}{mcond}{win} GROUP BY ALL", {**prm, **wprm}).df()


@_cached
def lsoa_crime_counts(con, lad_codes: Sequence[str], months: Sequence) -> pd.DataFrame:
    """Crimes (ASB excluded) with an LSOA per ``lsoa_code`` and ``month`` (column ``crimes``)."""
    return con.execute(
        f"SELECT lsoa_code, month, count(*) AS crimes FROM street_geo WHERE {_in_texts('lad_code', 'lads')} "
        f"AND crime_type <> $asb AND {_in_months('month', 'months')} AND lsoa_code IS NOT NULL GROUP BY ALL",
        {"lads": _texts(lad_codes), "asb": ASB, "months": _months(months)}).df()


@_cached
def crime_vintage_by_month(con, lad_codes: Sequence[str], months: Sequence) -> pd.DataFrame:
    """Per month, crimes (ASB excluded) in these LADs: ``n``, with 2011-only LSOA codes ``n11``,
    2021-only codes ``n21`` and codes in the 2021 population table ``n_pop``."""
    df = con.execute(f"""
        WITH v AS (SELECT lsoa_code, max(CASE WHEN vintage = 2011 THEN 1 ELSE 0 END) AS has11,
                          max(CASE WHEN vintage = 2021 THEN 1 ELSE 0 END) AS has21
                   FROM lsoa_lookup GROUP BY lsoa_code),
             pl AS (SELECT DISTINCT lsoa_code FROM population_lsoa)
        SELECT s.month, count(*) AS n,
               count(*) FILTER (WHERE v.has11 = 1 AND v.has21 = 0) AS n11,
               count(*) FILTER (WHERE v.has21 = 1 AND v.has11 = 0) AS n21,
               count(*) FILTER (WHERE pl.lsoa_code IS NOT NULL) AS n_pop
        FROM street_geo s LEFT JOIN v ON v.lsoa_code = s.lsoa_code LEFT JOIN pl ON pl.lsoa_code = s.lsoa_code
        WHERE {_in_texts('s.lad_code', 'lads')} AND s.crime_type <> $asb AND {_in_months('s.month', 'months')}
        GROUP BY s.month ORDER BY s.month""",
        {"lads": _texts(lad_codes), "asb": ASB, "months": _months(months)}).df()
    df["month"] = pd.to_datetime(df["month"])
    return df


@_cached
def street_file_months(con, months: Sequence | None = None) -> pd.DataFrame:
    """Distinct ``month``, ``force`` of loaded (or replaced) street files, optionally in ``months``."""
    q = ("SELECT DISTINCT month, force FROM ingest_log WHERE kind = 'street' "
         "AND status IN ('loaded','replaced')")
    if months is None:
        return con.execute(q).df()
    return con.execute(q + " AND " + _in_months("month", "months"), {"months": _months(months)}).df()


@_cached
def national_street_months(con, min_forces: int) -> pd.DataFrame:
    """Months with street files of at least ``min_forces`` forces (``month``, ``forces``), latest first."""
    return con.execute(
        "SELECT month, count(DISTINCT force) AS forces FROM ingest_log WHERE kind = 'street' "
        "AND status IN ('loaded','replaced') GROUP BY month HAVING count(DISTINCT force) >= $k "
        "ORDER BY month DESC", {"k": int(min_forces)}).df()


@_cached
def force_pfa_counts(con, month) -> pd.DataFrame:
    """Records of one month per ``force`` file and police force area ``pfa_code`` (column ``n``)."""
    return con.execute(
        "SELECT force, pfa_code, count(*) AS n FROM street_geo WHERE month = $month::DATE "
        "AND pfa_code IS NOT NULL GROUP BY force, pfa_code", {"month": _months([month])[0]}).df()


@_cached
def lad_crime_counts(con, months: Sequence, pfa_codes: Sequence[str]) -> pd.Series:
    """Crimes (ASB excluded) in these months per LAD of these police force areas (index ``lad_code``)."""
    return con.execute(
        f"SELECT lad_code, count(*) AS n FROM street_geo WHERE {_in_months('month', 'months')} "
        f"AND crime_type <> $asb AND {_in_texts('pfa_code', 'pfas')} GROUP BY lad_code",
        {"months": _months(months), "asb": ASB, "pfas": _texts(pfa_codes)}).df().set_index("lad_code")["n"]


@_cached
def unassigned_crimes(con, months: Sequence, forces: Sequence[str]) -> int:
    """Crimes (ASB excluded) of these forces' files placed in a LAD that no CSP of the lookup holds."""
    return int(con.execute(
        f"SELECT count(*) FROM street_geo WHERE {_in_months('month', 'months')} AND crime_type <> $asb "
        f"AND {_in_texts('force', 'forces')} AND lad_code IS NOT NULL AND csp_code IS NULL",
        {"months": _months(months), "asb": ASB, "forces": _texts(forces)}).fetchone()[0])


@_cached
def outcome_counts(con, lad_codes: Sequence[str], pfa_codes: Sequence[str], months: Sequence,
                   no_suspect: str, court_outcomes: Sequence[str]) -> pd.DataFrame:
    """Crimes (ASB excluded) by latest outcome, per ``crime_type`` and ``mine`` (in ``lad_codes``
    or else in the force areas): ``n``, ``no_suspect``, ``charged``, ``court``,
    ``charged_or_court``, ``pending``."""
    return con.execute(f"""
        SELECT crime_type, {_in_texts('lad_code', 'lads')} AS mine, count(*) AS n,
               count(*) FILTER (WHERE last_outcome = $no_suspect) AS no_suspect,
               count(*) FILTER (WHERE lower(last_outcome) LIKE '%charged%') AS charged,
               count(*) FILTER (WHERE {_in_texts('last_outcome', 'court')}) AS court,
               count(*) FILTER (WHERE {_in_texts('last_outcome', 'court')} OR lower(last_outcome) LIKE '%charged%')
                   AS charged_or_court,
               count(*) FILTER (WHERE last_outcome IN ('Under investigation', 'Status update unavailable')
                                OR last_outcome IS NULL) AS pending
        FROM street_geo WHERE {_in_months('month', 'months')} AND crime_type <> $asb
          AND ({_in_texts('pfa_code', 'pfas')} OR {_in_texts('lad_code', 'lads')})
        GROUP BY ALL""", {"lads": _texts(lad_codes), "pfas": _texts(pfa_codes), "months": _months(months),
                          "asb": ASB, "no_suspect": no_suspect, "court": _texts(court_outcomes)}).df()


@_cached
def force_file_counts(con, forces: Sequence[str], start=None, end=None) -> pd.DataFrame:
    """Rows per force file, month and crime type (as published, located or not): ``force``,
    ``month`` (Timestamp), ``crime_type``, ``n``."""
    win, prm = _window(start, end)
    df = con.execute(f"SELECT force, month, crime_type, count(*) AS n FROM street WHERE "
                     f"{_in_texts('force', 'forces')}{win} GROUP BY ALL", {**prm, "forces": _texts(forces)}).df()
    df["month"] = pd.to_datetime(df["month"])
    return df


@_cached
def england_wales_counts(con, months: Sequence) -> pd.DataFrame:
    """Records in LADs of England and Wales (codes E*, W*) per ``month`` and ``crime_type`` (``n``)."""
    return con.execute(
        "SELECT month, crime_type, count(*) AS n FROM street_geo WHERE (lad_code LIKE 'E%' OR lad_code LIKE 'W%') "
        f"AND {_in_months('month', 'months')} GROUP BY ALL", {"months": _months(months)}).df()


@_cached
def records_by_period(con, lad_codes: Sequence[str], crime_types: Sequence[str] | None, latest: Sequence,
                      previous: Sequence = ()) -> pd.DataFrame:
    """Records with coordinates in ``latest`` + ``previous`` months: ``period`` ('latest' or
    'previous'), ``lsoa_code``, ``longitude``, ``latitude`` (one row per record).

    ``crime_types`` as in :func:`lsoa_month_counts`.
    """
    prm = {"lads": _texts(lad_codes), "latest": _months(latest), "months": _months(list(latest) + list(previous))}
    cond = _crime_type_condition(crime_types, prm)
    return con.execute(
        f"SELECT CASE WHEN {_in_months('month', 'latest')} THEN 'latest' ELSE 'previous' END AS period, lsoa_code, "
        f"longitude, latitude FROM street_geo WHERE {_in_texts('lad_code', 'lads')} "
        f"AND {cond} AND {_in_months('month', 'months')} AND longitude IS NOT NULL "
        "AND latitude IS NOT NULL", prm).df()


@_cached
def location_counts_by_period(con, lad_codes: Sequence[str], crime_types: Sequence[str] | None, latest: Sequence,
                              previous: Sequence = ()) -> pd.DataFrame:
    """Records in ``latest`` + ``previous`` months per ``period``, ``lsoa_code``, ``lsoa_name`` and
    street ``location`` ('' when none), column ``n``. ``crime_types`` as in :func:`lsoa_month_counts`."""
    prm = {"lads": _texts(lad_codes), "latest": _months(latest), "months": _months(list(latest) + list(previous))}
    cond = _crime_type_condition(crime_types, prm)
    return con.execute(
        f"SELECT CASE WHEN {_in_months('month', 'latest')} THEN 'latest' ELSE 'previous' END AS period, lsoa_code, "
        f"any_value(lsoa_name) AS lsoa_name, coalesce(location, '') AS location, count(*) AS n "
        f"FROM street_geo WHERE {_in_texts('lad_code', 'lads')} AND {cond} "
        f"AND {_in_months('month', 'months')} GROUP BY ALL", prm).df()


def local_indicator_rows(con, partnership: str, table: str = "local_indicators") -> pd.DataFrame | None:
    """Rows of the store table ``local_indicators`` for one partnership, in report order; None
    when the store has no such table (works on a read-only connection)."""
    if not _IDENT.match(str(table)):
        raise ValueError(f"local_indicator_rows: not a table name: {table!r}")
    try:
        n = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()[0]
    except Exception:  # noqa: BLE001 - an unusual store: the caller falls back to the files
        return None
    if not n:
        return None
    return con.execute(
        f'SELECT * FROM "{table}" WHERE partnership = ? '
        'ORDER BY indicator, comparator NULLS FIRST, "group" NULLS FIRST, period_start', [partnership]).df()


# ============================================================================ runner and geo queries
def police_file_rows(con, forces: Sequence[str]) -> list[tuple]:
    """(kind, force, month, sha256, status) of every loaded or replaced file of these forces,
    sorted (the police-data part of a partnership's fingerprint)."""
    return con.execute(
        "SELECT kind, force, month, sha256, status FROM ingest_log WHERE status IN ('loaded','replaced') "
        f"AND {_in_texts('force', 'forces')} ORDER BY ALL", {"forces": _texts(sorted(forces))}).fetchall()


def other_force_records(con, lad_codes: Sequence[str], forces: Sequence[str]) -> list[tuple]:
    """(force, month, records) placed in these LADs by files of forces *not* in ``forces``, sorted."""
    if not len(forces):  # as ``force NOT IN (NULL)``: no record
        return []
    return con.execute(
        f"SELECT force, month, count(*) FROM street_geo WHERE {_in_texts('lad_code', 'lads')} "
        "AND force NOT IN (SELECT unnest($forces::VARCHAR[])) GROUP BY ALL ORDER BY ALL",
        {"lads": _texts(lad_codes), "forces": _texts(sorted(forces))}).fetchall()


def ingested_files(con, forces: Sequence[str]) -> list[tuple]:
    """(source_file, sha256) of every loaded or replaced file of these forces, by file name."""
    return con.execute(
        "SELECT source_file, sha256 FROM ingest_log WHERE status IN ('loaded','replaced') AND "
        f"{_in_texts('force', 'forces')} ORDER BY source_file", {"forces": _texts(forces)}).fetchall()


def snap_points(con, forces: Sequence[str], home_only: bool = True) -> pd.DataFrame:
    """Distinct street-crime snap points (``longitude``, ``latitude``) of these forces' files
    with their ``lsoa_code`` and ``lad_code``; with ``home_only`` only points in the
    ``len(forces)`` police force areas holding most of the forces' records."""
    prm = {"forces": _texts(forces)}
    cond = ""
    if home_only:
        cond = (f"AND pfa_code IN (SELECT pfa_code FROM street_geo WHERE {_in_texts('force', 'forces')} "
                f"AND pfa_code IS NOT NULL GROUP BY pfa_code ORDER BY count(*) DESC LIMIT $k)")
        prm["k"] = len(forces)
    return con.execute(
        f"SELECT longitude, latitude, any_value(lsoa_code) AS lsoa_code, any_value(lad_code) AS lad_code "
        f"FROM street_geo WHERE {_in_texts('force', 'forces')} AND longitude IS NOT NULL AND lsoa_code IS NOT NULL "
        f"{cond} GROUP BY longitude, latitude", prm).df()
