"""The trends report sections (csp_analysis.sections.trends) on a small synthetic store.

The store is the session's synthetic store (``demo_store`` in conftest.py: ``csp setup-demo``
in a temporary folder); the planted effects are in
``data/demo/PLANTED_EFFECTS.md`` (burglary x0.94 a year, violence x1.05, shoplifting x1.08,
ASB x0.97; ASB capped at exactly 300 rows force-wide in 2021-06).
"""
from __future__ import annotations

import dataclasses
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from csp_analysis import quality, report  # noqa: E402
from csp_analysis.sections import trends  # noqa: E402


@pytest.fixture(scope="module")
def store(demo_store):
    return demo_store.store  # the session's synthetic store (conftest.py), read only


def _ctx(store, slug, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"out_{slug}")
    return report.start_report(slug, "01_trends", store=store, output_dir=out)


@pytest.fixture(scope="module")
def riverton(store, tmp_path_factory):
    ctx = _ctx(store, "riverton", tmp_path_factory)
    return ctx, trends.analyse(ctx)


HEADLINE_COLUMNS = {
    "area", "area_type", "measure", "priority", "months_compared", "latest", "previous", "percent_change",
    "percent_lower", "percent_upper", "p_value", "unlikely_chance", "rate", "rate_lower", "rate_upper", "sentence",
}


def test_headline_table_columns_and_rows(riverton):
    ctx, res = riverton
    h = res.headline
    assert HEADLINE_COLUMNS <= set(h.columns)
    part = h[h["area"] == res.partnership]
    assert set(part["measure"]) == set(res.measures)
    assert {trends.ALL_CRIME, trends.ASB, "Burglary", "Shoplifting"} <= set(part["measure"])
    assert set(h["area_type"]) == {"Partnership", "Force area"}  # one LAD: no district rows
    # latest 12 months against the previous 12, all months present in both
    assert res.lag == 12 and str(res.latest[0]) == "2025-01" and str(res.previous[-1]) == "2024-12"
    assert (part["months_compared"] == 12).all()
    allc = part.set_index("measure").loc[trends.ALL_CRIME]
    assert allc["latest"] == res.series.loc[res.latest, trends.ALL_CRIME].sum()
    assert allc["percent_lower"] < allc["percent_change"] < allc["percent_upper"]
    assert 0 < allc["rate_lower"] < allc["rate"] < allc["rate_upper"]
    # force area counts at least the partnership's
    force = h[h["area_type"] == "Force area"].set_index("measure")
    assert (force.loc[res.measures, "latest"] >= part.set_index("measure").loc[res.measures, "latest"]).all()
    assert "England and Wales is not shown" in res.national_note


def test_planted_trends_recovered_within_ci(riverton):
    _, res = riverton
    lr = res.long_run.set_index("measure")
    for measure, truth in [("Burglary", -6.0), ("Violence and sexual offences", 5.0), ("Shoplifting", 8.0),
                           (trends.ASB, -3.0)]:
        r = lr.loc[measure]
        assert r["change_lower"] <= truth <= r["change_upper"], (measure, r["annual_change"])
        assert np.sign(r["change_lower"]) == np.sign(r["change_upper"]) == np.sign(truth)  # not chance
    assert lr.loc["Burglary", "mk_test"] == "seasonal Kendall" and lr.loc["Burglary", "mk_trend"] == "decreasing"


def test_asb_extract_artefact_flagged_and_excluded(riverton):
    _, res = riverton
    f = res.flags
    art = f[(f["flag"] == "extract_artefact")]
    assert list(art["month"]) == ["2021-06"] and list(art["series"]) == [trends.ASB]
    assert art.iloc[0]["n"] == 300 and art.iloc[0]["exclude"]
    assert res.excluded == {trends.ASB: [pd.Period("2021-06", freq="M")]}
    lr = res.long_run.set_index("measure")
    assert lr.loc[trends.ASB, "months_excluded"] == 1 and lr.loc["Burglary", "months_excluded"] == 0
    assert pd.Period("2021-06", freq="M") not in res.usable(trends.ASB)


