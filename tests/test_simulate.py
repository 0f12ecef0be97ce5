"""Tests for csp_analysis.simulate against its stated model.

References: the Poisson-lognormal moments (Var/E = 1 + m (exp(s^2) - 1)), the AR(1)
stationary variance and lag-1 correlation, and the binomial Monte Carlo standard error.
Each check uses a fixed seed and enough draws that the tolerance is several standard errors.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csp_analysis import simulate


def test_latent_sd_matches_the_moment_formula_and_rejects_bad_input():
    s = simulate.latent_sd(50.0, 2.0)
    assert 1 + 50.0 * (np.exp(s * s) - 1) == pytest.approx(2.0)
    assert simulate.latent_sd(10.0, 1.0) == 0.0
    with pytest.raises(ValueError):
        simulate.latent_sd(10.0, 0.9)
    with pytest.raises(ValueError):
        simulate.latent_sd(0.0, 2.0)


def test_latent_ar1_is_stationary_with_the_given_sd_and_correlation():
    e = simulate.latent_ar1(200, 0.6, 0.3, np.random.default_rng(1), size=400)
    assert e.shape == (400, 200)
    assert e.std() == pytest.approx(0.3, rel=0.03)
    assert e[:, 0].std() == pytest.approx(0.3, rel=0.1)  # stationary from the first month
    r1 = np.corrcoef(e[:, :-1].ravel(), e[:, 1:].ravel())[0, 1]
    assert r1 == pytest.approx(0.6, abs=0.02)
    with pytest.raises(ValueError):
        simulate.latent_ar1(10, 1.0, 0.3, np.random.default_rng(1))


@pytest.mark.parametrize("dispersion", [1.0, 1.5, 3.0])
def test_series_has_the_planted_dispersion(dispersion):
    y = simulate.simulate_series(24, mean=80.0, dispersion=dispersion, ar=0.4, seasonal=False,
                                 rng=np.random.default_rng(7), size=3000)
    ratio = y.var(axis=0, ddof=1).mean() / y.mean()
    assert y.mean() == pytest.approx(80.0, rel=0.02)
    assert ratio == pytest.approx(dispersion, rel=0.08)


def test_series_index_seasonality_trend_and_step():
    s = simulate.simulate_series(36, mean=100.0, start="2021-01", rng=np.random.default_rng(3))
    assert isinstance(s, pd.Series) and s.index[0] == pd.Period("2021-01", "M") and len(s) == 36
    y = simulate.simulate_series(48, mean=200.0, trend_per_year=0.10, effect=0.8, effect_start=36,
                                 rng=np.random.default_rng(4), size=2000)
    m = y.mean(axis=0)
    prof = np.exp(simulate.SEASONAL_PROFILE)
    # same calendar month one year apart: x1.10 (trend); across the step also x0.80
    assert m[12] / m[0] == pytest.approx(1.10, rel=0.02)
    assert m[36] / m[24] == pytest.approx(1.10 * 0.8, rel=0.02)
    assert m[6] / m[1] == pytest.approx(prof[6] / prof[1] * 1.10 ** (5 / 12), rel=0.02)


def test_panel_shape_and_treatment():
    p = simulate.simulate_panel(n_units=6, n_treated=2, n_months=30, effect=0.5, effect_start=20,
                                rng=np.random.default_rng(5))
    assert len(p) == 6 * 30 and p["unit"].nunique() == 6
    assert p.groupby("unit")["treated"].first().sum() == 2
    assert p.loc[p["t"] >= 20, "post"].all() and not p.loc[p["t"] < 20, "post"].any()


def test_monte_carlo_se():
    assert simulate.monte_carlo_se(0.05, 1000) == pytest.approx(np.sqrt(0.05 * 0.95 / 1000))
    assert simulate.monte_carlo_se(0.0, 0) > 0
