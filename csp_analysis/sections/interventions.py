"""The intervention report (``03_intervention_effects``): did the scheme change the numbers?

For every intervention in the partnership's parameters, in this order:

1. the target series (the treated area's monthly count of the target crime types) with the
   scheme's window shaded, and what the data cover;
2. the **minimum detectable effect** first: with this much data, how large a change could
   have been detected at all (:func:`csp_analysis.interventions.minimum_detectable_effect`);
3. the **interrupted time series** (quasi-Poisson segmented regression on counts per day,
   linear trend, one term per calendar month for the season, a step change at the start,
   autocorrelation-robust standard errors), with its counterfactual chart and a sensitivity
   table (negative binomial, a slope change, no seasonal terms, months treated as independent);
4. the **comparison-area difference-in-differences** (Poisson with place and month fixed
   effects, standard errors clustered by place; event study and pre-trend check);
5. a **synthetic control** when a donor pool exists (series indexed to their own
   before-period average);
6. **displacement or diffusion of benefits** into a buffer ring (WDQ and WDD test);
7. **placebo-in-time** checks (fake start dates in the before period);
8. a **verdict** in plain English: what the evidence does and does not show.

Where the data cannot support a model (too few months before or after the start, gaps;
rules in :mod:`csp_analysis.intervention_data`), the section says so plainly and fits nothing.
All series are built by :func:`csp_analysis.intervention_data.build_intervention_data`.
Usage (thin notebook)::

    res = interventions.analyse(ctx)
    interventions.summary(ctx, res)
    for item in res:
        interventions.intervention_report(ctx, item)
    interventions.methods(ctx)
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..formatting import format_p_value
from .. import intervention_data as idata
from .. import interventions as ivm
from ..interventions._results import fmt_p as _p

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


# ============================================================================ formatting
def _chg(rr: float, dp: int = 0) -> str:
    """'30% lower' / '5% higher' for a rate ratio."""
    if rr is None or not np.isfinite(rr):
        return "–"
    pct = (rr - 1.0) * 100.0
    if round(abs(pct), dp) == 0:
        return "no different"
    return f"{abs(pct):.{dp}f}% {'lower' if pct < 0 else 'higher'}"


def _ci(lo: float, hi: float, dp: int = 0) -> str:
    return f"95% CI from {_chg(lo, dp)} to {_chg(hi, dp)}"


def _chance(p: float) -> str:
    return "unlikely to be chance" if (p is not None and np.isfinite(p) and p < ALPHA) else "could well be chance"


def _ptxt(p: float) -> str:
    """A p-value for a table cell (:func:`csp_analysis.formatting.format_p_value`)."""
    return format_p_value(p, style="cell", missing="–")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def _m(ts) -> str:
    return f"{pd.Timestamp(ts):%B %Y}"


def _title(text: str, width: int = 75) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _list(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ============================================================================ analysis
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


def analyse(ctx) -> list[InterventionAnalysis]:
    """Build the series and fit every design the data can support, for each intervention."""
    p = ctx.params
    out = []
    for i, iv in enumerate(p.interventions, start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = idata.build_intervention_data(ctx.con, p, iv, params_dir=ctx.params_file.parent)
            a = InterventionAnalysis(index=i, data=d)
            if d.coverage.can_model:
                _fit_all(a)
            _verdict(a)
        out.append(a)
    return out


def _its_frame(d: idata.InterventionData) -> pd.DataFrame:
    cov = d.coverage
    months = sorted(set(cov.pre) | {m for m in cov.phase_in if m in d.treated.index} | set(cov.post))
    df = pd.DataFrame({"month": pd.DatetimeIndex(months)})
    df[OUTCOME] = d.treated.reindex(months).to_numpy(dtype=float)
    df["days"] = idata.days_in_month(months)
    return df


def _its_kwargs(a: InterventionAnalysis, **over) -> dict:
    cov = a.cov
    # default inference: autocorrelation-robust standard errors (count_engine); one term per
    # calendar month for the season (Fourier pairs misfit realistic seasonal shapes)
    kw = dict(exposure="days", family=a.its_family, seasonality="month" if cov.seasonal else None,
              harmonics=2, slope_change=False,
              exclude=[m for m in cov.phase_in if m in set(a.frame["month"])] or None)
    kw.update(over)
    return kw


def _fit_all(a: InterventionAnalysis) -> None:
    d, cov = a.data, a.cov
    eff = cov.effective_start
    a.frame = _its_frame(d)
    # ---- 1. minimum detectable effect (before anything is estimated)
    tail = cov.pre_longest_run()
    try:
        s = d.treated.reindex(tail).astype(float)
        a.mde = ivm.minimum_detectable_effect(
            s, post_periods=cov.n_post, family="quasipoisson",
            seasonality="month" if len(tail) >= idata.MIN_PRE_SEASONAL else None, slope_change=False)
    except ValueError as exc:
        a.skipped[M_MDE] = f"could not be computed ({exc})"
    # ---- 2. interrupted time series
    try:
        a.its = ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff, **_its_kwargs(a))
        if a.its.diagnostics["dispersion"] < 1:
            # less variable than Poisson (by chance): do not let the quasi-Poisson scale shrink the errors
            a.its_family = "poisson"
            a.its = ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff, **_its_kwargs(a))
    except (ValueError, np.linalg.LinAlgError) as exc:
        a.skipped[M_ITS] = f"could not be fitted ({exc})"
    if a.its is not None:
        rows = []
        fam = "quasi-Poisson" if a.its_family == "quasipoisson" else "Poisson (dispersion below 1)"
        variants = [(f"Main model: {fam}, step change" + (", seasonal terms" if cov.seasonal else ""), {})]
        variants.append(("Negative binomial (NB2) model", {"family": "negbin"}))
        variants.append(("With a change of trend after the start (level and slope)", {"slope_change": True}))
        if cov.seasonal:
            variants.append(("Without seasonal terms", {"seasonality": None}))
        variants.append(("Months treated as independent (classical standard errors)", {"autocorrelation": None}))
        for label, over in variants:
            try:
                r = a.its if not over else ivm.interrupted_time_series(a.frame, OUTCOME, "month", eff,
                                                                       **_its_kwargs(a, **over))
            except (ValueError, np.linalg.LinAlgError):
                continue
            if label == HAC_LABEL:
                a.its_hac = r
            cf = r.counterfactual
            sel = cf["post"] & cf["used"]
            pdiff = r.table.loc["post_period_difference"]
            cf_sum = float(cf.loc[sel, "counterfactual"].sum())
            lv = r.table.loc["level_change"]
            rows.append({
                "Model": label,
                "Level change (rate ratio)": float(lv["estimate"]),
                "Lower 95%": float(lv["lower"]), "Upper 95%": float(lv["upper"]), "p-value": float(lv["p_value"]),
                "Average change over the after period (%)": 100 * float(pdiff["estimate"]) / cf_sum if cf_sum else np.nan,
                "Dispersion (variation relative to chance; 1 = pure chance)": float(r.diagnostics["dispersion"]),
            })
        a.its_sensitivity = pd.DataFrame(rows)
        if len(a.its_sensitivity):
            a.its_sensitivity["p-value"] = a.its_sensitivity["p-value"].map(_ptxt)
    # ---- 3. difference-in-differences
    if d.comparison_kind != "none":
        try:
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
            pnl["post"] = (pnl["month"] >= eff).astype(int)
            a.did_frame = pnl
            a.did = ivm.difference_in_differences(pnl, "n", "treated", "post", unit="unit", cluster=d.cluster,
                                                  time="month", family="poisson", unit_effects=True)
            a.did_adj = _did_adjusted(a.did)
        except (ValueError, np.linalg.LinAlgError) as exc:
            a.skipped[M_DID] = f"could not be fitted ({exc})"
        if a.did is not None and "pre_trend_difference" in a.did.table.index:
            a.did_pretrend = a.did.table.loc["pre_trend_difference"].to_dict()
    else:
        a.skipped[M_DID] = "no comparison area with data"
    # ---- 4. synthetic control
    donors = d.donors
    if donors is None or donors.shape[1] < idata.MIN_DONORS:
        n = 0 if donors is None else donors.shape[1]
        a.skipped[M_SC] = (f"no donor pool: {n} possible donor(s) ({d.donor_kind or 'no comparison area'}) with at "
                           f"least {idata.MIN_DONOR_MEAN:g} target crimes a month before the start; at least "
                           f"{idata.MIN_DONORS} are needed")
    else:
        try:
            use = sorted(set(cov.pre) | set(cov.post))
            wide = donors.reindex(use).astype(float)
            wide.insert(0, "Treated area", d.treated.reindex(use).astype(float))
            base = wide.reindex(cov.pre).mean()
            idx = wide / base * 100.0
            long = idx.reset_index().melt(id_vars="month", var_name="unit", value_name="index")
            a.sc = ivm.synthetic_control(long, "unit", "month", "index", "Treated area", eff)
            g = a.sc.gap
            post = g["post"].to_numpy()
            a.sc_ratio = float(g.loc[post, "treated"].mean() / g.loc[post, "synthetic"].mean())
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
            a.skipped[M_SC] = f"could not be fitted ({exc})"
    # ---- 5. displacement
    if d.buffer is None or d.buffer.sum() == 0:
        a.skipped[M_DISP] = ("no buffer area" if d.buffer is None else "no target crimes in the buffer")
    elif d.comparison is None:
        a.skipped[M_DISP] = "no comparison (control) area"
    else:
        m = min(cov.n_pre, cov.n_post)
        n = min(24, 12 * (m // 12)) if m >= 12 else m
        before, after = sorted(cov.pre)[-n:], sorted(cov.post)[:n]
        try:
            a.disp = ivm.displacement(
                target=(d.treated.reindex(before).sum(), d.treated.reindex(after).sum()),
                buffer=(d.buffer.reindex(before).sum(), d.buffer.reindex(after).sum()),
                control=(d.comparison.reindex(before).sum(), d.comparison.reindex(after).sum()))
            a.disp_window = (before, after)
        except ValueError as exc:
            a.skipped[M_DISP] = f"could not be computed ({exc})"
    # ---- 6. placebo-in-time
    if a.its is None:
        a.skipped[M_PLACEBO] = "no time-series model"
    elif not cov.can_placebo:
        a.skipped[M_PLACEBO] = (f"only {cov.n_pre} months before the start; placebo starts need "
                                f"{idata.MIN_PRE_SEASONAL} (12 either side of each fake start)")
    else:
        try:
            a.placebo = ivm.placebo_in_time(a.frame, OUTCOME, "month", eff, min_segment=12, **_its_kwargs(a))
        except (ValueError, np.linalg.LinAlgError) as exc:
            a.skipped[M_PLACEBO] = f"could not be run ({exc})"
    a.estimates = _estimates_table(a)


def _did_adjusted(res) -> dict:
    """The DiD estimate, interval and p-value the report shows: the function's own.

    A thin view of :func:`difference_in_differences`'s ``did`` row (its default wild
    cluster restricted score bootstrap, calibrated in ``benchmarks/calib_models.py``; or
    its model-based fallback when there are too few clusters), with ``basis`` a plain
    description of how the interval was found. Kept as a function for the callers below.
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
            "calibrated": _did_calibrated(res)}


