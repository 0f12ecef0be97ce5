"""The intervention report's analysis: load, then fit every design the data can support.

Pure functions (no ``ctx.say``, no matplotlib, no HTML) from an intervention's series
(:class:`csp_analysis.intervention_data.InterventionData`, built by the data layer's
:func:`~csp_analysis.intervention_data.build_intervention_data`) to an
:class:`InterventionAnalysis` holding the estimators' own result objects. Every interval
and p-value the report shows is read from those results (:func:`did_adjusted` is a view of
the DiD's ``did`` row; the synthetic control's after-period ratio is its
``average_post_ratio`` row), never recomputed here.

Steps, in the order :func:`fit_all` runs them (one function each; each fills its fields of
the :class:`InterventionAnalysis`, or records why it was skipped in ``skipped``):

1. :func:`fit_mde` - minimum detectable effect (before anything is estimated);
2. :func:`fit_its` - interrupted time series and its sensitivity variants
   (:func:`its_sensitivity`);
3. :func:`fit_did` - difference-in-differences on the panel from :func:`did_panel`;
4. :func:`fit_synthetic_control` - on the indexed donor panel from :func:`sc_index_panel`;
5. :func:`fit_displacement` - WDQ / WDD over the equal windows of :func:`displacement_window`;
6. :func:`fit_placebo` - placebo-in-time checks.

:func:`assess_evidence` then classifies what the two effect designs (ITS, DiD) found; the
wording module turns that into the verdict.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...formatting import format_p_value
from ... import intervention_data as idata
from ... import interventions as ivm

OUTCOME = "target crimes"
ALPHA = 0.05
#: Above this many comparison places, the difference-in-differences groups them into MSOAs.
MAX_DID_COMPARISON_UNITS = 200
#: Newey-West lag for the ITS variant shown when the residuals are autocorrelated (a quarter).
HAC_LAGS = 3
#: Below this many crimes a month before the start the ITS interval is called approximate.
SMALL_COUNT = 10
HAC_LABEL = f"With Newey-West standard errors (lag {HAC_LAGS}: allows for correlation between nearby months)"
#: Method names used in tables and verdicts.
M_ITS, M_DID, M_SC, M_DISP, M_PLACEBO, M_MDE = (
    "Interrupted time series", "Difference-in-differences", "Synthetic control",
    "Displacement (buffer)", "Placebo-in-time", "Minimum detectable effect")
#: Caution codes of :func:`assess_evidence` (worded by ``wording.CAUTIONS``).
CAUTION_PLACEBO, CAUTION_HAC, CAUTION_PRETREND = "placebo_not_unusual", "hac_not_significant", "pretrend"


def p_cell(p: float) -> str:
    """A p-value for a table cell (:func:`csp_analysis.formatting.format_p_value`, ``–`` when missing)."""
    return format_p_value(p, style="cell", missing="–")


# ============================================================================ result
@dataclass
class InterventionAnalysis:
    """All results for one intervention (None where a method was not run; see ``skipped``)."""

    index: int
    data: idata.InterventionData
    frame: pd.DataFrame | None = None
    mde: Any = None
    its_family: str = "quasipoisson"
    its: Any = None
    its_sensitivity: pd.DataFrame | None = None
    did: Any = None
    did_adj: dict | None = None
    did_pretrend: dict | None = None
    its_hac: Any = None               # the ITS with Newey-West errors, when the residuals are autocorrelated
    did_frame: pd.DataFrame | None = None
    sc: Any = None
    sc_ratio: float = float("nan")
    disp: Any = None
    disp_window: tuple | None = None
    placebo: Any = None
    skipped: dict = field(default_factory=dict)
    estimates: pd.DataFrame | None = None
    finding: str = "cannot_answer"
    verdict: str = ""
    verdict_short: str = ""

    @property
    def iv(self):
        return self.data.intervention

    @property
    def cov(self) -> idata.Coverage:
        return self.data.coverage


@dataclass
class Evidence:
    """What the effect designs found, for the verdict (:func:`assess_evidence`).

    ``finding`` is one of ``cannot_answer``, ``no_model``, ``reduction``, ``increase``,
    ``some_evidence_reduction``, ``some_evidence_increase``, ``mixed``, ``no_change``
    (``no_model`` is reported as ``cannot_answer``); ``estimates`` maps a method to its
    (rate ratio, lower, upper, p-value); ``significant`` holds those with p < ``ALPHA``;
    ``cautions`` are ``CAUTION_*`` codes.
    """

    finding: str
    estimates: dict = field(default_factory=dict)
    significant: dict = field(default_factory=dict)
    directions: set = field(default_factory=set)
    cautions: list = field(default_factory=list)


# ============================================================================ load
def load_intervention_data(ctx, iv) -> idata.InterventionData:
    """The intervention's series from the store (the data layer; all SQL lives there)."""
    return idata.build_intervention_data(ctx.con, ctx.params, iv, params_dir=ctx.params_file.parent)


