"""Ingest data.police.uk street-level and stop-and-search files into the store.

Files are accepted as users download them: monthly folders of
``YYYY-MM-<force>-street.csv`` / ``YYYY-MM-<force>-stop-and-search.csv``, the same
gzip-compressed (``.csv.gz``), or the archive ``.zip`` with that folder layout.

Guarantees
----------
* **Reconciliation**: for every file, physical data records (non-empty lines after the
  header) = rows loaded + rows rejected; each rejected record is kept in the ``rejects``
  table with its line, reason and raw text, and the ``ingest_id`` of the attempt.
* **Malformed lines cost only themselves**: files are parsed as one record per line (the
  data.police.uk files never put a line break inside a value). A line with an unbalanced
  quote or the wrong number of fields is rejected alone, and parsing re-synchronises at
  the next line; a quoted value spanning lines is therefore rejected as malformed lines.
* **Validation**: a row is rejected (with its reason) when its month differs from the
  file's month (stop and search: its date is more than a day outside the file's month), its crime type is
  blank, a coordinate is not a number or out of range (latitude -90..90, longitude
  -180..180; NaN and infinities are out of range) or a True/False column holds another
  value. A file whose every row is rejected is ``failed``: its rejects are recorded, the
  force-month already in the store (if any) stays, and the log says read N = 0 + N.
* **Idempotence**: a file is identified by (kind, force, month) and the sha256 of its
  uncompressed bytes. Ingesting an identical copy again changes nothing. A *newer* copy
  (later modification time) of the same force-month replaces the older one whole, since
  outcomes are revised after publication; an older copy is skipped unless ``replace``.
* **Atomicity**: files are written in batches, one transaction per batch; a file is
  either wholly in the store (rows, rejects, no-location count and its log row) or not
  at all. A failure or interruption leaves the store as it was before the batch.
* **Nothing skipped silently**: every file found but not ingested (a name that is not a
  data.police.uk file name, a nested zip, another format, an outcomes file) is returned
  as ``ignored`` with the reason and logged; a missing path, an empty folder or a folder
  without data files is ``failed``. A malformed file (empty, not a CSV, missing columns,
  a corrupt zip archive) is ``failed`` with a message naming the file and line; the
  remaining files still load.
* **Bounded memory**: files are read and parsed at most a few ahead and written in
  batches of at most :data:`BATCH_ROWS` rows, whatever the number of files; while it
  ingests into a store file, DuckDB's own memory is capped at :data:`STORE_MEMORY_LIMIT`
  (otherwise its cache of the blocks it has written grows with the store, up to 80 % of
  the machine's memory; it evicts them to the file instead).
* **Modification times** are compared in UTC: file times from the file system, zip
  member times from the archive's UTC timestamp where it has one (Info-ZIP extended
  timestamp), else its local-time DOS stamp read as local time of this machine.

Speed
-----
Gzip is decompressed by ISA-L (``isal``, when installed) and files are read, hashed and
parsed by worker threads while the store writes the previous batch. A street file is
first parsed by :func:`parse_street_typed`: pyarrow parses it straight into the store's
types (coordinates as doubles, blanks as nulls) and a few vectorised pyarrow checks prove
that every row passes the validation below and would be stored unchanged by it; such
files (all the published ones seen so far) go into DuckDB as one Arrow batch with a plain
``INSERT ... SELECT`` of the columns, with no SQL casts or checks. Any other file (a
rejected row, a spaced value to trim, a BOM, a malformed line; and every stop-and-search
file) takes the careful path: parsed as strings by :func:`parse_records`, validated by
one vectorised DuckDB aggregate over the Arrow batch, and written by ``INSERT ... SELECT``
with the casts; only a file whose line count does not match pyarrow's row count (a
malformed or blank line) is re-read line by line in Python to find the lines at fault.
Both paths store identical rows (tested on synthetic and real files). A batch holds
files of one path.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import re
import struct
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
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

#: Most rows written in one transaction (bounds memory: about 300 bytes a row).
BATCH_ROWS = 300_000
#: Most files written in one transaction.
BATCH_FILES = 64
#: Files read and parsed ahead of the one being written (so that parsing overlaps the
#: store's writes; with the batch, this bounds memory whatever the number of files).
READ_AHEAD = 24

#: DuckDB's memory limit while an ingest writes to a store file (restored afterwards).
#: Measured on 57/114/228 real street files and on replacing a month of the national
#: store (benchmarks/README.md): peak RSS levels off instead of growing with the files.
STORE_MEMORY_LIMIT = "64MB"

_EXPECTED_NAME = ("expected YYYY-MM-<force>-street.csv or YYYY-MM-<force>-stop-and-search.csv, "
                  "optionally .gz")


class IngestError(Exception):
    """A file that cannot be ingested at all; the message names the file and line."""


@dataclass
class Source:
    """One file to ingest, wherever it lives (plain, gzip, or a zip member)."""

    display: str
    name: str
    read: Callable[[], bytes]
    mtime: dt.datetime | None
    explicit: bool = True  # named by the user (not found by walking a folder or archive)
    error: str | None = None  # set when the file cannot even be listed (a corrupt zip archive)
    skip: str | None = None  # set when the file is found but is not ingestible (named in the results)
    root: str | None = None  # the path the user named that led to this file
    read_stored: Callable[[], bytes] | None = None  # the file's bytes as stored (e.g. gzip)
    unpack: Callable[[bytes], bytes] | None = None  # stored bytes -> the CSV's bytes


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
def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).replace(tzinfo=None)


def _unreadable(msg: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise IngestError(msg)
    return read


def iter_sources(paths: Iterable[str | os.PathLike]) -> Iterator[Source]:
    """Yield every file under ``paths`` (files, folders, zip archives), sorted.

    Nothing is dropped: a missing path or an empty folder is yielded as a source with
    ``error`` set, and a file that is not ingestible (another format, a nested zip) as a
    source with ``skip`` set, so that the caller names it.
    """
    for raw in paths:
        p = Path(raw)
        root = str(p)
        if not p.exists():
            msg = f"{p}: no such file or folder"
            yield Source(display=str(p), name=p.name, read=_unreadable(msg), mtime=None, error=msg, root=root)
            continue
        if p.is_dir():
            files = sorted(x for x in p.rglob("*") if x.is_file())
            if not files:
                msg = f"{p}: the folder is empty (no data.police.uk files to ingest)"
                yield Source(display=str(p), name=p.name, read=_unreadable(msg), mtime=None, error=msg, root=root)
            for f in files:
                if f.suffix.lower() == ".zip":
                    for s in _zip_sources(f):
                        s.root = root
                        yield s
                else:
                    src = _file_source(f)
                    src.explicit, src.root = False, root
                    yield src
        elif p.suffix.lower() == ".zip":
            for s in _zip_sources(p):
                s.root = root
                yield s
        else:
            src = _file_source(p)
            src.root = root
            yield src


def _file_source(f: Path) -> Source:
    def unpack(data: bytes) -> bytes:
        if f.name.endswith(".gz"):
            try:
                data = _gunzip(data)
            except (OSError, EOFError, zlib_error) as exc:
                raise IngestError(f"{f}: not a valid gzip file ({exc})") from exc
        return data

    return Source(display=str(f), name=f.name, read=lambda: unpack(f.read_bytes()), mtime=_utc(f.stat().st_mtime),
                  read_stored=f.read_bytes, unpack=unpack)


try:  # zlib.error is raised by gzip.decompress on a corrupt deflate stream
    from zlib import error as zlib_error
except ImportError:  # pragma: no cover
    zlib_error = OSError

try:  # ISA-L's gzip decompresses about twice as fast as zlib (same format, same errors)
    from isal import igzip as _igzip
    from isal.isal_zlib import error as _isal_error

    zlib_error = (zlib_error, _isal_error)
    _gunzip = _igzip.decompress
except ImportError:  # pragma: no cover - optional speed-up
    _gunzip = gzip.decompress


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
            return _utc(ts)
        i += 4 + size
    local = dt.datetime(*info.date_time)  # naive local time: astimezone() reads it as such
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _zip_sources(z: Path) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(z)
    except (zipfile.BadZipFile, OSError) as exc:
        # reported as one failed file by ingest_paths; the other files still load
        msg = f"{z}: not a valid zip archive ({exc})"
        yield Source(display=str(z), name=z.name, read=_unreadable(msg), mtime=_utc(z.stat().st_mtime),
                     explicit=True, error=msg)
        return
    with zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
    if not infos:
        msg = f"{z}: the zip archive is empty (no data.police.uk files to ingest)"
        yield Source(display=str(z), name=z.name, read=_unreadable(msg), mtime=_utc(z.stat().st_mtime),
                     explicit=True, error=msg)
    for info in infos:
        base = info.filename.rsplit("/", 1)[-1]

        def read(info=info, base=base) -> bytes:
            try:
                with zipfile.ZipFile(z) as zf2:
                    data = zf2.read(info.filename)
                return _gunzip(data) if base.endswith(".gz") else data
            except (zipfile.BadZipFile, OSError, EOFError, zlib_error) as exc:
                raise IngestError(f"{z}!{info.filename}: cannot be read from the archive ({exc})") from exc

        src = Source(display=f"{z}!{info.filename}", name=base, read=read,
                     mtime=_zip_member_mtime(info), explicit=False)
        if base.lower().endswith(".zip"):
            src.skip = "a zip archive inside a zip archive is not opened (unzip it and ingest its folder)"
        yield src


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
        raise IngestError(f"{name}: not a data.police.uk file name ({_EXPECTED_NAME})")
    month = m["month"]
    try:
        dt.date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise IngestError(f"{name}: the month {month!r} in the file name is not a valid month") from exc
    return m["kind"], m["force"], month


def _check_header(display: str, first: str, kind: str) -> list[str]:
    """Validate the header line; return the column names."""
    if not first.strip():
        raise IngestError(f"{display}, line 1: the file is empty (no header row)")
    try:
        header = next(csv.reader([first], strict=True))
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


_LINE_SPLIT = re.compile(r"\r\n|\n|\r")


def _to_utf8(display: str, data: bytes) -> bytes:
    """The file as UTF-8 bytes without a BOM (cp1252 files, as Excel writes them, re-encoded)."""
    if b"\x00" in data[:4096]:
        raise IngestError(f"{display}, line 1: not a CSV file (binary content)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        # cp1252 decodes almost any byte; the five it does not are replaced, not fatal
        return data.decode("cp1252", errors="replace").encode("utf-8")


def _read_arrow(data: bytes, convert: "pacsv.ConvertOptions") -> tuple[pa.Table, int]:
    """One multithreaded pyarrow parse of a whole file, skipping malformed rows: (table,
    number of rows skipped). The callers reconcile the row count against the lines."""
    bad: list = []
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=False,
                                         invalid_row_handler=lambda row: bad.append(1) or "skip"),
        convert_options=convert)
    return table, len(bad)


def parse_records(display: str, data: bytes, kind: str) -> tuple[pa.Table, list[tuple[int, str, str]], list[str], int]:
    """Parse a file's bytes into an all-string Arrow table, one record per line.

    Parameters
    ----------
    display : str
        The file's name in messages.
    data : bytes
        The uncompressed file.
    kind : {'street', 'stop-and-search'}

    Returns
    -------
    table : pyarrow.Table
        Well-formed rows, with an added ``_line`` column (1-based line in the file).
    invalid : list of (line, reason, raw)
        Malformed lines (unbalanced quotes, wrong number of fields).
    header : list of str
    records : int
        Physical data records: non-empty lines after the header (= rows + invalid).
    """
    data = _to_utf8(display, data)
    nl = data.find(b"\n")
    first = (data if nl < 0 else data[:nl]).decode("utf-8").rstrip("\r")
    if "\r" in first:  # old Mac line ends: the first line runs to the first CR
        first = first.split("\r", 1)[0]
    header = _check_header(display, first, kind)
    # A fast path that is only taken when pyarrow's rows are provably the file's lines:
    # no malformed row and rows == lines - 1 (a blank line, which pyarrow skips, or a
    # quote spanning lines makes fewer rows; a lone CR, which pyarrow reads as a line end,
    # more, so every CR must be part of a CRLF). Counts, not searches: they run at memory speed.
    lf = data.count(b"\n")
    cr = data.count(b"\r") if b"\r" in data else 0
    table = None
    if cr == 0 or data.count(b"\r\n") == cr:
        lines = lf + (0 if data.endswith(b"\n") else 1)
        try:
            table, bad = _read_arrow(data, pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        except pa.ArrowInvalid:
            table = None
        if table is not None and (bad or table.num_rows != lines - 1):
            table = None
        if table is not None:
            table = table.append_column("_line", pa.array(np.arange(2, table.num_rows + 2, dtype=np.int32)))
    if table is None:
        table, invalid = _read_lines(display, data, header)
    else:
        invalid = []
    for c in (STOP_SEARCH_OPTIONAL if kind == "stop-and-search" else ()):
        if c not in header:
            table = table.append_column(c, pa.array([""] * table.num_rows, type=pa.string()))
    return table, invalid, header, table.num_rows + len(invalid)


def read_table(display: str, text: str, kind: str, raw: bytes | None = None
               ) -> tuple[pa.Table, list[tuple[int, str, str]], list[str]]:
    """Parse CSV text (or its bytes ``raw``) into an all-string Arrow table.

    Kept for compatibility; see :func:`parse_records`, which also returns the number of
    physical data records.
    """
    table, invalid, header, _ = parse_records(display, raw if raw is not None else text.encode("utf-8"), kind)
    return table, invalid, header


# Street columns in the store, from the file's columns (Month is the file's month).
_STREET_STORE_COLUMNS = [
    ("Crime ID", "crime_id"), ("Reported by", "reported_by"), ("Falls within", "falls_within"),
    ("Longitude", "longitude"), ("Latitude", "latitude"), ("Location", "location"), ("LSOA code", "lsoa_code"),
    ("LSOA name", "lsoa_name"), ("Crime type", "crime_type"), ("Last outcome category", "last_outcome"),
    ("Context", "context"),
]
#: Columns the SQL path trims before storing (the fast path requires them already trimmed).
_STREET_TRIMMED = ("Crime ID", "LSOA code", "LSOA name")


def parse_street_typed(display: str, data: bytes, month: str) -> pa.Table | None:
    """Parse a clean street file straight into the store's types, or return None.

    The fast path of the ingest (see *Speed* in the module docstring). pyarrow parses
    the coordinates as doubles and blank values as nulls; the file is accepted only when
    every row provably passes the validation of the SQL path *and* would be stored with
    the same values: the file's lines are its rows (as in :func:`parse_records`), every
    Month equals the file's month, no crime type is blank, no trimmed column (Crime ID,
    LSOA code, LSOA name, Crime type) has a leading or trailing space, and every
    coordinate is finite and in range. Anything else (including a value pyarrow cannot
    parse) returns None and the file goes through :func:`parse_records` and the SQL
    validation, which reject rows with their line and reason. The two paths give the
    same rows (``tests/test_ingest.py`` compares them).

    Returns
    -------
    pyarrow.Table or None
        Columns named as in the file (Month dropped), Longitude/Latitude as float64,
        blank strings as nulls, and ``_line`` (1-based line in the file).
    """
    import pyarrow.compute as pc

    if data.startswith(b"\xef\xbb\xbf") or b"\x00" in data[:4096]:
        return None  # a BOM or binary content: the careful path
    cr = data.count(b"\r") if b"\r" in data else 0
    if cr and data.count(b"\r\n") != cr:
        return None  # a lone CR (old Mac line ends): pyarrow's rows would not be the lines
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    nl = data.find(b"\n")
    try:
        first = (data if nl < 0 else data[:nl]).decode("utf-8").rstrip("\r")
        header = next(csv.reader([first], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    if len(set(header)) != len(header) or any(c not in header for c in STREET_HEADER):
        return None
    types = {c: pa.string() for c in STREET_HEADER}
    types["Longitude"] = types["Latitude"] = pa.float64()
    try:
        t, bad = _read_arrow(data, pacsv.ConvertOptions(
            column_types=types, include_columns=STREET_HEADER, null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value that is not a number, invalid UTF-8 ...
        return None
    if bad or t.num_rows != lines - 1 or t.num_rows == 0:
        return None
    if pc.unique(t["Month"]).to_pylist() != [month]:
        return None
    ct = t["Crime type"]
    if ct.null_count or any(v != v.strip(" ") for v in pc.unique(ct).to_pylist()):
        return None
    for c in _STREET_TRIMMED:  # DuckDB's trim() removes spaces only, like str.strip(" ")
        if pc.any(pc.or_(pc.starts_with(t[c], " "), pc.ends_with(t[c], " "))).as_py():
            return None
    for c, lim in (("Longitude", 180), ("Latitude", 90)):
        mm = pc.min_max(t[c]).as_py()
        if mm["min"] is not None and (mm["min"] < -lim or mm["max"] > lim or pc.any(pc.is_nan(t[c])).as_py()):
            return None
    t = t.drop_columns(["Month"])
    return t.append_column("_line", pa.array(np.arange(2, t.num_rows + 2, dtype=np.int32)))


def _constant(value, n: int) -> pa.Array:
    """A string column holding one value, dictionary-encoded (one copy of the string)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def _read_lines(display: str, data: bytes, header: list[str]) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Parse line by line with the csv module: each malformed line is rejected alone.

    Written by hand (not pyarrow) because pyarrow neither reports line numbers nor stops
    an unbalanced quote from swallowing the lines after it; used only for files that the
    fast path found irregular, so per-line Python cost is acceptable.
    """
    text = data.decode("utf-8")
    ncols = len(header)
    cols: list[list[str]] = [[] for _ in range(ncols)]
    line_no: list[int] = []
    invalid: list[tuple[int, str, str]] = []
    for ln, line in enumerate(_LINE_SPLIT.split(text), start=1):
        if ln == 1 or line == "":
            continue
        try:
            rec = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            invalid.append((ln, f"malformed CSV quoting ({exc}); the line is rejected alone", line))
            continue
        if len(rec) != ncols:
            invalid.append((ln, f"{len(rec)} fields where the header has {ncols}", line))
            continue
        for c, v in zip(cols, rec):
            c.append(v)
        line_no.append(ln)
    arrays = [pa.array(c, type=pa.string()) for c in cols] + [pa.array(line_no, type=pa.int32())]
    return pa.Table.from_arrays(arrays, names=[*header, "_line"]), invalid


# --------------------------------------------------------------------------- SQL
# Every statement runs over one Arrow batch ``batch_in`` holding several files: ``_file``
# is the file's index in the batch and the per-file constants are list parameters.
_FILE = "$months[_file + 1]"

_LON_OK = "(trim(\"Longitude\") = '' OR try_cast(trim(\"Longitude\") AS DOUBLE) BETWEEN -180 AND 180)"
_LAT_OK = "(trim(\"Latitude\") = '' OR try_cast(trim(\"Latitude\") AS DOUBLE) BETWEEN -90 AND 90)"
_COORD_REASONS = """
  WHEN trim("Longitude") <> '' AND try_cast(trim("Longitude") AS DOUBLE) IS NULL THEN 'unparseable longitude ' || '''' || "Longitude" || ''''
  WHEN trim("Latitude") <> '' AND try_cast(trim("Latitude") AS DOUBLE) IS NULL THEN 'unparseable latitude ' || '''' || "Latitude" || ''''
  WHEN NOT {lon} THEN 'longitude ' || '''' || "Longitude" || '''' || ' out of range -180..180'
  WHEN NOT {lat} THEN 'latitude ' || '''' || "Latitude" || '''' || ' out of range -90..90'""".format(lon=_LON_OK, lat=_LAT_OK)

