"""Tests for csp_analysis.disproportionality.

References used:
* GOV.UK Ethnicity facts and figures, stop and search 2009/10-2019/20
  (../shared/public-datasets/stop_search_disproportionality_eff): published rates per 1,000 and the
  2019/20 Black/White ratio (54.11 / 6.11 = 8.9 to one decimal);
* Census 2021 TS021 table (../shared/data/population): Barnsley total 244,575 (data README);
* data.police.uk stop-and-search files (../shared/data/police_uk/stop_and_search);
* seeded simulations with planted effects (coverage ~95%).
"""
from __future__ import annotations

import glob
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from csp_analysis import disproportionality as dp
from csp_analysis import funnels
from csp_analysis.disproportionality import (
    broad_ethnic_group,
    census_population_by_broad_group,
    deprivation_gradient,
    find_rate_by_group,
    location_quotients,
    relative_rate_index,
    share_of_burden,
    suppress_small_numbers,
)
from csp_analysis.rates import proportion_ci, rate_ci, rate_ratio

SS_FILE = "stop_search_disproportionality_eff/stop_and_search_by_ethnicity_EW_2009-2020.csv"
COUNT, POP, RATE = "Number of stop and searches", "Population", "Rate per 1,000 population"


def _round_half_up(x: float, places: int = 2) -> float:
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


@pytest.fixture(scope="module")
def stop_search(public_datasets):
    return pd.read_csv(public_datasets / SS_FILE)


# ---------------------------------------------------------------------------
# acceptance 2: national stop and search rates and the Black/White ratio
# ---------------------------------------------------------------------------
def test_stop_search_published_rates_reproduced_exactly(stop_search):
    checked = 0
    for year, rows in stop_search.groupby("Time"):
        # 'Unreported' is listed twice and without population: keep one copy (it is unknown)
        rows = rows.drop_duplicates()
        rows = rows[(rows["Ethnicity"] != "All") & rows[COUNT].notna()]
        if rows.empty:
            continue
        got = relative_rate_index(rows, "Ethnicity", COUNT, POP, reference="White")
        merged = got.merge(rows, left_on="group", right_on="Ethnicity")
        merged = merged[merged[RATE].notna()]
        ours = merged["rate"].map(_round_half_up)
        assert (ours == merged[RATE]).all(), merged.loc[ours != merged[RATE], ["group", "rate", RATE]]
        checked += len(merged)
        unknown = got[got["unknown"]]
        assert unknown["group"].tolist() == ["Unreported"]
        assert unknown["count"].iloc[0] == rows.loc[rows["Ethnicity"] == "Unreported", COUNT].iloc[0]
    published = stop_search[(stop_search["Ethnicity"] != "All") & stop_search[RATE].notna()]
    assert checked == len(published)  # every published group rate was checked


def test_stop_search_2019_20_black_white_ratio(stop_search):
    y = stop_search[stop_search["Time"] == "2019/20"].drop_duplicates()
    y = y[y["Ethnicity"].isin(["White", "Black", "Asian", "Mixed", "Other", "Unreported"])]
    got = relative_rate_index(y, "Ethnicity", COUNT, POP, reference="White", action="were searched").set_index("group")
    black = got.loc["Black"]
    published = y.set_index("Ethnicity")[RATE]
    assert round(black["ratio"], 1) == 8.9
    assert round(black["ratio"], 1) == round(published["Black"] / published["White"], 1)
    assert black["lower"] < black["ratio"] < black["upper"]
    assert black["sentence"] == "Black people were searched at 8.9 times the rate of White people (95% CI 8.8 to 8.9)."
    # unknowns: 195,550 searches (29.6%) reported and used only for the bounds
    assert got.loc["Unreported", "unknown"]
    assert got.loc["Black", "share_unknown"] == pytest.approx(195550 / y[COUNT].sum())
    assert black["ratio_if_no_unknown"] < black["ratio"] < black["ratio_if_all_unknown"]
    # excess: searches of Black people beyond the White rate
    assert black["excess"] == pytest.approx(96905 - 1790793 * 280661 / 45961272)
    assert got.loc["White", "ratio"] == 1 and np.isnan(got.loc["White", "lower"])


