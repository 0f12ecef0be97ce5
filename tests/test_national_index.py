"""Tests for csp_analysis.national_index: the national index table, its CSV and page.

Rates and comparisons are checked against independent computations (scipy's Poisson
distribution, hand sums); the funnel verdict's error rate is checked by simulation."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from csp_analysis import national_index as ni
from csp_analysis import store

PARAMS = """\
name: {name}
slug: {slug}
group: {group}
lad_codes: [{lads}]
forces: [testforce]
window: {{start: 2023-01, end: 2024-12}}
"""
# district: (residents, crimes a month in 2024, ASB a month)
DISTRICTS = {"X07000001": (100_000, 900, 50), "X07000002": (50_000, 300, 20), "X07000003": (200_000, 1100, 80), "X07000004": (10_000, 4, 1)}


@pytest.fixture()
def small_store(tmp_path):
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    for lad, (pop, crimes, asb) in DISTRICTS.items():
        con.execute("INSERT INTO lad_lookup (lad_code, lad_name) VALUES (?, ?)", [lad, f"District {lad}"])
        con.execute("INSERT INTO lsoa_lookup (lsoa_code, lsoa_name, lad_code, lad_name, vintage) VALUES (?,?,?,?,?)",
                    [f"L{lad}", f"District {lad} 001A", lad, f"District {lad}", "2021"])
        con.execute("INSERT INTO population_area (area_code, population) VALUES (?, ?)", [lad, pop])
        # 2023: one month only (outside the period); 2024: every month
        months = ["2023-06-01"] + [f"2024-{m:02d}-01" for m in range(1, 13)]
        for m in months:
            con.execute(
                "INSERT INTO street (month, crime_type, force, source_file, lsoa_code) "
                "SELECT DATE '" + m + "', CASE WHEN i < ? THEN 'Burglary' ELSE 'Anti-social behaviour' END, "
                "'testforce', 'f.csv', ? FROM range(?) t(i)", [crimes, f"L{lad}", crimes + asb])
    con.close()
    pdir = tmp_path / "params"
    pdir.mkdir()
    specs = {"alpha": ("Alpha <b>CSP</b>", "X07000001, X07000002"), "beta": ("Beta", "X07000003"), "gamma": ("=Gamma", "X07000004")}
    for slug, (name, lads) in specs.items():
        (pdir / f"{slug}.yaml").write_text(PARAMS.format(name=json.dumps(name), slug=slug, group="g1", lads=lads))
    return db, pdir


def _entry(slug, name, status="ok", change=None):
    heads = []
    if change is not None:
        pct, lo, hi, verdict = change
        heads.append({"notebook": "01_trends", "key": ni.CHANGE_KEY, "label": "All crime: % change", "value": pct,
                      "lower": lo, "upper": hi, "p_value": 0.001, "p_adjusted": 0.01,
                      "sentence": f"All crime rose {pct}%; {verdict} (p = 0.001)."})
    return {"slug": slug, "name": name, "status": status, "action": "rebuilt", "error": None, "warnings": [],
            "seconds": 3.0, "finished": "2025-01-01T00:00:00+00:00", "headlines": heads,
            "notebooks": [{"notebook": "01_trends", "status": status, "html": "01_trends.html", "seconds": 1.0,
                           "error": None, "warnings": []}]}


def test_rates_and_national_rate_by_hand(small_store):
    db, pdir = small_store
    entries = [_entry("alpha", "Alpha <b>CSP</b>", change=(12.0, 5.0, 19.0, "unlikely to be chance")),
               _entry("beta", "Beta", change=(8.0, -1.0, 17.0, "could be chance")),
               _entry("gamma", "=Gamma", status="failed")]
    t, nat = ni.build_index_table(entries, params_dir=pdir, store=db)
    assert list(t.columns) == ni.INDEX_COLUMNS
    # national: every district, 12 months of 2024, ASB excluded
    crimes = {k: 12 * v[1] for k, v in DISTRICTS.items()}
    pop = {k: v[0] for k, v in DISTRICTS.items()}
    national = sum(crimes.values()) / sum(pop.values()) * 1000
    assert nat["rate"] == pytest.approx(national) and nat["districts"] == 4
    assert str(nat["period_start"].date()) == "2024-01-01" and str(nat["period_end"].date()) == "2024-12-01"
    by = t.set_index("slug")
    a = by.loc["alpha"]
    assert a["crimes"] == crimes["X07000001"] + crimes["X07000002"] and a["population"] == 150_000
    assert a["value"] == pytest.approx((crimes["X07000001"] + crimes["X07000002"]) / 150_000 * 1000)
    # independent reference: exact (chi-squared) Poisson limits; Byar's agrees closely at these counts
    x = a["crimes"]
    lo = stats.chi2.ppf(0.025, 2 * x) / 2 / 150_000 * 1000
    hi = stats.chi2.ppf(0.975, 2 * x + 2) / 2 / 150_000 * 1000
    assert a["lower"] == pytest.approx(lo, rel=2e-3) and a["upper"] == pytest.approx(hi, rel=2e-3)
    # alpha: 10,800+3,600 = 14,400 records against 150,000 x national; far above (ratio > 1.1)
    e = 150_000 * national / 1000
    assert a["expected"] == pytest.approx(e) and x / e > 1.1
    assert a["significance"] == "High (0.001)" and a["comparison"].startswith("Higher")
    p_ref = min(1.0, 2 * min(stats.poisson.cdf(x, e), stats.poisson.sf(x - 1, e)))
    assert a["p_value"] == pytest.approx(p_ref, abs=1e-12)
    assert bool(a["worse_and_getting_worse"])  # higher and a rise unlikely to be chance
    b = by.loc["beta"]
    assert b["significance"].startswith("Low") and not b["worse_and_getting_worse"]
    g = by.loc["gamma"]  # 48 records, 10,000 residents: 4.8 per 1,000 against ~58: lower
    assert g["crimes"] == 48 and g["significance"].startswith("Low") and g["status"] == "failed"
    assert not g["worse_and_getting_worse"]  # no change headline
    for c in ("value", "lower", "upper", "confidence", "method", "p_value", "sentence"):
        assert t[c].notna().all() and (t[c].astype(str) != "").all(), c
    assert "worse than national and getting worse" in a["sentence"].lower()
    assert "not assessed" in a["overdispersion_outlier"]  # fewer than 20 partnerships


def test_flag_needs_both_parts():
    t = pd.DataFrame({"change_percent": [5.0, 5.0, -5.0, 5.0], "change_verdict": ["unlikely to be chance"] * 2
                      + ["unlikely to be chance", "could be chance"]})
    sig = ["High (0.025)", "Not significant", "High (0.001)", "High (0.001)"]
    rose = (t["change_percent"] > 0) & (t["change_verdict"] == "unlikely to be chance")
    assert list(rose & pd.Series(sig).isin(["High (0.025)", "High (0.001)"])) == [True, False, False, False]


def test_funnel_verdict_error_rate_under_the_null():
    """Partnerships whose true rate is the national rate: each side of the 95% limits should
    take about 2.5% of them (Poisson counts, populations like CSPs')."""
    rng = np.random.default_rng(20261204)
    n_units, reps = 314, 4
    rate = 70.0
    high = low = 0
    for _ in range(reps):
        pop = rng.lognormal(np.log(150_000), 0.6, n_units)
        crimes = rng.poisson(pop * rate / 1000)
        res = ni.compare_with_national(crimes, pop, rate)
        high += res["significance"].str.startswith("High").sum()
        low += res["significance"].str.startswith("Low").sum()
        # the p-value and the labels agree: outside the 95% limits <=> p < 0.05 (exact vs Byar at the edge)
        outside = res["significance"] != "Not significant"
        assert ((res["p_value"] < 0.05) == outside).mean() > 0.99
    n = n_units * reps
    se = np.sqrt(0.025 * 0.975 / n)
    assert abs(high / n - 0.025) < 3.5 * se and abs(low / n - 0.025) < 3.5 * se


def test_page_and_csv_with_three_rows(small_store, tmp_path):
    db, pdir = small_store
    out = tmp_path / "out"
    out.mkdir()
    entries = [_entry("alpha", "Alpha <b>CSP</b>", change=(12.0, 5.0, 19.0, "unlikely to be chance")),
               _entry("beta", "Beta"), _entry("gamma", "=Gamma", status="failed")]
    path = ni.write_national_index(entries, out, ["01_trends"], {"01_trends": "Trends"}, "1.0",
                                   params_dir=pdir, store=db)
    page = path.read_text()
    assert "Alpha &lt;b&gt;CSP&lt;/b&gt;" in page and "<b>CSP</b>" not in page  # untrusted names escaped
    assert len(re.findall(r"<tr [^>]*data-status=", page)) == 3 and "id=\"csp-filters\"" in page and " hidden" in page
    assert "<img" in page and 'alt="Funnel plot: crimes per 1,000 residents' in page
    assert FLAG_WORDS in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"?https?:", page)  # nothing fetched: offline
    assert "<script>" in page and "&amp;&amp;" not in page  # the inline script is not mangled
    csv = pd.read_csv(out / "index.csv")
    assert len(csv) == 3 and list(csv.columns) == ni.INDEX_COLUMNS
    assert csv.set_index("slug").loc["gamma", "name"] == "'=Gamma"  # no spreadsheet formula
    assert csv["worse_and_getting_worse"].tolist() == [True, False, False]


