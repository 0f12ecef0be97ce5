"""The disproportionality section split (issue 15): the pure compute step on small hand-made
DataFrames (no store, no notebook), and charts / wording / tables from computed results
without a report context.

Fast: every test builds its inputs in memory (a few hundred rows).
"""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis.local_stats import two_proportions  # noqa: E402
from csp_analysis.sections import disproportionality as sec  # noqa: E402
from csp_analysis.sections.disproportionality import charts, compute, tables, wording  # noqa: E402

MONTHS = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]


def _params(**kw):
    base = dict(name="Testford", forces=["testshire"], lad_codes=["L1"], start=MONTHS[0], end=MONTHS[-1],
                small_number_threshold=5)
    base.update(kw)
    return SimpleNamespace(**base)


# ---------------------------------------------------------------------------- places
def _places_data(n_lsoa=12, deprivation=True):
    rng = np.random.default_rng(1)
    pop = pd.DataFrame({"lsoa_code": [f"E0100{i:04d}" for i in range(n_lsoa)],
                        "lsoa_name": [f"Testford {i:03d}A" for i in range(n_lsoa)],
                        "population": rng.integers(1200, 2000, n_lsoa).astype(float)})
    rows = []
    for m in MONTHS:
        for i, code in enumerate(pop["lsoa_code"]):
            rows.append({"lsoa_code": code, "month": m, "crimes": int(rng.poisson(40 if i == 0 else 8))})
        rows.append({"lsoa_code": "E01999999", "month": m, "crimes": 3})  # a code with no 2021 population
    counts = pd.DataFrame(rows)
    # the first month is 2011-coded: left out
    vint = pd.DataFrame({"month": MONTHS, "n": 100, "n11": [30, 0, 0], "n21": [0, 5, 5], "n_pop": 100})
    dep = (pd.DataFrame({"lsoa_code": pop["lsoa_code"], "imd_decile": [1 + i % 5 for i in range(n_lsoa)]})
           if deprivation else None)
    return compute.PlacesData(vintage=vint, population=pop, counts=counts, deprivation=dep)


def test_compute_places_from_hand_made_frames():
    pl = compute.compute_places(_places_data())
    assert pl.available and not pl.mapped_2011
    assert pl.months == MONTHS[1:] and pl.months_2011 == MONTHS[:1]
    assert pl.n_dropped_codes == 6  # the unknown code in the two months used
    d = _places_data()
    used = d.counts[d.counts["month"].isin(MONTHS[1:]) & d.counts["lsoa_code"].isin(d.population["lsoa_code"])]
    assert pl.n_records == used["crimes"].sum()
    lsoa = pl.lsoa.set_index("lsoa_code")
    per = used.groupby("lsoa_code")["crimes"].sum()
    np.testing.assert_allclose(lsoa["rate"], per[lsoa.index] / (lsoa["population"] * 2 / 12) * 1000)
    assert {"ratio", "lower", "upper", "outlier", "outlier_95"} <= set(pl.lsoa.columns)
    assert pl.lsoa.loc[0, "outlier"] == "high"  # the busy first LSOA
    assert pl.gradient is not None and pl.n_matched == 12 and pl.decile_table["ratio"].iloc[-1] == 1
    b = pl.burden.iloc[0]
    assert b["n_top"] >= 1 and b["share_of_count"] > b["share_of_population"]
    assert pl.burden_split is not None


def test_compute_places_guards_use_the_shared_sentence():
    pl = compute.compute_places(_places_data(n_lsoa=2))
    assert not pl.available
    assert pl.reason.startswith("Not enough data for a comparison of places: 2 LSOAs with residents available")
    assert wording.not_shown(pl.reason, "This section is empty.") == pl.reason
    assert compute.compute_places(compute.PlacesData(reason="No street data.")).reason == "No street data."
    few = _places_data()
    few.deprivation["imd_decile"] = 3  # one decile: no gradient
    pl = compute.compute_places(few)
    assert pl.gradient is None and pl.gradient_reason.startswith("Not enough data for a deprivation gradient")
    assert wording.gradient_unavailable(pl) == pl.gradient_reason
    nodep = compute.compute_places(_places_data(deprivation=False))
    assert wording.gradient_unavailable(nodep) == ("The deprivation gradient cannot be shown: the store holds no "
                                                   "deprivation (IoD 2019) table.")


def test_split_vintages_falls_back_to_2011_months():
    vint = pd.DataFrame({"month": MONTHS, "n11": 5, "n21": 0})
    assert compute.split_vintages(vint) == (MONTHS, [], True)


# ---------------------------------------------------------------------------- outcomes
def _outcome_counts():
    return pd.DataFrame({
        "crime_type": ["Burglary", "Burglary", "Shoplifting", "Shoplifting"],
        "mine": [True, False, True, False],
        "n": [200, 800, 100, 900], "no_suspect": [120, 400, 10, 270], "charged": [10, 40, 30, 200],
        "court": [5, 30, 5, 40], "charged_or_court": [15, 70, 35, 240], "pending": [20, 60, 5, 50],
    })


