"""Tests for csp_analysis.ingest and csp_analysis.lookups on small purpose-built files."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from csp_analysis import ingest, lookups, store

HEADER = ",".join(ingest.STREET_HEADER)
SS_HEADER = ",".join(ingest.STOP_SEARCH_HEADER)


def street_row(month="2024-01", crime_id="abc1", lsoa="E01000001", name="Alpha 001A", ctype="Burglary",
               outcome="Under investigation", lon="-1.5", lat="53.5", force="Test Police"):
    return f"{crime_id},{month},{force},{force},{lon},{lat},On or near High Street,{lsoa},{name},{ctype},{outcome},"


def write(path: Path, lines: list[str], gz: bool = False, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def good_file(tmp_path, month="2024-01", force="test", n=5, outcome="Under investigation", **kw) -> Path:
    rows = [street_row(month=month, crime_id=f"id{i}", outcome=outcome) for i in range(n)]
    rows.append(street_row(month=month, crime_id="", ctype="Anti-social behaviour", outcome=""))
    rows.append(street_row(month=month, crime_id="nl", lsoa="", name="", lon="", lat=""))  # no location
    return write(tmp_path / month / f"{month}-{force}-street.csv", [HEADER, *rows], **kw)


@pytest.fixture()
def con(tmp_path):
    c = store.connect(tmp_path / "store" / "t.duckdb")
    yield c
    c.close()


def count(con, table="street"):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_good_file_reconciles(con, tmp_path):
    f = good_file(tmp_path)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded"
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.rows_no_location) == (7, 7, 0, 1)
    assert count(con) == 7
    row = con.execute("SELECT month, crime_id, force, longitude FROM street WHERE crime_id = 'id0'").fetchone()
    assert str(row[0]) == "2024-01-01" and row[2] == "test" and row[3] == -1.5
    # ASB rows have no Crime ID -> NULL, kept
    assert con.execute("SELECT count(*) FROM street WHERE crime_id IS NULL").fetchone()[0] == 1
    log = con.execute("SELECT rows_read, rows_loaded, rows_rejected, status FROM ingest_log").fetchall()
    assert log == [(7, 7, 0, "loaded")]


def test_gzip_and_zip_archive_layout(con, tmp_path):
    good_file(tmp_path / "gz", month="2024-02", gz=True)
    z = tmp_path / "archive.zip"
    src = good_file(tmp_path / "plain", month="2024-03")
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(src, "2024-03/2024-03-test-street.csv")
        zf.writestr("2024-03/README.txt", "not data")
    res = ingest.ingest_paths(con, [tmp_path / "gz", z], progress=False)
    assert [r.status for r in res] == ["loaded", "loaded", "ignored"]
    assert "README.txt" in res[2].message and "README.txt" in ingest.summarise(res)  # named, not silently skipped
    assert sorted(str(m[0]) for m in con.execute("SELECT DISTINCT month FROM street").fetchall()) == [
        "2024-02-01", "2024-03-01"]


def test_reingest_is_idempotent(con, tmp_path):
    f = good_file(tmp_path)
    ingest.ingest_paths(con, [f], progress=False)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "unchanged"
    assert count(con) == 7
    assert count(con, "no_location") == 1


def test_newer_copy_replaces_force_month_whole(con, tmp_path):
    old = good_file(tmp_path / "a", n=5, outcome="Under investigation", mtime=1_600_000_000)
    ingest.ingest_paths(con, [old], progress=False)
    new = good_file(tmp_path / "b", n=4, outcome="Investigation complete; no suspect identified", mtime=1_700_000_000)
    [r] = ingest.ingest_paths(con, [new], progress=False)
    assert r.status == "replaced"
    assert count(con) == 6  # replaced whole, not appended
    outcomes = {o for (o,) in con.execute("SELECT DISTINCT last_outcome FROM street WHERE crime_id LIKE 'id%'").fetchall()}
    assert outcomes == {"Investigation complete; no suspect identified"}
    # an older copy is not allowed to overwrite the newer one ...
    [r2] = ingest.ingest_paths(con, [old], progress=False)
    assert r2.status == "skipped-older" and "--replace" in r2.message
    assert count(con) == 6
    # ... unless asked to
    [r3] = ingest.ingest_paths(con, [old], progress=False, replace=True)
    assert r3.status == "replaced" and count(con) == 7


def test_missing_columns_named_and_other_files_still_load(con, tmp_path):
    bad = write(tmp_path / "2024-01-test-street.csv",
                ["Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type",
                 "x,2024-01,a,a,1,1,loc,E1,n,Burglary"])
    ok = good_file(tmp_path / "ok", month="2024-02")
    res = ingest.ingest_paths(con, [bad, ok], progress=False)
    assert res[0].status == "failed"
    assert str(bad) in res[0].message and "line 1" in res[0].message
    assert "Last outcome category" in res[0].message and "Context" in res[0].message
    assert res[1].status == "loaded" and count(con) == 7
    assert con.execute("SELECT status FROM ingest_log WHERE source_file = ?", [str(bad)]).fetchone()[0] == "failed"


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
    (b"hello world\nthis is not a csv\n", "not a data.police.uk street CSV"),
    ((HEADER + "\n").encode(), "no data rows"),
])
def test_malformed_files_get_clear_errors(con, tmp_path, content, needle):
    f = tmp_path / "2024-01-test-street.csv"
    f.write_bytes(content)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "failed"
    assert needle in r.message and str(f) in r.message
    assert count(con) == 0


def test_bad_gzip_is_reported(con, tmp_path):
    f = tmp_path / "2024-01-test-street.csv.gz"
    f.write_bytes(b"not gzip at all")
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "failed" and "gzip" in r.message


def test_unparseable_month_rows_rejected_with_line_and_reason(con, tmp_path):
    rows = [street_row(crime_id=f"id{i}") for i in range(3)]
    rows.insert(1, street_row(month="Jan-24", crime_id="bad"))
    rows.append(street_row(month="2024-02", crime_id="other"))
    rows.append("too,few,fields")
    f = write(tmp_path / "2024-01-test-street.csv", [HEADER, *rows])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded"
    assert r.rows_read == 6 and r.rows_loaded == 3 and r.rows_rejected == 3
    rej = con.execute("SELECT line, reason, raw FROM rejects ORDER BY line").fetchall()
    assert rej[0][0] == 3 and "unparseable month 'Jan-24'" in rej[0][1] and "bad" in rej[0][2]
    assert rej[1][0] == 6 and "differs from the file's month" in rej[1][1]
    assert rej[2][0] == 7 and "fields" in rej[2][1] and rej[2][2] == "too,few,fields"


def test_all_rows_unparseable_month_fails_file_naming_line(con, tmp_path):
    f = write(tmp_path / "2024-01-test-street.csv", [HEADER, street_row(month="13/2024"), street_row(month="x")])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "failed" and "line 2" in r.message and "unparseable month" in r.message
    # nothing loaded, but every row is accounted for: rejects recorded, the log reconciles
    assert count(con) == 0 and count(con, "rejects") == 2
    assert con.execute("SELECT rows_read, rows_loaded, rows_rejected, status FROM ingest_log").fetchall() == [
        (2, 0, 2, "failed")]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 0, 2)


def test_bad_file_name_is_explained(con, tmp_path):
    f = write(tmp_path / "crimes.csv", [HEADER, street_row()])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "failed" and "file name" in r.message


def test_failure_before_commit_leaves_store_unchanged(con, tmp_path, monkeypatch):
    f1 = good_file(tmp_path / "a", mtime=1_600_000_000)
    ingest.ingest_paths(con, [f1], progress=False)
    before = con.execute("SELECT * FROM street ORDER BY line").fetchall()
    f2 = good_file(tmp_path / "b", n=2, outcome="Changed", mtime=1_700_000_000)

    def boom():
        raise KeyboardInterrupt  # an interruption (Ctrl-C) after the old rows were deleted

    monkeypatch.setattr(ingest, "_before_commit_hook", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_paths(con, [f2], progress=False)
    assert con.execute("SELECT * FROM street ORDER BY line").fetchall() == before
    assert count(con, "no_location") == 1


def test_killed_process_mid_ingest_leaves_store_unchanged(tmp_path):
    db = tmp_path / "k.duckdb"
    f1 = good_file(tmp_path / "a", mtime=1_600_000_000)
    f2 = good_file(tmp_path / "b", n=2, outcome="Changed", mtime=1_700_000_000)
    c = store.connect(db)
    ingest.ingest_paths(c, [f1], progress=False)
    c.close()
    script = textwrap.dedent(f"""
        import os
        from csp_analysis import ingest, store
        con = store.connect({str(db)!r})
        ingest._before_commit_hook = lambda: os._exit(9)   # the process dies inside the transaction
        ingest.ingest_paths(con, [{str(f2)!r}], progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == 9
    c = store.connect(db)
    assert count(c) == 7
    assert {o for (o,) in c.execute("SELECT DISTINCT last_outcome FROM street WHERE crime_id LIKE 'id%'").fetchall()} == {
        "Under investigation"}
    c.close()


def test_records_assigned_by_lsoa_lad_not_by_force_file(con, tmp_path):
    write(tmp_path / "lad.csv", ["LAD17CD,LAD17NM,CSP17CD,CSP17NM,PFA17CD,PFA17NM,FID",
                                 "E08000001,Alpha,E22000001,Alpha CSP,E23000001,Force A,1",
                                 "E08000002,Beta,E22000002,Beta CSP,E23000002,Force B,2"])
    write(tmp_path / "l21.csv", ["lsoa21cd,lsoa21nm,lad21cd,lad21nm,lad23cd,lad23nm",
                                 "E01000001,Alpha 001A,E08000001,Alpha,E08000001,Alpha",
                                 "E01000009,Beta 001A,E08000002,Beta,E08000002,Beta"])
    write(tmp_path / "l11.csv", ["lsoa11cd,lsoa11nm,lad19cd,lad19nm,lad21cd,lad21nm",
                                 "E01000005,Beta 002A,E08000002,Beta,E08000002,Beta"])
    for f in ("lad.csv", "l21.csv", "l11.csv"):
        lookups.load_lookup(con, tmp_path / f)
    rows = [street_row(crime_id="a"), street_row(crime_id="b", lsoa="E01000009", name="Beta 001A"),
            street_row(crime_id="c", lsoa="E01000005", name="Beta 002A"),  # 2011 code
            street_row(crime_id="d", lsoa="W01000001", name="Beta 003C"),  # in neither lookup: by name
            street_row(crime_id="e", lsoa="W01000002", name="Gamma 001A"),  # no LAD of that name
            street_row(crime_id="f", lsoa="", name="", lon="", lat="")]  # no location
    f = write(tmp_path / "2024-01-forcea-street.csv", [HEADER, *rows])
    ingest.ingest_paths(con, [f], progress=False)
    got = dict(con.execute("SELECT crime_id, lad_code FROM street_geo").fetchall())
    assert got == {"a": "E08000001", "b": "E08000002", "c": "E08000002", "d": "E08000002", "e": None, "f": None}
    # the view is written in two parts for speed (issue 13): the same rows as the plain chain of joins
    chain = """SELECT s.*, coalesce(l.lad_code, ln.lad_code) AS lad_code, coalesce(l.lad_name, ln.lad_name) AS lad_name,
      d.csp_code, d.csp_name, d.pfa_code, d.pfa_name
    FROM street s LEFT JOIN lsoa_lad l ON s.lsoa_code = l.lsoa_code
    LEFT JOIN lad_lookup ln ON l.lsoa_code IS NULL AND s.lsoa_name IS NOT NULL
      AND ln.lad_name = regexp_replace(s.lsoa_name, ' [0-9]{3}[A-Z]$', '')
    LEFT JOIN lad_lookup d ON d.lad_code = coalesce(l.lad_code, ln.lad_code)"""
    for a, b in (("SELECT * FROM street_geo", chain), (chain, "SELECT * FROM street_geo")):
        assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0] == 0


