"""Tests for csp_analysis.trends.decompose.

Reference: the netlib STL Fortran output (Cleveland et al. 1990) kept by statsmodels, in
../shared/reference-tests/stl_netlib (README: settings per scenario, tolerance 1e-6), plus a
seeded series with a planted seasonal pattern.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis.trends import decompose, plot_decomposition  # noqa: E402

NETLIB_COMMON = dict(period=12, seasonal=35, trend=19, low_pass=13, seasonal_deg=1, trend_deg=1,
                     low_pass_deg=1, seasonal_jump=4, trend_jump=2, low_pass_jump=2,
                     robust=False, outer_iter=2, inner_iter=1)
SCENARIOS = {
    "baseline": {},
    "ntjump-1": {"trend_jump": 1},
    "nljump-1": {"low_pass_jump": 1},
    "nljump-1-ntjump-1": {"trend_jump": 1, "low_pass_jump": 1},
    "short": {},
}


@pytest.fixture(scope="module")
def netlib(reference_tests):
    folder = reference_tests / "stl_netlib"
    y = pd.read_csv(folder / "co2_monthly_input.csv", header=None)[0].to_numpy(dtype=float)
    expected = pd.read_csv(folder / "stl_expected_fortran_reference.csv")
    return y, expected


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_reproduces_netlib_fortran(netlib, scenario):
    y, expected = netlib
    if scenario == "short":
        y = y[:-1]
    settings = {**NETLIB_COMMON, **SCENARIOS[scenario]}
    res = decompose(y, **settings)
    exp = expected[expected["scenario"] == scenario].sort_values("idx")
    assert len(exp) == len(res) == len(y)
    np.testing.assert_allclose(res["trend"], exp["trend"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res["seasonal"], exp["season"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res["weights"], exp["rw"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(res["resid"], y - exp["trend"] - exp["season"], atol=1e-6, rtol=0)


def _planted(n_years=4, seed=1):
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-01", periods=12 * n_years, freq="MS")
    t = np.arange(len(months))
    seasonal = 40 * np.sin(2 * np.pi * t / 12) + 15 * np.cos(4 * np.pi * t / 12)
    trend = 500 - 2 * t
    y = trend + seasonal + rng.normal(0, 4, len(t))
    return pd.Series(y, index=months), trend, seasonal


def test_planted_seasonal_pattern_is_recovered():
    series, trend, seasonal = _planted()
    res = decompose(series, period=12, seasonal=13)
    np.testing.assert_allclose(res["observed"] + 0, res["trend"] + res["seasonal"] + res["resid"], atol=1e-9)
    # the planted pattern (amplitude 40) is recovered to within a few units
    assert np.max(np.abs(res["seasonal"].to_numpy() - seasonal)) < 8
    assert np.max(np.abs(res["trend"].to_numpy() - trend)) < 8
    assert res.attrs["seasonal_strength"] > 0.9
    assert res.index.equals(series.index)
    noise = decompose(pd.Series(np.random.default_rng(2).normal(100, 5, 48), index=series.index))
    assert noise.attrs["seasonal_strength"] < res.attrs["seasonal_strength"] - 0.3


def test_robust_weights_downweight_an_outlier():
    series, _, _ = _planted(seed=3)
    series.iloc[20] += 400
    res = decompose(series, robust=True)
    assert res["weights"].iloc[20] < 0.1
    assert np.median(res["weights"]) > 0.7
    assert (decompose(series, robust=False)["weights"] == 1).all()


def test_too_short_series_raises_clear_error():
    series, _, _ = _planted(n_years=2)
    decompose(series)  # exactly two full cycles is allowed
    with pytest.raises(ValueError, match="too short for seasonal decomposition"):
        decompose(series.iloc[:23])


def test_gaps_are_not_interpolated():
    series, _, _ = _planted()
    with pytest.raises(ValueError, match="missing month"):
        decompose(series.drop(series.index[[10, 11]]))
    with_nan = series.copy()
    with_nan.iloc[5] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        decompose(with_nan)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"period": 1}, "period"),
        ({"seasonal": 8}, "seasonal"),
        ({"trend": 4}, "trend"),
        ({"seasonal_deg": 2}, "seasonal_deg"),
        ({"trend_jump": 0}, "trend_jump"),
        ({"outer_iter": -1}, "outer_iter"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    series, _, _ = _planted()
    with pytest.raises(ValueError, match=match):
        decompose(series, **kwargs)


def test_plot_has_titles_and_labels():
    series, _, _ = _planted()
    axes = plot_decomposition(decompose(series), title="Riverton: burglary", ylabel="Burglaries per month")
    assert len(axes) == 4
    assert [ax.get_title(loc="left") for ax in axes] == ["Observed", "Trend", "Seasonal pattern", "Remainder"]
    assert axes[0].get_ylabel() == "Burglaries per month"
    assert axes[-1].get_xlabel() == "Month"
    assert axes[0].figure._suptitle.get_text() == "Riverton: burglary"
    plt.close("all")
    with pytest.raises(ValueError, match="decomposition"):
        plot_decomposition(pd.DataFrame({"x": [1]}))
