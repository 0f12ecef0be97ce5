"""Tests for the statistics on local indicators.

The published figures of the Barnsley Safeguarding Children Partnership annual
report 2022/23 are reproduced by computation from the counts transcribed in
``data/local/barnsley_safeguarding_2022_23.csv``; intervals and tests are checked
against independent formulae (closed-form Wilson, brute-force exact tests,
log-normal approximations).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csp_analysis.local_indicators import COLUMNS, read_local_indicators, select_indicator
from csp_analysis.local_stats import (
    before_after,
    compare_with_comparators,
    indicator_change,
    indicator_proportions,
    monthly_year_on_year,
    two_proportions,
)

REPO = Path(__file__).resolve().parents[1]
BARNSLEY = REPO / "data" / "local" / "barnsley_safeguarding_2022_23.csv"
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return read_local_indicators(BARNSLEY)


def wilson(x: float, n: float, z: float = Z) -> tuple[float, float]:
    """Closed-form Wilson score limits (PHE Technical Guide formula)."""
    p = x / n
    centre = (2 * x + z**2) / (2 * (n + z**2))
    half = z * math.sqrt(z**2 + 4 * x * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


def exact_binom_two_sided(x: int, n: int, p0: float) -> float:
    """Two-sided exact binomial p-value by brute force (R's binom.test convention)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p0)
    return float(min(1.0, pmf[pmf <= pmf[x] * (1 + 1e-7)].sum()))


def frame(tmp_path: Path, rows: list[dict]) -> pd.DataFrame:
    """A validated local-indicators frame from a few rows."""
    base = {"partnership": "riverton", "indicator": "x", "indicator_label": "X", "period_type": "month",
            "unit": "count", "denominator": "", "group": "", "comparator": "", "comparator_value": "",
            "counts_children": "true", "source": "test"}
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**base, **r})
    return read_local_indicators(path)


# --------------------------------------------------------------------------- change in counts


def test_referrals_rise_of_11_3_percent_is_reproduced_from_the_counts(df):
    out = indicator_change(df, "referrals", "2022/23", "2021/22")
    assert len(out) == 1
    r = out.iloc[0]
    assert (r["previous"], r["current"], r["difference"]) == (2815, 3133, 318)
    published = select_indicator(df, "referrals_percent_change")["value"].iloc[0]
    assert published == 11.3
    assert round(r["percent_change"], 1) == published
    # independent check of the interval: log-normal approximation agrees closely for large counts
    se = math.sqrt(1 / 3133 + 1 / 2815)
    lo, hi = math.exp(math.log(3133 / 2815) - Z * se), math.exp(math.log(3133 / 2815) + Z * se)
    assert r["lower"] == pytest.approx(lo, abs=1e-3) and r["upper"] == pytest.approx(hi, abs=1e-3)
    assert r["p_value"] < 0.001
    assert r["sentence"].startswith("Referrals received into the Integrated Front Door, 2021/22 to 2022/23: "
                                    "rose 11.3% (95% CI")
    assert "from 2,815 to 3,133" in r["sentence"]


def test_change_by_group_reports_groups_missing_in_one_period(df):
    out = indicator_change(df, "referrals_by_source", "2022/23", "2021/22").set_index("group")
    assert round(out.loc["Schools/Education", "percent_change"], 1) == 40.6  # 480 -> 675
    assert round(out.loc["Police", "percent_change"], 1) == round((852 / 821 - 1) * 100, 1)
    assert math.isnan(out.loc["Health", "percent_change"])
    assert "no figure is published for the previous period" in out.loc["Health", "sentence"]


def test_children_in_need_month_by_month(df):
    out = monthly_year_on_year(df, "children_in_need", "2022/23", "2021/22")
    assert out["month"].tolist() == ["June", "July", "August", "September", "October", "November",
                                     "December", "January", "February", "March"]
    june = out.iloc[0]
    assert (june["previous_period"], june["current_period"]) == ("2021-06", "2022-06")
    assert (june["previous"], june["current"]) == (2059, 1418)
    assert june["percent_change"] == pytest.approx((1418 / 2059 - 1) * 100)
    assert "fell 31.1%" in june["sentence"]
    feb = out.set_index("month").loc["February"]
    assert feb["p_value"] > 0.5 and "could be chance" in feb["sentence"]