_STREET_OK = f"""(trim("Month") = {_FILE} AND trim("Crime type") <> '' AND {_LON_OK} AND {_LAT_OK})"""

_STREET_REASON = f"""
CASE
  WHEN NOT regexp_full_match(trim("Month"), '[0-9]{{4}}-[0-9]{{2}}') OR try_strptime(trim("Month") || '-01', '%Y-%m-%d') IS NULL
    THEN 'unparseable month ' || '''' || "Month" || ''''
  WHEN trim("Month") <> {_FILE}
    THEN 'month ' || trim("Month") || ' differs from the file''s month ' || {_FILE}
  WHEN trim("Crime type") = '' THEN 'missing crime type'
{_COORD_REASONS}
  ELSE 'rejected'
END"""

_STREET_NOLOC = "trim(\"LSOA code\") = ''"

_STREET_SELECT = """
SELECT CAST($months[_file + 1] || '-01' AS DATE) AS month,
  nullif(trim("Crime ID"), '') AS crime_id,
  nullif("Reported by", '') AS reported_by,
  nullif("Falls within", '') AS falls_within,
  CAST(nullif(trim("Longitude"), '') AS DOUBLE) AS longitude,
  CAST(nullif(trim("Latitude"), '') AS DOUBLE) AS latitude,
  nullif("Location", '') AS location,
  nullif(trim("LSOA code"), '') AS lsoa_code,
  nullif(trim("LSOA name"), '') AS lsoa_name,
  trim("Crime type") AS crime_type,
  nullif("Last outcome category", '') AS last_outcome,
  nullif("Context", '') AS context,
  $forces[_file + 1] AS force, $sources[_file + 1] AS source_file, $batch AS download_batch, _line AS line
FROM batch_in"""

