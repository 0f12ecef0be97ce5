"""Difference-in-differences with cluster-robust standard errors.

Two-group design: a treated group (``treated == 1``, e.g. wards with a new
scheme) and a comparison group, observed before and after (``post == 1``) the
start. The estimate is the interaction coefficient :math:`\\delta` in

.. math::

    g(E[Y_{it}]) = \\alpha + \\gamma\\,\\text{treated}_i + \\lambda\\,\\text{post}_t
                   + \\delta\\,\\text{treated}_i \\text{post}_t\\;[+\\log\\text{exposure}_{it}]

(``post`` is replaced by period fixed effects when a ``time`` column is given).
With ``family="gaussian"`` (identity link, OLS) :math:`\\delta` is the difference
in mean changes; with ``family="poisson"`` (log link, Poisson GLM, a good choice
for crime counts) :math:`e^{\\delta}` is a ratio of rate ratios: how much the
treated group's rate changed relative to the comparison group's change.

Standard errors are cluster-robust (Liang & Zeger 1986), clustered by ``cluster``
or else by ``unit``; with neither, heteroskedasticity-robust (HC1 for OLS, HC0
sandwich for Poisson). Gaussian intervals use the t distribution with G - 1
degrees of freedom for G clusters (as Stata), Poisson intervals the normal.

When ``time`` is given and every unit starts at the same time, an event study
(treated x period interactions, reference = last pre-intervention period) and a
pre-trend check are added: a joint Wald test that all pre-period interactions
are zero, and the difference in linear pre-period trends (``pre_trend_difference``).

References
----------
Card, D. & Krueger, A. B. (1994). Minimum wages and employment: a case study of
the fast-food industry in New Jersey and Pennsylvania. *American Economic Review*
84:772-793.
Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, ch. 5.
Princeton University Press.
Bertrand, M., Duflo, E. & Mullainathan, S. (2004). How much should we trust
differences-in-differences estimates? *Quarterly Journal of Economics* 119:249-275.
Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust
inference. *Journal of Human Resources* 50:317-372.
Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment
timing. *Journal of Econometrics* 225:254-277.
Wooldridge, J. M. (2023). Simple approaches to nonlinear difference-in-differences
with panel data. *The Econometrics Journal* 26:C31-C66.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ._results import (
    InterventionResult,
    TimeAxis,
    binary_column,
    check_column,
    check_confidence,
    check_dataframe,
    conf_pct,
    fmt_num,
    fmt_p,
    fmt_pct_change,
    make_table,
    numeric_column,
)

__all__ = ["difference_in_differences", "DiDResult"]

DID_FAMILIES = ("gaussian", "poisson")


def _fit(y, X, family, offset, groups, confidence, absorb=None):
    """Fit OLS/Poisson with cluster-robust (or HC) covariance.

    ``absorb`` (integer unit codes) adds unit fixed effects: for OLS by the within
    (demeaning) transformation, so the cluster small-sample factor counts only the
    non-absorbed coefficients (as Stata ``xtreg, fe vce(cluster)``); for Poisson by
    unit dummies (the Poisson fixed-effects estimator has no incidental-parameter
    bias). ``const`` and ``treated`` are then dropped (absorbed).

    Returns (results, params, cov, crit, df) where ``df`` is the t degrees of
    freedom (None for normal inference).
    """
    if absorb is not None:
        X = X.drop(columns=[c for c in ("const", "treated") if c in X.columns])
        if family == "gaussian":
            counts = np.bincount(absorb)
            def demean(v):
                return v - (np.bincount(absorb, weights=v) / counts)[absorb]
            y = demean(np.asarray(y, dtype=float))
            X = X.apply(lambda col: demean(col.to_numpy(dtype=float)))
            X = X.loc[:, (X.abs() > 1e-12).any(axis=0)]
        else:
            dummies = pd.get_dummies(absorb, prefix="unit", dtype=float)
            dummies.index = X.index
            X = pd.concat([X, dummies], axis=1)
    if family == "gaussian":
        model = sm.OLS(y, X)
    else:
        model = sm.GLM(y, X, family=sm.families.Poisson(),
                       offset=np.zeros(len(y)) if offset is None else offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if groups is not None:
            res = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
            n_groups = len(np.unique(groups))
            df = float(n_groups - 1) if family == "gaussian" else None
        else:
            res = model.fit(cov_type="HC1" if family == "gaussian" else "HC0")
            df = float(res.df_resid) if family == "gaussian" else None
    crit = stats.t.ppf(0.5 + confidence / 2, df) if df is not None else \
        stats.norm.ppf(0.5 + confidence / 2)
    return res, res.params, res.cov_params(), crit, df


def _p(z, df):
    return float(2 * (stats.t.sf(abs(z), df) if df is not None else stats.norm.sf(abs(z))))


class DiDResult(InterventionResult):
    """Result of :func:`difference_in_differences`.

    Attributes
    ----------
    table : pandas.DataFrame
        Row ``did`` (and ``pre_trend_difference`` when a pre-trend can be
        estimated); columns ``estimate``, ``lower``, ``upper``, ``p_value``,
        ``confidence``, ``method``, ``scale``, ``se`` (link scale).
    cell_means : pandas.DataFrame
        Mean outcome (rate per unit exposure with ``exposure``) by group and period.
    event_study : pandas.DataFrame or None
        Per-period treated-vs-control differences relative to the last
        pre-intervention period.
    pretrend : dict or None
        Joint Wald test of the pre-period event-study coefficients
        (``statistic``, ``df``, ``p_value``, ``test``).
    n_clusters : int or None
    model : statsmodels results of the main model.
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def summary(self) -> str:
        cl = conf_pct(self.confidence)
        r = self.table.loc["did"]
        lines = [f"Difference-in-differences for {self.outcome!r}: {r.method}."]
        lines.append(f"{self.n_obs} observations"
                     + (f" in {self.n_clusters} clusters" if self.n_clusters else "") + ".")
        if self.family == "poisson":
            lines.append(
                f"After the start, the treated group's rate changed by a factor of {r.estimate:.3f} "
                f"relative to the comparison group's change, i.e. it was {fmt_pct_change(r.estimate)} "
                f"than expected had it followed the comparison group ({cl} CI {r.lower:.3f} to "
                f"{r.upper:.3f}; {fmt_p(r.p_value)})."
            )
        else:
            lines.append(
                f"The treated group's mean {self.outcome!r} changed by {fmt_num(r.estimate)} more than "
                f"the comparison group's ({cl} CI {fmt_num(r.lower)} to {fmt_num(r.upper)}; "
                f"{fmt_p(r.p_value)})."
            )
        if r.p_value >= 1 - self.confidence:
            lines.append("This is not statistically significant: the data are consistent with no "
                         "effect, though the interval shows the size of effect that cannot be ruled out.")
        if self.pretrend is not None:
            pt = self.pretrend
            verdict = ("no evidence against parallel pre-intervention trends"
                       if pt["p_value"] >= 0.05 else
                       "evidence that the groups were already diverging before the start, which "
                       "undermines the parallel-trends assumption")
            lines.append(f"Pre-trend check ({pt['test']} on {pt['df']} pre-period coefficient(s)): "
                         f"{fmt_p(pt['p_value'])}, {verdict}. A non-significant test does not prove "
                         "parallel trends, especially with few periods.")
        elif self.time is not None:
            lines.append("Pre-trend check not possible: it needs at least two pre-intervention "
                         "periods and a common start date.")
        else:
            lines.append("No time column was given, so the parallel-trends assumption could not be "
                         "checked.")
        lines.extend(self.warnings)
        lines.append(
            "Limits: the estimate is causal only if, without the intervention, both groups would have "
            "followed parallel trends, the comparison group was unaffected (no displacement or "
            "diffusion of benefits into it), and the make-up of both groups did not change."
        )
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Event-study plot when available, else the 2x2 means with the counterfactual."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        ratio = self.family == "poisson"
        if self.event_study is not None and len(self.event_study) > 1:
            es = self.event_study
            x = es["relative_time"].to_numpy()
            est = es["estimate"].to_numpy()
            yerr = np.vstack([est - es["lower"].to_numpy(), es["upper"].to_numpy() - est])
            ax.errorbar(x, est, yerr=yerr, fmt="o", color="tab:blue", capsize=3,
                        label=f"Estimate with {conf_pct(self.confidence)} CI")
            ax.axhline(1.0 if ratio else 0.0, color="black", lw=0.8)
            ax.axvline(-0.5, color="grey", ls=":", lw=1)
            ax.set_title(f"Event study: {self.outcome}")
            ax.set_xlabel("Periods relative to the intervention start (reference = -1)")
            ax.set_ylabel("Rate ratio, treated vs comparison" if ratio
                          else f"Difference in {self.outcome}, treated minus comparison")
            ax.legend(fontsize=8)
            return ax
        m = self.cell_means
        xs = [0, 1]
        t_pre, t_post = m.loc[(1, 0), "mean"], m.loc[(1, 1), "mean"]
        c_pre, c_post = m.loc[(0, 0), "mean"], m.loc[(0, 1), "mean"]
        cf = t_pre * c_post / c_pre if ratio and c_pre > 0 else t_pre + (c_post - c_pre)
        ax.plot(xs, [c_pre, c_post], "o-", color="tab:grey", label="Comparison group")
        ax.plot(xs, [t_pre, t_post], "o-", color="tab:blue", label="Treated group")
        ax.plot(xs, [t_pre, cf], "o--", color="tab:red", label="Treated counterfactual")
        ax.set_xticks(xs, ["Before", "After"])
        ax.set_title(f"Difference-in-differences: {self.outcome}")
        ax.set_xlabel("Period")
        ax.set_ylabel(f"Mean {self.outcome}" + (f" per unit of {self.exposure}" if self.exposure else ""))
        ax.legend(fontsize=8)
        return ax


