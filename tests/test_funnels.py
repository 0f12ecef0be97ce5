"""Tests for csp_analysis.funnels.

References used:
* PHEindicatormethods v2.1.0 funnel fixtures (../shared/reference-tests/phe_indicator_methods):
  limits to relative 1e-4 (the package bisects to 1e-7), significance labels exactly;
* FunnelPlotR documentation's medpar example (../shared/public-datasets/funnel_overdispersion_medpar):
  Poisson GLM dispersion 6.24 and nine outliers with SHMI over-dispersed 99.8% limits;
* seeded simulations: null (about nominal flags), planted outliers, over-dispersed null.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from csp_analysis.funnels import (
    assign_funnel_significance,
    estimate_overdispersion,
    funnel_limits,
    funnel_outliers,
    funnel_ratio_limits,
    plot_funnel,
)
from csp_analysis.rates import proportion_ci

RTOL = 1e-4


@pytest.fixture(scope="module")
def phe(reference_tests):
    return reference_tests / "phe_indicator_methods"


@pytest.fixture(scope="module")
def medpar_dir(public_datasets):
    return public_datasets / "funnel_overdispersion_medpar"


# ---------------------------------------------------------------------------
# PHE funnels: proportions
# ---------------------------------------------------------------------------
PROP_COLS = {
    "Lower2s0025limit": "lower_2s_limit",
    "Upper2s0025limit": "upper_2s_limit",
    "Lower3s0001limit": "lower_3s_limit",
    "Upper3s0001limit": "upper_3s_limit",
    "Baseline": "baseline",
}


@pytest.mark.parametrize(
    "subset, expected_file",
    [(None, "funnel_prop_outputs.csv"), (31000, "funnel_prop_outputs_with_axis_variation.csv")],
)
def test_proportion_funnel_limits_match_phe(phe, subset, expected_file):
    inputs = pd.read_csv(phe / "funnel_prop_inputs.csv")
    if subset is not None:
        inputs = inputs[inputs["denominator"] < subset]
    expected = pd.read_csv(phe / expected_file)
    got = funnel_limits(inputs["numerator"], inputs["denominator"], statistic="proportion", multiplier=100)
    np.testing.assert_array_equal(got["population"], expected["Population"])
    for theirs, ours in PROP_COLS.items():
        np.testing.assert_allclose(got[ours], expected[theirs], rtol=RTOL, atol=1e-6)
    # limits at the listed populations (explicit points) give the same answer
    again = funnel_limits(
        inputs["numerator"], inputs["denominator"], statistic="proportion", multiplier=100,
        points=expected["Population"],
    )
    np.testing.assert_allclose(again["lower_3s_limit"], expected["Lower3s0001limit"], rtol=RTOL, atol=1e-6)


def test_proportion_limit_is_where_wilson_interval_touches_baseline(phe):
    """Independent check of the closed form: at the lower limit the Wilson upper bound equals p0."""
    inputs = pd.read_csv(phe / "funnel_prop_inputs.csv")
    p0 = inputs["numerator"].sum() / inputs["denominator"].sum()
    for n in (50, 1000, 40000):
        got = funnel_limits(inputs["numerator"], inputs["denominator"], statistic="proportion",
                            multiplier=1, points=[n]).iloc[0]
        root = optimize.brentq(lambda p: proportion_ci(p * n, n)["upper"].iloc[0] - p0, 1e-9, p0)
        assert got["lower_2s_limit"] == pytest.approx(root, rel=1e-8)


def test_proportion_significance_labels_match_phe(phe):
    inputs = pd.read_csv(phe / "funnel_prop_inputs.csv")
    got = assign_funnel_significance(inputs["numerator"], inputs["denominator"], statistic="proportion")
    assert got.index.equals(inputs.index)
    assert (got["significance"] == inputs["significance"]).all()
    assert set(inputs["significance"]) >= {"High (0.001)", "Low (0.001)", "Not significant"}


# ---------------------------------------------------------------------------
# PHE funnels: ratios
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("ratio_type", ["count", "isr"])
def test_ratio_funnel_limits_match_phe(phe, ratio_type):
    inputs = pd.read_csv(phe / "funnel_ratio_inputs.csv")
    expected = pd.read_csv(phe / "funnel_ratio_outputs.csv")
    expected.columns = [c.strip() for c in expected.columns]
    got = funnel_limits(inputs["obs"], inputs["expected"], statistic="ratio", ratio_type=ratio_type, multiplier=100)
    np.testing.assert_array_equal(got["observed_events"], expected["Observed_events"])
    for side in ("lower_2s", "upper_2s", "lower_3s", "upper_3s"):
        np.testing.assert_allclose(got[f"{side}_exp_events"], expected[f"{side}_exp_events"], rtol=RTOL)
        np.testing.assert_allclose(got[f"{side}_limit"], expected[f"{side}_{ratio_type}"], rtol=RTOL)
    assert got["statistic"].iloc[0] == f"ratio ({ratio_type})"


def test_ratio_significance_labels_match_phe(phe):
    inputs = pd.read_csv(phe / "funnel_ratio_inputs.csv")
    got = assign_funnel_significance(inputs["obs"], inputs["expected"], statistic="ratio")
    assert (got["significance"] == inputs["significance"]).all()
    assert inputs["significance"].nunique() == 5


# ---------------------------------------------------------------------------
# PHE funnels: rates
# ---------------------------------------------------------------------------
RATE_COLS = [
    "lower_2s_population_1_year", "lower_2s_limit", "upper_2s_population_1_year", "upper_2s_limit",
    "lower_3s_population_1_year", "lower_3s_limit", "upper_3s_population_1_year", "upper_3s_limit", "baseline",
]


def _rate_cases(phe):
    base = pd.read_csv(phe / "funnel_rate_input_funnels.csv")
    yield "funnel_rate_outputs.csv", dict(numerator=base["ev"], rate=base["rate"], rate_type="dsr")
    two = base.copy()
    two.loc[two["ev"] == two["ev"].max(), "ev"] = 5
    yield "funnel_rate_outputs_2.csv", dict(numerator=two["ev"], rate=two["rate"], rate_type="crude")
    three = base[["ev", "rate"]].astype(float).copy()
    three["pop"] = 1e5 * three["ev"] / three["rate"]
    top = three["ev"] == three["ev"].max()
    three.loc[top, ["ev", "rate"]] = 0
    three = three[three["pop"] > three["pop"].max() / 2]
    yield "funnel_rate_outputs_3.csv", dict(
        numerator=three["ev"], denominator=three["pop"], rate=three["rate"], rate_type="crude"
    )


def test_rate_funnel_limits_match_phe(phe):
    cases = list(_rate_cases(phe))
    assert len(cases) == 3
    for expected_file, kwargs in cases:
        expected = pd.read_csv(phe / expected_file)
        got = funnel_limits(statistic="rate", multiplier=1e5, years_of_data=3, **kwargs)
        np.testing.assert_array_equal(got["events"], expected["Events"], err_msg=expected_file)
        for col in RATE_COLS:
            np.testing.assert_allclose(got[col], expected[col], rtol=RTOL, err_msg=f"{expected_file}: {col}")
        assert got["statistic"].iloc[0] == expected["statistic"].iloc[0]


def test_rate_significance_labels_match_phe(phe):
    data = pd.read_csv(phe / "funnel_rate_dsr_inputs.csv")
    checked = 0
    for rate_type in ("dsr", "crude"):
        for mult, label in ((1e5, "100000"), (100, "100")):
            rate_col = "rate_dsr" if rate_type == "dsr" else f"rate_crude_per_{label}"
            for zeros in ("with_0", "without_0"):
                d = data if zeros == "with_0" else data[data["count"] != 0]
                got = assign_funnel_significance(
                    d["count"], d["pop"], rate=d[rate_col], statistic="rate", rate_type=rate_type, multiplier=mult
                )
                expected = d[f"{rate_type}_per_{label}_{zeros}"]
                assert (got["significance"].to_numpy() == expected.to_numpy()).all(), (rate_type, label, zeros)
                checked += 1
    assert checked == 8


def test_funnel_limits_bad_input():
    with pytest.raises(ValueError, match="statistic"):
        funnel_limits([1, 2], [3, 4], statistic="pop", multiplier=100)
    with pytest.raises(ValueError, match="ratio_type"):
        funnel_limits([1, 2], [3, 4], statistic="ratio")
    with pytest.raises(ValueError, match="denominator"):
        funnel_limits([1, 2], [3, 0], statistic="proportion", multiplier=100)
    with pytest.raises(ValueError, match="exceed"):
        assign_funnel_significance([5, 2], [3, 4], statistic="proportion")
    with pytest.raises(ValueError, match="zero events"):
        funnel_limits([0, 20], rate=[0, 5.0], statistic="rate", rate_type="crude", multiplier=1e5, years_of_data=1)


# ---------------------------------------------------------------------------
# observed / expected funnels with over-dispersion
# ---------------------------------------------------------------------------
def _null_units(rng, n_units, reps):
    e = np.exp(rng.uniform(np.log(20), np.log(2000), (reps, n_units)))
    return rng.poisson(e), e


def test_null_flags_about_nominal_without_adjustment():
    rng = np.random.default_rng(2005)
    o, e = _null_units(rng, 200, 50)
    for conf, lo, hi in ((0.95, 0.04, 0.06), (0.998, 0.0005, 0.004)):
        rate = np.mean([funnel_outliers(o[i], e[i], confidence=conf)["outlier"].mean() for i in range(len(o))])
        assert lo <= rate <= hi, (conf, rate)


def test_planted_outliers_are_flagged():
    rng = np.random.default_rng(11)
    e = np.exp(rng.uniform(np.log(200), np.log(2000), 60))
    truth = np.ones(60)
    truth[:5], truth[5:8] = 1.6, 0.55
    o = rng.poisson(truth * e)
    got = funnel_outliers(pd.Series(o, index=[f"u{i}" for i in range(60)]), e)
    assert got["outlier"].iloc[:8].all()
    assert (got["direction"].iloc[:5] == "high").all() and (got["direction"].iloc[5:8] == "low").all()
    assert got["outlier"].iloc[8:].sum() <= 1
    assert got.index[0] == "u0"


def _flag_rates(rng, reps, n_units, draw):
    """Mean share of units flagged at 95% under each adjustment (published and debiased)."""
    settings = {
        "none": dict(overdispersion=None),
        "multiplicative": dict(overdispersion="multiplicative"),
        "additive": dict(overdispersion="additive"),
        "multiplicative debiased": dict(overdispersion="multiplicative", debias=True),
        "additive debiased": dict(overdispersion="additive", debias=True),
    }
    flagged = {k: [] for k in settings}
    phis = []
    for _ in range(reps):
        e = np.exp(rng.uniform(np.log(200), np.log(2000), n_units))
        o = draw(e)
        for key, kwargs in settings.items():
            res = funnel_outliers(o, e, confidence=0.95, **kwargs)
            flagged[key].append(res["outlier"].mean())
        phis.append(funnel_outliers(o, e)["phi"].iloc[0])
    return {k: float(np.mean(v)) for k, v in flagged.items()}, float(np.mean(phis))


def test_overdispersed_null_multiplicative():
    """Quasi-Poisson null (variance = 3 x mean, negative binomial): the phi adjustment restores ~5%."""
    rng = np.random.default_rng(99)
    phi_true = 3.0

    def draw(e):
        return rng.negative_binomial(e / (phi_true - 1), 1 / phi_true)

    rates, phi = _flag_rates(rng, 40, 100, draw)
    assert rates["none"] > 0.2
    # published (Winsorised) phi is biased low (about 0.68 x 3): far fewer flags, but above 5%
    assert 1.8 < phi < 2.3
    assert 0.07 <= rates["multiplicative"] <= 0.15
    # debiased phi: about nominal
    assert 0.03 <= rates["multiplicative debiased"] <= 0.075


def test_overdispersed_null_additive():
    """Random-effects null (log-normal unit effects, sd 0.15): the tau2 adjustment restores ~5%."""
    rng = np.random.default_rng(100)

    def draw(e):
        return rng.poisson(e * np.exp(rng.normal(0, 0.15, len(e))))

    rates, _ = _flag_rates(rng, 40, 100, draw)
    assert rates["none"] > 0.3
    assert 0.07 <= rates["additive"] <= 0.16
    assert 0.03 <= rates["additive debiased"] <= 0.075


def test_overdispersion_estimate_close_to_one_for_poisson_and_no_inflation():
    rng = np.random.default_rng(3)
    e = np.exp(rng.uniform(np.log(50), np.log(500), 300))
    o = rng.poisson(e)
    od = estimate_overdispersion(o, e)
    assert od["phi"] < 1.0  # Winsorising shrinks phi below 1 under the null
    res = funnel_outliers(o, e, overdispersion="multiplicative", confidence=0.95)
    plain = funnel_ratio_limits(e, confidence=0.95, overdispersion="multiplicative", phi=1.0)
    np.testing.assert_allclose(res["upper"], plain["upper"])  # phi < 1 is not used to shrink limits


def test_medpar_expected_counts_and_dispersion_reproduce_funnelplotr_example(medpar_dir):
    """Refit the FunnelPlotR vignette model; E must match the derived table; dispersion 6.24 as published."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    med = pd.read_csv(medpar_dir / "medpar.csv")
    med["hosp_type"] = np.select([med["type1"] == 1, med["type2"] == 1, med["type3"] == 1], [1, 2, 3])
    fit = smf.glm("los ~ hmo + died + age80 + C(hosp_type)", data=med, family=sm.families.Poisson()).fit()
    assert (fit.resid_pearson**2).sum() / fit.df_resid == pytest.approx(6.24, abs=0.005)
    med["prds"] = fit.predict()
    agg = med.groupby("provnum").agg(O=("los", "sum"), E=("prds", "sum"))
    derived = pd.read_csv(medpar_dir / "derived_provider_observed_expected.csv").set_index("provnum")
    assert agg.index.equals(derived.index)
    np.testing.assert_array_equal(agg["O"], derived["O"])
    np.testing.assert_allclose(agg["E"], derived["E"], rtol=1e-8)