def test_stop_and_search_identical_rows_are_kept(con, tmp_path):
    row = ("Person search,2024-11-01T11:16:00+00:00,,,53.08,-1.37,Male,18-24,"
           "White - English/Welsh/Scottish/Northern Irish/British,White,Misuse of Drugs Act 1971 (section 23),"
           "Controlled drugs,Arrest,False,False")
    early = row.replace("2024-11-01T11:16", "2024-10-31T23:30")  # genuine: UTC late evening
    f = write(tmp_path / "2024-11-test-stop-and-search.csv", [SS_HEADER, row, row, early])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and r.rows_loaded == 3
    got = con.execute("SELECT count(*), count(DISTINCT month), bool_and(NOT outcome_linked_to_object) "
                      "FROM stop_search").fetchone()
    assert got == (3, 1, True)


def test_lookup_unrecognised_format(con, tmp_path):
    f = write(tmp_path / "x.csv", ["a,b", "1,2"])
    with pytest.raises(ingest.IngestError, match="unrecognised lookup format"):
        lookups.load_lookup(con, f)


def test_lookup_non_numeric_population_names_line(con, tmp_path):
    f = write(tmp_path / "mye.csv", ["Code,Name,Geography,Population", "E1,A,LAD,100", "E2,B,LAD,lots"])
    with pytest.raises(ingest.IngestError, match=r"line 3, column 'Population'"):
        lookups.load_lookup(con, f)


