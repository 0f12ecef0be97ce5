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

Inference for the main estimate (default ``inference="wild_bootstrap"``): when
clusters are usable, the p-value and interval come from a wild cluster restricted
score bootstrap (Kline & Santos 2012; Webb six-point weights, 999 draws, fixed seed;
the interval by inverting the test, Roodman et al. 2019; see ``_wildboot.py``). With
5 treated of 20 areas, 60 months of over-dispersed (variance 1.5-3x the mean),
autocorrelated (AR 0.3-0.5) monthly counts of mean 50 or 200 it rejected 4-7% of null
panels and its 95% interval covered 92-98% of planted effects (200 replicates per cell,
each within two Monte Carlo SEs of the 3-7% / 93-97% target; ``benchmarks/calib_models.py``).
With 8 small treated places of very different sizes and only 6 months after the start
it rejected about 8% (tests). With fewer than 4
treated (or comparison) clusters no cluster-based method holds its level; a warning
says so. ``se`` is the CR1 standard error below (kept for comparison and for
``inference="cluster"``, the method before issue 10).

Standard errors are cluster-robust (Liang & Zeger 1986), clustered by ``cluster``
or else by ``unit``, with the CR1 small-sample factor G/(G-1)*(N-1)/(N-K), and
(with ``inference="cluster"``, and for the pre-trend checks) intervals and p-values
from the t distribution (for both families). Its degrees
of freedom are Stata's G - 1 when every cluster holds both treated and comparison
rows; when the groups lie in separate clusters (g_t treated, g_c comparison) the
variance is estimated mostly from the treated clusters, so the Welch-Satterthwaite
degrees of freedom of S_T/g_t + S_C/g_c are used instead (capped at G - 1): 38 for
20 + 20 clusters, 10 for 8 + 40. With few clusters the normal reference is too
liberal (Cameron & Miller 2015), and with few treated clusters so is t(G - 1): in
simulations of monthly Poisson counts for 8 treated and 40 comparison places with
no effect (tests), t(G - 1) = t(47) rejected about 9-10% of the time at the 5%
level, t(10) about 5%. With fewer than
``MIN_CLUSTERS`` (4) clusters, or when the treated or the comparison group lies in
a single cluster, cluster-robust errors cannot be estimated (the variance is
degenerate), so model-based standard errors are used instead, with a warning:
classical OLS, or quasi-Poisson (Pearson dispersion, floored at 1). The ``method``
column says which was used. With neither ``cluster`` nor ``unit``,
heteroskedasticity-robust errors (HC1 for OLS, HC0 sandwich for Poisson).
Cluster-robust inference remains approximate when few clusters are treated
(MacKinnon & Webb 2017); a warning says so.

When ``time`` is given and every unit starts at the same time, an event study
(treated x period interactions, reference = last pre-intervention period) and two
pre-trend checks are added:

* ``pre_trend_difference`` (the primary check, 1 df): the difference in linear
  pre-period trends, i.e. the treated x linear-time interaction in a model of the
  pre-period data only, with the same standard errors as the main estimate. It
  keeps close to its nominal size with few treated clusters and has most power
  against the usual violation, groups drifting apart steadily.
* ``pretrend`` (joint test that all q pre-period event-study coefficients are
  zero). With monthly data q is large (e.g. 38) and a cluster-robust covariance of
  q coefficients estimated from few treated clusters is (nearly) singular, so its
  Wald statistic explodes under the null. The cluster-robust covariance, with
  F = W / q on (q, g - 1) df as Stata (g - 1 = the t degrees of freedom above, g
  the effective number of clusters), is used only when g >= max(q + 10, 5q), so
  that the covariance is well estimated (the Hotelling factor (g - q)/(g - 1) that
  this F leaves out is then at least about 0.8); otherwise the model-based
  covariance (classical OLS or quasi-Poisson) with F = W / q on (q, residual df),
  and a note in ``warnings``.
  ``pretrend["covariance"]`` says which was used. The model-based version allows
  for unit levels (with ``unit_effects=False`` and a ``unit`` column the event
  study is refitted with unit fixed effects for it; otherwise level differences
  inflate the dispersion and make the test very conservative) but assumes no
  extra correlation within a place over time.

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
MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly
different cluster sizes. *Journal of Applied Econometrics* 32:233-254.
Kline, P. & Santos, A. (2012). A score based approach to wild bootstrap inference.
*Journal of Econometric Methods* 1:23-41.
Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild:
bootstrap inference in Stata using boottest. *The Stata Journal* 19:4-60.
Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment
timing. *Journal of Econometrics* 225:254-277.
Wooldridge, J. M. (2023). Simple approaches to nonlinear difference-in-differences
with panel data. *The Econometrics Journal* 26:C31-C66.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ._wildboot import DEFAULT_REPS, DEFAULT_SEED, ScoreBootstrap
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
DID_INFERENCE = ("wild_bootstrap", "cluster")
#: With fewer treated (or comparison) clusters than this, no cluster-based interval,
#: the wild bootstrap included, can be relied on to hold its level (MacKinnon & Webb
#: 2017: the restricted wild bootstrap then becomes very cautious, the others liberal).
MIN_CALIBRATED_CLUSTERS_PER_GROUP = 4