def _did_calibrated(res) -> bool:
    """Whether the DiD interval is one the calibration covers: the wild bootstrap with at
    least ``MIN_CALIBRATED_CLUSTERS_PER_GROUP`` treated and comparison clusters."""
    from csp_analysis.interventions.did import MIN_CALIBRATED_CLUSTERS_PER_GROUP as K

    if getattr(res, "inference", None) != "wild_bootstrap" or not res.n_clusters:
        return False
    n_t = int(res.n_treated_clusters or 0)
    return n_t >= K and res.n_clusters - n_t >= K


def _estimates_table(a: InterventionAnalysis) -> pd.DataFrame:
    rows = []
    if a.mde is not None:
        t = a.mde.table
        rows.append({"Method": M_MDE, "Estimate (% change)": np.nan, "Lower 95% (% change)": np.nan,
                     "Upper 95% (% change)": np.nan, "p-value": np.nan,
                     "Note": f"not an estimate: the smallest fall ({float(t.loc['mde_decrease', 'estimate']):.1f}%) "
                             f"or rise (+{float(t.loc['mde_increase', 'estimate']):.1f}%) these data could detect "
                             "with 80% power"})
    if a.its is not None:
        r = a.its.table.loc["level_change"]
        rows.append({"Method": M_ITS, "Estimate (% change)": 100 * (r["estimate"] - 1),
                     "Lower 95% (% change)": 100 * (r["lower"] - 1), "Upper 95% (% change)": 100 * (r["upper"] - 1),
                     "p-value": float(r["p_value"]), "Note": a.its.method + "; step change"})
    if a.did_adj is not None:
        r = a.did_adj
        rows.append({"Method": M_DID, "Estimate (% change)": 100 * (r["estimate"] - 1),
                     "Lower 95% (% change)": 100 * (r["lower"] - 1), "Upper 95% (% change)": 100 * (r["upper"] - 1),
                     "p-value": float(r["p_value"]),
                     "Note": "Poisson GLM with place and month fixed effects; interval and p-value: " + r["basis"]
                             + ("" if r["calibrated"] else " (cannot be relied on to hold its 95% level here)")})
    if a.sc is not None:
        rows.append({"Method": M_SC, "Estimate (% change)": 100 * (a.sc_ratio - 1), "Lower 95% (% change)": np.nan,
                     "Upper 95% (% change)": np.nan, "p-value": float(a.sc.p_value),
                     "Note": "permutation (placebo-in-space) p-value; no confidence interval"})
    if a.disp is not None:
        w = a.disp.table.loc["wdd_displacement"]
        rows.append({"Method": M_DISP, "Estimate (% change)": np.nan, "Lower 95% (% change)": np.nan,
                     "Upper 95% (% change)": np.nan, "p-value": float(w["p_value"]),
                     "Note": f"buffer's change relative to the control area: {w['estimate']:+.0f} crimes "
                             f"(95% CI {w['lower']:+.0f} to {w['upper']:+.0f}; WDQ "
                             f"{a.disp.table.loc['wdq', 'estimate']:.2f})"})
    if a.placebo is not None:
        rows.append({"Method": M_PLACEBO, "Estimate (% change)": np.nan, "Lower 95% (% change)": np.nan,
                     "Upper 95% (% change)": np.nan, "p-value": np.nan,
                     "Note": ("real estimate larger than every placebo estimate" if a.placebo.real_is_unusual
                              else "real estimate NOT unusual among placebo estimates") +
                             f" ({len(a.placebo.table)} fake starts: rank p-value {a.placebo.rank_p_value:.3f}, "
                             f"the smallest possible being {1 / (len(a.placebo.table) + 1):.3f})"})
    out = pd.DataFrame(rows)
    if len(out):
        out["p-value"] = out["p-value"].map(_ptxt)
    return out


