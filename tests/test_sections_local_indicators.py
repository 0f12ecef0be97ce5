"""The local-indicators report sections (csp_analysis.sections.local_indicators).

Fast tests run the section functions on the Barnsley Safeguarding Children
Partnership's transcribed figures (``data/local/barnsley_safeguarding_2022_23.csv``)
and on a small synthetic local-indicators file with other shapes (quarters, monthly
shares, count comparators, percentages without denominators, small counts), with a
tiny store that holds only the LAD lookup rows the parameters need. The slow tests
render the notebook end to end with ``csp run`` (no ../shared needed; a variant on
the real lookups is skipped without it).
"""
from __future__ import annotations

import base64
import csv
import json
import os
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from csp_analysis import cli, report, runner, store  # noqa: E402
from csp_analysis.local_indicators import COLUMNS, load_local_indicator_files  # noqa: E402
from csp_analysis.sections import local_indicators as li  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BARNSLEY_CSV = REPO / "data" / "local" / "barnsley_safeguarding_2022_23.csv"
BARNSLEY_PARAMS = REPO / "params" / "barnsley-safeguarding.yaml"
LADS = [("E08000016", "Barnsley", "E23000011", "South Yorkshire"),
        ("X08000001", "Riverton", "X23000001", "Synthshire Constabulary (SYNTHETIC)")]


def make_store(path: Path) -> Path:
    """A store with the schema and only the LAD lookup rows the tests' parameters need."""
    con = store.connect(path)
    for code, name, pfa, pfa_name in LADS:
        con.execute("INSERT OR REPLACE INTO lad_lookup VALUES (?, ?, NULL, NULL, ?, ?, 'test')",
                    [code, name, pfa, pfa_name])
    con.close()
    return path


def write_params(folder: Path, slug: str, lad: str, force: str, extra: str = "", window=("2021-04", "2023-03")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / f"{slug}.yaml"
    f.write_text(f"name: Test {slug}\nslug: {slug}\nlad_codes: [{lad}]\nforces: [{force}]\n"
                 f"window: {{start: {window[0]}, end: {window[1]}}}\nsmall_number_threshold: 5\n{extra}",
                 encoding="utf-8")
    return f


def write_rows(path: Path, rows: list[dict]) -> Path:
    base = {c: "" for c in COLUMNS}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**base, **r})
    return path


def demo_rows(slug: str) -> list[dict]:
    """Synthetic local indicators with shapes the Barnsley file lacks."""
    rng = np.random.default_rng(7)
    src = "Synthetic test data"
    rows = []

    def add(ind, label, period, ptype, value, unit="count", cc="true", **kw):
        rows.append({"partnership": slug, "indicator": ind, "indicator_label": label, "period": period,
                     "period_type": ptype, "value": value, "unit": unit, "counts_children": cc, "source": src, **kw})

    # quarterly counts: latest quarter against the same quarter a year earlier
    for y in (2021, 2022):
        for q in (1, 2, 3, 4):
            add("contacts", "Contacts received", f"{y}-Q{q}", "quarter", 400 + 100 * (y - 2021) + 10 * q)
    # monthly counts in two financial years with a planted rise of about 50%
    for m in pd.period_range("2021-04", "2023-03", freq="M"):
        lam = 200 if m < pd.Period("2022-04", "M") else 300
        add("early_help", "Early help assessments", str(m), "month", int(rng.poisson(lam)))
    # monthly shares with denominators; the triage-style change from 2022-04 lifts the share from 50% to 80%
    for m in pd.period_range("2021-04", "2023-03", freq="M"):
        n = 100
        p = 0.5 if m < pd.Period("2022-04", "M") else 0.8
        add("visits_in_time", "Visits within 10 days", str(m), "month", int(rng.binomial(n, p)), denominator=n)
    # counts with denominators against comparator counts with denominators
    for g, x, cx in (("Police", 300, 250), ("Schools", 150, 200), ("Health", 50, 55)):
        add("sources", "Referrals by source", "2022/23", "financial_year", x, denominator=1000, group=g)
        add("sources", "Referrals by source", "2022/23", "financial_year", "", denominator=1000, group=g,
            comparator="Statistical neighbours", comparator_value=cx)
    # percentages without denominators against a comparator: descriptive only
    add("satisfaction", "Families satisfied (%)", "2022/23", "financial_year", 82, unit="percent", cc="false")
    add("satisfaction", "Families satisfied (%)", "2022/23", "financial_year", "", unit="percent", cc="false",
        comparator="National average (England)", comparator_value=78)
    # a breakdown with one small count of children (secondary suppression) and no total
    for g, v in (("A", 3), ("B", 40), ("C", 12), ("D", 60)):
        add("placements", "Placements by type", "2022/23", "financial_year", v, group=g)
    add("budget", "Partnership budget", "2022/23", "financial_year", 120000, unit="gbp", cc="false")
    return rows


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("local_store") / "store.duckdb")