_BOOL = "CASE lower(trim({c})) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE ELSE NULL END"

# True/False columns: blank (or 'nan' from pandas-written files) is NULL, anything else
# but true/false (any case) rejects the row, the same for all three columns.
_SS_BOOL_COLUMNS = ("Outcome linked to object of search", "Part of a policing operation",
                    "Removal of more than just outer clothing")
_SS_BOOL_OK = " AND ".join(f"""lower(trim("{c}")) IN ('', 'true', 'false', 'nan')""" for c in _SS_BOOL_COLUMNS)
_SS_BOOL_REASONS = "\n".join(
    f"""  WHEN lower(trim("{c}")) NOT IN ('', 'true', 'false', 'nan')
    THEN 'unparseable True/False ' || '''' || "{c}" || '''' || ' in {c}'"""
    for c in _SS_BOOL_COLUMNS
)
# A search belongs to the file's month give or take a day: forces publish by local date
# and time zone conventions differ (a search at 00:40 BST on 1 August is 23:40 UTC on
# 31 July; the test data holds 23:30 UTC on 31 October in a November file).
_SS_UTC = "timezone('UTC', try_cast(trim(\"Date\") AS TIMESTAMPTZ))"
_SS_MONTH_START = f"(CAST({_FILE} || '-01' AS TIMESTAMP))"
_SS_IN_MONTH = (f"({_SS_UTC} >= {_SS_MONTH_START} - INTERVAL 1 DAY "
                f"AND {_SS_UTC} < {_SS_MONTH_START} + INTERVAL 1 MONTH + INTERVAL 1 DAY)")