def test_relative_rate_index_unknown_bounds_by_hand():
    d = pd.DataFrame(
        {"eth": ["A", "B", "Not stated", None, "B"], "n": [10, 30, 4, 6, 10], "pop": [1000, 2000, np.nan, np.nan, 0]}
    )
    got = relative_rate_index(d, "eth", "n", "pop", reference="A").set_index("group")
    # B: 40 events / 2000; A: 10 / 1000; U = 10 unknown (Not stated + missing)
    assert got.loc["B", "ratio"] == pytest.approx((40 / 2000) / (10 / 1000))
    assert got.loc["B", "ratio_if_all_unknown"] == pytest.approx((50 / 2000) / (10 / 1000))
    assert got.loc["B", "ratio_if_no_unknown"] == pytest.approx((40 / 2000) / (20 / 1000))
    assert got["unknown"].sum() == 2
    assert not got.loc["A", "small_number"]
    assert bool(got.loc["Not stated", "small_number"])


def test_relative_rate_index_rates_match_rate_ci():
    d = pd.DataFrame({"g": ["W", "B", "A"], "n": [120, 45, 7], "pop": [50000, 6000, 4000]})
    got = relative_rate_index(d, "g", "n", "pop", reference="W")
    expected = rate_ci(d["n"], d["pop"], multiplier=1000)
    np.testing.assert_allclose(got["rate_lower"], expected["lower"])
    assert got["small_number"].tolist() == [False, False, False]
    assert "could be chance" not in got.loc[1, "sentence"]


def test_relative_rate_index_recovers_planted_ratio():
    """Acceptance 3: planted rate ratio 3 between groups; CI covers the truth ~95% of reps."""
    rng = np.random.default_rng(42)
    pops = {"White": 200000.0, "Black": 8000.0, "Asian": 15000.0}
    rates = {"White": 0.002, "Black": 0.006, "Asian": 0.002}
    reps, cover, null_flags = 200, 0, 0
    for _ in range(reps):
        d = pd.DataFrame(
            {"g": list(pops), "n": [rng.poisson(pops[g] * rates[g]) for g in pops], "pop": list(pops.values())}
        )
        got = relative_rate_index(d, "g", "n", "pop").set_index("group")
        cover += got.loc["Black", "lower"] <= 3 <= got.loc["Black", "upper"]
        null_flags += got.loc["Asian", "p_value"] < 0.05
    assert 0.92 <= cover / reps <= 0.985
    assert null_flags / reps <= 0.07


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(group="nope"), "group"),
        (dict(reference="Martian"), "reference"),
        (dict(confidence=1.5), "confidence"),
    ],
)
def test_relative_rate_index_bad_input(kwargs, match):
    d = pd.DataFrame({"g": ["White", "Black"], "n": [10, 5], "pop": [100, 50]})
    args = dict(data=d, group="g", count="n", population="pop")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        relative_rate_index(**args)
    with pytest.raises(ValueError, match="population"):
        relative_rate_index(pd.DataFrame({"g": ["White", "Black"], "n": [1, 1], "pop": [10, 0]}), "g", "n", "pop")


# ---------------------------------------------------------------------------
# find rates
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def searches(shared_data):
    files = sorted(glob.glob(str(shared_data / "police_uk" / "stop_and_search" / "*" / "*.csv.gz")))
    assert files, "no stop-and-search files found"
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


@pytest.mark.realdata
def test_find_rate_on_police_data(searches):
    got = find_rate_by_group(searches, "Officer-defined ethnicity").set_index("group")
    linked = searches.dropna(subset=["Outcome linked to object of search"])
    known = linked.dropna(subset=["Officer-defined ethnicity"])
    expected_n = known["Officer-defined ethnicity"].value_counts()
    for g in ["White", "Asian", "Black", "Other"]:
        assert got.loc[g, "searches"] == expected_n[g]
        finds = (known.loc[known["Officer-defined ethnicity"] == g, "Outcome linked to object of search"]
                 .astype(str).str.lower() == "true").sum()
        assert got.loc[g, "finds"] == finds
    ci = proportion_ci(got["finds"], got["searches"])
    np.testing.assert_allclose(got["lower"], ci["lower"])
    assert got.loc["Unknown", "unknown"]
    assert got["missing_outcome"].sum() == searches["Outcome linked to object of search"].isna().sum()
    assert got.loc["White", "difference"] == 0 and np.isnan(got.loc["White", "difference_lower"])


