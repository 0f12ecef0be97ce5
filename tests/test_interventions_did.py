"""Tests for csp_analysis.interventions.did (difference-in-differences).

References used:
* Card & Krueger (1994), AER 84:772-793, Table 3: change in mean FTE employment,
  NJ minus PA. Row 3 (all available stores): 2.76 (SE 1.36); row 4 (balanced
  sample of stores with data in both waves): 2.75 (SE 1.34). The shared file
  ``card_krueger_long.csv`` has 410 stores x 2 waves with missing FTE for some
  store-waves (the "all available" sample).
* Seeded simulations with planted effects (coverage) and no effect (size).
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from csp_analysis.interventions import difference_in_differences


@pytest.fixture(scope="module")
def ck(public_datasets):
    return pd.read_csv(public_datasets / "did_card_krueger_1994" / "card_krueger_long.csv")


def test_card_krueger_all_available_sample(ck):
    res = difference_in_differences(ck, "fte", "nj", "d", unit="id")
    row = res.table.loc["did"]
    # Independent check: the 2x2 DiD is the difference of the four cell means.
    m = ck.dropna(subset=["fte"]).groupby(["nj", "d"]).fte.mean()
    assert row.estimate == pytest.approx((m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0]), rel=1e-10)
    # Published 2.76; the file's sample gives 2.754 (the published cell changes,
    # 0.59 and -2.16, are themselves rounded). Agreement within 0.01.
    assert row.estimate == pytest.approx(2.76, abs=0.01)
    # Published SE 1.36 (Card & Krueger combine per-state SEs of the change); the
    # store-clustered regression SE is 1.31 - agreement within 0.06.
    assert row.se == pytest.approx(1.36, abs=0.06)
    assert res.n_clusters == 410
    assert res.warnings and "missing" in res.warnings[0]


def test_card_krueger_balanced_sample(ck):
    # Unit fixed effects use only stores observed in both waves: Table 3 row 4.
    res = difference_in_differences(ck, "fte", "nj", "d", unit="id", unit_effects=True)
    row = res.table.loc["did"]
    assert row.estimate == pytest.approx(2.75, abs=0.005)
    assert row.se == pytest.approx(1.34, abs=0.01)
    # Same as the pooled regression on the balanced sample (independent route).
    both = ck.dropna(subset=["fte"]).groupby("id").fte.transform("size") == 2
    pooled = difference_in_differences(ck.dropna(subset=["fte"])[both], "fte", "nj", "d",
                                       unit="id")
    assert pooled.table.loc["did", "estimate"] == pytest.approx(row.estimate, rel=1e-10)


def _panel(rng, effect, n_units=40, n_periods=10, start=6, family="gaussian", pre_gap=0.0):
    """Units with their own levels, common period shocks and AR(1) unit errors."""
    rows = []
    period_shock = rng.normal(0, 1.0, n_periods)
    for u in range(n_units):
        tr = int(u < n_units // 2)
        level = rng.normal(3.0 if family == "poisson" else 20.0, 0.4 if family == "poisson" else 3.0)
        e = 0.0
        for t in range(n_periods):
            e = 0.5 * e + rng.normal(0, 0.1 if family == "poisson" else 1.0)
            post = int(t >= start)
            trend_gap = pre_gap * tr * t
            if family == "poisson":
                eta = level + 0.05 * period_shock[t] + e + trend_gap + np.log(effect) * tr * post
                y = rng.poisson(np.exp(eta))
            else:
                y = level + period_shock[t] + e + trend_gap + effect * tr * post
            rows.append({"unit": u, "treated": tr, "post": post, "t": t, "y": y})
    return pd.DataFrame(rows)


def test_gaussian_planted_effect_coverage_and_null_size():
    rng = np.random.default_rng(101)
    reps = 200
    cover = false_pos = 0
    est = []
    for _ in range(reps):
        res = difference_in_differences(_panel(rng, 2.0), "y", "treated", "post", unit="unit")
        r = res.table.loc["did"]
        cover += r.lower <= 2.0 <= r.upper
        est.append(r.estimate)
        null = difference_in_differences(_panel(rng, 0.0), "y", "treated", "post", unit="unit",
                                         unit_effects=True)
        false_pos += null.table.loc["did", "p_value"] < 0.05
    assert 0.91 <= cover / reps <= 0.985
    assert np.mean(est) == pytest.approx(2.0, abs=0.1)
    assert false_pos / reps <= 0.09


def test_poisson_planted_rate_ratio_coverage():
    rng = np.random.default_rng(202)
    reps = 150
    cover = 0
    logs = []
    for _ in range(reps):
        res = difference_in_differences(_panel(rng, 0.8, family="poisson"), "y", "treated",
                                        "post", unit="unit", family="poisson")
        r = res.table.loc["did"]
        assert r.scale == "ratio of rate ratios"
        cover += r.lower <= 0.8 <= r.upper
        logs.append(np.log(r.estimate))
    assert 0.90 <= cover / reps <= 0.985
    assert np.mean(logs) == pytest.approx(np.log(0.8), abs=0.02)


def test_poisson_unit_effects_equal_pooled_in_balanced_panel():
    # With a balanced panel, group-level treatment and period effects, the Poisson
    # fixed-effects estimate equals the pooled Poisson estimate (Wooldridge 2023).
    rng = np.random.default_rng(12)
    df = _panel(rng, 0.8, family="poisson")
    fe = difference_in_differences(df, "y", "treated", "post", unit="unit", time="t",
                                   family="poisson", unit_effects=True)
    pooled = difference_in_differences(df, "y", "treated", "post", unit="unit", time="t",
                                       family="poisson")
    assert fe.table.loc["did", "estimate"] == pytest.approx(pooled.table.loc["did", "estimate"],
                                                            rel=1e-6)
    r = fe.table.loc["did"]
    assert r.lower <= 0.8 <= r.upper


def test_event_study_and_pretrend_check():
    rng = np.random.default_rng(303)
    parallel = difference_in_differences(_panel(rng, 2.0), "y", "treated", "post", unit="unit",
                                         time="t")
    es = parallel.event_study
    assert list(es.relative_time) == list(range(-6, 4))
    assert es.loc[es.relative_time == -1, "estimate"].item() == 0.0
    # Post-period event-study coefficients centre on the planted effect.
    assert es.loc[es.relative_time >= 0, "estimate"].mean() == pytest.approx(2.0, abs=0.6)
    assert parallel.pretrend["df"] == 5
    assert parallel.pretrend["p_value"] > 0.05
    # Diverging pre-trends (treated group rising 0.5 per period) must be detected.
    diverging = difference_in_differences(_panel(rng, 0.0, pre_gap=0.5), "y", "treated", "post",
                                          unit="unit", time="t")
    assert diverging.pretrend["p_value"] < 0.001
    row = diverging.table.loc["pre_trend_difference"]
    assert row.lower <= 0.5 <= row.upper


def test_staggered_start_warns_and_skips_event_study():
    rng = np.random.default_rng(4)
    df = _panel(rng, 1.0)
    df.loc[(df.unit == 0) & (df.t == 5), "post"] = 1  # one unit starts early
    res = difference_in_differences(df, "y", "treated", "post", unit="unit", time="t")
    assert res.event_study is None
    assert any("staggered" in w for w in res.warnings)


def test_few_clusters_and_no_cluster_warnings():
    rng = np.random.default_rng(5)
    df = _panel(rng, 1.0, n_units=10)
    assert any("clusters" in w for w in
               difference_in_differences(df, "y", "treated", "post", unit="unit",
                                         inference="cluster").warnings)
    # the default wild bootstrap: a plain warning when fewer than 4 clusters are treated
    few = difference_in_differences(_panel(rng, 1.0, n_units=6), "y", "treated", "post",
                                    unit="unit")
    assert few.inference == "wild_bootstrap"
    assert any("only 3 clusters contain treated units" in w and "relied on" in w
               for w in few.warnings)
    assert any("independent" in w for w in
               difference_in_differences(df, "y", "treated", "post").warnings)


def test_result_object_and_plots(ck):
    import matplotlib.pyplot as plt

    res = difference_in_differences(ck, "fte", "nj", "d", unit="id")
    for col in ["estimate", "lower", "upper", "p_value", "confidence", "method", "scale"]:
        assert col in res.table.columns
    text = res.summary()
    assert "parallel" in text and "Limits" in text
    ax = res.plot()
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    rng = np.random.default_rng(6)
    ax2 = difference_in_differences(_panel(rng, 1.0), "y", "treated", "post", unit="unit",
                                    time="t").plot()
    assert "Event study" in ax2.get_title()
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"outcome": "nope"}, "outcome"),
        ({"treated": "fte"}, "treated"),
        ({"family": "negbin"}, "family"),
        ({"exposure": "fte"}, "exposure"),
        ({"unit_effects": True}, "unit"),
        ({"cluster": "missing_col"}, "cluster"),
    ],
)
def test_bad_input_raises(ck, kwargs, match):
    args = {"data": ck, "outcome": "fte", "treated": "nj", "post": "d"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        difference_in_differences(**args)


def test_treated_varying_within_unit_and_empty_cell_raise():
    df = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3], "tr": [0, 1, 0, 0, 1, 1], "p": [0, 1, 0, 1, 0, 1],
                       "y": [1, 2, 3, 4, 5, 6]})
    with pytest.raises(ValueError, match="varies within a unit"):
        difference_in_differences(df, "y", "tr", "p", unit="u")
    df2 = pd.DataFrame({"tr": [0, 0, 1], "p": [0, 1, 0], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="four"):
        difference_in_differences(df2, "y", "tr", "p")


# --------------------------------------------------------------------------- #
# Few treated clusters, monthly Poisson counts: pre-trend checks and size
# --------------------------------------------------------------------------- #
def _monthly_counts(rng, n_treated=8, n_control=40, n_pre=12, n_post=6, base=6.0,
                    pre_slope=0.0):
    """Monthly Poisson counts per place: place levels, shared month effects (season
    plus noise), no intervention effect; ``pre_slope`` plants a linear divergence of
    the treated places (log rate per month) that stops at the start."""
    n_units, n_months = n_treated + n_control, n_pre + n_post
    t = np.arange(n_months)
    month = 0.2 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.15, n_months)
    level = np.log(base) + rng.normal(0, 0.5, n_units)
    treated = (np.arange(n_units) < n_treated).astype(int)
    drift = pre_slope * np.minimum(t - n_pre, 0)
    eta = level[:, None] + month[None, :] + treated[:, None] * drift[None, :]
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), n_months),
        "treated": np.repeat(treated, n_months),
        "month": np.tile(t, n_units),
        "post": np.tile((t >= n_pre).astype(int), n_units),
        "n": rng.poisson(np.exp(eta)).ravel(),
    })


def test_few_treated_clusters_null_rejection_rates():
    # 8 treated and 40 comparison places, no effect and no pre-trend: the DiD, the
    # linear pre-trend check and the joint pre-trend check reject at about 5%.
    # inference="cluster": this guards the CR1 t path and the pre-trend checks (the default
    # wild bootstrap is guarded in tests/test_calibration_models.py).
    # (Before the fix the joint test gave F ~ 50 on 38 df here and always rejected,
    # and the CR1 DiD with a normal / t(G-1) reference rejected about 10%.)
    rng = np.random.default_rng(2024)
    reps = 120
    p = np.empty((reps, 3))
    for i in range(reps):
        res = difference_in_differences(_monthly_counts(rng), "n", "treated", "post",
                                        unit="unit", time="month", family="poisson",
                                        inference="cluster")
        p[i] = (res.table.loc["did", "p_value"], res.pretrend["linear"]["p_value"],
                res.pretrend["p_value"])
    rates = (p < 0.05).mean(axis=0)
    assert rates[0] <= 0.09  # DiD false-positive rate
    assert rates[1] <= 0.10  # linear pre-trend check
    assert rates[2] <= 0.10  # joint pre-trend check
    # p-values are not piled up near 0 (roughly uniform under the null)
    assert (p < 0.5).mean() == pytest.approx(0.5, abs=0.1)
    # what was used is reported
    assert "t distribution with 10.0 df" in res.table.loc["did", "method"]
    assert "CR1 cluster-robust" in res.table.loc["did", "method"]
    assert res.pretrend["covariance"].startswith("model-based")
    assert res.n_treated_clusters == 8 and res.n_clusters == 48
    assert any("joint pre-trend test used the model-based" in w for w in res.warnings)
    assert any("only 8 clusters contain treated units" in w for w in res.warnings)
    text = res.summary()
    assert "10.0 df" in text and "Pre-trend check (primary, 1 df)" in text


def test_many_monthly_leads_joint_test_does_not_explode():
    # The colleague's case: 38 pre-period leads, 8 treated places, unit effects.
    rng = np.random.default_rng(7)
    df = _monthly_counts(rng, n_pre=39, n_post=12)
    res = difference_in_differences(df, "n", "treated", "post", unit="unit", time="month",
                                    family="poisson", unit_effects=True)
    pt = res.pretrend
    assert pt["df"] == 38
    assert pt["statistic"] < 3 and pt["p_value"] > 0.001
    assert "model-based" in pt["covariance"]
    assert pt["linear"]["df"] == 1 and 0 <= pt["linear"]["p_value"] <= 1


def test_planted_linear_pretrend_is_flagged():
    # Treated places drifting apart by 5% a month over the 12 months before the start.
    rng = np.random.default_rng(77)
    reps = 40
    flags_linear = flags_joint = 0
    for _ in range(reps):
        res = difference_in_differences(_monthly_counts(rng, pre_slope=0.05), "n", "treated",
                                        "post", unit="unit", time="month", family="poisson")
        flags_linear += res.pretrend["linear"]["p_value"] < 0.05
        flags_joint += res.pretrend["p_value"] < 0.05
        row = res.table.loc["pre_trend_difference"]
        assert row.p_value == res.pretrend["linear"]["p_value"]
    assert flags_linear / reps >= 0.8  # the primary (1 df) check has the power
    # the 11-df joint test spreads its power over all patterns: weaker against a trend
    assert flags_joint / reps >= 0.25
    assert "evidence that the groups were already diverging" in res.summary().lower()


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
@pytest.mark.parametrize("unit_effects", [False, True])
def test_two_clusters_fall_back_to_model_based(family, unit_effects):
    rng = np.random.default_rng(8)
    df = _monthly_counts(rng, n_treated=3, n_control=5, n_pre=8, n_post=4)
    for clusters in (df["treated"], df["unit"] % 2):  # separate / mixed groups
        df["area"] = clusters
        res = difference_in_differences(df, "n", "treated", "post", unit="unit",
                                        cluster="area", time="month", family=family,
                                        unit_effects=unit_effects)
        for effect in ("did", "pre_trend_difference"):
            r = res.table.loc[effect]
            assert np.isfinite(r.se) and r.se > 0 and r.lower < r.estimate < r.upper
            assert 0 <= r.p_value <= 1
            assert "model-based" in r.method
        assert np.isfinite(res.pretrend["p_value"])
        assert any("only 2 cluster(s)" in w and "'area'" in w for w in res.warnings)
        assert "model-based" in res.summary()


def test_single_treated_cluster_falls_back_to_model_based():
    # One treated place among many: the cluster-robust variance of the DiD is
    # degenerate, so model-based (quasi-Poisson) errors are used, with a warning.
    rng = np.random.default_rng(9)
    df = _monthly_counts(rng, n_treated=1, n_control=20, n_pre=8, n_post=4)
    res = difference_in_differences(df, "n", "treated", "post", unit="unit", time="month",
                                    family="poisson")
    assert "model-based SE (quasi-Poisson" in res.table.loc["did", "method"]
    assert any("treated group lies in a single cluster" in w for w in res.warnings)


def test_cluster_t_degrees_of_freedom():
    from csp_analysis.interventions.did import _cluster_df

    assert _cluster_df(40, 20, 20) == pytest.approx(38.0)
    assert _cluster_df(48, 8, 40) == pytest.approx(10.0, abs=0.1)
    assert _cluster_df(42, 2, 40) == pytest.approx(1.1, abs=0.05)
    assert _cluster_df(30, 30, 30) == 29.0  # every cluster holds both groups: G - 1


def test_wild_bootstrap_agrees_with_cr1_when_clusters_are_many(ck):
    # 410 stores (79 in PA): the wild cluster bootstrap and the CR1 t interval should
    # agree (both are valid with many clusters in each group), an independent check of
    # the bootstrap's statistic, p-value and test inversion.
    boot = difference_in_differences(ck, "fte", "nj", "d", unit="id")
    cr1 = difference_in_differences(ck, "fte", "nj", "d", unit="id", inference="cluster")
    b, c = boot.table.loc["did"], cr1.table.loc["did"]
    assert boot.inference == "wild_bootstrap" and cr1.inference == "cluster"
    assert b.estimate == c.estimate and b.se == c.se
    assert b.lower == pytest.approx(c.lower, abs=0.15 * c.se)
    assert b.upper == pytest.approx(c.upper, abs=0.15 * c.se)
    assert b.p_value == pytest.approx(c.p_value, abs=0.02)
    assert "wild cluster restricted score bootstrap" in b.method and "Webb" in b.method
    # reproducible (fixed seed) and the interval is the set the test does not reject
    again = difference_in_differences(ck, "fte", "nj", "d", unit="id")
    assert again.table.loc["did", "upper"] == b.upper


def test_wild_bootstrap_interval_inverts_its_test():
    from csp_analysis.interventions._wildboot import ScoreBootstrap

    rng = np.random.default_rng(8)
    df = _panel(rng, 0.8, family="poisson", n_units=16)
    res = difference_in_differences(df, "y", "treated", "post", unit="unit", time="t",
                                    family="poisson", unit_effects=True, event_study=False)
    row = res.table.loc["did"]
    from csp_analysis.interventions.did import _bootstrap

    class _F:
        pass
    f = _F()
    f.res, f.params = res.model, res.model.params
    bs = _bootstrap(f, pd.factorize(df["unit"])[0], 999, 20191)
    assert isinstance(bs, ScoreBootstrap)
    lo, hi = np.log(row.lower), np.log(row.upper)
    eps = 0.01 * row.se
    assert bs.p_value(lo + eps) > 0.05 >= bs.p_value(lo - eps)
    assert bs.p_value(hi - eps) > 0.05 >= bs.p_value(hi + eps)
    assert bs.p_value(np.log(row.estimate)) > 0.9  # the score is zero at the estimate
    assert bs.p_value(0.0) == pytest.approx(row.p_value)


def _fitted_bootstrap(df, reps=199, seed=3):
    from csp_analysis.interventions.did import _bootstrap

    res = difference_in_differences(df, "y", "treated", "post", unit="unit", time="t",
                                    family="poisson", unit_effects=True, event_study=False)

    class _F:
        pass
    f = _F()
    f.res, f.params = res.model, res.model.params
    return res, _bootstrap(f, pd.factorize(df["unit"])[0], reps, seed)


def test_wild_bootstrap_sparse_nuisance_fits_match_the_dense_ones(monkeypatch):
    """Issue 12: with unit and period dummies the bootstrap's nuisance refits use sparse
    cross-products; scores, p-values and the interval must be those of the dense route."""
    from csp_analysis.interventions import _wildboot

    df = _panel(np.random.default_rng(8), 0.8, family="poisson", n_units=16)
    res, sparse_bs = _fitted_bootstrap(df)
    assert sparse_bs._design.sparse is not None
    monkeypatch.setattr(_wildboot, "SPARSE_MAX_DENSITY", 0.0)
    _, dense_bs = _fitted_bootstrap(df)
    assert dense_bs._design.sparse is None
    b, se = math.log(res.table.loc["did", "estimate"]), res.table.loc["did", "se"]
    for d0 in (0.0, b - 2 * se, b + 1.5 * se, b):
        s1, s2 = sparse_bs.scores(d0), dense_bs.scores(d0)
        np.testing.assert_allclose(s1, s2, rtol=1e-7, atol=1e-9 * np.abs(s2).max())
        assert sparse_bs.p_value(d0) == dense_bs.p_value(d0)
    lo1, hi1 = sparse_bs.interval(b, se, 0.95, 2.0)
    lo2, hi2 = dense_bs.interval(b, se, 0.95, 2.0)
    assert (lo1, hi1) == pytest.approx((lo2, hi2), abs=1e-12)


def test_wild_bootstrap_ols_keeps_its_factor_and_gives_the_same_scores():
    """Issue 12: for OLS Z'Z is factored once; the nuisance solve equals the direct one."""
    from csp_analysis.interventions._wildboot import ScoreBootstrap, _Nuisance, _wls

    rng = np.random.default_rng(5)
    Z = np.column_stack([np.ones(60), rng.normal(size=(60, 3))])
    x, y = rng.normal(size=60), rng.normal(size=60)
    nuis = _Nuisance(Z)
    for _ in range(2):  # the second call uses the kept factor
        np.testing.assert_array_equal(nuis.wls(y, None), _wls(Z, y, None))
    groups = np.repeat(np.arange(12), 5)
    bs = ScoreBootstrap(y, Z, x, groups, "gaussian", reps=99, seed=1)
    for d0 in (0.0, 0.4, -0.7):
        mu = Z @ _wls(Z, y - d0 * x, None) + d0 * x
        xt = x - Z @ _wls(Z, x, np.ones(60))
        expect = np.bincount(groups, weights=xt * (y - mu), minlength=12)
        np.testing.assert_allclose(bs.scores(d0), expect, rtol=1e-12, atol=1e-12)