_SS_OK = f"""({_SS_IN_MONTH} AND {_LON_OK} AND {_LAT_OK} AND {_SS_BOOL_OK})"""

_SS_REASON = f"""
CASE
  WHEN try_cast(trim("Date") AS TIMESTAMPTZ) IS NULL THEN 'unparseable date ' || '''' || "Date" || ''''
  WHEN NOT {_SS_IN_MONTH}
    THEN 'date ' || trim("Date") || ' is outside the file''s month ' || {_FILE} || ' (by more than a day)'
{_COORD_REASONS}
{_SS_BOOL_REASONS}
  ELSE 'rejected'
END"""

_SS_NOLOC = "(trim(\"Latitude\") = '' OR trim(\"Longitude\") = '')"

_SS_SELECT = f"""
SELECT CAST($months[_file + 1] || '-01' AS DATE) AS month,
  nullif("Type", '') AS type,
  CAST(trim("Date") AS TIMESTAMPTZ) AS date,
  {_BOOL.format(c='"Part of a policing operation"')} AS part_of_policing_operation,
  nullif("Policing operation", '') AS policing_operation,
  CAST(nullif(trim("Latitude"), '') AS DOUBLE) AS latitude,
  CAST(nullif(trim("Longitude"), '') AS DOUBLE) AS longitude,
  nullif("Gender", '') AS gender,
  nullif("Age range", '') AS age_range,
  nullif("Self-defined ethnicity", '') AS self_defined_ethnicity,
  nullif("Officer-defined ethnicity", '') AS officer_defined_ethnicity,
  nullif("Legislation", '') AS legislation,
  nullif("Object of search", '') AS object_of_search,
  nullif("Outcome", '') AS outcome,
  {_BOOL.format(c='"Outcome linked to object of search"')} AS outcome_linked_to_object,
  {_BOOL.format(c='"Removal of more than just outer clothing"')} AS removal_of_more_than_outer_clothing,
  $forces[_file + 1] AS force, $sources[_file + 1] AS source_file, $batch AS download_batch, _line AS line
FROM batch_in"""

_KIND_SQL = {
    "street": ("street", _STREET_OK, _STREET_REASON, _STREET_NOLOC, _STREET_SELECT, STREET_HEADER),
    "stop-and-search": ("stop_search", _SS_OK, _SS_REASON, _SS_NOLOC, _SS_SELECT, STOP_SEARCH_HEADER),
}


def _raw_text_expr(header: list[str]) -> str:
    # Rebuild the raw CSV line for the rejects table (so nothing is lost), quoting a
    # value that holds a comma, a quote or a line break as the CSV rules require.
    def one(c: str) -> str:
        return (f"""CASE WHEN regexp_matches("{c}", '[",\\r\\n]') THEN '"' || replace("{c}", '"', '""') || '"' """
                f"""ELSE "{c}" END""")
    return " || ',' || ".join(one(c) for c in header)


# --------------------------------------------------------------------------- main entry
@dataclass
class _Prepared:
    """A file read, hashed and (unless already loaded) parsed, off the main thread."""

    kind: str | None = None
    force: str | None = None
    month: str | None = None
    sha: str | None = None
    stored_sha: str | None = None
    table: pa.Table | None = None
    invalid: list = field(default_factory=list)
    records: int = 0
    no_location: int = 0  # rows without a location (all rows; recounted in SQL if any is rejected)
    error: BaseException | None = None
    fast: bool = False  # table is already typed and valid (parse_street_typed): written without SQL checks