def test_find_rate_aggregated_equals_row_level_and_planted_difference():
    rng = np.random.default_rng(5)
    reps, cover = 200, 0
    truth = 0.22 - 0.30
    lower_flag = 0
    for _ in range(reps):
        n_w, n_b = 1500, 400
        agg = pd.DataFrame(
            {"g": ["White", "Black"], "finds": [rng.binomial(n_w, 0.30), rng.binomial(n_b, 0.22)],
             "n": [n_w, n_b]}
        )
        got = find_rate_by_group(agg, "g", outcome="finds", searches="n").set_index("group")
        cover += got.loc["Black", "difference_lower"] <= truth <= got.loc["Black", "difference_upper"]
        lower_flag += "lower threshold" in got.loc["Black", "sentence"]
    assert 0.92 <= cover / reps <= 0.98
    assert lower_flag / reps > 0.8  # power is high for an 8-point gap at these sizes
    rows = pd.DataFrame({"g": ["White"] * 10 + ["Black"] * 6,
                         "linked": [True] * 4 + [False] * 6 + ["True", "False", "False", None, "True", "False"]})
    by_row = find_rate_by_group(rows, "g", outcome="linked").set_index("group")
    assert by_row.loc["Black", "searches"] == 5 and by_row.loc["Black", "finds"] == 2
    assert by_row.loc["Black", "missing_outcome"] == 1
    agg = pd.DataFrame({"g": ["White", "Black"], "f": [4, 2], "n": [10, 5]})
    by_agg = find_rate_by_group(agg, "g", outcome="f", searches="n").set_index("group")
    for col in ("value", "lower", "upper", "difference_lower", "ratio_upper", "p_value"):
        assert by_row.loc["Black", col] == pytest.approx(by_agg.loc["Black", col])
    with pytest.raises(ValueError, match="True/False"):
        find_rate_by_group(pd.DataFrame({"g": ["White"], "linked": ["maybe"]}), "g", outcome="linked")


# ---------------------------------------------------------------------------
# location quotients
# ---------------------------------------------------------------------------
def test_location_quotient_by_hand_and_zero():
    d = pd.DataFrame({"area": ["a", "b", "c"], "c": [30, 10, 0], "t": [100, 200, 100]})
    got = location_quotients(d, "area", "c", "t")
    assert got["value"].tolist() == pytest.approx([(30 / 100) / (40 / 400), (10 / 200) / (40 / 400), 0.0])
    assert got.loc[2, "lower"] == 0 and got.loc[2, "upper"] > 0
    assert {"value", "lower", "upper", "confidence", "method"} <= set(got.columns)
    with pytest.raises(ValueError, match="total"):
        location_quotients(pd.DataFrame({"area": ["a"], "c": [5], "t": [3]}), "area", "c", "t")


def test_location_quotient_coverage_with_dominant_area():
    """Planted LQs; area 0 has a raised share and area 1 is 40% of all crime."""
    rng = np.random.default_rng(2003)
    t = np.array([3000, 30000, 6000, 8000, 10000, 4000, 5000, 7000, 2000, 2000])
    p = np.full(10, 0.10)
    p[0], p[1] = 0.16, 0.08
    big_p = (t * p).sum() / t.sum()
    truth = p / big_p
    reps = 250
    cover = np.zeros(10)
    cover_naive_big = 0
    for _ in range(reps):
        c = rng.binomial(t, p)
        d = pd.DataFrame({"area": range(10), "c": c, "t": t})
        got = location_quotients(d, "area", "c", "t")
        cover += (got["lower"].to_numpy() <= truth) & (truth <= got["upper"].to_numpy())
        naive = location_quotients(d, "area", "c", "t", wider_count=c.sum(), wider_total=t.sum(), within=False)
        cover_naive_big += naive.loc[1, "lower"] <= truth[1] <= naive.loc[1, "upper"]
    assert np.all(cover / reps >= 0.92) and np.all(cover / reps <= 0.985)
    assert cover_naive_big / reps > 0.99  # ignoring the overlap makes the interval too wide


# ---------------------------------------------------------------------------
# deprivation gradient
# ---------------------------------------------------------------------------
def _lsoa_data(rng, beta=np.log(1.1), sd=0.1, per_decile=30):
    dec = np.repeat(np.arange(1, 11), per_decile)
    pop = np.full(len(dec), 1500.0)
    step = 10 - dec  # 0 = least deprived (decile 10)
    y = rng.poisson(pop * 0.05 * np.exp(beta * step + rng.normal(0, sd, len(dec))))
    return pd.DataFrame({"decile": dec, "crimes": y, "pop": pop})