def test_unit_dummies_declared_as_the_constant_change_no_number():
    """Issue 12: the Poisson fit with unit dummies tells statsmodels it holds a constant (no
    rank computations); the fit must be the same as when statsmodels finds it itself."""
    from csp_analysis.interventions.did import _absorb_units, _fit_model

    df = _panel(np.random.default_rng(4), 0.9, family="poisson", n_units=10)
    X = pd.DataFrame({"const": 1.0, "treated": df["treated"].astype(float),
                      "post": df["post"].astype(float),
                      "did": (df["treated"] * df["post"]).astype(float)})
    y = df["y"].to_numpy(dtype=float)
    Xa, ya, _ = _absorb_units(X, y, pd.factorize(df["unit"])[0], "poisson")
    groups = pd.factorize(df["unit"])[0]
    told = _fit_model(ya, Xa, "poisson", None, groups, "cluster", implicit_constant=True)
    found = _fit_model(ya, Xa, "poisson", None, groups, "cluster", implicit_constant=False)
    assert told.model.k_constant == found.model.k_constant == 1
    np.testing.assert_array_equal(told.params, found.params)
    np.testing.assert_array_equal(told.cov_params(), found.cov_params())
    assert told.df_resid == found.df_resid and told.pearson_chi2 == found.pearson_chi2