#: Fewer clusters than this (or a treated or comparison group that lies in a single
#: cluster): cluster-robust standard errors cannot be estimated reliably, so
#: model-based ones are used instead (with a warning).
MIN_CLUSTERS = 4
MIN_CLUSTERS_PER_GROUP = 2
#: The joint pre-trend test uses the cluster-robust covariance only when the
#: effective number of clusters is at least max(q + 10, 5q) for q restrictions;
#: otherwise that covariance is (nearly) singular or poorly estimated and the Wald
#: statistic explodes, so the model-based covariance is used.
JOINT_MIN_EXTRA_CLUSTERS = 10
JOINT_CLUSTERS_PER_RESTRICTION = 5


class _Fit:
    """One fitted model with the covariance used for inference.

    ``kind`` is ``"cluster"`` (CR1 cluster-robust, t with G - 1 df), ``"model"``
    (model-based: classical OLS or quasi-Poisson with Pearson dispersion floored
    at 1, t with the residual df) or ``"hc"`` (heteroskedasticity-robust, no
    clusters given). ``model_cov``/``model_df`` are always available.
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)


def _crit(confidence, df):
    return float(stats.t.ppf(0.5 + confidence / 2, df) if df is not None
                 else stats.norm.ppf(0.5 + confidence / 2))


def _cluster_counts(groups, treat):
    """(G, clusters holding treated rows, clusters holding comparison rows)."""
    g = np.asarray(groups)
    t = np.asarray(treat) == 1
    return int(len(np.unique(g))), int(len(np.unique(g[t]))), int(len(np.unique(g[~t])))


def _cluster_df(G, g_t, g_c):
    """Degrees of freedom for cluster-robust t inference on a treated-vs-comparison contrast.

    The CR1 variance of a difference-in-differences is roughly S_T/g_t + S_C/g_c with
    S_T estimated from the g_t clusters holding treated rows (g_t - 1 df) and S_C
    from the g_c holding comparison rows; the Welch-Satterthwaite approximation
    (equal per-cluster variances) gives its degrees of freedom, capped at G - 1 (as
    Stata). Balanced 20 + 20 clusters: 38; 8 treated + 40 comparison: 10.0;
    2 + 40: 1.1; every cluster holding both groups: G - 1.
    """
    a, b = 1.0 / g_t, 1.0 / g_c
    welch = (a + b) ** 2 / (a * a / (g_t - 1) + b * b / (g_c - 1))
    return float(min(G - 1, welch))


def _fit(y, X, family, offset, groups, confidence, absorb=None, treat=None, check=(),
         cluster_name=None):
    """Fit OLS/Poisson and choose the covariance for inference.

    ``absorb`` (integer unit codes) adds unit fixed effects: for OLS by the within
    (demeaning) transformation, so the cluster small-sample factor counts only the
    non-absorbed coefficients (as Stata ``xtreg, fe vce(cluster)``); for Poisson by
    unit dummies (the Poisson fixed-effects estimator has no incidental-parameter
    bias). ``const`` and ``treated`` are then dropped (absorbed).

    With ``groups``: CR1 cluster-robust covariance (statsmodels ``cov_type="cluster"``,
    ``use_correction=True``: factor G/(G-1)*(N-1)/(N-K)) and a t reference
    distribution with :func:`_cluster_df` degrees of freedom - unless there are fewer than ``MIN_CLUSTERS``
    clusters, the treated (``treat == 1``) or comparison rows lie in fewer than
    ``MIN_CLUSTERS_PER_GROUP`` clusters, or the cluster-robust variance of a
    coefficient in ``check`` is not positive; then the model-based covariance is
    used and ``note`` says why. Without ``groups``: HC1 (OLS) / HC0 (Poisson).

    Steps: :func:`_absorb_units` (design), :func:`_usable_clusters` (which covariance),
    :func:`_fit_model` (fit), :func:`_model_covariance` and :func:`_inference_covariance`
    (result assembly).
    """
    X, y, n_absorbed = _absorb_units(X, y, absorb, family)
    kind, note, counts3 = _usable_clusters(groups, treat, len(y), cluster_name)
    res = _fit_model(y, X, family, offset, groups, kind, implicit_constant=absorb is not None)
    model_cov, model_df, model_label = _model_covariance(res, family, n_absorbed)
    kind, note, cov, df, label = _inference_covariance(
        res, kind, note, counts3, treat is not None, check, family, cluster_name,
        (model_cov, model_df, model_label))
    return _Fit(res=res, params=res.params, cov=cov, crit=_crit(confidence, df), df=df, kind=kind,
                label=label, note=note, model_cov=model_cov, model_df=model_df,
                counts=counts3)


def _inference_covariance(res, kind, note, counts3, has_treat, check, family, cluster_name, model):
    """The covariance used for inference: ``(kind, note, cov, df, label)``.

    The cluster-robust one (t with :func:`_cluster_df` degrees of freedom, or G - 1 without
    a treatment indicator) unless a coefficient in ``check`` has a non-positive variance,
    then the model-based one (``model`` = (cov, residual df, label)); HC without clusters.
    """
    names = list(res.params.index)
    cov = pd.DataFrame(np.asarray(res.cov_params()), index=names, columns=names)
    if kind == "cluster":
        diag = np.array([cov.loc[c, c] for c in check if c in cov.index], dtype=float)
        if diag.size and (not np.all(np.isfinite(diag)) or np.any(diag <= 0)):
            kind = "model"
            note = (f"the cluster-robust variance by {cluster_name!r} is degenerate (not positive), "
                    "typically because too few clusters vary in treatment")
    if kind == "cluster":
        G, g_t, g_c = counts3
        df = _cluster_df(G, g_t, g_c) if has_treat else float(G - 1)
        label = (f"CR1 cluster-robust SE by {cluster_name!r} ({G} clusters, {g_t} with treated "
                 f"rows), t distribution with {df:.1f} df")
    elif kind == "model":
        cov, df = model[0], model[1]
        label = model[2] + ", t distribution with " + f"{df:.0f} df"
    else:
        df = float(res.df_resid) if family == "gaussian" else None
        label = "HC1 robust SE" if family == "gaussian" else "robust (sandwich) SE"
    return kind, note, cov, df, label


def _absorb_units(X, y, absorb, family):
    """Design step of :func:`_fit`: unit fixed effects, by demeaning (OLS) or dummies (Poisson).

    Returns ``(X, y, n_absorbed)``; ``n_absorbed`` (units demeaned away) counts against
    the OLS residual degrees of freedom.
    """
    if absorb is None:
        return X, y, 0
    X = X.drop(columns=[c for c in ("const", "treated") if c in X.columns])
    if family == "gaussian":
        counts = np.bincount(absorb)

        def demean(v):
            return v - (np.bincount(absorb, weights=v) / counts)[absorb]
        y = demean(np.asarray(y, dtype=float))
        X = X.apply(lambda col: demean(col.to_numpy(dtype=float)))
        X = X.loc[:, (X.abs() > 1e-12).any(axis=0)]
        return X, y, int((counts > 0).sum())
    dummies = pd.get_dummies(absorb, prefix="unit", dtype=float)
    dummies.index = X.index
    return pd.concat([X, dummies], axis=1), y, 0


def _usable_clusters(groups, treat, n, cluster_name):
    """Which covariance :func:`_fit` can use: ``(kind, note, (G, g_t, g_c) or None)``.

    ``"hc"`` without clusters; ``"cluster"`` when there are at least ``MIN_CLUSTERS``
    clusters and each group lies in at least ``MIN_CLUSTERS_PER_GROUP``; else ``"model"``
    with a note saying why.
    """
    if groups is None:
        return "hc", None, None
    counts3 = _cluster_counts(groups, treat if treat is not None else np.zeros(n))
    G, g_t, g_c = counts3
    if treat is None:
        g_t = g_c = G
    if G < MIN_CLUSTERS:
        return "model", (f"only {G} cluster(s) in `cluster` column {cluster_name!r}; cluster-robust "
                         f"standard errors need at least {MIN_CLUSTERS}"), counts3
    if min(g_t, g_c) < MIN_CLUSTERS_PER_GROUP:
        return "model", (f"the {'treated' if g_t < g_c else 'comparison'} group lies in a single "
                         f"cluster of `cluster` column {cluster_name!r}, so cluster-robust standard "
                         "errors cannot measure its variability"), counts3
    return "cluster", None, counts3


def _fit_model(y, X, family, offset, groups, kind, implicit_constant=False):
    """Fit step of :func:`_fit`: statsmodels OLS or Poisson GLM with the chosen covariance."""
    if family == "gaussian":
        model = sm.OLS(y, X)
    else:
        # with unit dummies for every unit the design holds a constant (they sum to one),
        # which statsmodels would otherwise find by two rank computations (SVDs) of X
        model = sm.GLM(y, X, family=sm.families.Poisson(),
                       offset=np.zeros(len(y)) if offset is None else offset,
                       **({"hasconst": True} if implicit_constant else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "cluster":
            return model.fit(cov_type="cluster",
                             cov_kwds={"groups": np.asarray(groups), "use_correction": True,
                                       "df_correction": True})
        if kind == "hc":
            return model.fit(cov_type="HC1" if family == "gaussian" else "HC0")
        return model.fit()


def _model_covariance(res, family, n_absorbed):
    """Model-based covariance of a fit: ``(cov, residual df, label)``.

    Classical OLS (residual df net of the absorbed units), or quasi-Poisson with the
    Pearson dispersion floored at 1.
    """
    names = list(res.params.index)
    ncp = pd.DataFrame(np.asarray(res.normalized_cov_params), index=names, columns=names)
    if family == "gaussian":
        model_df = max(float(res.df_resid) - n_absorbed, 1.0)
        scale = float(np.sum(np.asarray(res.resid) ** 2)) / model_df
        model_label = "model-based SE (classical OLS)"
    else:
        model_df = max(float(res.df_resid), 1.0)
        scale = max(1.0, float(res.pearson_chi2) / model_df)
        model_label = f"model-based SE (quasi-Poisson, dispersion {scale:.2f})"
    return ncp * scale, model_df, model_label


def _bootstrap(fit: _Fit, groups, reps, seed) -> ScoreBootstrap:
    """The wild cluster score bootstrap for ``did`` on the design actually fitted."""
    model = fit.res.model
    names = list(fit.params.index)
    X = np.asarray(model.exog, dtype=float)
    j = names.index("did")
    keep = [i for i in range(len(names)) if i != j]
    offset = getattr(model, "offset", None)
    family = "poisson" if isinstance(model, sm.GLM) else "gaussian"
    return ScoreBootstrap(np.asarray(model.endog, dtype=float), X[:, keep], X[:, j],
                          pd.factorize(np.asarray(groups))[0], family, offset=offset,
                          start=np.asarray(fit.params, dtype=float)[keep], reps=reps, seed=seed)


def _p(z, df):
    if not np.isfinite(z):
        return float("nan")
    return float(2 * (stats.t.sf(abs(z), df) if df is not None else stats.norm.sf(abs(z))))


def _se(cov, name):
    v = float(cov.loc[name, name])
    return math.sqrt(v) if np.isfinite(v) and v > 0 else float("nan")


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
        Joint test that the pre-period event-study coefficients are zero:
        ``statistic``, ``df`` (q, the number of pre-period coefficients),
        ``df_denom``, ``p_value``, ``test``, ``covariance`` (which covariance was
        used: cluster-robust only with enough clusters, else model-based), and
        ``linear``: the 1-df linear differential pre-trend check (``estimate`` on
        the link scale, ``statistic``, ``df``, ``df_denom``, ``p_value``, ``test``,
        ``covariance``), the same as table row ``pre_trend_difference``.
    n_clusters : int or None
    n_treated_clusters : int or None
        Clusters containing treated rows.
    se_method : str
        The standard errors used for the main estimate (also in ``method``).
    df : float or None
        Degrees of freedom of the t reference distribution of the main estimate
        (None: normal reference).
    inference : str
        How the ``did`` p-value and interval were found: ``"wild_bootstrap"``,
        ``"cluster"`` (CR1, t), ``"model"`` (model-based fallback) or ``"hc"``.
    p_value_cluster : float
        The CR1 (t reference) p-value of the main estimate, for comparison.
    se_model : float
        Model-based standard error of the main estimate (link scale: classical OLS,
        or quasi-Poisson with Pearson dispersion floored at 1), whichever
        covariance was used for ``se``.
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
            lin = pt.get("linear")
            lin_p = lin["p_value"] if lin is not None else float("nan")
            if lin is not None:
                lines.append(f"Pre-trend check (primary, 1 df): difference in linear pre-intervention "
                             f"trends, {fmt_p(lin_p)} ({lin['covariance']}).")
            lines.append(f"Joint pre-trend check ({pt['test']} that all {pt['df']} pre-period "
                         f"coefficient(s) are zero, {pt['covariance']} covariance): "
                         f"{fmt_p(pt['p_value'])}.")
            if lin_p < 0.05:
                verdict = ("Evidence that the groups were already diverging before the start, which "
                           "undermines the parallel-trends assumption.")
            elif pt["p_value"] < 0.05:
                verdict = ("No clear steady divergence, but the pre-period differences jointly depart "
                           "from zero (irregular pre-intervention differences); look at the event "
                           "study before relying on the estimate.")
            else:
                verdict = "No evidence against parallel pre-intervention trends."
            lines.append(verdict + " A non-significant test does not prove parallel trends, "
                         "especially with few periods.")
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
    data: pd.DataFrame, outcome: str, treated: str, post: str, unit: str | None = None,
    cluster: str | None = None, *, time: str | None = None, family: str = "gaussian",
    exposure: str | None = None, unit_effects: bool = False, confidence: float = 0.95,
    inference: str = "wild_bootstrap", bootstrap_reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED,
    event_study: bool = True,
) -> DiDResult:
    """Estimate a difference-in-differences effect with cluster-robust errors.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per unit (or group) and period.
    outcome : str
        Outcome column (counts for ``family="poisson"``). Rows with a missing outcome are dropped.
    treated, post : str
        0/1 columns: 1 for the treated group; 1 for periods after the intervention started.
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
        Add unit fixed effects (needs ``unit``). More precise when units differ a lot in level;
        units seen in only one period (and, for Poisson, units with no events) then carry no
        information and are dropped.
    confidence : float
        Confidence level (default 0.95).
    inference : {"wild_bootstrap", "cluster"}
        How the p-value and interval of the ``did`` row are found when clusters are usable
        (``cluster``/``unit`` given, at least ``MIN_CLUSTERS`` clusters and two in each
        group). ``"wild_bootstrap"`` (default): wild cluster restricted score bootstrap
        (Kline & Santos 2012; Webb weights; the interval by test inversion, Roodman et al.
        2019; its calibration is in the module docstring); with fewer than
        ``MIN_CALIBRATED_CLUSTERS_PER_GROUP`` (4) treated or comparison clusters a warning
        says no cluster-based method is reliable. ``"cluster"``: the CR1 standard error with
        a t reference (the method before issue 10). Without usable clusters both fall back
        as the module docstring says. ``se`` is always the CR1 (or fallback) standard error.
    bootstrap_reps, seed : int
        Bootstrap draws (default 999) and the seed of their weights (fixed: reproducible).
    event_study : bool
        Fit the event study and pre-trend checks when ``time`` is given (default True).

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
    # steps: validation, data and design, main fit (+ bootstrap), event study, result assembly
    confidence = _check_arguments(data, outcome, treated, post, unit, cluster, time, family,
                                  exposure, unit_effects, confidence, inference, bootstrap_reps,
                                  event_study)
    pnl = _prepare_panel(data, outcome, treated, post, unit, cluster, family, exposure, unit_effects)
    design = _main_design(pnl, time)
    fit_kw = dict(family=family, confidence=confidence, cluster_name=pnl.cluster_col)
    main = _estimate_did(pnl, design, fit_kw, inference, bootstrap_reps, seed)
    es = (_event_study(pnl, design, fit_kw, unit, unit_effects, confidence)
          if time is not None and design.common_start and event_study else _EventStudy())
    return _assemble(pnl, design, main, es, outcome=outcome, family=family, exposure=exposure,
                     time=time, unit_effects=unit_effects, confidence=confidence)


