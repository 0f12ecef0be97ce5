"""Shared wording and number formatting (csp_analysis.formatting) and the old names that now
wrap it. Expected strings are those the old helpers printed (git 6d3b95a), so the reports
read as before; the one deliberate change is that a number rounding to zero has no minus
sign in tables too ("-0.0" -> "0.0"), as it already had in sentences."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from csp_analysis import formatting as f
from csp_analysis import local_stats, rates, report
from csp_analysis.interventions import _results
from csp_analysis.sections import disproportionality as s_dp
from csp_analysis.sections import local_indicators as s_li
from csp_analysis.sections import trends as s_tr
from csp_analysis.trends import _utils


@pytest.mark.parametrize("x,dp,expected", [
    (None, 0, "–"), (float("nan"), 1, "–"), (pd.NA, 1, "–"),
    (1234.5, 1, "1,234.5"), (1234.0, 0, "1,234"), (np.int64(1234), 0, "1,234"), (7, 2, "7"),
    (0.25, 2, "0.25"), (-3.14159, 2, "-3.14"), (-0.04, 1, "0.0"),
])
def test_table_numbers(x, dp, expected):
    assert report.format_number(x, dp) == expected
    assert f.format_number(x, dp) == expected


@pytest.mark.parametrize("x,digits,expected", [
    (None, None, "n/a"), (float("nan"), None, "n/a"), (0.01234, None, "0.012"), (123.4, None, "123"),
    (12.34, None, "12.3"), (1.234, None, "1.23"), (12345.6, None, "12,346"), (-0.001, 1, "0.0"),
    (-2.5, 1, "-2.5"), (5, None, "5.00"),
])
def test_sentence_numbers(x, digits, expected):
    assert _utils.format_number(x, digits) == expected


def test_the_percent_helpers_are_one():
    # each old _pct keeps its own defaults (missing marker, scale, sign) through format_percent
    assert rates._pct(12.345) == "12.3%" and rates._pct(float("inf")) == "infinity"
    assert local_stats._pct(27.25) == "27.2%" and local_stats._pct(None) == "n/a" and local_stats._pct(3.14159, 2) == "3.14%"
    assert s_dp._pct(0.1234) == "12.3%" and s_dp._pct(float("nan")) == "–" and s_dp._pct(0.5, 0) == "50%"
    assert s_li._pct(11.3, signed=True) == "+11.3%" and s_li._pct(11.3) == "11.3%" and s_li._pct(None) == "n/a"
    assert s_tr._pct(-4.0) == "-4.0%" and s_tr._pct(4.0) == "+4.0%" and s_tr._pct(4.0, signed=False) == "4.0%"
    assert s_tr._pct(None) == "–"
    assert _utils.format_percent(1234.5) == "1,234.5%"
    assert f.format_percent(1234.5, thousands=True) == "1,234.5%" and f.format_percent(1234.5) == "1234.5%"


@pytest.mark.parametrize("p,sentence,cell,three", [
    (0.0004, "p < 0.001", "<0.001", "p < 0.001"),
    (0.0042, "p = 0.004", "0.004", "p = 0.004"),
    (0.0412, "p = 0.04", "0.041", "p = 0.041"),
    (0.412, "p = 0.41", "0.412", "p = 0.412"),
    (0.995, "p > 0.99", "0.995", "p = 0.995"),
    (float("nan"), "p not available", "", "p not available"),
    (None, "p not available", "", "p not available"),
])
def test_p_values(p, sentence, cell, three):
    assert f.format_p_value(p) == sentence
    assert rates.format_p_value(p) == sentence and _utils.format_p(p) == sentence
    assert f.format_p_value(p, style="cell") == cell
    assert f.format_p_value(p, digits=3) == three == _results.fmt_p(p)
    with pytest.raises(ValueError, match="style"):
        f.format_p_value(0.1, style="table")


@pytest.mark.parametrize("c,label", [(0.95, "95%"), (0.9, "90%"), (0.998, "99.8%"), (0.9973, "99.73%"),
                                     (0.99999, "99.999%")])
def test_confidence_labels(c, label):
    assert f.confidence_label(c) == label == _utils.confidence_label(c) == _results.conf_pct(c)
    assert local_stats._conf(c) == label


@pytest.mark.parametrize("check", [f.check_confidence, rates._check_confidence, _utils.check_confidence,
                                   _results.check_confidence])
def test_one_confidence_check(check):
    assert check(0.95) == 0.95 and check("0.9") == 0.9
    for bad in (0, 1, 95, -0.1, float("nan"), "x", None):
        with pytest.raises(ValueError, match="confidence must be"):
            check(bad)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        check(2, "alpha")


def test_count_format():
    assert f.format_count(1234) == "1,234" == rates.format_count(1234.0)
    assert f.format_count(2.25) == "2.2" and f.format_count(float("nan")) == "n/a"


def test_not_enough_data_guard():
    assert f.not_enough_data(30, 24, "months", "a seasonal trend") is None
    msg = f.not_enough_data(18, 24, "months", "a seasonal trend")
    assert msg == "Not enough data for a seasonal trend: 18 months available, at least 24 needed, so it is not shown."
    assert f.not_enough_data(None, 3, "LSOAs", "hot spots").startswith("Not enough data for hot spots: 0 LSOAs")


def test_infinite_and_auto_digits():
    assert f.format_number(math.inf) == "infinity" and f.format_number(-math.inf, 1) == "-infinity"
    assert f.auto_digits(0.000123) == 5 and f.auto_digits() == 0


def test_table_cell_p_values_of_the_sections():
    from csp_analysis.sections import interventions as s_iv

    for p, old_iv, old_li in [(0.0004, "<0.001", "<0.001"), (0.0412, "0.041", "0.041"),
                              (float("nan"), "–", ""), (None, "–", "")]:
        assert s_iv._ptxt(p) == old_iv
        assert s_li._pfmt(p) == old_li


def test_shared_wording_helpers():
    from csp_analysis.formatting import capitalise, join_and, slugify

    assert capitalise("aSB rose") == "ASB rose" and capitalise("") == ""
    assert join_and([]) == "" and join_and(["a"]) == "a" and join_and(["a", "b"]) == "a and b"
    assert join_and(["a", "b", "c"]) == "a, b and c"
    assert slugify("  Violence & sexual offences!") == "violence_sexual_offences"
    assert slugify("x" * 50, max_len=40) == "x" * 40
