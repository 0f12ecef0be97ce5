"""Bad-input corpus for ``csp ingest`` (issue 11, lossless ingest).

Every case states its expected outcome: a clear error naming the file (and line), or the
file loaded with counted rejects. Every case also checks that no record is unaccounted
for: for every file, loaded + rejected == the physical data records (non-empty lines
after the header, counted here independently of the ingest code), and the store agrees
(rows in the table, rows in ``rejects`` and the ``ingest_log`` row).
"""
from __future__ import annotations

import gzip
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from csp_analysis import cli, ingest, store

HEADER = ",".join(ingest.STREET_HEADER)
SS_HEADER = ",".join(ingest.STOP_SEARCH_HEADER)


def row(i=0, month="2024-10", lon="-1.5", lat="53.5", ctype="Burglary", loc="On or near High Street", lsoa="E01000001"):
    return (f"id{i:04d},{month},Test Police,Test Police,{lon},{lat},{loc},{lsoa},Alpha 001A,{ctype},"
            "Under investigation,")


def ss_row(date="2024-10-15T11:16:00+00:00", lat="53.08", lon="-1.37"):
    return (f"Person search,{date},False,,{lat},{lon},Male,18-24,White - English/Welsh/Scottish/Northern Irish/British,"
            "White,Misuse of Drugs Act 1971 (section 23),Controlled drugs,Arrest,False,False")


def write(path: Path, lines: list[str], newline: str = "\n", encoding: str = "utf-8", gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (newline.join(lines) + newline).encode(encoding)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def physical_records(data: bytes) -> int:
    """Non-empty lines after the header: what a person counting lines would count."""
    lines = [ln for ln in re.split(rb"\r\n|\n|\r", data) if ln != b""]
    return max(len(lines) - 1, 0)


@pytest.fixture()
def con(tmp_path):
    c = store.connect(tmp_path / "store" / "t.duckdb")
    yield c
    c.close()


def accounted(con, r: ingest.FileResult, data: bytes | None = None) -> None:
    """Zero records unaccounted for, in the result and in the store."""
    assert r.rows_loaded + r.rows_rejected == r.rows_read, r
    if data is not None:
        assert r.rows_read == physical_records(data), (r, physical_records(data))
    if r.kind:
        table = "street" if r.kind == "street" else "stop_search"
        in_table = con.execute(f"SELECT count(*) FROM {table} WHERE source_file = ?", [r.source]).fetchone()[0]
        assert in_table == (r.rows_loaded if r.status in ("loaded", "replaced") else in_table)
    rej = con.execute("SELECT count(*) FROM rejects WHERE source_file = ? AND ingest_id = "
                      "(SELECT ingest_id FROM ingest_log WHERE source_file = ? ORDER BY finished_at DESC LIMIT 1)",
                      [r.source, r.source]).fetchone()[0]
    assert rej == r.rows_rejected
    log = con.execute("SELECT rows_read, rows_loaded, rows_rejected, status FROM ingest_log WHERE source_file = ? "
                      "ORDER BY finished_at DESC LIMIT 1", [r.source]).fetchone()
    assert log == (r.rows_read, r.rows_loaded, r.rows_rejected, r.status)


def rejects(con, source) -> list[tuple[int, str]]:
    return con.execute("SELECT line, reason FROM rejects WHERE source_file = ? ORDER BY line", [str(source)]).fetchall()


# ----------------------------------------------------------------------------- malformed lines
def test_stray_quote_costs_one_record_not_the_rest_of_the_file(con, tmp_path):
    lines = [HEADER] + [row(i) for i in range(50)]
    lines[11] = row(10, loc='"On or near Church Lane')  # 50 records, unbalanced quote on file line 12
    f = write(tmp_path / "2024-10-stray-quote-street.csv", lines)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (50, 49, 1)
    [(line, reason)] = rejects(con, f)
    assert line == 12 and "quot" in reason
    accounted(con, r, f.read_bytes())


def test_stray_quote_in_a_large_file_names_the_line_no_field_limit_error(con, tmp_path):
    lines = [HEADER] + [row(i) for i in range(9000)]
    lines[5001] = row(5000, loc='"On or near ' + "x" * 200)  # file line 5002
    f = write(tmp_path / "2024-10-big-street.csv.gz", lines, gz=True)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (9000, 8999, 1)
    assert "field limit" not in r.message
    assert [x[0] for x in rejects(con, f)] == [5002]
    accounted(con, r, gzip.decompress(f.read_bytes()))


def test_unterminated_quote_on_the_last_line(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), row(2), row(3, loc='"Nowhere')])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_loaded, r.rows_rejected) == (2, 1) and rejects(con, f)[0][0] == 4
    accounted(con, r, f.read_bytes())


def test_quoted_line_break_is_rejected_as_its_two_lines(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), row(2, loc='"On or near\nHigh Street"'), row(3)])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    assert [x[0] for x in rejects(con, f)] == [3, 4]
    accounted(con, r, f.read_bytes())


