"""csp init-params: params files from the ONS LAD17 -> CSP17 -> PFA17 lookups."""
from __future__ import annotations

import pytest
import yaml

from csp_analysis import cli, init_params, params

LAD17 = """\ufeffLAD17CD,LAD17NM,CSP17CD,CSP17NM,PFA17CD,PFA17NM,FID
E08000016,Barnsley,E22000259,Barnsley,E23000011,South Yorkshire,1
E07000004,Aylesbury Vale,E22000303,Aylesbury Vale,E23000029,Thames Valley,2
E07000005,Chiltern,E22000306,Chiltern,E23000029,Thames Valley,3
E07000026,Allerdale,E22000031,Allerdale,E23000002,Cumbria,4
E07000028,Carlisle,E22000033,Carlisle,E23000002,Cumbria,5
E07000187,Mendip,E22000369,Somerset,E23000036,Avon and Somerset,6
E07000190,Taunton Deane,E22000369,Somerset,E23000036,Avon and Somerset,7
E06000023,"Bristol, City of",E22000002,"Bristol, City of",E23000036,Avon and Somerset,8
E09000001,City of London,E22000133,City of London,E23000034,"London, City of",9
"""
LSOA21 = """lsoa21cd,lsoa21nm,lad21cd,lad21nm,lad23cd,lad23nm
E01000001,Barnsley 001A,E08000016,Barnsley,E08000016,Barnsley
E01000002,Buckinghamshire 001A,E06000060,Buckinghamshire,E06000060,Buckinghamshire
E01000003,Allerdale 001A,E07000026,Allerdale,E06000063,Cumberland
E01000004,Carlisle 001A,E07000028,Carlisle,E06000063,Cumberland
E01000005,Mendip 001A,E07000187,Mendip,E06000066,Somerset
E01000006,Somerset West and Taunton 001A,E07000246,Somerset West and Taunton,E06000066,Somerset
E01000007,"Bristol, City of 001A",E06000023,"Bristol, City of",E06000023,"Bristol, City of"
E01000008,City of London 001A,E09000001,City of London,E09000001,City of London
"""
LSOA11 = """lsoa11cd,lsoa11nm,lad19cd,lad19nm,lad21cd,lad21nm
E01000002,Aylesbury Vale 001A,E07000004,Aylesbury Vale,E06000060,Buckinghamshire
E01000009,Chiltern 001A,E07000005,Chiltern,E06000060,Buckinghamshire
"""


@pytest.fixture()
def geo(tmp_path):
    d = tmp_path / "geography"
    d.mkdir()
    (d / "LAD17_CSP17_PFA17_lookup.csv").write_text(LAD17, encoding="utf-8")
    (d / "lsoa21.csv").write_text(LSOA21, encoding="utf-8")
    (d / "lsoa11.csv").write_text(LSOA11, encoding="utf-8")
    (d / "README.txt").write_text("not a lookup")
    return d


def test_reorganisations_map_to_lad21_codes(geo):
    plans = {p.slug: p for p in init_params.plan_partnerships(geo)}
    assert set(plans) == {"barnsley", "buckinghamshire", "cumberland", "somerset", "bristol-city-of",
                          "city-of-london"}
    b = plans["buckinghamshire"]  # 2020: two 2017 CSPs -> one unitary
    assert b.lad_codes == ["E06000060"] and b.status == "merged" and b.forces == ["thames-valley"]
    assert set(b.csp17_codes) == {"E22000303", "E22000306"}
    c = plans["cumberland"]  # 2023: the police files' LSOAs still resolve to the LAD21 districts
    assert c.lad_codes == ["E07000026", "E07000028"] and c.status == "merged" and c.code == "E06000063"
    s = plans["somerset"]  # 2019 code change (statutory table) + 2023 unitary, one CSP throughout
    assert s.lad_codes == ["E07000187", "E07000246"] and s.status == "codes updated"
    assert any("E07000190 Taunton Deane" in ch for ch in s.changes)
    assert any("E06000066 Somerset since April 2023" in ch for ch in s.changes)
    assert plans["barnsley"].status == "unchanged" and plans["barnsley"].changes == []
    assert plans["city-of-london"].forces == ["city-of-london"]