def test_sections_render_tables_and_headlines(riverton):
    ctx, res = riverton
    trends.summary(ctx, res)
    trends.data_quality(ctx, res)
    trends.headline_table(ctx, res)
    trends.priority_sections(ctx, res)
    trends.long_run(ctx, res)
    hs = trends.hot_spots(ctx, res)
    tables = {p.name for p in ctx.tables_dir.glob("*.csv")}
    for name in ("flagged_months", "headline_partnership", "headline_areas", "long_run_trend",
                 "top_lsoas_all_crime_excl_asb", "top_streets_anti_social_behaviour",
                 "concentration_all_crime_excl_asb"):
        assert f"01_trends__{name}.csv" in tables
    t = pd.read_csv(ctx.tables_dir / "01_trends__headline_partnership.csv")
    assert {"Crime type", "% change", "% CI lower", "% CI upper", "p", "Rate per 1,000 a year",
            "Rate CI lower", "Rate CI upper", "Months", "Latest", "Comparison"} <= set(t.columns)
    heads = {h["key"]: h for h in json.loads((ctx.output_dir / "headlines" / "01_trends.json").read_text())}
    for key in ("change_all_crime_excl_asb", "change_anti_social_behaviour", "change_burglary",
                "change_shoplifting", "change_violence_and_sexual_offences", "trend_burglary"):
        assert key in heads and heads[key]["sentence"]
    assert "unlikely to be chance" in heads["trend_burglary"]["sentence"]
    # hot spots: top lists, entries/exits flagged, concentration with zero-crime LSOAs
    allc = hs[trends.ALL_CRIME]
    top = allc["top_lsoas"]
    assert len(top) >= 10 and top["entered"].sum() == top["left"].sum()
    conc = allc["concentration"]
    assert set(conc["measure"]) == {"share_top_5%", "share_top_10%", "gini"}
    assert (conc["n_places"] >= 150).all() and allc["same_vintage"]


def test_hot_spots_compare_like_with_like_across_lsoa_vintages(riverton):
    ctx, res = riverton
    # 2023 (2021 LSOA codes) against 2022 (2011 codes): only unchanged LSOAs are compared
    a = [f"2023-{m:02d}" for m in range(1, 13)]
    b = [f"2022-{m:02d}" for m in range(1, 13)]
    cross = dataclasses.replace(res, matches={(res.partnership, trends.ALL_CRIME): quality.common_months(a, b)})
    hs = trends.hot_spot_data(ctx.con, ctx.params, cross, trends.ALL_CRIME)
    assert not hs["same_vintage"] and hs["vintages"] == (2021, 2011)
    c11, c21, _ = trends._lsoa_vintages(ctx.con, ctx.params.lad_codes)
    assert set(hs["top_lsoas"]["place"]) <= (c11 & c21)
    assert "2021 LSOA codes and the comparison period 2011" in hs["vintage_note"]


def test_two_district_partnership_has_district_rows(store, tmp_path_factory):
    ctx = _ctx(store, "northdale-southmoor", tmp_path_factory)
    res = trends.analyse(ctx)
    h = res.headline
    assert set(h.loc[h["area_type"] == "District", "area"]) == {"Northdale", "Southmoor"}
    part = h[(h["area"] == res.partnership) & (h["measure"] == "Burglary")].iloc[0]
    dist = h[(h["area_type"] == "District") & (h["measure"] == "Burglary")]
    assert part["latest"] == dist["latest"].sum() and part["previous"] == dist["previous"].sum()
    # the artefact month is excluded for the districts too
    assert res.excluded[trends.ASB] == [pd.Period("2021-06", freq="M")]


def test_comparison_falls_back_to_an_earlier_year_when_the_previous_is_missing():
    months = pd.period_range("2022-01", "2022-10", freq="M").tolist() + \
        pd.period_range("2025-01", "2025-12", freq="M").tolist()
    latest = pd.period_range("2025-01", "2025-12", freq="M")
    assert trends._choose_lag(months, latest, pd.Period("2022-01", freq="M")) == 36
    full = pd.period_range("2023-01", "2025-12", freq="M").tolist()
    assert trends._choose_lag(full, latest, pd.Period("2023-01", freq="M")) == 12
    # matched months only, excluded months dropped in both periods
    wide = pd.DataFrame({trends.ALL_CRIME: 100, trends.ASB: 50}, index=pd.PeriodIndex(months))
    state = {"wide": {"P": wide}, "latest": latest, "lag": 36,
             "excluded": {trends.ASB: [pd.Period("2022-06", freq="M")]}}
    rows, matches = trends.headline_rows(state, "P", "Partnership", 1000.0, [trends.ALL_CRIME, trends.ASB], [])
    r = {x["measure"]: x for x in rows}
    assert r[trends.ALL_CRIME]["months_compared"] == 10 and r[trends.ASB]["months_compared"] == 9
    assert r[trends.ASB]["latest"] == r[trends.ASB]["previous"] == 450
    assert "2025-06" in matches[("P", trends.ASB)].dropped_a


