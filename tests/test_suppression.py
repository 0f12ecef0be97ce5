"""The one suppression module (csp_analysis.suppression).

The reference fixture ``fixtures/suppression_reference.json`` holds the cells that the two
implementations before the module (``disproportionality.suppress_small_numbers`` and
``local_indicators.suppression_mask``/``secondary_suppression``/``suppress_small_counts``, git
6d3b95a) suppressed on 310 random inputs; the unified module must suppress exactly the same
cells (so the default reports do not change). The report CSVs were also compared before and
after (see the contract helper's report).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csp_analysis import disproportionality, local_indicators, report, suppression
from csp_analysis.suppression import (
    _smallest_free,
    primary_mask,
    secondary_suppression,
    suppress_small_numbers,
    suppression_mask,
)

REF = json.loads((Path(__file__).parent / "fixtures" / "suppression_reference.json").read_text())


def test_old_import_paths_are_the_module():
    assert disproportionality.suppress_small_numbers is suppress_small_numbers
    assert local_indicators.suppression_mask is suppression_mask
    assert local_indicators.secondary_suppression is secondary_suppression


def test_cross_tables_suppress_the_same_cells_as_before():
    assert len(REF["tables"]) >= 100
    for case in REF["tables"]:
        v = np.array(case["values"])
        df = pd.DataFrame(v, columns=[f"c{j}" for j in range(v.shape[1])])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, mask = suppress_small_numbers(df, threshold=case["threshold"], totals=case["totals"],
                                             suppress_zeros=case["suppress_zeros"])
        assert mask.to_numpy().astype(int).tolist() == case["mask"], case


def test_primary_masks_suppress_the_same_figures_as_before():
    for case in REF["masks"]:
        v = np.array([np.nan if x is None else x for x in case["values"]], dtype=float)
        d = np.array([np.nan if x is None else x for x in case["denominators"]], dtype=float)
        got = suppression_mask(v, d, True, case["threshold"])
        assert got.astype(int).tolist() == case["mask"], case


def test_breakdown_secondary_suppression_is_the_same_as_before():
    for case in REF["secondary"]:
        df = pd.DataFrame({"g": case["g"], "h": case["h"], "value": case["value"],
                           "suppressed": np.array(case["suppressed"], dtype=bool)})
        assert secondary_suppression(df, ["g", "h"]).astype(int).tolist() == case["extra"], case


def test_local_indicator_tables_suppress_the_same_figures_as_before():
    for case in REF["long"]:
        out = local_indicators.suppress_small_counts(pd.DataFrame(case["rows"]), threshold=case["threshold"])
        assert out["suppressed"].astype(int).tolist() == case["suppressed"]
        assert out["secondary"].astype(int).tolist() == case["secondary"]
        assert out["denominator_suppressed"].astype(int).tolist() == case["denominator_suppressed"]


def test_one_rule_for_both_shapes():
    # a breakdown is one line of a cross-table whose total is published: with positive figures
    # the long-table secondary rule picks the same cells as the cross-table rule on one row
    rng = np.random.default_rng(7)
    for _ in range(200):
        k = int(rng.integers(2, 8))
        v = rng.choice([1, 2, 3, 4, 6, 9, 15, 40], size=k).astype(float)
        _, mask = suppress_small_numbers(pd.DataFrame([v]), threshold=5, totals="rows")
        long = pd.DataFrame({"b": "x", "value": v, "suppressed": primary_mask(v, 5)})
        extra = secondary_suppression(long, "b")
        if primary_mask(v, 5).sum() == 1:  # the case the breakdown rule is for
            assert (long["suppressed"] | extra).tolist() == mask.iloc[0].tolist(), v


def test_primary_rule():
    v = np.array([0, 1, 4, 5, np.nan, 12])
    assert primary_mask(v, 5).tolist() == [False, True, True, False, False, False]
    assert primary_mask(v, 5, suppress_zeros=True).tolist() == [True, True, True, False, False, False]
    assert not primary_mask(v, 0).any()


def test_smallest_free_prefers_non_zero_and_the_long_form_never_picks_a_zero():
    m = np.array([True, False, False, False])
    assert _smallest_free(m, np.array([3.0, 0.0, 7.0, 6.0])) == 3
    assert _smallest_free(m, np.array([3.0, 0.0, 0.0, np.nan])) == 1
    assert _smallest_free(m, np.array([3.0, 0.0, 0.0, np.nan]), allow_zero=False) is None


def test_a_table_without_a_total_no_longer_fails():
    # one column and only row totals: nothing is derivable (the old code raised from scipy)
    _, mask = suppress_small_numbers(pd.DataFrame({"a": [2, 40, 3]}), totals="rows")
    assert mask["a"].tolist() == [True, False, True]


def test_report_tables_use_the_module():
    df = pd.DataFrame({"searches": [3, 40, 12], "arrests": [1, 9, 4]})
    pd.testing.assert_frame_equal(report.suppress_counts(df, ["searches", "arrests"], 5),
                                  suppression.suppress_small_numbers(df, ["searches", "arrests"], threshold=5)[0])


@pytest.mark.parametrize("bad", [{"threshold": 0}, {"totals": "diagonal"}, {"columns": ["nope"]}])
def test_bad_arguments_are_named(bad):
    with pytest.raises(ValueError):
        suppress_small_numbers(pd.DataFrame({"a": [1, 2]}), **bad)


def test_determined_cells_has_a_public_name():
    # issue 15.4: the private name stays as an alias (disproportionality re-exports it)
    assert suppression._determined_cells is suppression.determined_cells
    assert disproportionality._determined_cells is suppression.determined_cells
    one = np.array([[True, False], [False, False]])
    assert suppression.determined_cells(one, rows=True, cols=False) == [(0, 0)]
    assert suppression.determined_cells(np.ones((2, 2), dtype=bool), rows=True, cols=True) == []