def _assemble(pnl, design, main, es, *, outcome, family, exposure, time, unit_effects,
              confidence) -> DiDResult:
    """Result assembly: the table (``did`` row, then the linear pre-trend row), the event
    study, the cell means and the warnings."""
    rows = [_did_row(main, family, unit_effects, time, pnl.cluster_col, confidence)] + es.rows
    return DiDResult(
        table=make_table(rows, extra=["se"]), cell_means=_cell_means(pnl), event_study=es.table,
        pretrend=es.pretrend, n_clusters=pnl.n_clusters, n_treated_clusters=pnl.n_treated_clusters,
        se_method=main.fit.label, n_obs=int(len(pnl.y)), model=main.fit.res, df=main.fit.df,
        se_model=_se(main.fit.model_cov, "did"),
        inference="wild_bootstrap" if main.boot is not None else main.fit.kind,
        p_value_cluster=main.p_cluster, outcome=outcome, family=family, exposure=exposure,
        time=time, confidence=confidence,
        warnings=_warnings(pnl, design, main, [main.fit] + es.fits, es.joint_note, family),
    )


@dataclass
class _Panel:
    """The rows a DiD call models, as arrays: outcome, indicators, offset, clusters, units."""

    df: pd.DataFrame
    y: np.ndarray
    D: np.ndarray
    P: np.ndarray
    offset: np.ndarray | None
    groups: np.ndarray | None
    absorb: np.ndarray | None
    cluster_col: str | None
    n_dropped: int
    n_uninformative: int

    @property
    def n_clusters(self) -> int | None:
        return None if self.groups is None else int(len(np.unique(self.groups)))

    @property
    def n_treated_clusters(self) -> int | None:
        return None if self.groups is None else int(len(np.unique(self.groups[self.D == 1])))