def test_deprivation_gradient_recovers_planted_slope_and_rii():
    rng = np.random.default_rng(1997)
    reps = 150
    cover_slope = cover_rii = 0
    rii_truth = 1.1**10  # equal populations: ridit = (step + 0.5) / 10, so RII = exp(10 beta)
    for _ in range(reps):
        res = deprivation_gradient(_lsoa_data(rng), "decile", "crimes", "pop").summary.set_index("measure")
        s, r = res.loc["rate ratio per decile"], res.loc["relative index of inequality"]
        cover_slope += s["lower"] <= 1.1 <= s["upper"]
        cover_rii += r["lower"] <= rii_truth <= r["upper"]
    assert 0.9 <= cover_slope / reps <= 0.99
    assert 0.9 <= cover_rii / reps <= 0.99


def test_deprivation_gradient_tables_and_orientation():
    rng = np.random.default_rng(8)
    d = _lsoa_data(rng)
    res = deprivation_gradient(d, "decile", "crimes", "pop")
    table = res.by_decile
    assert table["decile"].tolist() == list(range(1, 11))  # most deprived first
    agg = d.groupby("decile")[["crimes", "pop"]].sum()
    expected = rate_ci(agg["crimes"], agg["pop"])
    np.testing.assert_allclose(table["value"], expected["value"])
    np.testing.assert_allclose(table["ridit"], np.arange(0.95, 0, -0.1))
    assert res.summary["sentence"].iloc[0].startswith("Rates rise with deprivation")
    # reversing the coding (10 = most deprived) gives the same answer
    flipped = d.assign(decile=11 - d["decile"])
    res2 = deprivation_gradient(flipped, "decile", "crimes", "pop", most_deprived=10)
    np.testing.assert_allclose(res2.summary["value"], res.summary["value"])
    with pytest.raises(ValueError, match="most_deprived"):
        deprivation_gradient(d, "decile", "crimes", "pop", most_deprived=5)


# ---------------------------------------------------------------------------
# share of burden
# ---------------------------------------------------------------------------
def test_share_of_burden_by_hand():
    d = pd.DataFrame({"lsoa": list("abcdefghij"), "n": [50, 5, 5, 5, 5, 5, 5, 5, 5, 8],
                      "pop": [1000] * 9 + [2000]})
    got = share_of_burden(d, "lsoa", "n", "pop", top_fraction=0.2).iloc[0]
    # rates: a 0.05, b..i 0.005 (tied: first in order wins), j 0.004 -> top 2 by rate: a, b
    assert got["n_top"] == 2 and got["top_places"] == ["a", "b"]
    assert got["share_of_count"] == pytest.approx(55 / 98)
    assert got["share_of_population"] == pytest.approx(2000 / 11000)
    by_count = share_of_burden(d, "lsoa", "n", "pop", top_fraction=0.2, rank_by="count").iloc[0]
    assert by_count["top_places"] == ["a", "j"]
    assert by_count["share_of_count"] == pytest.approx(58 / 98)
    equal = share_of_burden(pd.DataFrame({"p": range(10), "n": [10] * 10, "pop": [100] * 10}), "p", "n", "pop")
    assert equal.iloc[0]["concentration"] == pytest.approx(1.0)
    assert "(2 of 10) had 56.1% of the crime but 18.2% of residents" in got["sentence"]
    with pytest.raises(ValueError, match="top_fraction"):
        share_of_burden(d, "lsoa", "n", "pop", top_fraction=0)