def test_change_suppresses_small_counts_of_children(df):
    out = indicator_change(df, "children_in_need_by_category", "2022/23", "2021/22").set_index("group")
    low = out.loc["Low income"]  # 1 -> 2
    assert low["suppressed"] and math.isnan(low["current"]) and math.isnan(low["p_value"])
    assert "suppressed" in low["sentence"] and "2" not in low["sentence"].split(":")[1]
    assert not out.loc["Abuse or neglect", "suppressed"]
    off = indicator_change(df, "children_in_need_by_category", "2022/23", "2021/22", small_number_threshold=0)
    assert not off["suppressed"].any()


def test_change_errors(df):
    with pytest.raises(ValueError, match="unit count"):
        indicator_change(df, "re_referrals_within_12_months", "2022/23", "2021/22")
    with pytest.raises(KeyError, match="no figure for period '2023/24'; it has: 2021/22, 2022/23"):
        indicator_change(df, "referrals", "2023/24", "2022/23")
    with pytest.raises(KeyError, match="not found"):
        indicator_change(df, "no_such_indicator", "2022/23", "2021/22")


# --------------------------------------------------------------------------- proportions


PUBLISHED_SHARES = {
    # table 'Referral source as % of total referrals' (percentages printed beside the counts)
    ("2022/23", "Police"): 27.2,
    ("2022/23", "Schools/Education"): 21.5,
    ("2022/23", "Health"): 14.4,
    ("2021/22", "Police"): 29.2,
}


def test_referral_source_shares_reproduce_the_published_percentages(df):
    out = indicator_proportions(df, "referrals_by_source").set_index(["period", "group"])
    for key, published in PUBLISHED_SHARES.items():
        assert round(out.loc[key, "percent"], 1) == published, key
    police = out.loc[("2022/23", "Police")]
    assert (police["numerator"], police["denominator"]) == (852, 3133)
    # printed as '17% (480)': 480 / 2,815 = 17.05%, which agrees at the precision printed (0 dp) but is
    # 17.1% to 1 dp -- a difference of printing precision only
    schools_2122 = out.loc[("2021/22", "Schools/Education"), "percent"]
    assert round(schools_2122) == 17 and round(schools_2122, 1) == 17.1
    # the chart's whole percentages agree with the table's counts
    chart = select_indicator(df, "referral_source_share").set_index("group")["value"]
    for group in ("Police", "Schools/Education", "Health"):
        assert round(out.loc[("2022/23", group), "percent"]) == chart[group]


def test_proportions_use_wilson_intervals(df):
    out = indicator_proportions(df, "referrals_by_source").set_index(["period", "group"])
    lo, hi = wilson(852, 3133)
    assert out.loc[("2022/23", "Police"), "lower"] == pytest.approx(100 * lo, abs=1e-9)
    assert out.loc[("2022/23", "Police"), "upper"] == pytest.approx(100 * hi, abs=1e-9)
    assert out.loc[("2022/23", "Police"), "sentence"] == (
        "Referrals by source (Police), 2022/23: 852 of 3,133, 27.2% (95% confidence interval 25.7% to 28.8%).")


def test_percentages_with_a_denominator_use_the_implied_count(df):
    out = indicator_proportions(df, "re_referrals_within_12_months").set_index("period")
    r = out.loc["2022/23"]
    assert r["implied_numerator"] and r["numerator"] == round(0.206 * 3133) == 645
    lo, hi = wilson(645, 3133)
    assert r["lower"] == pytest.approx(100 * lo) and r["upper"] == pytest.approx(100 * hi)
    assert "20.6% of 3,133" in r["sentence"] and "from the published percentage" in r["sentence"]


