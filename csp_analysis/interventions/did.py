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
    """
    n_absorbed = 0
    if absorb is not None:
        X = X.drop(columns=[c for c in ("const", "treated") if c in X.columns])
        if family == "gaussian":
            counts = np.bincount(absorb)
            n_absorbed = int((counts > 0).sum())
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
        # with unit dummies for every unit the design holds a constant (they sum to one),
        # which statsmodels would otherwise find by two rank computations (SVDs) of X
        model = sm.GLM(y, X, family=sm.families.Poisson(),
                       offset=np.zeros(len(y)) if offset is None else offset,
                       **({"hasconst": True} if absorb is not None else {}))

    kind, note, counts3 = "hc", None, None
    if groups is not None:
        counts3 = _cluster_counts(groups, treat if treat is not None else np.zeros(len(y)))
        G, g_t, g_c = counts3
        if treat is None:
            g_t = g_c = G
        kind = "cluster"
        if G < MIN_CLUSTERS:
            kind = "model"
            note = (f"only {G} cluster(s) in `cluster` column {cluster_name!r}; cluster-robust "
                    f"standard errors need at least {MIN_CLUSTERS}")
        elif min(g_t, g_c) < MIN_CLUSTERS_PER_GROUP:
            kind = "model"
            note = (f"the {'treated' if g_t < g_c else 'comparison'} group lies in a single "
                    f"cluster of `cluster` column {cluster_name!r}, so cluster-robust standard "
                    "errors cannot measure its variability")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "cluster":
            res = model.fit(cov_type="cluster",
                            cov_kwds={"groups": np.asarray(groups), "use_correction": True,
                                      "df_correction": True})
        elif kind == "hc":
            res = model.fit(cov_type="HC1" if family == "gaussian" else "HC0")
        else:
            res = model.fit()
    params = res.params
    names = list(params.index)
    ncp = pd.DataFrame(np.asarray(res.normalized_cov_params), index=names, columns=names)
    if family == "gaussian":
        model_df = max(float(res.df_resid) - n_absorbed, 1.0)
        scale = float(np.sum(np.asarray(res.resid) ** 2)) / model_df
        model_label = "model-based SE (classical OLS)"
    else:
        model_df = max(float(res.df_resid), 1.0)
        scale = max(1.0, float(res.pearson_chi2) / model_df)
        model_label = f"model-based SE (quasi-Poisson, dispersion {scale:.2f})"
    model_cov = ncp * scale

    cov = pd.DataFrame(np.asarray(res.cov_params()), index=names, columns=names)
    if kind == "cluster":
        diag = np.array([cov.loc[c, c] for c in check if c in cov.index], dtype=float)
        if diag.size and (not np.all(np.isfinite(diag)) or np.any(diag <= 0)):
            kind = "model"
            note = (f"the cluster-robust variance by {cluster_name!r} is degenerate (not positive), "
                    "typically because too few clusters vary in treatment")
    if kind == "cluster":
        G, g_t, g_c = counts3
        df = _cluster_df(G, g_t, g_c) if treat is not None else float(G - 1)
        label = (f"CR1 cluster-robust SE by {cluster_name!r} ({G} clusters, {g_t} with treated "
                 f"rows), t distribution with {df:.1f} df")
    elif kind == "model":
        cov = model_cov
        df = model_df
        label = model_label + ", t distribution with " + f"{model_df:.0f} df"
    else:
        df = float(res.df_resid) if family == "gaussian" else None
        label = "HC1 robust SE" if family == "gaussian" else "robust (sandwich) SE"
    return _Fit(res=res, params=params, cov=cov, crit=_crit(confidence, df), df=df, kind=kind,
                label=label, note=note, model_cov=model_cov, model_df=model_df,
                counts=counts3)


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
    inference: str = "wild_bootstrap",
    bootstrap_reps: int = DEFAULT_REPS,
    seed: int = DEFAULT_SEED,
    event_study: bool = True,
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
    inference : {"wild_bootstrap", "cluster"}
        How the p-value and interval of the ``did`` row are found when clusters are
        usable (``cluster``/``unit`` given, at least ``MIN_CLUSTERS`` clusters and two
        in each group). ``"wild_bootstrap"`` (default): wild cluster restricted score
        bootstrap (Kline & Santos 2012; Webb weights; the interval by test inversion,
        Roodman et al. 2019), which holds its level with few treated clusters where
        CR1 may not: with 5 treated of 20 areas over 60 months of over-dispersed,
        autocorrelated counts it rejected 4-7% of null panels and covered 92-98%
        (``benchmarks/calib_models.py``). With fewer than
        ``MIN_CALIBRATED_CLUSTERS_PER_GROUP`` (4) treated or comparison clusters no
        cluster-based method is reliable and a warning says so. ``"cluster"``: the CR1
        standard error with a t reference (the method before issue 10). Without usable
        clusters both fall back as described above. ``se`` is always the CR1 (or
        fallback) standard error.
    bootstrap_reps : int
        Bootstrap draws (default 999).
    seed : int
        Seed of the bootstrap weights (fixed by default, so results are reproducible).
    event_study : bool
        Fit the event study and pre-trend checks when ``time`` is given (default True;
        False skips them, e.g. in simulations).

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
    if inference not in DID_INFERENCE:
        raise ValueError(f"`inference` must be one of {DID_INFERENCE}, got {inference!r}")
    if isinstance(bootstrap_reps, bool) or not isinstance(bootstrap_reps, (int, np.integer)) \
            or bootstrap_reps < 99:
        raise ValueError(f"`bootstrap_reps` must be an integer >= 99, got {bootstrap_reps!r}")
    if not isinstance(event_study, (bool, np.bool_)):
        raise ValueError(f"`event_study` must be True or False, got {event_study!r}")
    fit_event_study = bool(event_study)  # the name ``event_study`` is reused for the result
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
    period_cols: dict[str, np.ndarray] = {}
    if time is not None:
        axis, ords, _ = TimeAxis.from_values(df[time], "time")
        post_by_time = pd.Series(P).groupby(ords).nunique()
        common_start = bool((post_by_time == 1).all())
        staggered = not common_start
        uniq = np.unique(ords)
        period_cols = {f"period_{o}": (ords == o).astype(float) for o in uniq[1:]}
        X = pd.concat([X, pd.DataFrame(period_cols, index=df.index)], axis=1)
        if not common_start:
            X["post"] = P
    else:
        X["post"] = P
    X["did"] = D * P
    fit_kw = dict(family=family, confidence=confidence, cluster_name=cluster_col)
    fits: list[_Fit] = []
    fm = _fit(y, X, offset=offset, groups=groups, absorb=absorb, treat=D, check=("did",), **fit_kw)
    fits.append(fm)
    res = fm.res
    b, s = float(fm.params["did"]), _se(fm.cov, "did")
    lo, hi = b - fm.crit * s, b + fm.crit * s
    p_main = _p(b / s, fm.df)
    p_cluster = p_main
    boot = None
    if inference == "wild_bootstrap" and fm.kind == "cluster" and np.isfinite(s):
        boot = _bootstrap(fm, groups, bootstrap_reps, seed)
        p_main = boot.p_value(0.0)  # the null: no effect (0 on the link scale)
        lo, hi = boot.interval(b, s, confidence, fm.crit)
    ratio = family == "poisson"
    fe = [n for n, flag in (("unit", unit_effects), ("period", time is not None)) if flag]
    method = ("OLS" if family == "gaussian" else "Poisson GLM") + \
        (f" with {' and '.join(fe)} fixed effects" if fe else "") + f", {fm.label}"
    if boot is not None:
        G, g_t, _ = fm.counts
        method = (("OLS" if family == "gaussian" else "Poisson GLM")
                  + (f" with {' and '.join(fe)} fixed effects" if fe else "")
                  + f"; p-value and interval by wild cluster restricted score bootstrap by "
                    f"{cluster_col!r} ({G} clusters, {g_t} with treated rows; Webb weights, "
                    f"{boot.reps} draws; Kline & Santos 2012); se: CR1 cluster-robust")
    rows = [{
        "effect": "did",
        "estimate": math.exp(b) if ratio else b,
        "lower": math.exp(lo) if ratio else lo,
        "upper": math.exp(hi) if ratio else hi,
        "p_value": p_main, "confidence": confidence, "method": method,
        "scale": "ratio of rate ratios" if ratio else "difference", "se": s,
    }]

    # ---- event study and pre-trend ---------------------------------------- #
    event_study = None
    pretrend = None
    joint_note = None
    if time is not None and common_start and fit_event_study:
        uniq = np.unique(ords)
        post_ords = uniq[pd.Series(P).groupby(ords).first().reindex(uniq).to_numpy() == 1]
        pre_ords = uniq[~np.isin(uniq, post_ords)]
        if len(pre_ords) >= 1 and len(post_ords) >= 1:
            first_post = post_ords.min()
            ref = pre_ords.max()
            rel = {o: int(np.searchsorted(uniq, o) - np.searchsorted(uniq, first_post)) for o in uniq}
            es_terms = [(o, f"treated_x_{o}") for o in uniq if o != ref]
            Xe = pd.concat([
                pd.DataFrame({"const": 1.0, "treated": D}, index=df.index),
                pd.DataFrame(period_cols, index=df.index),
                pd.DataFrame({name: D * (ords == o) for o, name in es_terms}, index=df.index),
            ], axis=1)
            fe_ = _fit(y, Xe, offset=offset, groups=groups, absorb=absorb, treat=D,
                       check=[name for _, name in es_terms], **fit_kw)
            fits.append(fe_)
            pe = fe_.params
            es_rows = [{"time": axis.label(ref), "relative_time": rel[ref], "estimate": 0.0,
                        "lower": 0.0, "upper": 0.0, "p_value": float("nan"), "se": 0.0}]
            for o, name in es_terms:
                bb, ss = float(pe[name]), _se(fe_.cov, name)
                es_rows.append({"time": axis.label(o), "relative_time": rel[o], "estimate": bb,
                                "lower": bb - fe_.crit * ss, "upper": bb + fe_.crit * ss,
                                "p_value": _p(bb / ss, fe_.df), "se": ss})
            event_study = pd.DataFrame(es_rows).sort_values("relative_time").reset_index(drop=True)
            if ratio:
                for c in ("estimate", "lower", "upper"):
                    event_study[c] = np.exp(event_study[c])
            leads = [name for o, name in es_terms if o < ref]
            if leads:
                refit = None
                if unit is not None and not unit_effects:
                    def refit():
                        # the model-based joint test allows for unit levels (else the
                        # dispersion absorbs level differences and the test is very
                        # conservative); leads are the same in a balanced panel
                        codes = pd.factorize(df[unit])[0]
                        inf = pd.Series(y).groupby(codes).transform("size").to_numpy() > 1
                        if family == "poisson":
                            inf &= pd.Series(y).groupby(codes).transform("sum").to_numpy() > 0
                        return _fit(y[inf], Xe.loc[inf].reset_index(drop=True),
                                    offset=None if offset is None else offset[inf], groups=None,
                                    absorb=pd.factorize(codes[inf])[0], treat=D[inf], **fit_kw)
                pretrend, joint_note = _joint_pretrend(fe_, leads, family, cluster_col, refit)
                # linear differential pre-trend (pre-period data only): 1 df
                pre_mask = np.isin(ords, pre_ords)
                tnum = np.searchsorted(uniq, ords[pre_mask]).astype(float)
                Xp = pd.concat([
                    pd.DataFrame({"const": 1.0, "treated": D[pre_mask]}),
                    pd.DataFrame({f"period_{o}": (ords[pre_mask] == o).astype(float)
                                  for o in pre_ords[1:]}),
                    pd.DataFrame({"treated_x_trend": D[pre_mask] * tnum}),
                ], axis=1)
                g_pre = None if groups is None else pd.factorize(groups[pre_mask])[0]
                a_pre = None if absorb is None else pd.factorize(absorb[pre_mask])[0]
                fp = _fit(y[pre_mask], Xp, offset=None if offset is None else offset[pre_mask],
                          groups=g_pre, absorb=a_pre, treat=D[pre_mask],
                          check=("treated_x_trend",), **fit_kw)
                fits.append(fp)
                bt, st = float(fp.params["treated_x_trend"]), _se(fp.cov, "treated_x_trend")
                lt, ht = bt - fp.crit * st, bt + fp.crit * st
                p_lin = _p(bt / st, fp.df)
                rows.append({
                    "effect": "pre_trend_difference",
                    "estimate": math.exp(bt) if ratio else bt,
                    "lower": math.exp(lt) if ratio else lt,
                    "upper": math.exp(ht) if ratio else ht,
                    "p_value": p_lin, "confidence": confidence,
                    "method": "pre-period data only: treated x linear time, " + fp.label,
                    "scale": "rate ratio per period" if ratio else "difference in slope per period",
                    "se": st,
                })
                pretrend["linear"] = {
                    "estimate": bt, "statistic": bt / st if st > 0 else float("nan"), "df": 1,
                    "df_denom": fp.df, "p_value": p_lin,
                    "test": ("t test" if fp.df is not None else "z test")
                    + " of the treated x linear time interaction (pre-period data only)",
                    "covariance": fp.label,
                }

    # ---- descriptive cell means ------------------------------------------- #
    rate = y / np.exp(offset) if offset is not None else y
    cell = pd.DataFrame({"treated": D.astype(int), "post": P.astype(int), "value": rate})
    cell_means = cell.groupby(["treated", "post"])["value"].agg(["mean", "count"])

    warn_list = []
    n_clusters = None if groups is None else int(len(np.unique(groups)))
    n_treated_clusters = None if groups is None else int(len(np.unique(groups[D == 1])))
    if n_dropped:
        warn_list.append(f"Note: {n_dropped} row(s) with a missing outcome were dropped.")
    if n_uninformative:
        warn_list.append(f"Note: {n_uninformative} unit(s) carrying no information under unit "
                         "fixed effects (one period only" + (", or no events" if family == "poisson"
                                                             else "") + ") were dropped.")
    fallback = [f.note for f in fits if f.kind == "model" and f.note]
    if groups is None:
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
    if (boot is None and groups is not None and not fallback and n_treated_clusters is not None
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
    if boot is not None and not (np.isfinite(lo) and np.isfinite(hi)):
        warn_list.append("Note: the wild bootstrap interval is unbounded on one side: the data "
                         "cannot rule out effects of any size in that direction.")
    if joint_note:
        warn_list.append(joint_note)
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
        pretrend=pretrend, n_clusters=n_clusters, n_treated_clusters=n_treated_clusters,
        se_method=fm.label, n_obs=int(len(y)), model=res, df=fm.df, se_model=_se(fm.model_cov, "did"),
        inference="wild_bootstrap" if boot is not None else fm.kind, p_value_cluster=p_cluster,
        outcome=outcome, family=family, exposure=exposure, time=time,
        confidence=confidence, warnings=warn_list,
    )


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
