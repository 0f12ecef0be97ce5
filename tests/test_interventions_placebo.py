"""Tests for csp_analysis.interventions.placebo (placebo-in-time checks).

* Sicily smoking ban (Lopez Bernal et al. 2017): the real level change (RR 0.885)
  should stand out from fake starts in 2002-2004 (none of which corresponds to an
  intervention).
* Seeded simulations: a planted effect stands out; no effect is flagged as not
  unusual; a misspecified model (curved trend fitted as linear) produces far more
  "significant" placebo effects than the nominal 5%.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from csp_analysis.interventions import interrupted_time_series, placebo_in_time


@pytest.fixture(scope="module")
def sicily(public_datasets):
    d = pd.read_csv(public_datasets / "its_sicily_lopezbernal2017" / "sicily.csv")
    d["month_start"] = pd.to_datetime({"year": d.year, "month": d.month, "day": 1})
    return d


def test_sicily_real_effect_stands_out(sicily):
    res = placebo_in_time(sicily, "aces", "month_start", "2005-01", exposure="stdpop",
                          family="quasipoisson", seasonality="fourier", slope_change=False)
    # Default fake starts: every pre-period month with >= 6 months either side.
    starts = pd.PeriodIndex(res.table["fake_start"])
    assert starts.min() == pd.Period("2002-07", "M") and starts.max() == pd.Period("2004-07", "M")
    assert (starts < pd.Period("2005-01", "M")).all()
    assert res.real_estimate == pytest.approx(0.885, abs=5e-4)
    assert res.real_is_unusual and not res.flag
    assert res.rank_p_value == pytest.approx(1 / (len(res.table) + 1))
    assert res.share_significant <= 0.1
    # Each placebo row is an ITS fit to the pre-period data only.
    pre = sicily[sicily.month_start < "2005-01-01"]
    one = interrupted_time_series(pre, "aces", "month_start", "2003-07", exposure="stdpop",
                                  family="quasipoisson", seasonality="fourier",
                                  slope_change=False)
    assert res.table.loc["Jul 2003", "estimate"] == pytest.approx(
        one.table.loc["level_change", "estimate"], rel=1e-12)


def _series(rng, effect, curved=False, n=72, start=49):
    t = np.arange(1, n + 1)
    trend = 0.004 * t + (0.00035 * (t - 30) ** 2 if curved else 0.0)
    mu = 200 * np.exp(trend) * np.where(t >= start, effect, 1.0)
    return pd.DataFrame({"t": t, "y": rng.poisson(mu)}), start


def test_planted_effect_unusual_null_not():
    rng = np.random.default_rng(31)
    df, start = _series(rng, 0.75)
    eff = placebo_in_time(df, "y", "t", start, family="quasipoisson", slope_change=False)
    assert eff.real_is_unusual
    df0, start0 = _series(np.random.default_rng(32), 1.0)
    null = placebo_in_time(df0, "y", "t", start0, family="quasipoisson", slope_change=False)
    assert null.flag and not null.real_is_unusual
    assert "FLAG" in null.summary()


def test_misspecified_trend_shows_up_in_placebos():
    rng = np.random.default_rng(33)
    df, start = _series(rng, 1.0, curved=True)
    # classical Poisson errors (months independent): the misfit makes many placebos "significant"
    bad = placebo_in_time(df, "y", "t", start, family="poisson", slope_change=False, autocorrelation=None)
    assert bad.share_significant > 0.3  # far above the nominal 5%
    # the default autocorrelation-robust errors treat the smooth misfit as correlated noise
    robust = placebo_in_time(df, "y", "t", start, family="poisson", slope_change=False)
    assert robust.share_significant < bad.share_significant


def test_explicit_fake_starts_end_and_slope(sicily):
    res = placebo_in_time(sicily, "aces", "time", 37, fake_starts=[13, 19, 25],
                          exposure="stdpop", family="quasipoisson", effect="slope_change",
                          end=50)
    assert list(res.table["fake_start"]) == [13, 19, 25]
    assert res.real.end == 50  # `end` applies to the real fit only
    assert res.table["scale"].str.contains("per period").all()


def test_result_object_and_plot(sicily):
    import matplotlib.pyplot as plt

    res = placebo_in_time(sicily, "aces", "time", 37, fake_starts=range(13, 31, 3),
                          exposure="stdpop", family="quasipoisson", slope_change=False)
    for col in ["estimate", "lower", "upper", "p_value", "confidence", "method", "scale"]:
        assert col in res.table.columns
    assert "Placebo-in-time" in res.summary()
    ax = res.plot()
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_bad_input_raises(sicily):
    with pytest.raises(ValueError, match="fake_starts"):
        placebo_in_time(sicily, "aces", "time", 37, fake_starts=[40], slope_change=False)
    with pytest.raises(ValueError, match="effect"):
        placebo_in_time(sicily, "aces", "time", 37, effect="trend")
    with pytest.raises(ValueError, match="slope_change"):
        placebo_in_time(sicily, "aces", "time", 37, effect="slope_change", slope_change=False)
    with pytest.raises(ValueError, match="too short"):
        placebo_in_time(sicily, "aces", "time", 8)


def test_default_fake_starts_leave_min_segment_either_side():
    """The design step alone: every pre-period with ``min_segment`` periods on each side."""
    from csp_analysis.interventions._results import TimeAxis
    from csp_analysis.interventions.placebo import _effect_size, _fake_start_ordinals

    axis = TimeAxis("integer")
    pre = np.arange(1, 31)  # 30 pre-periods
    assert _fake_start_ordinals(pre, 31, axis, None, 12, True, 12) == list(range(13, 20))
    assert _fake_start_ordinals(pre, 31, axis, None, None, False, 12) == list(range(7, 26))  # default 6
    assert _fake_start_ordinals(pre, 31, axis, 5, None, False, 12) == [5]
    with pytest.raises(ValueError, match="min_segment"):
        _fake_start_ordinals(pre, 31, axis, None, 1, False, 12)
    assert np.allclose(_effect_size([0.5, 2.0], True), np.log(2)) and _effect_size([-3.0], False)[0] == 3.0
