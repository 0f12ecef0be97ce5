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
.gpkg / .geojson with LSOA21CD   ``lsoa_boundaries`` (optional; see :mod:`csp_analysis.boundaries`)
LADyyCD, LADyyNM, CTYyyCD, CTYyyNM ``lad_county`` (ONS LAD -> county lookup, any year yy)
===============================  ==========================================================

Loading a file replaces the rows previously loaded from a file of the same name, in
one transaction, so it is idempotent and atomic. The LAD lookup and the mid-year
estimates replace the rows of the areas they hold, whatever file those came from, so a
newer edition (mid-2022 after mid-2021) supersedes the older one: the file loaded last
wins. Every problem with a file (unreadable, unrecognised, a column missing, a value
that is not a number, a LAD listed twice, a store error) raises :class:`IngestError`
naming the file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from .ingest import IngestError

#: Columns each kind of file must have (the ones :func:`load_lookup` reads unconditionally).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "lad_lookup": ("LAD17CD", "LAD17NM", "CSP17CD", "CSP17NM", "PFA17CD", "PFA17NM"),
    "lsoa21": ("lsoa21cd", "lad21cd"),
    "lsoa11": ("lsoa11cd", "lad21cd"),
    "population_lsoa": ("lsoa21_code", "age_group", "usual_residents"),
    "population_area": ("Code", "Name", "Geography", "Population"),
    "population_ethnicity": ("Geography Code", "Geography Name", "Sex"),
    "deprivation": ("lsoa11_code", "index_of_multiple_deprivation_imd_rank"),
    "centroids": ("longitude", "latitude"),
}


