"""Ingest data.police.uk street-level and stop-and-search files into the store.

Files are accepted as users download them: monthly folders of
``YYYY-MM-<force>-street.csv`` / ``YYYY-MM-<force>-stop-and-search.csv``, the same
gzip-compressed (``.csv.gz``), or the archive ``.zip`` with that folder layout.

Guarantees
----------
* **Reconciliation**: for every file, rows read = rows loaded + rows rejected; each
  rejected row is kept in the ``rejects`` table with its line, reason and raw text.
* **Idempotence**: a file is identified by (kind, force, month) and the sha256 of its
  uncompressed bytes. Ingesting an identical copy again changes nothing. A *newer* copy
  (later modification time) of the same force-month replaces the older one whole, since
  outcomes are revised after publication; an older copy is skipped unless ``replace``.
* **Atomicity**: each file is loaded in one transaction; a failure or interruption
  leaves the store as it was before that file.
* **Isolation of failures**: a malformed file (empty, not a CSV, missing columns, no
  parseable month, a corrupt zip archive) raises :class:`IngestError` naming the file and
  line; it is logged and the remaining files still load.
* **Modification times** are compared in UTC: file times from the file system, zip
  member times from the archive's UTC timestamp where it has one (Info-ZIP extended
  timestamp), else its local-time DOS stamp read as local time of this machine.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import re
import struct
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import store as store_mod

STREET_HEADER = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]
STOP_SEARCH_HEADER = [
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
    "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
    "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
]
# Some older stop-and-search files lack these; they are optional.
STOP_SEARCH_OPTIONAL = {"Policing operation", "Part of a policing operation"}

FILE_RE = re.compile(
    r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z0-9][a-z0-9-]*?)-(?P<kind>street|stop-and-search|outcomes)"
    r"\.csv(?:\.gz)?$"
)


class IngestError(Exception):
    """A file that cannot be ingested at all; the message names the file and line."""


@dataclass
class Source:
    """One file to ingest, wherever it lives (plain, gzip, or a zip member)."""

    display: str
    name: str
    read: Callable[[], bytes]
    mtime: dt.datetime
    explicit: bool = True  # named by the user (not found by walking a folder or archive)
    error: str | None = None  # set when the file cannot even be listed (a corrupt zip archive)


@dataclass
class FileResult:
    """The outcome of ingesting one file."""

    source: str
    kind: str | None = None
    force: str | None = None
    month: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_no_location: int = 0
    status: str = "pending"
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- sources
def iter_sources(paths: Iterable[str | os.PathLike]) -> Iterator[Source]:
    """Yield every ingestible file under ``paths`` (files, folders, zip archives), sorted."""
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
        for f in files:
            if f.suffix == ".zip":
                yield from _zip_sources(f)
            elif p.is_file() or f.name.endswith((".csv", ".csv.gz")):
                src = _file_source(f)
                src.explicit = p.is_file()
                yield src


def _file_source(f: Path) -> Source:
    def read() -> bytes:
        data = f.read_bytes()
        if f.name.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise IngestError(f"{f}: not a valid gzip file ({exc})") from exc
        return data

    mtime = dt.datetime.fromtimestamp(f.stat().st_mtime, tz=dt.timezone.utc).replace(tzinfo=None)
    return Source(display=str(f), name=f.name, read=read, mtime=mtime)


def _zip_member_mtime(info: zipfile.ZipInfo) -> dt.datetime:
    """A zip member's modification time as naive UTC (like :func:`_file_source`).

    The DOS time stamp of a zip member is local time of the machine that wrote it; the
    Info-ZIP extended timestamp field (0x5455), when present, holds the UTC time.
    """
    extra, i = info.extra, 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4:i + 4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            (ts,) = struct.unpack_from("<i", body, 1)
            return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).replace(tzinfo=None)
        i += 4 + size
    local = dt.datetime(*info.date_time)  # naive local time: astimezone() reads it as such
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _zip_sources(z: Path) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(z)
    except (zipfile.BadZipFile, OSError) as exc:
        # reported as one failed file by ingest_source; the other files still load
        msg = f"{z}: not a valid zip archive ({exc})"
        mtime = dt.datetime.fromtimestamp(z.stat().st_mtime, tz=dt.timezone.utc).replace(tzinfo=None)

        def unreadable() -> bytes:
            raise IngestError(msg)

        yield Source(display=str(z), name=z.name, read=unreadable, mtime=mtime, explicit=True, error=msg)
        return
    with zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
    for info in infos:
        base = info.filename.rsplit("/", 1)[-1]
        if not base.endswith((".csv", ".csv.gz")):
            continue

        def read(info=info, base=base) -> bytes:
            with zipfile.ZipFile(z) as zf2:
                data = zf2.read(info.filename)
            return gzip.decompress(data) if base.endswith(".gz") else data

        yield Source(display=f"{z}!{info.filename}", name=base, read=read,
                     mtime=_zip_member_mtime(info), explicit=False)


# --------------------------------------------------------------------------- parsing
def parse_file_name(name: str) -> tuple[str, str, str]:
    """Return (kind, force, month 'YYYY-MM') from a data.police.uk file name.

    Raises
    ------
    IngestError
        If the name does not follow ``YYYY-MM-<force>-<street|stop-and-search>.csv[.gz]``.
    """
    m = FILE_RE.search(name)
    if not m:
        raise IngestError(
            f"{name}: not a data.police.uk file name (expected YYYY-MM-<force>-street.csv or "
            "YYYY-MM-<force>-stop-and-search.csv, optionally .gz)"
        )
    month = m["month"]
    try:
        dt.date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise IngestError(f"{name}: the month {month!r} in the file name is not a valid month") from exc
    return m["kind"], m["force"], month


def _check_header(display: str, text_head: str, kind: str) -> list[str]:
    """Validate the header line; return the column names."""
    if not text_head.strip():
        raise IngestError(f"{display}, line 1: the file is empty (no header row)")
    first = text_head.splitlines()[0]
    try:
        header = next(csv.reader([first]))
    except csv.Error as exc:
        raise IngestError(f"{display}, line 1: not a CSV file ({exc})") from exc
    expected = STREET_HEADER if kind == "street" else STOP_SEARCH_HEADER
    optional = set() if kind == "street" else STOP_SEARCH_OPTIONAL
    missing = [c for c in expected if c not in header and c not in optional]
    if missing:
        if len(header) <= 1 or not any(c in header for c in expected):
            raise IngestError(
                f"{display}, line 1: not a data.police.uk {kind} CSV (header {first[:80]!r}); "
                f"expected columns {', '.join(expected)}"
            )
        raise IngestError(f"{display}, line 1: missing column(s) {', '.join(missing)}")
    dupes = {c for c in header if header.count(c) > 1}
    if dupes:
        raise IngestError(f"{display}, line 1: duplicated column(s) {', '.join(sorted(dupes))}")
    return header


def _is_utf8(data: bytes) -> bool:
    if data.startswith(b"\xef\xbb\xbf"):
        return False  # pyarrow would keep the BOM in the first column name
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _decode(display: str, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise IngestError(f"{display}, line 1: not a CSV file (binary content)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:  # pragma: no cover - cp1252 decodes almost anything
            raise IngestError(f"{display}: not a text CSV file ({exc})") from exc


def read_table(display: str, text: str, kind: str, raw: bytes | None = None) -> tuple[pa.Table, list[tuple[int, str, str]], list[str]]:
    """Parse CSV text into an all-string Arrow table.

    Returns
    -------
    table : pyarrow.Table
        Well-formed rows, with an added ``_line`` column (1-based line in the file).
    invalid : list of (line, reason, raw)
        Rows with the wrong number of fields.
    header : list of str
    """
    header = _check_header(display, text[:65536], kind)
    invalid: list[tuple[int, str, str]] = []

    def on_invalid(row) -> str:
        invalid.append((
            -1,
            f"{row.actual_columns} fields where the header has {row.expected_columns}",
            row.text,
        ))
        return "skip"

    # pyarrow's reader is ~20x faster than csv/pandas on these files and reports
    # malformed rows through the handler, so nothing is dropped silently.
    table = pacsv.read_csv(
        io.BytesIO(raw if raw is not None else text.encode("utf-8")),
        read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if invalid or "\n\n" in text or "\r\n\r\n" in text:
        # pyarrow does not report line numbers: find them with the csv module (only on
        # the rare files with malformed or blank lines).
        lines, bad_lines = [], []
        for ln, rec in enumerate(csv.reader(io.StringIO(text)), start=1):
            if ln == 1 or not rec:
                continue
            (lines if len(rec) == len(header) else bad_lines).append(ln)
        if len(lines) != table.num_rows or len(bad_lines) != len(invalid):
            raise IngestError(f"{display}: could not align line numbers (quoted newlines?)")
        invalid = [(ln, reason, raw) for ln, (_, reason, raw) in zip(bad_lines, invalid)]
    else:
        lines = np.arange(2, table.num_rows + 2, dtype=np.int32)
    table = table.append_column("_line", pa.array(np.asarray(lines, dtype=np.int32)))
    for c in (STOP_SEARCH_OPTIONAL if kind == "stop-and-search" else ()):
        if c not in header:
            table = table.append_column(c, pa.array([""] * table.num_rows, type=pa.string()))
    return table, invalid, header


# --------------------------------------------------------------------------- SQL
_STREET_REASON = """
CASE
  WHEN "Month" = $file_month AND trim("Crime type") <> '' AND ("Longitude" = '' OR try_cast("Longitude" AS DOUBLE) IS NOT NULL)
    AND ("Latitude" = '' OR try_cast("Latitude" AS DOUBLE) IS NOT NULL) THEN NULL
  WHEN NOT regexp_full_match(trim("Month"), '[0-9]{4}-[0-9]{2}') OR try_strptime(trim("Month") || '-01', '%Y-%m-%d') IS NULL
    THEN 'unparseable month ' || '''' || "Month" || ''''
  WHEN trim("Month") <> $file_month
    THEN 'month ' || trim("Month") || ' differs from the file''s month ' || $file_month
  WHEN trim("Crime type") = '' THEN 'missing crime type'
  WHEN trim("Longitude") <> '' AND try_cast("Longitude" AS DOUBLE) IS NULL THEN 'unparseable longitude ' || '''' || "Longitude" || ''''
  WHEN trim("Latitude") <> '' AND try_cast("Latitude" AS DOUBLE) IS NULL THEN 'unparseable latitude ' || '''' || "Latitude" || ''''
  ELSE NULL