@dataclass
class _Design:
    """The main model's design: ``X`` and the time axis (``None`` without ``time``)."""

    X: pd.DataFrame
    axis: TimeAxis | None = None
    ords: np.ndarray | None = None
    common_start: bool = False
    staggered: bool = False
    period_cols: dict = field(default_factory=dict)


@dataclass
class _MainEstimate:
    """The ``did`` coefficient (link scale), its interval and p-value, and the fit behind them."""

    fit: _Fit
    estimate: float
    se: float
    lower: float
    upper: float
    p_value: float
    p_cluster: float
    boot: ScoreBootstrap | None


@dataclass
class _EventStudy:
    """Event study, pre-trend tests, the table row of the linear pre-trend and the fits used."""

    table: pd.DataFrame | None = None
    pretrend: dict | None = None
    joint_note: str | None = None
    rows: list = field(default_factory=list)
    fits: list = field(default_factory=list)


def _check_arguments(data, outcome, treated, post, unit, cluster, time, family, exposure,
                     unit_effects, confidence, inference, bootstrap_reps, event_study) -> float:
    """Validation step: the arguments (not yet the values); returns the checked confidence."""
    data = check_dataframe(data)
    for arg, col in (("outcome", outcome), ("treated", treated), ("post", post)):
        check_column(data, col, arg)
    if family not in DID_FAMILIES:
        raise ValueError(f"`family` must be one of {DID_FAMILIES}, got {family!r}")
    confidence = check_confidence(confidence)
    if inference not in DID_INFERENCE:
        raise ValueError(f"`inference` must be one of {DID_INFERENCE}, got {inference!r}")
    if isinstance(bootstrap_reps, bool) or not isinstance(bootstrap_reps, (int, np.integer)) \
            or bootstrap_reps < 99:
        raise ValueError(f"`bootstrap_reps` must be an integer >= 99, got {bootstrap_reps!r}")
    if not isinstance(event_study, (bool, np.bool_)):
        raise ValueError(f"`event_study` must be True or False, got {event_study!r}")
    if exposure is not None and family != "poisson":
        raise ValueError("`exposure` (a log offset) is only used with family='poisson'")
    for arg, col in (("unit", unit), ("cluster", cluster), ("time", time), ("exposure", exposure)):
        if col is not None:
            check_column(data, col, arg)
    if not isinstance(unit_effects, (bool, np.bool_)):
        raise ValueError(f"`unit_effects` must be True or False, got {unit_effects!r}")
    if unit_effects and unit is None:
        raise ValueError("`unit_effects=True` needs the `unit` column")
    return confidence


