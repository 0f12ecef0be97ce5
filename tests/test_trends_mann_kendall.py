"""Tests for csp_analysis.trends.mann_kendall.

References: pyMannKendall regression fixtures in ../shared/reference-tests/mann_kendall
(README gives inputs, expected values and tolerance; values cross-checked there against R
packages), scipy.stats.kendalltau for S, the definition of the Sen interval as the inversion
of Kendall's test (Sen 1968), and seeded simulations with a planted trend and a null.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csp_analysis.trends import mann_kendall, seasonal_mann_kendall

RTOL = 1e-9  # README: closed form, relative 1e-9


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def mk_dir(reference_tests):
    return reference_tests / "mann_kendall"


@pytest.fixture(scope="module")
def arbitrary_1d(mk_dir):
    return pd.read_csv(mk_dir / "arbitrary_1d.csv")


def _close(actual, expected, rtol=RTOL):
    """Compare with a fixture value to relative 1e-9 (README), or, when the fixture prints the
    value rounded (given here as a string), to half a unit in its last printed digit."""
    if isinstance(expected, str):
        decimals = len(expected.split(".")[1]) if "." in expected else 0
        value = float(expected)
        tol = max(rtol * abs(value), 0.5 * 10 ** -decimals)
        assert actual == pytest.approx(value, abs=tol, rel=0), (actual, expected)
    else:
        assert actual == pytest.approx(expected, rel=rtol, abs=0), (actual, expected)


# --------------------------------------------------------------------------- reference values
def test_original_test_matches_pymannkendall_fixture(arbitrary_1d):
    res = mann_kendall(arbitrary_1d["x"], correction="none").iloc[0]
    assert res["n"] == 353
    _close(res["s"], -1959)
    _close(res["var_s"], "4889800.333333")
    _close(res["z"], "-0.8854562843")
    _close(res["p_value"], "0.3759105874")
    _close(res["tau"], "-0.0315316765")
    assert res["trend"] == "no trend" and not res["h"]


def test_sens_slope_matches_fixture(arbitrary_1d):
    res = mann_kendall(arbitrary_1d["x"], correction="none").iloc[0]
    _close(res["slope"], -1 / 157)
    _close(res["value"], -1 / 157)
    _close(res["intercept"], "96.152866242")


def test_seasonal_test_matches_fixture(arbitrary_1d):
    res = seasonal_mann_kendall(arbitrary_1d["x"].to_numpy(), period=12, correction="none").iloc[0]
    _close(res["s"], -399)
    _close(res["var_s"], "34702.333333")
    _close(res["z"], "-2.136504115")
    _close(res["p_value"], "0.03263834596")
    _close(res["tau"], "-0.07949790795")
    assert res["trend"] == "decreasing" and res["h"]
    _close(res["slope"], -2 / 23)
    _close(res["intercept"], "96.311594203")


def test_air_passengers_seasonal(mk_dir):
    air = pd.read_csv(mk_dir / "AirPassengers.csv")
    series = pd.Series(air["#Passengers"].to_numpy(), index=pd.to_datetime(air["Month"]))
    res = seasonal_mann_kendall(series, period=12, correction="none").iloc[0]
    _close(res["s"], 784)
    _close(res["var_s"], 2550)
    _close(res["z"], "15.50571052")
    assert res["p_value"] < 1e-50  # fixture: 0.0 (underflow)
    _close(res["tau"], "0.98989899")
    _close(res["slope"], "30.2361111")
    _close(res["intercept"], "85.3431713")
    assert res["trend"] == "increasing"
    assert res["unit"] == "year"


def test_births_original(mk_dir):
    births = pd.read_csv(mk_dir / "daily-total-female-births.csv")
    series = pd.Series(births["Births"].to_numpy(), index=pd.to_datetime(births["Date"]))
    res = mann_kendall(series, correction="none").iloc[0]
    _close(res["s"], 12336)
    _close(res["var_s"], 5412244)
    _close(res["z"], "5.302131199")
    _close(res["p_value"], 1.1446e-07, rtol=1e-4)  # fixture given to 5 significant figures
    _close(res["tau"], "0.185699232")
    _close(res["slope"], "0.0192307692")
    _close(res["intercept"], "38.5")
    assert res["unit"] == "day"


def test_shampoo_s_and_sen_slope(mk_dir):
    shampoo = pd.read_csv(mk_dir / "shampoo.csv")
    res = mann_kendall(shampoo["Sales"], correction="none").iloc[0]
    # S, Tau and the Sen slope/intercept are shared by all the fixture's variants
    _close(res["s"], 440)
    _close(res["tau"], "0.698412698")
    _close(res["slope"], "11.509375")
    _close(res["intercept"], "78.7359375")


# --------------------------------------------------------------------------- independent checks
def test_s_agrees_with_scipy_kendalltau_with_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, 60).astype(float)  # many ties
    t = np.arange(60.0)
    res = mann_kendall(x, correction="none").iloc[0]
    tau_b, _ = stats.kendalltau(t, x)
    n0 = 60 * 59 / 2
    _, counts = np.unique(x, return_counts=True)
    n2 = np.sum(counts * (counts - 1) / 2)
    assert res["s"] == pytest.approx(tau_b * np.sqrt(n0 * (n0 - n2)), abs=1e-8)


def _s_of_residuals(x, t, b, seasons=None):
    """S(b) = sum over pairs (within season) of sign((x_j - b t_j) - (x_i - b t_i)), by brute force."""
    r = x - b * t
    seasons = np.zeros(len(x), int) if seasons is None else seasons
    s = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if seasons[i] == seasons[j]:
                s += np.sign(r[j] - r[i])
    return s


@pytest.mark.parametrize("seasonal", [False, True])
def test_sen_interval_inverts_kendall_test(seasonal):
    """Sen (1968): the interval is the set of slopes b for which the test on x - b t is not
    significant. Just outside each limit |S(b)| must exceed C - 1 (rounding of ranks) and
    just inside it must not exceed C + 1."""
    rng = np.random.default_rng(11)
    n, period = 48, 12
    t = np.arange(n, dtype=float)
    x = 0.3 * t + rng.normal(0, 4, n) + (np.sin(2 * np.pi * t / period) * 5 if seasonal else 0)
    if seasonal:
        res = seasonal_mann_kendall(x, period=period).iloc[0]
        tt, seasons = t / period, (t % period).astype(int)
    else:
        res = mann_kendall(x).iloc[0]
        tt, seasons = t, None
    c = stats.norm.ppf(0.975) * np.sqrt(res["var_s"])
    eps = 1e-7
    assert _s_of_residuals(x, tt, res["lower"] - eps, seasons) >= c - 1
    assert _s_of_residuals(x, tt, res["lower"] + eps, seasons) <= c + 1
    assert _s_of_residuals(x, tt, res["upper"] + eps, seasons) <= -(c - 1)
    assert _s_of_residuals(x, tt, res["upper"] - eps, seasons) >= -(c + 1)
    assert res["lower"] <= res["slope"] <= res["upper"]


def test_seasonal_with_one_season_equals_original():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(10, 3, 40) + 0.1 * np.arange(40))
    a = mann_kendall(x).iloc[0]
    b = seasonal_mann_kendall(x, period=1).iloc[0]
    for col in ["s", "var_s", "z", "p_value", "tau", "slope", "lower", "upper"]:
        assert a[col] == pytest.approx(b[col], rel=1e-12), col


def test_missing_months_keep_their_place_in_time():
    rng = np.random.default_rng(8)
    months = pd.date_range("2021-01-01", periods=36, freq="MS")
    y = pd.Series(100 + 2 * np.arange(36) + rng.normal(0, 5, 36), index=months)
    gaps = [4, 5, 17, 30]
    with_nan = y.copy()
    with_nan.iloc[gaps] = np.nan
    absent = y.drop(months[gaps])  # rows simply absent
    explicit = mann_kendall(y.drop(months[gaps]).to_numpy(), times=np.delete(np.arange(36.0), gaps))
    for res in (mann_kendall(with_nan), mann_kendall(absent)):
        for col in ["s", "var_s", "z", "slope", "lower", "upper"]:
            assert res.iloc[0][col] == pytest.approx(explicit.iloc[0][col], rel=1e-12), col
    # the slope is per month, not per observation: dropping months must not inflate it
    assert mann_kendall(absent).iloc[0]["slope"] == pytest.approx(2, abs=0.5)
    assert mann_kendall(absent).iloc[0]["unit"] == "month"


def test_seasonal_with_month_index_and_gaps_matches_array():
    rng = np.random.default_rng(9)
    months = pd.date_range("2020-01-01", periods=48, freq="MS")
    y = 50 + 3 * np.arange(48) / 12 + 10 * np.sin(2 * np.pi * np.arange(48) / 12) + rng.normal(0, 2, 48)
    arr = y.copy()
    arr[[3, 20, 21]] = np.nan
    s = pd.Series(y, index=months).drop(months[[3, 20, 21]])
    a = seasonal_mann_kendall(arr, period=12).iloc[0]
    b = seasonal_mann_kendall(s, period=12).iloc[0]
    for col in ["s", "var_s", "z", "tau", "slope", "intercept", "lower", "upper"]:
        assert a[col] == pytest.approx(b[col], rel=1e-12), col


# --------------------------------------------------------------------------- simulations
def test_planted_trend_recovered_and_null_not_flagged():
    """Seeded simulation: 300 series of 60 months, iid noise. With a slope of 0.4 a month the
    95% Sen interval should cover the truth about 95% of the time; with no trend the test
    should reject about 5% of the time."""
    rng = np.random.default_rng(2024)
    reps, n, slope = 300, 60, 0.4
    t = np.arange(n)
    cover = reject_null = 0
    for _ in range(reps):
        res = mann_kendall(slope * t + rng.normal(0, 6, n)).iloc[0]
        cover += res["lower"] <= slope <= res["upper"]
        reject_null += mann_kendall(rng.normal(0, 6, n)).iloc[0]["h"]
    assert 0.91 <= cover / reps <= 0.99
    assert 0.01 <= reject_null / reps <= 0.09


def test_seasonal_planted_trend_recovered_and_null_not_flagged():
    """Eight years of monthly data with a strong seasonal pattern: the seasonal slope
    interval covers the planted 2.5-per-year trend about 95% of the time, and with no trend the
    seasonal test rejects about 5% of the time."""
    rng = np.random.default_rng(77)
    reps, years, per_year = 200, 8, 2.5
    n = 12 * years
    t = np.arange(n)
    season = 15 * np.sin(2 * np.pi * t / 12)
    cover = reject_null = 0
    for _ in range(reps):
        res = seasonal_mann_kendall(per_year * t / 12 + season + rng.normal(0, 4, n), period=12).iloc[0]
        cover += res["lower"] <= per_year <= res["upper"]
        reject_null += seasonal_mann_kendall(season + rng.normal(0, 4, n), period=12).iloc[0]["h"]
    assert 0.90 <= cover / reps <= 0.99
    assert 0.01 <= reject_null / reps <= 0.10


# --------------------------------------------------------------------------- output and errors
def test_result_columns_and_sentences():
    up = mann_kendall(np.arange(20.0) + np.tile([0, 1], 10), label="Recorded burglary").iloc[0]
    for col in ["value", "lower", "upper", "confidence", "method", "sentence"]:
        assert col in up.index
    assert up["confidence"] == 0.95
    assert up["trend"] == "increasing"
    assert "Recorded burglary rose" in up["sentence"] and "95% CI" in up["sentence"]
    assert "unlikely to be chance" in up["sentence"]
    flat = mann_kendall(np.tile([3.0, 5.0, 4.0, 6.0], 5)).iloc[0]
    assert flat["trend"] == "no trend" and "could be chance" in flat["sentence"]
    ninety = mann_kendall(np.arange(20.0), confidence=0.9).iloc[0]
    assert "90% CI" in ninety["sentence"]


def test_all_tied_values_give_no_trend():
    res = mann_kendall(np.full(12, 7.0)).iloc[0]
    assert res["s"] == 0 and res["p_value"] == 1 and res["trend"] == "no trend"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mann_kendall([1, 2, 3, 4], confidence=1.5), "confidence"),
        (lambda: mann_kendall([1, 2, 3, 4], alpha=0), "alpha"),
        (lambda: mann_kendall([1, np.nan, 2]), "at least 3"),
        (lambda: mann_kendall(["a", "b", "c"]), "x"),
        (lambda: mann_kendall([1, 2, 3], times=[0, 1]), "times"),
        (lambda: mann_kendall([1, 2, 3], times=[0, 1, 1]), "repeated"),
        (lambda: seasonal_mann_kendall(np.arange(24.0), period=0), "period"),
        (lambda: seasonal_mann_kendall(np.arange(10.0), period=12), "two cycles"),
    ],
)
def test_bad_input_raises_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_seasonal_sentence_names_the_per_season_unit_and_p_style():
    idx = pd.period_range("2020-01", "2024-12", freq="M")
    x = pd.Series(100 + 10 * np.sin(2 * np.pi * (idx.month.to_numpy() - 1) / 12)
                  + 3 * (idx.year.to_numpy() - 2020), index=idx)
    res = seasonal_mann_kendall(x, label="Recorded burglary").iloc[0]
    assert res["slope"] == pytest.approx(3.0)
    assert "rose by about 3.00 a year in each calendar month" in res["sentence"]
    # one p-value style across the package (csp_analysis.rates.format_p_value)
    from csp_analysis.rates import format_p_value
    from csp_analysis.trends import _utils

    for p in (0.0004, 0.0042, 0.0342, 0.5, 0.995):
        assert _utils.format_p(p) == format_p_value(p)
    with pytest.raises(ValueError, match="confidence"):
        _utils.check_confidence(1.5)