def test_wrong_number_of_fields_and_whitespace_line(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), "too,few,fields", row(2) + ",extra", "   ", row(3)])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)
    got = rejects(con, f)
    assert [x[0] for x in got] == [3, 4, 5]
    assert "3 fields where the header has 12" in got[0][1] and "13 fields" in got[1][1] and "1 fields" in got[2][1]
    accounted(con, r, f.read_bytes())


def test_blank_lines_are_not_records_and_line_numbers_stay_true(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), "", "", row(2, month="2019-01"), "", row(3)])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert rejects(con, f)[0][0] == 5
    assert sorted(x[0] for x in con.execute("SELECT line FROM street").fetchall()) == [2, 7]
    accounted(con, r, f.read_bytes())


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_old_mac_line_ends(con, tmp_path, newline):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), "bad,line", row(2)], newline=newline)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1) and rejects(con, f)[0][0] == 3
    assert con.execute("SELECT count(*) FROM street WHERE location LIKE '%\r%' OR context LIKE '%\r%'").fetchone()[0] == 0
    accounted(con, r, f.read_bytes())


def test_bom_and_cp1252_files_load(con, tmp_path):
    f1 = tmp_path / "2024-10-bom-street.csv"
    f1.write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER, row(1)]) + "\n").encode())
    f2 = write(tmp_path / "2024-10-cp-street.csv", [HEADER, row(1, loc="On or near Caf\u00e9 Street")], encoding="cp1252")
    res = ingest.ingest_paths(con, [f1, f2], progress=False)
    assert [r.status for r in res] == ["loaded", "loaded"]
    assert con.execute("SELECT count(*) FROM street WHERE location = 'On or near Caf\u00e9 Street'").fetchone()[0] == 1
    for r, f in zip(res, (f1, f2)):
        accounted(con, r, f.read_bytes())


# ----------------------------------------------------------------------------- invalid values
def test_coordinates_out_of_range_or_not_finite_are_rejected_with_reasons(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [
        HEADER, row(1), row(2, lat="999"), row(3, lon="NaN"), row(4, lon="inf"), row(5, lat="-90.5"),
        row(6, lon="abc"), row(7, lon="", lat="", lsoa=""), row(8, lat=" 53.4 ")])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.rows_no_location) == (8, 3, 5, 1)
    got = dict(rejects(con, f))
    assert "latitude '999' out of range" in got[3] and "longitude 'NaN' out of range" in got[4]
    assert "out of range" in got[5] and "latitude '-90.5' out of range" in got[6]
    assert "unparseable longitude 'abc'" in got[7]
    assert con.execute("SELECT count(*) FROM street WHERE isnan(latitude) OR abs(latitude) > 90 "
                       "OR isnan(longitude) OR abs(longitude) > 180").fetchone()[0] == 0
    accounted(con, r, f.read_bytes())


def test_street_row_of_another_month_is_rejected(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1), row(2, month="2019-01"), row(3)])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_loaded, r.rows_rejected) == (2, 1)
    assert rejects(con, f) == [(3, "month 2019-01 differs from the file's month 2024-10")]
    accounted(con, r, f.read_bytes())


def test_stop_search_dated_in_another_month_is_rejected(con, tmp_path):
    f = write(tmp_path / "2024-10-test-stop-and-search.csv", [
        SS_HEADER, ss_row(), ss_row(date="2019-01-05T10:00:00+00:00"),
        ss_row(date="2024-09-30T23:30:00+00:00"),  # 00:30 BST on 1 October: the October file
        ss_row(lat="91")])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    got = dict(rejects(con, f))
    assert "2019-01-05" in got[3] and "outside the file's month 2024-10" in got[3]
    assert "latitude '91' out of range" in got[5]
    accounted(con, r, f.read_bytes())


def test_file_with_every_row_rejected_records_them_and_keeps_the_older_copy(con, tmp_path):
    good = write(tmp_path / "a" / "2024-10-test-street.csv", [HEADER, row(1), row(2)])
    ingest.ingest_paths(con, [good], progress=False)
    time.sleep(0.01)
    bad = write(tmp_path / "b" / "2024-10-test-street.csv", [HEADER, row(1, month="2019-01"), "x,y", row(3, ctype="")])
    [r] = ingest.ingest_paths(con, [bad], progress=False)
    assert r.status == "failed" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 0, 3)
    assert str(bad) in r.message and "line 2" in r.message and "every row was rejected" in r.message
    assert [x[0] for x in rejects(con, bad)] == [2, 3, 4]
    assert con.execute("SELECT count(*) FROM street").fetchone()[0] == 2  # the good copy stays
    accounted(con, r, bad.read_bytes())


def test_header_only_file_fails_naming_the_file(con, tmp_path):
    f = write(tmp_path / "2024-10-test-street.csv", [HEADER])
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "failed" and "no data rows" in r.message and str(f) in r.message
    accounted(con, r, f.read_bytes())