def _prepare_panel(data, outcome, treated, post, unit, cluster, family, exposure,
                   unit_effects) -> _Panel:
    """Validation of the values, and the rows that are modelled (missing outcomes and, with
    unit effects, uninformative units dropped)."""
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
    return _Panel(df=df, y=y, D=D, P=P, offset=offset, groups=groups, absorb=absorb,
                  cluster_col=cluster_col, n_dropped=n_dropped, n_uninformative=n_uninformative)


def _main_design(pnl: _Panel, time) -> _Design:
    """Design step: const, treated, period dummies (or ``post`` without a common start or
    without ``time``) and the ``did`` interaction."""
    X = pd.DataFrame({"const": 1.0, "treated": pnl.D}, index=pnl.df.index)
    design = _Design(X=X)
    if time is not None:
        axis, ords, _ = TimeAxis.from_values(pnl.df[time], "time")
        post_by_time = pd.Series(pnl.P).groupby(ords).nunique()
        common_start = bool((post_by_time == 1).all())
        uniq = np.unique(ords)
        period_cols = {f"period_{o}": (ords == o).astype(float) for o in uniq[1:]}
        X = pd.concat([X, pd.DataFrame(period_cols, index=pnl.df.index)], axis=1)
        if not common_start:
            X["post"] = pnl.P
        design = _Design(X=X, axis=axis, ords=ords, common_start=common_start,
                         staggered=not common_start, period_cols=period_cols)
    else:
        X["post"] = pnl.P
    X["did"] = pnl.D * pnl.P
    return design


