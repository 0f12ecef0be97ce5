"""Tests for the synthetic default data (csp_analysis.synthetic)."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csp_analysis import synthetic as syn

STREET_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
                 "LSOA name,Crime type,Last outcome category,Context")
SS_HEADER = ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
             "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
             "Outcome,Outcome linked to object of search,Removal of more than just outer clothing")
REAL_OUTCOMES = {
    "", "Unable to prosecute suspect", "Investigation complete; no suspect identified",
    "Status update unavailable", "Court result unavailable", "Under investigation", "Awaiting court outcome",
    "Local resolution", "Action to be taken by another organisation", "Further action is not in the public interest",
    "Offender given a caution", "Further investigation is not in the public interest",
    "Formal action is not in the public interest", "Offender given a drugs possession warning",
    "Offender given penalty notice", "Suspect charged as part of another case",
}
CCTV_TYPES = ["Robbery", "Theft from the person", "Criminal damage and arson", "Public order"]


def _sha_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = syn.generate_demo_data(out)
    return out, summary


@pytest.fixture(scope="module")
def street(demo) -> pd.DataFrame:
    out, _ = demo
    files = sorted((out / "police_uk" / "street").glob("*/*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False).assign(_file=f.name) for f in files],
                     ignore_index=True)


@pytest.fixture(scope="module")
def stops(demo) -> pd.DataFrame:
    out, _ = demo
    files = sorted((out / "police_uk" / "stop_and_search").glob("*/*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False).assign(_file=f.name) for f in files],
                     ignore_index=True)


@pytest.fixture(scope="module")
def planted(demo) -> dict:
    out, _ = demo
    return json.loads((out / "planted_effects.json").read_text())


def _csv(out: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(out / rel, dtype=str, keep_default_na=False)


# ----------------------------------------------------------------------------- determinism
def test_deterministic_byte_identical(demo, tmp_path):
    out, summary = demo
    again = syn.generate_demo_data(tmp_path / "again")
    a, b = _sha_tree(out), _sha_tree(tmp_path / "again")
    assert a.keys() == b.keys()
    assert a == b
    assert summary["rows"] == again["rows"]
    assert sorted(summary["files"]) == sorted(a)  # the summary lists exactly the files written


def test_summary_and_timing(demo):
    _, s = demo
    assert s["seed"] == syn.DEFAULT_SEED
    assert 330_000 <= s["rows"] <= 380_000
    assert len(s["street_rows_by_month"]) == 72
    assert 18_000 <= s["stop_search_rows"] <= 25_000
    assert s["seconds"] < 30
    assert json.dumps(s)  # JSON-serialisable


# ----------------------------------------------------------------------------- formats
def test_headers_literal(demo):
    out, _ = demo
    for f in (out / "police_uk" / "street").glob("*/*.csv"):
        assert f.read_bytes().split(b"\n", 1)[0].rstrip(b"\r").decode() == STREET_HEADER
    for f in (out / "police_uk" / "stop_and_search").glob("*/*.csv"):
        assert f.read_bytes().split(b"\n", 1)[0].rstrip(b"\r").decode() == SS_HEADER


def _first_line(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return fh.readline().rstrip("\r\n")


@pytest.mark.realdata
def test_headers_match_real_files(demo, shared_data):
    out, _ = demo
    pairs = {
        "police_uk/street/2025-12/2025-12-synthshire-street.csv":
            "police_uk/street/2025-12/2025-12-derbyshire-street.csv.gz",
        "police_uk/stop_and_search/2024-11/2024-11-synthshire-stop-and-search.csv":
            "police_uk/stop_and_search/2024-11/2024-11-derbyshire-stop-and-search.csv.gz",
        "geography/lad_csp_pfa_lookup.csv": "geography/LAD17_CSP17_PFA17_EW_lookup_Jan2017_v2.csv",
        "geography/lsoa21_lookup.csv": "geography/lsoa21_to_lad21_lad23_ew_derived.csv.gz",
        "geography/lsoa11_lookup.csv": "geography/lsoa11_to_lad19_lad21_england_from_iod2019.csv.gz",
        "population/census2021_lsoa21_usual_residents_by_age_group.csv":
            "population/census2021_lsoa21_usual_residents_by_age_group.csv.gz",
        "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv":
            "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv",
        "population/ons_mye_mid2022.csv": "population/ons_mye_mid2022_all_ages_uk_2023_geographies.csv",
        "deprivation/iod2019_lsoa11_ranks_deciles.csv": "deprivation/iod2019_england_lsoa11_ranks_deciles.csv.gz",
    }
    for mine, real in pairs.items():
        assert _first_line(out / mine) == _first_line(shared_data / real), mine
    real_ages = pd.read_csv(shared_data / "population/census2021_lsoa21_usual_residents_by_age_group.csv.gz",
                            usecols=["age_group"], nrows=600)["age_group"].unique()
    assert list(real_ages) == list(syn.AGE_GROUPS)


@pytest.mark.realdata
def test_vocabularies_within_real(street, stops, shared_data):
    real = pd.read_csv(shared_data / "police_uk/street/2025-12/2025-12-derbyshire-street.csv.gz",
                       dtype=str, keep_default_na=False)
    assert set(street["Crime type"]) == set(real["Crime type"])
    ss_real = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False)
                         for f in sorted((shared_data / "police_uk/stop_and_search").glob("*/*.csv.gz"))])
    for col in ("Type", "Gender", "Age range", "Officer-defined ethnicity", "Legislation", "Outcome",
                "Outcome linked to object of search", "Removal of more than just outer clothing"):
        assert set(stops[col]) <= set(ss_real[col]), col


def test_street_values(street):
    assert set(street["Crime type"]) == set(syn.CRIME_TYPES) and len(syn.CRIME_TYPES) == 14
    assert (street["Reported by"] == syn.FORCE_NAME).all()
    assert (street["Falls within"] == syn.FORCE_NAME).all()
    assert (street["Context"] == "").all()
    assert set(street["Last outcome category"]) <= REAL_OUTCOMES
    shares = street["Crime type"].value_counts(normalize=True)
    assert 0.17 < shares["Anti-social behaviour"] < 0.23
    assert 0.31 < shares["Violence and sexual offences"] < 0.38
    located = street[street["LSOA code"] != ""]
    assert located["Location"].str.startswith("On or near ").all()
    assert located["Longitude"].str.fullmatch(r"-?\d\.\d{6}").all()
    lon, lat = located["Longitude"].astype(float), located["Latitude"].astype(float)
    assert lon.between(-1.25, -0.55).all() and lat.between(52.85, 53.45).all()
    # every located row's LSOA code is an X code
    assert located["LSOA code"].str.fullmatch(r"X01\d{6}").all()


def test_asb_rows_and_crime_ids(street):
    asb = street["Crime type"] == "Anti-social behaviour"
    assert (street.loc[asb, "Crime ID"] == "").all()
    assert (street.loc[asb, "Last outcome category"] == "").all()
    ids = street.loc[~asb, "Crime ID"]
    assert ids.str.fullmatch(r"[0-9a-f]{64}").all()
    assert not ids.duplicated().any()
    assert (street.loc[~asb, "Last outcome category"] != "").all()


def test_month_coverage(demo, street, stops):
    out, _ = demo
    months = [p.name for p in sorted((out / "police_uk" / "street").iterdir())]
    assert months == list(syn.MONTHS) and months[0] == "2020-01" and months[-1] == "2025-12"
    for m in syn.MONTHS:
        assert (out / f"police_uk/street/{m}/{m}-synthshire-street.csv").exists()
        assert (out / f"police_uk/stop_and_search/{m}/{m}-synthshire-stop-and-search.csv").exists()
    assert (street["_file"].str[:7] == street["Month"]).all()
    assert (stops["_file"].str[:7] == stops["Date"].str[:7]).all()
    assert stops["Date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+00:00").all()
    per_month = street.groupby("Month").size()
    assert per_month.between(3_900, 6_300).all()
    assert stops.groupby(stops["Date"].str[:7]).size().between(220, 380).all()


def test_line_endings(demo):
    out, _ = demo
    old = (out / "police_uk/street/2022-12/2022-12-synthshire-street.csv").read_bytes()
    new = (out / "police_uk/street/2023-01/2023-01-synthshire-street.csv").read_bytes()
    assert old.count(b"\r\n") == old.count(b"\n")
    assert b"\r" not in new and new.endswith(b"\n")


def test_files_sorted_like_real(street):
    f = street[street["Month"] == "2024-05"]
    located = f["LSOA code"] != ""
    assert not located.iloc[located.sum():].any()  # no-location rows last
    names = f.loc[located, "LSOA name"].tolist()
    assert names == sorted(names)


# ----------------------------------------------------------------------------- quirks
def test_no_location_and_border_rows(street):
    noloc = street["LSOA code"] == ""
    assert 0.015 <= noloc.mean() <= 0.02
    nl = street[noloc]
    assert (nl["Location"] == "No Location").all()
    assert (nl[["Longitude", "Latitude", "LSOA name"]] == "").all().all()
    west = street["LSOA name"].str.startswith("Westmarch ")
    assert 0.007 <= west.mean() <= 0.013


def test_lsoa_vintage_switch(demo, street):
    out, _ = demo
    l11 = set(_csv(out, "geography/lsoa11_lookup.csv")["lsoa11cd"])
    l21 = set(_csv(out, "geography/lsoa21_lookup.csv")["lsoa21cd"])
    assert len(l21) == 380 and len(l11) == 370
    only21 = l21 - l11
    assert 0.04 <= len(only21) / len(l21) <= 0.07
    codes = street[street["LSOA code"] != ""]
    early = codes[codes["Month"] < "2023-01"]["LSOA code"]
    late = codes[codes["Month"] >= "2023-01"]["LSOA code"]
    assert early.isin(l11).all() and late.isin(l21).all()
    assert early.isin(l11 - l21).any() and late.isin(only21).any()


def test_asb_cap_artefact(street):
    asb = street[street["Crime type"] == "Anti-social behaviour"].groupby("Month").size()
    assert asb["2021-06"] == 300
    assert asb.drop("2021-06").min() > 600


def test_lookups_consistent(demo):
    out, _ = demo
    lad = _csv(out, "geography/lad_csp_pfa_lookup.csv")
    assert list(lad.columns) == ["LAD17CD", "LAD17NM", "CSP17CD", "CSP17NM", "PFA17CD", "PFA17NM", "FID"]
    for p in syn.PARTNERSHIPS:
        rows = lad[lad["CSP17CD"] == p["csp_code"]]
        assert sorted(rows["LAD17CD"]) == sorted(p["lad_codes"])
        assert set(rows["PFA17CD"]) == {syn.FORCE_PFA_CODE}
        assert set(rows["CSP17NM"]) == {p["name"]}
        assert p["force"] == "synthshire"
    assert {p["slug"] for p in syn.PARTNERSHIPS} == {"riverton", "northdale-southmoor", "easthaven"}
    west = lad[lad["LAD17NM"] == "Westmarch"].iloc[0]
    assert west["PFA17CD"] == "X23000002" and west["LAD17CD"] == "X07000009"
    for col in ("LAD17CD", "CSP17CD", "PFA17CD"):
        assert lad[col].str.startswith("X").all()
    l21 = _csv(out, "geography/lsoa21_lookup.csv")
    counts = l21.groupby("lad21nm").size().to_dict()
    assert counts == {"Riverton": 150, "Northdale": 68, "Southmoor": 62, "Easthaven": 55, "Westmarch": 45}
    assert {f"Riverton 001{c}" for c in "ABCDEFGH"} <= set(l21["lsoa21nm"])
    assert {f"Northdale 003{c}" for c in "ABCDEF"} <= set(l21["lsoa21nm"])
    cent = _csv(out, "geography/lsoa21_centroids.csv")
    assert set(cent["lsoa21cd"]) == set(l21["lsoa21cd"])
    ages = _csv(out, "population/census2021_lsoa21_usual_residents_by_age_group.csv")
    assert set(ages["lsoa21_code"]) == set(l21["lsoa21cd"]) and len(ages) == 6 * 380
    pop = ages.assign(n=ages["usual_residents"].astype(int)).merge(
        l21, left_on="lsoa21_code", right_on="lsoa21cd").groupby("lad21nm")["n"].sum()
    assert 240_000 < pop["Riverton"] < 260_000
    eth = pd.read_csv(out / "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv")
    lad_tot = eth[eth["Geography Code"].str.startswith("X0")].groupby("Geography Name").sum(numeric_only=True).sum(axis=1)
    assert (lad_tot - pop).abs().max() < 100  # rounding to 5 only
    iod = _csv(out, "deprivation/iod2019_lsoa11_ranks_deciles.csv")
    assert set(iod["lsoa11_code"]) == set(_csv(out, "geography/lsoa11_lookup.csv")["lsoa11cd"])
    rank = iod["index_of_multiple_deprivation_imd_rank"].astype(int)
    dec = iod["index_of_multiple_deprivation_imd_decile"].astype(int)
    assert rank.between(1, 32_844).all() and not rank.duplicated().any()
    assert (dec == np.ceil(rank / 3284.4).clip(1, 10)).mean() > 0.99
    mye = _csv(out, "population/ons_mye_mid2022.csv")
    assert set(syn.PARTNERSHIPS[1]["lad_codes"]) <= set(mye["Code"])


# ----------------------------------------------------------------------------- planted effects
def test_planted_effects_files(demo, planted):
    out, summary = demo
    assert planted["synthetic"] is True
    cctv, null = planted["interventions"]
    assert cctv["effect_multiplier"] == 0.70 and cctv["start"] == "2023-04"
    assert [x["name"] for x in cctv["lsoas"]] == [f"Riverton 001{c}" for c in "ABCDEFGH"]
    assert len(cctv["buffer_lsoas"]) == 10 and cctv["buffer_effect_multiplier"] == 1.0
    assert null["effect_multiplier"] == 1.0 and null["crime_types"] == ["Burglary"]
    assert (null["start"], null["end"]) == ("2022-10", "2023-09")
    assert summary["planted_effects"] == planted
    assert "SYNTHETIC" in (out / "SYNTHETIC_README.md").read_text()
    assert "0.7" in (out / "PLANTED_EFFECTS.md").read_text()


def test_cctv_effect_naive_before_after(street):
    s = street[street["Crime type"].isin(CCTV_TYPES) & street["LSOA name"].str.startswith("Riverton ")]
    treated = s["LSOA name"].str.fullmatch(r"Riverton 001[A-H]")
    post = s["Month"] >= "2023-04"
    pre_months = syn.MONTHS.index("2023-04")
    t_pre = (treated & ~post).sum() / pre_months
    assert 60 <= t_pre <= 130  # target crimes per month in the 8 LSOAs before
    ratio = ((treated & post).sum() / (treated & ~post).sum()) / ((~treated & post).sum() / (~treated & ~post).sum())
    assert 0.62 <= ratio <= 0.78, ratio
    # non-target types in the treated LSOAs do not drop
    o = street[~street["Crime type"].isin(CCTV_TYPES + ["Anti-social behaviour"])
               & street["LSOA name"].str.startswith("Riverton ")]
    tr, po = o["LSOA name"].str.fullmatch(r"Riverton 001[A-H]"), o["Month"] >= "2023-04"
    r2 = ((tr & po).sum() / (tr & ~po).sum()) / ((~tr & po).sum() / (~tr & ~po).sum())
    assert 0.9 <= r2 <= 1.1, r2


def test_safer_streets_null(street):
    b = street[(street["Crime type"] == "Burglary") & street["LSOA name"].str.startswith("Northdale ")]
    treated = b["LSOA name"].str.fullmatch(r"Northdale 003[A-F]")
    during = b["Month"].between("2022-10", "2023-09")
    before = b["Month"] < "2022-10"
    ratio = ((treated & during).sum() / (treated & before).sum()) / ((~treated & during).sum() / (~treated & before).sum())
    assert 0.6 <= ratio <= 1.5, ratio  # a null (few counts, so a wide band)


def test_stop_search_disproportionality(demo, stops):
    out, _ = demo
    eth = pd.read_csv(out / "population/census2021_ethnic_group_19cat_by_sex_lad_region.csv").fillna(0)
    eth = eth[eth["Geography Code"].isin(["X08000001", "X07000002", "X07000003", "X07000004"])]
    def pop(prefix):
        return eth[[c for c in eth.columns if c.startswith(prefix)]].to_numpy().sum()
    residents = {"White": pop("White"), "Black": pop("Black"), "Asian": pop("Asian"), "Other": pop("Other ethnic")}
    n = stops["Officer-defined ethnicity"].value_counts()
    rate = {g: n[g] / residents[g] for g in residents}
    assert 2.7 <= rate["Black"] / rate["White"] <= 3.3
    assert 1.3 <= rate["Asian"] / rate["White"] <= 1.7
    assert 0.9 <= rate["Other"] / rate["White"] <= 1.5
    linked = stops["Outcome linked to object of search"] == "True"
    by = linked.groupby(stops["Officer-defined ethnicity"]).mean()
    assert abs(by["White"] - 0.27) < 0.02 and abs(by["Black"] - 0.18) < 0.03
    assert 0.03 <= (stops["Officer-defined ethnicity"] == "").mean() <= 0.07
    assert 0.07 <= (stops["Latitude"] == "").mean() <= 0.13
    assert (stops.loc[linked, "Outcome"] != "A no further action disposal").all()


def test_deprivation_gradient(demo, street, planted):
    import statsmodels.api as sm

    out, _ = demo
    iod = _csv(out, "deprivation/iod2019_lsoa11_ranks_deciles.csv")
    l21 = _csv(out, "geography/lsoa21_lookup.csv")
    ages = _csv(out, "population/census2021_lsoa21_usual_residents_by_age_group.csv")
    pop = ages.assign(n=ages["usual_residents"].astype(int)).groupby("lsoa21_code")["n"].sum()
    skip = {x["code"] for x in planted["interventions"][0]["lsoas"]} | \
           {x["code"] for x in planted["place"]["hotspot_lsoas"]}
    # 2021 LSOAs whose code is unchanged from 2011 (so the IoD decile joins by code), Synthshire only
    d = iod.set_index("lsoa11_code")["index_of_multiple_deprivation_imd_decile"].astype(int)
    synth = l21[~l21["lad21nm"].eq("Westmarch") & l21["lsoa21cd"].isin(d.index) & ~l21["lsoa21cd"].isin(skip)]
    late = street[street["Month"] >= "2023-01"]
    y = late["LSOA code"].value_counts().reindex(synth["lsoa21cd"], fill_value=0)
    x = 10 - d.reindex(synth["lsoa21cd"]).to_numpy()
    fit = sm.GLM(y.to_numpy(), sm.add_constant(x.astype(float)), family=sm.families.Poisson(),
                 offset=np.log(pop.reindex(synth["lsoa21cd"]).to_numpy(float))).fit()
    rr = float(np.exp(fit.params[1]))
    assert 1.08 <= rr <= 1.17, rr
    by_dec = (y.groupby(d.reindex(synth["lsoa21cd"]).to_numpy()).sum()
              / pop.reindex(synth["lsoa21cd"]).groupby(d.reindex(synth["lsoa21cd"]).to_numpy()).sum())
    assert by_dec.loc[1:3].mean() > by_dec.loc[8:10].mean() * 1.8


def test_trends_and_seasonality(street):
    loc = street
    yr = loc.groupby([loc["Month"].str[:4], "Crime type"]).size().unstack()
    growth = (yr.loc["2025"] / yr.loc["2020"]) ** (1 / 5)
    assert abs(growth["Violence and sexual offences"] - 1.05) < 0.02
    assert abs(growth["Burglary"] - 0.94) < 0.02
    assert abs(growth["Shoplifting"] - 1.08) < 0.025
    v = loc[loc["Crime type"] == "Violence and sexual offences"].groupby(loc["Month"].str[5:]).size()
    assert v["07"] / v["01"] > 1.2  # summer peak (about +15% vs -15%, plus trend noise)


def test_other_seed_differs(demo, tmp_path):
    out, summary = demo
    other = syn.generate_demo_data(tmp_path / "s1", seed=1)
    assert other["seed"] == 1 and other["rows"] != summary["rows"]
    rel = "police_uk/street/2024-01/2024-01-synthshire-street.csv"
    assert (tmp_path / "s1" / rel).read_bytes() != (out / rel).read_bytes()


# ----------------------------------------------------------------------------- shared definitions
def test_headers_and_crime_types_are_the_ingest_and_params_ones():
    from csp_analysis import ingest, params

    assert syn.STREET_COLUMNS == tuple(ingest.STREET_HEADER) and ",".join(syn.STREET_COLUMNS) == STREET_HEADER
    assert syn.STOP_SEARCH_COLUMNS == tuple(ingest.STOP_SEARCH_HEADER)
    assert ",".join(syn.STOP_SEARCH_COLUMNS) == SS_HEADER
    assert syn.CRIME_TYPES is params.CRIME_TYPES


def test_poisson_slope_matches_closed_form():
    # with a 0/1 covariate the Poisson MLE slope is the log ratio of the two groups' rates
    y = np.array([3.0, 5.0, 2.0, 9.0, 12.0, 7.0])
    x = np.array([0, 0, 0, 1, 1, 1])
    pop = np.array([100.0, 150.0, 50.0, 120.0, 200.0, 80.0])
    want = np.log((28 / 400) / (10 / 300))
    assert syn._poisson_slope(y, x, np.log(pop)) == pytest.approx(want, rel=1e-8)
    # and a known slope on a large simulated sample
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, 20_000)
    off = np.log(rng.uniform(500, 2000, x.size))
    y = rng.poisson(np.exp(-5 + 0.1 * x + off))
    assert syn._poisson_slope(y, x, off) == pytest.approx(0.1, abs=0.005)


def test_planted_effects_record_the_realised_deprivation_gradient(planted):
    value = planted["realised"]["deprivation_rr_per_decile_poisson_2023_2025_excl_town_centre_hotspots"]
    assert value == pytest.approx(1.1228, abs=1e-4)  # as with the former hand-written IRLS fit