# ============================================================================ verdict
def _effect(a: InterventionAnalysis, method: str) -> tuple[float, float, float, float] | None:
    if method == M_ITS and a.its is not None:
        r = a.its.table.loc["level_change"]
    elif method == M_DID and a.did_adj is not None:
        r = a.did_adj
    else:
        return None
    return float(r["estimate"]), float(r["lower"]), float(r["upper"]), float(r["p_value"])


def _verdict(a: InterventionAnalysis) -> None:
    d, cov, iv = a.data, a.cov, a.iv
    what = d.type_label
    if not cov.can_model:
        a.finding = "cannot_answer"
        if d.problems:
            why = "the treated area could not be defined"
        elif not d.usable:
            why = "no usable data in the store"
        elif cov.n_pre < idata.MIN_PRE:
            why = (f"only {cov.n_pre} usable month(s) before the start; at least {idata.MIN_PRE} are needed"
                   if cov.n_pre else "no usable data before the start")
        elif cov.n_post < idata.MIN_POST:
            why = f"only {cov.n_post} usable month(s) after the start; at least {idata.MIN_POST} are needed"
        else:
            why = "too few crimes in the area before the start"
        a.verdict_short = f"The data cannot answer this question ({why}). No model fitted."
        a.verdict = (f"**The data cannot say whether {iv.name} changed {what}.** "
                     + " ".join(cov.reasons) +
                     " No model was fitted, because its answer could not be trusted. "
                     "This is not evidence that the scheme failed, nor that it worked: the published data simply do "
                     "not cover the right months. " + _what_would_help(a))
        return
    ests = {m: _effect(a, m) for m in (M_ITS, M_DID)}
    ests = {k: v for k, v in ests.items() if v is not None}
    if not ests:
        a.finding = "cannot_answer"
        a.verdict_short = "No model could be fitted."
        a.verdict = f"**No model could be fitted for {iv.name}**: " + "; ".join(
            f"{k}: {v}" for k, v in a.skipped.items()) + "."
        return
    sig = {k: v for k, v in ests.items() if v[3] < ALPHA}
    dirs = {("down" if v[0] < 1 else "up") for v in sig.values()}
    parts = []
    for k, (rr, lo, hi, p) in ests.items():
        label = "the time series" if k == M_ITS else "the comparison with " + ("similar areas" if d.comparison_label == "" else "the comparison area")
        parts.append(f"{label} puts the change at {_chg(rr)} ({_ci(lo, hi)}; {_p(p)})")
    est_txt = "; ".join(parts)
    mde_txt = ""
    if a.mde is not None:
        dec = abs(a.mde.table.loc["mde_decrease", "estimate"])
        inc = a.mde.table.loc["mde_increase", "estimate"]
        mde_txt = (f" With this much data, only a fall larger than about {dec:.0f}% (or a rise larger than "
                   f"{inc:.0f}%) could reliably be detected.")
    cautions = []
    if a.placebo is not None and not a.placebo.real_is_unusual:
        cautions.append("the placebo check found changes of similar size at fake start dates before the scheme, "
                        "so this change may not be unusual")
    if (a.its_hac is not None and M_ITS in sig
            and a.its_hac.table.loc["level_change", "p_value"] >= ALPHA):
        cautions.append("the time-series result could be chance once the correlation between neighbouring months "
                        "is allowed for (Newey-West standard errors)")
    if a.did_pretrend is not None and a.did_pretrend["p_value"] < ALPHA:
        cautions.append("the treated and comparison areas were already moving apart before the start, which "
                        "weakens the comparison")
    if len(sig) == len(ests) and len(dirs) == 1 and len(ests) >= 2:
        word = "fell" if "down" in dirs else "rose"
        a.finding = "reduction" if "down" in dirs else "increase"
        strength = "Consistent evidence" if not cautions else "Evidence, with caveats,"
        a.verdict = (f"**{strength} that {what} in the area {word} after {iv.name} started, by more than chance "
                     f"would explain:** {est_txt}.")
        rr = ests.get(M_DID, ests.get(M_ITS))[0]
        a.verdict_short = f"{what[0].upper() + what[1:]} {word}: about {_chg(rr)} than expected (two designs agree)."
    elif sig and len(dirs) == 1:
        word = "fall" if "down" in dirs else "rise"
        a.finding = "some_evidence_reduction" if "down" in dirs else "some_evidence_increase"
        which = _list(list(sig))
        a.verdict = (f"**Some evidence of a {word} in {what}, but the designs do not agree:** {est_txt}. "
                     f"Only the {which} estimate is unlikely to be chance, so the finding is weak.")
        a.verdict_short = f"Weak evidence of a {word} (only one design finds it)."
    elif sig:
        a.finding = "mixed"
        a.verdict = f"**The evidence is mixed:** {est_txt}. The designs point in different directions."
        a.verdict_short = "Mixed evidence: the designs disagree."
    else:
        a.finding = "no_change"
        a.verdict = (f"**No change in {what} that could be told apart from normal variation:** {est_txt}."
                     f"{mde_txt} So an effect smaller than that cannot be ruled out: this is an absence of "
                     "evidence, not evidence that the scheme did nothing.")
        a.verdict_short = "No detectable change (a small effect cannot be ruled out)."
    if cautions:
        a.verdict += " Caution: " + "; ".join(cautions) + "."
    if a.finding in ("reduction", "increase") and mde_txt:
        a.verdict += mde_txt.replace(" With this much data, only", " For reference, with this much data only")
    if a.disp is not None:
        t = a.disp.table
        w = t.loc["wdd_displacement"]
        nums = f"WDD {w['estimate']:+.0f} crimes, {_p(w['p_value'])}; WDQ {t.loc['wdq', 'estimate']:.2f}"
        if w["p_value"] < ALPHA and w["estimate"] > 0:
            a.verdict += (f" Crime in the buffer around the area rose relative to the comparison area ({nums}), "
                          "which may be displacement.")
        elif w["p_value"] < ALPHA:
            a.verdict += (f" Crime in the buffer also fell relative to the comparison area ({nums}): a possible "
                          "diffusion of benefits.")
        else:
            a.verdict += (f" Crime in the surrounding buffer changed much as in the comparison area ({nums}): no sign "
                          "of crime being displaced into it, nor of benefits spreading to it.")
    a.verdict += (" **What this does not show:** that the scheme itself caused any change. Anything else that changed "
                  "in the same place at the same time (other initiatives, policing, recording practice, a new "
                  "development) would look the same; and if the area was chosen because crime had just peaked, part "
                  "of a fall could be a return to normal. The comparison-area design allows for changes shared with "
                  "the comparison area, but not for changes particular to the treated area.")


