"""Tests for csp_analysis.trends.control_charts.

References: Montgomery's published c-chart example (limits and the two out-of-control
samples), the chart formulas computed independently here, hand-built series whose flags follow
from the NHS Making Data Count rule definitions (and NHSRplotthedots' own 2-in-3 test case),
and seeded simulations: an in-control Poisson process rarely alarms, a planted shift is found.
"""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis.trends import control_chart, plot_control_chart  # noqa: E402

BASE = [12.0, 10.0] * 6  # mean 11, every moving range 2: limits 11 +/- 5.32, near lines 11 +/- 3.547;
# it ends below the mean and after a fall, so added points start new runs


def _chart(extra, **kwargs):
    values = BASE + list(extra)
    return control_chart(values, kind="xmr", baseline=len(BASE), **kwargs)


# --------------------------------------------------------------------------- limits
def test_c_chart_matches_montgomery_example():
    """Montgomery, Introduction to Statistical Quality Control: nonconformities in 26 samples of
    100 printed circuit boards; c-bar = 19.85, UCL = 33.22, LCL = 6.48; samples 6 and 20 are
    outside the limits."""
    counts = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39,
              30, 24, 16, 19, 17, 15]
    chart = control_chart(counts, kind="c")
    assert chart["centre"].iloc[0] == pytest.approx(19.85, abs=0.005)
    # the book computes the limits from c-bar rounded to 19.85
    assert chart["upper"].iloc[0] == pytest.approx(33.22, abs=0.01)
    assert chart["lower"].iloc[0] == pytest.approx(6.48, abs=0.01)
    assert list(np.flatnonzero(chart["outside_limits"]) + 1) == [6, 20]


def test_xmr_limits_follow_the_formula_with_screening():
    rng = np.random.default_rng(1)
    x = rng.normal(100, 10, 30)
    x[14] = 200  # one extreme month
    chart = control_chart(x, kind="xmr")
    # independent computation (NHS MDC / Wheeler): mean +/- 2.66 mR-bar, after dropping moving
    # ranges at or above 3.267 mR-bar
    mr = [abs(x[i] - x[i - 1]) for i in range(1, len(x))]
    mr_bar = sum(mr) / len(mr)
    kept = [m for m in mr if m < 3.267 * mr_bar]
    screened = sum(kept) / len(kept)
    assert len(kept) == len(mr) - 2
    assert chart["centre"].iloc[0] == pytest.approx(x.mean())
    assert chart["upper"].iloc[0] == pytest.approx(x.mean() + 2.66 * screened)
    assert chart["lower"].iloc[0] == pytest.approx(x.mean() - 2.66 * screened)
    assert chart["near_upper"].iloc[0] == pytest.approx(x.mean() + 2 / 3 * 2.66 * screened)
    assert chart["sigma"].iloc[0] == pytest.approx(screened / 1.128)
    unscreened = control_chart(x, kind="xmr", screen_outliers=False)
    assert unscreened["upper"].iloc[0] == pytest.approx(x.mean() + 2.66 * mr_bar)
    assert chart["outside_limits"].iloc[14]


def test_u_and_p_chart_limits_vary_with_denominators():
    events = np.array([30, 45, 20, 60, 38, 41, 25, 52, 47, 33, 29, 40])
    exposure = np.array([10_000, 15_000, 8_000, 20_000, 12_000, 14_000, 9_000, 16_000, 15_000,
                         11_000, 10_000, 13_000], dtype=float)
    u = control_chart(events, kind="u", denominators=exposure, multiplier=1000)
    u_bar = events.sum() / exposure.sum()
    np.testing.assert_allclose(u["value"], events / exposure * 1000)
    np.testing.assert_allclose(u["centre"], u_bar * 1000)
    np.testing.assert_allclose(u["upper"], (u_bar + 3 * np.sqrt(u_bar / exposure)) * 1000)
    np.testing.assert_allclose(u["lower"], np.maximum(u_bar - 3 * np.sqrt(u_bar / exposure), 0) * 1000)
    assert u["upper"].nunique() > 1

    n = np.array([20, 25, 18, 30, 22, 26, 19, 24, 28, 21, 23, 27], dtype=float)
    x = np.array([3, 5, 2, 6, 4, 5, 3, 4, 6, 3, 4, 5])
    p = control_chart(x, kind="p", denominators=n)
    p_bar = x.sum() / n.sum()
    sig = np.sqrt(p_bar * (1 - p_bar) / n)
    np.testing.assert_allclose(p["upper"], np.minimum(p_bar + 3 * sig, 1))
    np.testing.assert_allclose(p["lower"], np.maximum(p_bar - 3 * sig, 0))
    assert (p["lower"] == 0).any()  # clipped at zero for small groups
    assert {"numerator", "denominator"} <= set(p.columns)