@pytest.mark.filterwarnings("ignore:Control limits from only")
def test_return_home_interviews_proportions_and_p_chart(df):
    out = indicator_proportions(df, "rhi_completed_within_72_hours", improvement="increase").set_index("period")
    assert len(out) == 12
    aug = out.loc["2022-08"]
    assert math.isnan(aug["percent"]) and "no denominator is recorded" in aug["sentence"]
    april = out.loc["2022-04"]
    assert april["percent"] == pytest.approx(100 * 42 / 53)
    assert april["sentence"].startswith("Return home interviews completed within 72 hours, April 2022: 42 of 53, 79.2%")
    # p-chart on the 11 months with a denominator: centre = sum x / sum n, limits p +/- 3 sqrt(p(1-p)/n)
    assert not aug["in_chart"] and out["in_chart"].sum() == 11
    chart = out[out["in_chart"]]
    pbar = chart["numerator"].sum() / chart["denominator"].sum()
    assert pbar == pytest.approx(436 / 617)
    assert chart["chart_centre"].to_numpy() == pytest.approx(100 * pbar)
    sigma = np.sqrt(pbar * (1 - pbar) / chart["denominator"].to_numpy())
    assert chart["chart_upper"].to_numpy() == pytest.approx(100 * (pbar + 3 * sigma))
    assert chart["chart_lower"].to_numpy() == pytest.approx(100 * (pbar - 3 * sigma))
    assert not chart["chart_special_cause"].any()
    assert "March 2023" in out.attrs["p_chart_sentences"][0]


def test_proportions_suppress_small_counts_of_children(df):
    out = indicator_proportions(df, "child_deaths_reviewed_by_place")
    assert out["suppressed"].all() and out["numerator"].isna().all() and out["percent"].isna().all()
    assert out["sentence"].str.contains("suppressed").all()
    cp = indicator_proportions(df, "child_protection_plans_by_category")
    assert not cp["suppressed"].any()
    assert cp["numerator"].sum() == 701


# --------------------------------------------------------------------------- comparators


def test_referral_sources_against_statistical_neighbours_and_national_average(df):
    out = compare_with_comparators(df, "referrals_by_source", "2022/23")
    assert len(out) == 6  # three sources x two comparators
    assert set(out["comparator_period"]) == {"2021/22"}  # the latest comparators, an earlier year
    out = out.set_index(["group", "comparator"])
    expected_props = {
        ("Police", "Statistical neighbours"): (852, 0.317), ("Police", "National average (England)"): (852, 0.295),
        ("Schools/Education", "Statistical neighbours"): (675, 0.154),
        ("Schools/Education", "National average (England)"): (675, 0.199),
        ("Health", "Statistical neighbours"): (452, 0.132), ("Health", "National average (England)"): (452, 0.148),
    }
    for key, (x, p0) in expected_props.items():
        r = out.loc[key]
        assert r["numerator"] == x and r["denominator"] == 3133
        assert r["comparator_percent"] == pytest.approx(100 * p0)
        assert r["expected"] == pytest.approx(3133 * p0)
        assert r["p_value"] == pytest.approx(exact_binom_two_sided(x, 3133, p0), rel=1e-6)
    # Holm adjustment over the six tests, computed by hand
    p = out["p_value"].to_numpy()
    order = np.argsort(p)
    holm = np.empty(6)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (6 - rank) * p[i]))
        holm[i] = running
    assert out["p_value_holm"].to_numpy() == pytest.approx(holm)
    police_sn = out.loc[("Police", "Statistical neighbours")]
    assert police_sn["difference_points"] == pytest.approx(100 * 852 / 3133 - 31.7)
    s = police_sn["sentence"]
    assert s.startswith("Referrals by source (Police), 2022/23: 852 of 3,133, 27.2%")
    assert "against 31.7% for Statistical neighbours in 2021/22: 4.5 percentage points lower" in s
    assert "unlikely to be chance" in s and "an earlier period than 2022/23" in s
    health_nat = out.loc[("Health", "National average (England)"), "sentence"]
    assert "0.4 percentage points lower" in health_nat and "could be chance" in health_nat


def test_comparators_like_for_like_year(df):
    out = compare_with_comparators(df, "referrals_by_source", "2021/22").set_index(["group", "comparator"])
    assert len(out) == 4  # Health 2021/22 is not published
    r = out.loc[("Police", "National average (England)")]
    assert r["p_value"] == pytest.approx(exact_binom_two_sided(821, 2815, 0.295), rel=1e-6)
    assert "earlier period" not in r["sentence"]