def test_medpar_shmi_overdispersed_funnel_has_nine_outliers(medpar_dir):
    """FunnelPlotR vignette: SHMI method, limit = 99 (i.e. 99.8%), 'nine organisations' outside.

    FunnelPlotR rounds E to 2 d.p. for SHMI (the E2 column)."""
    d = pd.read_csv(medpar_dir / "derived_provider_observed_expected.csv").set_index("provnum")
    got = funnel_outliers(d["O"], d["E2"], confidence=0.998, overdispersion="additive", method="shmi")
    assert got["outlier"].sum() == 9
    unadjusted = funnel_outliers(d["O"], d["E"], confidence=0.998)
    assert unadjusted["outlier"].sum() > 20


def test_medpar_spiegelhalter_phi_tau2_independent_computation(medpar_dir):
    d = pd.read_csv(medpar_dir / "derived_provider_observed_expected.csv")
    o, e = d["O"].to_numpy(float), d["E"].to_numpy(float)
    # independent computation with pandas clip on quantiles
    z = pd.Series(2 * (np.sqrt(o) - np.sqrt(e)))
    zw = z.clip(z.quantile(0.1), z.quantile(0.9))
    phi = (zw**2).sum() / len(zw)
    w = 4 * e
    tau2 = (len(z) * phi - (len(z) - 1)) / (w.sum() - (w**2).sum() / w.sum())
    od = estimate_overdispersion(o, e)
    assert od["phi"] == pytest.approx(phi, rel=1e-12)
    assert od["tau2"] == pytest.approx(tau2, rel=1e-12)
    res = funnel_outliers(d["O"], d["E"], confidence=0.95, overdispersion="additive")
    manual = np.abs(np.sqrt(o / e) - 1) / np.sqrt(1 / (4 * e) + tau2) > 1.959963984540054
    np.testing.assert_array_equal(res["outlier"].to_numpy(), manual)
    assert res["outlier"].sum() < funnel_outliers(d["O"], d["E"], confidence=0.95)["outlier"].sum()