END"""

_STREET_SELECT = """
SELECT CAST(trim("Month") || '-01' AS DATE) AS month,
  nullif(trim("Crime ID"), '') AS crime_id,
  nullif("Reported by", '') AS reported_by,
  nullif("Falls within", '') AS falls_within,
  try_cast(nullif(trim("Longitude"), '') AS DOUBLE) AS longitude,
  try_cast(nullif(trim("Latitude"), '') AS DOUBLE) AS latitude,
  nullif("Location", '') AS location,
  nullif(trim("LSOA code"), '') AS lsoa_code,
  nullif(trim("LSOA name"), '') AS lsoa_name,
  trim("Crime type") AS crime_type,
  nullif("Last outcome category", '') AS last_outcome,
  nullif("Context", '') AS context,
  $force AS force, $source AS source_file, $batch AS download_batch, _line AS line
FROM staged WHERE reason IS NULL"""

_BOOL = "CASE lower(trim({c})) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE ELSE NULL END"

# True/False columns: blank (or 'nan' from pandas-written files) is NULL, anything else
# but true/false (any case) rejects the row, the same for all three columns.
_SS_BOOL_COLUMNS = ("Outcome linked to object of search", "Part of a policing operation",
                    "Removal of more than just outer clothing")
_SS_BOOL_REASONS = "\n".join(
    f"""  WHEN lower(trim("{c}")) NOT IN ('', 'true', 'false', 'nan')
    THEN 'unparseable True/False ' || '''' || "{c}" || '''' || ' in {c}'"""
    for c in _SS_BOOL_COLUMNS
)