@pytest.fixture(scope="module")
def barnsley(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("out_barnsley")
    ctx = report.start_report("barnsley-safeguarding", "04_local_indicators", store=tiny_store, output_dir=out)
    return ctx, li.analyse(ctx)


@pytest.fixture(scope="module")
def demo(tiny_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_params")
    (root / "params").mkdir()
    csv_path = write_rows(root / "params" / "demo_local.csv", demo_rows("riverton-local"))  # local data beside the params
    extra = (f"local_data:\n  - path: {csv_path}\n    process_changes:\n      - name: New visit rota\n"
             "        start: 2022-04\n        indicators: [visits_in_time, not_an_indicator]\n")
    write_params(root / "params", "riverton-local", "X08000001", "synthshire", extra)
    out = tmp_path_factory.mktemp("out_demo")
    ctx = report.start_report("riverton-local", "04_local_indicators", params_dir=root / "params", store=tiny_store,
                              output_dir=out)
    return ctx, li.analyse(ctx)


def render_all(ctx, res) -> None:
    li.summary(ctx, res)
    for fn in (li.changes_section, li.proportions_section, li.comparators_section, li.before_after_section,
               li.other_figures_section, li.data_notes):
        if res.ok:
            fn(ctx, res)
    li.sources_section(ctx, res)


def table(ctx, name: str) -> pd.DataFrame:
    return pd.read_csv(ctx.tables_dir / f"04_local_indicators__{name}.csv", dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- Barnsley


def test_barnsley_loads_from_files_when_store_has_none(barnsley):
    _, res = barnsley
    assert res.ok and res.read_from == "files"
    assert res.slug == "barnsley-safeguarding" and res.threshold == 5
    # window April 2021 to March 2023: the 2019 population and 2020 SUDI figures are left out, and named
    left = {(r.indicator, r.period) for r in res.outside_window.itertuples()}
    assert left == {("population_aged_0_18", "2019"), ("sudi_deaths", "2020")}
    assert len(res.df) == 246 - 2


def test_referrals_rise_reproduced_from_counts(barnsley):
    _, res = barnsley
    r = res.changes[(res.changes["indicator"] == "referrals")].iloc[0]
    assert (r["previous"], r["current"]) == (2815, 3133)
    assert round(r["percent_change"], 1) == 11.3
    assert r["percent_lower"] < 11.3 < r["percent_upper"] and r["p_value"] < 0.001
    assert "rose 11.3%" in r["sentence"]
    check = res.published_checks.set_index("indicator").loc["referrals"]
    assert check["published_percent_change"] == 11.3 and bool(check["agrees"])
    assert "reproduced by the computation" in check["sentence"]
    top = [f for f in res.findings if f["key"] == "referrals__change"][0]
    assert "reproduces the published +11.3%" in top["sentence"]


def test_referral_source_shares_from_counts(barnsley):
    _, res = barnsley
    t = res.proportions["referrals_by_source"]
    police = t[(t["group"] == "Police") & (t["period"] == "2022/23")].iloc[0]
    assert (police["numerator"], police["denominator"]) == (852, 3133)
    assert round(police["percent"], 1) == 27.2 and not police["implied_numerator"]
    assert police["lower"] < 27.2 < police["upper"]
    shares = t[t["period"] == "2022/23"].set_index("group")["percent"].round(1).to_dict()
    assert shares == {"Police": 27.2, "Schools/Education": 21.5, "Health": 14.4}
    # change in share 2021/22 to 2022/23 (29.2% of 2,815 to 27.2% of 3,133): could be chance
    sc = res.share_changes[(res.share_changes["indicator"] == "referrals_by_source")].set_index("group")
    assert round(sc.loc["Police", "previous_percent"], 1) == 29.2
    assert sc.loc["Police", "p_value"] > 0.05 and sc.loc["Schools/Education", "p_value"] < 0.001


def test_children_in_need_compared_month_by_month(barnsley):
    _, res = barnsley
    t, cur, prev = res.monthly_yoy["children_in_need"]
    assert (cur, prev) == ("2022/23", "2021/22")
    assert list(t["month"]) == ["June", "July", "August", "September", "October", "November", "December",
                                "January", "February", "March"]
    june = t.set_index("month").loc["June"]
    assert (june["previous"], june["current"]) == (2059, 1418) and june["p_value"] < 0.001
    s = li.monthly_summary(t, cur, prev)
    assert "never added up" in s and "five months" in s
    assert "1,834 in 2021/22" in s  # the mean of the ten published months, as the report's published average


def test_rhi_p_chart_leaves_out_august_and_says_why(barnsley):
    _, res = barnsley
    t = res.proportions["rhi_completed_within_72_hours"]
    assert len(t) == 12 and int(t["in_chart"].sum()) == 11
    aug = t[t["period"] == "2022-08"].iloc[0]
    assert not aug["in_chart"] and pd.isna(aug["denominator"])
    assert t.loc[t["in_chart"], "chart_centre"].nunique() == 1
    assert (t.loc[t["in_chart"], "chart_variation"] == "Common cause variation").all()
    pooled = li.pooled_share(t)
    assert (pooled["x"], pooled["n"]) == (436, 617) and round(pooled["percent"], 1) == 70.7
    why = " ".join(li.excluded_months(t, res.df))
    assert "August 2022 is left out" in why and "56 completed but 41 accepted" in why


def test_referral_sources_against_comparators_holm(barnsley):
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    _, res = barnsley
    t = res.comparisons["referrals_by_source"]
    assert len(t) == 6 and set(t["comparator"]) == {"Statistical neighbours", "National average (England)"}
    assert set(t["comparator_period"]) == {"2021/22"} and set(t["period"]) == {"2022/23"}
    exact = [stats.binomtest(int(x), int(n), c / 100).pvalue
             for x, n, c in zip(t["numerator"], t["denominator"], t["comparator_percent"])]
    assert np.allclose(t["p_value"], exact)
    assert np.allclose(t["p_value_holm"], multipletests(exact, method="holm")[1])
    sig = t[t["p_value_holm"] < 0.05].set_index(["group", "comparator"]).index
    assert ("Police", "Statistical neighbours") in sig and ("Schools/Education", "Statistical neighbours") in sig
    assert ("Health", "National average (England)") not in sig
    s = li.comparison_summary(t)
    assert "Three of the six comparisons differ" in s and "27.2% of 3,133 (852)" in s
    # re-referrals against the national average: one test, implied count from 20.6%
    rr = res.comparisons["re_referrals_within_12_months"].iloc[0]
    assert rr["numerator"] == 645 and rr["p_value"] > 0.05


def test_triage_before_after_has_three_point_caveat(barnsley):
    _, res = barnsley
    [ba] = [b for b in res.before_after if b["indicator"] == "contacts_processed_within_24_hours"]
    r = ba["table"].iloc[0]
    assert (r["before"], r["after"]) == (32.0, 61.5) and r["n_before"] == 1 and r["n_after"] == 2
    assert pd.isna(r["p_value"]) and "No denominators are published" in r["sentence"]
    assert "three points cannot separate the change from an underlying trend" in r["caveat"]


def test_small_counts_of_children_suppressed_with_secondary(barnsley):
    _, res = barnsley
    cin = res.changes[res.changes["indicator"] == "children_in_need_by_category"].set_index("group")
    assert cin.loc["Low income", "suppressed"] and pd.isna(cin.loc["Low income", "current"])
    assert not cin.loc["Abuse or neglect", "suppressed"]
    nc = res.proportions["police_incidents_safeguarding_non_crime"]
    assert nc["suppressed"].all() and nc["numerator"].isna().all()


def test_barnsley_rendered_tables(barnsley):
    ctx, res = barnsley
    render_all(ctx, res)
    ch = table(ctx, "count_changes")
    ref = ch[ch["Indicator"].str.startswith("Referrals received")].iloc[0]
    assert (ref["Previous"], ref["Latest"]) == ("2815", "3133") and round(float(ref["Change (%)"]), 1) == 11.3
    cin = ch[ch["Group"] == "Low income"].iloc[0]
    assert cin["Previous"] == "[c]" and cin["Latest"] == "[c]"
    # the published breakdown of police safeguarding incidents: FGM (3) suppressed, modern slavery (5) too
    inc = table(ctx, "police_incidents_safeguarding").set_index("Group")
    assert inc.loc["Female genital mutilation", "2022/23"] == "[c]"
    assert inc.loc["Modern slavery", "2022/23"] == "[c]"  # secondary suppression
    assert inc.loc["Sexual abuse", "2022/23"] == "1,101"
    nc = table(ctx, "police_incidents_safeguarding_non_crime_shares")
    assert set(nc["Count"]) == {"[c]"} and "[c]" in set(nc["Total"])
    rhi = table(ctx, "rhi_completed_within_72_hours_shares")
    assert rhi.set_index("Period").loc["2022-08", "In p-chart"] == "no"
    comp = table(ctx, "referrals_by_source_comparators")
    assert len(comp) == 6 and "p-value (Holm)" in comp.columns
    heads = {h["key"]: h for h in ctx.headlines}
    assert round(heads["referrals__change"]["value"], 1) == 11.3
    assert "referrals_by_source__comparators" in heads
    assert (ctx.output_dir / "headlines" / "04_local_indicators.json").exists()


def render_captured(ctx, res) -> list[str]:
    """Render every section, returning the HTML fragments the report displays (as nbconvert keeps them)."""
    frags: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "_display_html", lambda s, plain=None: frags.append(s))
        mp.setattr(report, "_display", lambda obj: frags.append(str(getattr(obj, "data", obj))))
        render_all(ctx, res)
    return frags


@pytest.fixture(scope="module")
def barnsley_rendered(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("out_barnsley_rendered")
    ctx = report.start_report("barnsley-safeguarding", "04_local_indicators", store=tiny_store, output_dir=out)
    res = li.analyse(ctx)
    ctx.fragments = render_captured(ctx, res)
    return ctx, res


LEAKY_PHRASES = ("three in the Neonatal Intensive Care Unit", "4 cases were identified",
                 "4 children who were matched", "(2 non-crimes)", "all modern slavery incidents (5)",
                 "Two of these occurred")


def _all_csv_cells(ctx) -> list[str]:
    cells = []
    for f in sorted(ctx.tables_dir.glob("04_local_indicators__*.csv")):
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        cells += list(t.columns) + [c for c in t.to_numpy().ravel().tolist() if c]
    return cells


def test_no_suppressed_figure_leaks_through_a_csv_or_its_notes(barnsley_rendered):
    ctx, res = barnsley_rendered
    pub = res.published
    hidden = (pub["suppressed"] | pub["denominator_suppressed"]) & pub["comparator"].isna()
    # the notes of suppressed figures that no published figure shares (those quote the hidden numbers)
    secret = set(res.df.loc[hidden, "source"]) - set(res.df.loc[~hidden, "source"])
    assert len(secret) >= 5
    cells = _all_csv_cells(ctx)
    for note in secret:
        assert not any(note in c for c in cells), note
    for phrase in LEAKY_PHRASES:
        assert not any(phrase in c for c in cells), phrase
    src = table(ctx, "all_figures_with_sources")
    assert list(src.columns) == ["Indicator", "Period", "Group", "Comparator", "Figure", "Unit", "Source note"]
    withheld = src[src["Figure"] == "[c]"]
    assert len(withheld) == int(pub["suppressed"].sum()) == 18
    assert set(withheld["Source note"]) == {li.WITHHELD}
    assert (src.loc[src["Figure"] != "[c]", "Source note"] != li.WITHHELD).all()
    # nor in the headlines
    heads = (ctx.output_dir / "headlines" / "04_local_indicators.json").read_text(encoding="utf-8")
    for phrase in LEAKY_PHRASES:
        assert phrase not in heads


def test_a_figure_suppressed_in_one_table_is_suppressed_in_all(barnsley_rendered):
    ctx, res = barnsley_rendered
    src = table(ctx, "all_figures_with_sources")

    def figure(ind, period, group=""):
        return src[(src["Indicator"] == ind) & (src["Period"] == period) & (src["Group"] == group)]["Figure"].item()

    ch = table(ctx, "count_changes").set_index("Group")
    # 'Not stated' 2 -> 32: only the 2 is hidden, and no change is given
    assert (ch.loc["Not stated", "Previous"], ch.loc["Not stated", "Latest"]) == ("[c]", "32")
    assert ch.loc["Not stated", "Change (%)"] == "" and ch.loc["Not stated", "p-value"] == ""
    assert figure("children_in_need_by_category", "2022/23", "Not stated") == "32"
    # 2022/23: Low income (2) is hidden, so the smallest other count (Parental disability, 12) is too
    assert ch.loc["Parental disability or illness", "Latest"] == "[c]"
    assert figure("children_in_need_by_category", "2022/23", "Parental disability or illness") == "[c]"
    assert ch.loc["Socially unacceptable behaviour", "Latest"] == "22"
    # modern slavery (5) is hidden in the incidents breakdown, and so as the non-crimes' total
    assert table(ctx, "police_incidents_safeguarding").set_index("Group").loc["Modern slavery", "2022/23"] == "[c]"
    nc = table(ctx, "police_incidents_safeguarding_non_crime_shares").set_index("Group")
    assert nc.loc["Modern slavery", "Total"] == "[c]" and nc.loc["Female genital mutilation", "Total"] == "[c]"
    assert figure("police_incidents_safeguarding", "2022/23", "Modern slavery") == "[c]"
    # every analysis table follows the one decision, figure by figure
    for t in [res.changes] + [v[0] for v in res.monthly_yoy.values()]:
        for _, r in t.iterrows():
            for side in ("previous", "current"):
                if isinstance(r[f"{side}_period"], str):
                    assert bool(r[f"{side}_suppressed"]) == li.hidden_flags(res, r["indicator"], r[f"{side}_period"],
                                                                       r["group"])[0], (r["sentence"], side)
    for t in list(res.proportions.values()) + list(res.comparisons.values()):
        for _, r in t.iterrows():
            assert bool(r["suppressed"]) == li.hidden_flags(res, r["indicator"], r["period"], r["group"])[0], r["sentence"]


DIGEST = REPO / "tests" / "fixtures" / "local_indicators_digest.json"


def content_digest(ctx, root: Path | None = None) -> dict:
    """Hashes of a rendered 04 report's content, as ``tests/report_digest.py`` takes them for the
    default reports: the visible text and alt text of the displayed fragments, every table (CSV,
    floats to 9 significant digits) and the headlines. ``root`` (a temporary folder named in the
    text) is replaced by ``ROOT``."""
    import hashlib
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from report_digest import _Text, _round, digest_csv

    parser = _Text()
    parser.feed("\n".join(ctx.fragments))
    text = re.sub(r"\s+", " ", "\n".join(parser.parts))
    if root is not None:
        text = text.replace(str(root), "ROOT")
    out = {"text": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]}
    for f in sorted(ctx.tables_dir.glob("04_local_indicators__*.csv")):
        out[f"tables/{f.name}"] = digest_csv(f)
    heads = json.dumps(_round(ctx.headlines), sort_keys=True, default=str)
    out["headlines"] = hashlib.sha256(heads.encode("utf-8")).hexdigest()[:16]
    return out


def test_report_content_unchanged(barnsley_rendered, demo_rendered):
    """The 04 report on Barnsley's figures and on the synthetic file is what it was before the
    section became a package (``tests/fixtures/local_indicators_digest.json``, written from the
    single-module section of commit cfbd80a). A change meant to alter the report rewrites it
    (``CSP_WRITE_LOCAL_DIGEST=1 pytest tests/test_sections_local_indicators.py -k content``) and
    says why in the commit."""
    demo_ctx, _ = demo_rendered
    got = {"barnsley": content_digest(barnsley_rendered[0]),
           "synthetic": content_digest(demo_ctx, demo_ctx.params_file.parent.parent)}
    if os.environ.get("CSP_WRITE_LOCAL_DIGEST"):
        DIGEST.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(DIGEST.read_text(encoding="utf-8"))
    diffs = [f"{part}/{k}" for part in sorted(set(got) | set(want))
             for k in sorted(set(got.get(part, {})) | set(want.get(part, {})))
             if got.get(part, {}).get(k) != want.get(part, {}).get(k)]
    assert not diffs, f"the 04 report's content changed: {diffs}"


def test_changes_are_holm_adjusted_within_each_breakdown(barnsley_rendered):
    ctx, res = barnsley_rendered
    ch = table(ctx, "count_changes")
    assert "p-value (Holm, within the breakdown)" in ch.columns
    stress = res.changes.set_index("group").loc["Family in acute stress"]
    assert stress["p_value"] < 0.05 < stress["p_value_holm"] and "could be chance after Holm" in stress["sentence"]
    mm = table(ctx, "children_in_need_month_by_month")
    assert "p-value (Holm, over the months)" in mm.columns
    comp = table(ctx, "referrals_by_source_comparators")
    assert "Unlikely to be chance (after Holm)" in comp.columns and "Unlikely chance" not in comp.columns
    sc = res.share_changes.set_index(["indicator", "group"])
    police = sc.loc[("referrals_by_source", "Police")]
    assert police["p_value_holm"] >= police["p_value"]
    assert "after Holm adjustment for the two groups" in police["sentence"]
    assert not any("Family in acute stress" in f["sentence"] and "unlikely" in f["sentence"] for f in res.findings)


def test_short_caveat_uses_min_points():
    few = pd.Series({"n_before": 9, "n_after": 9, "min_points": 12})
    assert li.caveat_short(few) == ("With only 18 points, the data cannot separate the change from an underlying "
                                     "trend.")
    enough = pd.Series({"n_before": 9, "n_after": 9, "min_points": 8})
    assert li.caveat_short(enough) == "A before/after comparison assumes no underlying trend."


def test_store_copy_used_when_it_matches_the_file(tmp_path):
    db = make_store(tmp_path / "s.duckdb")
    con = store.connect(db)
    load_local_indicator_files(con, [BARNSLEY_CSV])
    con.close()
    ctx = report.start_report("barnsley-safeguarding", "04_local_indicators", store=db, output_dir=tmp_path / "o")
    res = li.load(ctx)
    assert res.ok and res.read_from == "store"
    assert res.df["indicator"].iloc[0] == "referrals"  # the file's order, not alphabetical
    ctx.con.close()
    # an older copy in the store is not used
    con = store.connect(db)
    con.execute("UPDATE local_indicators SET value = 2800 WHERE indicator = 'referrals' AND period = '2021/22'")
    con.close()
    ctx = report.start_report("barnsley-safeguarding", "04_local_indicators", store=db, output_dir=tmp_path / "o")
    res = li.load(ctx)
    assert res.read_from == "files" and "older copy" in res.read_note
    ref = res.df[(res.df["indicator"] == "referrals") & (res.df["period"] == "2021/22")]
    assert ref["value"].tolist() == [2815]
    ctx.con.close()


# --------------------------------------------------------------------------- other shapes, other partnerships


def test_generic_file_gets_the_analyses_its_shape_allows(demo):
    ctx, res = demo
    assert res.ok
    # quarters: latest quarter against the same quarter a year earlier
    c = res.changes[res.changes["indicator"] == "contacts"].iloc[0]
    assert (c["previous_period"], c["current_period"]) == ("2021-Q4", "2022-Q4")
    # monthly counts in two financial years: planted +50% found in every month
    t, cur, prev = res.monthly_yoy["early_help"]
    assert (cur, prev) == ("2022/23", "2021/22") and len(t) == 12
    assert (t["percent_lower"] > 0).all()
    # monthly shares: a p-chart over 24 months; the planted shift is special-cause variation
    p = res.proportions["visits_in_time"]
    assert int(p["in_chart"].sum()) == 24 and p["chart_special_cause"].any()
    # count comparators with a denominator: a test each, Holm over three
    cmp_ = res.comparisons["sources"].set_index("group")
    assert len(cmp_) == 3 and round(cmp_.loc["Police", "comparator_percent"], 1) == 25.0
    assert cmp_.loc["Police", "p_value_holm"] < 0.05 and cmp_.loc["Health", "p_value_holm"] > 0.05
    # a percentage without a denominator: set beside its comparator, no test
    d, reason = res.comparisons_descriptive["satisfaction"]
    assert d.iloc[0]["comparator_value"] == 78 and "denominator" in reason
    # before/after with 12 points a side: pooled proportions, Fisher's test, the trend caveat
    [ba] = [b for b in res.before_after if b["indicator"] == "visits_in_time"]
    r = ba["table"].iloc[0]
    assert r["measure"] == "percent (pooled)" and r["p_value"] < 0.001 and 25 < r["difference"] < 35
    assert "interrupted time-series" in r["caveat"]
    [bad] = [b for b in res.before_after if b["indicator"] == "not_an_indicator"]
    assert bad["table"] is None and "not among the partnership's figures" in bad["error"]
    # the rest is shown as published
    assert {"placements", "budget"} <= set(res.df["indicator"]) - res.used


@pytest.fixture(scope="module")
def demo_rendered(demo):
    ctx, res = demo
    ctx.fragments = render_captured(ctx, res)
    return ctx, res


def test_generic_rendering_suppresses_small_breakdown_counts(demo_rendered):
    ctx, res = demo_rendered
    pl = table(ctx, "placements").set_index("Group")
    assert pl.loc["A", "2022/23"] == "[c]" and pl.loc["C", "2022/23"] == "[c]"  # 3, and 12 (secondary)
    assert pl.loc["B", "2022/23"] == "40"
    single = table(ctx, "single_figures")
    assert "£120,000" in set(single["Figure"])
    assert (ctx.tables_dir / "04_local_indicators__visits_in_time_before_after.csv").exists()


def test_no_local_data_says_so(tiny_store, tmp_path):
    write_params(tmp_path / "params", "plain", "X08000001", "synthshire")
    ctx = report.start_report("plain", "04_local_indicators", params_dir=tmp_path / "params", store=tiny_store,
                              output_dir=tmp_path / "o")
    res = li.analyse(ctx)
    assert res.status == "none" and not res.ok
    render_all(ctx, res)
    assert ctx.headlines[0]["key"] == "local_indicators" and ctx.headlines[0]["value"] == 0
    assert "No local indicators file" in ctx.headlines[0]["sentence"]


def test_bad_file_gives_file_row_column_errors(tiny_store, tmp_path):
    rows = demo_rows("broken")
    rows[1]["value"] = "3,133"
    rows[3]["unit"] = "counts"
    (tmp_path / "params").mkdir()
    bad = write_rows(tmp_path / "params" / "broken.csv", rows)
    write_params(tmp_path / "params", "broken", "X08000001", "synthshire", "local_data:\n  - path: broken.csv\n")
    ctx = report.start_report("broken", "04_local_indicators", params_dir=tmp_path / "params", store=tiny_store,
                              output_dir=tmp_path / "o")
    res = li.analyse(ctx)
    assert res.status == "error" and len(res.problems) == 2
    assert "broken.csv, row 2 (line 3), column 'value': not a number ('3,133')" in res.problems[0]
    assert "row 4 (line 5), column 'unit'" in res.problems[1]
    render_all(ctx, res)
    h = ctx.headlines[0]
    assert h["key"] == "local_indicators_error" and h["value"] == 2 and "row 2 (line 3)" in h["sentence"]


def test_file_for_another_partnership_is_explained(tiny_store, tmp_path):
    (tmp_path / "params").mkdir()
    other = write_rows(tmp_path / "params" / "other.csv", demo_rows("someone-else"))
    write_params(tmp_path / "params", "mine", "X08000001", "synthshire", f"local_data:\n  - path: {other}\n")
    ctx = report.start_report("mine", "04_local_indicators", params_dir=tmp_path / "params", store=tiny_store,
                              output_dir=tmp_path / "o")
    res = li.analyse(ctx)
    assert res.status == "empty" and "`someone-else`" in res.message and "`mine`" in res.message


# --------------------------------------------------------------------------- end to end (slow)


def _text(html_path: Path) -> str:
    t = html_path.read_text(encoding="utf-8")
    t = re.sub(r"<style.*?</style>", " ", t, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", t))


@pytest.mark.slow
def test_csp_run_barnsley_safeguarding_renders(tmp_path):
    db = make_store(tmp_path / "store.duckdb")  # lookups only: no police data at all
    out = tmp_path / "outputs"
    assert cli.main(["run", "barnsley-safeguarding", "--store", str(db), "--outputs", str(out)]) == 0
    part = out / "barnsley-safeguarding"
    html = (part / "04_local_indicators.html").read_text(encoding="utf-8")
    text = _text(part / "04_local_indicators.html")
    assert "Barnsley Safeguarding Children Partnership" in text
    assert "start_report(" not in html and "Traceback" not in html and "Warning" not in text
    assert html.count("data:image/png;base64") >= 8 and "Download CSV" in html
    assert "rose 11.3% (95% CI 5.7% to 17.1%) from 2,815 to 3,133" in text
    assert "852 of 3,133, 27.2%" in text
    assert "August 2022 is left out" in text and "three points cannot separate" in text
    assert "read from the data store" in text  # the runner loaded the file before the notebook ran
    man = json.loads((part / "manifest.json").read_text())
    assert man["status"] == "ok" and man["notebooks"][0]["notebook"] == "04_local_indicators"
    assert any(k.endswith("barnsley_safeguarding_2022_23.csv") for k in man["inputs"]["local_data"])
    heads = json.loads((part / "headlines.json").read_text())
    assert any(h["key"] == "referrals__change" for h in heads)
    # no suppressed figure leaks through the page, its embedded CSVs or the tables folder
    embedded = [base64.b64decode(b).decode("utf-8")
                for b in re.findall(r"base64,([A-Za-z0-9+/=]+)[\"']>Download CSV", html)]
    assert len(embedded) >= 20
    for phrase in LEAKY_PHRASES:
        assert phrase not in html and not any(phrase in e for e in embedded), phrase
    for f in (part / "tables").glob("*.csv"):
        text_csv = f.read_text(encoding="utf-8")
        assert not any(phrase in text_csv for phrase in LEAKY_PHRASES), f.name


@pytest.mark.slow
def test_bad_local_file_reported_in_its_report_others_still_render(tmp_path, monkeypatch):
    db = make_store(tmp_path / "store.duckdb")
    params = tmp_path / "params"
    params.mkdir()
    monkeypatch.setenv("CSP_DATA_ROOT", str(REPO / "data" / "local"))  # a data root outside the params folder
    good = BARNSLEY_PARAMS.read_text(encoding="utf-8").replace(
        "path: data/local/", f"path: {REPO / 'data' / 'local'}/")
    (params / "barnsley-safeguarding.yaml").write_text(good, encoding="utf-8")
    rows = demo_rows("broken")
    rows[2]["period"] = "2022-13"
    bad = write_rows(params / "broken.csv", rows)
    write_params(params, "broken", "X08000001", "synthshire",
                 f"local_data:\n  - path: {bad}\nnotebooks: [04_local_indicators]\n")
    logs = []
    results = runner.run_all(["broken", "barnsley-safeguarding"], params_dir=params, outputs_dir=tmp_path / "out",
                             store=db, log=logs.append)
    # a malformed local file makes its partnership a warning (never "ok"); the other is unaffected
    assert [r.status for r in results] == ["warning", "ok"]
    assert any("broken: local indicators not loaded" in line for line in logs)
    text = _text(tmp_path / "out" / "broken" / "04_local_indicators.html")
    assert "Local indicators could not be read" in text
    assert "broken.csv, row 3 (line 4), column 'period'" in text and "Traceback" not in text
    assert "rose 11.3%" in _text(tmp_path / "out" / "barnsley-safeguarding" / "04_local_indicators.html")


@pytest.mark.slow
@pytest.mark.realdata
def test_csp_run_barnsley_safeguarding_on_real_lookups(shared_data, tmp_path):
    db, out = tmp_path / "real.duckdb", tmp_path / "outputs"
    assert cli.main(["ingest-lookup", str(shared_data / "geography"), "--store", str(db)]) == 0
    assert cli.main(["run", "barnsley-safeguarding", "--store", str(db), "--outputs", str(out)]) == 0
    text = _text(out / "barnsley-safeguarding" / "04_local_indicators.html")
    assert "Area: Barnsley (E08000016)" in text and "South Yorkshire" in text
    assert "no police data for this partnership's forces" in text


# --------------------------------------------------------------------------- averages use every month


def _months(values, threshold=5, children=True):
    per = [str(p) for p in pd.period_range("2022-04", periods=len(values), freq="M")]
    return pd.DataFrame({"period": per, "value": values,
                         "suppressed": [children and 0 < v < threshold for v in values]})


def test_monthly_average_and_range_use_suppressed_months_too():
    # counts 3, 1, 7, 2, 9, 4: the average is 26 / 6 = 4.3 and the range 1 to 9, whatever is shown
    s = li.monthly_series_summary(_months([3, 1, 7, 2, 9, 4]), "Missing episodes", 5)
    assert "4.3 a month on average over the six months from April 2022 to September 2022" in s
    assert "from fewer than 5 (May 2022) to 9 (August 2022)" in s  # the 1 is withheld where shown
    s = li.monthly_series_summary(_months([3, 1, 7, 2, 9, 4], children=False), "Contacts", 5)
    assert "4.3 a month on average" in s and "from 1 (May 2022) to 9 (August 2022)" in s


def test_monthly_average_withheld_when_it_would_reveal_a_suppressed_count():
    # one suppressed month: average x 6 minus the five shown months gives it away
    s = li.monthly_series_summary(_months([3, 10, 7, 12, 9, 14]), "Missing episodes", 5)
    assert "average is withheld" in s and "a month on average" not in s
    # two suppressed months that are both 1: their total (2) pins each down
    s = li.monthly_series_summary(_months([1, 1, 7, 12, 9, 14]), "Missing episodes", 5)
    assert "average is withheld" in s
    s = li.monthly_series_summary(_months([1, 2, 7, 12, 9, 14]), "Missing episodes", 5)  # {1, 2} known
    assert "average is withheld" in s
    s = li.monthly_series_summary(_months([4, 3, 7, 12, 9, 14]), "Missing episodes", 5)  # {3, 4} known
    assert "average is withheld" in s
    # two suppressed months 2 and 3: the total 5 does not reveal either
    s = li.monthly_series_summary(_months([2, 3, 7, 12, 9, 14]), "Missing episodes", 5)
    assert "7.8 a month on average" in s
