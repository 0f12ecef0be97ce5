"""Read partnership data out of the store for the reports.

Every query assigns records to areas by the LAD of their LSOA (view ``street_geo``),
never by the force file they came in. Months are returned as ``pandas.Timestamp``
(first of the month). Gaps are never filled: a month with no file is absent.
"""
from __future__ import annotations

import copy
import functools
from typing import Sequence

import pandas as pd

# ---------------------------------------------------------------------------- query cache
# The notebooks of one partnership ask the store the same questions (covered months,
# monthly counts, LAD names, vintage...). The runner enables this cache in its warm
# kernels (csp_analysis.runner.kernel_reset) and clears it between partnerships; it is
# off by default, so interactive use and tests always query the store. Hand-written
# rather than functools.lru_cache because the key must name the store (path and
# modification time), not the connection object, and results are returned as copies.
_CACHE: dict = {}
_CACHE_ON = [False]


def enable_cache(on: bool = True) -> None:
    """Turn the query cache on (or off) in this process."""
    _CACHE_ON[0] = bool(on)


def clear_cache() -> None:
    """Forget every cached query result."""
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


def _in(values: Sequence[str]) -> str:
    vals = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
    return f"({vals})" if vals else "(NULL)"


def _window(start=None, end=None, col: str = "month") -> str:
    w = []
    if start is not None:
        w.append(f"{col} >= DATE '{pd.Timestamp(start):%Y-%m-01}'")
    if end is not None:
        w.append(f"{col} <= DATE '{pd.Timestamp(end):%Y-%m-01}'")
    return (" AND " + " AND ".join(w)) if w else ""


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
    where = []
    if lad_codes is not None:
        where.append(f"lad_code IN {_in(lad_codes)}")
    if pfa_code is not None:
        where.append(f"pfa_code = '{pfa_code}'")
    if lsoa_codes is not None:
        where.append(f"lsoa_code IN {_in(lsoa_codes)}")
    cond = " AND ".join(where) if where else "TRUE"
    by = list(by)
    cols = ", ".join(["month", *by])
    q = f"SELECT {cols}, count(*) AS n FROM street_geo WHERE {cond}{_window(start, end)} GROUP BY ALL"
    df = con.execute(q).df()
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
    q = f"SELECT DISTINCT force FROM street_geo WHERE lad_code IN {_in(lad_codes)}"
    return sorted(r[0] for r in con.execute(q).fetchall())


@_cached
def covered_months(con, lad_codes: Sequence[str] | None = None, forces: Sequence[str] | None = None,
                   start=None, end=None) -> list[pd.Timestamp]:
    """Months for which the store holds a street file of the forces covering these LADs.

    A month is 'covered' when a file of every relevant force was loaded; the LADs'
    forces are found from the records themselves unless ``forces`` is given.
    """
    if forces is None:
        forces = forces_for(con, lad_codes) if lad_codes is not None else None
    cond = f"force IN {_in(forces)}" if forces else "TRUE"
    q = (f"SELECT month FROM ingest_log WHERE kind = 'street' AND status IN ('loaded','replaced') "
         f"AND {cond}{_window(start, end)} GROUP BY month "
         f"HAVING count(DISTINCT force) >= {len(forces) if forces else 1} ORDER BY month")
    # the log may hold superseded copies of the same month; the street table is the truth
    months = [pd.Timestamp(r[0]) for r in con.execute(q).fetchall()]
    have = {pd.Timestamp(r[0]) for r in con.execute(
        f"SELECT DISTINCT month FROM street WHERE {cond}{_window(start, end)}").fetchall()}
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
        f"WHERE n.kind = 'street' AND n.force IN {_in(forces)} ORDER BY 1, 2"
    ).df()
    df["month"] = pd.to_datetime(df["month"])
    df["share"] = df["rows_no_location"] / df["rows_read"]
    return df.drop_duplicates(["force", "month"], keep="last").reset_index(drop=True)


@_cached
def lad_info(con, lad_codes: Sequence[str]) -> pd.DataFrame:
    """LAD names with their CSP and police force area."""
    return con.execute(
        f"SELECT lad_code, lad_name, csp_code, csp_name, pfa_code, pfa_name FROM lad_lookup "
        f"WHERE lad_code IN {_in(lad_codes)} ORDER BY lad_code"
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
        f"WHERE l.lad_code IN {_in(lad_codes)} GROUP BY p.lsoa_code ORDER BY p.lsoa_code"
    ).df()


@_cached
def lsoas_by_name(con, names: Sequence[str]) -> list[str]:
    """Resolve LSOA names (either vintage) to codes."""
    rows = con.execute(
        f"SELECT DISTINCT lsoa_code FROM lsoa_lookup WHERE lsoa_name IN {_in(names)}").fetchall()
    return sorted(r[0] for r in rows)


@_cached
def lsoa_centroids(con, lad_codes: Sequence[str] | None = None) -> pd.DataFrame:
    """LSOA centroids: the supplied lookup when there is one, else estimated as the mean
    of the records' own (anonymised, snapped) coordinates."""
    cond = f"AND lad_code IN {_in(lad_codes)}" if lad_codes is not None else ""
    est = con.execute(
        f"SELECT lsoa_code, avg(longitude) AS longitude, avg(latitude) AS latitude, 'records' AS source "
        f"FROM street_geo WHERE lsoa_code IS NOT NULL AND longitude IS NOT NULL {cond} GROUP BY lsoa_code"
    ).df()
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
    cond = f" AND force IN {_in(forces)}" if forces else ""
    q = f"SELECT 1 FROM street_geo WHERE lad_code IN {_in(lad_codes)}{cond} LIMIT 1"
    return con.execute(q).fetchall() != []


@_cached
def stray_records(con, lad_codes: Sequence[str], forces: Sequence[str]) -> int:
    """Records placed in these LADs by *other* forces' files (crimes recorded elsewhere)."""
    q = (f"SELECT count(*) FROM street_geo WHERE lad_code IN {_in(lad_codes)} "
         f"AND force NOT IN {_in(forces)}")
    return con.execute(q).fetchall()[0][0]


@_cached
def stop_search_records(con, forces: Sequence[str], start=None, end=None) -> pd.DataFrame:
    """Stop-and-search records of the given forces (all of the force area)."""
    df = con.execute(
        f"SELECT * FROM stop_search WHERE force IN {_in(forces)}{_window(start, end)}").df()
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