def analyse_intervention(d: idata.InterventionData, index: int) -> InterventionAnalysis:
    """Fit every design the data can support (nothing when the coverage rules say no)."""
    a = InterventionAnalysis(index=index, data=d)
    if d.coverage.can_model:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_all(a)
    return a


def fit_all(a: InterventionAnalysis) -> None:
    """Steps 1-6 of the module docstring, in order (the placebo check needs the ITS)."""
    a.frame = its_frame(a.data)
    fit_mde(a)
    fit_its(a)
    fit_did(a)
    fit_synthetic_control(a)
    fit_displacement(a)
    fit_placebo(a)


# ============================================================================ 1. MDE
def fit_mde(a: InterventionAnalysis) -> None:
    """Minimum detectable effect on the longest unbroken run of before-period months."""
    d, cov = a.data, a.cov
    tail = cov.pre_longest_run()
    try:
        s = d.treated.reindex(tail).astype(float)
        a.mde = ivm.minimum_detectable_effect(
            s, post_periods=cov.n_post, family="quasipoisson",
            seasonality="month" if len(tail) >= idata.MIN_PRE_SEASONAL else None, slope_change=False)
    except ValueError as exc:
        a.skipped[M_MDE] = f"could not be computed ({exc})"


# ============================================================================ 2. ITS
def its_frame(d: idata.InterventionData) -> pd.DataFrame:
    """The treated series over the before, phase-in and after months, with days per month."""
    cov = d.coverage
    months = sorted(set(cov.pre) | {m for m in cov.phase_in if m in d.treated.index} | set(cov.post))
    df = pd.DataFrame({"month": pd.DatetimeIndex(months)})
    df[OUTCOME] = d.treated.reindex(months).to_numpy(dtype=float)
    df["days"] = idata.days_in_month(months)
    return df


def its_kwargs(a: InterventionAnalysis, **over) -> dict:
    """Arguments of the main ITS model, with ``over`` replacing some (the variants)."""
    cov = a.cov
    # default inference: autocorrelation-robust standard errors (count_engine); one term per
    # calendar month for the season (Fourier pairs misfit realistic seasonal shapes)
    kw = dict(exposure="days", family=a.its_family, seasonality="month" if cov.seasonal else None,
              harmonics=2, slope_change=False,
              exclude=[m for m in cov.phase_in if m in set(a.frame["month"])] or None)
    kw.update(over)
    return kw


def fit_its(a: InterventionAnalysis) -> None:
    """The main ITS (quasi-Poisson; Poisson when the data vary less than Poisson) and its variants."""
    eff = a.cov.effective_start
    try:
        a.its = ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff, **its_kwargs(a))
        if a.its.diagnostics["dispersion"] < 1:
            # less variable than Poisson (by chance): do not let the quasi-Poisson scale shrink the errors
            a.its_family = "poisson"
            a.its = ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff, **its_kwargs(a))
    except (ValueError, np.linalg.LinAlgError) as exc:
        a.skipped[M_ITS] = f"could not be fitted ({exc})"
    if a.its is not None:
        a.its_sensitivity = its_sensitivity(a)


