import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from csp_analysis import dispersion as dsp
from csp_analysis import simulate


def test_batched_irls_matches_statsmodels_glm():
    rng = np.random.default_rng(2)
    y = simulate.simulate_series(48, 60, 2.0, 0.3, True, rng=rng, size=3).astype(float)
    x = dsp.seasonal_design(48, 4)
    w = np.ones_like(y)
    w[1, 5] = 0.0
    beta, mu = dsp.fit_poisson_batch(y, x, w)
    for i in range(3):
        keep = w[i] > 0
        fit = sm.GLM(y[i][keep], x[keep], family=sm.families.Poisson()).fit()
        np.testing.assert_allclose(beta[i], fit.params, rtol=1e-6, atol=1e-8)
        # quasi-Poisson scale (Pearson chi2 / df) as statsmodels computes it
        mom = dsp._moments(y[i : i + 1], x, w[i : i + 1])
        assert mom["df"][0] == fit.df_resid
        np.testing.assert_allclose(mom["phi"][0], fit.pearson_chi2 / fit.df_resid, rtol=1e-6)


def _partnership(phi, ar, seed, k=15, mean=150.0):
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2022-01", periods=48, freq="M")
    return pd.DataFrame({f"m{i}": simulate.simulate_series(48, mean, phi, ar, True, rng=rng).to_numpy()
                         for i in range(k)}, index=idx)


@pytest.mark.parametrize("phi,ar", [(1.0, 0.0), (2.0, 0.0), (3.0, 0.5)])
def test_estimate_recovers_the_dispersion_of_a_12_month_total(phi, ar):
    # truth: Var(sum of 12 months) / mean = 1 + (phi - 1) * A, A = 1 + 2 sum (1 - k/12) ar^k
    k = np.arange(1, 12)
    truth = 1 + (phi - 1) * (1 + 2 * np.sum((1 - k / 12) * ar ** k))
    est = pd.concat([dsp.estimate_dispersion(_partnership(phi, ar, s)) for s in range(6)])
    assert est["value"].median() == pytest.approx(truth, rel=0.2)
    assert (est["value"] >= 1).all()
    assert {"value", "lower", "upper", "confidence", "method", "df", "sentence"} <= set(est.columns)
    assert (est["lower"] <= est["value"]).all() and (est["value"] <= est["upper"]).all()
    assert est["method"].iloc[0].startswith("quasi-Poisson") and "pooled across 15 measures" in est["method"].iloc[0]


def test_excluded_and_missing_months_and_empty_measures():
    w = _partnership(2.0, 0.0, 1, k=3)
    w["none"] = 0
    w = w.drop(w.index[[10, 11]])  # missing months
    est = dsp.estimate_dispersion(w, exclude={"m0": ["2022-06", pd.Period("2023-02", freq="M")]})
    r = est.set_index("measure")
    assert r.loc["m0", "months_used"] == 44 and r.loc["m1", "months_used"] == 46
    assert np.isnan(r.loc["none", "value"]) and "no events" in r.loc["none", "sentence"]
    with pytest.raises(ValueError, match="month"):
        dsp.estimate_dispersion(pd.DataFrame({"a": [1, 2]}, index=["x", "y"]))
    with pytest.raises(ValueError, match="non-negative"):
        dsp.estimate_dispersion(pd.Series([-1, 2, 3], index=pd.period_range("2022-01", periods=3, freq="M")))


def test_step_at_the_current_period_keeps_a_real_change_out_of_the_dispersion():
    rng = np.random.default_rng(4)
    y = simulate.simulate_series(48, 2000, 1.0, 0.0, True, effect=0.8, effect_start=36, rng=rng)
    without = dsp.estimate_dispersion(y)["value"].iloc[0]
    with_step = dsp.estimate_dispersion(y, current_start=y.index[36])["value"].iloc[0]
    assert without > 3 and with_step < 1.6


def test_floored_estimate_keeps_its_df_and_compare_periods_uses_it():
    # issue 10: an estimate floored at 1 still carries df; compare_periods then uses the score
    # test with t on that df (wider than the exact test), and the sentence says why
    from csp_analysis import rates

    est = dsp.estimate_dispersion(_partnership(1.0, 0.0, 3))
    floored = est[est["value"] == 1.0]
    assert len(floored) and np.isfinite(floored["df"]).all() and (floored["df"] >= 1).all()
    assert "uncertain" in floored["sentence"].iloc[0] and "t reference" in floored["sentence"].iloc[0]
    assert "keeping its degrees of freedom" in est["method"].iloc[0]
    ddf = float(floored["df"].iloc[0])
    t = rates.compare_periods(3133, 2815, dispersion=1.0, dispersion_df=ddf).iloc[0]
    e = rates.compare_periods(3133, 2815).iloc[0]
    assert t["method"].startswith("quasi-Poisson score, t on") and e["method"] == "exact conditional"
    assert t["lower"] < e["lower"] and t["upper"] > e["upper"] and t["p_value"] > e["p_value"]
    assert "uncertain" in t["sentence"] and "vary 1.0 times" not in t["sentence"]


def test_public_helpers_keep_their_private_names():
    # issue 15.4: the helpers other modules use have public names; the old private ones still work
    assert dsp._a_factor is dsp.correlation_factor
    assert dsp._residual_maker is dsp.residual_maker and dsp._rho_traces is dsp.rho_traces
    assert dsp.correlation_factor(0.0, 12) == 1.0
    assert dsp.correlation_factor(0.5, 2) == pytest.approx(1.5)  # 1 + 2 (1 - 1/2) 0.5
    assert 1.0 < dsp.correlation_factor(0.9, 12) <= 12
    x = np.column_stack([np.ones(8), np.arange(8.0)])
    used = np.array([True] * 7 + [False])
    m = dsp.residual_maker(x, used)
    np.testing.assert_allclose(m @ m, m, atol=1e-10)
    np.testing.assert_allclose(m @ (x * used[:, None]), 0.0, atol=1e-10)
    assert np.allclose(m[-1], 0.0) and round(float(np.trace(m))) == 5  # 7 used months - 2 parameters
    t0, t1 = dsp.rho_traces(m)
    assert t0[0] == pytest.approx(np.trace(m)) and t1[0] == pytest.approx(np.trace(m @ np.eye(8, k=-1) @ m))