_SS_REASON = f"""
CASE
  WHEN try_cast(trim("Date") AS TIMESTAMPTZ) IS NULL THEN 'unparseable date ' || '''' || "Date" || ''''
  WHEN trim("Longitude") <> '' AND try_cast("Longitude" AS DOUBLE) IS NULL THEN 'unparseable longitude ' || '''' || "Longitude" || ''''
  WHEN trim("Latitude") <> '' AND try_cast("Latitude" AS DOUBLE) IS NULL THEN 'unparseable latitude ' || '''' || "Latitude" || ''''
{_SS_BOOL_REASONS}
  ELSE NULL
END"""

_SS_SELECT = f"""
SELECT CAST($file_month || '-01' AS DATE) AS month,
  nullif("Type", '') AS type,
  CAST(trim("Date") AS TIMESTAMPTZ) AS date,
  {_BOOL.format(c='"Part of a policing operation"')} AS part_of_policing_operation,
  nullif("Policing operation", '') AS policing_operation,
  try_cast(nullif(trim("Latitude"), '') AS DOUBLE) AS latitude,
  try_cast(nullif(trim("Longitude"), '') AS DOUBLE) AS longitude,
  nullif("Gender", '') AS gender,
  nullif("Age range", '') AS age_range,
  nullif("Self-defined ethnicity", '') AS self_defined_ethnicity,
  nullif("Officer-defined ethnicity", '') AS officer_defined_ethnicity,
  nullif("Legislation", '') AS legislation,
  nullif("Object of search", '') AS object_of_search,
  nullif("Outcome", '') AS outcome,
  {_BOOL.format(c='"Outcome linked to object of search"')} AS outcome_linked_to_object,
  {_BOOL.format(c='"Removal of more than just outer clothing"')} AS removal_of_more_than_outer_clothing,
  $force AS force, $source AS source_file, $batch AS download_batch, _line AS line
FROM staged WHERE reason IS NULL"""