def test_compute_outcomes_uses_the_package_two_proportion_test():
    oc = compute.compute_outcomes(compute.OutcomesData(months=MONTHS, force_names=["Testshire"],
                                                       counts=_outcome_counts()), _params())
    assert oc.available and oc.force_area == "the Testshire force area"
    t = oc.table.set_index(["measure", "crime_type"])
    row = t.loc[("No suspect identified", "Burglary")]
    ref = two_proportions(120, 200, 400, 800)
    assert row["difference"] == pytest.approx(ref["difference"] / 100)
    assert row["difference_lower"] == pytest.approx(ref["lower"] / 100)
    assert row["p_value"] == pytest.approx(ref["p_value"])
    assert row["force_share"] == pytest.approx(520 / 1000) and row["share"] == pytest.approx(0.6)
    # Holm within a measure: never below the raw p-value
    assert (oc.table["p_holm"] >= oc.table["p_value"] - 1e-12).all()
    assert bool(row["clear_difference"])  # 60% against 50%, n = 200 and 800
    o = oc.overall["No suspect identified"]
    assert o["share"] == pytest.approx(130 / 300) and o["force_share"] == pytest.approx(800 / 2000)
    assert o["difference"] == pytest.approx(two_proportions(130, 300, 670, 1700)["difference"] / 100)
    assert oc.court_share[0] == pytest.approx(10 / 300) and oc.pending_share == pytest.approx(25 / 300)


def test_compare_shares_is_nan_without_a_total():
    assert all(np.isnan(v) for v in compute.compare_shares(1, 10, 0, 0))


# ---------------------------------------------------------------------------- comparison
def _comparison_data(n_other=4):
    lads = pd.DataFrame({"lad_code": ["L1"] + [f"L{i}" for i in range(2, n_other + 2)],
                         "lad_name": "x", "csp_code": ["C1"] + [f"C{i}" for i in range(2, n_other + 2)],
                         "csp_name": ["Testford CSP"] + [f"Other {i}" for i in range(2, n_other + 2)]})
    pop = pd.Series(100_000.0, index=lads["lad_code"])
    crimes = pd.Series([900] + [600 + 20 * i for i in range(n_other)], index=lads["lad_code"])
    return compute.ComparisonData(kind="force", months=MONTHS, pfas=["P1"],
                                  all_pfas=pd.DataFrame({"pfa_code": ["P1"], "pfa_name": ["Testshire"]}),
                                  lads=lads, lad_population=pop, lad_crimes=crimes, n_unassigned=7,
                                  comparators=[compute.Comparator("other-2", name="Other 2", lad_codes=["L2"]),
                                               compute.Comparator("nowhere", error="nowhere (no valid file)")])


def test_compute_comparison_from_hand_made_frames():
    cm = compute.compute_comparison(_comparison_data(), _params())
    assert cm.available and cm.kind == "force" and len(cm.units) == 5 and cm.n_unassigned == 7
    u = cm.units
    np.testing.assert_allclose(u["rate"], u["crimes"] / (u["population"] * 3 / 12) * 1000)
    assert cm.partnership_row["name"] == "Testford" and cm.partnership_row["crimes"] == 900
    assert set(u.loc[u["is_comparator"], "name"]) == {"Other 2"}
    assert cm.comparators_missing == ["nowhere (no valid file)"]
    small = compute.compute_comparison(_comparison_data(n_other=1), _params())
    assert not small.available and small.reason.startswith("Not enough data for a funnel plot of partnerships")


def test_national_pool_and_home_pfas():
    a, b, c = MONTHS
    loaded = {a: {"x"}, b: {"x", "y"}, c: {"x", "y", "z"}}
    assert compute.national_pool(loaded) == [c]
    loaded[a] = {"x", "y", "z", "w"}
    assert compute.national_pool(loaded) == [a, c]
    fp = pd.DataFrame({"force": ["f", "f", "g"], "pfa_code": ["P1", "P2", "P3"], "n": [5, 50, 1]})
    assert compute.home_pfas(fp) == {"f": "P2", "g": "P3"}


# ---------------------------------------------------------------------------- stop and search
def _stop_search_data(placed=True, n=1200):
    rng = np.random.default_rng(7)
    groups = rng.choice(["White", "Black", "Asian", "Other", None], size=n, p=[0.6, 0.2, 0.12, 0.05, 0.03])
    loc = pd.DataFrame({
        "month": rng.choice(MONTHS, size=n), "type": rng.choice(["Person search", "Vehicle search"], n, p=[.9, .1]),
        "officer_defined_ethnicity": groups,
        "lad_code": np.where(rng.random(n) < 0.9, "L1", None) if placed else None,
        "outcome": rng.choice(["Arrest", "A no further action disposal"], n, p=[0.3, 0.7]),
        "outcome_linked_to_object": rng.random(n) < np.where(groups == "Black", 0.15, 0.3),
    })
    residents = pd.DataFrame({"group": ["White", "Black", "Asian", "Mixed", "Other"],
                              "residents": [80_000.0, 8_000.0, 12_000.0, 3_000.0, 4_000.0]})
    return compute.StopSearchData(records=loc, located=loc, notes=[], force_names=["Testshire"],
                                  population=(residents, []), force_population=(residents * [1, 3], []))


