"""Tests for csp_analysis.rates.

References used:
* PHEindicatormethods v2.1.0 regression fixtures (../shared/reference-tests/phe_indicator_methods),
  tolerance relative 1e-6 for closed forms (see that folder's README);
* R's documented example ``poisson.test(c(11, 21), c(800, 3011))``: rate ratio 1.971488,
  95% CI 0.8584264 to 4.2772659, p = 0.07967 (R stats package);
* seeded simulations with a planted effect (coverage) and a null (false-positive rate).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csp_analysis.rates import (
    compare_periods,
    count_ci,
    format_p_value,
    proportion_ci,
    rate_ci,
    rate_ratio,
)

RTOL = 1e-6


@pytest.fixture(scope="module")
def phe(reference_tests):
    return reference_tests / "phe_indicator_methods"


# ---------------------------------------------------------------------------
# Wilson proportions
# ---------------------------------------------------------------------------
def test_wilson_matches_phe_fixture_both_levels(phe):
    df = pd.read_csv(phe / "proportions_wilson_expected.csv")
    for conf, lo, hi in [(0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")]:
        for mult in (1, 100):
            rows = df[df["multiplier"] == mult]
            got = proportion_ci(rows["Numerator"], rows["Denominator"], confidence=conf, multiplier=mult)
            assert got.index.equals(rows.index)
            np.testing.assert_allclose(got["value"], rows["value"], rtol=RTOL, equal_nan=True)
            np.testing.assert_allclose(got["lower"], rows[lo], rtol=RTOL, equal_nan=True)
            np.testing.assert_allclose(got["upper"], rows[hi], rtol=RTOL, equal_nan=True)
    # areas with NA inputs give NA outputs (rows 9-11)
    assert proportion_ci(np.nan, 100)["lower"].isna().all()


def test_wilson_matches_phe_grouped_fixture(phe):
    df = pd.read_csv(phe / "proportions_wilson_grouped_expected.csv").dropna(subset=["lowercl"])
    got = proportion_ci(df["Numerator"], df["Denominator"], multiplier=1)
    np.testing.assert_allclose(got["lower"], df["lowercl"], rtol=RTOL)
    np.testing.assert_allclose(got["upper"], df["uppercl"], rtol=RTOL)


def test_wilson_and_byars_cases(phe):
    df = pd.read_csv(phe / "byars_wilson_cases.csv")
    df["conf"] = df["confidence"].str.rstrip("%").astype(float) / 100
    for _, row in df.iterrows():
        if row["method"] == "Wilson":
            got = proportion_ci(row["x"], row["n"], confidence=row["conf"]).iloc[0]
        else:
            got = count_ci(row["x"], confidence=row["conf"], method="byars").iloc[0]
        np.testing.assert_allclose(got["lower"], row["lowercl"], rtol=RTOL, equal_nan=True)
        np.testing.assert_allclose(got["upper"], row["uppercl"], rtol=RTOL)
    # x = 1 at 99.8%: Byar's lower limit is negative, reported as NaN (as PHE does)
    assert np.isnan(count_ci(1, confidence=0.998, method="byars")["lower"].iloc[0])


def test_wilson_readme_spot_values():
    got = proportion_ci([65, 1045], [100, 5000])
    np.testing.assert_allclose(got["lower"], [0.552544, 0.197955], atol=1e-6)
    np.testing.assert_allclose(got["upper"], [0.736358, 0.220491], atol=1e-6)
    assert (got["method"] == "wilson").all()
    assert (got["confidence"] == 0.95).all()


# ---------------------------------------------------------------------------
# crude rates: exact < 10, Byar's from 10
# ---------------------------------------------------------------------------
def test_rate_ci_matches_phe_fixture(phe):
    df = pd.read_csv(phe / "rates_byars_exact_expected.csv").dropna(subset=["Numerator", "Denominator"])
    for conf, lo, hi in [(0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")]:
        for mult, rows in df.groupby("multiplier"):
            got = rate_ci(rows["Numerator"], rows["Denominator"], multiplier=mult, confidence=conf)
            np.testing.assert_allclose(got["value"], rows["value"], rtol=RTOL)
            np.testing.assert_allclose(got["lower"], rows[lo], rtol=RTOL)
            np.testing.assert_allclose(got["upper"], rows[hi], rtol=RTOL)
            assert (got["method"].str.lower() == rows["method"].str.lower()).all()


def test_rate_ci_matches_phe_grouped_fixture(phe):
    df = pd.read_csv(phe / "rates_byars_exact_grouped_expected.csv").dropna(subset=["lowercl"])
    got = rate_ci(df["Numerator"], df["Denominator"], multiplier=100000)
    np.testing.assert_allclose(got["lower"], df["lowercl"], rtol=RTOL)
    np.testing.assert_allclose(got["upper"], df["uppercl"], rtol=RTOL)
    assert (got["method"].str.lower() == df["method"].str.lower()).all()


def test_rate_ci_switches_method_at_ten():
    got = rate_ci([9, 10], 1000)
    assert got["method"].tolist() == ["exact", "byars"]
    # README spot value: Byar's O=10 at 99.8% is 2.916318 - 24.193725
    b = count_ci(10, confidence=0.998)
    np.testing.assert_allclose([b["lower"].iloc[0], b["upper"].iloc[0]], [2.916318, 24.193725], atol=1e-6)


def test_rate_ci_zero_events_exact_upper():
    # zero events: lower 0, upper = chi2_{0.975, 2}/2 = -log(0.025) (closed form)
    got = rate_ci(0, 1, multiplier=1).iloc[0]
    assert got["lower"] == 0
    assert got["upper"] == pytest.approx(-np.log(0.025), rel=1e-12)


# ---------------------------------------------------------------------------
# rate ratio
# ---------------------------------------------------------------------------
def test_rate_ratio_matches_r_poisson_test_example():
    # R: poisson.test(c(11, 21), c(800, 3011)) -> 1.971488 (0.8584264, 4.2772659), p = 0.07967
    got = rate_ratio(11, 800, 21, 3011).iloc[0]
    assert got["ratio"] == pytest.approx(1.971488, abs=1e-6)
    assert got["lower"] == pytest.approx(0.8584264, abs=1e-7)
    assert got["upper"] == pytest.approx(4.2772659, abs=1e-7)
    assert got["p_value"] == pytest.approx(0.07967, abs=1e-5)
    assert got["method"] == "exact conditional"


def test_rate_ratio_exact_and_lognormal_agree_for_large_counts():
    ex = rate_ratio(96905, 1790793, 280661, 45961272).iloc[0]
    wd = rate_ratio(96905, 1790793, 280661, 45961272, method="wald").iloc[0]
    assert ex["ratio"] == pytest.approx(wd["ratio"])
    assert ex["lower"] == pytest.approx(wd["lower"], rel=1e-4)
    assert ex["upper"] == pytest.approx(wd["upper"], rel=1e-4)


def test_rate_ratio_auto_uses_wald_for_non_integer_counts():
    got = rate_ratio([10.5, 10], 100, 20, 100)
    assert got["method"].tolist() == ["wald log", "exact conditional"]
    with pytest.raises(ValueError, match="x1"):
        rate_ratio(-1, 100, 20, 100)
    with pytest.raises(ValueError, match="whole-number"):
        rate_ratio(10.5, 100, 20, 100, method="exact")


def test_rate_ratio_zero_counts():
    got = rate_ratio([5, 0, 0], 100, [0, 5, 0], 100)
    assert np.isinf(got["ratio"].iloc[0]) and np.isinf(got["upper"].iloc[0]) and got["lower"].iloc[0] > 0
    assert got["ratio"].iloc[1] == 0 and got["lower"].iloc[1] == 0 and np.isfinite(got["upper"].iloc[1])
    assert np.isnan(got["ratio"].iloc[2]) and got["p_value"].iloc[2] == 1


def test_rate_ratio_coverage_simulation():
    """Planted rate ratio 1.5 with small counts: the exact CI covers ~95% (>= nominal)."""
    rng = np.random.default_rng(20240601)
    reps, n1, n2, base, truth = 400, 2000.0, 3000.0, 0.01, 1.5
    x1 = rng.poisson(truth * base * n1, reps)
    x2 = rng.poisson(base * n2, reps)
    got = rate_ratio(x1, n1, x2, n2)
    cover = ((got["lower"] <= truth) & (truth <= got["upper"])).mean()
    assert 0.93 <= cover <= 0.995
    # log-normal interval with moderately large counts also near nominal
    x1 = rng.poisson(truth * 0.1 * n1, reps)
    x2 = rng.poisson(0.1 * n2, reps)
    got = rate_ratio(x1, n1, x2, n2, method="wald")
    cover = ((got["lower"] <= truth) & (truth <= got["upper"])).mean()
    assert 0.92 <= cover <= 0.98


# ---------------------------------------------------------------------------
# compare_periods
# ---------------------------------------------------------------------------
def test_compare_periods_barnsley_worked_example():
    got = compare_periods(3133, 2815).iloc[0]
    assert round(got["percent_change"], 1) == 11.3
    # independent check: log-normal interval exp(log R +/- 1.96 sqrt(1/a + 1/b))
    r = 3133 / 2815
    se = np.sqrt(1 / 3133 + 1 / 2815)
    assert got["lower"] == pytest.approx(r * np.exp(-1.959964 * se), abs=2e-3)
    assert got["upper"] == pytest.approx(r * np.exp(1.959964 * se), abs=2e-3)
    assert got["p_value"] < 0.001
    assert got["sentence"].startswith("Rose 11.3% (95% CI 5.7% to 17.1%) from 2,815 to 3,133")
    assert got["sentence"].endswith("unlikely to be chance (p < 0.001).")
    assert {"ratio", "lower", "upper", "percent_change", "p_value", "sentence", "current", "previous",
            "confidence", "method"} <= set(compare_periods(1, 2).columns)


def test_compare_periods_fall_and_chance_wording():
    got = compare_periods(90, 100).iloc[0]
    assert got["sentence"].startswith("Fell 10.0% (95% CI")
    assert "could be chance (p = 0.5" in got["sentence"]


def test_compare_periods_zeros_and_no_change():
    got = compare_periods([5, 0, 40], [0, 0, 40])
    assert np.isinf(got["ratio"].iloc[0]) and np.isinf(got["upper"].iloc[0])
    assert "cannot be computed" in got["sentence"].iloc[0]
    assert "No events" in got["sentence"].iloc[1]
    assert got["sentence"].iloc[2].startswith("No change")


def test_compare_periods_exposure_means_rates():
    # the same rate in both periods (40 over 2 months vs 20 over 1 month)
    got = compare_periods(40, 20, current_exposure=2, previous_exposure=1).iloc[0]
    assert got["ratio"] == pytest.approx(1.0)
    assert got["p_value"] > 0.99


def test_compare_periods_simulation_coverage_and_null():
    rng = np.random.default_rng(7)
    reps, mu = 400, 400.0
    prev = rng.poisson(mu, reps)
    cur = rng.poisson(mu * 1.10, reps)  # planted 10% rise
    got = compare_periods(cur, prev)
    cover = ((got["lower"] <= 1.10) & (1.10 <= got["upper"])).mean()
    assert 0.92 <= cover <= 0.99
    # null: no change; the exact test must flag about 5% (it is slightly conservative)
    cur0 = rng.poisson(mu, reps)
    prev0 = rng.poisson(mu, reps)
    null = compare_periods(cur0, prev0)
    fp = (null["p_value"] < 0.05).mean()
    assert 0.01 <= fp <= 0.075
    unlikely = null["sentence"].str.contains("unlikely to be chance").mean()
    assert unlikely <= fp


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------
def test_series_index_preserved_and_scalars_broadcast():
    s = pd.Series([10, 20, 30], index=["Barnsley", "Bolsover", "Bassetlaw"])
    got = rate_ci(s, 1000)
    assert list(got.index) == ["Barnsley", "Bolsover", "Bassetlaw"]
    assert len(proportion_ci(3, 10)) == 1
    assert len(compare_periods(np.array([1, 2]), 3)) == 2


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: proportion_ci(11, 10), "x must not exceed n"),
        (lambda: proportion_ci(-1, 10), "x"),
        (lambda: proportion_ci(1, 0), "n"),
        (lambda: rate_ci(1, 100, confidence=95), "confidence"),
        (lambda: rate_ci("a", 100), "x"),
        (lambda: rate_ci(1, 100, multiplier=0), "multiplier"),
        (lambda: compare_periods(1.5, 2), "current"),
        (lambda: compare_periods(1, 2, previous_exposure=0), "previous_exposure"),
        (lambda: rate_ratio(1, 1, 1, 1, method="magic"), "method"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_format_p_value():
    assert format_p_value(0.0004) == "p < 0.001"
    assert format_p_value(0.002) == "p = 0.002"
    assert format_p_value(0.41) == "p = 0.41"
    assert format_p_value(0.999) == "p > 0.99"


def test_compare_periods_interval_wording_uses_magnitudes_after_fell():
    # one convention with the trend sentences: sizes of the fall after "fell", never a signed interval
    fall = compare_periods(1110, 1240).iloc[0]
    lo, hi = (1 - fall["upper"]) * 100, (1 - fall["lower"]) * 100
    assert fall["sentence"].startswith(f"Fell 10.5% (95% CI {lo:.1f}% to {hi:.1f}%) from 1,240 to 1,110")
    assert "CI -" not in fall["sentence"]
    # an interval that spans no change says so in words
    mixed = compare_periods(90, 100).iloc[0]
    assert mixed["percent_lower"] < 0 < mixed["percent_upper"]
    assert (f"(95% CI a fall of {-mixed['percent_lower']:.1f}% to a rise of {mixed['percent_upper']:.1f}%)"
            in mixed["sentence"])
    up = compare_periods(105, 100).iloc[0]
    assert up["sentence"].startswith("Rose 5.0% (95% CI a fall of")
    rate = compare_periods(60, 100, current_exposure=1, previous_exposure=2).iloc[0]
    assert rate["sentence"].startswith("The rate rose 20.0% (95% CI a fall of")


def test_exact_conditional_interval_is_documented_as_hand_written():
    from csp_analysis import rates

    doc = rates._exact_conditional.__doc__
    assert "test_poisson_2indep" in doc and "confint_poisson_2indep" in doc


# ----------------------------------------------------------------------------
# compare_periods with over-dispersion (issue 10)
# ----------------------------------------------------------------------------
def test_compare_periods_dispersion_one_is_the_exact_test():
    a = compare_periods([3133, 90, 0], [2815, 100, 4])
    b = compare_periods([3133, 90, 0], [2815, 100, 4], dispersion=1.0)
    pd.testing.assert_frame_equal(a, b)
    assert (a["method"] == "exact conditional").all() and (a["dispersion"] == 1).all()


def test_compare_periods_dispersion_widens_and_says_so():
    base = compare_periods(3133, 2815).iloc[0]
    q = compare_periods(3133, 2815, dispersion=3.0).iloc[0]
    qt = compare_periods(3133, 2815, dispersion=3.0, dispersion_df=20).iloc[0]
    assert q["lower"] < base["lower"] and q["upper"] > base["upper"] and q["p_value"] > base["p_value"]
    assert qt["lower"] < q["lower"] and qt["p_value"] > q["p_value"]
    assert q["method"] == "quasi-Poisson score (phi = 3.00)"
    assert qt["method"] == "quasi-Poisson score, t on 20 df (phi = 3.00)"
    assert "vary 3.0 times as much" in q["sentence"]
    # the score interval at phi is about sqrt(phi) times as wide on the log scale
    ratio = np.log(q["upper"] / q["lower"]) / np.log(base["upper"] / base["lower"])
    assert ratio == pytest.approx(np.sqrt(3.0), rel=0.02)
    # z statistic by hand: (x1 - N/2) / sqrt(phi N / 4)
    z = (3133 - 5948 / 2) / np.sqrt(3.0 * 5948 / 4)
    assert q["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_compare_periods_quasi_test_and_interval_agree():
    rng = np.random.default_rng(5)
    cur, prev = rng.poisson(100, 400), rng.poisson(100, 400)
    r = compare_periods(cur, prev, dispersion=rng.uniform(1.1, 4, 400), dispersion_df=rng.integers(5, 40, 400))
    sig = r["p_value"] < 0.05
    excl = (r["lower"] > 1) | (r["upper"] < 1)
    assert (sig == excl).all()


def test_compare_periods_dispersion_arrays_zeros_and_errors():
    r = compare_periods([0, 5, 0], [0, 0, 7], dispersion=[2, 2, 2])
    assert r.loc[0, "p_value"] == 1 and np.isinf(r.loc[1, "upper"]) and r.loc[2, "lower"] == 0
    assert compare_periods(10, 10, dispersion=np.nan)["method"].iloc[0] == "exact conditional"
    with pytest.raises(ValueError, match="dispersion"):
        compare_periods(10, 12, dispersion=0.5)
    with pytest.raises(ValueError, match="dispersion_df"):
        compare_periods(10, 12, dispersion=2, dispersion_df=0)


def test_public_helpers_keep_their_private_names():
    # issue 15.4: helpers used by other modules have public names; the private ones stay as aliases
    from csp_analysis import rates

    for public, private in [("check_positive_scalar", "_check_positive_scalar"), ("prepare_inputs", "_prepare"),
                            ("wilson_limits", "_wilson_limits"), ("poisson_limits", "_poisson_limits"),
                            ("quasi_score_test", "_quasi_score")]:
        assert getattr(rates, private) is getattr(rates, public), public