def _raw_text_expr(header: list[str]) -> str:
    # Rebuild the raw CSV line for the rejects table (so nothing is lost).
    return " || ',' || ".join(f'coalesce("{c}", \'\')' for c in header)


# --------------------------------------------------------------------------- main entry
def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike],
    batch: str | None = None,
    replace: bool = False,
    progress: bool = True,
) -> list[FileResult]:
    """Ingest every data.police.uk file under ``paths`` into the store.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A writable store connection (:func:`csp_analysis.store.connect`).
    paths : iterable of path
        Files, folders (searched recursively) or ``.zip`` archives.
    batch : str, optional
        A label for this download (kept with every row and in the ingest log).
    replace : bool
        Replace a force-month even when the new copy is older than the stored one.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of FileResult
        One per file, with the reconciliation and status (``loaded``, ``replaced``,
        ``unchanged``, ``skipped-older``, ``ignored`` or ``failed``).
    """
    store_mod.ensure_schema(con)
    sources = list(iter_sources(paths))
    results: list[FileResult] = []
    iterator: Iterable[Source] = sources
    if progress and len(sources) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(sources, desc="ingest", unit="file")
    # Reading, decompressing, hashing and parsing (pyarrow releases the GIL) run one or
    # two files ahead in a thread while the main thread writes to the store, which
    # only one writer may do; results stay in file order.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = [pool.submit(_prepare, s) for s in sources[:3]]
        for i, src in enumerate(iterator):
            prepared = ahead[i].result()
            if i + 3 < len(sources):
                ahead.append(pool.submit(_prepare, sources[i + 3]))
            ahead[i] = None  # free the parsed table once used
            results.append(ingest_source(con, src, batch=batch, replace=replace, prepared=prepared))
    return results


@dataclass
class _Prepared:
    data: bytes | None = None
    sha: str | None = None
    parsed: tuple | None = None
    error: BaseException | None = None


def _prepare(src: Source) -> _Prepared:
    """Read, hash and parse a file (thread-safe: no store access)."""
    out = _Prepared()
    if src.error is not None:
        return out
    try:
        if not FILE_RE.search(src.name):
            return out
        kind, _, _ = parse_file_name(src.name)
        if kind == "outcomes":
            return out
        out.data = src.read()
        out.sha = hashlib.sha256(out.data).hexdigest()
        text = _decode(src.display, out.data)
        raw = out.data if _is_utf8(out.data) else None
        out.parsed = read_table(src.display, text, kind, raw=raw)
    except Exception as exc:  # noqa: BLE001 - re-raised in the main thread, in order
        out.error = exc
    return out


