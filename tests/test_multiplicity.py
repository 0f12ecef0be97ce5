import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from csp_analysis.multiplicity import adjust_p_values, allowing_text


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_matches_statsmodels(method):
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 40):
        p = rng.uniform(0, 1, n) ** 3
        p[0] = p[-1]  # ties
        got = adjust_p_values(p, method=method)
        want = multipletests(p, method=method)[1]
        np.testing.assert_allclose(got["p_adjusted"], want, rtol=1e-12)
        assert (got["reject"] == (want < 0.05)).all()
        assert (got["n_comparisons"] == n).all()


def test_missing_values_are_outside_the_family_and_index_kept():
    s = pd.Series([0.01, np.nan, 0.02], index=["a", "b", "c"])
    got = adjust_p_values(s)
    assert list(got.index) == ["a", "b", "c"]
    assert np.isnan(got.loc["b", "p_adjusted"]) and not got.loc["b", "reject"]
    np.testing.assert_allclose(got.loc[["a", "c"], "p_adjusted"], [0.02, 0.02])
    assert got["method"].iloc[0] == "Holm over 2 comparisons"


def test_holm_controls_family_wise_error_under_the_null():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(2000, 15))
    fwer = np.mean([adjust_p_values(row)["reject"].any() for row in p])
    assert 0.03 < fwer < 0.07
    assert np.mean((p < 0.05).any(axis=1)) > 0.4  # unadjusted: about half of null reports


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        adjust_p_values([0.1], method="bonferroni-ish")
    with pytest.raises(ValueError, match="between 0 and 1"):
        adjust_p_values([1.5])
    assert allowing_text(15) == "after allowing for 15 comparisons (Holm)"
    assert "single comparison" in allowing_text(1)
