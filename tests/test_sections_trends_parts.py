"""The parts of the trends section package (csp_analysis.sections.trends): the pure compute step
on small hand-made DataFrames (no store, no notebook) and the charts, tables and wording built
from a computed result without a report context."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis.formatting import not_enough_data  # noqa: E402
from csp_analysis.sections import trends  # noqa: E402
from csp_analysis.sections.trends import charts, compute, constants, tables, wording  # noqa: E402

MONTHS = pd.date_range("2023-01-01", "2025-12-01", freq="MS")


def _counts(scale: float, seed: int, drop: tuple = ()) -> pd.DataFrame:
    """Monthly counts of three crime types: burglary falls, shoplifting rises, ASB flat."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(MONTHS)) / 12
    rows = []
    for ctype, base, growth in (("Burglary", 60, -0.15), ("Shoplifting", 80, 0.20), (constants.ASB, 100, 0.0)):
        n = rng.poisson(scale * base * np.exp(growth * t))
        rows += [{"month": m, "crime_type": ctype, "n": int(k)} for m, k in zip(MONTHS, n) if m not in drop]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def inputs():
    gap = (pd.Timestamp("2023-05-01"),)  # one month with no published file
    areas = [compute.AreaCounts("Testham", "Partnership", 120_000.0, _counts(1.0, 1, gap)),
             compute.AreaCounts("Testshire (force area)", "Force area", 900_000.0, _counts(7.0, 2), own_months=True)]
    return compute.TrendsInputs(partnership="Testham", start="2023-01-01", end="2025-12-01",
                                priority_crime_types=["Burglary", "All crime"], areas=areas,
                                force_file_counts=pd.DataFrame(), national=([], None, list(constants.EW_FORCES)))


@pytest.fixture(scope="module")
def res(inputs):
    return compute.compute_trends(inputs)


def test_compute_from_hand_made_frames(res):
    assert res.partnership == "Testham" and res.priorities == ["Burglary", constants.ALL_CRIME]
    assert [str(m) for m in res.missing] == ["2023-05"] and len(res.months) == 35
    assert res.lag == 12 and str(res.latest[0]) == "2025-01" and str(res.previous[-1]) == "2024-12"
    h = res.headline.set_index(["area", "measure"])
    allc = h.loc[("Testham", constants.ALL_CRIME)]
    s = res.series
    assert allc["latest"] == s.loc[res.latest, constants.ALL_CRIME].sum()
    assert allc["latest"] == s.loc[res.latest, ["Burglary", "Shoplifting"]].sum().sum()  # ASB left out
    assert allc["months_compared"] == 12 and allc["n_comparisons"] >= 3
    assert allc["percent_lower"] < allc["percent_change"] < allc["percent_upper"]
    assert set(res.areas["area_type"]) == {"Partnership", "Force area"}
    # the planted trends: burglary down about 14% a year, shoplifting up about 22%
    lr = res.long_run.set_index("measure")
    assert lr.loc["Burglary", "change_upper"] < 0 < lr.loc["Shoplifting", "change_lower"]
    assert lr.loc["Burglary", "change_lower"] < -13.9 < lr.loc["Burglary", "change_upper"]
    assert lr.loc["Burglary", "months_used"] == 35
    assert res.national_note.startswith("England and Wales is not shown: the store holds no street files")


def test_excluded_months_and_comparison_window_are_pure():
    flags = pd.DataFrame({"series": [constants.ASB, constants.ASB, "Burglary"],
                          "month": ["2024-06", "2024-02", "2024-03"], "exclude": [True, True, False]})
    ex = compute.excluded_months(flags)
    assert ex == {constants.ASB: [pd.Period("2024-02", freq="M"), pd.Period("2024-06", freq="M")]}
    months = pd.period_range("2022-01", "2022-12", freq="M").tolist() + \
        pd.period_range("2024-01", "2024-12", freq="M").tolist()
    latest, lag = compute.comparison_window(months, {}, "2022-01-01", "2024-12-01")
    assert str(latest[0]) == "2024-01" and lag == 24  # 2023 missing: the same months two years earlier


