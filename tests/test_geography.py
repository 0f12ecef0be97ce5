"""Tests for csp_analysis.geography (the county of a partnership's districts) on a tiny store
built from small ONS-format lookup files, with hand-counted populations.

Districts: E07000001 Ashby and E07000002 Bexley in county E10000001 Shire; E06000001 Unity, a
unitary authority (not in the county lookup). Census 2021 residents by LSOA: Ashby 100 + 50,
Bexley 200, Unity 70.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from csp_analysis import geography, lookups, store

A, B, U, CTY = "E07000001", "E07000002", "E06000001", "E10000001"


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def con(tmp_path):
    c = store.connect(tmp_path / "geo.duckdb")
    g = tmp_path / "lookups"
    write(g / "lsoa21.csv", ["lsoa21cd,lsoa21nm,lad21cd,lad21nm",
                             f"E01000001,Ashby 001A,{A},Ashby", f"E01000002,Ashby 001B,{A},Ashby",
                             f"E01000003,Bexley 001A,{B},Bexley", f"E01000004,Unity 001A,{U},Unity"])
    write(g / "census.csv", ["lsoa21_code,lsoa21_name,age_group,usual_residents",
                             "E01000001,Ashby 001A,Aged 15 years and under,100",
                             "E01000002,Ashby 001B,Aged 15 years and under,50",
                             "E01000003,Bexley 001A,Aged 15 years and under,200",
                             "E01000004,Unity 001A,Aged 15 years and under,70"])
    for f in sorted(g.iterdir()):
        lookups.load_lookup(c, f)
    yield c, tmp_path
    c.close()


def _add_county(c, tmp_path):
    f = write(tmp_path / "county" / "LAD23_CTY23_EN_LU.csv",
              ["LAD23CD,LAD23NM,CTY23CD,CTY23NM,ObjectId", f"{A},Ashby,{CTY},Shire,1", f"{B},Bexley,{CTY},Shire,2"])
    lookups.load_lookup(c, f)


def test_without_a_county_lookup_the_note_names_the_file_to_add(con):
    c, _ = con
    assert not geography.has_county_lookup(c)
    assert geography.county_of(c, [A]) is None
    note = geography.county_note(c, [A])
    assert note.startswith("The county level is not shown") and "LAD23_CTY23_EN_LU.csv" in note


def test_county_of_a_district_with_population_summed_over_its_districts(con):
    c, tmp_path = con
    _add_county(c, tmp_path)
    assert geography.has_county_lookup(c)
    got = geography.county_of(c, [A])
    assert got["county_code"] == CTY and got["county_name"] == "Shire"
    assert got["lad_codes"] == [A, B] and got["partnership_lads"] == [A]
    assert got["population"] == 350.0  # 100 + 50 + 200 (no county mid-year estimate loaded)
    assert got["source"].endswith("LAD23_CTY23_EN_LU.csv")
    assert "Shire (E10000001), 2 districts" in geography.county_note(c, [A])


def test_unitary_or_mixed_partnerships_have_no_county_row(con):
    c, tmp_path = con
    _add_county(c, tmp_path)
    assert geography.county_of(c, [U]) is None
    assert "not part of a two-tier county" in geography.county_note(c, [U], "Unity CSP")
    # a partnership of a county district and a unitary: one county among its districts
    both = geography.county_of(c, [A, U])
    assert both["partnership_lads"] == [A]
    assert "1 of its 2 districts" in geography.county_note(c, [A, U])
    assert geography.county_of(c, []) is None