def test_compute_stop_search_from_hand_made_frames():
    p = _params()
    ss = compute.compute_stop_search(_stop_search_data(), p)
    assert ss.available and ss.scope == "partnership" and ss.area == "Testford"
    assert ss.force_area == "the Testshire force area" and ss.months == MONTHS
    t = ss.table.set_index("group")
    assert list(t.index) == ["White", "Black", "Asian", "Other", "Unknown"]
    assert t.loc["Black", "lower"] > 1  # Black people: 20% of searches, 8% of residents
    assert ss.n_vehicle_only + ss.n_person_force == 1200
    assert ss.n_unplaced > 0 and ss.force_table is not None
    assert ss.find is not None and ss.find_definition == "linked_and_action"  # NFA flagged as linked
    force = compute.compute_stop_search(_stop_search_data(placed=False), p)
    assert force.available and force.scope == "force" and force.area == "the Testshire force area"
    none = compute.compute_stop_search(compute.StopSearchData(records=pd.DataFrame()), p)
    assert not none.available and "no stop-and-search records" in none.reason


def test_ethnic_population_table_sums_total_rows_only():
    rows = pd.DataFrame({"area_code": ["L1"] * 4, "sex": ["All persons", "All persons", "Female", "Male"],
                         "ethnic_group": ["White: English", "Black: African", "White: English", "White: English"],
                         "population": [100.0, 20.0, 60.0, 40.0]})
    table, missing = compute.ethnic_population_table(rows, ["L1", "L2"])
    assert dict(zip(table["group"], table["residents"]))["White"] == 100 and missing == ["L2"]


# ---------------------------------------------------------------------------- charts, wording, tables
def test_charts_and_wording_work_from_results_without_a_ctx():
    p = _params()
    ss = compute.compute_stop_search(_stop_search_data(), p)
    pl = compute.compute_places(_places_data())
    cm = compute.compute_comparison(_comparison_data(), p)
    oc = compute.compute_outcomes(compute.OutcomesData(months=MONTHS, force_names=["Testshire"],
                                                       counts=_outcome_counts()), p)
    v = tables.search_table(ss.table, p.small_number_threshold)
    fv = tables.find_table(ss.find, p.small_number_threshold)
    figs = [charts.rate_chart(ss.table, ~v.rows, "Testford"), charts.find_chart(ss.find, ~fv.rows, "Testford"),
            charts.lsoa_funnel_chart(pl, p.name), charts.deprivation_chart(pl.decile_table, p.name),
            charts.comparison_chart(cm, p.name),
            charts.outcome_chart(oc.table[oc.table["measure"] == "No suspect identified"], p.name, oc.force_area)]
    try:
        assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
        assert figs[0].axes[0].get_title() == "Stop and search rate by ethnic group, Testford"
    finally:
        for f in figs:
            plt.close(f)
    bullets, missing = wording.stop_search_summary(ss, p)
    assert bullets[0].startswith("**Stop and search (Testford, 3 months (Jan 2024 to Mar 2024)):**")
    assert "Black people **" in bullets[0] and not missing[:1] == ["Stop and search"]
    assert "In all, " in wording.places_intro(pl) and "per 1,000 a year" in wording.places_intro(pl)
    assert wording.partnership_sentence(cm, p.name).startswith("Testford: ")
    assert wording.comparators_sentence(cm).endswith("Named comparators not among the areas compared: "
                                                     "nowhere (no valid file).")
    assert "ended with no suspect identified" in wording.no_suspect_sentence(oc, p.name)
    assert wording.charged_sentence(oc, p.name, headline=True).count("(latest published outcome)") == 1
    text = wording.summary_text([wording.places_summary(pl), wording.comparison_summary(cm),
                                 wording.outcomes_summary(oc)], [])
    assert text.startswith("## Summary\n\n- **Places:**") and "Missing" not in text
    assert tables.lsoa_rates_table(pl.lsoa)["Crimes per 1,000 a year"].is_monotonic_decreasing
    assert list(tables.partnerships_table(cm.units)["Rank (highest rate first)"]) == [1, 2, 3, 4, 5]


def test_old_names_still_work():
    assert sec._pct(0.1234) == "12.3%" and sec._cap("aSB") == "ASB"
    assert sec.places_analysis is compute.places_analysis and sec.suppress_people is tables.suppress_people
    assert sec.dispersion_sentence is wording.dispersion_sentence
    for name in ("analyse", "summary", "stop_search_section", "places_section", "comparison_section",
                 "outcomes_section", "DisproportionalityResults", "ethnic_population", "NATIONAL_MIN_FORCES"):
        assert hasattr(sec, name), name