def _what_would_help(a: InterventionAnalysis) -> str:
    cov = a.cov
    need = []
    if cov.n_pre < idata.MIN_PRE:
        need.append(f"at least {idata.MIN_PRE} (better {idata.MIN_PRE_SEASONAL}) consecutive months of street-level "
                    f"data before {_m(cov.start)}")
    if cov.n_post < idata.MIN_POST:
        need.append(f"at least {idata.MIN_POST} months after {_m(cov.effective_start)}")
    if not need:
        return ""
    return ("To answer it, the store needs " + _list(need) + " (data.police.uk keeps about three years of monthly "
            "files online; older months are in its archive files), or the partnership's own records for the period.")


# ============================================================================ rendering
def summary(ctx, results: list[InterventionAnalysis]) -> None:
    """Opening summary: one row per intervention, with the verdict, and headline figures."""
    p = ctx.params
    if not results:
        ctx.say("## Summary\n\nNo interventions are declared in this partnership's parameters "
                f"(`params/{p.slug}.yaml`, field `interventions`). Add one (name, start month, area, target crime "
                "types) to have it evaluated here.")
        ctx.headline("interventions_evaluated", "Interventions evaluated", 0,
                     "No interventions are declared in the parameters.")
        return
    n_ok = sum(r.cov.can_model for r in results)
    ctx.say(
        "## Summary\n\n"
        f"{len(results)} intervention(s) are declared for {p.name}. For each one this report first asks whether the "
        "data *could* show an effect (enough months before and after the start, and how large a change would be "
        "detectable), and only then estimates the change with designs that guard against different mistakes. "
        f"The data can support an evaluation of **{n_ok} of {len(results)}**."
    )
    rows = []
    for r in results:
        iv = r.iv
        row = {
            "Intervention": iv.name, "Start": pd.Timestamp(iv.start),
            "End": pd.Timestamp(iv.end) if iv.end else pd.NaT,
            "Target crimes": r.data.type_label,
            "Usable months before / after": f"{r.cov.n_pre} / {r.cov.n_post}",
            "Change (time series, %)": np.nan, "Change (comparison, %)": np.nan,
            "Verdict": r.verdict_short,
        }
        e = _effect(r, M_ITS)
        if e:
            row["Change (time series, %)"] = 100 * (e[0] - 1)
        e = _effect(r, M_DID)
        if e:
            row["Change (comparison, %)"] = 100 * (e[0] - 1)
        rows.append(row)
    ctx.table(pd.DataFrame(rows), "summary", "The interventions and what the data say about them.",
              note="Changes are relative to what the before period (time series) or the comparison area "
                   "(difference-in-differences) imply; negative = fewer crimes than expected.")
    for r in results:
        e = _effect(r, M_ITS)
        did = _effect(r, M_DID)
        best = did or e
        val = round(100 * (best[0] - 1), 1) if best else None
        ctx.headline(f"intervention_{r.index}", f"{r.iv.name}", val,
                     r.verdict_short + (f" Estimated change {_chg(best[0])} ({_ci(best[1], best[2])})." if best else ""),
                     finding=r.finding)


