"""The intervention section's compute, charts and wording steps on a small hand-made series
(no store, no notebook, no ctx): csp_analysis.sections.interventions.{compute,charts,wording}.

The hand-made data: 48 months (2020-2023), a scheme from January 2022; 4 treated places
whose counts fall to x0.70 from the start, 12 comparison places, a buffer ring with no
change, and 6 donors; every count Poisson with a shared season.
"""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from csp_analysis import intervention_data as idata, params  # noqa: E402
from csp_analysis.sections.interventions import charts, compute, wording  # noqa: E402

MONTHS = list(pd.date_range("2020-01-01", "2023-12-01", freq="MS"))
START = pd.Timestamp("2022-01-01")
EFFECT = 0.70


def _series(rng, mean, effect=1.0):
    season = 1 + 0.2 * np.sin(2 * np.pi * np.arange(len(MONTHS)) / 12)
    post = np.array([m >= START for m in MONTHS])
    return rng.poisson(mean * season * np.where(post, effect, 1.0))


@pytest.fixture(scope="module")
def data() -> idata.InterventionData:
    rng = np.random.default_rng(7)
    rows = []
    for role, n_units, mean, eff in (("treated", 4, 15, EFFECT), ("comparison", 12, 12, 1.0), ("buffer", 3, 10, 1.0)):
        for u in range(n_units):
            unit = f"{role[0].upper()}{u:02d}"
            rows.append(pd.DataFrame({"month": MONTHS, "unit": unit, "n": _series(rng, mean, eff), "role": role,
                                      "lad_code": "X1", "msoa": f"M{u // 2}"}))
    panel = pd.concat(rows, ignore_index=True)

    def total(role):
        return panel[panel["role"] == role].groupby("month")["n"].sum().reindex(pd.DatetimeIndex(MONTHS, name="month"))

    donors = pd.DataFrame({f"D{j}": _series(rng, 40) for j in range(6)}, index=pd.DatetimeIndex(MONTHS, name="month"))
    iv = params.Intervention(name="Hand-made scheme", start="2022-01", target_crime_types=["Burglary"])
    cov = idata.assess_coverage(MONTHS, START, pre_total=float(total("treated")[:24].sum()))
    return idata.InterventionData(
        intervention=iv, crime_types=["Burglary"], type_label="burglary", lsoas=pd.DataFrame(),
        places=pd.DataFrame(), panel=panel, treated=total("treated"), buffer=total("buffer"),
        comparison=total("comparison"), comparison_kind="lsoas", comparison_label="other LSOAs",
        cluster="unit", donors=donors, donor_kind="MSOAs", months=MONTHS, usable=MONTHS,
        flagged=pd.DataFrame(), coverage=cov)


@pytest.fixture(scope="module")
def fitted(data) -> compute.InterventionAnalysis:
    """ITS, synthetic control and displacement fitted (the cheap designs; no MDE, DiD or placebo)."""
    a = compute.InterventionAnalysis(index=1, data=data)
    a.frame = compute.its_frame(data)
    compute.fit_its(a)
    compute.fit_synthetic_control(a)
    compute.fit_displacement(a)
    return a


# ============================================================================ compute
def test_its_frame_and_coverage(data):
    assert data.coverage.can_model and data.coverage.n_pre == 24 and data.coverage.n_post == 24
    f = compute.its_frame(data)
    assert list(f.columns) == ["month", compute.OUTCOME, "days"] and len(f) == 48
    assert f[compute.OUTCOME].sum() == data.treated.sum() and f["days"].iloc[1] == 29  # Feb 2020


def test_did_panel_flags_and_msoa_grouping(data, monkeypatch):
    pnl = compute.did_panel(data)
    assert set(pnl["role"]) == {"treated", "comparison"}  # the buffer is not a comparison
    assert pnl.groupby("unit")["treated"].first().sum() == 4
    assert (pnl["post"] == (pnl["month"] >= START)).all()
    monkeypatch.setattr(compute, "MAX_DID_COMPARISON_UNITS", 5)  # 12 comparison places: grouped
    grouped = compute.did_panel(data)
    comp = grouped[grouped["role"] == "comparison"]
    assert set(comp["unit"]) == {f"MSOA M{i}" for i in range(6)}
    assert comp["n"].sum() == pnl.loc[pnl["role"] == "comparison", "n"].sum()


def test_sc_index_panel_is_indexed_to_the_before_mean(data):
    long = compute.sc_index_panel(data)
    assert set(long["unit"]) == {"Treated area", *data.donors.columns}
    pre = long[long["month"] < START].groupby("unit")["index"].mean()
    assert np.allclose(pre.to_numpy(), 100.0)


def test_synthetic_control_ratio_is_the_estimators_own(fitted):
    a = fitted
    g = a.sc.gap
    assert a.sc_ratio == a.sc.table.loc["average_post_ratio", "estimate"]
    assert a.sc_ratio == pytest.approx(g.loc[g["post"], "treated"].mean() / g.loc[g["post"], "synthetic"].mean())
    assert abs(a.sc_ratio - EFFECT) < 0.1