def test_national_coverage_and_months_to_use():
    months = pd.period_range("2024-01", "2024-12", freq="M")
    rows = [{"force": f, "month": m.to_timestamp()} for m in months for f in constants.EW_FORCES
            if not (f == "kent" and m.month == 3)]
    full, best, absent = compute.national_coverage(pd.DataFrame(rows))
    assert len(full) == 11 and absent == [] and str(best) == "2024-12"
    latest = months
    assert compute.national_months_to_use(list(months), latest, 12, full) is None  # March lacks Kent
    note = wording.national_note(False, pd.Period("2024-03", freq="M"), ["kent"], 11)
    assert "at most 42 of them" in note and "missing kent" in note and "for 11 months" in note


def test_windows_for_charts_and_stl():
    usable = pd.period_range("2021-01", "2025-12", freq="M").tolist()
    w = compute.chart_window(usable)
    assert len(w["months"]) == constants.CHART_MONTHS and w["capped"] and not w["across_gaps"]
    gappy = usable[:30] + usable[40:45]
    w2 = compute.chart_window(gappy)
    assert w2["across_gaps"] and len(w2["run"]) == 5 and w2["months"] == gappy[-constants.CHART_MONTHS:]
    assert compute.chart_window([])["months"] == []
    run, longest = compute.stl_run(gappy, 24)
    assert len(run) == 30 and longest == run
    run, longest = compute.stl_run(usable[:20] + usable[22:30], 24)
    assert run == [] and len(longest) == 20


def _say_ctx():
    said, tables_, heads = [], [], []
    ctx = SimpleNamespace(say=said.append, show=lambda fig: plt.close(fig),
                          table=lambda df, name, caption, **kw: tables_.append((df, name, caption, kw)),
                          headline=lambda *a, **k: heads.append((a, k)))
    return ctx, said, tables_, heads


def test_charts_tables_and_wording_from_a_computed_result(res):
    fig = charts.monthly_chart(res, "Burglary", "2023-01-01", "2025-12-01")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "No data published" in labels and "Long-run trend (count model)" in labels
    plt.close(fig)
    fig = charts.forest_plot(res.long_run, res.priorities, res.partnership)
    assert "Burglary (priority)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    part = res.headline[(res.headline["area"] == res.partnership) & (res.headline["months_compared"] > 0)]
    text = wording.summary_changes(res, part)
    assert text.startswith("Comparing the latest 12 months (Jan 2025 to Dec 2025) against the previous 12 months")
    assert "**burglary" in text  # a priority: in bold
    assert "Data caveats" in wording.summary_caveats(res) and "May 2023" in wording.summary_caveats(res)
    shown = tables.display_headline(tables.in_measure_order(part, res.measures), area=False)
    assert list(shown["Crime type"][:2]) == [constants.ALL_CRIME, constants.ASB]
    assert set(shown["Verdict"]) <= {"unlikely to be chance", "could be chance"}
    t = tables.long_run_table(res.long_run, res.priorities)
    assert constants.SEN_COLUMN in t and t.loc[t["Crime type"] == "Burglary", "Priority"].item() == "yes"


def test_sections_use_the_one_guard_for_too_little_data(res):
    ctx, said, tables_, heads = _say_ctx()
    empty = SimpleNamespace(long_run=pd.DataFrame(), priorities=[], partnership="P")
    trends.long_run(ctx, empty)
    assert said[-1] == not_enough_data(0, 1, "usable months", "a long-run trend")
    # a control chart needs 8 usable months: only 6 are usable here
    short = SimpleNamespace(usable=lambda m: res.months[-6:], series=res.series, population=None, partnership="P")
    assert trends._control_chart(ctx, short, "Burglary") is None
    assert said[-1] == "*Control chart:* " + not_enough_data(6, 8, "usable months", "a control chart")
    trends.summary(ctx, SimpleNamespace(headline=res.headline.assign(months_compared=0), partnership="Testham",
                                        long_run=pd.DataFrame(), missing=[], excluded={}))
    assert said[-1].startswith("Not enough data for a year-on-year change: 0 months")


def test_kept_names_still_import():
    for name in ("analyse", "summary", "data_quality", "headline_table", "priority_sections", "long_run",
                 "hot_spots", "hot_spot_data", "headline_rows", "adjust_family", "control_chart_of_record",
                 "rule_sentences", "concentration_display", "concentration_sentences", "TrendsResult",
                 "_pct", "_choose_lag", "_long_run", "_control_chart", "_lsoa_vintages", "_national_months",
                 "data", "tr", "SEN_COLUMN", "XMR_SWITCH_SHARE", "label", "cap"):
        assert hasattr(trends, name), name
