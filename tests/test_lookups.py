"""Lookups: the ONS LAD -> county lookup (county level of the force / county / CSP / district comparison)."""
from __future__ import annotations

from pathlib import Path

import pytest

from csp_analysis import geography, ingest, lookups, store

FIXTURE = Path(__file__).parent / "fixtures" / "lookups" / "LAD23_CTY23_EN_LU.csv"

LSOA21 = """lsoa21cd,lsoa21nm,lad21cd,lad21nm,lad23cd,lad23nm
E01000001,Bassetlaw 001A,E07000171,Bassetlaw,E07000171,Bassetlaw
E01000002,Newark and Sherwood 001A,E07000175,Newark and Sherwood,E07000175,Newark and Sherwood
E01000003,Barnsley 001A,E08000016,Barnsley,E08000016,Barnsley
E01000004,Allerdale 001A,E07000026,Allerdale,E06000063,Cumberland
E01000005,Bolsover 001A,E07000033,Bolsover,E07000033,Bolsover
"""
MYE = """Code,Name,Geography,Population
E10000024,Nottinghamshire,County,833000
"""


@pytest.fixture()
def con(tmp_path):
    c = store.connect(tmp_path / "s.duckdb")
    (tmp_path / "lsoa21.csv").write_text(LSOA21)
    lookups.load_lookup(c, tmp_path / "lsoa21.csv")
    yield c
    c.close()


def test_header_is_recognised_in_the_ons_format():
    assert lookups.detect_kind(["LAD23CD", "LAD23NM", "CTY23CD", "CTY23NM", "ObjectId"]) == "lad_county"
    assert lookups.detect_kind(["LAD21CD", "LAD21NM", "CTY21CD", "CTY21NM", "FID"]) == "lad_county"
    # the LAD -> CSP -> PFA lookup is not mistaken for it
    assert lookups.detect_kind(["LAD17CD", "LAD17NM", "CSP17CD", "CSP17NM", "PFA17CD", "PFA17NM"]) == "lad_lookup"


def test_absent_lookup_names_the_file(con):
    assert not geography.has_county_lookup(con)
    assert geography.county_of(con, ["E07000171"]) is None
    note = geography.county_note(con, ["E07000171"])
    assert "LAD23CD, LAD23NM, CTY23CD, CTY23NM" in note and "csp ingest-lookup" in note


def test_county_of_a_partnership(con, tmp_path):
    r = lookups.load_lookup(con, FIXTURE)
    assert r["table"] == "lad_county" and r["rows"] == 15
    assert lookups.load_lookup(con, FIXTURE)["rows"] == 15  # idempotent (replaced by LAD code)
    assert con.execute("SELECT count(*) FROM lad_county").fetchone()[0] == 15
    c = geography.county_of(con, ["E07000171", "E07000175"])  # Bassetlaw + Newark and Sherwood
    assert c["county_code"] == "E10000024" and c["county_name"] == "Nottinghamshire"
    assert len(c["lad_codes"]) == 7 and set(c["partnership_lads"]) == {"E07000171", "E07000175"}
    assert c["vintage"] == 2023 and c["source"] == FIXTURE.name
    assert c["population"] is None  # no populations loaded
    (tmp_path / "mye.csv").write_text(MYE)
    lookups.load_lookup(con, tmp_path / "mye.csv")
    assert geography.county_of(con, ["E07000171"])["population"] == 833000
    assert "Nottinghamshire (E10000024), 7 districts" in geography.county_note(con, ["E07000171"])
    # a metropolitan district has no county; districts in two counties give none
    assert geography.county_of(con, ["E08000016"]) is None
    assert "not part of a two-tier county" in geography.county_note(con, ["E08000016"], "Barnsley")
    assert geography.county_of(con, ["E07000171", "E07000033"]) is None
    assert "more than one county (Derbyshire, Nottinghamshire)" in geography.county_note(con, ["E07000171", "E07000033"])


def test_older_vintage_matches_through_lad23(con, tmp_path):
    f = tmp_path / "LAD21_CTY21_EN_LU.csv"
    f.write_text("LAD21CD,LAD21NM,CTY21CD,CTY21NM,FID\nE07000026,Allerdale,E10000006,Cumbria,1\n")
    lookups.load_lookup(con, f)
    c = geography.county_of(con, ["E07000026"])
    assert c["county_name"] == "Cumbria" and c["lad_codes"] == ["E07000026"] and c["vintage"] == 2021


def test_bad_county_lookup_names_file_and_line(con, tmp_path):
    f = tmp_path / "cty.csv"
    f.write_text("LAD23CD,LAD23NM,CTY23CD,CTY23NM\nE07000171,Bassetlaw,,\n")
    with pytest.raises(ingest.IngestError, match=r"cty.csv, line 2, column 'CTY23CD'"):
        lookups.load_lookup(con, f)
    f.write_text("LAD23CD,LAD23NM,CTY23CD,CTY23NM\nE07000171,A,E1,X\nE07000171,B,E1,X\n")
    with pytest.raises(ingest.IngestError, match="lines 2, 3"):
        lookups.load_lookup(con, f)


def test_county_read_only_store_without_table(tmp_path):
    p = tmp_path / "ro.duckdb"
    store.connect(p).close()
    c = store.connect(p, read_only=True)
    try:
        assert not geography.has_county_lookup(c)
        assert "no district-to-county lookup" in geography.county_note(c, ["E07000171"])
    finally:
        c.close()


def test_real_lsoa_lookup_with_county_fixture(shared_data, tmp_path):
    c = store.connect(tmp_path / "real.duckdb")
    try:
        lookups.load_lookup(c, shared_data / "geography" / "lsoa21_to_lad21_lad23_ew_derived.csv.gz")
        lookups.load_lookup(c, FIXTURE)
        got = geography.county_of(c, ["E07000171", "E07000175"])
        assert got["county_name"] == "Nottinghamshire" and len(got["lad_codes"]) == 7
        assert geography.county_of(c, ["E07000033"])["county_name"] == "Derbyshire"
        assert geography.county_of(c, ["E08000016"]) is None
    finally:
        c.close()