def _estimate_did(pnl: _Panel, design: _Design, fit_kw, inference, reps, seed) -> _MainEstimate:
    """Fit step: the main model, then (default) the wild bootstrap p-value and interval."""
    fm = _fit(pnl.y, design.X, offset=pnl.offset, groups=pnl.groups, absorb=pnl.absorb,
              treat=pnl.D, check=("did",), **fit_kw)
    b, s = float(fm.params["did"]), _se(fm.cov, "did")
    lo, hi = b - fm.crit * s, b + fm.crit * s
    p_main = p_cluster = _p(b / s, fm.df)
    boot = None
    if inference == "wild_bootstrap" and fm.kind == "cluster" and np.isfinite(s):
        boot = _bootstrap(fm, pnl.groups, reps, seed)
        p_main = boot.p_value(0.0)  # the null: no effect (0 on the link scale)
        lo, hi = boot.interval(b, s, fit_kw["confidence"], fm.crit)
    return _MainEstimate(fit=fm, estimate=b, se=s, lower=lo, upper=hi, p_value=p_main,
                         p_cluster=p_cluster, boot=boot)


def _did_row(main: _MainEstimate, family, unit_effects, time, cluster_col, confidence) -> dict:
    """Result assembly: the ``did`` table row (ratio scale for Poisson) and its method text."""
    ratio = family == "poisson"
    fm, boot = main.fit, main.boot
    fe = [n for n, flag in (("unit", unit_effects), ("period", time is not None)) if flag]
    model = ("OLS" if family == "gaussian" else "Poisson GLM") + \
        (f" with {' and '.join(fe)} fixed effects" if fe else "")
    method = model + f", {fm.label}"
    if boot is not None:
        G, g_t, _ = fm.counts
        method = (model + f"; p-value and interval by wild cluster restricted score bootstrap by "
                          f"{cluster_col!r} ({G} clusters, {g_t} with treated rows; Webb weights, "
                          f"{boot.reps} draws; Kline & Santos 2012); se: CR1 cluster-robust")
    b, lo, hi = main.estimate, main.lower, main.upper
    return {
        "effect": "did",
        "estimate": math.exp(b) if ratio else b,
        "lower": math.exp(lo) if ratio else lo,
        "upper": math.exp(hi) if ratio else hi,
        "p_value": main.p_value, "confidence": confidence, "method": method,
        "scale": "ratio of rate ratios" if ratio else "difference", "se": main.se,
    }


def _event_study(pnl: _Panel, design: _Design, fit_kw, unit, unit_effects,
                 confidence) -> _EventStudy:
    """Event study (treated x period, reference = last pre period) and the pre-trend checks.

    Empty without at least one period either side of the start.
    """
    ords, D, y, family = design.ords, pnl.D, pnl.y, fit_kw["family"]
    uniq = np.unique(ords)
    post_ords = uniq[pd.Series(pnl.P).groupby(ords).first().reindex(uniq).to_numpy() == 1]
    pre_ords = uniq[~np.isin(uniq, post_ords)]
    if not (len(pre_ords) >= 1 and len(post_ords) >= 1):
        return _EventStudy()
    first_post = post_ords.min()
    ref = pre_ords.max()
    rel = {o: int(np.searchsorted(uniq, o) - np.searchsorted(uniq, first_post)) for o in uniq}
    es_terms = [(o, f"treated_x_{o}") for o in uniq if o != ref]
    Xe = pd.concat([
        pd.DataFrame({"const": 1.0, "treated": D}, index=pnl.df.index),
        pd.DataFrame(design.period_cols, index=pnl.df.index),
        pd.DataFrame({name: D * (ords == o) for o, name in es_terms}, index=pnl.df.index),
    ], axis=1)
    fe_ = _fit(y, Xe, offset=pnl.offset, groups=pnl.groups, absorb=pnl.absorb, treat=D,
               check=[name for _, name in es_terms], **fit_kw)
    out = _EventStudy(fits=[fe_])
    pe = fe_.params
    es_rows = [{"time": design.axis.label(ref), "relative_time": rel[ref], "estimate": 0.0,
                "lower": 0.0, "upper": 0.0, "p_value": float("nan"), "se": 0.0}]
    for o, name in es_terms:
        bb, ss = float(pe[name]), _se(fe_.cov, name)
        es_rows.append({"time": design.axis.label(o), "relative_time": rel[o], "estimate": bb,
                        "lower": bb - fe_.crit * ss, "upper": bb + fe_.crit * ss,
                        "p_value": _p(bb / ss, fe_.df), "se": ss})
    out.table = pd.DataFrame(es_rows).sort_values("relative_time").reset_index(drop=True)
    if family == "poisson":
        for c in ("estimate", "lower", "upper"):
            out.table[c] = np.exp(out.table[c])
    leads = [name for o, name in es_terms if o < ref]
    if leads:
        refit = None
        if unit is not None and not unit_effects:
            def refit():
                return _refit_with_unit_effects(pnl, Xe, unit, fit_kw)
        out.pretrend, out.joint_note = _joint_pretrend(fe_, leads, family, pnl.cluster_col, refit)
        row, linear, fp = _linear_pretrend(pnl, design, uniq, pre_ords, fit_kw, confidence)
        out.fits.append(fp)
        out.rows.append(row)
        out.pretrend["linear"] = linear
    return out