# ----------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_street_files_reconcile_with_manifest_twice(shared_data, tmp_path):
    con = store.connect(tmp_path / "real.duckdb")
    manifest = pd.read_csv(shared_data / "police_uk" / "manifest_street.csv")
    street = shared_data / "police_uk" / "street"
    for attempt in (1, 2):
        res = ingest.ingest_paths(con, [street], progress=False)
        by_file = {Path(r.source).relative_to(shared_data).as_posix(): r for r in res}
        assert set(by_file) == set(manifest["file"])
        for row in manifest.itertuples():
            r = by_file[row.file]
            if attempt == 1:
                assert r.status == "loaded", r.message
                assert r.rows_read == row.rows and r.rows_loaded == row.rows and r.rows_rejected == 0
                assert r.rows_no_location == row.rows_no_location
            else:
                assert r.status == "unchanged"
        assert count(con) == manifest["rows"].sum()
        # no duplicates: every force-month exactly as published
        per = con.execute("SELECT force, strftime(month, '%Y-%m') AS m, count(*) AS n FROM street GROUP BY ALL").df()
        merged = manifest.merge(per, left_on=["force", "month"], right_on=["force", "m"])
        assert (merged["rows"] == merged["n"]).all() and len(merged) == len(manifest)
    con.close()


# ----------------------------------------------------------------------------- review fixes
def test_corrupt_zip_in_a_folder_is_one_failed_file_and_the_others_load(con, tmp_path):
    good_file(tmp_path / "in", month="2024-01")
    (tmp_path / "in" / "broken.zip").write_bytes(b"this is not a zip archive")
    good_file(tmp_path / "in", month="2024-02")
    res = ingest.ingest_paths(con, [tmp_path / "in"], progress=False)
    by = {Path(r.source).name: r for r in res}
    assert by["broken.zip"].status == "failed" and "not a valid zip archive" in by["broken.zip"].message
    assert str(tmp_path / "in" / "broken.zip") in by["broken.zip"].message
    assert [by[f"2024-0{m}-test-street.csv"].status for m in (1, 2)] == ["loaded", "loaded"]
    assert count(con) == 14
    log = con.execute("SELECT status FROM ingest_log WHERE file_name = 'broken.zip'").fetchall()
    assert log == [("failed",)]
    assert "FAILED" in ingest.summarise(res)


