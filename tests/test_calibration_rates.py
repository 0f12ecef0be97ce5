"""Calibration guards (issue 10): fixed seeds, a few hundred replicates, bounds wide enough
to be stable and tight enough that the methods before issue 10 fail them (checked: the
``old`` assertions). The full grid is ``benchmarks/calib_rates.py``."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from csp_analysis import dispersion as dsp
from csp_analysis import rates, simulate
from csp_analysis.disproportionality import relative_rate_index
from csp_analysis.trends import seasonal_mann_kendall

K, N = 15, 48


def _partnerships(phi, ar, mean, reps, seed, effect=1.0):
    rng = np.random.default_rng(seed)
    return simulate.simulate_series(N, mean, phi, ar, True, effect=effect, effect_start=N - 12, rng=rng,
                                    size=reps * K)


def _estimated(y, reps):
    x = np.column_stack([dsp.seasonal_design(N, 1), (np.arange(N) >= N - 12).astype(float)])
    mom = dsp._moments(y.astype(float), x, np.ones_like(y, dtype=float))
    phi, df = np.empty(len(y)), np.empty(len(y))
    for r in range(reps):
        sl = slice(r * K, (r + 1) * K)
        phi[sl], df[sl], *_ = dsp.combine(mom, 12, rows=sl)
    return phi, np.where(phi > 1, df, np.nan)


def _verdict(r):
    return ((r["p_value"] < 0.05) & ((r["lower"] > 1) | (r["upper"] < 1))).to_numpy()


def test_year_on_year_with_estimated_dispersion_holds_its_level():
    reps = 20  # 300 comparisons
    y = _partnerships(3.0, 0.5, 200.0, reps, 11)
    cur, prev = y[:, -12:].sum(1), y[:, -24:-12].sum(1)
    phi, df = _estimated(y, reps)
    new = _verdict(rates.compare_periods(cur, prev, dispersion=phi, dispersion_df=df)).mean()
    old = _verdict(rates.compare_periods(cur, prev)).mean()
    assert 0.01 <= new <= 0.09
    assert old > 0.25
    # coverage under a planted 15% fall
    y = _partnerships(3.0, 0.5, 200.0, reps, 12, effect=0.85)
    cur, prev = y[:, -12:].sum(1), y[:, -24:-12].sum(1)
    phi, df = _estimated(y, reps)
    r = rates.compare_periods(cur, prev, dispersion=phi, dispersion_df=df)
    cover = ((r["lower"] <= 0.85) & (r["upper"] >= 0.85)).mean()
    r0 = rates.compare_periods(cur, prev)
    old_cover = ((r0["lower"] <= 0.85) & (r0["upper"] >= 0.85)).mean()
    assert 0.90 <= cover <= 0.99
    assert old_cover < 0.75


def test_year_on_year_with_known_dispersion_holds_its_level():
    # independent months with variance 2 x mean: a 12-month total has dispersion 2
    rng = np.random.default_rng(3)
    y = simulate.simulate_series(24, 500, 2.0, 0.0, False, rng=rng, size=600)
    cur, prev = y[:, 12:].sum(1), y[:, :12].sum(1)
    new = _verdict(rates.compare_periods(cur, prev, dispersion=2.0)).mean()
    old = _verdict(rates.compare_periods(cur, prev)).mean()
    assert 0.025 <= new <= 0.08 and old > 0.12


def _rri(y_g, y_ref, period):
    d = pd.DataFrame({"group": np.repeat(["G", "White"], 12), "count": np.concatenate([y_g, y_ref]),
                      "population": 1000.0, "month": np.tile(np.arange(12), 2)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = relative_rate_index(d, "group", "count", "population", period=period)
    return t[t["group"] == "G"].iloc[0]


def test_rri_intervals_allow_for_clustered_months():
    rng = np.random.default_rng(8)
    reps = 150
    a = simulate.simulate_series(12, 260, 3.0, 0.0, True, rng=rng, size=reps)
    b = simulate.simulate_series(12, 200, 3.0, 0.0, True, rng=rng, size=reps)
    new = [_rri(a[i], b[i], "month") for i in range(reps)]
    old = [_rri(a[i], b[i], None) for i in range(reps)]
    cover = np.mean([r["lower"] <= 1.3 <= r["upper"] for r in new])
    old_cover = np.mean([r["lower"] <= 1.3 <= r["upper"] for r in old])
    assert 0.90 <= cover <= 0.99
    assert old_cover < 0.85
    assert new[0]["method"].startswith("quasi-Poisson") and "vary" in new[0]["sentence"]


def test_seasonal_kendall_allows_for_serial_correlation():
    rng = np.random.default_rng(21)
    reps = 200
    y = simulate.simulate_series(N, 2000, 3.0, 0.5, True, rng=rng, size=reps)
    idx = pd.period_range("2020-01", periods=N, freq="M")
    new = np.mean([seasonal_mann_kendall(pd.Series(v, index=idx))["p_value"].iloc[0] < 0.05 for v in y])
    old = np.mean([seasonal_mann_kendall(pd.Series(v, index=idx), correction="none")["p_value"].iloc[0] < 0.05
                   for v in y])
    assert 0.01 <= new <= 0.085
    assert old > 0.10


def test_rri_allows_for_correlated_months():
    # dispersion 3 with AR(1) 0.5 month to month: before the correlation's uncertainty was carried
    # into the df (and rho shrunk towards 0), 15% false positives on this seed
    rng = np.random.default_rng(31)
    reps = 150
    a0 = simulate.simulate_series(12, 2000, 3.0, 0.5, True, rng=rng, size=reps)
    b0 = simulate.simulate_series(12, 2000, 3.0, 0.5, True, rng=rng, size=reps)
    a1 = simulate.simulate_series(12, 2600, 3.0, 0.5, True, rng=rng, size=reps)
    b1 = simulate.simulate_series(12, 2000, 3.0, 0.5, True, rng=rng, size=reps)
    null = [_rri(a0[i], b0[i], "month") for i in range(reps)]
    alt = [_rri(a1[i], b1[i], "month") for i in range(reps)]
    fp = np.mean([r["p_value"] < 0.05 for r in null])
    cover = np.mean([r["lower"] <= 1.3 <= r["upper"] for r in alt])
    assert fp <= 0.07
    assert cover >= 0.92
    assert "neighbouring" in alt[0]["method"] and "neighbouring months" in alt[0]["sentence"]
    assert "could be missed" in alt[0]["sentence"]


def test_mann_kendall_allows_for_slowly_decaying_correlation():
    # counts = Poisson noise + AR(1) extra variation: correlation w rho^k decays slower than the
    # AR(1) with the same lag-1 value; the AR(1)-only variance gave 21% false positives here (seed 41)
    from csp_analysis.trends import mann_kendall

    rng = np.random.default_rng(41)
    reps = 300
    y = simulate.simulate_series(N, 2000, 2.0, 0.8, False, rng=rng, size=reps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp = np.mean([mann_kendall(v)["p_value"].iloc[0] < 0.05 for v in y])
    # a stress case beyond the benchmark grid (AR 0.8): 9.7% now, still above 7% (the lag-2 moment
    # is noisy over 48 months); within the grid (AR <= 0.5) see benchmarks/calib_rates.py
    assert 0.01 <= fp <= 0.12


def test_summary_family_holds_its_level_with_correlated_months():
    # 15 null measures a report, Holm within the report: share of reports with any false verdict
    from csp_analysis.multiplicity import adjust_p_values

    reps = 120
    y = _partnerships(1.5, 0.5, 2000.0, reps, 51)
    cur, prev = y[:, -12:].sum(1), y[:, -24:-12].sum(1)
    phi, df = _estimated(y, reps)
    p = rates.compare_periods(cur, prev, dispersion=phi, dispersion_df=df)["p_value"].to_numpy().reshape(reps, K)
    fam = np.mean([(adjust_p_values(row)["p_adjusted"].to_numpy() < 0.05).any() for row in p])
    old = np.mean((rates.compare_periods(cur, prev)["p_value"].to_numpy().reshape(reps, K) < 0.05).any(axis=1))
    assert fam <= 0.10
    assert old > 0.5


def test_summary_family_holds_when_some_estimates_hit_the_floor():
    # issue 10: 15 null year-on-year bullets per report, Holm; modest extra variation with
    # correlated months puts a few measures' estimates on the floor of 1 by chance. Testing those
    # with the exact Poisson test (old rule) lets the family error exceed 7%; keeping the t
    # reference on the estimate's df holds it.
    from csp_analysis.multiplicity import adjust_p_values

    reps = 250
    y = _partnerships(1.5, 0.5, 2000.0, reps, 21)
    cur, prev = y[:, -12:].sum(1), y[:, -24:-12].sum(1)
    x = np.column_stack([dsp.seasonal_design(N, 1), (np.arange(N) >= N - 12).astype(float)])
    mom = dsp._moments(y.astype(float), x, np.ones_like(y, dtype=float))
    phi, df = np.empty(len(y)), np.empty(len(y))
    for r in range(reps):
        sl = slice(r * K, (r + 1) * K)
        phi[sl], df[sl], *_ = dsp.combine(mom, 12, rows=sl)
    assert np.isfinite(df).all() and (phi == 1).any()

    def family(ddf):
        p = rates.compare_periods(cur, prev, dispersion=phi, dispersion_df=ddf)["p_value"].to_numpy()
        return np.mean([(adjust_p_values(row)["p_adjusted"].to_numpy() < 0.05).any()
                        for row in p.reshape(reps, K)])

    new = family(df)
    old = family(np.where(phi > 1, df, np.nan))
    assert 0.005 <= new <= 0.06
    assert old > 0.07