def test_re_referrals_against_the_national_average(df):
    out = compare_with_comparators(df, "re_referrals_within_12_months", "2022/23")
    r = out.iloc[0]
    assert r["implied_numerator"] and r["numerator"] == 645
    assert r["p_value"] == pytest.approx(exact_binom_two_sided(645, 3133, 0.215), rel=1e-6)
    assert r["sentence"].startswith("Re-referrals within 12 months (% of referrals), 2022/23: 20.6% of 3,133")
    assert "0.9 percentage points lower" in r["sentence"] and "could be chance" in r["sentence"]


def test_comparator_errors(df):
    with pytest.raises(KeyError, match="no comparator rows"):
        compare_with_comparators(df, "referrals", "2022/23")
    with pytest.raises(KeyError, match="no comparator figure"):
        compare_with_comparators(df, "referrals_by_source", "2022/23", comparator_period="2020/21")


# --------------------------------------------------------------------------- before / after


def test_contacts_within_24_hours_around_the_triage_change(df):
    out = before_after(df, "contacts_processed_within_24_hours", "2023-01")
    r = out.iloc[0]
    assert (r["n_before"], r["n_after"]) == (1, 2)
    assert (r["before"], r["after"], r["difference"]) == (32, 61.5, 29.5)
    assert math.isnan(r["lower"]) and math.isnan(r["p_value"])
    assert r["sentence"] == (
        "Contacts processed to conclusion within 24 hours (%): 32.0% before the change (December 2022) and an "
        "average of 61.5% after it (January 2023 to February 2023), 29.5 percentage points higher. No "
        "denominators are published, so no confidence interval or test can be given.")
    assert "three points cannot separate the change from an underlying trend" in r["caveat"]


def test_before_after_pooled_proportions(df):
    out = before_after(df, "rhi_completed_within_72_hours", "2023-01").iloc[0]
    # August has no denominator and is left out (8 months before, 3 after)
    assert (out["n_before"], out["n_after"]) == (8, 3)
    assert "Left out for want of a denominator: August 2022" in out["sentence"]
    xb, nb, xa, na = 302, 425, 134, 192
    assert out["before"] == pytest.approx(100 * xb / nb) and out["after"] == pytest.approx(100 * xa / na)
    # Newcombe hybrid score interval from closed-form Wilson limits
    pb, pa = xb / nb, xa / na
    lb, ub = wilson(xb, nb)
    la, ua = wilson(xa, na)
    d = pa - pb
    lo = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    hi = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    assert out["lower"] == pytest.approx(100 * lo) and out["upper"] == pytest.approx(100 * hi)
    # Fisher's exact test by brute force over the hypergeometric table
    k = np.arange(max(0, (xa + xb) - nb), min(na, xa + xb) + 1)
    pmf = stats.hypergeom.pmf(k, na + nb, xa + xb, na)
    obs = stats.hypergeom.pmf(xa, na + nb, xa + xb, na)
    assert out["p_value"] == pytest.approx(pmf[pmf <= obs * (1 + 1e-7)].sum(), rel=1e-6)
    assert "eleven points cannot separate the change" in out["caveat"]


def test_before_after_counts_per_period(df):
    out = before_after(df, "missing_reports_received", "2023-01").iloc[0]
    rows = select_indicator(df, "missing_reports_received")
    before = rows[rows["period_start"] < "2023-01-01"]["value"]
    after = rows[rows["period_start"] >= "2023-01-01"]["value"]
    assert out["before"] == pytest.approx(before.mean()) and out["after"] == pytest.approx(after.mean())
    ratio = after.mean() / before.mean()
    se = math.sqrt(1 / after.sum() + 1 / before.sum())
    assert out["lower"] == pytest.approx(100 * (ratio * math.exp(-Z * se) - 1), abs=0.5)
    assert out["upper"] == pytest.approx(100 * (ratio * math.exp(Z * se) - 1), abs=0.5)


