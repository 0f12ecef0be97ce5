"""The embedded DuckDB data store: location, schema and connections.

One DuckDB file (default ``data/store/csp.duckdb``, or ``$CSP_STORE``) holds every
table the reports read. The schema is created idempotently by :func:`ensure_schema`.

Tables
------
street
    One row per published data.police.uk street-level row (crime or ASB).
stop_search
    One row per published stop-and-search row (identical rows are genuine).
ingest_log
    One row per file ingest attempt, with the row reconciliation, the sha256 of the
    uncompressed file (``sha256``) and of the file as stored (``file_sha256``, e.g. the
    gzip bytes: a cheap check that a re-ingested file is unchanged).
rejects
    Every rejected row, with file, line, reason, the raw text (nothing is lost) and the
    ``ingest_id`` of the ``ingest_log`` row that recorded it.
no_location
    Rows without a location, counted per source file (force and month).
lsoa_lookup
    LSOA (2011 and 2021 vintages) -> local authority district (LAD).
lad_lookup
    LAD -> Community Safety Partnership (CSP) -> police force area (PFA).
population_lsoa, population_area, population_ethnicity
    Census 2021 residents by LSOA and age, mid-year estimates by area, Census 2021
    ethnic group by LAD and sex.
deprivation
    English Indices of Deprivation 2019 ranks and deciles by LSOA 2011.
lsoa_centroids
    Supplied LSOA centroids (longitude, latitude).

Views
-----
lsoa_lad
    One row per LSOA code of either vintage with its LAD (2021 vintage preferred).
street_geo
    ``street`` joined to its LSOA's LAD, CSP and PFA: records are assigned to a
    partnership by the LAD of their LSOA, never by the force file they came in.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

def _project_root() -> Path:
    """The repository root for an editable install (has params/), else the working folder."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "params").is_dir() else Path.cwd()


PROJECT_ROOT = _project_root()
DEFAULT_STORE = PROJECT_ROOT / "data" / "store" / "csp.duckdb"

STREET_COLUMNS = {
    "month": "DATE NOT NULL",
    "crime_id": "VARCHAR",
    "reported_by": "VARCHAR",
    "falls_within": "VARCHAR",
    "longitude": "DOUBLE",
    "latitude": "DOUBLE",
    "location": "VARCHAR",
    "lsoa_code": "VARCHAR",
    "lsoa_name": "VARCHAR",
    "crime_type": "VARCHAR NOT NULL",
    "last_outcome": "VARCHAR",
    "context": "VARCHAR",
    "force": "VARCHAR NOT NULL",
    "source_file": "VARCHAR NOT NULL",
    "download_batch": "VARCHAR",
    "line": "INTEGER",
}

STOP_SEARCH_COLUMNS = {
    "month": "DATE NOT NULL",
    "type": "VARCHAR",
    "date": "TIMESTAMPTZ",
    "part_of_policing_operation": "BOOLEAN",
    "policing_operation": "VARCHAR",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "gender": "VARCHAR",
    "age_range": "VARCHAR",
    "self_defined_ethnicity": "VARCHAR",
    "officer_defined_ethnicity": "VARCHAR",
    "legislation": "VARCHAR",
    "object_of_search": "VARCHAR",
    "outcome": "VARCHAR",
    "outcome_linked_to_object": "BOOLEAN",
    "removal_of_more_than_outer_clothing": "BOOLEAN",
    "force": "VARCHAR NOT NULL",
    "source_file": "VARCHAR NOT NULL",
    "download_batch": "VARCHAR",
    "line": "INTEGER",
}


def _table_sql(name: str, columns: dict[str, str]) -> str:
    cols = ",\n  ".join(f"{c} {t}" for c, t in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n)"