@dataclass
class _Pending:
    """A file waiting in a batch for its transaction."""

    index: int
    src: Source
    prep: _Prepared
    res: FileResult
    ingest_id: str
    started: dt.datetime
    replaced: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _classify(src: Source) -> tuple[str, str, str] | str:
    """(kind, force, month) for a data file, else the reason it is ignored (raises for a bad explicit name)."""
    if src.skip:
        return src.skip
    if not FILE_RE.search(src.name):
        if src.explicit:
            parse_file_name(src.name)  # raises with the expected form
        low = src.name.lower()
        if not low.endswith((".csv", ".csv.gz")):
            return f"not a .csv or .csv.gz file ({_EXPECTED_NAME})"
        return f"not a data.police.uk file name ({_EXPECTED_NAME})"
    kind, force, month = parse_file_name(src.name)
    if kind == "outcomes":
        return "outcomes files are not used (street files carry the last outcome)"
    return kind, force, month


class _Store:
    """What the store already holds, read once per run and kept current by the writer."""

    def __init__(self, con) -> None:
        rows = con.execute(
            "SELECT kind, force, strftime(month, '%Y-%m'), sha256, file_mtime, source_file, file_sha256 FROM ("
            "  SELECT *, row_number() OVER (PARTITION BY kind, force, month ORDER BY finished_at DESC) AS rk"
            "  FROM ingest_log WHERE status IN ('loaded', 'replaced')) WHERE rk = 1"
        ).fetchall()
        self.loaded = {(k, f, m): (sha, mt, s, fsha) for k, f, m, sha, mt, s, fsha in rows}
        # force-months with rows (a no_location row is written with every loaded file)
        self.has_rows = {(k, f, m) for k, f, m in con.execute(
            "SELECT DISTINCT kind, force, strftime(month, '%Y-%m') FROM no_location").fetchall()}


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
        Files, folders (searched recursively) or ``.zip`` archives. A missing path or an
        empty folder gives a ``failed`` result; the other paths still load.
    batch : str, optional
        A label for this download (kept with every row and in the ingest log).
    replace : bool
        Replace a force-month even when the new copy is older than the stored one.
    progress : bool
        Show a progress bar (only when standard error is a terminal).

    Returns
    -------
    list of FileResult
        One per file found (and one per missing path or empty folder), with the
        reconciliation and status (``loaded``, ``replaced``, ``unchanged``,
        ``skipped-older``, ``ignored`` or ``failed``).

    Raises
    ------
    KeyboardInterrupt
        After rolling back the batch in progress; batches already committed stay.
    """
    paths = list(paths)
    return _ingest_sources(con, list(iter_sources(paths)), [str(Path(p)) for p in paths], batch, replace, progress)


def ingest_source(con, src: Source, batch: str | None = None, replace: bool = False,
                  prepared=None) -> FileResult:
    """Ingest one file atomically; never raises for a bad file (the result says why).

    ``prepared`` is accepted for compatibility and ignored.
    """
    return _ingest_sources(con, [src], [], batch, replace, progress=False)[0]


@contextlib.contextmanager
def _store_memory_capped(con):
    """Cap DuckDB's memory at :data:`STORE_MEMORY_LIMIT` for the ingest, then reset it.

    Only for a store file (there DuckDB can evict the blocks it wrote: they are in the
    file; an in-memory database keeps its tables in that memory) whose limit is DuckDB's
    default: a limit the caller set is theirs and left alone (it could not be restored
    exactly: ``current_setting`` shows a rounded size).
    """
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    setting = "SELECT current_setting('memory_limit')"
    capped = False
    if path and path[0][0] not in (None, "", ":memory:"):
        with duckdb.connect() as fresh:
            default = fresh.execute(setting).fetchall()[0][0]
        if con.execute(setting).fetchall()[0][0] == default:
            con.execute(f"SET memory_limit = '{STORE_MEMORY_LIMIT}'")
            capped = True
    try:
        yield
        if capped:
            # checkpoint under the cap too: left to the store's close, with the default
            # limit, it held up to 200 MB more on 228 real files (benchmarks/README.md)
            try:
                con.execute("CHECKPOINT")
            except duckdb.Error:  # e.g. another connection's transaction is open: left to close
                pass
    finally:
        if capped:
            con.execute("RESET memory_limit")


def _ingest_sources(con, sources: list[Source], roots: list[str], batch, replace, progress) -> list[FileResult]:
    with _store_memory_capped(con):
        return _ingest_capped(con, sources, roots, batch, replace, progress)


def _ingest_capped(con, sources: list[Source], roots: list[str], batch, replace, progress) -> list[FileResult]:
    store_mod.ensure_schema(con)
    state = _Store(con)
    results: list[FileResult | None] = [None] * len(sources)
    pending: dict[str, list[_Pending]] = {"street": [], "stop-and-search": []}
    logs: list[list] = []  # log rows of files not written in a batch (ignored, unchanged, failed ...)
    data_roots: set[str] = set()

    bar = _progress_bar(progress, len(sources))

    def log_now(res: FileResult, src: Source, sha, started, ingest_id=None) -> None:
        stored = prep.stored_sha if sha is not None and sha == prep.sha else None
        logs.append(_log_row(res, src, sha, batch, started, ingest_id, stored))

    pool = ThreadPoolExecutor(max_workers=2)
    try:
        ahead = {i: pool.submit(_prepare, sources[i], state) for i in range(min(READ_AHEAD, len(sources)))}
        for i, src in enumerate(sources):
            prep = ahead.pop(i).result()
            if i + READ_AHEAD < len(sources):
                ahead[i + READ_AHEAD] = pool.submit(_prepare, sources[i + READ_AHEAD], state)
            res = FileResult(source=src.display, kind=prep.kind, force=prep.force, month=prep.month)
            results[i] = res
            started = _now()
            try:
                if src.error is not None:
                    data_roots.add(src.root or "")  # already one failure named for this path
                    raise IngestError(src.error)
                c = _classify(src)
                if isinstance(c, str):
                    res.status, res.message = "ignored", f"{src.display}: {c}"
                    log_now(res, src, None, started)
                    continue
                data_roots.add(src.root or "")
                key = c
                group = pending[key[0]]
                if any((p.prep.force, p.prep.month) == key[1:] for p in group):
                    _flush(con, group, state, batch)  # a second copy of a force-month: in order
                if prep.error is not None:
                    raise prep.error
                if _skipped(res, src, prep, state.loaded.get(key), replace):
                    log_now(res, src, prep.sha, started)
                    continue
                if prep.table is None:  # skipped as unchanged in the thread; the store changed since
                    _parse_into(prep, src.display, src.read())
                res.rows_read = prep.records
                if prep.records == 0:
                    raise IngestError(f"{src.display}, line 2: the file has a header but no data rows")
                if group and group[0].prep.fast != prep.fast:
                    _flush(con, group, state, batch)  # a batch is written by one path, typed or SQL
                group.append(_Pending(i, src, prep, res, uuid.uuid4().hex, started,
                                      replaced=key in state.loaded or key in state.has_rows))
                if (sum(p.prep.table.num_rows for p in group) >= BATCH_ROWS or len(group) >= BATCH_FILES):
                    _flush(con, group, state, batch)
            except IngestError as exc:
                res.status, res.message = "failed", str(exc)
                log_now(res, src, prep.sha, started)
            except Exception as exc:  # noqa: BLE001 - report, log and carry on with the other files
                res.status, res.message = "failed", f"{src.display}: {type(exc).__name__}: {exc}"
                log_now(res, src, prep.sha, started)
            finally:
                if bar is not None:
                    bar.update(1)
        for group in pending.values():
            _flush(con, group, state, batch)
        for res in _roots_without_data(roots, data_roots, results):
            log_now(res, Source(display=res.source, name=Path(res.source).name, read=_unreadable(""), mtime=None),
                    None, _now())
    except BaseException:
        _mark_interrupted(pending)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if logs:
            _write_logs(con, logs)
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]


def _progress_bar(progress: bool, total: int):
    """A tqdm bar on standard error when asked, for several files, and it is a terminal; else None."""
    if not (progress and total > 1 and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="ingest", unit="file", file=sys.stderr)


def _mark_interrupted(pending: dict[str, list[_Pending]]) -> None:
    """Results of the files still waiting for their batch's transaction: interrupted."""
    for group in pending.values():
        for p in group:
            p.res.status = "interrupted"
            p.res.message = "interrupted before commit; the store is as it was before this file"


