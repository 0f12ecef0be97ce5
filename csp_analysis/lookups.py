"""Load geography, population and deprivation files into the store.

Each supported file is recognised by its header (the formats of the ONS / MHCLG files
in ``../shared/data`` and of the synthetic default data):

===============================  ==========================================================
header starts with / contains    loaded into
===============================  ==========================================================
LAD17CD, CSP17CD, PFA17CD        ``lad_lookup`` (ONS LAD -> CSP -> PFA lookup)
lsoa21cd, lad21cd                ``lsoa_lookup`` vintage 2021
lsoa11cd, lad21cd                ``lsoa_lookup`` vintage 2011 (LAD 2021 successor codes)
lsoa21_code, age_group           ``population_lsoa`` (Census 2021 residents by age)
Code, Name, Geography, Population ``population_area`` (ONS mid-year estimates)
Geography Code, Sex, + groups    ``population_ethnicity`` (Census 2021 TS021, 19 groups)
lsoa11_code, ..._imd_rank        ``deprivation`` (English IoD 2019)
lsoa21cd, longitude, latitude    ``lsoa_centroids``
===============================  ==========================================================

Loading a file replaces the rows previously loaded from a file of the same name, in
one transaction, so it is idempotent and atomic.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .ingest import IngestError


def _read(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise IngestError(f"{path}: cannot be read as CSV ({exc})") from exc
    df.columns = [c.strip() for c in df.columns]
    return df


def _num(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    s = pd.to_numeric(df[col].str.replace(",", "", regex=False).replace("", "0"), errors="coerce")
    bad = s.isna()
    if bad.any():
        i = int(bad.idxmax())
        raise IngestError(f"{path}, line {i + 2}, column {col!r}: not a number ({df.at[i, col]!r})")
    return s


def detect_kind(columns: list[str]) -> str | None:
    """Return the lookup kind for a header, or None when it is not recognised."""
    cols = set(columns)
    if {"LAD17CD", "CSP17CD", "PFA17CD"} <= cols:
        return "lad_lookup"
    if {"lsoa21cd", "lad21cd"} <= cols:
        return "lsoa21"
    if {"lsoa11cd", "lad21cd"} <= cols:
        return "lsoa11"
    if {"lsoa21_code", "age_group", "usual_residents"} <= cols:
        return "population_lsoa"
    if {"Code", "Name", "Geography", "Population"} <= cols:
        return "population_area"
    if {"Geography Code", "Geography Name", "Sex"} <= cols and len(cols) > 5:
        return "population_ethnicity"
    if {"lsoa11_code", "index_of_multiple_deprivation_imd_rank"} <= cols:
        return "deprivation"
    if {"lsoa21cd", "longitude", "latitude"} <= cols or {"lsoa_code", "longitude", "latitude"} <= cols:
        return "centroids"
    return None


def load_lookup(con, path: str | os.PathLike) -> dict:
    """Load one geography / population / deprivation file into the store.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    path : path
        A CSV (optionally ``.gz``) in one of the supported formats.

    Returns
    -------
    dict
        ``file``, ``kind``, ``table`` and ``rows`` loaded.

    Raises
    ------
    IngestError
        When the file is unreadable or its format is not recognised (the message names
        the file and the expected formats) or a value is not a number (file, line, column).
    """
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    df = _read(path)
    kind = detect_kind(list(df.columns))
    if kind is None:
        raise IngestError(
            f"{path}, line 1: unrecognised lookup format (columns {list(df.columns)[:6]}...). "
            "Supported: ONS LAD17->CSP17->PFA17 lookup, LSOA 2011/2021 -> LAD lookups, "
            "Census 2021 LSOA residents by age, ONS mid-year estimates, Census 2021 ethnic group "
            "by LAD, IoD 2019 ranks and deciles, LSOA centroids."
        )
    src = path.name
    if kind == "lad_lookup":
        out = pd.DataFrame({
            "lad_code": df["LAD17CD"], "lad_name": df["LAD17NM"], "csp_code": df["CSP17CD"],
            "csp_name": df["CSP17NM"], "pfa_code": df["PFA17CD"], "pfa_name": df["PFA17NM"], "source": src,
        })
        table = "lad_lookup"
    elif kind in ("lsoa21", "lsoa11"):
        v = kind[-2:]
        out = pd.DataFrame({
            "lsoa_code": df[f"lsoa{v}cd"], "lsoa_name": df.get(f"lsoa{v}nm"),
            "lad_code": df["lad21cd"], "lad_name": df.get("lad21nm"),
            "lad23_code": df.get("lad23cd", df["lad21cd"]), "lad23_name": df.get("lad23nm", df.get("lad21nm")),
            "vintage": 2000 + int(v), "source": src,
        })
        table = "lsoa_lookup"
    elif kind == "population_lsoa":
        out = pd.DataFrame({
            "lsoa_code": df["lsoa21_code"], "lsoa_name": df.get("lsoa21_name"), "age_group": df["age_group"],
            "population": _num(df, "usual_residents", path), "source": src,
        })
        table = "population_lsoa"
    elif kind == "population_area":
        out = pd.DataFrame({
            "area_code": df["Code"], "area_name": df["Name"], "geography": df["Geography"],
            "population": _num(df, "Population", path), "source": src,
        })
        table = "population_area"
    elif kind == "population_ethnicity":
        groups = [c for c in df.columns if c not in ("Geography Code", "Geography Name", "Sex")]
        for g in groups:
            df[g] = _num(df, g, path)  # blank cells are zero or suppressed (ONS)
        long = df.melt(id_vars=["Geography Code", "Geography Name", "Sex"], value_vars=groups,
                       var_name="ethnic_group", value_name="population")
        out = pd.DataFrame({
            "area_code": long["Geography Code"], "area_name": long["Geography Name"], "sex": long["Sex"],
            "ethnic_group": long["ethnic_group"], "population": long["population"].astype(float), "source": src,
        })
        table = "population_ethnicity"
    elif kind == "deprivation":
        def col(name):
            return pd.to_numeric(df[name], errors="coerce").astype("Int64") if name in df else pd.NA
        out = pd.DataFrame({
            "lsoa_code": df["lsoa11_code"], "lsoa_name": df.get("lsoa11_name"), "lad_code": df.get("lad19_code"),
            "imd_rank": col("index_of_multiple_deprivation_imd_rank"),
            "imd_decile": col("index_of_multiple_deprivation_imd_decile"),
            "crime_rank": col("crime_rank"), "crime_decile": col("crime_decile"),
            "income_decile": col("income_decile"), "employment_decile": col("employment_decile"),
            "source": src,
        })
        table = "deprivation"
    else:
        code = "lsoa21cd" if "lsoa21cd" in df else "lsoa_code"
        out = pd.DataFrame({
            "lsoa_code": df[code], "longitude": _num(df, "longitude", path),
            "latitude": _num(df, "latitude", path), "source": src,
        })
        table = "lsoa_centroids"
    con.register("lookup_in", out)
    con.execute("BEGIN TRANSACTION")
    try:
        if table == "lad_lookup":
            con.execute("DELETE FROM lad_lookup WHERE lad_code IN (SELECT lad_code FROM lookup_in)")
        else:
            con.execute(f"DELETE FROM {table} WHERE source = ?", [src])
        cols = ", ".join(out.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM lookup_in")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("lookup_in")
    return {"file": str(path), "kind": kind, "table": table, "rows": len(out)}


def load_lookups(con, paths) -> list[dict]:
    """Load many lookup files (folders are searched for ``*.csv`` / ``*.csv.gz``).

    Files whose format is not recognised inside a folder are reported with
    ``kind = None`` and an ``error``; a file named explicitly raises.
    """
    results = []
    for raw in paths:
        p = Path(raw)
        files = sorted(x for x in p.rglob("*") if x.name.endswith((".csv", ".csv.gz"))) if p.is_dir() else [p]
        for f in files:
            try:
                results.append(load_lookup(con, f))
            except IngestError as exc:
                if not p.is_dir():
                    raise
                results.append({"file": str(f), "kind": None, "table": None, "rows": 0, "error": str(exc)})
    return results