def test_rule_sentences_name_the_months():
    idx = pd.period_range("2024-01", periods=20, freq="M")
    values = np.array([50] * 12 + [80] + [50] * 7, dtype=float)
    chart = trends.tr.control_chart(pd.Series(values, index=idx), kind="c")
    s = trends.rule_sentences(chart)
    assert any("outside the process limits" in x and "Jan 2025" in x for x in s)


def test_england_and_wales_row_when_every_force_is_in_the_store(store, tmp_path_factory, monkeypatch):
    # the synthetic store has one force; pretend every month has all 43 forces' files
    ctx = _ctx(store, "easthaven", tmp_path_factory)
    months = pd.period_range("2020-01", "2025-12", freq="M").tolist()
    monkeypatch.setattr(trends.load, "load_national_coverage", lambda con: (months, months[-1], []))
    res = trends.analyse(ctx)
    ew = res.headline[res.headline["area_type"] == "England and Wales"]
    assert len(ew) == len(res.measures) and (ew["months_compared"] == 12).all()
    assert "England and Wales is included" in res.national_note


# ---------------------------------------------------------------------------- review fixes
def _say_ctx():
    """A stand-in report context that keeps what is said and closes figures."""
    import matplotlib.pyplot as plt
    from types import SimpleNamespace

    said, tables = [], []
    ctx = SimpleNamespace(say=said.append, show=lambda fig: plt.close(fig),
                          table=lambda df, name, caption, **kw: tables.append((df, name, caption, kw)),
                          headline=lambda *a, **k: None)
    return ctx, said, tables


def test_sen_slope_units_seasonal_known_slope():
    # every calendar month's count rises by exactly 5 a year on top of a seasonal pattern
    idx = pd.period_range("2020-01", "2024-12", freq="M")
    season = np.round(20 * np.sin(2 * np.pi * (idx.month.to_numpy() - 1) / 12))
    y = 200 + season + 5 * (idx.year.to_numpy() - 2020)
    series = pd.DataFrame({"Burglary": y}, index=idx)
    lr, _ = trends._long_run(series, {}, ["Burglary"])
    r = lr.iloc[0]
    assert r["mk_test"] == "seasonal Kendall"
    assert r["sen_slope_year"] == pytest.approx(5.0) and r["sen_annual_total"] == pytest.approx(60.0)
    s = r["mk_sentence"]
    assert "the monthly count of burglary rose by about 5.0 records per month each year" in s
    assert "about 60 more records a year in total" in s and "Sen's slope +5.0 records per month each year" in s
    assert "a year (" not in s.split("check:")[1].split("records per month")[0]  # no bare "a year" unit


def test_sen_slope_units_plain_fallback_match_table_and_sentence():
    # 10 months only: the plain test; 2 more records each month = 24 per month each year
    idx = pd.period_range("2024-01", periods=10, freq="M")
    series = pd.DataFrame({"Burglary": 50.0 + 2.0 * np.arange(10)}, index=idx)
    lr, _ = trends._long_run(series, {}, ["Burglary"])
    r = lr.iloc[0]
    assert r["mk_test"] == "Mann-Kendall (not seasonal)"
    assert r["sen_slope_year"] == pytest.approx(24.0) and r["sen_annual_total"] == pytest.approx(288.0)
    s = r["mk_sentence"]
    assert "rose by about 24 records per month each year" in s and "about 288 more records a year" in s
    assert "a month (" not in s  # the library's per-month unit is not mixed in
    # the table shows the same number under a column that says the same unit
    res = SimpleNamespaceResult(lr)
    ctx, said, tables = _say_ctx()
    trends.long_run(ctx, res)
    t = {name: df for df, name, *_ in tables}["long_run_trend"]
    assert t.loc[0, trends.SEN_COLUMN] == pytest.approx(24.0)
    assert "records per month each year" in trends.SEN_COLUMN
    assert any("rose by about 24 records per month each year" in x for x in said)


class SimpleNamespaceResult:
    """The parts of a TrendsResult that long_run reads."""

    def __init__(self, lr):
        self.long_run, self.priorities, self.partnership = lr, ["Burglary"], "P"


