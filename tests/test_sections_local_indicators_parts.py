"""The parts of the local-indicators section (``csp_analysis.sections.local_indicators``) on a
small hand-made frame: the pure compute step (no store, no notebook, no ``ctx``) against
independent references (scipy's exact binomial tests, statsmodels' Wilson interval and Holm
adjustment), and the charts and wording drawn from a computed result without a ``ctx``.

The rendered report itself is checked in ``test_sections_local_indicators.py`` (Barnsley's
figures and a synthetic file, with a digest of the report's content).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402
from statsmodels.stats.proportion import proportion_confint  # noqa: E402

from csp_analysis.local_indicators import FRAME_COLUMNS, period_bounds  # noqa: E402
from csp_analysis.sections import local_indicators as li  # noqa: E402
from csp_analysis.sections.local_indicators import charts, compute, wording  # noqa: E402

FY = "financial_year"


def frame(rows: list[dict]) -> pd.DataFrame:
    """A local-indicators frame as the loaders give it, from a few hand-written rows."""
    recs = []
    for i, r in enumerate(rows, 1):
        start, end = period_bounds(r["period"], r["period_type"])
        rec = dict.fromkeys(FRAME_COLUMNS)
        rec.update(partnership="t", unit="count", counts_children=True, source="Hand-made; table 1",
                   source_row=i, line=i + 1, period_start=pd.Timestamp(start), period_end=pd.Timestamp(end))
        rec.update(indicator_label=r["indicator"].replace("_", " ").capitalize(), **r)
        recs.append(rec)
    df = pd.DataFrame(recs)
    for col in ("value", "denominator", "comparator_value"):
        df[col] = pd.to_numeric(df[col]).astype("float64")
    df["counts_children"] = df["counts_children"].astype(bool)
    return df


def rows() -> list[dict]:
    out = [dict(indicator="referrals", period="2021/22", period_type=FY, value=200),
           dict(indicator="referrals", period="2022/23", period_type=FY, value=260)]
    for per, den, counts in (("2021/22", 460, (140, 110, 10, 200)), ("2022/23", 500, (150, 120, 3, 227))):
        for g, v in zip("ABCD", counts):
            out.append(dict(indicator="by_source", period=per, period_type=FY, value=v, denominator=den, group=g))
    for g, pct in (("A", 25.0), ("B", 30.0)):
        out.append(dict(indicator="by_source", period="2022/23", period_type=FY, unit="percent",
                        counts_children=False, group=g, comparator="National", comparator_value=pct))
    for k, m in enumerate(pd.period_range("2022-04", periods=5, freq="M")):  # five months: too few for a chart
        out.append(dict(indicator="few_months", period=str(m), period_type="month", value=20 + k))
    for k, m in enumerate(pd.period_range("2022-04", periods=6, freq="M")):  # six: a series, no c-chart yet
        out.append(dict(indicator="six_months", period=str(m), period_type="month", value=30 + k))
    return out


@pytest.fixture(scope="module")
def computed() -> compute.LocalResult:
    res = compute.LocalResult(status="ok", name="Test partnership", slug="t", threshold=5, df=frame(rows()))
    return compute.run_analyses(res)


def test_change_in_counts_is_the_exact_conditional_test(computed):
    r = computed.changes.set_index(computed.changes["group"].fillna("")).loc[""]
    assert (r["previous"], r["current"]) == (200, 260) and r["percent_change"] == pytest.approx(30.0)
    # two Poisson counts with equal exposure: the later count given the total is binomial(n, 1/2)
    assert r["p_value"] == pytest.approx(stats.binomtest(260, 460, 0.5).pvalue, rel=1e-9)
    ci = stats.binomtest(260, 460, 0.5).proportion_ci(0.95, method="exact")
    assert r["lower"] == pytest.approx(ci.low / (1 - ci.low), rel=1e-6)
    assert r["upper"] == pytest.approx(ci.high / (1 - ci.high), rel=1e-6)


def test_shares_wilson_suppression_and_comparators(computed):
    t = computed.proportions["by_source"].set_index(["period", "group"])
    a = t.loc[("2022/23", "A")]
    lo, hi = proportion_confint(150, 500, alpha=0.05, method="wilson")
    assert (a["numerator"], a["denominator"]) == (150, 500) and a["percent"] == pytest.approx(30.0)
    assert (a["lower"], a["upper"]) == pytest.approx((100 * lo, 100 * hi), rel=1e-9)
    c = t.loc[("2022/23", "C")]  # 3 children: suppressed, and so is the smallest other count (secondary)
    assert c["suppressed"] and np.isnan(c["numerator"])
    assert t.loc[("2022/23", "B"), "suppressed"] and t.loc[("2022/23", "B"), "secondary"]
    assert li.hidden_flags(computed, "by_source", "2022/23", "C")[0]
    cmp_ = computed.comparisons["by_source"].set_index("group")
    exact = [stats.binomtest(150, 500, 0.25).pvalue, stats.binomtest(120, 500, 0.30).pvalue]
    # B is hidden by the one suppression decision, so only A keeps its test
    assert cmp_.loc["A", "p_value"] == pytest.approx(exact[0], rel=1e-9)
    assert cmp_.loc["A", "p_value_holm"] == pytest.approx(multipletests(exact, method="holm")[1][0], rel=1e-9)
    assert cmp_.loc["B", "suppressed"] and np.isnan(cmp_.loc["B", "p_value"])


def test_share_changes_holm_within_the_breakdown(computed):
    sc = computed.share_changes.set_index("group")
    a = sc.loc["A"]
    assert a["p_value"] == pytest.approx(stats.fisher_exact([[150, 350], [140, 320]]).pvalue, rel=1e-9)
    tested = sc["p_value"].dropna()  # A and D: B and C are hidden in 2022/23
    assert list(tested.index) == ["A", "D"]
    assert np.allclose(sc["p_value_holm"].dropna(), multipletests(tested, method="holm")[1])
    assert sc.loc["C", "suppressed"] and np.isnan(sc.loc["C", "p_value_holm"])
    assert not isinstance(a["sentence"], str)  # worded later, by wording.share_change_sentences


def test_not_enough_months_for_a_series_or_a_c_chart(computed):
    assert "few_months" not in computed.monthly_series and "few_months" not in computed.used
    s = computed.monthly_series["six_months"]
    assert len(s) == 6 and s.attrs.get("chart") is None


def test_wording_and_charts_from_a_computed_result_without_ctx(computed):
    worded = compute.LocalResult(**{**computed.__dict__})
    worded.share_changes = wording.share_change_sentences(computed.share_changes)
    worded.findings = wording.findings(worded)
    top = {f["key"]: f for f in worded.findings}
    assert "rose 30.0%" in top["referrals__change"]["sentence"]
    assert top["by_source__comparators"]["value"] == int((computed.comparisons["by_source"]["p_value_holm"]
                                                          < 0.05).sum())
    a = worded.share_changes.set_index("group").loc["A"]
    assert "the share" in a["sentence"] and "after Holm adjustment" in a["sentence"]
    text = wording.summary_text(worded)
    assert text.startswith("## Summary") and "figures on 4 indicators" in text
    assert wording.bullets(["a", "", "b"]) == "- a\n- b"
    figs = [charts.forest_chart(computed.changes, "Test: change"),
            charts.share_bars(computed.proportions["by_source"], "2021/22", FY),
            charts.comparator_chart(computed.comparisons["by_source"]),
            charts.monthly_series_chart(computed.monthly_series["six_months"], "Six months")]
    try:
        for fig in figs:
            assert isinstance(fig, plt.Figure) and fig.axes[0].get_title()
        # the hidden count (C, 2022/23) is drawn as a suppressed bar, not as its value
        fig = charts.share_bars(computed.proportions["by_source"], "2022/23", FY)
        labels = [t.get_text() for t in fig.axes[0].texts]
        assert labels.count(f"{li.MARK} suppressed") == 2
        figs.append(fig)
    finally:
        for fig in figs:
            plt.close(fig)