def _refit_with_unit_effects(pnl: _Panel, Xe, unit, fit_kw) -> _Fit:
    """The event-study model refitted with unit fixed effects, for the model-based joint test.

    It allows for unit levels (else the dispersion absorbs level differences and the test is
    very conservative); the leads are the same in a balanced panel.
    """
    y, family = pnl.y, fit_kw["family"]
    codes = pd.factorize(pnl.df[unit])[0]
    inf = pd.Series(y).groupby(codes).transform("size").to_numpy() > 1
    if family == "poisson":
        inf &= pd.Series(y).groupby(codes).transform("sum").to_numpy() > 0
    return _fit(y[inf], Xe.loc[inf].reset_index(drop=True),
                offset=None if pnl.offset is None else pnl.offset[inf], groups=None,
                absorb=pd.factorize(codes[inf])[0], treat=pnl.D[inf], **fit_kw)


def _linear_pretrend(pnl: _Panel, design: _Design, uniq, pre_ords, fit_kw, confidence):
    """Linear differential pre-trend (pre-period data only, 1 df): ``(table row, pretrend
    "linear" entry, fit)``."""
    ords, D, ratio = design.ords, pnl.D, fit_kw["family"] == "poisson"
    pre_mask = np.isin(ords, pre_ords)
    tnum = np.searchsorted(uniq, ords[pre_mask]).astype(float)
    Xp = pd.concat([
        pd.DataFrame({"const": 1.0, "treated": D[pre_mask]}),
        pd.DataFrame({f"period_{o}": (ords[pre_mask] == o).astype(float) for o in pre_ords[1:]}),
        pd.DataFrame({"treated_x_trend": D[pre_mask] * tnum}),
    ], axis=1)
    g_pre = None if pnl.groups is None else pd.factorize(pnl.groups[pre_mask])[0]
    a_pre = None if pnl.absorb is None else pd.factorize(pnl.absorb[pre_mask])[0]
    fp = _fit(pnl.y[pre_mask], Xp, offset=None if pnl.offset is None else pnl.offset[pre_mask],
              groups=g_pre, absorb=a_pre, treat=D[pre_mask], check=("treated_x_trend",), **fit_kw)
    bt, st = float(fp.params["treated_x_trend"]), _se(fp.cov, "treated_x_trend")
    lt, ht = bt - fp.crit * st, bt + fp.crit * st
    p_lin = _p(bt / st, fp.df)
    row = {
        "effect": "pre_trend_difference",
        "estimate": math.exp(bt) if ratio else bt,
        "lower": math.exp(lt) if ratio else lt,
        "upper": math.exp(ht) if ratio else ht,
        "p_value": p_lin, "confidence": confidence,
        "method": "pre-period data only: treated x linear time, " + fp.label,
        "scale": "rate ratio per period" if ratio else "difference in slope per period",
        "se": st,
    }
    linear = {
        "estimate": bt, "statistic": bt / st if st > 0 else float("nan"), "df": 1,
        "df_denom": fp.df, "p_value": p_lin,
        "test": ("t test" if fp.df is not None else "z test")
        + " of the treated x linear time interaction (pre-period data only)",
        "covariance": fp.label,
    }
    return row, linear, fp


def _cell_means(pnl: _Panel) -> pd.DataFrame:
    """Descriptive mean outcome (rate with an exposure) by group and period."""
    rate = pnl.y / np.exp(pnl.offset) if pnl.offset is not None else pnl.y
    cell = pd.DataFrame({"treated": pnl.D.astype(int), "post": pnl.P.astype(int), "value": rate})
    return cell.groupby(["treated", "post"])["value"].agg(["mean", "count"])


def _warnings(pnl: _Panel, design: _Design, main: _MainEstimate, fits, joint_note,
              family) -> list[str]:
    """Result assembly: the plain-English notes and cautions of a DiD result."""
    fm, boot, ratio = main.fit, main.boot, family == "poisson"
    n_clusters, n_treated_clusters = pnl.n_clusters, pnl.n_treated_clusters
    warn_list = []
    if pnl.n_dropped:
        warn_list.append(f"Note: {pnl.n_dropped} row(s) with a missing outcome were dropped.")
    if pnl.n_uninformative:
        warn_list.append(f"Note: {pnl.n_uninformative} unit(s) carrying no information under unit "
                         "fixed effects (one period only" + (", or no events" if family == "poisson"
                                                             else "") + ") were dropped.")
    fallback = [f.note for f in fits if f.kind == "model" and f.note]
    if pnl.groups is None:
        warn_list.append("Caution: no unit or cluster column was given, so repeated observations of "
                         "the same place are treated as independent; standard errors are likely "
                         "too small.")
    elif fallback:
        warn_list.append(
            f"Caution: {fallback[0]}. Model-based standard errors were used instead "
            + ("(quasi-Poisson, Pearson dispersion floored at 1)" if ratio else "(classical OLS)")
            + "; they assume observations are independent within a cluster once the fixed "
              "effects are allowed for, and are too small if counts are correlated over time "
              "within a place.")
    elif boot is None and n_clusters is not None and n_clusters < 30:
        warn_list.append(f"Caution: only {n_clusters} clusters; cluster-robust standard errors are "
                         "unreliable with fewer than about 30-50 clusters, even with the CR1 "
                         f"correction and the t({fm.df:.1f}) reference distribution used here. "
                         "Consider inference='wild_bootstrap' (the default).")
    if (boot is None and pnl.groups is not None and not fallback and n_treated_clusters is not None
            and n_treated_clusters < 10 and (n_clusters or 0) >= 30):
        warn_list.append(f"Caution: only {n_treated_clusters} clusters contain treated units; "
                         "cluster-robust inference is approximate when few clusters are treated "
                         "(MacKinnon & Webb 2017); the t reference distribution used here has "
                         f"{fm.df:.1f} degrees of freedom (not {n_clusters - 1}) to allow for "
                         "this.")
    if boot is not None and min(fm.counts[1], fm.counts[2]) < MIN_CALIBRATED_CLUSTERS_PER_GROUP:
        few = "treated" if fm.counts[1] <= fm.counts[2] else "comparison"
        warn_list.append(f"Caution: only {min(fm.counts[1], fm.counts[2])} clusters contain {few} "
                         "units. With so few, no cluster-based p-value or interval (the wild "
                         "cluster bootstrap used here included) can be relied on to hold its "
                         "stated level; the bootstrap then tends to be cautious (too wide an "
                         "interval, real effects missed; MacKinnon & Webb 2017).")
    if boot is not None and not (np.isfinite(main.lower) and np.isfinite(main.upper)):
        warn_list.append("Note: the wild bootstrap interval is unbounded on one side: the data "
                         "cannot rule out effects of any size in that direction.")
    if joint_note:
        warn_list.append(joint_note)
    if design.staggered:
        warn_list.append("Caution: `post` is not the same for all units in a period (staggered "
                         "start). The two-way fixed-effects estimate can be biased when effects vary "
                         "over time (Goodman-Bacon 2021); no event study was fitted.")
    if family == "poisson":
        mu = np.asarray(fm.res.mu)
        disp = float(np.sum((pnl.y - mu) ** 2 / mu) / max(len(pnl.y) - design.X.shape[1], 1))
        if disp > 1.5:
            warn_list.append(f"Note: the counts are over-dispersed (Pearson dispersion {disp:.2f}); "
                             "the robust standard errors allow for this.")
    return warn_list


