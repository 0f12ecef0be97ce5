"""Tests for csp_analysis.trends.count_model.

No published fixture exists for this model, so the estimator is checked with seeded
simulations: a planted annual change (with seasonality, overdispersion, gaps, a population
offset and artefact months) must be recovered with about 95% interval coverage, and series
with no change must be flagged about 5% of the time.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis.trends import CountTrendResult, fit_count_trend, plot_count_trend  # noqa: E402


def _simulate(rng, months, annual_change, level=150.0, alpha=0.02, population=None):
    """Monthly counts with a planted annual % change, a seasonal pattern and NB2 noise."""
    months = pd.PeriodIndex(months, freq="M")
    num = months.year * 12 + months.month
    years = (num - num.min()) / 12.0
    season = 0.15 * np.cos(2 * np.pi * (months.month - 1) / 12)
    mu = level * np.exp(np.log1p(annual_change / 100) * years + season)
    if population is not None:
        mu = mu * population / population[0]
    if alpha == 0:
        y = rng.poisson(mu)
    else:
        y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    return pd.Series(y, index=months.to_timestamp())


def _coverage(rng, reps, months, truth, **kwargs):
    fit_kwargs = {k: kwargs.pop(k) for k in ("family", "seasonality") if k in kwargs}
    cover = reject = 0
    for _ in range(reps):
        row = fit_count_trend(_simulate(rng, months, truth, **kwargs), **fit_kwargs).table.iloc[0]
        cover += row["lower"] <= truth <= row["upper"]
        reject += row["p_value"] < 0.05
    return cover / reps, reject / reps


MONTHS_36 = pd.period_range("2022-01", periods=36, freq="M")
# South Yorkshire-like coverage: 11 months, a 16-month gap, then 21 months
MONTHS_GAP = pd.period_range("2022-01", "2022-11", freq="M").append(pd.period_range("2024-04", "2025-12", freq="M"))


@pytest.mark.parametrize(
    "seed, family, alpha, months",
    [(101, "negbin", 0.02, MONTHS_36), (102, "negbin", 0.0, MONTHS_36),
     (103, "quasipoisson", 0.02, MONTHS_36), (104, "negbin", 0.02, MONTHS_GAP)],
)
def test_planted_trend_covered_and_null_not_flagged(seed, family, alpha, months):
    rng = np.random.default_rng(seed)
    cover, _ = _coverage(rng, 150, months, -6.0, family=family, alpha=alpha)
    cover_null, reject_null = _coverage(rng, 150, months, 0.0, family=family, alpha=alpha)
    assert 0.89 <= cover <= 0.995, cover
    assert 0.89 <= cover_null <= 0.995, cover_null
    assert reject_null <= 0.11, reject_null


def test_poisson_family_on_poisson_data():
    rng = np.random.default_rng(42)
    cover, _ = _coverage(rng, 150, MONTHS_36, 10.0, family="poisson", alpha=0.0)
    _, reject_null = _coverage(rng, 150, MONTHS_36, 0.0, family="poisson", alpha=0.0)
    assert 0.89 <= cover <= 0.995
    assert reject_null <= 0.11


def test_plain_poisson_is_overconfident_on_overdispersed_data():
    """Why negbin is the default: with overdispersed counts the Poisson interval is too narrow
    (and the reported dispersion shows it)."""
    rng = np.random.default_rng(7)
    narrow = wide = 0
    for _ in range(40):
        y = _simulate(rng, MONTHS_36, 0.0, level=800, alpha=0.03)
        p = fit_count_trend(y, family="poisson", autocorrelation=None).table.iloc[0]
        nb = fit_count_trend(y, family="negbin").table.iloc[0]
        narrow += p["upper"] - p["lower"]
        wide += nb["upper"] - nb["lower"]
        assert p["dispersion"] > 3
    assert wide > 2 * narrow


def test_large_sample_estimate_and_dispersion_are_recovered():
    rng = np.random.default_rng(3)
    months = pd.period_range("2015-01", periods=120, freq="M")
    y = _simulate(rng, months, -8.0, level=2000, alpha=0.01)
    row = fit_count_trend(y, family="negbin").table.iloc[0]
    assert row["value"] == pytest.approx(-8.0, abs=1.0)
    assert row["alpha"] == pytest.approx(0.01, rel=0.35)
    assert row["upper"] < 0 and row["p_value"] < 0.001


def test_population_offset_gives_trend_in_rate():
    rng = np.random.default_rng(5)
    pop = np.linspace(100_000, 130_000, 36)  # population grows 30% over three years
    y = _simulate(rng, MONTHS_36, -5.0, level=3000, alpha=0.002, population=pop)
    with_offset = fit_count_trend(y, population=pop).table.iloc[0]
    without = fit_count_trend(y).table.iloc[0]
    assert with_offset["lower"] <= -5.0 <= with_offset["upper"]
    assert without["value"] > with_offset["value"] + 5  # counts rise with the population
    # a population Series is aligned by month, whatever its order
    pop_series = pd.Series(pop, index=MONTHS_36.to_timestamp())[::-1]
    assert fit_count_trend(y, population=pop_series).table.iloc[0]["value"] == pytest.approx(with_offset["value"])


def test_excluding_artefact_months_recovers_the_truth():
    rng = np.random.default_rng(9)
    y = _simulate(rng, MONTHS_36, 0.0, level=2500, alpha=0.003)
    bad = y.index[[30, 31, 33, 34]]
    y_bad = y.copy()
    y_bad[bad] = [300, 200, 400, 300]  # capped extracts late in the series
    naive = fit_count_trend(y_bad, autocorrelation=None).table.iloc[0]
    res = fit_count_trend(y_bad, exclude=[str(m.to_period("M")) for m in bad])
    row = res.table.iloc[0]
    assert naive["upper"] < 0  # artefacts fake a fall
    assert row["lower"] <= 0.0 <= row["upper"]
    assert row["n_excluded"] == 4 and row["n_months"] == 32
    assert [str(m) for m in res.excluded] == ["2024-07", "2024-08", "2024-10", "2024-11"]
    assert not res.fitted.loc[pd.Period("2024-07", "M"), "used"]
    assert np.isfinite(res.fitted.loc[pd.Period("2024-07", "M"), "fitted"])


def test_gaps_are_not_interpolated_and_nan_is_missing():
    rng = np.random.default_rng(4)
    y = _simulate(rng, MONTHS_GAP, -6.0)
    res = fit_count_trend(y)
    assert len(res.fitted) == len(MONTHS_GAP)  # no rows invented for the gap
    assert res.table.iloc[0]["n_months"] == 32
    y_nan = y.copy()
    y_nan.iloc[3] = np.nan
    res_nan = fit_count_trend(y_nan)
    assert res_nan.table.iloc[0]["n_months"] == 31
    assert not res_nan.fitted["used"].iloc[3]
    # array input with months gives the same answer as a month-indexed Series
    arr = fit_count_trend(y.to_numpy(), months=[str(m) for m in MONTHS_GAP])
    assert arr.table.iloc[0]["value"] == pytest.approx(res.table.iloc[0]["value"], rel=1e-10)


def test_fourier_seasonality_and_none():
    rng = np.random.default_rng(6)
    y = _simulate(rng, MONTHS_36, -6.0, level=1000, alpha=0.005)
    for seasonality in ("fourier", None, "none"):
        row = fit_count_trend(y, seasonality=seasonality).table.iloc[0]
        assert -12 < row["value"] < 0
    assert "Fourier" in fit_count_trend(y, seasonality="fourier", harmonics=6).table.iloc[0]["method"]


def test_result_table_and_sentences():
    rng = np.random.default_rng(8)
    res = fit_count_trend(_simulate(rng, MONTHS_36, -20.0, level=800, alpha=0.005), label="Recorded burglary")
    assert isinstance(res, CountTrendResult)
    row = res.table.iloc[0]
    for col in ["value", "lower", "upper", "confidence", "method", "p_value", "sentence"]:
        assert col in res.table.columns
    assert row["lower"] < row["value"] < row["upper"] < 0
    assert res.sentence.startswith("Recorded burglary fell by")
    assert "a year (95% CI" in res.sentence and "unlikely to be chance" in res.sentence
    assert row["rate_ratio"] == pytest.approx(1 + row["value"] / 100)
    up = fit_count_trend(_simulate(rng, MONTHS_36, 25.0, level=800, alpha=0.005)).sentence
    assert "rose by" in up
    flat = fit_count_trend(_simulate(rng, MONTHS_36, 0.0, level=40, alpha=0.05)).sentence
    if "no clear trend" in flat:
        assert "could be chance" in flat
    assert set(res.fitted.columns) >= {"observed", "used", "fitted", "fitted_lower", "fitted_upper", "trend"}
    assert (res.fitted["fitted_lower"] <= res.fitted["fitted"]).all()
    ax = plot_count_trend(res, ylabel="Burglaries per month")
    assert ax.get_ylabel() == "Burglaries per month" and ax.get_legend() is not None
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"family": "gaussian"}, "family"),
        ({"seasonality": "weekly"}, "seasonality"),
        ({"seasonality": "fourier", "harmonics": 7}, "harmonics"),
        ({"confidence": 95}, "confidence"),
        ({"population": -5}, "population"),
        ({"population": [1.0, 2.0]}, "population"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    y = pd.Series(np.arange(24) + 10, index=pd.period_range("2022-01", periods=24, freq="M").to_timestamp())
    with pytest.raises(ValueError, match=match):
        fit_count_trend(y, **kwargs)


def test_bad_counts_raise():
    idx = pd.period_range("2022-01", periods=24, freq="M").to_timestamp()
    with pytest.raises(ValueError, match="counts"):
        fit_count_trend(pd.Series(np.r_[-1, np.arange(23)], index=idx))
    with pytest.raises(ValueError, match="counts"):
        fit_count_trend(pd.Series(np.arange(24) + 0.5, index=idx))
    with pytest.raises(ValueError, match="months"):
        fit_count_trend(np.arange(24))
    with pytest.raises(ValueError, match="repeated"):
        fit_count_trend(np.arange(3), months=["2022-01", "2022-01", "2022-02"])
    with pytest.raises(ValueError, match="too few"):
        fit_count_trend(pd.Series(np.arange(12) + 5, index=idx[:12]))  # 13 parameters, 12 months