def _zip_with(path: Path, member: str, data: bytes, date_time, extra: bytes = b"") -> Path:
    info = zipfile.ZipInfo(member, date_time=date_time)
    info.extra = extra
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, data)
    return path


def test_zip_member_times_are_utc_like_file_times(tmp_path, monkeypatch):
    import datetime as dt
    import struct
    import time

    data = good_file(tmp_path / "src", month="2024-03").read_bytes()
    # Info-ZIP extended timestamp (UTC seconds) wins over the DOS local time stamp
    ts = 1_720_000_000  # 2024-07-03 09:46:40 UTC
    ut = struct.pack("<HHBi", 0x5455, 5, 1, ts)
    z1 = _zip_with(tmp_path / "a.zip", "2024-03/2024-03-test-street.csv", data, (2001, 1, 1, 0, 0, 0), ut)
    [s1] = list(ingest.iter_sources([z1]))
    assert s1.mtime == dt.datetime(2024, 7, 3, 9, 46, 40)
    # without it the DOS stamp is local time of this machine: converted to UTC
    monkeypatch.setenv("TZ", "EST+05")  # fixed 5 hours behind UTC, no daylight saving
    time.tzset()
    try:
        z2 = _zip_with(tmp_path / "b.zip", "2024-03/2024-03-test-street.csv", data, (2024, 7, 1, 12, 0, 0))
        [s2] = list(ingest.iter_sources([z2]))
        assert s2.mtime == dt.datetime(2024, 7, 1, 17, 0, 0)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    # a plain file's time is UTC as well
    f = tmp_path / "plain" / "2024-03-test-street.csv"
    f.parent.mkdir()
    f.write_bytes(data)
    os.utime(f, (ts, ts))
    [s3] = list(ingest.iter_sources([f]))
    assert s3.mtime == s1.mtime