SCHEMA = [
    _table_sql("street", STREET_COLUMNS),
    _table_sql("stop_search", STOP_SEARCH_COLUMNS),
    """CREATE TABLE IF NOT EXISTS ingest_log (
  ingest_id VARCHAR,
  source_file VARCHAR,
  file_name VARCHAR,
  kind VARCHAR,
  force VARCHAR,
  month DATE,
  sha256 VARCHAR,
  file_mtime TIMESTAMP,
  download_batch VARCHAR,
  rows_read BIGINT,
  rows_loaded BIGINT,
  rows_rejected BIGINT,
  rows_no_location BIGINT,
  status VARCHAR,
  message VARCHAR,
  started_at TIMESTAMP,
  finished_at TIMESTAMP,
  file_sha256 VARCHAR
)""",
    # stores made before the log kept the checksum of the file as stored (e.g. gzip)
    "ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS file_sha256 VARCHAR",
    """CREATE TABLE IF NOT EXISTS rejects (
  source_file VARCHAR,
  kind VARCHAR,
  force VARCHAR,
  month DATE,
  line BIGINT,
  reason VARCHAR,
  raw VARCHAR,
  ingest_id VARCHAR
)""",
    # stores made before rejects carried the ingest attempt that recorded them
    "ALTER TABLE rejects ADD COLUMN IF NOT EXISTS ingest_id VARCHAR",
    """CREATE TABLE IF NOT EXISTS no_location (
  source_file VARCHAR,
  kind VARCHAR,
  force VARCHAR,
  month DATE,
  rows_no_location BIGINT
)""",
    """CREATE TABLE IF NOT EXISTS lsoa_lookup (
  lsoa_code VARCHAR NOT NULL,
  lsoa_name VARCHAR,
  lad_code VARCHAR,
  lad_name VARCHAR,
  lad23_code VARCHAR,
  lad23_name VARCHAR,
  vintage INTEGER NOT NULL,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS lad_lookup (
  lad_code VARCHAR PRIMARY KEY,
  lad_name VARCHAR,
  csp_code VARCHAR,
  csp_name VARCHAR,
  pfa_code VARCHAR,
  pfa_name VARCHAR,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS population_lsoa (
  lsoa_code VARCHAR NOT NULL,
  lsoa_name VARCHAR,
  age_group VARCHAR,
  population DOUBLE,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS population_area (
  area_code VARCHAR NOT NULL,
  area_name VARCHAR,
  geography VARCHAR,
  population DOUBLE,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS population_ethnicity (
  area_code VARCHAR NOT NULL,
  area_name VARCHAR,
  sex VARCHAR,
  ethnic_group VARCHAR,
  population DOUBLE,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS deprivation (
  lsoa_code VARCHAR NOT NULL,
  lsoa_name VARCHAR,
  lad_code VARCHAR,
  imd_rank INTEGER,
  imd_decile INTEGER,
  crime_rank INTEGER,
  crime_decile INTEGER,
  income_decile INTEGER,
  employment_decile INTEGER,
  source VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS lsoa_centroids (
  lsoa_code VARCHAR NOT NULL,
  longitude DOUBLE,
  latitude DOUBLE,
  source VARCHAR
)""",
    # One row per LSOA code of either vintage; the 2021 vintage wins where a code is in both.
    """CREATE OR REPLACE VIEW lsoa_lad AS
SELECT lsoa_code, lsoa_name, lad_code, lad_name, vintage FROM (
  SELECT *, row_number() OVER (PARTITION BY lsoa_code ORDER BY vintage DESC) AS rk
  FROM lsoa_lookup
) WHERE rk = 1""",
    # Records are assigned by the LAD of their LSOA. Codes missing from both lookups
    # (e.g. Welsh 2011 codes in an England-only file) fall back to the LAD whose name
    # is the LSOA name minus its 'NNNX' suffix (ONS naming convention).
    # Written as two parts (records whose code is in the lookups; the rest, by name) rather
    # than one chain of LEFT JOINs: the same rows, but a filter on lad_code reaches the first
    # part's join, and the name fallback's regular expression runs only on the records that
    # need it. On the national store (11.8M records) a partnership's monthly counts take
    # 0.39 s instead of 1.05 s (issue 13; benchmarks/README.md).
    """CREATE OR REPLACE VIEW street_geo AS
SELECT s.*, l.lad_code, l.lad_name, d.csp_code, d.csp_name, d.pfa_code, d.pfa_name
FROM street s
JOIN lsoa_lad l ON s.lsoa_code = l.lsoa_code
LEFT JOIN lad_lookup d ON d.lad_code = l.lad_code
UNION ALL
SELECT s.*, ln.lad_code, ln.lad_name, d.csp_code, d.csp_name, d.pfa_code, d.pfa_name
FROM (SELECT * FROM street s0 WHERE NOT EXISTS (SELECT 1 FROM lsoa_lad l0 WHERE l0.lsoa_code = s0.lsoa_code)) s
LEFT JOIN lad_lookup ln ON s.lsoa_name IS NOT NULL
  AND ln.lad_name = regexp_replace(s.lsoa_name, ' [0-9]{3}[A-Z]$', '')
LEFT JOIN lad_lookup d ON d.lad_code = ln.lad_code""",
]


def store_path(path: str | os.PathLike | None = None) -> Path:
    """Return the store location: ``path``, else ``$CSP_STORE``, else the default.

    Parameters
    ----------
    path : str or PathLike, optional
        Explicit location of the DuckDB file.

    Returns
    -------
    pathlib.Path
    """
    if path is not None:
        return Path(path)
    env = os.environ.get("CSP_STORE")
    return Path(env) if env else DEFAULT_STORE


def connect(path: str | os.PathLike | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store (creating it and its schema unless ``read_only``).

    Parameters
    ----------
    path : str or PathLike, optional
        Location of the store; see :func:`store_path`.
    read_only : bool
        Open read-only (several report processes may read at once).

    Returns
    -------
    duckdb.DuckDBPyConnection
    """
    p = store_path(path)
    if read_only:
        if not p.exists():
            raise FileNotFoundError(
                f"The data store {p} does not exist yet: run `csp ingest` (or `make report`) first."
            )
        return duckdb.connect(str(p), read_only=True)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(p))
    ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view if missing (idempotent)."""
    for stmt in SCHEMA:
        con.execute(stmt)