def _read(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise IngestError(f"{path}: cannot be read as CSV ({exc})") from exc
    df.columns = [c.strip() for c in df.columns]
    return df


def _num(df: pd.DataFrame, col: str, path: Path, blank_is_zero: bool = False) -> pd.Series:
    """Numbers of a text column (thousands separators allowed).

    Blank cells are missing (NaN, stored as NULL) unless ``blank_is_zero`` (population
    counts, where ONS leaves zero or suppressed cells blank).
    """
    text = df[col].str.replace(",", "", regex=False).str.strip()
    blank = text == ""
    s = pd.to_numeric(text.mask(blank, "0"), errors="coerce")
    bad = s.isna()
    if bad.any():
        i = int(bad.idxmax())
        raise IngestError(f"{path}, line {i + 2}, column {col!r}: not a number ({df.at[i, col]!r})")
    return s if blank_is_zero else s.mask(blank)


def _check_columns(df: pd.DataFrame, kind: str, path: Path) -> None:
    missing = [c for c in REQUIRED_COLUMNS.get(kind, ()) if c not in df.columns]
    if kind == "centroids" and "lsoa21cd" not in df.columns and "lsoa_code" not in df.columns:
        missing.insert(0, "lsoa21cd")
    if missing:
        raise IngestError(f"{path}, line 1: missing column(s) {', '.join(missing)} "
                          f"(needed for a {kind.replace('_', ' ')} file)")


def _check_unique(df: pd.DataFrame, col: str, path: Path, what: str) -> None:
    dup = df[col].duplicated(keep=False)
    if dup.any():
        code = df.loc[dup, col].iloc[0]
        lines = [str(i + 2) for i in df.index[df[col] == code]]
        raise IngestError(f"{path}, lines {', '.join(lines)}: {what} {code!r} is listed more than once")


#: The ONS "Local Authority District to County" lookup: LADyyCD, LADyyNM, CTYyyCD, CTYyyNM
#: (e.g. LAD23CD, LAD23NM, CTY23CD, CTY23NM, ObjectId), one row per district of a two-tier county.
_COUNTY_COLS = re.compile(r"^(LAD|CTY)(\d\d)(CD|NM)$", re.IGNORECASE)

LAD_COUNTY_SQL = """CREATE TABLE IF NOT EXISTS lad_county (
  lad_code VARCHAR NOT NULL,
  lad_name VARCHAR,
  county_code VARCHAR,
  county_name VARCHAR,
  vintage INTEGER,
  source VARCHAR
)"""


def _county_columns(columns) -> dict[str, str] | None:
    """The LAD / county code and name columns of a LAD -> county lookup header, or None."""
    found: dict[str, str] = {}
    for c in columns:
        m = _COUNTY_COLS.match(c.strip())
        if m:
            found.setdefault(f"{m.group(1).lower()}_{m.group(3).lower()}", c)
            found.setdefault("year", m.group(2))
    return found if {"lad_cd", "cty_cd"} <= set(found) else None


def detect_kind(columns: list[str]) -> str | None:
    """Return the lookup kind for a header, or None when it is not recognised."""
    cols = set(columns)
    if _county_columns(columns) is not None and not {"CSP17CD", "PFA17CD"} & cols:
        return "lad_county"
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


#: The columns that identify a row of each lookup table: loading a file replaces the
#: store's rows with the same key.
REPLACE_KEYS = {
    "lad_lookup": ("lad_code",),
    "lsoa_lookup": ("lsoa_code", "vintage"),
    "population_lsoa": ("lsoa_code",),
    "population_area": ("area_code",),
    "population_ethnicity": ("area_code",),
    "deprivation": ("lsoa_code",),
    "lsoa_centroids": ("lsoa_code",),
    "lad_county": ("lad_code",),
}


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, keys, path) -> None:
    """Replace the rows of ``table`` whose ``keys`` match a row of ``frame`` by ``frame``'s rows,
    in one transaction: rolled back whole on any error (a DuckDB error becomes an
    :class:`IngestError` naming ``path`` and the table). ``table``, ``keys`` and ``frame``'s
    columns are the caller's own identifiers, never text from the file."""
    con.register("rows_in", frame)
    con.execute("BEGIN TRANSACTION")
    try:
        match = " AND ".join(f"t.{k} = n.{k}" for k in keys)
        con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM rows_in n WHERE {match})")
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM rows_in")
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise IngestError(f"{path}: could not be loaded into {table} ({type(exc).__name__}: {exc})") from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("rows_in")


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
    from . import boundaries  # LSOA boundary files (GeoPackage / GeoJSON): boundaries.py

    if boundaries.is_boundary_file(path):
        return boundaries.load_boundaries(con, path)
    df = _read(path)
    kind = detect_kind(list(df.columns))
    if kind is None:
        raise IngestError(
            f"{path}, line 1: unrecognised lookup format (columns {list(df.columns)[:6]}...). "
            "Supported: ONS LAD17->CSP17->PFA17 lookup, LSOA 2011/2021 -> LAD lookups, "
            "Census 2021 LSOA residents by age, ONS mid-year estimates, Census 2021 ethnic group "
            "by LAD, IoD 2019 ranks and deciles, LSOA centroids, ONS LAD -> county lookup "
            "(LADyyCD, LADyyNM, CTYyyCD, CTYyyNM)."
        )
    _check_columns(df, kind, path)
    table, convert = _CONVERTERS[kind]
    out = convert(df, path, path.name)
    if kind == "lad_county":
        con.execute(LAD_COUNTY_SQL)  # the table exists once such a lookup has been loaded
    # Replace by key, not by file name: the rows for the areas this file covers are replaced
    # (a newer edition wins, a reload changes nothing), and a file of the same name from
    # another folder (e.g. the synthetic data's look-alike files) never removes areas it does
    # not cover.
    replace_rows(con, table, out, REPLACE_KEYS[table], path)
    return {"file": str(path), "kind": kind, "table": table, "rows": len(out)}