def test_before_after_with_enough_points_drops_the_strong_caveat(tmp_path):
    months = pd.period_range("2021-01", "2022-12", freq="M").strftime("%Y-%m")
    rows = [{"period": m, "value": str(30 + (i >= 12) * 10), "denominator": "60"} for i, m in enumerate(months)]
    out = before_after(frame(tmp_path, rows), "x", "2022-01").iloc[0]
    assert (out["n_before"], out["n_after"]) == (12, 12)
    assert "cannot separate" not in out["caveat"] and "interrupted time-series" in out["caveat"]
    assert out["difference"] == pytest.approx(100 * (40 / 60 - 30 / 60))


def test_before_after_suppresses_small_counts(tmp_path):
    rows = [{"period": "2023-01", "value": "2", "denominator": "40"}, {"period": "2023-02", "value": "20",
                                                                     "denominator": "40"}]
    out = before_after(frame(tmp_path, rows), "x", "2023-02").iloc[0]
    assert out["suppressed"] and math.isnan(out["before"]) and "suppressed" in out["sentence"]


def test_before_after_errors(df, tmp_path):
    with pytest.raises(ValueError, match="several groups"):
        before_after(df, "referrals_by_source", "2022/23")
    with pytest.raises(ValueError, match="at least one period before"):
        before_after(df, "contacts_processed_within_24_hours", "2022-01")
    with pytest.raises(ValueError, match="not a period"):
        before_after(df, "contacts_processed_within_24_hours", "January 2023")


def test_comparator_rows_without_a_local_denominator_are_described_not_tested(tmp_path):
    base = {"period": "2022/23", "period_type": "financial_year", "unit": "percent"}
    rows = [
        {**base, "group": "A", "value": "30", "denominator": "200"},
        {**base, "group": "B", "value": "12"},
        {**base, "group": "A", "value": "", "comparator": "England", "comparator_value": "25"},
        {**base, "group": "B", "value": "", "comparator": "England", "comparator_value": "10"},
    ]
    out = compare_with_comparators(frame(tmp_path, rows), "x", "2022/23").set_index("group")
    assert out.loc["A", "numerator"] == 60
    assert out.loc["A", "p_value"] == pytest.approx(exact_binom_two_sided(60, 200, 0.25), rel=1e-6)
    assert math.isnan(out.loc["B", "p_value"]) and math.isnan(out.loc["B", "p_value_holm"])
    assert "no denominator is recorded" in out.loc["B", "sentence"]
    assert "Holm" not in out.loc["A", "sentence"]  # a single test needs no adjustment


def test_month_published_in_one_year_only_gets_a_row_saying_so(tmp_path):
    rows = [{"period": "2021-06", "value": "50"}, {"period": "2022-06", "value": "60"},
            {"period": "2022-07", "value": "70"}]
    out = monthly_year_on_year(frame(tmp_path, rows), "x", "2022/23", "2021/22")
    assert out["month"].tolist() == ["June", "July"]
    assert out.loc[0, "percent_change"] == pytest.approx(20.0)
    assert math.isnan(out.loc[1, "previous"]) and "not in 2021/22" in out.loc[1, "sentence"]


# --------------------------------------------------------------------------- review fixes


def test_change_blanks_only_the_small_count(df):
    out = indicator_change(df, "children_in_need_by_category", "2022/23", "2021/22").set_index("group")
    ns = out.loc["Not stated"]  # 2 -> 32: the 2 is hidden, the 32 is not
    assert ns["previous_suppressed"] and not ns["current_suppressed"] and ns["suppressed"]
    assert math.isnan(ns["previous"]) and ns["current"] == 32
    for col in ("difference", "percent_change", "percent_lower", "percent_upper", "ratio", "lower", "upper",
                "p_value", "p_value_holm"):
        assert math.isnan(ns[col]), col
    assert ns["sentence"] == ("Children in need by category of need (Not stated): 32 in 2022/23; the figure for "
                              "2021/22 is suppressed (a count of children below 5), so no change is shown.")
    low = out.loc["Low income"]  # 1 -> 2: both hidden
    assert low["previous_suppressed"] and low["current_suppressed"]
    assert not out.loc["Abuse or neglect", ["previous_suppressed", "current_suppressed", "suppressed"]].any()