def ingest_source(con, src: Source, batch: str | None = None, replace: bool = False,
                  prepared: _Prepared | None = None) -> FileResult:
    """Ingest one file atomically; never raises for a bad file (the result says why)."""
    res = FileResult(source=src.display)
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    sha = None
    if src.error is not None:
        res.status, res.message = "failed", src.error
        _log(con, res, src, sha, batch, started)
        return res
    if not src.explicit and not FILE_RE.search(src.name):
        res.status = "ignored"
        res.message = "not a data.police.uk street or stop-and-search file name"
        return res
    try:
        kind, force, month = parse_file_name(src.name)
        res.kind, res.force, res.month = kind, force, month
        if kind == "outcomes":
            res.status = "ignored"
            res.message = "outcomes files are not used (street files carry the last outcome)"
            return res
        if prepared is None:
            prepared = _prepare(src)
        if prepared.data is None and prepared.error is not None:
            raise prepared.error
        data, sha = prepared.data, prepared.sha
        prev = con.execute(
            "SELECT sha256, file_mtime, source_file FROM ingest_log WHERE kind = ? AND force = ? "
            "AND month = ? AND status IN ('loaded', 'replaced') ORDER BY finished_at DESC LIMIT 1",
            [kind, force, month + "-01"],
        ).fetchall()
        prev = prev[0] if prev else None
        if prev and prev[0] == sha:
            res.status = "unchanged"
            res.message = f"identical to the copy already loaded from {prev[2]}"
            return res
        if prev and not replace and prev[1] is not None and src.mtime < prev[1]:
            res.status = "skipped-older"
            res.message = (
                f"older copy (modified {src.mtime:%Y-%m-%d %H:%M}) than the one in the store "
                f"({prev[2]}, modified {prev[1]:%Y-%m-%d %H:%M}); use --replace to load it anyway"
            )
            return res
        if prepared.error is not None:
            raise prepared.error
        table, invalid, header = prepared.parsed
        res.rows_read = table.num_rows + len(invalid)
        if res.rows_read == 0:
            raise IngestError(f"{src.display}, line 2: the file has a header but no data rows")
        # the log row is written inside the file's transaction (one commit per file)
        _load(con, src, res, table, invalid, header, kind, force, month, batch, replaced=prev is not None,
              log=lambda: _log(con, res, src, sha, batch, started))
    except IngestError as exc:
        res.status, res.message = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - report, log and carry on with the other files
        res.status, res.message = "failed", f"{src.display}: {type(exc).__name__}: {exc}"
    finally:
        if res.status not in ("ignored", "loaded", "replaced"):
            _log(con, res, src, sha, batch, started)
    return res


