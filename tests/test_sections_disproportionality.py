"""Tests for csp_analysis.sections.disproportionality (the 02_disproportionality report).

A small store is built from the synthetic data (csp_analysis.synthetic, seed 20240417): every
stop-and-search month and street months 2022-07 .. 2024-06 (both LSOA vintages). The planted
effects (data/demo/PLANTED_EFFECTS.md): Black people searched at 3.0 times the White rate,
Asian 1.5 times; find rate 0.18 for Black people against 0.27 for White people.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from csp_analysis import ingest, lookups, report, store
from csp_analysis.sections import disproportionality as sec

STREET_MONTHS = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 13)
                 if "2022-07" <= f"{y}-{m:02d}" <= "2024-06"]
NB = "02_disproportionality"


def _build_store(db: Path, demo: Path, *, street_months=STREET_MONTHS, stop_search=True, deprivation=True,
                 ss_dir: Path | None = None) -> Path:
    con = store.connect(db)
    try:
        subs = ["geography", "population"] + (["deprivation"] if deprivation else [])
        lookups.load_lookups(con, [demo / s for s in subs])
        paths = [demo / "police_uk" / "street" / m for m in street_months]
        if stop_search:
            paths.append(ss_dir or demo / "police_uk" / "stop_and_search")
        ingest.ingest_paths(con, paths, batch="test", progress=False)
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def demo(demo_store) -> Path:
    return demo_store.data  # the session's synthetic files (conftest.py), read only


@pytest.fixture(scope="module")
def db(demo, tmp_path_factory) -> Path:
    return _build_store(tmp_path_factory.mktemp("store") / "csp.duckdb", demo)


def _ctx(slug, db, out, params_dir=None):
    return report.start_report(slug, NB, params_dir=params_dir, store=db, output_dir=out)


@pytest.fixture(scope="module")
def riverton(db, tmp_path_factory):
    ctx = _ctx("riverton", db, tmp_path_factory.mktemp("out_riverton"))
    return ctx, sec.analyse(ctx)


# ---------------------------------------------------------------------------- stop and search
def test_stop_search_finds_planted_ratio(riverton):
    _, res = riverton
    ss = res.stop_search
    assert ss.available and ss.scope == "partnership"
    assert len(ss.months) == 72 and not ss.months_outside_window
    t = ss.table.set_index("group")
    assert list(t.index) == ["White", "Black", "Asian", "Other", "Unknown"]
    black, asian = t.loc["Black"], t.loc["Asian"]
    assert black["lower"] < 3.0 < black["upper"] and black["lower"] > 2.0
    assert asian["lower"] < 1.5 < asian["upper"] and asian["lower"] > 1.0
    assert black["excess"] > 0 and t.loc["White", "ratio"] == 1
    # sensitivity bounds bracket the ratio; unknowns are reported, not rated
    assert black["ratio_if_no_unknown"] <= black["ratio"] <= black["ratio_if_all_unknown"]
    assert t.loc["Unknown", "count"] > 0 and np.isnan(t.loc["Unknown", "rate"])
    # residents: Census 2021 of Riverton by broad group (Mixed is not a denominator)
    assert t.loc["White", "residents"] > 150_000 and "Mixed" not in t.index
    # searches without coordinates are not placed, and placement does not depend on the group
    ub = ss.unplaced_by_group.set_index("group")["share_unplaced"]
    assert 0.05 < ub["White"] < 0.15 and abs(ub["Black"] - ub["White"]) < 0.05
    assert ss.force_table is not None


def test_find_rate_lower_for_black_people(riverton):
    _, res = riverton
    f = res.stop_search.find.set_index("group")
    assert res.stop_search.find_definition == "linked"
    assert list(f.index[:4]) == ["White", "Black", "Asian", "Other"]
    assert f.loc["White", "lower"] < 0.27 < f.loc["White", "upper"]
    assert f.loc["Black", "lower"] < 0.18 < f.loc["Black", "upper"]
    assert f.loc["Black", "difference_upper"] < 0  # clearly lower than White


def test_ethnic_population_sums_sexes_and_maps_groups(db):
    con = store.connect(db, read_only=True)
    try:
        pop, missing = sec.ethnic_population(con, ["X08000001"])
        both, _ = sec.ethnic_population(con, ["X07000002", "X07000003"])
        none, miss2 = sec.ethnic_population(con, ["X09999999"])
    finally:
        con.close()
    assert list(pop["group"]) == ["White", "Black", "Asian", "Mixed", "Other"] and not missing
    assert 240_000 < pop["residents"].sum() < 260_000  # Riverton, Census 2021 (synthetic)
    assert both["residents"].sum() > pop["residents"].sum() * 0.8
    assert none["residents"].sum() == 0 and miss2 == ["X09999999"]


# ---------------------------------------------------------------------------- places
def test_places_use_2021_coded_months_and_find_gradient(riverton):
    _, res = riverton
    pl = res.places
    assert pl.available and not pl.mapped_2011
    assert min(pl.months) == pd.Timestamp("2023-01-01") and len(pl.months) == 18
    assert max(pl.months_2011) == pd.Timestamp("2022-12-01") and len(pl.months_2011) == 6
    assert pl.n_dropped_codes == 0 and len(pl.lsoa) == 150
    f = pl.funnel
    assert {"ratio", "lower", "upper", "outlier", "tau2"} <= set(f.columns)
    assert f["overdispersion"].iloc[0] == "additive" and f["tau2"].iloc[0] > 0
    assert "Riverton 001E" in set(f.index[f["outlier"]])  # the town centre
    # deprivation: codes unchanged between vintages are matched, split LSOAs are not
    assert 130 < pl.n_matched < pl.n_lsoas
    s = pl.gradient.summary.set_index("measure")
    assert s.loc["rate ratio per decile", "lower"] > 1
    assert s.loc["relative index of inequality", "value"] > 1.5
    assert pl.decile_table["ratio"].iloc[-1] == 1
    b = pl.burden.iloc[0]
    assert b["n_top"] == 15 and b["share_of_count"] > 2 * b["share_of_population"]
    assert pl.burden_split["share_of_count"] > pl.burden_split["share_of_population"]


def test_comparison_and_outcomes(riverton):
    _, res = riverton
    cm = res.comparison
    assert cm.available and cm.kind == "force" and len(cm.units) == 3
    assert cm.partnership_row["name"] == "Safer Riverton (synthetic)"
    assert cm.partnership_row["ratio"] > 1  # Riverton has the busy town centre
    oc = res.outcomes
    assert oc.available
    t = oc.table
    assert set(t["measure"]) == {"No suspect identified", "Charged", "Charged or court stage"}
    assert ((t["share"] >= 0) & (t["share"] <= 1)).all() and (t["lower"] <= t["share"]).all()
    ns = t[t["measure"] == "No suspect identified"]
    assert (ns["force_crimes"] > ns["crimes"]).all()
    assert not ns["clear_difference"].any()  # no planted difference in outcomes


def test_sections_render_tables_and_headlines(riverton):
    ctx, res = riverton
    sec.summary(ctx, res)
    sec.stop_search_section(ctx, res)
    sec.places_section(ctx, res)
    sec.comparison_section(ctx, res)
    sec.outcomes_section(ctx, res)
    tables = ctx.output_dir / "tables"
    rates = pd.read_csv(tables / f"{NB}__stop_search_rates.csv")
    assert list(rates["Group (officer-defined)"]) == ["White", "Black", "Asian", "Other", "Unknown"]
    black = rates.set_index("Group (officer-defined)").loc["Black"]
    assert float(black["Ratio: lower 95% CI"]) < 3.0 < float(black["Ratio: upper 95% CI"])
    for name in ("stop_search_rates_force", "stop_search_find_rates", "lsoa_outliers", "lsoa_rates",
                 "deprivation_deciles", "share_of_burden", "partnerships_compared", "outcome_no_suspect",
                 "outcome_charged", "outcome_charged_or_court"):
        assert (tables / f"{NB}__{name}.csv").exists(), name
    assert len(pd.read_csv(tables / f"{NB}__lsoa_rates.csv")) == 150  # CSV has all rows
    heads = {h["key"]: h for h in json.loads((ctx.output_dir / "headlines" / f"{NB}.json").read_text())}
    assert {"stop_search_ratio_black", "find_rate_black", "deprivation_rii", "share_no_suspect_identified",
            "share_of_crime_top10pc_lsoas", "crime_rate_vs_partnerships"} <= set(heads)
    assert heads["stop_search_ratio_black"]["lower"] < 3.0 < heads["stop_search_ratio_black"]["upper"]
    assert "times the rate of White people" in heads["stop_search_ratio_black"]["sentence"]


# ---------------------------------------------------------------------------- missing data
def test_force_without_coordinates_gives_force_level_figures(demo, tmp_path):
    ss_dir = tmp_path / "ss"
    for f in sorted((demo / "police_uk" / "stop_and_search").glob("2024-*/*.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        df["Latitude"] = df["Longitude"] = ""
        (ss_dir / f.parent.name).mkdir(parents=True, exist_ok=True)
        df.to_csv(ss_dir / f.parent.name / f.name, index=False)
    db = _build_store(tmp_path / "nocoords.duckdb", demo, street_months=["2024-01", "2024-02"], ss_dir=ss_dir)
    ctx = _ctx("easthaven", db, tmp_path / "out")
    ss = sec.stop_search_analysis(ctx)
    assert ss.available and ss.scope == "force" and len(ss.months) == 12
    assert any("no coordinates are published" in n for n in ss.notes)
    black = ss.table.set_index("group").loc["Black"]
    assert black["lower"] < 3.0 < black["upper"]  # the whole force area (all Synthshire districts)
    assert ss.table.set_index("group").loc["White", "residents"] > 400_000
    sec.stop_search_section(ctx, sec.DisproportionalityResults(ss, sec.places_analysis(ctx),
                                                               sec.comparison_analysis(ctx),
                                                               sec.outcomes_analysis(ctx)))


def test_no_stop_search_no_deprivation_only_2011_months(demo, tmp_path):
    db = _build_store(tmp_path / "thin.duckdb", demo, street_months=["2022-01", "2022-02", "2022-03"],
                      stop_search=False, deprivation=False)
    ctx = _ctx("northdale-southmoor", db, tmp_path / "out")
    res = sec.analyse(ctx)
    assert not res.stop_search.available and "no stop-and-search records" in res.stop_search.reason
    pl = res.places
    assert pl.available and pl.mapped_2011 and not pl.months_2011  # fallback: unchanged codes only
    assert pl.n_dropped_codes > 0
    assert pl.gradient is None and "deprivation" in pl.gradient_reason
    for f in (sec.summary, sec.stop_search_section, sec.places_section, sec.comparison_section,
              sec.outcomes_section):
        f(ctx, res)


def test_partnership_without_any_data(db, tmp_path):
    params = tmp_path / "params"
    params.mkdir()
    shutil.copy(report.params_mod.DEFAULT_PARAMS_DIR / "riverton.yaml", params / "riverton.yaml")
    (params / "westmarch.yaml").write_text(
        "name: Westmarch (synthetic)\nslug: westmarch\ngroup: demo\nsynthetic: true\nlad_codes: [X07000009]\n"
        "forces: [westmarch]\nwindow: {start: 2020-01, end: 2025-12}\npriority_crime_types: [Burglary]\n"
        "small_number_threshold: 5\n", encoding="utf-8")
    ctx = _ctx("westmarch", db, tmp_path / "out", params_dir=params)
    res = sec.analyse(ctx)
    assert not any([res.stop_search.available, res.places.available, res.comparison.available,
                    res.outcomes.available])
    for f in (sec.summary, sec.stop_search_section, sec.places_section, sec.comparison_section,
              sec.outcomes_section):
        f(ctx, res)


# ---------------------------------------------------------------------------- suppression
def test_suppression_blanks_counts_and_what_reveals_them():
    ctx = SimpleNamespace(params=SimpleNamespace(small_number_threshold=5))
    t = pd.DataFrame({
        "group": ["White", "Black", "Asian", "Other", "Unknown"],
        "count": [39.0, 0.0, 0.0, 0.0, 1.0], "residents": [78140.0, 415.0, 715.0, 245.0, np.nan],
        "rate": [3.0, 0.0, 0.0, 0.0, np.nan], "rate_lower": 0.1, "rate_upper": 9.0,
        "ratio": [1.0, 0.0, 0.0, 0.0, np.nan], "lower": [np.nan, 0, 0, 0, np.nan],
        "upper": [np.nan, 18, 10, 31, np.nan],
        "p_value": np.nan, "excess": [0.0, -1, -2, -1, np.nan], "ratio_if_all_unknown": [1, 4.8, 2.8, 8.2, np.nan],
        "ratio_if_no_unknown": [1, 0, 0, 0, np.nan], "unknown": [False, False, False, False, True],
    })
    v = sec._search_view(ctx, t)
    shown = v.table.set_index("Group (officer-defined)")
    # the unknown count (1) is suppressed, and White too, so that the total cannot reveal it
    assert shown.loc["Unknown", "Searches"] == "[c]" and shown.loc["White", "Searches"] == "[c]"
    assert v.ref_suppressed and v.unknown_suppressed
    assert shown[["Ratio to White", "Ratio: upper 95% CI"]].isna().all().all()  # every ratio needs White's count
    assert shown.loc["Black", "Searches"] == 0  # zeros disclose nobody
    assert sec._publishable(t, v) == []
    big = t.assign(count=[400.0, 60.0, 3.0, 25.0, 12.0])
    v2 = sec._search_view(ctx, big)
    s2 = v2.table.set_index("Group (officer-defined)")
    assert s2.loc["Asian", "Searches"] == "[c]" and np.isnan(s2.loc["Asian", "Searches per 1,000 residents a year"])
    assert s2.loc["Unknown", "Searches"] == "[c]"  # secondary: next smallest in the column
    assert not v2.ref_suppressed and s2.loc["Black", "Searches"] == 60
    assert sec._publishable(big, v2) == ["Black", "Other"]


# ---------------------------------------------------------------------------- review fixes
def test_decile_table_intervals_allow_for_overdispersion(riverton):
    _, res = riverton
    bd = res.places.decile_table
    disp = float(bd["dispersion"].iloc[0])
    assert disp > 10  # LSOAs vary far more than chance
    # the shown intervals are the quasi-Poisson ones, far wider than the Poisson rate intervals
    width_qp = np.log(bd["rate_upper_adjusted"] / bd["rate_lower_adjusted"])
    width_p = np.log(bd["upper"] / bd["lower"])
    assert (width_qp > 3 * width_p).all()
    others = bd.iloc[:-1]
    assert (others["ratio_lower"] < others["ratio"]).all() and (others["ratio"] < others["ratio_upper"]).all()
    assert "far more than chance alone would give" in sec.dispersion_sentence(disp)
    assert f"{disp:,.0f} times" in sec.dispersion_sentence(disp)


def test_decile_table_csv_shows_the_adjusted_intervals(riverton):
    ctx, res = riverton
    sec._deprivation(ctx, res.places)
    t = pd.read_csv(ctx.output_dir / "tables" / f"{NB}__deprivation_deciles.csv")
    bd = res.places.decile_table
    np.testing.assert_allclose(t["Lower 95% CI"], bd["rate_lower_adjusted"], rtol=1e-6)
    np.testing.assert_allclose(t["Ratio: upper 95% CI"].iloc[:-1], bd["ratio_upper"].iloc[:-1], rtol=1e-6)


def test_national_comparison_pools_every_national_month(db, tmp_path, monkeypatch):
    # the test store holds one force; with the threshold at one force every covered month is "national"
    monkeypatch.setattr(sec.compute, "NATIONAL_MIN_FORCES", 1)
    ctx = _ctx("riverton", db, tmp_path / "out")
    cm = sec.comparison_analysis(ctx)
    assert cm.available and cm.kind == "national"
    assert len(cm.months) == len(STREET_MONTHS) == 24
    u = cm.units
    np.testing.assert_allclose(u["rate"], u["crimes"] / (u["population"] * 24 / 12) * 1000)
    said = []
    monkeypatch.setattr(ctx, "say", said.append)
    sec.comparison_section(ctx, sec.DisproportionalityResults(None, None, cm, None))
    text = " ".join(said)
    assert "pooled over 24 months (Jul 2022 to Jun 2024)" in text and "divided by 24, times 12" in text


def test_shared_helpers_are_reused():
    from csp_analysis import disproportionality as dp

    assert sec._who is dp._who and sec._r is dp._fmt_ratio
    res = sec.PlacesResult(available=False)
    ctx = SimpleNamespace(has_street_data=False, params=None, con=None)
    assert sec._street_months(ctx, res) == [] and "no street-level crime records" in res.reason


def test_named_comparators_are_marked_and_unknown_ones_reported(riverton, db, tmp_path):
    import yaml

    from csp_analysis import params

    _, res = riverton
    u = res.comparison.units
    # riverton.yaml names northdale-southmoor and easthaven: their partnership units, and nothing else
    assert set(u.loc[u["is_comparator"], "name"]) == {"Northdale and Southmoor", "Easthaven"}
    assert not u.loc[u["is_partnership"], "is_comparator"].any()
    pdir = tmp_path / "params"
    pdir.mkdir()
    raw = yaml.safe_load((params.DEFAULT_PARAMS_DIR / "riverton.yaml").read_text())
    raw["comparators"] = ["easthaven", "nowhere"]
    (pdir / "riverton.yaml").write_text(yaml.safe_dump(raw))
    for slug in ("easthaven", "northdale-southmoor"):
        (pdir / f"{slug}.yaml").write_text((params.DEFAULT_PARAMS_DIR / f"{slug}.yaml").read_text())
    ctx = _ctx("riverton", db, tmp_path / "out", params_dir=pdir)
    cm = sec.comparison_analysis(ctx)
    assert set(cm.units.loc[cm.units["is_comparator"], "name"]) == {"Easthaven"}
    assert cm.comparators_missing == ["nowhere (no valid parameters file nowhere.yaml)"]
    sec.comparison_section(ctx, sec.DisproportionalityResults(None, None, cm, None))
    csv = next((ctx.output_dir / "tables").glob("*partnerships_compared*.csv")).read_text()
    assert "Named comparator" in csv.splitlines()[0]