# ----------------------------------------------------------- one converter per file kind
# Each turns a checked file (``df``, all columns text) into the rows of its store table.
def _frame_lad_lookup(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    _check_unique(df, "LAD17CD", path, "LAD")
    return pd.DataFrame({
        "lad_code": df["LAD17CD"], "lad_name": df["LAD17NM"], "csp_code": df["CSP17CD"],
        "csp_name": df["CSP17NM"], "pfa_code": df["PFA17CD"], "pfa_name": df["PFA17NM"], "source": src,
    })


def _frame_lsoa(v: str):
    def frame(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
        return pd.DataFrame({
            "lsoa_code": df[f"lsoa{v}cd"], "lsoa_name": df.get(f"lsoa{v}nm"),
            "lad_code": df["lad21cd"], "lad_name": df.get("lad21nm"),
            "lad23_code": df.get("lad23cd", df["lad21cd"]), "lad23_name": df.get("lad23nm", df.get("lad21nm")),
            "vintage": 2000 + int(v), "source": src,
        })
    return frame


def _frame_population_lsoa(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    return pd.DataFrame({
        "lsoa_code": df["lsoa21_code"], "lsoa_name": df.get("lsoa21_name"), "age_group": df["age_group"],
        "population": _num(df, "usual_residents", path, blank_is_zero=True), "source": src,
    })


def _frame_population_area(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    return pd.DataFrame({
        "area_code": df["Code"], "area_name": df["Name"], "geography": df["Geography"],
        "population": _num(df, "Population", path, blank_is_zero=True), "source": src,
    })


def _frame_population_ethnicity(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    groups = [c for c in df.columns if c not in ("Geography Code", "Geography Name", "Sex")]
    for g in groups:
        df[g] = _num(df, g, path, blank_is_zero=True)  # blank cells are zero or suppressed (ONS)
    long = df.melt(id_vars=["Geography Code", "Geography Name", "Sex"], value_vars=groups,
                   var_name="ethnic_group", value_name="population")
    return pd.DataFrame({
        "area_code": long["Geography Code"], "area_name": long["Geography Name"], "sex": long["Sex"],
        "ethnic_group": long["ethnic_group"], "population": long["population"].astype(float), "source": src,
    })


def _frame_deprivation(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    def col(name):
        return pd.to_numeric(df[name], errors="coerce").astype("Int64") if name in df else pd.NA
    return pd.DataFrame({
        "lsoa_code": df["lsoa11_code"], "lsoa_name": df.get("lsoa11_name"), "lad_code": df.get("lad19_code"),
        "imd_rank": col("index_of_multiple_deprivation_imd_rank"),
        "imd_decile": col("index_of_multiple_deprivation_imd_decile"),
        "crime_rank": col("crime_rank"), "crime_decile": col("crime_decile"),
        "income_decile": col("income_decile"), "employment_decile": col("employment_decile"),
        "source": src,
    })


def _frame_lad_county(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    cc = _county_columns(df.columns)
    _check_unique(df, cc["lad_cd"], path, "LAD")
    bad = df[cc["cty_cd"]].str.strip() == ""
    if bad.any():
        i = int(bad.idxmax())
        raise IngestError(f"{path}, line {i + 2}, column {cc['cty_cd']!r}: no county code")
    return pd.DataFrame({
        "lad_code": df[cc["lad_cd"]].str.strip(), "lad_name": df[cc["lad_nm"]] if "lad_nm" in cc else None,
        "county_code": df[cc["cty_cd"]].str.strip(),
        "county_name": df[cc["cty_nm"]] if "cty_nm" in cc else df[cc["cty_cd"]],
        "vintage": 2000 + int(cc["year"]), "source": src,
    })


def _frame_centroids(df: pd.DataFrame, path: Path, src: str) -> pd.DataFrame:
    code = "lsoa21cd" if "lsoa21cd" in df else "lsoa_code"
    return pd.DataFrame({
        "lsoa_code": df[code], "longitude": _num(df, "longitude", path),
        "latitude": _num(df, "latitude", path), "source": src,
    })


#: file kind -> (store table, converter)
_CONVERTERS = {
    "lad_lookup": ("lad_lookup", _frame_lad_lookup),
    "lsoa21": ("lsoa_lookup", _frame_lsoa("21")),
    "lsoa11": ("lsoa_lookup", _frame_lsoa("11")),
    "population_lsoa": ("population_lsoa", _frame_population_lsoa),
    "population_area": ("population_area", _frame_population_area),
    "population_ethnicity": ("population_ethnicity", _frame_population_ethnicity),
    "deprivation": ("deprivation", _frame_deprivation),
    "lad_county": ("lad_county", _frame_lad_county),
    "centroids": ("lsoa_centroids", _frame_centroids),
}


def load_lookups(con, paths) -> list[dict]:
    """Load many lookup files (folders are searched for ``*.csv`` / ``*.csv.gz`` and boundary files).

    Files whose format is not recognised inside a folder are reported with
    ``kind = None`` and an ``error``; a file named explicitly raises.
    """
    results = []
    for raw in paths:
        p = Path(raw)
        # folders: CSVs and boundary files (.gpkg, .geojson; a .json only when named explicitly)
        files = sorted(x for x in p.rglob("*") if x.name.endswith((".csv", ".csv.gz"))
                       or x.name.lower().endswith((".gpkg", ".geojson"))) if p.is_dir() else [p]
        for f in files:
            try:
                results.append(load_lookup(con, f))
            except IngestError as exc:
                if not p.is_dir():
                    raise
                results.append({"file": str(f), "kind": None, "table": None, "rows": 0, "error": str(exc)})
    return results