def _load(con, src, res, table, invalid, header, kind, force, month, batch, replaced: bool, log=None) -> None:
    target, reason_sql, select_sql = (
        ("street", _STREET_REASON, _STREET_SELECT)
        if kind == "street"
        else ("stop_search", _SS_REASON, _SS_SELECT)
    )
    params = {"file_month": month, "force": force, "source": src.display, "batch": batch}
    con.register("arrow_in", table)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            # a view cannot take parameters; the month is validated as YYYY-MM by parse_file_name
            f"CREATE OR REPLACE TEMP VIEW staged AS SELECT *, "
            f"{reason_sql.replace('$file_month', repr(month))} AS reason FROM arrow_in",
        )
        n_bad = con.execute("SELECT count(*) FROM staged WHERE reason IS NOT NULL").fetchall()[0][0]
        if n_bad == table.num_rows and table.num_rows > 0:
            first = con.execute(
                "SELECT _line, reason FROM staged ORDER BY _line LIMIT 1"
            ).fetchall()[0]
            raise IngestError(
                f"{src.display}, line {first[0]}: every row was rejected; first reason: {first[1]}"
            )
        # Replace the force-month whole (a newer copy carries revised outcomes). Rows of a
        # force-month can only exist if an earlier copy was logged, or a failed earlier
        # ingest was interrupted outside a transaction (impossible), so the scan is skipped
        # for a first load.
        if replaced or _has_rows(con, target, force, month):
            con.execute(f"DELETE FROM {target} WHERE force = ? AND month = ?", [force, month + "-01"])
            con.execute("DELETE FROM rejects WHERE kind = ? AND force = ? AND month = ?", [kind, force, month + "-01"])
            con.execute("DELETE FROM no_location WHERE kind = ? AND force = ? AND month = ?",
                        [kind, force, month + "-01"])
        loaded = con.execute(f"INSERT INTO {target} {select_sql}", _used(select_sql, params)).fetchall()[0][0]
        con.execute(
            f"INSERT INTO rejects SELECT $source, $kind, $force, CAST($file_month || '-01' AS DATE), _line, reason, "
            f"{_raw_text_expr(header)} FROM staged WHERE reason IS NOT NULL",
            {"source": src.display, "kind": kind, "force": force, "file_month": month},
        )
        if invalid:
            con.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
                [[src.display, kind, force, month + "-01", ln, reason, raw] for ln, reason, raw in invalid],
            )
        if kind == "street":
            no_loc = con.execute(
                "SELECT count(*) FROM staged WHERE reason IS NULL AND trim(\"LSOA code\") = ''"
            ).fetchall()[0][0]
        else:
            no_loc = con.execute(
                "SELECT count(*) FROM staged WHERE reason IS NULL AND "
                "(trim(\"Latitude\") = '' OR trim(\"Longitude\") = '')"
            ).fetchall()[0][0]
        con.execute(
            "INSERT INTO no_location VALUES (?, ?, ?, ?, ?)", [src.display, kind, force, month + "-01", no_loc]
        )
        reasons = con.execute(
            "SELECT regexp_replace(reason, '''.*''', '''...''') AS r, count(*) FROM staged "
            "WHERE reason IS NOT NULL GROUP BY r"
        ).fetchall()
        rejected = n_bad + len(invalid)
        if loaded + rejected != res.rows_read:  # the reconciliation must hold exactly
            raise IngestError(
                f"{src.display}: reconciliation failed: read {res.rows_read} rows, "
                f"loaded {loaded}, rejected {rejected}"
            )
        res.rows_loaded, res.rows_rejected, res.rows_no_location = loaded, rejected, no_loc
        res.reasons = {r: int(c) for r, c in reasons}
        if invalid:
            res.reasons["wrong number of fields"] = len(invalid)
        res.status = "replaced" if replaced else "loaded"
        parts = [f"read {res.rows_read:,} = loaded {loaded:,} + rejected {rejected:,}"]
        if no_loc:
            parts.append(f"{no_loc:,} rows without a location")
        res.message = "; ".join(parts)
        if log is not None:
            log()
        _before_commit_hook()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        res.status = "interrupted"
        res.message = "interrupted or failed before commit; the store is as it was before this file"
        res.rows_loaded = res.rows_rejected = res.rows_no_location = 0
        raise
    finally:
        con.unregister("arrow_in")


def _has_rows(con, target: str, force: str, month: str) -> bool:
    return con.execute("SELECT 1 FROM no_location WHERE force = ? AND month = ? AND kind = ? LIMIT 1",
                       [force, month + "-01", "street" if target == "street" else "stop-and-search"]).fetchall() != []


def _used(sql: str, params: dict) -> dict:
    """Only the named parameters the statement uses (DuckDB rejects extra ones)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _before_commit_hook() -> None:
    """Called inside the transaction just before COMMIT (tests use it to simulate a crash)."""


def _log(con, res: FileResult, src: Source, sha, batch, started) -> None:
    finished = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            uuid.uuid4().hex, src.display, src.name, res.kind, res.force,
            (res.month + "-01") if res.month else None, sha, src.mtime, batch,
            res.rows_read, res.rows_loaded, res.rows_rejected, res.rows_no_location,
            res.status, res.message, started, finished,
        ],
    )


def summarise(results: list[FileResult]) -> str:
    """A plain-text summary of an ingest run (per status, totals and every failure)."""
    lines = []
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    read = sum(r.rows_read for r in results if r.status in ("loaded", "replaced"))
    loaded = sum(r.rows_loaded for r in results if r.status in ("loaded", "replaced"))
    rejected = sum(r.rows_rejected for r in results if r.status in ("loaded", "replaced"))
    noloc = sum(r.rows_no_location for r in results if r.status in ("loaded", "replaced"))
    lines.append(
        f"{len(results)} file(s): " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    )
    lines.append(
        f"rows read {read:,} = loaded {loaded:,} + rejected {rejected:,}; "
        f"{noloc:,} loaded rows have no location (counted per force and month in the store)"
    )
    for r in results:
        if r.rows_rejected:
            why = "; ".join(f"{k}: {v}" for k, v in r.reasons.items())
            lines.append(f"  rejected rows in {r.source}: {why}")
        if r.status in ("failed", "skipped-older"):
            lines.append(f"  {r.status.upper()}: {r.message}")
    return "\n".join(lines)