def difference_in_differences(
    data: pd.DataFrame,
    outcome: str,
    treated: str,
    post: str,
    unit: str | None = None,
    cluster: str | None = None,
    *,
    time: str | None = None,
    family: str = "gaussian",
    exposure: str | None = None,
    unit_effects: bool = False,
    confidence: float = 0.95,
) -> DiDResult:
    """Estimate a difference-in-differences effect with cluster-robust errors.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per unit (or group) and period.
    outcome : str
        Outcome column (counts for ``family="poisson"``). Rows with a missing
        outcome are dropped.
    treated : str
        0/1 column: 1 for the treated group.
    post : str
        0/1 column: 1 for periods after the intervention started.
    unit : str, optional
        Unit identifier (e.g. store, ward); used for clustering when ``cluster``
        is not given. ``treated`` must be constant within a unit.
    cluster : str, optional
        Column defining clusters for the standard errors (e.g. police beat).
    time : str, optional
        Period column (month dates or integers). Adds period fixed effects, an
        event study and a pre-trend check.
    family : {"gaussian", "poisson"}
        ``gaussian``: OLS, effect as a difference; ``poisson``: Poisson GLM (log
        link), effect as a ratio of rate ratios.
    exposure : str, optional
        Population/exposure column for a log offset (Poisson only).
    unit_effects : bool
        Add unit fixed effects (needs ``unit``). More precise when units differ a
        lot in level (e.g. wards with very different crime counts); units seen in
        only one period (and, for Poisson, units with no events) then carry no
        information and are dropped.
    confidence : float
        Confidence level (default 0.95).

    Returns
    -------
    DiDResult

    Raises
    ------
    ValueError
        Unknown columns, non-0/1 indicators, an empty group-period cell, negative
        counts, or ``treated`` varying within a unit.

    References
    ----------
    Card & Krueger (1994), *AER* 84:772-793; Bertrand, Duflo & Mullainathan (2004),
    *QJE* 119:249-275; Cameron & Miller (2015), *J Human Resources* 50:317-372.
    """
    data = check_dataframe(data)
    for arg, col in (("outcome", outcome), ("treated", treated), ("post", post)):
        check_column(data, col, arg)
    if family not in DID_FAMILIES:
        raise ValueError(f"`family` must be one of {DID_FAMILIES}, got {family!r}")
    confidence = check_confidence(confidence)
    if exposure is not None and family != "poisson":
        raise ValueError("`exposure` (a log offset) is only used with family='poisson'")
    for arg, col in (("unit", unit), ("cluster", cluster), ("time", time), ("exposure", exposure)):
        if col is not None:
            check_column(data, col, arg)

    if not isinstance(unit_effects, (bool, np.bool_)):
        raise ValueError(f"`unit_effects` must be True or False, got {unit_effects!r}")
    if unit_effects and unit is None:
        raise ValueError("`unit_effects=True` needs the `unit` column")
    y_raw = numeric_column(data, outcome, "outcome")
    keep = ~np.isnan(y_raw)
    n_dropped = int((~keep).sum())
    n_uninformative = 0
    if unit_effects:
        sizes = data.loc[keep].groupby(unit)[outcome].transform("size")
        informative = sizes > 1
        if family == "poisson":
            informative &= data.loc[keep].groupby(unit)[outcome].transform("sum") > 0
        n_uninformative = int(data.loc[keep].loc[~informative, unit].nunique())
        keep[np.flatnonzero(keep)[~informative.to_numpy()]] = False
    df = data.loc[keep].reset_index(drop=True)
    y = y_raw[keep]
    D = binary_column(df, treated, "treated")
    P = binary_column(df, post, "post")
    if family == "poisson" and (y < 0).any():
        raise ValueError(f"`outcome`: column {outcome!r} has negative values; counts must be >= 0")
    offset = None
    if exposure is not None:
        e = numeric_column(df, exposure, "exposure")
        if np.isnan(e).any() or (e <= 0).any():
            raise ValueError(f"`exposure`: column {exposure!r} must be positive and not missing")
        offset = np.log(e)
    for d in (0, 1):
        for p in (0, 1):
            if not ((D == d) & (P == p)).any():
                raise ValueError(f"No observations with {treated}={d} and {post}={p}: all four "
                                 "group-period cells are needed")
    if unit is not None:
        if df.groupby(unit)[treated].nunique().max() > 1:
            raise ValueError(f"`treated`: column {treated!r} varies within a unit ({unit!r}); "
                             "each unit must be either treated or not")
    groups = None
    cluster_col = cluster if cluster is not None else unit
    if cluster_col is not None:
        if df[cluster_col].isna().any():
            raise ValueError(f"`{'cluster' if cluster else 'unit'}`: column {cluster_col!r} has "
                             "missing values")
        groups = pd.factorize(df[cluster_col])[0]
    absorb = pd.factorize(df[unit])[0] if unit_effects else None

    # ---- main model ------------------------------------------------------ #
    X = pd.DataFrame({"const": 1.0, "treated": D}, index=df.index)
    axis = ords = None
    common_start = False
    staggered = False
    if time is not None:
        axis, ords, _ = TimeAxis.from_values(df[time], "time")
        post_by_time = pd.Series(P).groupby(ords).nunique()
        common_start = bool((post_by_time == 1).all())
        staggered = not common_start
        uniq = np.unique(ords)
        for o in uniq[1:]:
            X[f"period_{o}"] = (ords == o).astype(float)
        if not common_start:
            X["post"] = P
    else:
        X["post"] = P
    X["did"] = D * P
    res, params, cov, crit, dfree = _fit(y, X, family, offset, groups, confidence, absorb)
    b, s = float(params["did"]), float(math.sqrt(cov.loc["did", "did"]))
    lo, hi = b - crit * s, b + crit * s
    ratio = family == "poisson"
    se_type = (f"cluster-robust SE by {cluster_col!r}" if groups is not None
               else ("HC1 robust SE" if family == "gaussian" else "robust (sandwich) SE"))
    fe = [n for n, flag in (("unit", unit_effects), ("period", time is not None)) if flag]
    method = ("OLS" if family == "gaussian" else "Poisson GLM") + \
        (f" with {' and '.join(fe)} fixed effects" if fe else "") + f", {se_type}"
    rows = [{
        "effect": "did",
        "estimate": math.exp(b) if ratio else b,
        "lower": math.exp(lo) if ratio else lo,
        "upper": math.exp(hi) if ratio else hi,
        "p_value": _p(b / s, dfree), "confidence": confidence, "method": method,
        "scale": "ratio of rate ratios" if ratio else "difference", "se": s,
    }]

    # ---- event study and pre-trend ---------------------------------------- #
    event_study = None
    pretrend = None
    if time is not None and common_start:
        uniq = np.unique(ords)
        post_ords = uniq[pd.Series(P).groupby(ords).first().reindex(uniq).to_numpy() == 1]
        pre_ords = uniq[~np.isin(uniq, post_ords)]
        if len(pre_ords) >= 1 and len(post_ords) >= 1:
            first_post = post_ords.min()
            ref = pre_ords.max()
            rel = {o: int(np.searchsorted(uniq, o) - np.searchsorted(uniq, first_post)) for o in uniq}
            Xe = pd.DataFrame({"const": 1.0, "treated": D}, index=df.index)
            for o in uniq[1:]:
                Xe[f"period_{o}"] = (ords == o).astype(float)
            es_terms = []
            for o in uniq:
                if o == ref:
                    continue
                name = f"treated_x_{o}"
                Xe[name] = D * (ords == o)
                es_terms.append((o, name))
            res_e, pe, ce, crit_e, df_e = _fit(y, Xe, family, offset, groups, confidence, absorb)
            es_rows = [{"time": axis.label(ref), "relative_time": rel[ref], "estimate": 0.0,
                        "lower": 0.0, "upper": 0.0, "p_value": float("nan"), "se": 0.0}]
            for o, name in es_terms:
                bb, ss = float(pe[name]), float(math.sqrt(ce.loc[name, name]))
                es_rows.append({"time": axis.label(o), "relative_time": rel[o], "estimate": bb,
                                "lower": bb - crit_e * ss, "upper": bb + crit_e * ss,
                                "p_value": _p(bb / ss, df_e) if ss > 0 else float("nan"), "se": ss})
            event_study = pd.DataFrame(es_rows).sort_values("relative_time").reset_index(drop=True)
            if ratio:
                for c in ("estimate", "lower", "upper"):
                    event_study[c] = np.exp(event_study[c])
            leads = [name for o, name in es_terms if o < ref]
            if leads:
                bvec = pe[leads].to_numpy()
                V = ce.loc[leads, leads].to_numpy()
                W = float(bvec @ np.linalg.pinv(V) @ bvec)
                q = len(leads)
                if df_e is not None:
                    F = W / q
                    pretrend = {"statistic": F, "df": q, "p_value": float(stats.f.sf(F, q, df_e)),
                                "test": "joint F test"}
                else:
                    pretrend = {"statistic": W, "df": q, "p_value": float(stats.chi2.sf(W, q)),
                                "test": "joint Wald chi-squared test"}
                # linear differential pre-trend (pre-period data only)
                pre_mask = np.isin(ords, pre_ords)
                Xp = pd.DataFrame({"const": 1.0, "treated": D[pre_mask]})
                for o in pre_ords[1:]:
                    Xp[f"period_{o}"] = (ords[pre_mask] == o).astype(float)
                tnum = np.searchsorted(uniq, ords[pre_mask]).astype(float)
                Xp["treated_x_trend"] = D[pre_mask] * tnum
                g_pre = None if groups is None else pd.factorize(groups[pre_mask])[0]
                a_pre = None if absorb is None else pd.factorize(absorb[pre_mask])[0]
                _, pp, cp, crit_p, df_p = _fit(y[pre_mask], Xp, family,
                                               None if offset is None else offset[pre_mask],
                                               g_pre, confidence, a_pre)
                bt, st = float(pp["treated_x_trend"]), float(math.sqrt(cp.loc["treated_x_trend",
                                                                               "treated_x_trend"]))
                lt, ht = bt - crit_p * st, bt + crit_p * st
                rows.append({
                    "effect": "pre_trend_difference",
                    "estimate": math.exp(bt) if ratio else bt,
                    "lower": math.exp(lt) if ratio else lt,
                    "upper": math.exp(ht) if ratio else ht,
                    "p_value": _p(bt / st, df_p), "confidence": confidence,
                    "method": "pre-period data only: treated x linear time, " + se_type,
                    "scale": "rate ratio per period" if ratio else "difference in slope per period",
                    "se": st,
                })

    # ---- descriptive cell means ------------------------------------------- #
    rate = y / np.exp(offset) if offset is not None else y
    cell = pd.DataFrame({"treated": D.astype(int), "post": P.astype(int), "value": rate})
    cell_means = cell.groupby(["treated", "post"])["value"].agg(["mean", "count"])

    warn_list = []
    n_clusters = None if groups is None else int(len(np.unique(groups)))
    if n_dropped:
        warn_list.append(f"Note: {n_dropped} row(s) with a missing outcome were dropped.")
    if n_uninformative:
        warn_list.append(f"Note: {n_uninformative} unit(s) carrying no information under unit "
                         "fixed effects (one period only" + (", or no events" if family == "poisson"
                                                             else "") + ") were dropped.")
    if groups is None:
        warn_list.append("Caution: no unit or cluster column was given, so repeated observations of "
                         "the same place are treated as independent; standard errors are likely "
                         "too small.")
    elif n_clusters is not None and n_clusters < 30:
        warn_list.append(f"Caution: only {n_clusters} clusters; cluster-robust standard errors are "
                         "unreliable (too small) with fewer than about 30-50 clusters. Consider a "
                         "wild cluster bootstrap or a permutation test.")
    if staggered:
        warn_list.append("Caution: `post` is not the same for all units in a period (staggered "
                         "start). The two-way fixed-effects estimate can be biased when effects vary "
                         "over time (Goodman-Bacon 2021); no event study was fitted.")
    if family == "poisson":
        mu = np.asarray(res.mu)
        disp = float(np.sum((y - mu) ** 2 / mu) / max(len(y) - X.shape[1], 1))
        if disp > 1.5:
            warn_list.append(f"Note: the counts are over-dispersed (Pearson dispersion {disp:.2f}); "
                             "the robust standard errors allow for this.")

    return DiDResult(
        table=make_table(rows, extra=["se"]), cell_means=cell_means, event_study=event_study,
        pretrend=pretrend, n_clusters=n_clusters, n_obs=int(len(y)), model=res,
        outcome=outcome, family=family, exposure=exposure, time=time,
        confidence=confidence, warnings=warn_list,
    )