def test_baseline_fixes_the_limits():
    chart = control_chart(np.r_[np.full(12, 50.0), np.full(12, 80.0)], kind="c", baseline=12)
    assert chart["centre"].iloc[-1] == 50
    assert chart["in_baseline"].sum() == 12
    assert chart["outside_limits"].iloc[12:].all()
    labelled = pd.Series(np.arange(24.0) % 5 + 50, index=pd.period_range("2022-01", periods=24, freq="M"))
    by_label = control_chart(labelled, kind="c", baseline=slice(pd.Period("2022-01", "M"), pd.Period("2022-12", "M")))
    assert by_label["in_baseline"].sum() == 12


# --------------------------------------------------------------------------- rules
def test_shift_needs_seven_points_on_one_side():
    seven = _chart([12.5] * 7)
    assert seven["shift"].iloc[12:].all() and not seven["shift"].iloc[:12].any()
    assert not seven["trend"].any() and not seven["two_of_three"].any() and not seven["outside_limits"].any()
    six = _chart([12.5] * 6 + [9.0])
    assert not six["shift"].any()
    # a point exactly on the mean breaks the run
    broken = _chart([12.5] * 4 + [11.0] + [12.5] * 3)
    assert not broken["shift"].any()
    # the length is a parameter
    assert _chart([12.5] * 6, shift_length=6)["shift"].iloc[12:].all()


def test_trend_needs_seven_increasing_or_decreasing_points():
    up = _chart([9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0])
    assert up["trend"].iloc[12:].all() and up["trend"].sum() == 7
    down = _chart([13.0, 12.5, 12.0, 11.5, 11.0, 10.5, 10.0])
    assert down["trend"].sum() == 7
    six = _chart([9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 11.0])
    assert not six["trend"].any()
    tie = _chart([9.0, 9.5, 10.0, 10.0, 10.5, 11.0, 11.5])  # an equal value breaks the run
    assert not tie["trend"].any()
    assert _chart([9.0, 9.5, 10.0, 10.5, 11.0, 11.5], trend_length=6)["trend"].sum() == 6


def test_two_of_three_near_the_limit_on_one_side():
    # near line 14.547, limit 16.32
    hit = _chart([15.0, 11.5, 15.0])
    assert list(hit["two_of_three"].iloc[12:]) == [True, False, True]
    assert not hit["outside_limits"].any()
    # the third point below the mean: not a signal (all three must be on one side)
    assert not _chart([15.0, 10.5, 15.0])["two_of_three"].any()
    # only one near the limit
    assert not _chart([15.0, 11.5, 12.0])["two_of_three"].any()
    low = _chart([7.0, 7.2, 10.0])
    assert list(low["two_of_three"].iloc[12:]) == [True, True, False]


def test_nhsrplotthedots_two_in_three_opposite_sides_case():
    """NHSRplotthedots test: two successive points near the limits on opposite sides of the
    mean are common cause."""
    data = np.array([1.0, -1.0] * 8)
    data[14], data[15] = 5.5, -5.5
    chart = control_chart(data, kind="xmr")
    assert list(chart["variation"].iloc[-2:]) == ["Common cause variation"] * 2


def test_outside_limits_and_labels():
    chart = _chart([17.0, 11.5, 4.0], improvement="decrease")
    assert list(chart["outside_limits"].iloc[12:]) == [True, False, True]
    assert chart["variation"].iloc[12] == "Special cause concern"
    assert chart["variation"].iloc[14] == "Special cause improvement"
    assert chart["variation"].iloc[13] == "Common cause variation"
    assert chart["rules"].iloc[12] == "outside_limits"
    up = _chart([17.0], improvement="increase")
    assert up["variation"].iloc[-1] == "Special cause improvement"
    neutral = _chart([17.0, 4.0])
    assert list(neutral["variation"].iloc[-2:]) == ["Special cause variation (higher)",
                                                    "Special cause variation (lower)"]
    # a downward trend that stays above the mean is labelled by its direction
    trend = _chart([16.0, 15.5, 15.0, 14.0, 13.5, 13.0, 12.0], improvement="decrease")
    assert (trend["variation"].iloc[12:] == "Special cause improvement").all()
    assert "trend" in trend["rules"].iloc[-1] and "shift" in trend["rules"].iloc[-1]
    for col in ["value", "lower", "upper", "confidence", "method", "special_cause"]:
        assert col in chart.columns
    assert chart["confidence"].iloc[0] == pytest.approx(0.9973, abs=1e-4)
    assert "latest point" in chart.attrs["sentence"]