def test_displacement_window_and_fit(data, fitted):
    cov = SimpleNamespace(n_pre=39, n_post=33, pre=list(range(39)), post=list(range(100, 133)))
    before, after = compute.displacement_window(cov)
    assert before == list(range(15, 39)) and after == list(range(100, 124))  # two whole years each side
    cov = SimpleNamespace(n_pre=15, n_post=9, pre=list(range(15)), post=list(range(100, 109)))
    assert [len(x) for x in compute.displacement_window(cov)] == [9, 9]
    before, after = fitted.disp_window
    assert len(before) == len(after) == 24
    assert fitted.disp.counts.loc["target", "before"] == data.treated.reindex(before).sum()


def test_its_finds_the_planted_fall(fitted):
    lv = fitted.its.table.loc["level_change"]
    assert lv["lower"] <= EFFECT <= lv["upper"] and lv["p_value"] < 0.05
    s = fitted.its_sensitivity
    assert s["Model"].iloc[0].startswith("Main model") and len(s) >= 4
    assert s["p-value"].iloc[0] == compute.p_cell(lv["p_value"])  # table cells, formatted


def _stub(its, did, can_model=True):
    """An analysis whose ITS and DiD give (rate ratio, lower, upper, p)."""
    def table(e):
        return pd.DataFrame([dict(zip(("estimate", "lower", "upper", "p_value"), e))], index=["level_change"])

    a = SimpleNamespace(cov=SimpleNamespace(can_model=can_model), placebo=None, its_hac=None, did_pretrend=None,
                        its=SimpleNamespace(table=table(its)) if its else None,
                        did_adj=dict(zip(("estimate", "lower", "upper", "p_value"), did)) if did else None)
    return a


@pytest.mark.parametrize("its, did, finding", [
    ((0.7, 0.6, 0.8, 0.001), (0.72, 0.6, 0.85, 0.002), "reduction"),
    ((1.3, 1.1, 1.5, 0.001), (1.2, 1.05, 1.4, 0.01), "increase"),
    ((0.7, 0.6, 0.8, 0.001), (0.9, 0.7, 1.1, 0.30), "some_evidence_reduction"),
    ((0.7, 0.6, 0.8, 0.001), (1.3, 1.1, 1.5, 0.01), "mixed"),
    ((0.95, 0.8, 1.1, 0.40), (1.02, 0.9, 1.2, 0.70), "no_change"),
    ((0.7, 0.6, 0.8, 0.001), None, "some_evidence_reduction"),  # one design alone is never "consistent"
    (None, None, "no_model"),
])
def test_assess_evidence(its, did, finding):
    ev = compute.assess_evidence(_stub(its, did))
    assert ev.finding == finding
    assert set(ev.significant) <= set(ev.estimates)


def test_assess_evidence_cautions_and_cannot_answer():
    a = _stub((0.7, 0.6, 0.8, 0.001), (0.72, 0.6, 0.85, 0.002))
    a.placebo = SimpleNamespace(real_is_unusual=False)
    a.did_pretrend = {"p_value": 0.01}
    assert compute.assess_evidence(a).cautions == [compute.CAUTION_PLACEBO, compute.CAUTION_PRETREND]
    assert compute.assess_evidence(_stub(None, None, can_model=False)).finding == "cannot_answer"


# ============================================================================ wording and charts, no ctx
def test_wording_from_a_computed_result(fitted):
    a = fitted
    wording.write_verdict(a)
    assert a.finding == "some_evidence_reduction"  # the ITS alone (no DiD fitted here)
    assert "the time series puts the change at" in a.verdict and "What this does not show" in a.verdict
    assert "buffer" in a.verdict  # the displacement sentence
    assert a.verdict_short == "Weak evidence of a fall (only one design finds it)."
    text = wording.its_result_text(a)
    lv = a.its.table.loc["level_change"]
    assert f"rate ratio {lv['estimate']:.2f}" in text and wording.change_text(lv["estimate"]) in text
    assert "Permutation p-value" in wording.sc_result_text(a)
    assert wording.displacement_text(a).startswith("**Weighted Displacement Quotient")
    est = wording.estimates_table(a)
    assert list(est["Method"]) == [compute.M_ITS, compute.M_SC, compute.M_DISP]
    assert est.loc[1, "Estimate (% change)"] == pytest.approx(100 * (a.sc_ratio - 1))
    assert set(wording.series_table(a)["Period"]) == {"before", "after"}
    assert list(wording.displacement_counts_table(a)["Area"]) == ["Treated area", "Buffer", "Control (comparison)"]
    assert wording.change_text(0.7) == "30% lower" and wording.change_text(1.0) == "no different"
    assert wording.p_text(0.0412) == "p = 0.041"


def test_charts_from_a_computed_result(fitted):
    full = pd.date_range("2020-01-01", "2023-12-01", freq="MS")
    for fig in (charts.series_chart(fitted, full), charts.its_chart(fitted), charts.sc_chart(fitted)):
        ax = fig.axes[0]
        assert fitted.iv.name in ax.get_title() and ax.get_xlabel() == "Month"
        plt.close(fig)
    assert charts.wrap_title("x " * 60, width=20).count("\n") >= 5