def _prepare(src: Source, state: _Store) -> _Prepared:
    """Read, hash and parse a file (thread-safe: no store access)."""
    out = _Prepared()
    try:
        if src.error is not None:
            raise IngestError(src.error)
        c = _classify(src)
        if isinstance(c, str):
            return out
        out.kind, out.force, out.month = c
        prev = state.loaded.get(c)
        if src.read_stored is not None:
            stored = src.read_stored()
            out.stored_sha = hashlib.sha256(stored).hexdigest()
            if prev is not None and prev[3] == out.stored_sha:
                out.sha = prev[0]  # the same stored bytes: the same content, not even unpacked
                return out
            data = src.unpack(stored)
            del stored
        else:
            data = src.read()
        out.sha = hashlib.sha256(data).hexdigest()
        if prev is not None and prev[0] == out.sha:
            return out  # unchanged: not parsed (re-ingest is a hash and a lookup)
        _parse_into(out, src.display, data)
    except Exception as exc:  # noqa: BLE001 - reported in order by the main thread
        out.error = exc
    return out


def _skipped(res: FileResult, src: Source, prep: _Prepared, prev, replace: bool) -> bool:
    """Mark ``res`` 'unchanged' (the store holds this content) or 'skipped-older' (it holds a
    newer copy and not ``replace``); ``prev`` is the store's (sha, mtime, source, file sha)."""
    if prev and prev[0] == prep.sha:
        res.status = "unchanged"
        res.message = f"identical to the copy already loaded from {prev[2]}"
        return True
    if prev and not replace and prev[1] is not None and src.mtime is not None and src.mtime < prev[1]:
        res.status = "skipped-older"
        res.message = (
            f"{src.display}: older copy (modified {src.mtime:%Y-%m-%d %H:%M}) than the one in the "
            f"store ({prev[2]}, modified {prev[1]:%Y-%m-%d %H:%M}); use --replace to load it anyway"
        )
        return True
    return False


def _roots_without_data(roots: list[str], data_roots: set[str], results: list) -> list[FileResult]:
    """A failed result, appended to ``results``, for every folder (or zip) named that held
    no data file at all (unless that path already failed, e.g. an empty folder)."""
    out = []
    for root in roots:
        if root in data_roots or not (Path(root).is_dir() or Path(root).suffix.lower() == ".zip"):
            continue
        if any(r.status == "failed" and r.source == root for r in results if r):
            continue
        res = FileResult(source=root, status="failed",
                         message=f"{root}: no data.police.uk street or stop-and-search files found")
        results.append(res)
        out.append(res)
    return out


def _parse_into(out: _Prepared, display: str, data: bytes) -> None:
    """Parse a file into ``out``: typed by the fast path when the file is clean, else all strings."""
    if out.kind == "street":
        table = parse_street_typed(display, data, out.month)
        if table is not None:
            out.table, out.invalid, out.records, out.fast = table, [], table.num_rows, True
            out.no_location = table["LSOA code"].null_count  # blank (no spaces: checked) = null
            return
    out.table, out.invalid, _, out.records = parse_records(display, data, out.kind)
    out.no_location = _count_no_location(out.table, out.kind)
    out.fast = False


def _count_no_location(table: pa.Table, kind: str) -> int:
    """Rows without a location, by pyarrow compute (same rule as the SQL ``_*_NOLOC``)."""
    import pyarrow.compute as pc

    def blank(c: str):  # DuckDB's trim() removes spaces only
        return pc.equal(pc.utf8_trim(table[c], characters=" "), "")

    mask = blank("LSOA code") if kind == "street" else pc.or_(blank("Latitude"), blank("Longitude"))
    return int(pc.sum(mask).as_py() or 0)


def _log_row(res: FileResult, src: Source, sha, batch, started, ingest_id=None, stored_sha=None) -> list:
    return [
        ingest_id or uuid.uuid4().hex, src.display, src.name, res.kind, res.force,
        (res.month + "-01") if res.month else None, sha, src.mtime, batch,
        res.rows_read, res.rows_loaded, res.rows_rejected, res.rows_no_location,
        res.status, res.message, started, _now(), stored_sha,
    ]


_LOG_COLUMNS = ("ingest_id, source_file, file_name, kind, force, month, sha256, file_mtime, download_batch, "
                "rows_read, rows_loaded, rows_rejected, rows_no_location, status, message, started_at, finished_at, "
                "file_sha256")


def _write_logs(con, rows: list[list]) -> None:
    names = [c.strip() for c in _LOG_COLUMNS.split(",")]
    cols = list(zip(*rows))
    types = {"month": pa.string(), "file_mtime": pa.timestamp("us"), "started_at": pa.timestamp("us"),
             "finished_at": pa.timestamp("us")}
    int_cols = {"rows_read", "rows_loaded", "rows_rejected", "rows_no_location"}
    arrays = [pa.array(list(v), type=pa.int64() if n in int_cols else types.get(n, pa.string()))
              for n, v in zip(names, cols)]
    con.register("log_in", pa.Table.from_arrays(arrays, names=names))
    try:
        con.execute(f"INSERT INTO ingest_log ({_LOG_COLUMNS}) SELECT ingest_id, source_file, file_name, kind, "
                    "force, CAST(month AS DATE), sha256, file_mtime, download_batch, rows_read, rows_loaded, "
                    "rows_rejected, rows_no_location, status, message, started_at, finished_at, file_sha256 "
                    "FROM log_in")
    finally:
        con.unregister("log_in")
    rows.clear()