def its_variants(a: InterventionAnalysis) -> list[tuple[str, dict]]:
    """(label, arguments replaced) of the main model and each sensitivity variant."""
    cov = a.cov
    fam = "quasi-Poisson" if a.its_family == "quasipoisson" else "Poisson (dispersion below 1)"
    variants = [(f"Main model: {fam}, step change" + (", seasonal terms" if cov.seasonal else ""), {})]
    variants.append(("Negative binomial (NB2) model", {"family": "negbin"}))
    variants.append(("With a change of trend after the start (level and slope)", {"slope_change": True}))
    if cov.seasonal:
        variants.append(("Without seasonal terms", {"seasonality": None}))
    variants.append(("Months treated as independent (classical standard errors)", {"autocorrelation": None}))
    return variants


def sensitivity_row(label: str, r) -> dict:
    """One row of the sensitivity table from an ITS result (its level change, as fitted)."""
    cf = r.counterfactual
    sel = cf["post"] & cf["used"]
    pdiff = r.table.loc["post_period_difference"]
    cf_sum = float(cf.loc[sel, "counterfactual"].sum())
    lv = r.table.loc["level_change"]
    return {
        "Model": label,
        "Level change (rate ratio)": float(lv["estimate"]),
        "Lower 95%": float(lv["lower"]), "Upper 95%": float(lv["upper"]), "p-value": float(lv["p_value"]),
        "Average change over the after period (%)": 100 * float(pdiff["estimate"]) / cf_sum if cf_sum else np.nan,
        "Dispersion (variation relative to chance; 1 = pure chance)": float(r.diagnostics["dispersion"]),
    }


def its_sensitivity(a: InterventionAnalysis) -> pd.DataFrame:
    """The main ITS and its variants, one row each (a variant that cannot be fitted is left out)."""
    eff = a.cov.effective_start
    rows = []
    for label, over in its_variants(a):
        try:
            r = a.its if not over else ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff,
                                                                   **its_kwargs(a, **over))
        except (ValueError, np.linalg.LinAlgError):
            continue
        if label == HAC_LABEL:
            a.its_hac = r
        rows.append(sensitivity_row(label, r))
    out = pd.DataFrame(rows)
    if len(out):
        out["p-value"] = out["p-value"].map(p_cell)
    return out


# ============================================================================ 3. DiD
def did_panel(d: idata.InterventionData) -> pd.DataFrame:
    """The treated and comparison places' monthly counts over the before and after months.

    Districts are the units when treatment was assigned to whole districts; more than
    ``MAX_DID_COMPARISON_UNITS`` comparison places are grouped into their MSOAs. Adds the
    0/1 ``treated`` and ``post`` columns.
    """
    cov = d.coverage
    use = set(cov.pre) | set(cov.post)
    pnl = d.panel[d.panel["role"].isin(["treated", "comparison"]) & d.panel["month"].isin(use)].copy()
    if d.cluster == "lad_code":
        # treatment assigned to whole districts: districts are the units (and the clusters)
        pnl = pnl.groupby(["month", "lad_code", "role"], as_index=False)["n"].sum()
        pnl["unit"] = pnl["lad_code"]
    elif pnl.loc[pnl["role"] == "comparison", "unit"].nunique() > MAX_DID_COMPARISON_UNITS:
        # many comparison places: group them into their MSOAs (keeps the model small)
        comp = pnl["role"] == "comparison"
        pnl.loc[comp, "unit"] = "MSOA " + pnl.loc[comp, "msoa"].astype(str)
        pnl = pnl.groupby(["month", "unit", "role", "lad_code"], as_index=False)["n"].sum()
    pnl["treated"] = (pnl["role"] == "treated").astype(int)
    pnl["post"] = (pnl["month"] >= cov.effective_start).astype(int)
    return pnl


def fit_did(a: InterventionAnalysis) -> None:
    """Poisson difference-in-differences with place and month effects, clustered by place."""
    d = a.data
    if d.comparison_kind == "none":
        a.skipped[M_DID] = "no comparison area with data"
        return
    try:
        a.did_frame = did_panel(d)
        a.did = ivm.difference_in_differences(a.did_frame, "n", "treated", "post", unit="unit", cluster=d.cluster,
                                              time="month", family="poisson", unit_effects=True)
        a.did_adj = did_adjusted(a.did)
    except (ValueError, np.linalg.LinAlgError) as exc:
        a.skipped[M_DID] = f"could not be fitted ({exc})"
    if a.did is not None and "pre_trend_difference" in a.did.table.index:
        a.did_pretrend = a.did.table.loc["pre_trend_difference"].to_dict()