def test_funnel_outliers_bad_input():
    with pytest.raises(ValueError, match="expected"):
        funnel_outliers([1, 2, 3], [1, 0, 2])
    with pytest.raises(ValueError, match="overdispersion"):
        funnel_outliers([1, 2, 3], [1, 2, 2], overdispersion="both")
    with pytest.raises(ValueError, match="confidence"):
        funnel_outliers([1, 2, 3], [1, 2, 2], confidence=99.8)


def test_plot_funnel_returns_labelled_axes(medpar_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = pd.read_csv(medpar_dir / "derived_provider_observed_expected.csv").set_index("provnum")
    res = funnel_outliers(d["O"], d["E"], overdispersion="additive", confidence=0.95)
    ax = plot_funnel(res, title="Length of stay", xlabel="Expected bed-days", ylabel="O/E")
    assert ax.get_title() == "Length of stay"
    assert ax.get_xlabel() == "Expected bed-days" and ax.get_ylabel() == "O/E"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"95% limits", "99.8% limits", "Outliers"} <= set(labels)
    assert len(ax.texts) == res["outlier"].sum()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="funnel_outliers"):
        plot_funnel(pd.DataFrame({"x": [1]}))


def test_proportion_significance_matches_the_drawn_funnel():
    # one helper for the proportion limits: a unit is "Low"/"High" exactly when it lies
    # outside the funnel drawn at its own denominator
    rng = np.random.default_rng(12)
    den = rng.integers(50, 2000, 60).astype(float)
    num = rng.binomial(den.astype(int), rng.uniform(0.15, 0.35, 60)).astype(float)
    lab = assign_funnel_significance(num, den, statistic="proportion")
    lim = funnel_limits(num, den, statistic="proportion", multiplier=1, points=den)
    value = num / den
    low2 = value < lim["lower_2s_limit"].to_numpy()
    high2 = value > lim["upper_2s_limit"].to_numpy()
    low3 = value < lim["lower_3s_limit"].to_numpy()
    high3 = value > lim["upper_3s_limit"].to_numpy()
    sig = lab["significance"].to_numpy()
    np.testing.assert_array_equal(low3, sig == "Low (0.001)")
    np.testing.assert_array_equal(high3, sig == "High (0.001)")
    np.testing.assert_array_equal(low2 & ~low3, sig == "Low (0.025)")
    np.testing.assert_array_equal(high2 & ~high3, sig == "High (0.025)")