# --------------------------------------------------------------------------- simulations
def _p_run_at_least(n, k):
    """Exact probability of a run of >= k equal signs in n fair coin tosses (dynamic programming)."""
    # state: current run length (1..k-1), no run of k yet
    probs = np.zeros(k)
    probs[1] = 1.0  # after the first toss
    for _ in range(n - 1):
        new = np.zeros(k)
        new[1] = probs[1:].sum() * 0.5
        new[2:] = probs[1:-1] * 0.5
        probs = new
    return 1.0 - probs[1:].sum()


def test_in_control_poisson_rarely_alarms():
    rng = np.random.default_rng(2025)
    reps, n = 400, 24
    outside_points = shift_charts = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(reps):
            chart = control_chart(rng.poisson(60, n), kind="c")
            outside_points += chart["outside_limits"].sum()
            shift_charts += chart["shift"].any()
    # 3-sigma limits: about 0.27% of points outside (Poisson skew adds a little)
    assert outside_points / (reps * n) < 0.008
    # runs of 7 on one side: no more often than for independent fair coin tosses
    p_exact = _p_run_at_least(n, 7)
    assert shift_charts / reps < p_exact + 3 * np.sqrt(p_exact * (1 - p_exact) / reps)


def test_planted_shift_is_detected():
    rng = np.random.default_rng(7)
    reps = 200
    detected = 0
    for _ in range(reps):
        chart = control_chart(np.r_[rng.poisson(50, 24), rng.poisson(65, 12)], kind="c", baseline=24)
        detected += (chart["variation"].iloc[24:] == "Special cause variation (higher)").any()
    assert detected / reps > 0.9


# --------------------------------------------------------------------------- errors and plot
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "x"}, "kind"),
        ({"improvement": "up"}, "improvement"),
        ({"shift_length": 1}, "shift_length"),
        ({"kind": "u"}, "denominators"),
        ({"kind": "c", "denominators": [1] * 14}, "denominators"),
        ({"baseline": 1}, "baseline"),
        ({"baseline": True}, "baseline"),
        ({"multiplier": 0}, "multiplier"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        control_chart(BASE + [11.0, 12.0], **kwargs)


def test_bad_values_raise():
    with pytest.raises(ValueError, match="values"):
        control_chart([1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="values"):
        control_chart([-1, 2, 3] * 5, kind="c")
    with pytest.raises(ValueError, match="exceed"):
        control_chart([5, 2, 3] * 5, kind="p", denominators=[4, 4, 4] * 5)
    with pytest.warns(UserWarning, match="baseline"):
        control_chart([1.0, 2.0, 3.0, 2.0])


def test_plot_control_chart():
    months = pd.period_range("2023-01", periods=20, freq="M")
    chart = control_chart(pd.Series(BASE + [17.0] + [12.5] * 7, index=months), improvement="decrease")
    ax = plot_control_chart(chart, title="ASB, Riverton", ylabel="ASB records per month")
    assert ax.get_title() == "ASB, Riverton" and ax.get_ylabel() == "ASB records per month"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Special cause concern" in labels and "Process limits" in labels
    plt.close("all")
    with pytest.raises(ValueError, match="chart"):
        plot_control_chart(pd.DataFrame({"a": [1]}))


def test_xmr_limits_are_not_floored_but_count_charts_are():
    # as the module docstring says: c/u/p lower limits stop at 0, XmR limits do not
    x = pd.Series([1.0, 6, 0, 5, 1, 7, 0, 4, 2, 6, 1, 5, 0, 6])
    xmr = control_chart(x, kind="xmr")
    assert (xmr["lower"] < 0).all()
    c = control_chart(x, kind="c")
    assert (c["lower"] == 0).all()