def did_adjusted(res) -> dict:
    """The DiD estimate, interval and p-value the report shows: the function's own.

    A thin view of :func:`difference_in_differences`'s ``did`` row (its default wild
    cluster restricted score bootstrap, calibrated in ``benchmarks/calib_models.py``; or
    its model-based fallback when there are too few clusters), with ``basis`` a plain
    description of how the interval was found. Nothing here recomputes an interval.
    """
    r = res.table.loc["did"]
    inference = getattr(res, "inference", None)
    if inference == "wild_bootstrap":
        basis = ("wild cluster bootstrap (restricted score bootstrap with Webb weights, "
                 f"{res.n_clusters} clusters, {res.n_treated_clusters} of them treated)")
    elif "model-based" in str(r.get("method", "")):
        basis = "quasi-Poisson model-based (too few clusters for cluster-robust ones)"
    else:
        basis = str(r.get("method", ""))
    return {"estimate": float(r["estimate"]), "lower": float(r["lower"]), "upper": float(r["upper"]),
            "p_value": float(r["p_value"]), "se": float(r["se"]), "se_cluster": float(r["se"]),
            "se_model": float(res.se_model), "basis": basis, "method": str(r.get("method", "")),
            "calibrated": did_calibrated(res)}


def did_calibrated(res) -> bool:
    """Whether the DiD interval is one the calibration covers: the wild bootstrap with at
    least ``MIN_CALIBRATED_CLUSTERS_PER_GROUP`` treated and comparison clusters."""
    from csp_analysis.interventions.did import MIN_CALIBRATED_CLUSTERS_PER_GROUP as K

    if getattr(res, "inference", None) != "wild_bootstrap" or not res.n_clusters:
        return False
    n_t = int(res.n_treated_clusters or 0)
    return n_t >= K and res.n_clusters - n_t >= K


# ============================================================================ 4. synthetic control
def sc_index_panel(d: idata.InterventionData) -> pd.DataFrame:
    """Long panel (``month``, ``unit``, ``index``) of the treated area ("Treated area") and the
    donors over the before and after months, each indexed to its own before-period mean = 100
    (so donors of any size can contribute)."""
    cov = d.coverage
    use = sorted(set(cov.pre) | set(cov.post))
    wide = d.donors.reindex(use).astype(float)
    wide.insert(0, "Treated area", d.treated.reindex(use).astype(float))
    base = wide.reindex(cov.pre).mean()
    idx = wide / base * 100.0
    return idx.reset_index().melt(id_vars="month", var_name="unit", value_name="index")


def fit_synthetic_control(a: InterventionAnalysis) -> None:
    """Synthetic control on the indexed series, when there are at least ``MIN_DONORS`` donors."""
    d = a.data
    donors = d.donors
    if donors is None or donors.shape[1] < idata.MIN_DONORS:
        n = 0 if donors is None else donors.shape[1]
        a.skipped[M_SC] = (f"no donor pool: {n} possible donor(s) ({d.donor_kind or 'no comparison area'}) with at "
                           f"least {idata.MIN_DONOR_MEAN:g} target crimes a month before the start; at least "
                           f"{idata.MIN_DONORS} are needed")
        return
    try:
        a.sc = ivm.synthetic_control(sc_index_panel(d), "unit", "month", "index", "Treated area",
                                     a.cov.effective_start)
        a.sc_ratio = float(a.sc.table.loc["average_post_ratio", "estimate"])
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        a.skipped[M_SC] = f"could not be fitted ({exc})"


def sc_noise(a: InterventionAnalysis) -> float:
    """Index points of monthly error that chance alone gives: about 100 / sqrt(before-period mean count)."""
    return 100.0 / math.sqrt(max(float(a.data.treated.reindex(a.cov.pre).mean()), 1e-9))