def _used(sql: str, params: dict) -> dict:
    """Only the named parameters the statement uses (DuckDB rejects extra ones)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _before_commit_hook() -> None:
    """Called inside the transaction just before COMMIT (tests use it to simulate a crash)."""


def _flush(con, group: list[_Pending], state: _Store, batch) -> None:
    """Write a batch of files of one kind in one transaction; on an unexpected error,
    roll back and write its files one at a time so that one bad file fails alone."""
    if not group:
        return
    files = list(group)
    group.clear()
    try:
        _write_batch(con, files, state, batch)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001
        if len(files) == 1:
            p = files[0]
            p.res.status = "failed"
            p.res.message = (str(exc) if isinstance(exc, IngestError)
                             else f"{p.src.display}: {type(exc).__name__}: {exc}")
            p.res.rows_loaded = p.res.rows_rejected = p.res.rows_no_location = 0
            p.res.reasons = {}
            _write_logs(con, [_log_row(p.res, p.src, p.prep.sha, batch, p.started, p.ingest_id, p.prep.stored_sha)])
            return
        for p in files:
            p.res.status, p.res.message, p.res.reasons = "pending", "", {}
            _flush(con, [p], state, batch)


def _write_batch(con, files: list[_Pending], state: _Store, batch) -> None:
    kind = files[0].prep.kind
    if files[0].prep.fast:
        # Typed and validated by parse_street_typed: the rows go in as they are, with the
        # per-file constants as one-value dictionary columns (cheap for Arrow and DuckDB).
        month_type = pa.date32()
        tables = []
        for p in files:
            t, n = p.prep.table, p.prep.table.num_rows
            arrays = [pa.repeat(pa.scalar(dt.date.fromisoformat(p.prep.month + "-01"), month_type), n)]
            arrays += [t[c] for c, _ in _STREET_STORE_COLUMNS]
            arrays += [_constant(p.prep.force, n), _constant(p.src.display, n),
                       _constant(batch, n) if batch is not None else pa.nulls(n, pa.string()), t["_line"]]
            tables.append(pa.Table.from_arrays(arrays, names=list(store_mod.STREET_COLUMNS)))
        con.register("batch_in", pa.concat_tables(tables))
        try:
            for p in files:
                p.res.rows_rejected, p.res.rows_loaded = 0, p.prep.table.num_rows
                p.res.rows_no_location = p.prep.no_location
            params = {"kind": kind, "batch": batch}
            _transaction(con, files, state, batch, kind, params, dead=[], any_bad=False, optimistic=True, fast=True)
        finally:
            con.unregister("batch_in")
        return
    target, ok_sql, reason_sql, noloc_sql, select_sql, header = _KIND_SQL[kind]
    cols = [*header, "_line"]
    tables = []
    for j, p in enumerate(files):
        t = p.prep.table.select(cols)
        tables.append(t.append_column("_file", pa.array(np.full(t.num_rows, j, dtype=np.int32))))
    con.register("batch_in", pa.concat_tables(tables))
    try:
        _write_registered(con, files, state, batch, kind)
    finally:
        con.unregister("batch_in")


def _write_registered(con, files: list[_Pending], state: _Store, batch, kind: str) -> None:
    """Write the registered batch: optimistically in one pass (every row valid: the common
    case), else validate per file first and write again with the rejects."""
    params = {
        "months": [p.prep.month for p in files], "forces": [p.prep.force for p in files],
        "sources": [p.src.display for p in files], "ids": [p.ingest_id for p in files],
        "kind": kind, "batch": batch,
    }
    if not any(p.prep.invalid for p in files):
        for p in files:
            p.res.rows_rejected, p.res.rows_loaded = 0, p.prep.table.num_rows
            p.res.rows_no_location = p.prep.no_location
        if _transaction(con, files, state, batch, kind, params, dead=[], any_bad=False, optimistic=True):
            return
    ok_sql, noloc_sql = _KIND_SQL[kind][1], _KIND_SQL[kind][3]
    # One vectorised pass: rejected and no-location rows per file.
    counts = {f: (int(b), int(n)) for f, b, n in con.execute(
        f"SELECT _file, count(*) FILTER (WHERE ({ok_sql}) IS NOT TRUE), "
        f"count(*) FILTER (WHERE ({ok_sql}) IS TRUE AND {noloc_sql}) FROM batch_in GROUP BY _file",
        _used(ok_sql, params)).fetchall()}
    dead = []  # files whose every row is rejected: rejects recorded, nothing replaced
    for j, p in enumerate(files):
        bad, noloc = counts.get(j, (0, 0))
        n = p.prep.table.num_rows
        p.res.rows_rejected = bad + len(p.prep.invalid)
        p.res.rows_loaded = n - bad
        p.res.rows_no_location = noloc
        if p.res.rows_loaded == 0:
            dead.append(j)
    any_bad = any(counts.get(j, (0, 0))[0] for j in range(len(files)))
    _transaction(con, files, state, batch, kind, params, dead=dead, any_bad=any_bad, optimistic=False)


def _transaction(con, files: list[_Pending], state: _Store, batch, kind: str, params: dict, dead: list[int],
                 any_bad: bool, optimistic: bool, fast: bool = False) -> bool:
    """One transaction for the batch. With ``optimistic``, every row is assumed valid;
    returns False (after a rollback) when a row was not, so the caller validates first."""
    con.execute("BEGIN TRANSACTION")
    try:
        _delete_replaced(con, files, kind, dead)
        if not _insert_rows(con, files, kind, params, dead, any_bad, optimistic, fast):
            con.execute("ROLLBACK")  # some row is invalid: validate per file, then write again
            return False
        if any_bad:
            _record_rejected_rows(con, files, kind, params)
        _record_invalid_lines(con, files, kind)
        noloc_rows = [[p.src.display, kind, p.prep.force, p.prep.month + "-01", p.res.rows_no_location]
                      for j, p in enumerate(files) if j not in dead]
        if noloc_rows:
            con.executemany("INSERT INTO no_location VALUES (?, ?, ?, ?, ?)", noloc_rows)
        _write_logs(con, [_settle_file(con, p, j in dead, batch) for j, p in enumerate(files)])
        _before_commit_hook()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        for p in files:
            p.res.rows_loaded = p.res.rows_rejected = p.res.rows_no_location = 0
            p.res.status = "interrupted"
            p.res.message = "interrupted or failed before commit; the store is as it was before this file"
        raise
    for j, p in enumerate(files):
        key = (kind, p.prep.force, p.prep.month)
        if j not in dead:
            state.loaded[key] = (p.prep.sha, p.src.mtime, p.src.display, p.prep.stored_sha)
            state.has_rows.add(key)
        p.prep.table = None  # free the parsed rows
    return True


def _delete_replaced(con, files: list[_Pending], kind: str, dead: list[int]) -> None:
    """Replace each force-month whole (a newer copy carries revised outcomes); the rejects
    recorded for failed attempts stay with their log rows."""
    target = _KIND_SQL[kind][0]
    for j, p in enumerate(files):
        if j in dead or not p.replaced:
            continue
        key = [p.prep.force, p.prep.month + "-01"]
        con.execute(f"DELETE FROM {target} WHERE force = ? AND month = ?", key)
        con.execute("DELETE FROM rejects WHERE kind = ? AND force = ? AND month = ? AND (ingest_id IS NULL OR "
                    "ingest_id NOT IN (SELECT ingest_id FROM ingest_log WHERE status = 'failed'))", [kind, *key])
        con.execute("DELETE FROM no_location WHERE kind = ? AND force = ? AND month = ?", [kind, *key])


def _insert_rows(con, files: list[_Pending], kind: str, params: dict, dead: list[int], any_bad: bool,
                 optimistic: bool, fast: bool) -> bool:
    """Insert the batch's valid rows; the count must equal what validation passed. False when
    ``optimistic`` and it does not (the caller rolls back); an error otherwise."""
    target, ok_sql, _, _, select_sql, _ = _KIND_SQL[kind]
    where = []
    if any_bad or optimistic:
        where.append(f"({ok_sql}) IS TRUE")
    if dead:
        where.append(f"_file NOT IN ({', '.join(map(str, dead))})")
    sql = f"INSERT INTO {target} {select_sql}" + (" WHERE " + " AND ".join(where) if where else "")
    if fast:  # batch_in holds the store's columns, typed and validated
        cols = ", ".join(store_mod.STREET_COLUMNS)
        sql = f"INSERT INTO {target} ({cols}) SELECT {cols} FROM batch_in"
    loaded = con.execute(sql, _used(sql, params)).fetchall()[0][0]
    expected = sum(p.res.rows_loaded for j, p in enumerate(files) if j not in dead)
    if optimistic and loaded != expected:
        return False
    if loaded != expected:  # the reconciliation must hold exactly
        raise IngestError(f"{files[0].src.display}: reconciliation failed: loaded {loaded} rows in a batch "
                          f"where {expected} passed validation")
    return True


def _record_rejected_rows(con, files: list[_Pending], kind: str, params: dict) -> None:
    """Rows that parsed but failed a check: into ``rejects`` with line, reason and raw text,
    and counted by reason on each file's result."""
    _, ok_sql, reason_sql, _, _, header = _KIND_SQL[kind]
    sql = (f"INSERT INTO rejects (source_file, kind, force, month, line, reason, raw, ingest_id) "
           f"SELECT $sources[_file + 1], $kind, $forces[_file + 1], CAST($months[_file + 1] || '-01' AS DATE), "
           f"_line, {reason_sql}, {_raw_text_expr(header)}, $ids[_file + 1] FROM batch_in "
           f"WHERE ({ok_sql}) IS NOT TRUE")
    con.execute(sql, _used(sql, params))
    sql = (f"SELECT _file, regexp_replace({reason_sql}, '''.*''', '''...''') AS r, count(*) FROM batch_in "
           f"WHERE ({ok_sql}) IS NOT TRUE GROUP BY ALL")
    for j, r, c in con.execute(sql, _used(sql, params)).fetchall():
        files[j].res.reasons[r] = int(c)