# ----------------------------------------------------------------------------- files and paths
def test_misnamed_and_unknown_files_in_a_folder_are_named_and_logged(con, tmp_path):
    d = tmp_path / "dl"
    ok = write(d / "2024-10" / "2024-10-test-street.csv", [HEADER, row(1)])
    write(d / "2024-10" / "crimes-october.csv", [HEADER, row(2)])
    (d / "2024-10" / "summary.xlsx").write_bytes(b"PK\x03\x04 not really")
    res = ingest.ingest_paths(con, [d], progress=False)
    by = {Path(r.source).name: r for r in res}
    assert by[ok.name].status == "loaded"
    assert by["crimes-october.csv"].status == "ignored" and "file name" in by["crimes-october.csv"].message
    assert by["summary.xlsx"].status == "ignored" and ".csv" in by["summary.xlsx"].message
    text = ingest.summarise(res)
    assert "crimes-october.csv" in text and "summary.xlsx" in text
    logged = {n for (n,) in con.execute("SELECT file_name FROM ingest_log WHERE status = 'ignored'").fetchall()}
    assert logged == {"crimes-october.csv", "summary.xlsx"}
    accounted(con, by[ok.name], ok.read_bytes())


def test_nested_zip_is_named_not_silently_skipped(con, tmp_path):
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("2024-11/2024-11-test-street.csv", "\n".join([HEADER, row(1, month="2024-11")]) + "\n")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("2024-10/2024-10-test-street.csv", "\n".join([HEADER, row(1)]) + "\n")
        zf.write(inner, "more/inner.zip")
    res = ingest.ingest_paths(con, [outer], progress=False)
    assert [r.status for r in res] == ["loaded", "ignored"]
    assert "inner.zip" in res[1].source and "zip archive inside a zip" in res[1].message
    assert "inner.zip" in ingest.summarise(res)
    accounted(con, res[0])


def test_empty_folder_and_missing_path_fail_but_the_good_path_loads(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = write(tmp_path / "good" / "2024-10-test-street.csv", [HEADER, row(1), row(2)])
    missing = tmp_path / "nope"
    db = tmp_path / "c.duckdb"
    rc = cli.main(["ingest", "--quiet", str(empty), str(missing), str(good.parent), "--store", str(db)])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"{empty}: the folder is empty" in out and f"{missing}: no such file or folder" in out
    c = store.connect(db)
    assert c.execute("SELECT count(*) FROM street").fetchone()[0] == 2
    assert c.execute("SELECT count(*) FROM ingest_log WHERE status = 'failed'").fetchone()[0] == 2
    c.close()


def test_folder_without_data_files_is_an_error(con, tmp_path):
    d = tmp_path / "notes"
    write(d / "README.txt", ["hello"])
    res = ingest.ingest_paths(con, [d], progress=False)
    assert [r.status for r in res] == ["ignored", "failed"]
    assert "no data.police.uk street or stop-and-search files" in res[1].message


def test_same_force_month_twice_in_one_run_in_order(con, tmp_path):
    a = write(tmp_path / "a" / "2024-10-test-street.csv", [HEADER, row(1)])
    z = tmp_path / "copy.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(a, "2024-10/2024-10-test-street.csv")
    res = ingest.ingest_paths(con, [a, z], progress=False)
    assert [r.status for r in res] == ["loaded", "unchanged"]
    assert con.execute("SELECT count(*) FROM street").fetchone()[0] == 1


# ----------------------------------------------------------------------------- interruptions
def test_ctrl_c_gives_one_line_and_no_traceback(tmp_path, capsys, monkeypatch):
    good = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1)])

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest, "ingest_paths", interrupted)
    rc = cli.main(["ingest", str(good), "--store", str(tmp_path / "c.duckdb")])
    err = capsys.readouterr().err
    assert rc == 130 and err.count("\n") == 1 and "interrupted" in err and "Traceback" not in err


def test_held_lock_gives_one_line_and_no_traceback(tmp_path, capsys):
    db = tmp_path / "locked.duckdb"
    store.connect(db).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(db)!r})
        print("ready", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        good = write(tmp_path / "2024-10-test-street.csv", [HEADER, row(1)])
        rc = cli.main(["ingest", str(good), "--store", str(db)])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert rc == 3 and err.count("\n") == 1 and "cannot open the store" in err and "Traceback" not in err


@pytest.mark.realdata
def test_real_8991_row_file_with_one_stray_quote_loses_one_record(shared_data, con, tmp_path):
    """The file of issue 11: a real force-month with one unbalanced quote used to fail
    whole with 'field larger than field limit (131072)' and no line."""
    src = shared_data / "police_uk" / "street" / "2022-01" / "2022-01-derbyshire-street.csv.gz"
    lines = gzip.decompress(src.read_bytes()).decode("utf-8").splitlines()
    assert len(lines) == 8992
    parts = lines[4000].split(",")
    parts[6] = '"' + parts[6]  # the Location of file line 4001 opens a quote it never closes
    lines[4000] = ",".join(parts)
    f = write(tmp_path / "2022-01-derbyshire-street.csv.gz", lines, gz=True)
    [r] = ingest.ingest_paths(con, [f], progress=False)
    assert r.status == "loaded" and (r.rows_read, r.rows_loaded, r.rows_rejected) == (8991, 8990, 1)
    assert [x[0] for x in rejects(con, f)] == [4001]
    accounted(con, r, gzip.decompress(f.read_bytes()))