def test_change_p_values_are_holm_adjusted_within_the_breakdown(df):
    from statsmodels.stats.multitest import multipletests

    out = indicator_change(df, "children_in_need_by_category", "2022/23", "2021/22")
    tested = out[out["p_value"].notna()]
    assert len(tested) == 6  # ten categories, four with a suppressed count
    assert tested["p_value_holm"].to_numpy() == pytest.approx(multipletests(tested["p_value"], method="holm")[1])
    assert out.loc[out["p_value"].isna(), "p_value_holm"].isna().all()
    stress = out.set_index("group").loc["Family in acute stress"]  # 34 -> 54: p = 0.04 alone, not after Holm
    assert stress["p_value"] < 0.05 < stress["p_value_holm"]
    assert "could be chance after Holm adjustment for 6 comparisons (p = 0.04; adjusted p = 0.13)" in stress["sentence"]
    assert "unlikely" not in stress["sentence"]
    abuse = out.set_index("group").loc["Abuse or neglect", "sentence"]
    assert "unlikely to be chance after Holm adjustment for 6 comparisons" in abuse
    # a single test needs no adjustment and keeps the plain verdict
    ref = indicator_change(df, "referrals", "2022/23", "2021/22").iloc[0]
    assert ref["p_value_holm"] == ref["p_value"] and "Holm" not in ref["sentence"]


def test_month_by_month_p_values_are_holm_adjusted_over_the_months(df):
    from statsmodels.stats.multitest import multipletests

    out = monthly_year_on_year(df, "children_in_need", "2022/23", "2021/22")
    assert out["p_value_holm"].to_numpy() == pytest.approx(multipletests(out["p_value"], method="holm")[1])
    nov = out.set_index("month").loc["November"]
    assert "could be chance after Holm adjustment for 10 comparisons" in nov["sentence"]
    assert not out["previous_suppressed"].any() and not out["current_suppressed"].any()


def test_two_proportions_against_closed_forms():
    xb, nb, xa, na = 302, 425, 134, 192
    r = two_proportions(xa, na, xb, nb)
    lb, ub = wilson(xb, nb)
    la, ua = wilson(xa, na)
    assert (r["lower0"], r["upper0"]) == pytest.approx((100 * lb, 100 * ub))
    assert (r["lower1"], r["upper1"]) == pytest.approx((100 * la, 100 * ua))
    pb, pa = xb / nb, xa / na
    assert r["difference"] == pytest.approx(100 * (pa - pb))
    assert r["lower"] == pytest.approx(100 * (pa - pb - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)))
    assert r["upper"] == pytest.approx(100 * (pa - pb + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)))
    assert r["p_value"] == pytest.approx(stats.fisher_exact([[xa, na - xa], [xb, nb - xb]]).pvalue)


def test_before_after_proportions_use_two_proportions(df):
    out = before_after(df, "rhi_completed_within_72_hours", "2023-01").iloc[0]
    r = two_proportions(134, 192, 302, 425)
    assert (out["before"], out["after"], out["difference"]) == (r["percent0"], r["percent1"], r["difference"])
    assert (out["lower"], out["upper"], out["p_value"]) == (r["lower"], r["upper"], r["p_value"])


def test_before_after_count_p_value_is_the_exact_binomial_test(df):
    # missing reports: 616 in the nine months before January 2023, 246 in the three after; conditional on the
    # 862 in all, the count after is binomial with p = 3/12 under no change in the monthly mean
    out = before_after(df, "missing_reports_received", "2023-01").iloc[0]
    assert (out["n_before"], out["n_after"]) == (9, 3)
    assert out["p_value"] == pytest.approx(stats.binomtest(246, 862, 0.25).pvalue, rel=1e-9)
    assert round(out["p_value"], 4) == 0.0182
    assert out["min_points"] == 8
    assert before_after(df, "missing_reports_received", "2023-01", min_points=3).iloc[0]["min_points"] == 3