def _record_invalid_lines(con, files: list[_Pending], kind: str) -> None:
    """Lines the CSV parser could not split (bad quoting, wrong field count): into ``rejects``."""
    inv = [(p.src.display, kind, p.prep.force, p.prep.month + "-01", ln, reason, raw, p.ingest_id)
           for p in files for ln, reason, raw in p.prep.invalid]
    if not inv:
        return
    con.executemany("INSERT INTO rejects (source_file, kind, force, month, line, reason, raw, ingest_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inv)
    for p in files:
        for _, reason, _ in p.prep.invalid:
            r = "malformed CSV quoting" if reason.startswith("malformed") else "wrong number of fields"
            p.res.reasons[r] = p.res.reasons.get(r, 0) + 1


def _settle_file(con, p: _Pending, dead: bool, batch) -> list:
    """Check a file's reconciliation, set its status and message, and return its log row."""
    res = p.res
    if res.rows_loaded + res.rows_rejected != res.rows_read:
        raise IngestError(f"{p.src.display}: reconciliation failed: read {res.rows_read} rows, "
                          f"loaded {res.rows_loaded}, rejected {res.rows_rejected}")
    if dead:
        first = min([(ln, reason) for ln, reason, _ in p.prep.invalid] + _first_reject(con, p.ingest_id))
        res.status = "failed"
        res.message = (f"{p.src.display}, line {first[0]}: every row was rejected "
                       f"(read {res.rows_read:,} = loaded 0 + rejected {res.rows_rejected:,}; "
                       f"first reason: {first[1]}); the store keeps what it had for this force-month")
        res.rows_no_location = 0
    else:
        res.status = "replaced" if p.replaced else "loaded"
        parts = [f"read {res.rows_read:,} = loaded {res.rows_loaded:,} + rejected {res.rows_rejected:,}"]
        if res.rows_no_location:
            parts.append(f"{res.rows_no_location:,} rows without a location")
        res.message = "; ".join(parts)
    return _log_row(res, p.src, p.prep.sha, batch, p.started, p.ingest_id, p.prep.stored_sha)


def _first_reject(con, ingest_id: str) -> list[tuple[int, str]]:
    return [tuple(r) for r in con.execute(
        "SELECT line, reason FROM rejects WHERE ingest_id = ? ORDER BY line LIMIT 1", [ingest_id]).fetchall()]


def summarise(results: list[FileResult]) -> str:
    """A plain-text summary of an ingest run (per status, totals, every file not loaded)."""
    lines = []
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    done = [r for r in results if r.status in ("loaded", "replaced")]
    read = sum(r.rows_read for r in done)
    loaded = sum(r.rows_loaded for r in done)
    rejected = sum(r.rows_rejected for r in done)
    noloc = sum(r.rows_no_location for r in done)
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
        if r.status in ("failed", "skipped-older", "ignored", "interrupted"):
            lines.append(f"  {r.status.upper()}: {r.message}")
    return "\n".join(lines)