FLAG_WORDS = "Worse than national and getting worse: the partnership"


def test_page_with_314_rows_stays_one_table(small_store, tmp_path):
    db, pdir = small_store
    out = tmp_path / "out"
    out.mkdir()
    for i in range(311):  # every extra partnership reuses a district
        (pdir / f"p{i:03d}.yaml").write_text(PARAMS.format(name=f"P {i}", slug=f"p{i:03d}", group="g2",
                                                           lads=["X07000001", "X07000002", "X07000003", "X07000004"][i % 4]))
    entries = [_entry(f"p{i:03d}", f"P {i}", change=(3.0, 1.0, 5.0, "unlikely to be chance")) for i in range(311)]
    entries += [_entry("alpha", "Alpha"), _entry("beta", "Beta"), _entry("gamma", "Gamma")]
    path = ni.write_national_index(entries, out, ["01_trends"], {"01_trends": "Trends"}, "1.0",
                                   params_dir=pdir, store=db)
    page = path.read_text()
    assert len(re.findall(r"<tr [^>]*data-status=", page)) == 314 and page.count("<table") == 1
    assert len(pd.read_csv(out / "index.csv")) == 314
    t, _ = ni.build_index_table(entries, params_dir=pdir, store=db)
    assert set(t["overdispersion_outlier"]) <= {"high", "low", "within"}  # assessed with >= 20 partnerships
    assert len(page) < 3_000_000


def test_without_store_the_rates_say_not_computed(tmp_path):
    t, nat = ni.build_index_table([_entry("alpha", "Alpha")], params_dir=None, store=None)
    assert nat == {} and t.loc[0, "comparison"] == "not computed" and pd.isna(t.loc[0, "value"])
    body = ni.render_index_html(t, nat, [_entry("alpha", "Alpha")], ["01_trends"], {}, "1.0")
    assert "not shown" in body and "<img" not in body
