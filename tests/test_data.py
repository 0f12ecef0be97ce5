"""Tests for csp_analysis.data against hand-counted numbers on a tiny store.

The store is built the way a user builds one: small lookup and population files are
loaded with :func:`lookups.load_lookup` and small data.police.uk street files with
:func:`ingest.ingest_paths`.

Geography: LAD Alpha (E08000001) has LSOAs E01000001 'Alpha 001A' and E01000002 'Alpha
001B'; LAD Beta (E08000002) has E01000009 'Beta 001A'. Records (force ``forcea`` unless
said otherwise):

=========  ====================================================================
2024-01    Alpha 001A: 3 Burglary; Alpha 001B: 1 Drugs; Beta 001A: 2 Burglary;
           1 Burglary without a location (7 rows); ``forceb``: 1 Robbery in Alpha 001A
2024-02    Alpha 001A: 2 Burglary
2024-03    no file (a gap, never a zero)
2024-04    Alpha 001B: 2 Drugs
=========  ====================================================================
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from csp_analysis import data, ingest, lookups, store

HEADER = ",".join(ingest.STREET_HEADER)
ALPHA, BETA = "E08000001", "E08000002"
LSOA = {"E01000001": "Alpha 001A", "E01000002": "Alpha 001B", "E01000009": "Beta 001A", "": ""}


def row(month, lsoa, ctype, lon="-1.52", lat="53.52", cid="x", force="Force A"):
    if not lsoa:
        lon = lat = ""
    return f"{cid},{month},{force},{force},{lon},{lat},On or near Main Street,{lsoa},{LSOA[lsoa]},{ctype},,"


def write(path: Path, lines: list[str], mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def jan_rows():
    return [row("2024-01", "E01000001", "Burglary", "-1.50", "53.50"),
            row("2024-01", "E01000001", "Burglary", "-1.52", "53.52"),
            row("2024-01", "E01000001", "Burglary", "-1.54", "53.54"),
            row("2024-01", "E01000002", "Drugs", "-1.40", "53.40"),
            row("2024-01", "E01000009", "Burglary", "-1.10", "53.10"),
            row("2024-01", "E01000009", "Burglary", "-1.10", "53.10"),
            row("2024-01", "", "Burglary")]


@pytest.fixture()
def tiny(tmp_path):
    con = store.connect(tmp_path / "tiny.duckdb")
    g = tmp_path / "lookups"
    write(g / "lad.csv", ["LAD17CD,LAD17NM,CSP17CD,CSP17NM,PFA17CD,PFA17NM,FID",
                          f"{ALPHA},Alpha,E22000001,Alpha CSP,E23000001,Force A,1",
                          f"{BETA},Beta,E22000002,Beta CSP,E23000001,Force A,2"])
    write(g / "lsoa21.csv", ["lsoa21cd,lsoa21nm,lad21cd,lad21nm",
                             f"E01000001,Alpha 001A,{ALPHA},Alpha", f"E01000002,Alpha 001B,{ALPHA},Alpha",
                             f"E01000009,Beta 001A,{BETA},Beta"])
    write(g / "census.csv", ["lsoa21_code,lsoa21_name,age_group,usual_residents",
                             "E01000001,Alpha 001A,Aged 15 years and under,100",
                             "E01000001,Alpha 001A,Aged 16 to 24 years,50",
                             "E01000002,Alpha 001B,Aged 15 years and under,70",
                             "E01000009,Beta 001A,Aged 15 years and under,120",
                             "E01000009,Beta 001A,Aged 16 to 24 years,80"])
    write(g / "centroids.csv", ["lsoa21cd,longitude,latitude", "E01000002,-1.0,53.0"])
    for f in sorted(g.iterdir()):
        lookups.load_lookup(con, f)
    p = tmp_path / "police"
    write(p / "2024-01" / "2024-01-forcea-street.csv", [HEADER, *jan_rows()], mtime=1_700_000_000)
    write(p / "2024-01" / "2024-01-forceb-street.csv",
          [HEADER, row("2024-01", "E01000001", "Robbery", force="Force B")])
    write(p / "2024-02" / "2024-02-forcea-street.csv",
          [HEADER, row("2024-02", "E01000001", "Burglary"), row("2024-02", "E01000001", "Burglary")])
    write(p / "2024-04" / "2024-04-forcea-street.csv",
          [HEADER, row("2024-04", "E01000002", "Drugs"), row("2024-04", "E01000002", "Drugs")])
    res = ingest.ingest_paths(con, [p], progress=False)
    assert [r.status for r in res] == ["loaded"] * 4
    yield con, tmp_path
    con.close()


M = {m: pd.Timestamp(f"2024-{m:02d}-01") for m in range(1, 5)}


def test_covered_months(tiny):
    con, _ = tiny
    assert data.covered_months(con, forces=["forcea"]) == [M[1], M[2], M[4]]
    assert data.covered_months(con, forces=["forcea"], start="2024-02", end="2024-12") == [M[2], M[4]]
    # both forces' files are needed where both place records in the LAD
    assert data.forces_for(con, [ALPHA]) == ["forcea", "forceb"]
    assert data.covered_months(con, lad_codes=[ALPHA]) == [M[1]]
    assert data.covered_months(con, lad_codes=[BETA]) == [M[1], M[2], M[4]]
    assert data.missing_months(data.covered_months(con, forces=["forcea"]), "2024-01", "2024-04") == [M[3]]


def test_monthly_counts_zero_filled_within_covered_months_only(tiny):
    con, _ = tiny
    got = data.monthly_counts(con, [ALPHA], forces=["forcea"])
    want = pd.DataFrame({
        "month": [M[1]] * 3 + [M[2]] * 3 + [M[4]] * 3,
        "crime_type": ["Burglary", "Drugs", "Robbery"] * 3,
        # forceb's robbery in Alpha counts in January; zeros are filled; March (no file) is absent
        "n": [3, 1, 1, 2, 0, 0, 0, 2, 0],
    })
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["n"].dtype.kind == "i"
    totals = data.monthly_counts(con, [ALPHA], by=(), forces=["forcea"])
    assert totals.to_dict("list") == {"month": [M[1], M[2], M[4]], "n": [5, 2, 2]}
    # by default the forces are the ones found in the records: only January has both
    assert data.monthly_counts(con, [ALPHA], by=()).to_dict("list") == {"month": [M[1]], "n": [5]}
    beta = data.monthly_counts(con, [BETA], by=())
    assert beta.to_dict("list") == {"month": [M[1], M[2], M[4]], "n": [2, 0, 0]}
    lsoa = data.monthly_counts(con, lsoa_codes=["E01000002"], by=(), forces=["forcea"])
    assert lsoa["n"].tolist() == [1, 0, 2]
    window = data.monthly_counts(con, [ALPHA], start="2024-02", end="2024-03", by=(), forces=["forcea"])
    assert window.to_dict("list") == {"month": [M[2]], "n": [2]}


def test_population_mid_year_estimate_else_census(tiny):
    con, tmp_path = tiny
    # no mid-year estimates: Census 2021 residents summed over the LAD's LSOAs
    assert data.population(con, [ALPHA]) == 220
    assert data.population(con, [ALPHA, BETA]) == 420
    assert data.population(con, [ALPHA, "E08000099"]) is None  # one area unknown
    assert data.population(con, []) is None
    write(tmp_path / "mye_mid2021.csv", ["Code,Name,Geography,Population", f"{ALPHA},Alpha,LAD,1000"])
    lookups.load_lookup(con, tmp_path / "mye_mid2021.csv")
    assert data.population(con, [ALPHA]) == 1000
    assert data.population(con, [ALPHA, BETA]) == 1200  # Beta still from the census


def test_population_newer_estimates_file_supersedes_older(tiny):
    con, tmp_path = tiny
    mye = "Code,Name,Geography,Population"
    write(tmp_path / "mye_mid2021.csv", [mye, f"{ALPHA},Alpha,LAD,1000", f"{BETA},Beta,LAD,500"])
    write(tmp_path / "mye_mid2022.csv", [mye, f"{ALPHA},Alpha,LAD,\"1,100\"", f"{BETA},Beta,LAD,510"])
    for f in ("mye_mid2021.csv", "mye_mid2022.csv"):
        lookups.load_lookup(con, tmp_path / f)
    assert data.population(con, [ALPHA]) == 1100
    assert data.population(con, [ALPHA, BETA]) == 1610
    assert con.execute("SELECT count(*) FROM population_area").fetchall()[0][0] == 2
    # reloading the same file is idempotent
    lookups.load_lookup(con, tmp_path / "mye_mid2022.csv")
    assert con.execute("SELECT count(*), sum(population) FROM population_area").fetchall() == [(2, 1610)]


def test_no_location_counts(tiny):
    con, _ = tiny
    got = data.no_location_counts(con, ["forcea"])
    assert got[["force", "month", "rows_no_location", "rows_read"]].values.tolist() == [
        ["forcea", M[1], 1, 7], ["forcea", M[2], 0, 2], ["forcea", M[4], 0, 2]]
    assert got["share"].tolist() == pytest.approx([1 / 7, 0, 0])
    both = data.no_location_counts(con, ["forcea", "forceb"])
    assert len(both) == 4 and both.loc[both["force"] == "forceb", "share"].tolist() == [0]


def test_no_location_share_uses_the_copy_in_the_store(tiny):
    con, tmp_path = tiny
    # a newer copy of January replaces the old one at the same path, with different counts
    jan = tmp_path / "police" / "2024-01" / "2024-01-forcea-street.csv"
    write(jan, [HEADER, *jan_rows()[:3], row("2024-01", "", "Burglary"), row("2024-01", "", "Drugs")],
          mtime=1_800_000_000)
    [r] = ingest.ingest_paths(con, [jan], progress=False)
    assert r.status == "replaced"
    assert con.execute("SELECT count(*) FROM ingest_log WHERE source_file = ? AND status IN ('loaded','replaced')",
                       [str(jan)]).fetchall()[0][0] == 2  # both copies are in the log
    got = data.no_location_counts(con, ["forcea"])
    jan_row = got[got["month"] == M[1]]
    assert len(jan_row) == 1
    assert jan_row[["rows_no_location", "rows_read"]].values.tolist() == [[2, 5]]
    assert jan_row["share"].item() == pytest.approx(0.4)
    # and again with a newer copy somewhere else
    other = write(tmp_path / "later" / "2024-01-forcea-street.csv", [HEADER, *jan_rows()[:4]], mtime=1_900_000_000)
    [r] = ingest.ingest_paths(con, [other], progress=False)
    assert r.status == "replaced"
    jan_row = data.no_location_counts(con, ["forcea"]).query("month == @M[1]")
    assert jan_row[["rows_no_location", "rows_read"]].values.tolist() == [[0, 4]]


def test_lsoa_centroids_lookup_first_else_mean_of_records(tiny):
    con, _ = tiny
    got = data.lsoa_centroids(con, [ALPHA])
    # Alpha 001A: Jan (-1.50, -1.52, -1.54), Feb 2 x -1.52 and forceb's robbery at -1.52 -> mean -1.52
    assert got["lsoa_code"].tolist() == ["E01000001", "E01000002"]
    assert got["source"].tolist() == ["records", "lookup"]
    assert got["longitude"].tolist() == pytest.approx([-1.52, -1.0])
    assert got["latitude"].tolist() == pytest.approx([53.52, 53.0])
    everything = data.lsoa_centroids(con)
    assert everything["lsoa_code"].tolist() == ["E01000001", "E01000002", "E01000009"]
    assert everything["source"].tolist() == ["records", "lookup", "records"]
    assert everything["longitude"].tolist() == pytest.approx([-1.52, -1.0, -1.10])
    assert data.lsoa_centroids(con, [BETA])[["lsoa_code", "source"]].values.tolist() == [["E01000009", "records"]]


def test_query_cache_off_by_default_same_answers_and_copies(tiny, tmp_path):
    con, _ = tiny
    assert data._CACHE_ON == [False]
    plain = data.monthly_counts(con, [ALPHA], forces=["forcea"])
    assert data._CACHE == {}
    try:
        data.enable_cache(True)
        first = data.monthly_counts(con, [ALPHA], forces=["forcea"])
        n = len(data._CACHE)  # monthly_counts and the covered_months it asks for
        assert n == 2
        first.loc[0, "n"] = 999  # the caller's copy; the cache keeps its own
        again = data.monthly_counts(con, [ALPHA], forces=["forcea"])
        pd.testing.assert_frame_equal(again, plain)
        assert len(data._CACHE) == n
        # other arguments, other entries (lists of any length are part of the key, never truncated)
        assert data.monthly_counts(con, [BETA], forces=["forcea"])["n"].sum() == 2
        months = data.covered_months(con, forces=["forcea"])
        months.append("x")
        assert data.covered_months(con, forces=["forcea"]) == [M[1], M[2], M[4]]
        # another store is another key
        other = store.connect(tmp_path / "empty.duckdb")
        try:
            assert data.data_vintage(other) == {} and data.data_vintage(con) != {}
        finally:
            other.close()
        data.clear_cache()
        assert data._CACHE == {}
    finally:
        data.enable_cache(False)
        data.clear_cache()


# ---------------------------------------------------------------------------- the report sections' queries
J, F, A = M[1], M[2], M[4]


def _rows(df, cols):
    return sorted(map(tuple, df[cols].astype(object).values.tolist()))


def test_section_queries_hand_counted(tiny):
    con, _ = tiny
    # every type but ASB, per LSOA and month (forceb's robbery in Alpha 001A counts)
    got = data.lsoa_month_counts(con, [ALPHA], [])
    got["month"] = pd.to_datetime(got["month"])
    assert _rows(got, ["month", "lsoa_code", "n"]) == [(J, "E01000001", 4), (J, "E01000002", 1),
                                                        (F, "E01000001", 2), (A, "E01000002", 2)]
    drugs = data.lsoa_month_counts(con, [ALPHA], ["Drugs"], start="2024-02")
    assert drugs["n"].tolist() == [2]
    jan = data.lsoa_month_counts(con, [ALPHA, BETA], None, months=[pd.Period("2024-01", "M")])
    assert jan["n"].sum() == 7
    crimes = data.lsoa_crime_counts(con, [ALPHA], [J, F])
    assert crimes["crimes"].sum() == 7 and len(crimes) == 3
    ff = data.force_file_counts(con, ["forcea"], "2024-01", "2024-01")
    assert _rows(ff, ["crime_type", "n"]) == [("Burglary", 6), ("Drugs", 1)]  # with the row without a location
    pts = data.records_by_period(con, [ALPHA], [], latest=[F], previous=[J])
    assert pts["period"].value_counts().to_dict() == {"previous": 5, "latest": 2}
    loc = data.location_counts_by_period(con, [ALPHA], ["Burglary"], latest=[F], previous=[J])
    assert loc.groupby("period")["n"].sum().to_dict() == {"latest": 2, "previous": 3}
    assert len(data.street_file_months(con)) == 4 and len(data.street_file_months(con, [J])) == 2
    assert pd.to_datetime(data.national_street_months(con, 2)["month"]).tolist() == [J]
    assert _rows(data.force_pfa_counts(con, J), ["force", "n"]) == [("forcea", 6), ("forceb", 1)]
    assert data.lad_crime_counts(con, [J], ["E23000001"]).to_dict() == {ALPHA: 5, BETA: 2}
    assert data.unassigned_crimes(con, [J], ["forcea", "forceb"]) == 0
    assert data.pfa_names(con, ["E23000001"]) == ["Force A"] and data.pfa_names(con, []) == []
    assert sorted(data.lads_in_pfas(con, ["E23000001"])["lad_code"]) == [ALPHA, BETA]
    assert data.lad_populations(con).to_dict() == {ALPHA: 220, BETA: 200}
    assert sorted(data.lsoa_vintages(con, [ALPHA])["lsoa_code"]) == ["E01000001", "E01000002"]
    assert data.lads_of_lsoas(con, ["E01000009"]) == [BETA]
    out = data.outcome_counts(con, [ALPHA], ["E23000001"], [J], "Investigation complete; no suspect identified",
                              ["Awaiting court outcome"])
    assert _rows(out, ["crime_type", "mine", "n", "pending"]) == [
        ("Burglary", False, 2, 2), ("Burglary", True, 3, 3), ("Drugs", True, 1, 1), ("Robbery", True, 1, 1)]
    assert [r[0] for r in data.police_file_rows(con, ["forcea"])] == ["street"] * 3
    assert [(r[0], r[2]) for r in data.other_force_records(con, [ALPHA], ["forcea"])] == [("forceb", 1)]
    assert data.other_force_records(con, [ALPHA], []) == [] and data.stray_records(con, [ALPHA], []) == 0
    assert data.table_has_rows(con, "street") and not data.table_has_rows(con, "no_such_table")


def test_values_are_bound_never_spliced_into_sql(tiny):
    """Codes, names and crime types reach DuckDB as parameters: a quote is just a character."""
    con, _ = tiny
    evil = "x' OR '1'='1"
    assert data.lsoa_month_counts(con, [evil], None).empty
    assert data.lsoa_month_counts(con, [ALPHA], [evil]).empty
    assert data.monthly_counts(con, [evil], forces=["forcea"], by=())["n"].sum() == 0
    assert data.forces_for(con, [evil]) == [] and data.lsoas_by_name(con, [evil]) == []
    assert data.has_street_data(con, [ALPHA], forces=[evil]) is False
    assert data.stray_records(con, [ALPHA], [evil]) == 9  # every Alpha record (all months) is "another force's"
    with pytest.raises(ValueError):
        data.monthly_counts(con, [ALPHA], by=("crime_type; DROP TABLE street",))
    with pytest.raises(ValueError):
        data.table_has_rows(con, "street; DROP TABLE street")
    assert data.table_has_rows(con, "street")
