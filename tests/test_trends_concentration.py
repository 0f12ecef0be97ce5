"""Tests for csp_analysis.trends.concentration.

References: the worked examples of Steenbeek's lorenzgini R package (Bernasco & Steenbeek
2017), the mean-absolute-difference definition of the Gini coefficient, hand-computed top
shares, the Clopper-Pearson interval written with beta quantiles, and a seeded simulation of
places with planted risk for bootstrap coverage.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csp_analysis.trends import concentration, gini, top_places
from csp_analysis.trends.concentration import _gini_axis, _top_share_axis


def test_lorenzgini_examples():
    # lorenzgini::gini documentation examples (generalized / unbiased = FALSE)
    assert gini([10, 8, 2, 0, 0, 0, 0, 0, 0, 0], generalised=False) == pytest.approx(0.78)
    assert gini([10, 8, 2, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(0.78)  # N >= n: same
    assert gini([5, 2, 1, 0, 0, 0, 0, 0, 0, 0], generalised=False) == pytest.approx(0.80)
    assert gini([5, 2, 1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(0.75)
    assert gini([10] + [0] * 9, generalised=False) == pytest.approx(0.9)


def test_gini_equals_mean_absolute_difference_definition():
    rng = np.random.default_rng(1)
    x = rng.poisson(rng.gamma(0.7, 6, 150)).astype(float)
    mad_gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x, generalised=False) == pytest.approx(mad_gini, rel=1e-12)


def test_generalised_gini_bounds():
    # maximal equality with fewer records than places: N places with one record each -> 0
    assert gini([1] * 5 + [0] * 45) == pytest.approx(0.0, abs=1e-12)
    assert gini([1] * 5 + [0] * 45, generalised=False) == pytest.approx(0.9)
    # all records in one place -> 1 - 1/N
    assert gini([8] + [0] * 49) == pytest.approx(1 - 1 / 8)


def test_top_shares_hand_computed():
    counts = [10, 5, 3, 2] + [0] * 16  # 20 places, 20 records
    res = concentration(counts, n_boot=200).set_index("measure")
    assert res.loc["share_top_5%", "value"] == pytest.approx(10 / 20)  # 1 place
    assert res.loc["share_top_10%", "value"] == pytest.approx(15 / 20)  # 2 places
    # 30 places: 5% is 1.5 places -> the busiest plus half of the next (Lorenz curve)
    res30 = concentration(counts, places_total=30, n_boot=200).set_index("measure")
    assert res30.loc["share_top_5%", "value"] == pytest.approx((10 + 0.5 * 5) / 20)
    assert res30.loc["share_top_5%", "n_top_places"] == pytest.approx(1.5)


def test_places_total_adds_zero_places():
    counts = pd.Series([12, 7, 5, 3, 1], index=list("abcde"))
    a = concentration(counts, places_total=40, n_boot=300, seed=3)
    b = concentration(list(counts) + [0] * 35, n_boot=300, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a.set_index("measure").loc["gini", "value"] > concentration(counts, n_boot=300).set_index(
        "measure").loc["gini", "value"]


def test_result_shape_and_sentences():
    rng = np.random.default_rng(4)
    res = concentration(rng.poisson(3, 200), top_fractions=0.1, place_label="LSOAs", n_boot=300)
    assert list(res["measure"]) == ["share_top_10%", "gini"]
    for col in ["value", "lower", "upper", "confidence", "method", "sentence"]:
        assert col in res.columns
    assert (res["lower"] <= res["value"]).all() and (res["value"] <= res["upper"]).all()
    assert "The busiest 10% of LSOAs (20 of 200)" in res["sentence"].iloc[0]
    assert "95% CI" in res["sentence"].iloc[0]
    sparse = concentration([1, 2] + [0] * 50, n_boot=300).set_index("measure")
    assert "generalised Gini" in sparse.loc["gini", "sentence"]


def test_seed_makes_intervals_reproducible():
    x = np.random.default_rng(5).poisson(2, 120)
    a = concentration(x, n_boot=300, seed=11)
    b = concentration(x, n_boot=300, seed=11)
    pd.testing.assert_frame_equal(a, b)


def test_bootstrap_interval_covers_planted_concentration():
    """Places with gamma-distributed risk and Poisson counts. The target is the statistic's
    value in a very large population of such places; the BCa intervals from 300 places should
    cover it about 95% of the time, for the top shares and the Gini."""
    rng = np.random.default_rng(2017)
    shape, scale, n_places, reps = 0.5, 20.0, 300, 120
    population = rng.poisson(rng.gamma(shape, scale, 1_000_000))
    truth = {"share_top_5%": _top_share_axis(population, 0.05),
             "share_top_10%": _top_share_axis(population, 0.10),
             "gini": _gini_axis(population)}
    hits = {k: 0 for k in truth}
    for r in range(reps):
        res = concentration(rng.poisson(rng.gamma(shape, scale, n_places)), n_boot=600, seed=r)
        for _, row in res.iterrows():
            hits[row["measure"]] += row["lower"] <= truth[row["measure"]] <= row["upper"]
    for measure, h in hits.items():
        assert 0.88 <= h / reps <= 0.995, (measure, h / reps)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_fractions": 1.5}, "top_fractions"),
        ({"places_total": 3}, "places_total"),
        ({"confidence": 0}, "confidence"),
        ({"n_boot": 10}, "n_boot"),
        ({"ci_method": "normal"}, "ci_method"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        concentration([3, 2, 1, 0, 4], **kwargs)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="counts_by_place"):
        concentration([3, -1, 2])
    with pytest.raises(ValueError, match="no records"):
        concentration([0, 0, 0])
    with pytest.raises(ValueError, match="counts_by_place"):
        gini([4])


# --------------------------------------------------------------------------- top places
def test_top_places_entered_and_left():
    previous = pd.Series({"A": 30, "B": 25, "C": 20, "D": 5, "E": 2})
    current = pd.Series({"A": 28, "C": 10, "D": 22, "E": 3, "F": 15})
    table = top_places(current, previous, n=3)
    assert list(table["place"]) == ["A", "D", "F", "C", "B"]
    t = table.set_index("place")
    assert t.loc["D", "entered"] and t.loc["F", "entered"]
    assert t.loc["B", "left"] and t.loc["C", "left"]
    assert not t.loc["A", "entered"] and not t.loc["A", "left"]
    assert t.loc["B", "count_current"] == 0 and t.loc["B", "change"] == -25
    assert t.loc["F", "count_previous"] == 0 and np.isinf(t.loc["F", "value"])
    assert t.loc["A", "rank_current"] == 1 and t.loc["D", "rank_previous"] == 4


def test_top_places_ratio_interval_is_clopper_pearson():
    table = top_places(pd.Series({"X": 20, "Y": 1}), pd.Series({"X": 10, "Y": 1}), n=1).set_index("place")
    c1, c0 = 20, 10
    lo_p = stats.beta.ppf(0.025, c1, c0 + 1)
    hi_p = stats.beta.ppf(0.975, c1 + 1, c0)
    assert table.loc["X", "value"] == pytest.approx(2.0)
    assert table.loc["X", "lower"] == pytest.approx(lo_p / (1 - lo_p), rel=1e-8)
    assert table.loc["X", "upper"] == pytest.approx(hi_p / (1 - hi_p), rel=1e-8)
    assert table.loc["X", "confidence"] == 0.95 and "Clopper-Pearson" in table.loc["X", "method"]


def test_top_places_ties_extend_the_list_and_errors():
    table = top_places(pd.Series({"a": 5, "b": 5, "c": 5, "d": 1}), pd.Series({"a": 1}), n=2)
    assert set(table["place"]) == {"a", "b", "c"}
    with pytest.raises(ValueError, match="current"):
        top_places([1, 2], pd.Series({"a": 1}))
    with pytest.raises(ValueError, match="n"):
        top_places(pd.Series({"a": 1}), pd.Series({"a": 1}), n=0)
    with pytest.raises(ValueError, match="previous"):
        top_places(pd.Series({"a": 1}), pd.Series({"a": -1}))


def test_whole_places_rounds_up_to_whole_places():
    rng = np.random.default_rng(8)
    x = rng.poisson(rng.gamma(0.7, 8, 150)).astype(float)
    res = concentration(x, n_boot=200, place_label="LSOAs", whole_places=True).set_index("measure")
    top = np.sort(x)[::-1]
    assert res.loc["share_top_5%", "n_top_places"] == 8  # 5% of 150 = 7.5 -> 8 whole LSOAs
    assert res.loc["share_top_5%", "value"] == pytest.approx(top[:8].sum() / x.sum())
    assert res.loc["share_top_10%", "n_top_places"] == 15
    assert res.loc["share_top_10%", "value"] == pytest.approx(top[:15].sum() / x.sum())
    s5 = res.loc["share_top_5%", "sentence"]
    assert s5.startswith("The busiest 8 of 150 LSOAs (the top 5%, rounded up to whole places)") and "7.5" not in s5
    assert res.loc["share_top_10%", "sentence"].startswith("The busiest 15 of 150 LSOAs (the top 10%)")
    # the default still reads the Lorenz curve at the exact fraction
    lorenz = concentration(x, n_boot=200).set_index("measure")
    assert lorenz.loc["share_top_5%", "n_top_places"] == pytest.approx(7.5)