def intervention_report(ctx, a: InterventionAnalysis) -> None:
    """The full section for one intervention."""
    iv, d, cov = a.iv, a.data, a.cov
    when = f"from {_m(iv.start)}" + (f" to {_m(iv.end)}" if iv.end else " (no end date)")
    if iv.phase_in_months:
        when += f"; the first {iv.phase_in_months} month(s) are a phase-in period, left out of the estimates"
    ctx.say(f"## {a.index}. {iv.name}\n\n" + (f"{iv.description}\n\n" if iv.description else "") +
            f"**When:** {when}. **Target crimes:** {d.type_label}.  \n**Where:** " + " ".join(d.notes))
    series_chart(ctx, a)
    if not cov.can_model:
        ctx.say("### What the data can say\n\n" + a.verdict)
        _series_table(ctx, a)
        return
    if cov.cautions:
        ctx.say("**Data notes:** " + " ".join(cov.cautions))
    mde_section(ctx, a)
    its_section(ctx, a)
    did_section(ctx, a)
    sc_section(ctx, a)
    displacement_section(ctx, a)
    placebo_section(ctx, a)
    ctx.say(f"### Verdict\n\n{a.verdict}")
    if a.estimates is not None and len(a.estimates):
        ctx.table(a.estimates, f"iv{a.index}_estimates", f"{iv.name}: every estimate in one table.",
                  note="% change = (rate ratio - 1) x 100; negative means fewer crimes than expected.")
    _series_table(ctx, a)


def _series_table(ctx, a: InterventionAnalysis) -> None:
    d = a.data
    if not d.usable:  # nothing to tabulate; series_chart has said so
        return
    t = pd.DataFrame({"Month": pd.DatetimeIndex(d.usable)})
    t["Treated area"] = d.treated.reindex(d.usable).to_numpy()
    if d.buffer is not None:
        t["Buffer"] = d.buffer.reindex(d.usable).to_numpy()
    if d.comparison is not None:
        t["Comparison area"] = d.comparison.reindex(d.usable).to_numpy()
    pre, phase, post = set(a.cov.pre), set(a.cov.phase_in), set(a.cov.post)
    first = min(pre) if pre else None
    end = pd.Timestamp(a.iv.end) if a.iv.end else None

    def period(m):
        if not a.cov.can_model:
            if end is not None and m > end:
                return "after the scheme ended"
            if m >= a.cov.effective_start:
                return "after the start"
            if m >= a.cov.start:
                return "phase-in"
            return "before the start"
        if m in pre:
            return "before"
        if m in phase:
            return "phase-in (not used)"
        if m in post:
            return "after"
        if end is not None and m > end:
            return "after the scheme ended (not used)"
        if m >= a.cov.effective_start:
            return "after a gap (not used)"
        if first is not None and m < first:
            return "before a gap (not used)"
        return "not used"

    t["Period"] = [period(m) for m in t["Month"]]
    ctx.table(t, f"iv{a.index}_monthly_series", f"{a.iv.name}: monthly counts of {d.type_label} by area "
              "(months in the store that passed the quality checks).", max_rows=6)


def _shade(ax, a: InterventionAnalysis, x0, x1) -> None:
    iv, cov = a.iv, a.cov
    s = max(pd.Timestamp(iv.start), x0)
    eff = max(cov.effective_start, x0)
    e = min(pd.Timestamp(iv.end) + pd.offsets.MonthEnd(0), x1) if iv.end else x1
    if s > x1 or e < x0:
        return
    if eff > s:
        ax.axvspan(s, min(eff, e), color="tab:orange", alpha=0.08, label="Phase-in (left out)")
    if eff <= e:
        lbl = "Scheme in place" + (f" (from {pd.Timestamp(iv.start):%b %Y})" if pd.Timestamp(iv.start) < x0 else "")
        ax.axvspan(eff, e, color="tab:green", alpha=0.10, label=lbl)