def test_riverton_long_run_sentences_say_monthly_count(riverton):
    _, res = riverton
    r = res.long_run.set_index("measure").loc[trends.ALL_CRIME]
    assert "monthly count of all crime (excluding ASB) rose by about" in r["mk_sentence"]
    assert f"about {12 * r['sen_slope_year']:,.0f} more records a year in total" in r["mk_sentence"]
    ctx, said, _ = _say_ctx()
    trends.summary(ctx, res)
    text = "\n".join(said)
    assert "a real trend" not in text and "unlikely to be chance" in text


def test_control_chart_of_record_switches_to_xmr_for_seasonal_counts():
    rng = np.random.default_rng(3)
    idx = pd.period_range("2023-01", periods=36, freq="M")
    seasonal = pd.Series(rng.poisson(500 + 100 * np.sin(2 * np.pi * np.arange(36) / 12)).astype(float), index=idx)
    chart, poisson, kind, _ = trends.control_chart_of_record(seasonal, 250_000)
    assert poisson is not None and poisson["outside_limits"].mean() > trends.XMR_SWITCH_SHARE
    assert chart.attrs["kind"] == "xmr" and kind.startswith("XmR")
    np.testing.assert_allclose(chart["value"], poisson["value"])  # same values, other limits
    steady = pd.Series(rng.poisson(500, 36).astype(float), index=idx)
    chart2, poisson2, kind2, _ = trends.control_chart_of_record(steady, 250_000)
    assert poisson2 is None and chart2.attrs["kind"] == "u" and kind2.startswith("u chart")
    chart3, _, kind3, unit3 = trends.control_chart_of_record(steady, None)
    assert chart3.attrs["kind"] == "c" and "count" in unit3


def test_asb_control_chart_verdict_comes_from_the_xmr_chart(riverton):
    _, res = riverton
    ctx, said, _ = _say_ctx()
    chart = trends._control_chart(ctx, res, trends.ASB)
    assert chart.attrs["kind"] == "xmr"
    text = "\n".join(said)
    assert "Poisson (u chart) limits were tried first" in text and "XmR chart" in text
    latest = [x for x in said if x.startswith("Latest month")]
    assert len(latest) == 1 and "on the XmR chart" in latest[0] and "Poisson chart" not in latest[0]
    assert "Against the same month in earlier years" in latest[0] and "Dec 2024" in latest[0]
    # the XmR chart flags far fewer months outside its limits than the Poisson chart did
    assert chart["outside_limits"].sum() < 0.15 * len(chart)


def test_annual_table_notes_years_with_flagged_months(riverton):
    from csp_analysis.sections import overview

    ctx0, res = riverton
    cov_counts = trends.data.monthly_counts(ctx0.con, ctx0.params.lad_codes, ctx0.params.start, ctx0.params.end,
                                            forces=ctx0.params.forces)
    ctx, _, tables = _say_ctx()
    overview.annual_table(ctx, cov_counts, excluded=res.excluded)
    _, name, caption, kw = tables[-1]
    assert name == "records_by_type_year" and "flagged as extract errors" in caption
    assert "the 2021 total for Anti-social behaviour includes Jun 2021" in kw["note"]
    overview.annual_table(ctx, cov_counts)
    assert tables[-1][3].get("note") is None


def test_concentration_in_whole_lsoas_without_share_intervals(riverton):
    ctx, res = riverton
    hs = trends.hot_spot_data(ctx.con, ctx.params, res, trends.ALL_CRIME)
    c = hs["concentration"].set_index(["period", "measure"])
    assert c.loc[("latest", "share_top_5%"), "n_top_places"] == 8  # 5% of 150 LSOAs, rounded up
    text = trends.concentration_sentences(hs["concentration"][hs["concentration"]["period"] == "latest"])
    assert "The busiest 8 of 150 LSOAs (the top 5%, rounded up)" in text and "7.5" not in text
    assert "The busiest 15 of 150 LSOAs (the top 10%) had" in text
    assert "other sets of LSOAs like these" in text
    shown = trends.concentration_display(hs["concentration"])
    shares = shown[shown["Measure"].str.startswith("Share")]
    assert shares[["CI lower", "CI upper"]].isna().all().all()
    assert shown.loc[shown["Measure"] == "Generalised Gini", "CI lower"].notna().all()