def test_whitespace_only_crime_type_is_rejected(con, tmp_path):
    f = write(tmp_path / "2024-01-test-street.csv",
              [HEADER, street_row(crime_id="a"), street_row(crime_id="b", ctype="   "), street_row(crime_id="c", ctype="")])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    assert r.reasons == {"missing crime type": 2}
    assert con.execute("SELECT count(*) FROM street WHERE trim(crime_type) = ''").fetchone()[0] == 0
    assert [x[0] for x in con.execute("SELECT line FROM rejects ORDER BY line").fetchall()] == [3, 4]


@pytest.mark.parametrize("column", ["Part of a policing operation", "Outcome linked to object of search",
                                    "Removal of more than just outer clothing"])
def test_stop_search_true_false_columns_treated_alike(con, tmp_path, column):
    cols = ingest.STOP_SEARCH_HEADER
    base = dict(zip(cols, ["Person search", "2024-11-01T11:16:00+00:00", "False", "", "53.08", "-1.37", "Male",
                           "18-24", "", "White", "Misuse of Drugs Act 1971 (section 23)", "Controlled drugs",
                           "Arrest", "False", "False"]))

    def row(value):
        return ",".join({**base, column: value}[c] for c in cols)

    f = write(tmp_path / "2024-11-test-stop-and-search.csv",
              [SS_HEADER, row("True"), row(" false "), row(""), row("yes"), row("nan")])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 4, 1)
    [(line, reason)] = con.execute("SELECT line, reason FROM rejects").fetchall()
    assert line == 5 and reason == f"unparseable True/False 'yes' in {column}"
    col = {"Part of a policing operation": "part_of_policing_operation",
           "Outcome linked to object of search": "outcome_linked_to_object",
           "Removal of more than just outer clothing": "removal_of_more_than_outer_clothing"}[column]
    got = [x[0] for x in con.execute(f"SELECT {col} FROM stop_search ORDER BY line").fetchall()]
    assert got == [True, False, None, None]  # blank (and 'nan') stay NULL


LAD_HEADER = "LAD17CD,LAD17NM,CSP17CD,CSP17NM,PFA17CD,PFA17NM,FID"


@pytest.mark.parametrize("drop", ["LAD17NM", "CSP17NM", "PFA17NM"])
def test_lookup_lad_file_missing_a_name_column(con, tmp_path, drop):
    cols = LAD_HEADER.split(",")
    vals = "E08000001,Alpha,E22000001,Alpha CSP,E23000001,Force A,1".split(",")
    keep = [i for i, c in enumerate(cols) if c != drop]
    f = write(tmp_path / "lad.csv", [",".join(cols[i] for i in keep), ",".join(vals[i] for i in keep)])
    with pytest.raises(ingest.IngestError, match=rf"lad.csv, line 1: missing column\(s\) {drop}"):
        lookups.load_lookup(con, f)
    assert count(con, "lad_lookup") == 0


def test_lookup_lad_listed_twice_names_file_and_lines(con, tmp_path):
    f = write(tmp_path / "lad.csv", [LAD_HEADER, "E08000001,Alpha,E22000001,Alpha CSP,E23000001,Force A,1",
                                     "E08000002,Beta,E22000002,Beta CSP,E23000001,Force A,2",
                                     "E08000001,Alpha,E22000001,Alpha CSP,E23000001,Force A,3"])
    with pytest.raises(ingest.IngestError, match=r"lad.csv, lines 2, 4: LAD 'E08000001' is listed more than once"):
        lookups.load_lookup(con, f)
    assert count(con, "lad_lookup") == 0


def test_lookup_store_errors_become_ingest_errors_naming_the_file(con, tmp_path):
    # a constraint that only the store checks (here a key added to the table for the test)
    con.execute("DROP TABLE lsoa_centroids")
    con.execute("CREATE TABLE lsoa_centroids (lsoa_code VARCHAR PRIMARY KEY, longitude DOUBLE, latitude DOUBLE, "
                "source VARCHAR)")
    g = write(tmp_path / "cent2.csv", ["lsoa_code,longitude,latitude", "E01000001,-1.5,53.5", "E01000001,-1.4,53.4"])
    with pytest.raises(ingest.IngestError, match=r"cent2.csv: could not be loaded into lsoa_centroids"):
        lookups.load_lookup(con, g)
    assert count(con, "lsoa_centroids") == 0


