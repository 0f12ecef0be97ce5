"""Tests for csp_analysis.interventions.synthetic_control.

References used:
* Abadie, Diamond & Hainmueller (2010), JASA 105:493-505, Proposition 99
  (``synth_control_prop99/california_prop99_long.csv``). Published (fitted with
  covariates and lagged outcomes, nested V): weights Colorado 0.164, Connecticut
  0.069, Montana 0.199, Nevada 0.234, Utah 0.334; gap by 2000 about -26 packs per
  capita; average post-1988 reduction "almost 20 packs"; placebo RMSPE-ratio
  p-value 1/39 = 0.026.
  Our estimator is outcome-only (all 19 pre-period outcomes, V = identity). It
  gives the same donor set (plus New Hampshire 0.045) with weights within 0.15 of
  the published ones (Colorado differs most: 0.015 vs 0.164), a 2000 gap of -26.6,
  an average post effect of -19.5 and California ranked 3rd of 39 on the RMSPE
  ratio (p = 3/39 = 0.077; Missouri and Virginia have tiny pre-period RMSPEs in
  the outcome-only fit). The tests pin these tolerances.
* An independent solver (NNLS with a heavily weighted sum-to-one row).
* A seeded factor-model simulation with a planted effect.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

from csp_analysis.interventions import fit_simplex_weights, synthetic_control

PUBLISHED = {"Colorado": 0.164, "Connecticut": 0.069, "Montana": 0.199, "Nevada": 0.234,
             "Utah": 0.334}


@pytest.fixture(scope="module")
def prop99(public_datasets):
    d = pd.read_csv(public_datasets / "synth_control_prop99" / "california_prop99_long.csv", sep=";")
    return d


@pytest.fixture(scope="module")
def prop99_result(prop99):
    return synthetic_control(prop99, "State", "Year", "PacksPerCapita", "California", 1989)


def test_prop99_weights_close_to_published(prop99_result):
    w = prop99_result.weights
    assert w.sum() == pytest.approx(1.0, abs=1e-9) and (w >= 0).all()
    assert w[list(PUBLISHED)].sum() >= 0.9  # published donors carry >= 90% of the weight
    for state, pub in PUBLISHED.items():
        assert abs(w[state] - pub) <= 0.15, state
    others = w.drop(list(PUBLISHED))
    assert (others <= 0.05).all()  # nobody else matters much (New Hampshire 0.045)


def test_prop99_gap_and_effect(prop99_result):
    gap = prop99_result.gap.set_index("time")["gap"]
    assert gap.loc[2000] == pytest.approx(-26.0, abs=2.0)
    avg = prop99_result.table.loc["average_post_effect", "estimate"]
    assert -22.0 <= avg <= -17.0  # "almost 20 packs" on average
    assert avg == pytest.approx(gap.loc[1989:].mean(), rel=1e-12)
    assert prop99_result.table.loc["final_period_gap", "estimate"] == pytest.approx(gap.loc[2000])
    # Good pre-period fit (a few packs on a level of ~116).
    assert prop99_result.pre_rmspe < 2.5


def test_prop99_placebo_p_value(prop99_result):
    pl = prop99_result.placebo
    assert len(pl) == 39 and pl["treated"].sum() == 1
    p = prop99_result.p_value
    # A permutation p-value: a multiple of 1/39, at least 1/39.
    assert (p * 39) == pytest.approx(round(p * 39))
    # Published 1/39 (covariate fit); the outcome-only fit ranks California 3rd.
    assert 1 / 39 <= p <= 3 / 39 + 1e-12
    # The ratio for California matches its own RMSPEs.
    assert prop99_result.rmspe_ratio == pytest.approx(
        prop99_result.post_rmspe / prop99_result.pre_rmspe)


def test_weights_agree_with_independent_nnls_solver(prop99):
    wide = prop99.pivot(index="Year", columns="State", values="PacksPerCapita")
    pre = wide.index < 1989
    y = wide.loc[pre, "California"].to_numpy()
    X = wide.loc[pre].drop(columns="California").to_numpy()
    big = 1e4
    w_ref, _ = nnls(np.vstack([X, np.full(X.shape[1], big)]), np.r_[y, big])
    w = fit_simplex_weights(y, X)
    assert np.abs(w - w_ref).max() < 2e-3
    # SLSQP meets the constraint exactly and is at least as good as the penalised solution.
    loss = lambda v: np.sum((y - X @ v) ** 2)  # noqa: E731
    assert loss(w) <= loss(w_ref / w_ref.sum()) + 1e-6


def _factor_panel(rng, effect, n_donors=20, n_periods=30, start=20):
    """Interactive fixed-effects model: Y_it = d_t + l_i' f_t + e_it."""
    f = np.cumsum(rng.normal(0, 1, (n_periods, 2)), axis=0)
    d = np.linspace(50, 60, n_periods)
    lam = rng.uniform(0, 2, (n_donors, 2))
    true_w = rng.dirichlet(np.ones(4))
    lam_t = true_w @ lam[:4]  # treated loadings inside the donors' convex hull
    rows = []
    for i in range(n_donors):
        y = d + f @ lam[i] + rng.normal(0, 0.3, n_periods)
        rows += [{"area": f"donor{i}", "year": 2000 + t, "y": y[t]} for t in range(n_periods)]
    y1 = d + f @ lam_t + rng.normal(0, 0.3, n_periods) + effect * (np.arange(n_periods) >= start)
    rows += [{"area": "treated", "year": 2000 + t, "y": y1[t]} for t in range(n_periods)]
    return pd.DataFrame(rows), 2000 + start