def _joint_pretrend(fit: _Fit, leads: list[str], family: str, cluster_col,
                    refit=None) -> tuple[dict, str | None]:
    """Joint test that all pre-period event-study coefficients are zero.

    A cluster-robust covariance of q lead coefficients is estimated from the clusters'
    score sums; the treated group's part has rank below its cluster count, so with
    few treated clusters (e.g. 8 treated places, 38 monthly leads) it is (nearly)
    singular and the Wald statistic explodes under the null. It is therefore used
    only when the effective number of clusters ``g`` (the t degrees of freedom of
    :func:`_cluster_df` plus 1) is at least ``max(q + 10, 5q)``, with F = W / q on
    (q, g - 1) df as Stata's ``test``. Otherwise the model-based covariance
    (classical OLS, or quasi-Poisson with Pearson dispersion floored at 1) is used,
    with F = W / q on (q, residual df); ``refit`` (when given) returns the event-study
    model refitted with unit fixed effects, used for that model-based test. Without
    clusters the HC covariance is used as before (F test for OLS, chi-squared for
    Poisson).
    """
    q = len(leads)
    bvec = fit.params[leads].to_numpy(dtype=float)
    note = None

    def wald(V):
        V = np.asarray(V, dtype=float)
        try:
            return float(bvec @ np.linalg.solve(V, bvec))
        except np.linalg.LinAlgError:
            return float(bvec @ np.linalg.pinv(V) @ bvec)

    if fit.kind == "cluster":
        g = fit.df + 1.0  # effective number of clusters (Welch-Satterthwaite, <= G)
        if g >= max(q + JOINT_MIN_EXTRA_CLUSTERS, JOINT_CLUSTERS_PER_RESTRICTION * q):
            W = wald(fit.cov.loc[leads, leads])
            F = W / q
            return ({"statistic": F, "df": q, "df_denom": fit.df,
                     "p_value": float(stats.f.sf(F, q, fit.df)),
                     "test": "joint F test",
                     "covariance": f"CR1 cluster-robust by {cluster_col!r} ({g:.1f} effective "
                                   "clusters)"}, None)
        note = (f"Note: the joint pre-trend test used the model-based covariance, not the "
                f"cluster-robust one: with about {g:.0f} effective clusters (few treated "
                f"clusters) for {q} pre-period coefficients, the cluster-robust covariance "
                "is (nearly) singular and the test would reject far too often. The model-based "
                "version assumes no extra correlation over time within a place; the linear "
                "pre-trend check (1 df) is cluster-robust.")
    if fit.kind == "hc":
        W = wald(fit.cov.loc[leads, leads])
        if family == "gaussian":
            F = W / q
            return ({"statistic": F, "df": q, "df_denom": fit.df,
                     "p_value": float(stats.f.sf(F, q, fit.df)), "test": "joint F test",
                     "covariance": fit.label}, None)
        return ({"statistic": W, "df": q, "df_denom": None,
                 "p_value": float(stats.chi2.sf(W, q)), "test": "joint Wald chi-squared test",
                 "covariance": fit.label}, None)
    mf = fit
    if refit is not None:
        try:
            mf = refit()
            mf.params[leads], mf.model_cov.loc[leads, leads]
        except (ValueError, KeyError, np.linalg.LinAlgError):
            mf = fit
    bvec = mf.params[leads].to_numpy(dtype=float)
    W = wald(mf.model_cov.loc[leads, leads])
    F = W / q
    label = "model-based (" + ("classical OLS" if family == "gaussian" else "quasi-Poisson") + \
        (", with unit fixed effects)" if mf is not fit else ")")
    return ({"statistic": F, "df": q, "df_denom": mf.model_df,
             "p_value": float(stats.f.sf(F, q, mf.model_df)), "test": "joint F test",
             "covariance": label}, note)