def test_lookup_blank_numbers_null_except_population_counts(con, tmp_path):
    f = write(tmp_path / "cent.csv", ["lsoa21cd,longitude,latitude", "E01000001,-1.5,53.5", "E01000002,,53.4"])
    lookups.load_lookup(con, f)
    assert con.execute("SELECT lsoa_code, longitude, latitude FROM lsoa_centroids ORDER BY 1").fetchall() == [
        ("E01000001", -1.5, 53.5), ("E01000002", None, 53.4)]
    g = write(tmp_path / "mye.csv", ["Code,Name,Geography,Population", "E1,A,LAD,\"1,200\"", "E2,B,LAD,"])
    lookups.load_lookup(con, g)
    assert con.execute("SELECT area_code, population FROM population_area ORDER BY 1").fetchall() == [
        ("E1", 1200.0), ("E2", 0.0)]


def test_cli_ingest_lookup_bad_file_is_an_error_not_a_traceback(tmp_path, capsys):
    from csp_analysis import cli

    f = write(tmp_path / "lad.csv", ["LAD17CD,CSP17CD,PFA17CD", "E08000001,E22000001,E23000001"])
    rc = cli.main(["ingest-lookup", str(f), "--store", str(tmp_path / "c.duckdb")])
    err = capsys.readouterr().err
    assert rc == 1 and "error:" in err and "LAD17NM" in err and "Traceback" not in err


