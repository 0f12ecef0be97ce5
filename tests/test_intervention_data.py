"""Tests for csp_analysis.intervention_data: the usable-data rules and the small pieces of the
series builder (the whole builder runs on the synthetic store in test_sections_interventions.py).

The expected months follow from the module's constants (MIN_PRE 12, MIN_PRE_SEASONAL 24,
MIN_POST 6, MAX_GAP 2) counted by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csp_analysis import intervention_data as idata


def months(first: str, last: str) -> list[pd.Timestamp]:
    return list(pd.date_range(first, last, freq="MS"))


def test_constants_are_the_documented_rules():
    assert (idata.MIN_PRE, idata.MIN_PRE_SEASONAL, idata.MIN_POST, idata.MAX_GAP) == (12, 24, 6, 2)


def test_target_crime_types_and_label():
    assert idata.target_crime_types([]) == ([], "all crime (excluding ASB)")
    assert idata.target_crime_types(["All crime"]) == ([], "all crime (excluding ASB)")
    assert idata.target_crime_types(["All crime", idata.ASB]) == (None, "all crime and anti-social behaviour")
    types, label = idata.target_crime_types(["Burglary", "Robbery", idata.ASB])
    assert types == ["Burglary", "Robbery", idata.ASB]
    assert label == "burglary, robbery and anti-social behaviour (ASB)"


def test_two_years_before_and_one_after_allow_seasonal_models():
    cov = idata.assess_coverage(months("2020-01", "2022-12"), "2022-01")
    assert cov.can_model and cov.seasonal and cov.can_placebo
    assert (cov.n_pre, cov.n_post) == (24, 12)
    assert cov.pre[0] == pd.Timestamp("2020-01-01") and cov.post[0] == pd.Timestamp("2022-01-01")
    assert cov.reasons == [] and cov.cautions == []


def test_phase_in_months_are_in_neither_period():
    cov = idata.assess_coverage(months("2020-01", "2022-12"), "2022-01", phase_in_months=3)
    assert cov.effective_start == pd.Timestamp("2022-04-01")
    assert cov.phase_in == months("2022-01", "2022-03")
    assert cov.n_post == 9 and cov.n_pre == 24


def test_twelve_months_before_model_without_seasonal_terms_eleven_do_not():
    ok = idata.assess_coverage(months("2021-01", "2022-12"), "2022-01")
    assert ok.can_model and not ok.seasonal and ok.n_pre == 12
    assert any("without seasonal terms" in c for c in ok.cautions)
    short = idata.assess_coverage(months("2021-02", "2022-12"), "2022-01")
    assert not short.can_model and short.n_pre == 11
    assert "At least 12 are needed" in short.reasons[0]


def test_short_gaps_are_left_out_long_gaps_end_the_period():
    usable = [m for m in months("2019-01", "2022-12") if m not in months("2021-05", "2021-06")]
    cov = idata.assess_coverage(usable, "2022-01")
    assert cov.pre_gap_months == months("2021-05", "2021-06")  # 2 missing months: bridged, never filled
    assert cov.n_pre == 36 - 2
    long_gap = [m for m in months("2019-01", "2022-12") if m not in months("2021-03", "2021-05")]
    cov = idata.assess_coverage(long_gap, "2022-01")
    assert cov.pre[0] == pd.Timestamp("2021-06-01") and cov.n_pre == 7 and not cov.can_model
    assert "gap back to" in cov.reasons[0]


def test_no_after_period_and_too_few_crimes():
    cov = idata.assess_coverage(months("2020-01", "2021-12"), "2022-03")
    assert not cov.can_model and "no 'after' period yet" in cov.reasons[-1]
    few = idata.assess_coverage(months("2020-01", "2022-12"), "2022-01", pre_total=idata.MIN_PRE_TOTAL - 1)
    assert not few.can_model and "target crimes" in few.reasons[0]
    post5 = idata.assess_coverage(months("2020-01", "2022-05"), "2022-01")
    assert not post5.can_model and post5.n_post == 5 and "At least 6 are needed" in post5.reasons[0]


def test_pre_longest_run():
    cov = idata.assess_coverage([m for m in months("2019-01", "2022-12") if m != pd.Timestamp("2020-06-01")],
                                "2022-01")
    run = cov.pre_longest_run()
    assert run[0] == pd.Timestamp("2020-07-01") and len(run) == 18


def test_days_in_month_counts_leap_years():
    assert idata.days_in_month(months("2024-01", "2024-03")).tolist() == [31.0, 29.0, 31.0]
    assert idata.days_in_month([pd.Timestamp("2023-02-01")]).tolist() == [28.0]


def test_distance_and_auto_buffer():
    # one degree of latitude is 111.32 km; at 60N a degree of longitude is half that
    assert idata._km(0.0, 50.0, 0.0, 51.0) == pytest.approx(111.32)
    assert idata._km(0.0, 60.0, 1.0, 60.0) == pytest.approx(111.32 * np.cos(np.radians(60.0)))
    places = pd.DataFrame({"unit": ["T", "A", "B", "C"], "longitude": [0.0, 0.0, 0.0, np.nan],
                           "latitude": [52.0, 52.005, 52.02, 52.0]})
    units, km = idata._auto_buffer(places, ["T"], 1.0)
    assert units == ["A"] and km == 1.0  # B is 2.2 km away; C has no centroid
    assert idata._auto_buffer(places, [], 1.0) == ([], 1.0)


def test_msoa_name():
    assert idata._msoa("Riverton 005B") == "Riverton 005"
    assert idata._msoa("Not an LSOA name") == "Not an LSOA name"