# ---------------------------------------------------------------------------
# ethnicity mapping
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label, broad",
    [
        ("Asian, Asian British or Asian Welsh: Bangladeshi", "Asian"),
        ("Asian, Asian British or Asian Welsh: Chinese", "Asian"),
        ("White: Roma", "White"),
        ("White: English, Welsh, Scottish, Northern Irish or British", "White"),
        ("Other ethnic group: Arab", "Other"),
        ("Black, Black British, Black Welsh, Caribbean or African: Other Black", "Black"),
        ("Mixed or Multiple ethnic groups: White and Black Caribbean", "Mixed"),
        ("White - English/Welsh/Scottish/Northern Irish/British", "White"),
        ("Asian/Asian British - Pakistani", "Asian"),
        ("Black/African/Caribbean/Black British - Any other Black/African/Caribbean background", "Black"),
        ("Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background", "Mixed"),
        ("Other ethnic group - Arab", "Other"),
        ("Other ethnic group - Not stated", "Unknown"),
        ("Other", "Other"),
        ("black", "Black"),
        ("Black Caribbean", "Black"),
        (None, "Unknown"),
        (np.nan, "Unknown"),
        ("Unreported", "Unknown"),
    ],
)
def test_broad_ethnic_group(label, broad):
    assert broad_ethnic_group(label) == broad


def test_broad_ethnic_group_series_and_errors():
    s = pd.Series(["White", "Asian/Asian British - Indian", None], index=[10, 11, 12])
    got = broad_ethnic_group(s)
    assert got.tolist() == ["White", "Asian", "Unknown"] and list(got.index) == [10, 11, 12]
    with pytest.raises(ValueError, match="Martian"):
        broad_ethnic_group("Martian")
    assert broad_ethnic_group("Martian", errors="unknown") == "Unknown"


@pytest.mark.realdata
def test_police_self_defined_labels_all_map(searches):
    got = broad_ethnic_group(searches["Self-defined ethnicity"])
    assert set(got) <= {"White", "Black", "Asian", "Mixed", "Other", "Unknown"}
    not_stated = (searches["Self-defined ethnicity"] == "Other ethnic group - Not stated").sum()
    assert (got == "Unknown").sum() == not_stated + searches["Self-defined ethnicity"].isna().sum()
    officer = broad_ethnic_group(searches["Officer-defined ethnicity"])
    assert "Mixed" not in set(officer)  # officer-defined ethnicity has no Mixed group


@pytest.mark.realdata
def test_census_population_by_broad_group(shared_data):
    wide = pd.read_csv(shared_data / "population" / "census2021_ethnic_group_19cat_by_sex_lad_region.csv")
    long = census_population_by_broad_group(wide)
    assert list(long.columns) == ["geography_code", "geography_name", "broad_group", "population"]
    assert long.groupby("geography_code").size().eq(5).all()
    barnsley = long[long["geography_code"] == "E08000016"].set_index("broad_group")["population"]
    assert barnsley.sum() == 244575  # data README: Barnsley 244,575 in this table
    cats = wide.columns[3:]
    assert long["population"].sum() == wide[cats].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy().sum()
    # independent sum for Barnsley's Black population: the three Black columns, both sexes
    black_cols = [c for c in cats if c.startswith("Black, Black British")]
    assert len(black_cols) == 3
    rows = wide[wide["Geography Code"] == "E08000016"]
    assert barnsley["Black"] == rows[black_cols].fillna(0).to_numpy().sum()
    focus = pd.read_csv(shared_data / "geography" / "focus_csps.csv")
    for _, lad in focus.iterrows():
        total = long.loc[long["geography_code"] == lad["LAD17CD"], "population"].sum()
        assert abs(total - lad["census2021_usual_residents"]) <= 15  # rounding in the ethnic-group table
    with pytest.raises(ValueError, match="missing columns"):
        census_population_by_broad_group(wide.drop(columns="Sex"))