def test_lookup_files_with_the_same_name_from_two_folders_both_stay(con, tmp_path):
    """The synthetic data's look-alike files (same names as the ONS files) must not wipe
    the real areas, nor the real ones the synthetic; reloading a file changes nothing."""
    header = "Geography Code,Geography Name,Sex,White,Asian,Black"
    name = "census2021_ethnic_group_19cat_by_sex_lad_region.csv"
    (tmp_path / "real").mkdir()
    (tmp_path / "demo").mkdir()
    real = write(tmp_path / "real" / name, [header, "E08000016,Barnsley,All persons,230000,3000,1000"])
    demo = write(tmp_path / "demo" / name, [header, "X08000001,Riverton,All persons,90000,9000,4000"])
    lookups.load_lookup(con, demo)
    lookups.load_lookup(con, real)
    lookups.load_lookup(con, real)
    rows = con.execute("SELECT area_code, count(*) FROM population_ethnicity GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("E08000016", 3), ("X08000001", 3)]
    # a corrected edition replaces the area's rows
    write(tmp_path / "real" / name, [header, "E08000016,Barnsley,All persons,231000,3100,1000"])
    lookups.load_lookup(con, real)
    assert con.execute("SELECT sum(population) FROM population_ethnicity WHERE area_code = 'E08000016'"
                       ).fetchall()[0][0] == 235100


# --------------------------------------------------------------------------- fast (typed) street path
def _varied_rows(month="2024-01"):
    """Clean rows that exercise every column: blanks, quoted commas, quoted blanks, exponents."""
    return [
        street_row(month=month, crime_id="a" * 64, lon="-1.123456789012345678", lat="53.5"),
        street_row(month=month, crime_id="", ctype="Anti-social behaviour", outcome=""),
        street_row(month=month, crime_id="nl", lsoa="", name="", lon="", lat=""),
        f'q1,{month},"Force, with comma",Test,1e-1,-5E1,"On or near ""Quoted"" Road",E01000002,Beta 002B,'
        f'Violence and sexual offences,"",Some context',
        f'q2,{month},Test,Test,-180,90,,E01000003,,Drugs,Status update unavailable,""',
        f'q3,{month},Test,Test,180,-90,On or near X, E01000004 ,Gamma 003C,Drugs,,',  # spaced LSOA: SQL path
    ]


STREET_STORE_COLS = ", ".join(c for c in store.STREET_COLUMNS if c != "source_file")


def _store_rows(con):
    return con.execute(f"SELECT {STREET_STORE_COLS} FROM street ORDER BY line").fetchall()


def test_typed_fast_path_accepts_only_clean_files():
    clean = "\n".join([HEADER, *_varied_rows()[:5]]).encode() + b"\n"
    t = ingest.parse_street_typed("f.csv", clean, "2024-01")
    assert t is not None and t.num_rows == 5 and t["_line"].to_pylist() == [2, 3, 4, 5, 6]
    assert t["Longitude"].to_pylist()[3] == 0.1 and t["LSOA code"].null_count == 1
    dirty = {
        "a row of another month": street_row(month="2024-02"),
        "a blank crime type": street_row(ctype=""),
        "a spaced crime type": street_row(ctype=" Drugs"),
        "a spaced Crime ID": street_row(crime_id="id "),
        "an LSOA code of spaces": street_row(lsoa="  "),
        "a longitude out of range": street_row(lon="180.5"),
        "a latitude that is NaN": street_row(lat="nan"),
        "a longitude that is not a number": street_row(lon="1.5d"),
        "too many fields": street_row() + ",extra",
        "an unbalanced quote": street_row(name='"Alpha'),
    }
    for why, row in dirty.items():
        data = "\n".join([HEADER, street_row(), row]).encode() + b"\n"
        assert ingest.parse_street_typed("f.csv", data, "2024-01") is None, why
    assert ingest.parse_street_typed("f.csv", b"\xef\xbb\xbf" + clean, "2024-01") is None  # BOM: careful path
    assert ingest.parse_street_typed("f.csv", clean.replace(b"\n", b"\r"), "2024-01") is None  # lone CRs
    assert ingest.parse_street_typed("f.csv", (HEADER + "\n").encode(), "2024-01") is None  # no data rows


def test_typed_fast_path_stores_what_the_sql_path_stores(tmp_path, monkeypatch):
    """The same clean file through both paths gives identical rows, counts and log."""
    f = write(tmp_path / "2024-01-test-street.csv", [HEADER, *_varied_rows()[:5]], gz=True)
    fast = store.connect(tmp_path / "fast.duckdb")
    [rf] = ingest.ingest_paths(fast, [f], batch="dl-1", progress=False)
    calls = []
    real = ingest.parse_street_typed
    monkeypatch.setattr(ingest, "parse_street_typed", lambda *a: calls.append(1) or None)
    slow = store.connect(tmp_path / "slow.duckdb")
    [rs] = ingest.ingest_paths(slow, [f], batch="dl-1", progress=False)
    assert calls  # the second store really went through the SQL path
    assert real("f", gzip.decompress(f.read_bytes()), "2024-01") is not None  # and the first through the fast one
    assert (rf.status, rf.rows_read, rf.rows_loaded, rf.rows_rejected, rf.rows_no_location, rf.message) == \
           (rs.status, rs.rows_read, rs.rows_loaded, rs.rows_rejected, rs.rows_no_location, rs.message) == \
           ("loaded", 5, 5, 0, 1, rs.message)
    assert _store_rows(fast) == _store_rows(slow)
    assert fast.execute("SELECT DISTINCT download_batch FROM street").fetchall() == [("dl-1",)]
    assert fast.execute("SELECT typeof(force), typeof(month), typeof(longitude) FROM street LIMIT 1").fetchone() == \
           ("VARCHAR", "DATE", "DOUBLE")
    q = "SELECT kind, force, month, rows_no_location FROM no_location"
    assert fast.execute(q).fetchall() == slow.execute(q).fetchall()
    fast.close(), slow.close()


def test_clean_and_dirty_files_in_one_run_reconcile_and_reingest_unchanged(con, tmp_path):
    """Files taking the typed path and the SQL path in one run: every file reconciles, rows
    are not lost or doubled, a re-ingest changes nothing and a newer clean copy replaces."""
    data = tmp_path / "data"
    files = [good_file(data, month=f"2024-0{m}", force=f"f{m}", n=3 + m) for m in range(1, 5)]
    dirty = write(data / "2024-02" / "2024-02-dirty-street.csv",
                  [HEADER, *_varied_rows("2024-02"), street_row(month="2024-03"), street_row(month="2024-02", lon="x")])
    res = ingest.ingest_paths(con, [data], progress=False)
    by = {Path(r.source).name: r for r in res}
    assert all(r.status == "loaded" and r.rows_read == r.rows_loaded + r.rows_rejected for r in res)
    d = by[dirty.name]
    assert (d.rows_read, d.rows_loaded, d.rows_rejected) == (8, 6, 2)
    rej = con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
    assert [ln for ln, _ in rej] == [8, 9] and "differs from the file's month" in rej[0][1] \
        and "unparseable longitude" in rej[1][1]
    # the spaced LSOA code is trimmed as the SQL path always did
    assert con.execute("SELECT lsoa_code FROM street WHERE crime_id = 'q3'").fetchone() == ("E01000004",)
    expected = sum(r.rows_loaded for r in res)
    assert count(con) == expected == sum(5 + m for m in range(1, 5)) + 6
    assert [r.status for r in ingest.ingest_paths(con, [data], progress=False)] == ["unchanged"] * 5
    assert count(con) == expected
    newer = good_file(tmp_path / "new", month="2024-01", force="f1", n=2)
    os.utime(newer, (files[0].stat().st_mtime + 60,) * 2)
    [r] = ingest.ingest_paths(con, [newer], progress=False)
    assert r.status == "replaced"
    assert con.execute("SELECT count(*) FROM street WHERE force = 'f1'").fetchone()[0] == 4
    assert count(con, "no_location") == 5


def test_real_street_files_same_rows_by_typed_and_sql_paths(shared_data, tmp_path, monkeypatch):
    """Three real files (the first, a middle and the last) through the typed and the SQL path: identical rows."""
    files = sorted((shared_data / "police_uk" / "street").rglob("*-street.csv.gz"))
    files = [files[0], files[len(files) // 2], files[-1]]
    fast = store.connect(tmp_path / "fast.duckdb")
    res_fast = ingest.ingest_paths(fast, files, progress=False)
    assert all(ingest.parse_street_typed("f", gzip.decompress(f.read_bytes()), f.name[:7]) is not None for f in files)
    monkeypatch.setattr(ingest, "parse_street_typed", lambda *a: None)
    slow = store.connect(tmp_path / "slow.duckdb")
    res_slow = ingest.ingest_paths(slow, files, progress=False)
    assert [(r.rows_read, r.rows_loaded, r.rows_no_location, r.message) for r in res_fast] == \
           [(r.rows_read, r.rows_loaded, r.rows_no_location, r.message) for r in res_slow]
    q = f"SELECT {STREET_STORE_COLS}, source_file FROM street ORDER BY source_file, line"
    assert fast.execute(q).fetchall() == slow.execute(q).fetchall()
    fast.close(), slow.close()


def test_store_memory_capped_while_ingesting_then_reset(con, tmp_path, monkeypatch):
    """DuckDB's memory is capped during the ingest into a store file (so its cache of the
    blocks it wrote cannot grow with the store) and back to the default afterwards; a
    limit the caller set, and an in-memory database (whose tables live in that memory),
    are left alone; a failed batch resets it too."""
    import duckdb

    setting = "SELECT current_setting('memory_limit')"
    default = con.execute(setting).fetchall()[0][0]
    seen = []
    monkeypatch.setattr(ingest, "_before_commit_hook", lambda: seen.append(con.execute(setting).fetchall()[0][0]))
    [r] = ingest.ingest_paths(con, [good_file(tmp_path)], progress=False)
    assert r.status == "loaded" and seen == ["61.0 MiB"] != [default]  # 64MB as DuckDB shows it
    assert ingest.STORE_MEMORY_LIMIT == "64MB" and con.execute(setting).fetchall()[0][0] == default

    con.execute("SET memory_limit = '3GB'")
    mine = con.execute(setting).fetchall()[0][0]
    [r] = ingest.ingest_paths(con, [good_file(tmp_path, month="2024-02")], progress=False)
    assert r.status == "loaded" and seen[-1] == mine and con.execute(setting).fetchall()[0][0] == mine
    con.execute("RESET memory_limit")

    def interrupt():
        raise KeyboardInterrupt  # Ctrl-C in the middle of a batch
    monkeypatch.setattr(ingest, "_before_commit_hook", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_paths(con, [good_file(tmp_path, month="2024-03")], progress=False)
    assert con.execute(setting).fetchall()[0][0] == default

    mem = duckdb.connect()
    monkeypatch.setattr(ingest, "_before_commit_hook", lambda: seen.append(mem.execute(setting).fetchall()[0][0]))
    [r] = ingest.ingest_paths(mem, [good_file(tmp_path, month="2024-04")], progress=False)
    assert r.status == "loaded" and seen[-1] == default