def test_factor_model_planted_gap_recovered():
    rng = np.random.default_rng(99)
    df, start = _factor_panel(rng, effect=-8.0)
    res = synthetic_control(df, "area", "year", "y", "treated", start)
    assert res.table.loc["average_post_effect", "estimate"] == pytest.approx(-8.0, abs=1.5)
    assert res.p_value == pytest.approx(1 / 21)  # largest RMSPE ratio of 21 units


def test_factor_model_null_effect_small_on_average():
    rng = np.random.default_rng(100)
    effects, pvals = [], []
    for _ in range(15):
        df, start = _factor_panel(rng, effect=0.0)
        res = synthetic_control(df, "area", "year", "y", "treated", start)
        effects.append(res.table.loc["average_post_effect", "estimate"])
        pvals.append(res.p_value)
    assert abs(np.mean(effects)) < 1.0
    assert np.mean(np.asarray(pvals) <= 0.1) <= 0.3  # not routinely "significant"


def test_month_dates_and_donor_subset(prop99):
    sub = prop99[prop99.State.isin(["California", "Utah", "Nevada", "Montana", "Colorado",
                                    "Connecticut"])].copy()
    sub["date"] = pd.to_datetime(sub.Year.astype(str) + "-01-01")
    res = synthetic_control(sub, "State", "date", "PacksPerCapita", "California", "1989-01",
                            donors=["Utah", "Nevada", "Montana"], placebo=False)
    assert list(res.weights.index) == ["Utah", "Nevada", "Montana"]
    assert np.isnan(res.p_value) and res.placebo is None


def test_result_object_and_plots(prop99_result):
    import matplotlib.pyplot as plt

    for col in ["estimate", "lower", "upper", "p_value", "confidence", "method", "scale"]:
        assert col in prop99_result.table.columns
    text = prop99_result.summary()
    assert "Utah" in text and "Placebo" in text and "Limits" in text
    for kind in ("trajectories", "gap"):
        ax = prop99_result.plot(kind=kind)
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    ax = prop99_result.plot(kind="gap", max_pre_mspe_ratio=5)
    kept = (prop99_result.placebo["pre_rmspe"] ** 2 <= 5 * prop99_result.pre_rmspe ** 2).sum() - 1
    assert len(ax.get_lines()) == kept + 3  # placebos + treated + zero line + start line
    with pytest.raises(ValueError, match="kind"):
        prop99_result.plot(kind="bars")
    plt.close("all")


def test_bad_input_raises(prop99):
    with pytest.raises(ValueError, match="treated"):
        synthetic_control(prop99, "State", "Year", "PacksPerCapita", "Atlantis", 1989)
    with pytest.raises(ValueError, match="unit"):
        synthetic_control(prop99, "Country", "Year", "PacksPerCapita", "California", 1989)
    gappy = prop99.drop(index=prop99.index[5])
    with pytest.raises(ValueError, match="balanced"):
        synthetic_control(gappy, "State", "Year", "PacksPerCapita", "California", 1989)
    with pytest.raises(ValueError, match="intervention_start"):
        synthetic_control(prop99, "State", "Year", "PacksPerCapita", "California", 1971)
    with pytest.raises(ValueError, match="donors"):
        synthetic_control(prop99, "State", "Year", "PacksPerCapita", "California", 1989,
                          donors=["Utah"])


def test_weights_meet_the_optimality_conditions(prop99):
    """KKT conditions of min ||y - Xw||^2 on the simplex, checked directly (independent of
    any solver): the gradient is equal on the donors with weight and no smaller on the rest."""
    wide = prop99.pivot(index="Year", columns="State", values="PacksPerCapita")
    pre = wide.index < 1989
    y = wide.loc[pre, "California"].to_numpy()
    X = wide.loc[pre].drop(columns="California").to_numpy()
    w = fit_simplex_weights(y, X)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    grad = -2 * X.T @ (y - X @ w)
    pos = w > 1e-6
    lam = grad[pos].mean()
    scale = np.abs(grad).max()
    assert np.abs(grad[pos] - lam).max() < 1e-4 * scale
    assert (grad[~pos] >= lam - 1e-4 * scale).all()


def test_average_post_ratio_row(prop99_result):
    """The treated unit's after-period mean over the synthetic unit's (the report's "x% lower")."""
    g = prop99_result.gap
    row = prop99_result.table.loc["average_post_ratio"]
    assert row["estimate"] == pytest.approx(g.loc[g["post"], "treated"].mean() / g.loc[g["post"], "synthetic"].mean())
    assert np.isnan(row["lower"]) and np.isnan(row["p_value"]) and row["sentence"]
    # consistent with the average gap: ratio - 1 = average gap / average synthetic level
    avg = prop99_result.table.loc["average_post_effect", "estimate"]
    assert row["estimate"] - 1 == pytest.approx(avg / g.loc[g["post"], "synthetic"].mean())