# ---------------------------------------------------------------------------
# small-number suppression
# ---------------------------------------------------------------------------
def _recoverable(values: np.ndarray, mask: np.ndarray, rows: bool = True, cols: bool = True) -> list:
    """Suppressed cells that are uniquely determined by row and/or column totals (linear algebra)."""
    idx = list(zip(*np.where(mask)))
    if not idx:
        return []
    constraints = []
    if rows:
        for i in range(mask.shape[0]):
            constraints.append([1.0 if r == i else 0.0 for r, _ in idx])
    if cols:
        for j in range(mask.shape[1]):
            constraints.append([1.0 if c == j else 0.0 for _, c in idx])
    a = np.array(constraints)
    rank = np.linalg.matrix_rank(a)
    out = []
    for k, cell in enumerate(idx):
        e = np.zeros(len(idx))
        e[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(cell)
    return out


def test_suppression_primary_and_secondary():
    tab = pd.DataFrame({"A": [10, 12, 0], "B": [3, 15, 25], "C": [20, 18, 4]}, index=["r1", "r2", "r3"])
    out, mask = suppress_small_numbers(tab)
    # primary: 3 and 4; zero shown; 5+ shown unless secondary
    assert mask.loc["r1", "B"] and mask.loc["r3", "C"] and not mask.loc["r3", "A"]
    assert out.loc["r1", "B"] == "[c]" and out.loc["r3", "A"] == 0
    assert (mask.sum(axis=1) != 1).all() and (mask.sum(axis=0) != 1).all()
    assert _recoverable(tab.to_numpy(float), mask.to_numpy()) == []
    # the original is not modified
    assert tab.loc["r1", "B"] == 3


def test_suppression_options():
    tab = pd.DataFrame({"area": ["x", "y", "z", "Total"], "m": [0, 7, 2, 9], "f": [6, 8, 9, 23],
                        "all": [6, 15, 11, 32]}).set_index("area")
    out, mask = suppress_small_numbers(tab, columns=["m", "f"], total_row="Total", total_column="all", marker=None)
    assert not mask.loc["Total"].any() and not mask["all"].any()
    assert np.isnan(out.loc["z", "m"]) and out["m"].dtype.kind == "f"
    assert _recoverable(tab.loc[["x", "y", "z"], ["m", "f"]].to_numpy(float), mask.loc[["x", "y", "z"], ["m", "f"]]
                        .to_numpy()) == []
    # zeros suppressed only on request; threshold respected
    _, m0 = suppress_small_numbers(tab, columns=["m"], secondary=False, total_row="Total", suppress_zeros=True)
    assert m0.loc["x", "m"] and m0.loc["z", "m"] and not m0.loc["y", "m"]
    _, m10 = suppress_small_numbers(tab, columns=["m", "f"], threshold=10, secondary=False, total_row="Total")
    assert m10.loc[["y", "z"], "m"].all() and m10.loc["x", "f"] and not m10.loc["x", "m"]
    with pytest.raises(ValueError, match="non-negative"):
        suppress_small_numbers(pd.DataFrame({"a": [-1, 3]}))
    with pytest.raises(ValueError, match="total_row"):
        suppress_small_numbers(tab, total_row="Grand total")


def test_suppression_random_tables_never_recoverable():
    rng = np.random.default_rng(0)
    for _ in range(40):
        vals = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40], size=(5, 4), p=[.1, .1, .1, .1, .1, .1, .1, .15, .15])
        tab = pd.DataFrame(vals, columns=list("abcd"))
        _, mask = suppress_small_numbers(tab)
        m = mask.to_numpy()
        primary = (vals >= 1) & (vals < 5)
        assert m[primary].all()
        assert _recoverable(vals.astype(float), m) == []
        assert (m.sum(axis=1) != 1).all() and (m.sum(axis=0) != 1).all()


def test_suppression_single_column_table():
    """One column (as report tables often are): only the column total matters."""
    tab = pd.DataFrame({"n": [12, 3, 40, 7, 0]}, index=list("abcde"))
    out, mask = suppress_small_numbers(tab, ["n"])
    assert mask["n"].tolist() == [False, True, False, True, False]  # 3 plus the next smallest non-zero (7)
    assert out.loc["a", "n"] == 12 and out.loc["e", "n"] == 0


def test_suppression_protects_a_bridging_cell():
    """Two blocks joined by one cell: every line has two suppressed cells, yet the bridge is
    determined by the totals; the audit step must add a complementary suppression."""
    vals = np.array(
        [
            [2, 3, 50, 60, 70],
            [3, 2, 4, 80, 90],
            [50, 60, 3, 2, 95],
            [70, 80, 2, 3, 99],
        ]
    )
    tab = pd.DataFrame(vals, columns=list("abcde"))
    primary = (vals >= 1) & (vals < 5)
    assert _recoverable(vals.astype(float), primary) != []  # the simple rule alone is not enough
    assert (primary.sum(axis=1) != 1).all() and (primary.sum(axis=0) != 1).all()
    _, mask = suppress_small_numbers(tab)
    assert mask.to_numpy()[primary].all()
    assert _recoverable(vals.astype(float), mask.to_numpy()) == []