# ============================================================================ 5. displacement
def displacement_window(cov: idata.Coverage) -> tuple[list, list]:
    """Equal before and after windows next to the start: whole years up to 24 months when
    both periods have 12 or more months, else the shorter period's length."""
    m = min(cov.n_pre, cov.n_post)
    n = min(24, 12 * (m // 12)) if m >= 12 else m
    return sorted(cov.pre)[-n:], sorted(cov.post)[:n]


def fit_displacement(a: InterventionAnalysis) -> None:
    """WDQ and WDD test of the buffer ring against the comparison (control) area."""
    d = a.data
    if d.buffer is None or d.buffer.sum() == 0:
        a.skipped[M_DISP] = ("no buffer area" if d.buffer is None else "no target crimes in the buffer")
        return
    if d.comparison is None:
        a.skipped[M_DISP] = "no comparison (control) area"
        return
    before, after = displacement_window(a.cov)
    try:
        a.disp = ivm.displacement(
            target=(d.treated.reindex(before).sum(), d.treated.reindex(after).sum()),
            buffer=(d.buffer.reindex(before).sum(), d.buffer.reindex(after).sum()),
            control=(d.comparison.reindex(before).sum(), d.comparison.reindex(after).sum()))
        a.disp_window = (before, after)
    except ValueError as exc:
        a.skipped[M_DISP] = f"could not be computed ({exc})"


# ============================================================================ 6. placebo-in-time
def fit_placebo(a: InterventionAnalysis) -> None:
    """The main ITS refitted at fake start dates in the before period (12 months either side)."""
    cov = a.cov
    if a.its is None:
        a.skipped[M_PLACEBO] = "no time-series model"
    elif not cov.can_placebo:
        a.skipped[M_PLACEBO] = (f"only {cov.n_pre} months before the start; placebo starts need "
                                f"{idata.MIN_PRE_SEASONAL} (12 either side of each fake start)")
    else:
        try:
            a.placebo = ivm.placebo_in_time(a.frame, OUTCOME, "month", cov.effective_start, min_segment=12,
                                            **its_kwargs(a))
        except (ValueError, np.linalg.LinAlgError) as exc:
            a.skipped[M_PLACEBO] = f"could not be run ({exc})"


# ============================================================================ evidence
def effect(a: InterventionAnalysis, method: str) -> tuple[float, float, float, float] | None:
    """(rate ratio, lower, upper, p-value) of the ITS level change or the DiD, as the estimator gave them."""
    if method == M_ITS and a.its is not None:
        r = a.its.table.loc["level_change"]
    elif method == M_DID and a.did_adj is not None:
        r = a.did_adj
    else:
        return None
    return float(r["estimate"]), float(r["lower"]), float(r["upper"]), float(r["p_value"])


def evidence_cautions(a: InterventionAnalysis, significant: dict) -> list[str]:
    """Caution codes: the placebo check, the Newey-West variant, the DiD pre-trend."""
    cautions = []
    if a.placebo is not None and not a.placebo.real_is_unusual:
        cautions.append(CAUTION_PLACEBO)
    if (a.its_hac is not None and M_ITS in significant
            and a.its_hac.table.loc["level_change", "p_value"] >= ALPHA):
        cautions.append(CAUTION_HAC)
    if a.did_pretrend is not None and a.did_pretrend["p_value"] < ALPHA:
        cautions.append(CAUTION_PRETREND)
    return cautions


def assess_evidence(a: InterventionAnalysis) -> Evidence:
    """Classify what the ITS and DiD found (both significant the same way, one, opposite, none)."""
    if not a.cov.can_model:
        return Evidence("cannot_answer")
    ests = {m: effect(a, m) for m in (M_ITS, M_DID)}
    ests = {k: v for k, v in ests.items() if v is not None}
    if not ests:
        return Evidence("no_model")
    sig = {k: v for k, v in ests.items() if v[3] < ALPHA}
    dirs = {("down" if v[0] < 1 else "up") for v in sig.values()}
    if len(sig) == len(ests) and len(dirs) == 1 and len(ests) >= 2:
        finding = "reduction" if "down" in dirs else "increase"
    elif sig and len(dirs) == 1:
        finding = "some_evidence_reduction" if "down" in dirs else "some_evidence_increase"
    elif sig:
        finding = "mixed"
    else:
        finding = "no_change"
    return Evidence(finding, ests, sig, dirs, evidence_cautions(a, sig))