def test_force_slugs():
    assert init_params.force_slug("South Yorkshire") == "south-yorkshire"
    assert init_params.force_slug("Devon & Cornwall") == "devon-and-cornwall"
    assert init_params.force_slug("Metropolitan Police") == "metropolitan"
    assert init_params.force_slug("London, City of") == "city-of-london"


def test_select_by_name_code_and_errors(geo):
    plans = init_params.plan_partnerships(geo)
    got = init_params.select(plans, ["Barnsley", "E22000303", "E07000190", "carlisle", "bristol"])
    assert [p.slug for p in got] == ["barnsley", "buckinghamshire", "somerset", "cumberland", "bristol-city-of"]
    with pytest.raises(init_params.InitParamsError, match="no partnership"):
        init_params.select(plans, ["Atlantis"])


def test_cli_writes_valid_params_and_never_overwrites(geo, tmp_path, capsys):
    out = tmp_path / "params"
    rc = cli.main(["init-params", "--all", "--geography", str(geo), "--out", str(out), "--end", "2025-12"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "6 written" in text and "cumberland (merged)" in text and "somerset (codes updated)" in text
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 6 and not (out / ".init-params.tmp").exists()
    for f in files:
        p = params.load_params(f)
        assert p.group == "national" and p.window.start.isoformat() == "2023-01-01"
        assert p.window.end.isoformat() == "2025-12-01"
    # editable: a user's edit survives a second run; --force overwrites
    f = out / "barnsley.yaml"
    f.write_text(f.read_text().replace("small_number_threshold: 5", "small_number_threshold: 10"))
    assert cli.main(["init-params", "barnsley", "--geography", str(geo), "--out", str(out)]) == 0
    assert "1 kept" in capsys.readouterr().out
    assert params.load_params(f).small_number_threshold == 10
    assert cli.main(["init-params", "barnsley", "--geography", str(geo), "--out", str(out), "--force",
                     "--end", "2024-06", "--months", "12", "--group", "mine"]) == 0
    p = params.load_params(f)
    assert p.small_number_threshold == 5 and p.group == "mine" and p.window.start.isoformat() == "2023-07-01"
    assert cli.main(["init-params", "nowhere", "--geography", str(geo), "--out", str(out)]) == 2
    assert cli.main(["init-params", "--all", "--geography", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_yaml_comments_name_the_changes(geo, tmp_path):
    plans = init_params.select(init_params.plan_partnerships(geo), ["cumberland"])
    init_params.write_params(plans, tmp_path, end="2025-12")
    text = (tmp_path / "cumberland.yaml").read_text()
    assert text.startswith("# Cumberland: generated by `csp init-params` (merged).")
    assert "Allerdale (E22000031), Carlisle (E22000033)" in text
    assert yaml.safe_load(text)["lad_codes"] == ["E07000026", "E07000028"]


def test_real_ons_lookup_gives_every_partnership(shared_data, tmp_path):
    plans = init_params.plan_partnerships(shared_data / "geography")
    by = {p.slug: p for p in plans}
    # 314 CSPs in 2017; 13 fewer after the mergers (Bucks -3, N Northants -3, W Northants -1,
    # BCP -1, East Suffolk -1, Cumbria 6 -> 2)
    assert len(plans) == 301
    assert len({f for p in plans for f in p.forces}) == 43
    assert by["barnsley"].lad_codes == ["E08000016"] and by["barnsley"].forces == ["south-yorkshire"]
    assert by["bournemouth-christchurch-and-poole"].lad_codes == ["E06000058"]
    assert by["dorset"].lad_codes == ["E06000059"] and by["dorset"].status == "codes updated"
    assert len(by["north-yorkshire"].lad_codes) == 7
    assert by["westmorland-and-furness"].status == "merged"
    # every LAD 2021 code of the LSOA lookup belongs to exactly one partnership
    import pandas as pd

    lad21 = set(pd.read_csv(shared_data / "geography" / "lsoa21_to_lad21_lad23_ew_derived.csv.gz",
                            usecols=["lad21cd"])["lad21cd"])
    codes = [c for p in plans for c in p.lad_codes]
    assert len(codes) == len(set(codes)) and set(codes) == lad21
    init_params.write_params(plans, tmp_path, end="2025-12")
    assert len(list(tmp_path.glob("*.yaml"))) == 301