# ---------------------------------------------------------------------------
# re-exports and acceptance 3 (funnel null)
# ---------------------------------------------------------------------------
def test_funnel_functions_reexported():
    assert dp.funnel_limits is funnels.funnel_limits
    assert dp.funnel_outliers is funnels.funnel_outliers


def test_funnel_null_flags_about_five_percent_at_95():
    rng = np.random.default_rng(123)
    rates = []
    for _ in range(30):
        e = rng.uniform(30, 3000, 150)
        rates.append(dp.funnel_outliers(rng.poisson(e), e, confidence=0.95)["outlier"].mean())
    assert 0.035 <= np.mean(rates) <= 0.065


def test_deprivation_decile_intervals_allow_for_overdispersion():
    """Over-dispersed LSOA counts with no true gradient: the decile-factor quasi-Poisson
    ratio intervals (each decile against the least deprived) cover 1 about 95% of the time,
    and the adjusted rate intervals cover the true rate; Poisson intervals on the decile
    totals do not."""
    rng = np.random.default_rng(2019)
    reps, per_decile, base = 200, 30, 0.05
    dec = np.repeat(np.arange(1, 11), per_decile)
    cover_ratio = cover_rate = cover_poisson = n_ratio = n_rate = 0
    dispersions = []
    for _ in range(reps):
        pop = rng.uniform(1200, 2000, len(dec))
        mult = rng.gamma(4.0, 1 / 4.0, len(dec))  # mean 1: no gradient, heavy extra variation
        y = rng.poisson(pop * base * mult)
        res = deprivation_gradient(pd.DataFrame({"decile": dec, "crimes": y, "pop": pop}), "decile", "crimes",
                                   "pop", multiplier=1)
        bd = res.by_decile
        others = bd.iloc[:-1]  # the last row is the least deprived decile (the reference)
        cover_ratio += int(((others["ratio_lower"] <= 1) & (1 <= others["ratio_upper"])).sum())
        n_ratio += len(others)
        cover_rate += int(((bd["rate_lower_adjusted"] <= base) & (base <= bd["rate_upper_adjusted"])).sum())
        n_rate += len(bd)
        ref = bd.iloc[-1]
        rr = rate_ratio(others["count"], others["population"], ref["count"], ref["population"])
        cover_poisson += int(((rr["lower"] <= 1) & (1 <= rr["upper"])).sum())
        dispersions.append(bd["dispersion"].iloc[0])
    assert 0.9 <= cover_ratio / n_ratio <= 0.99
    assert 0.9 <= cover_rate / n_rate <= 0.99
    assert cover_poisson / n_ratio < 0.6  # the pure Poisson intervals are far too narrow here
    assert np.median(dispersions) > 10
    # the reference decile: ratio exactly 1, no interval
    assert bd.iloc[-1]["ratio"] == 1 and np.isnan(bd.iloc[-1]["ratio_lower"])


def test_deprivation_decile_ratios_match_a_statsmodels_factor_glm():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    d = _lsoa_data(rng, sd=0.3)
    res = deprivation_gradient(d, "decile", "crimes", "pop")
    fit = smf.glm("crimes ~ C(decile, Treatment(reference=10))", data=d, family=sm.families.Poisson(),
                  offset=np.log(d["pop"])).fit(scale="X2")
    bd = res.by_decile.set_index("decile")
    assert bd["dispersion"].iloc[0] == pytest.approx(fit.scale)
    ci = np.exp(fit.conf_int())
    for k in range(1, 10):
        name = f"C(decile, Treatment(reference=10))[T.{k}]"
        assert bd.loc[k, "ratio"] == pytest.approx(np.exp(fit.params[name]))
        assert bd.loc[k, "ratio_lower"] == pytest.approx(ci.loc[name, 0])
        assert bd.loc[k, "ratio_upper"] == pytest.approx(ci.loc[name, 1])


def test_wording_helpers_have_public_names():
    # issue 15.4: the sections use these; the private names stay as aliases
    from csp_analysis import disproportionality as dp

    assert dp._who is dp.describe_group and dp._fmt_ratio is dp.format_ratio
    assert dp.describe_group("Mixed") == "people of Mixed ethnicity"
    assert dp.describe_group("Black", start=True) == "Black people"
    assert dp.format_ratio(8.94) == "8.9" and dp.format_ratio(0.5) == "0.50"
    assert dp.format_ratio(float("inf")) == "infinite" and dp.format_ratio(float("nan")) == "n/a"