def test_positive_check_is_the_rates_one():
    from csp_analysis import funnels, rates

    assert funnels._positive is rates.check_positive_scalar is rates._check_positive_scalar
    with pytest.raises(ValueError, match="multiplier must be a positive number"):
        funnel_limits([1, 2], [10, 20], statistic="proportion", multiplier=0)


def test_proportion_funnel_is_the_wilson_score_funnel_not_wald():
    """Issue 15: the limits are Wilson score limits. Checked against statsmodels' Wilson interval
    directly (not the package's): at each limit, the Wilson interval of the limit proportion has
    an end exactly at the baseline, for both sides and both levels; and a unit is labelled
    outside the 95% funnel exactly when its own 95% Wilson interval (the table's lower/upper)
    excludes the baseline. A Wald funnel (variance at the unit's proportion) would fail both."""
    from statsmodels.stats.proportion import proportion_confint

    num = np.array([2, 9, 30, 55, 120, 400, 14, 3])
    den = np.array([40, 60, 200, 300, 1000, 3000, 50, 90])
    p0 = num.sum() / den.sum()
    ns = np.array([20.0, 75, 310, 2500, 50000])
    lim = funnel_limits(num, den, statistic="proportion", multiplier=1, points=ns)
    for level, conf in (("2s", 0.95), ("3s", 0.998)):
        for i, n in enumerate(ns):
            lo, hi = lim[f"lower_{level}_limit"].iloc[i], lim[f"upper_{level}_limit"].iloc[i]
            if lo > 0:
                assert proportion_confint(lo * n, n, alpha=1 - conf, method="wilson")[1] == pytest.approx(p0, rel=1e-9)
            assert proportion_confint(hi * n, n, alpha=1 - conf, method="wilson")[0] == pytest.approx(p0, rel=1e-9)
            # a Wald funnel would put the limit where p - z sqrt(p (1 - p) / n) = p0: not here
            z = {"2s": 1.959963984540054, "3s": 3.090232306167813}[level]
            assert abs((hi - z * np.sqrt(hi * (1 - hi) / n)) - p0) > 1e-6
    rng = np.random.default_rng(15)
    n_units = rng.integers(20, 3000, 300)
    x_units = rng.binomial(n_units, np.clip(rng.normal(p0, 0.05, 300), 0.01, 0.99))
    lab = assign_funnel_significance(x_units, n_units, statistic="proportion")
    base = x_units.sum() / n_units.sum()  # the baseline of these units
    lo, hi = proportion_confint(x_units, n_units, alpha=0.05, method="wilson")
    outside = (lo > base) | (hi < base)
    assert outside.sum() > 20 and (~outside).sum() > 20
    assert (lab["significance"].ne("Not significant").to_numpy() == outside).all()
    assert np.allclose(lab["lower"], lo) and np.allclose(lab["upper"], hi)
    assert lab["method"].iloc[0] == "PHE funnel, Wilson score limits"