def series_chart(ctx, a: InterventionAnalysis) -> None:
    """The treated area's monthly target crimes with the scheme's window shaded."""
    d, p = a.data, ctx.params
    full = pd.date_range(p.start, p.end, freq="MS")
    if not d.usable:
        ctx.say(f"The store has no usable month of data for this area in the analysis window "
                f"({full[0]:%B %Y} to {full[-1]:%B %Y}), so there is no series to show.")
        return
    y = d.treated.reindex(full).astype(float)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(full, y.values, marker=".", color="black", label="Treated area")
    if d.comparison is not None and d.comparison.sum() > 0:
        ref = a.cov.pre if a.cov.pre else d.usable
        k = d.treated.reindex(ref).mean() / max(d.comparison.reindex(ref).mean(), 1e-9)
        ax.plot(full, (d.comparison.reindex(full) * k).values, color="tab:grey", ls="--", lw=1,
                label="Comparison area, scaled to the treated area's " + ("before-period" if a.cov.pre else "overall")
                      + " level")
    _shade(ax, a, full[0], full[-1] + pd.offsets.MonthEnd(0))
    miss = [m for m in full if m not in set(d.usable)]
    if miss:
        ax.plot(miss, np.zeros(len(miss)), "|", color="tab:red", markersize=10, label="No usable data this month")
    ax.set_title(_title(f"{a.iv.name}: {d.type_label} in the treated area"))
    ax.set_xlabel("Month")
    ax.set_ylabel("Recorded crimes per month (count)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="best")
    ctx.show(fig)
    cov = a.cov
    txt = (f"The store has usable data for {len(d.usable)} of the {len(full)} months of the analysis window "
           f"({idata.month_range_text(d.usable)}).")
    if cov.can_model:
        txt += (f" **Before** the start: {cov.n_pre} months ({idata.month_range_text(cov.pre)}), with "
                f"{d.treated.reindex(cov.pre).mean():.1f} target crimes a month on average. **After**: {cov.n_post} "
                f"months ({idata.month_range_text(cov.post)}), {d.treated.reindex(cov.post).mean():.1f} a month.")
    ctx.say(txt)


def mde_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### How large a change could these data detect?")
    if a.mde is None:
        ctx.say(f"The minimum detectable effect {a.skipped.get(M_MDE, 'was not computed')}.")
        return
    t = a.mde.table
    dec, inc = abs(t.loc["mde_decrease", "estimate"]), t.loc["mde_increase", "estimate"]
    n_pre = a.mde.n_pre
    ctx.say(
        f"**With this much data, only changes larger than about {dec:.0f}% (a fall) or {inc:.0f}% (a rise) could "
        "be detected.** That is the smallest step change that an interrupted time series of "
        f"{n_pre} consecutive months before and {a.cov.n_post} after (about {a.mde.mean_pre:.0f} target crimes a "
        f"month, and month-to-month variation {a.mde.dispersion:.2f} times what chance alone gives) would find with 80% power at the 5% level. "
        "The power was found by simulating the after period from the before period's own trend, season, variability and "
        "month-to-month correlation, and analysing each simulated series as below. A real effect "
        "smaller than that would usually be missed, so a 'no significant change' result below cannot rule it out."
    )
    ctx.headline(f"intervention_{a.index}_mde", f"{a.iv.name}: minimum detectable fall (%)", round(float(dec), 1),
                 f"With this much data only a fall larger than about {dec:.0f}% in {a.data.type_label} could be "
                 "detected (80% power, 5% level).")


def its_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Interrupted time series: the area against its own past")
    if a.its is None:
        ctx.say(f"The interrupted time series {a.skipped.get(M_ITS, 'was not fitted')}.")
        return
    r = a.its
    lv = r.table.loc["level_change"]
    pdiff = r.table.loc["post_period_difference"]
    disp = r.diagnostics["dispersion"]
    season = ("a linear trend, one term for each calendar month (the seasonal pattern)" if r.seasonality
              else "a linear trend (no seasonal terms: fewer than 24 months before the start)")
    lag1 = r.diagnostics.get("serial_lag1", float("nan"))
    fam = (f"Crime counts vary more than pure chance (here the dispersion is {disp:.2f}; 1 = chance alone) and "
           "busy and quiet spells run on from one month to the next"
           + (f" (estimated month-to-month correlation {lag1:.2f})" if np.isfinite(lag1) else "")
           + ". The interval and p-value allow for both (autocorrelation-robust standard errors); in simulations of "
           "series like this one they hold their stated 95% level.")
    mean_pre = float(np.nanmean(r.counterfactual.loc[~r.counterfactual["post"], "observed"]))
    if np.isfinite(mean_pre) and mean_pre < SMALL_COUNT:
        fam += (f" With so few crimes a month (about {mean_pre:.0f} before the start), that calibration cannot be "
                "guaranteed: treat the interval as approximate.")
    ctx.say(
        "Model: Poisson-type regression of the monthly count "
        f"(as a rate per day, so months of different lengths compare fairly) on {season}, and a step change from "
        f"{_m(a.cov.effective_start)}. {fam} A negative binomial model and other variants are shown below as checks."
    )
    ctx.say(
        f"**After the start, {a.data.type_label} in the area were {_chg(lv['estimate'])} than the before-period "
        f"trend and season predict** (rate ratio {lv['estimate']:.2f}, {_ci(lv['lower'], lv['upper'])}; "
        f"{_p(lv['p_value'])}: {_chance(lv['p_value'])}). Over the {r.diagnostics['n_post_used']} months after the "
        f"start that is about {abs(pdiff['estimate']):,.0f} {'fewer' if pdiff['estimate'] < 0 else 'more'} crimes "
        f"than the counterfactual (95% CI {pdiff['lower']:+,.0f} to {pdiff['upper']:+,.0f})."
    )
    fig, ax = plt.subplots(figsize=(9, 4.5))
    r.plot(ax=ax)
    ax.set_title(_title(f"{a.iv.name}: observed {a.data.type_label} and the no-scheme counterfactual"))
    ax.set_ylabel("Recorded crimes per month (count)")
    ax.set_xlabel("Month")
    ctx.show(fig)
    notes = []
    for w in r.warnings:
        if "autocorrelated" in w and "allow for this" in w:
            w = (f"What the model leaves unexplained is correlated from one month to the next (Ljung-Box test "
                 f"{_p(r.diagnostics['ljung_box_p'])}); the interval above already allows for this.")
        elif "autocorrelated" in w and a.its_hac is not None:
            h = a.its_hac.table.loc["level_change"]
            w = (f"What the model leaves unexplained is correlated from one month to the next (Ljung-Box test "
                 f"{_p(r.diagnostics['ljung_box_p'])}), so the interval above may be too narrow. With Newey-West "
                 f"standard errors, which allow for this, the change is {_chg(h['estimate'])} "
                 f"({_ci(h['lower'], h['upper'])}; {_p(h['p_value'])}).")
        notes.append(w)
    if notes:
        ctx.say("**Diagnostics:** " + " ".join(notes))
    if a.its_sensitivity is not None and len(a.its_sensitivity) > 1:
        ctx.table(a.its_sensitivity, f"iv{a.index}_its_sensitivity",
                  "Interrupted time series: the main model and variants (level change as a rate ratio).",
                  float_dp={c: (1 if c.endswith("(%)") else 3) for c in a.its_sensitivity.columns},
                  note="If the variants broadly agree, the result does not hinge on one modelling choice. "
                                   "The 'level and slope' variant measures the level change at the first month, which "
                                   "is less precise; its average change over the after period is comparable with the "
                                   "main model's.")


def did_section(ctx, a: InterventionAnalysis) -> None:
    d = a.data
    ctx.say("### Difference-in-differences: the area against a comparison area")
    if a.did is None:
        ctx.say(f"The comparison-area estimate could not be made: {a.skipped.get(M_DID, 'not fitted')}.")
        return
    r = a.did_adj
    clus = ("place (LSOA)" if d.cluster == "unit" else "district") + (
        "; comparison places grouped into their MSOAs" if a.did_frame["unit"].astype(str).str.startswith("MSOA ").any()
        else "")
    n_treated = int(a.did_frame.loc[a.did_frame["treated"] == 1, "unit"].nunique())
    ctx.say(
        f"Comparison area: {d.comparison_label}. Model: Poisson regression of each place's monthly count with a "
        "fixed effect for every place and every month (so differences in level between places, and changes "
        f"shared by all places, such as the season, drop out), standard errors clustered by {clus} "
        f"({a.did.n_clusters} clusters, {n_treated} of them treated); this allows for over-dispersion and for "
        "correlation between a place's months."
    )
    if r["calibrated"]:
        ctx.say(
            "The interval and p-value come from a wild cluster bootstrap, which stays close to its stated level "
            "when only a few places are treated: in simulations of over-dispersed, month-to-month correlated counts "
            "with 5 treated of 20 places over 5 years, it called 4-7% of no-effect panels 'unlikely to be chance' "
            "and its 95% interval held the true effect 92-98% of the time. In a harder case (8 small treated places "
            "of very different sizes, only 6 months after the start) it called about 8% 'unlikely to be chance', "
            "so a p-value near 0.05 is weak evidence."
        )
    elif a.did.inference == "wild_bootstrap":
        ctx.say(
            "The interval and p-value come from a wild cluster bootstrap, but **with so few treated (or comparison) "
            "clusters no interval of this kind can be relied on to hold its stated 95% level**: it tends to be too "
            "wide, so a real effect can be missed. Read this estimate as indicative."
        )
    else:
        ctx.say(
            "There are too few clusters for cluster-based inference, so quasi-Poisson model-based standard errors "
            "are used; "
            "**they assume a place's months vary independently and cannot be relied on to hold the stated 95% "
            "level** when counts are correlated over time. Read this estimate as indicative."
        )
    ctx.say(
        f"**Relative to the comparison area, {d.type_label} in the treated area were {_chg(r['estimate'])} than "
        f"expected after the start** (ratio of rate ratios {r['estimate']:.2f}, {_ci(r['lower'], r['upper'])}; "
        f"{_p(r['p_value'])}: {_chance(r['p_value'])})."
    )
    pt = a.did_pretrend
    if pt is not None:
        ok = pt["p_value"] >= ALPHA
        monthly = 100 * (pt["estimate"] - 1)
        joint = a.did.pretrend or {}
        joint_txt = (f" A joint test that the treated and comparison areas differed in no month before the start "
                     f"gives {_p(joint['p_value'])}." if np.isfinite(joint.get("p_value", np.nan)) else "")
        ctx.say(f"Pre-trend check: before the start, the treated area's trend differed from the comparison area's by "
                f"{monthly:+.1f}% a month ({_ci(pt['lower'], pt['upper'], dp=1)}; {_p(pt['p_value'])})."
                + joint_txt + " "
                + ("No clear evidence that the two areas were already moving apart before the start."
                   if ok else "**The two areas were already moving apart before the start**, so the comparison is a "
                              "weaker guide to what would have happened."))
    warn = [w for w in a.did.warnings if "over-dispersed" not in w]
    if warn:
        ctx.say("**Notes:** " + " ".join(warn))
    if a.did.event_study is not None and len(a.did.event_study) > 1:
        fig, ax = plt.subplots(figsize=(9, 4))
        a.did.plot(ax=ax)
        ax.set_title(_title(f"{a.iv.name}: treated vs comparison area, month by month"))
        ax.set_xlabel("Months relative to the start (reference: the month before)")
        ax.set_ylabel("Rate ratio, treated vs comparison")
        ctx.show(fig)
        ctx.say("Each point compares the treated area with the comparison area in one month, relative to the month "
                "before the start. Look for a shift between the points before the start and those after it: when "
                "monthly counts are small, the reference month is itself noisy, so all the points can sit above or "
                "below 1 together.")


def sc_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Synthetic control")
    if a.sc is None:
        ctx.say(f"Not fitted: {a.skipped.get(M_SC, 'no donor pool')}.")
        return
    sc, d = a.sc, a.data
    w = sc.weights[sc.weights > 0.01].sort_values(ascending=False)
    # chance alone gives a monthly error of about 100 / sqrt(mean count) index points
    noise = 100.0 / math.sqrt(max(float(a.data.treated.reindex(a.cov.pre).mean()), 1e-9))
    fit_ok = sc.pre_rmspe <= 1.5 * noise
    ctx.say(
        f"A weighted combination of {len(sc.weights)} donors ({d.donor_kind}) chosen to track the treated area "
        "before the start; every series is indexed to its own before-period average (= 100), so donors of any size "
        f"can contribute. Largest weights: {', '.join(f'{k} ({v:.0%})' for k, v in w.head(5).items())}. "
        f"Before the start the synthetic area tracks the treated one with a typical error of {sc.pre_rmspe:.1f} "
        f"index points (month-to-month chance variation alone would give about {noise:.1f})"
        + ("." if fit_ok else " — **a poor fit**, so its after-period gap is not a reliable estimate.")
    )
    ctx.say(
        f"**After the start the treated area was {_chg(a.sc_ratio)} than its synthetic control.** Permutation "
        f"p-value {sc.p_value:.3f} (the treated area's after/before error ratio ranked against each donor treated "
        f"as if it had had the scheme; the smallest possible with {len(sc.weights)} donors is "
        f"{1 / (len(sc.weights) + 1):.3f}). There is no confidence interval for this method."
        + (f" With only {len(sc.weights)} donors the p-value cannot fall below "
           f"{1 / (len(sc.weights) + 1):.3f}, so this check cannot reach the usual 5% level on its own."
           if 1 / (len(sc.weights) + 1) > ALPHA else "")
    )
    fig, ax = plt.subplots(figsize=(9, 4))
    sc.plot(ax=ax)
    ax.set_title(_title(f"{a.iv.name}: treated area and its synthetic control"))
    ax.set_ylabel("Index (before-period average = 100)")
    h, _ = ax.get_legend_handles_labels()
    ax.legend(h[:2], ["Treated area", "Synthetic control (weighted donors)"], fontsize=8)
    ax.set_xlabel("Month")
    ctx.show(fig)
    tw = sc.weights.sort_values(ascending=False).reset_index()
    tw.columns = ["Donor", "Weight"]
    ctx.table(tw[tw["Weight"] > 0.001], f"iv{a.index}_sc_weights", "Synthetic control: donor weights.", float_dp=3)


def displacement_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Displacement or diffusion of benefits")
    if a.disp is None:
        ctx.say(f"Not assessed: {a.skipped.get(M_DISP, 'no buffer')}.")
        return
    from . import maps as maps_section

    maps_section.intervention_map(ctx, a.data)  # treated area and buffer on one map
    t, c = a.disp.table, a.disp.counts
    before, after = a.disp_window
    wt, wdisp, w = t.loc["wdd_target"], t.loc["wdd_displacement"], t.loc["wdd"]
    ctx.say(
        f"Counts of {a.data.type_label} in the {len(before)} months before ({idata.month_range_text(before)}) and "
        f"the {len(after)} months after ({idata.month_range_text(after)}) the start, in the treated area, the buffer "
        "around it and the comparison (control) area."
    )
    ctx.say(
        f"**Weighted Displacement Quotient (Bowers & Johnson 2003): {t.loc['wdq', 'estimate']:.2f}.** "
        + (f"{a.disp.interpretation} "
           if wdisp["p_value"] < ALPHA or not np.isfinite(wdisp["p_value"]) else
           "Read by its sign alone it would suggest: " + a.disp.interpretation[0].lower()
           + a.disp.interpretation[1:].rstrip(".") + "; but the buffer's change relative to the control area could "
           "well be chance (test below), so there is no clear displacement or diffusion of benefits. ")
        + "(The WDQ itself has no significance test.)  \n"
        f"**Weighted Displacement Difference test (Wheeler & Ratcliffe 2018):** relative to the control area, the "
        f"treated area had {wt['estimate']:+.0f} crimes (95% CI {wt['lower']:+.0f} to {wt['upper']:+.0f}; "
        f"{_p(wt['p_value'])}) and the buffer {wdisp['estimate']:+.0f} (95% CI {wdisp['lower']:+.0f} to "
        f"{wdisp['upper']:+.0f}; {_p(wdisp['p_value'])}); together {w['estimate']:+.0f} ({_p(w['p_value'])}). "
        "Without a buffer around the control area, the buffer's change is not adjusted for the general trend, and "
        "the test assumes Poisson counts (real counts vary more, so its p-values are optimistic)."
    )
    tab = c.astype(np.int64).reset_index().rename(columns={"index": "Area", "before": "Before", "after": "After", "change": "Change"})
    tab["Area"] = tab["Area"].map({"target": "Treated area", "buffer": "Buffer", "control": "Control (comparison)",
                                   "control_buffer": "Control buffer"}).fillna(tab["Area"])
    ctx.table(tab, f"iv{a.index}_displacement", "Target crimes before and after the start, by area (equal-length "
              "periods).")


def placebo_section(ctx, a: InterventionAnalysis) -> None:
    ctx.say("### Placebo checks: fake start dates")
    if a.placebo is None:
        ctx.say(f"Not run: {a.skipped.get(M_PLACEBO, 'no model')}.")
        return
    pl = a.placebo
    n = len(pl.table)
    n_sig = int(round(pl.share_significant * n))
    ctx.say(
        f"The time-series model was refitted to the before period only, pretending the scheme started at each of "
        f"{n} fake dates ({_m(pl.table['fake_start'].iloc[0].to_timestamp())} to "
        f"{_m(pl.table['fake_start'].iloc[-1].to_timestamp())}). Nothing happened then, so these 'effects' show how "
        f"big a change arises by chance or from a wrong model. {n_sig} of {n} were 'significant' (about 5% would be "
        "expected; neighbouring fake dates give similar answers, so this is a rough guide). "
        + ("**The real estimate is larger than every placebo estimate**: a change of this size was not seen at other "
           "times before the scheme." if pl.real_is_unusual else
           "**The real estimate is not unusual among the placebo estimates**: changes of this size also happened "
           "before the scheme, when nothing changed, so it should not be attributed to the scheme on this evidence.")
        + f" (Rank p-value {pl.rank_p_value:.3f}; the smallest possible with {n} fake dates is {1 / (n + 1):.3f}.)"
    )
    fig, ax = plt.subplots(figsize=(9, 4))
    pl.plot(ax=ax)
    ax.set_title(_title(f"{a.iv.name}: placebo estimates at fake start dates and the real estimate"))
    ax.set_xlabel("Start date used")
    ax.set_ylabel("Level change (rate ratio)")
    ctx.show(fig)


def methods(ctx) -> None:
    """How the report works: the rules and the references."""
    ctx.say(
        "## How this report works\n\n"
        "**Series.** Records are counted by the LSOA where they were recorded (data.police.uk's anonymised, snapped "
        "locations). Street files up to 2022 carry 2011 LSOA codes and later files 2021 codes: LSOAs whose code did "
        "not change are used as they are, and LSOAs that were split, merged or redrawn are joined into one stable "
        "place (linked by nearest centroid within the district), so no series jumps at the change of codes. "
        "The buffer is the ring of places whose centroid lies within the chosen distance of a treated LSOA's "
        "centroid (supplied centroids where the store has them, else the average of the records' own coordinates). "
        "Months with no published file are gaps, never filled in; months the data-quality checks mark as extract "
        "errors are left out.\n\n"
        f"**When the data cannot answer.** No model is fitted unless there are at least {idata.MIN_PRE} usable "
        f"months before the start and {idata.MIN_POST} after it (after any phase-in), with at least "
        f"{idata.MIN_PRE_TOTAL} target crimes before. Seasonal terms and placebo checks need "
        f"{idata.MIN_PRE_SEASONAL} months before. A gap of more than {idata.MAX_GAP} months ends the before or after "
        "period (a trend cannot be projected across a long gap). For a scheme with an end date, only months up to "
        "the end are used. A synthetic control needs at least "
        f"{idata.MIN_DONORS} donors with {idata.MIN_DONOR_MEAN:g}+ target crimes a month.\n\n"
        "**Methods.** Minimum detectable effect: simulated power of the time-series step change under the "
        "before period's own variability and autocorrelation (Zhang, Wagner & Ross-Degnan 2011; Bloom 1995). "
        "Interrupted time series: segmented quasi-Poisson regression (Lopez Bernal, Cummins & Gasparrini 2017; "
        "Wagner et al. 2002) with autocorrelation-robust standard errors (Zeger 1988; Liang & Zeger 1986). Difference-in-differences: Poisson with place and month "
        "fixed effects and cluster-robust errors (Wooldridge 2023; Bertrand, Duflo & Mullainathan 2004). Synthetic "
        "control: Abadie, Diamond & Hainmueller (2010). Displacement: Bowers & Johnson (2003); Wheeler & Ratcliffe "
        "(2018). Placebo-in-time checks: Abadie, Diamond & Hainmueller (2015); Lopez Bernal, Cummins & Gasparrini "
        "(2018). 'Unlikely to be chance' means p < 0.05; every estimate comes with its 95% confidence interval."
    )
