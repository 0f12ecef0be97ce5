"""Interrupted time series (segmented regression) for a single series.

The model for period :math:`t` (counted from the first period, starting at 1) is

.. math::

    g(E[Y_t]) = \\beta_0 + \\beta_1 t + \\beta_2 X_t + \\beta_3 (t - t_0) X_t
                + s(t) + \\log(\\text{exposure}_t)

where :math:`X_t = 1` from the intervention start :math:`t_0` (to ``end`` when the
scheme is temporary) and 0 otherwise, :math:`s(t)` is an optional seasonal term
(Fourier pairs or period-of-year dummies) and the log exposure offset applies to
count families only. :math:`g` is the log link for ``poisson``, ``quasipoisson``
and ``negbin`` and the identity for ``gaussian``.

* ``level_change`` is :math:`\\beta_2`: the change at the first post-intervention
  period relative to the continued pre-intervention trend. For count families it
  is reported as a rate ratio :math:`e^{\\beta_2}`.
* ``slope_change`` is :math:`\\beta_3`: the change in trend per period (a rate
  ratio per period for count families).
* ``post_period_difference`` is the modelled difference between the expected
  outcome with and without the intervention, summed over the post-intervention
  periods in the data (delta-method interval): for crime counts, "how many more or
  fewer crimes than expected".

This is the parameterisation of Linden (2015, Stata ``itsa``) and of the Lopez
Bernal, Cummins & Gasparrini (2017) tutorial (whose main model has no slope
change: use ``slope_change=False``).

Inference
---------
Default (``autocorrelation="auto"``): the GLM point estimates with an
autocorrelation-robust sandwich variance whose residual covariance (white scatter plus
a persistent AR(1) part, i.e. ARMA(1,1)) is estimated by moments corrected for the
fitted terms, and t intervals with ``(n - p) / 2`` df; see
:mod:`csp_analysis.count_engine` for the method and why it was chosen. By simulation
(``benchmarks/calib_models.py``: 36 months before, 24 after, seasonal, dispersion 1-3,
latent AR(1) 0-0.5, means 20-2000) the 95% interval of the level change covers the
truth 93-97% of the time, and a null series is called significant 3-7% of the time,
where the classical quasi-Poisson interval falls to about 85% at AR 0.5. It allows for
over-dispersion and serial correlation; it is approximate with very small counts (a
few a month) and short series. The default seasonality (``"auto"``) is one indicator
per calendar month for monthly data with at least 24 months before the start (Fourier
pairs miss realistic seasonal shapes, which inflates the variance at large counts).

With ``autocorrelation=None`` (classical inference, which reproduces the published
analyses) months are treated as independent:

* ``poisson``: model-based (Fisher information) standard errors, normal
  intervals (as R's ``glm`` + ``Epi::ci.exp``).
* ``quasipoisson``: as Poisson but the covariance is scaled by the Pearson
  dispersion :math:`\\hat\\phi = X^2 / (n - p)` (R ``family=quasipoisson``).
* ``negbin``: NB2 model; the dispersion :math:`\\alpha` is estimated by maximum
  (profile) likelihood and coefficient standard errors treat it as known, as R's
  ``MASS::glm.nb`` does.
* ``gaussian``: ordinary least squares with t-based intervals; with ``hac_lags``
  Newey-West (Bartlett kernel) standard errors with the small-sample factor
  :math:`n/(n-k)`, matching Stata's ``newey`` (as used by ``itsa``).
* ``hac_lags`` may also be given for count families (a Newey-West sandwich on the
  GLM score; robust to over-dispersion, so quasi-Poisson then equals Poisson).

References
----------
Lopez Bernal, J., Cummins, S. & Gasparrini, A. (2017). Interrupted time series
regression for the evaluation of public health interventions: a tutorial.
*International Journal of Epidemiology* 46:348-355.
Linden, A. (2015). Conducting interrupted time-series analysis for single- and
multiple-group comparisons. *Stata Journal* 15:480-500.
Wagner, A. K., Soumerai, S. B., Zhang, F. & Ross-Degnan, D. (2002). Segmented
regression analysis of interrupted time series studies in medication use
research. *Journal of Clinical Pharmacy and Therapeutics* 27:299-309.
Newey, W. K. & West, K. D. (1987). A simple, positive semi-definite,
heteroskedasticity and autocorrelation consistent covariance matrix.
*Econometrica* 55:703-708.
Ljung, G. M. & Box, G. E. P. (1978). On a measure of lack of fit in time series
models. *Biometrika* 65:297-303.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson

from ..count_engine import CountFit, build_design, fit_count_model, negbin_alpha_ml
from ._results import (
    InterventionResult,
    TimeAxis,
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

__all__ = ["interrupted_time_series", "ITSResult"]

FAMILIES = ("poisson", "quasipoisson", "negbin", "gaussian")
COUNT_FAMILIES = ("poisson", "quasipoisson", "negbin")
SEASONALITIES = (None, "fourier", "month", "auto")
AUTOCORRELATION = ("auto", None)
#: With ``seasonality="auto"``: month indicators for calendar-month data with at least
#: this many usable periods before the start, else no seasonal terms.
AUTO_SEASONAL_MIN_PRE = 24
INTERVENTION_TERMS = ("level_change", "slope_change")


# --------------------------------------------------------------------------- #
# Design matrix and fit: thin layers over csp_analysis.count_engine
# --------------------------------------------------------------------------- #
def its_design(
    ordinals: np.ndarray,
    start: int,
    end: int | None = None,
    *,
    slope_change: bool = True,
    seasonality: str | None = None,
    harmonics: int = 2,
    period: int = 12,
    origin: int | None = None,
) -> pd.DataFrame:
    """Segmented-regression design matrix for integer period ``ordinals``.

    ``time`` counts periods from ``origin`` (default: the first ordinal) starting at
    1; ``level_change`` is 1 from ``start`` to ``end`` (inclusive);
    ``slope_change`` is ``(t - t_start)`` in the same window. Fourier terms use the
    ordinal itself, so for month data they are aligned to calendar months. Built by
    :func:`csp_analysis.count_engine.build_design`.
    """
    return build_design(ordinals, origin=origin, time_name="time", time_shift=1.0, start=start,
                        end=end, slope_change=slope_change, seasonality=seasonality,
                        harmonics=harmonics, period=period)


#: Kept for callers of the old private name (same estimator, now in the engine).
_negbin_alpha = negbin_alpha_ml
_Fit = CountFit


def fit_its_model(
    y: np.ndarray,
    X: pd.DataFrame,
    offset: np.ndarray | None,
    family: str,
    hac_lags: int | None,
    variance: str = "model",
) -> CountFit:
    """Fit one of the supported families with :func:`csp_analysis.count_engine.fit_count_model`.

    ``hac_lags`` (not None) selects Newey-West; otherwise ``variance`` ("model" or "ar").
    """
    if hac_lags is not None:
        variance = "hac"
    return fit_count_model(y, X, offset, family, variance=variance, hac_lags=hac_lags,
                           negbin_alpha="ml", model_df="normal")


# --------------------------------------------------------------------------- #
# Result
# --------------------------------------------------------------------------- #
class ITSResult(InterventionResult):
    """Result of :func:`interrupted_time_series`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``level_change``, ``slope_change`` (when fitted) and
        ``post_period_difference``; columns ``estimate``, ``lower``, ``upper``,
        ``p_value``, ``confidence``, ``method``, ``scale``, ``se`` (the standard
        error on the model's link scale).
    coefficients : pandas.DataFrame
        All model coefficients on the link scale (estimate, se, lower, upper, p_value).
    counterfactual : pandas.DataFrame
        One row per period: ``time``, ``observed``, ``fitted`` (model with the
        intervention), ``counterfactual`` (intervention terms set to zero) and its
        interval ``cf_lower``/``cf_upper`` (a confidence interval for the expected
        value, not a prediction interval), ``post`` and ``used`` (in the fit).
    diagnostics : dict
        ``n_obs``, ``n_pre``, ``n_post``, ``n_excluded``, ``dispersion`` (Pearson
        X2/df), ``negbin_alpha``, ``ljung_box_lag``, ``ljung_box_stat``,
        ``ljung_box_p`` and ``durbin_watson`` of the Pearson residuals.
    warnings : list of str
        Plain-English cautions raised by the diagnostics.
    model : statsmodels results
        The fitted statsmodels object.
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    # ------------------------------------------------------------------ #
    def summary(self) -> str:
        fam = self.family
        ax: TimeAxis = self.axis
        cl = conf_pct(self.confidence)
        lines = [
            f"Interrupted time series analysis of {self.outcome!r}: {self.method}.",
            f"{self.diagnostics['n_pre']} {ax.unit}s before and {self.diagnostics['n_post']} "
            f"from the intervention start ({ax.fmt(self.start)})"
            + (f" to its end ({ax.fmt(self.end)})" if self.end is not None else "")
            + (f"; {self.diagnostics['n_excluded']} {ax.unit}(s) excluded from estimation"
               if self.diagnostics["n_excluded"] else "")
            + "."
        ]
        lv = self.table.loc["level_change"]
        if fam in COUNT_FAMILIES:
            rate_word = "rate" if self.exposure is not None else "expected count"
            lines.append(
                f"Level change: in the first {ax.unit} of the intervention the {rate_word} was "
                f"{fmt_pct_change(lv.estimate)} than the pre-intervention trend predicted "
                f"(rate ratio {lv.estimate:.3f}, {cl} CI {lv.lower:.3f} to {lv.upper:.3f}; "
                f"{fmt_p(lv.p_value)})."
            )
        else:
            lines.append(
                f"Level change: in the first {ax.unit} of the intervention {self.outcome!r} was "
                f"{fmt_num(lv.estimate)} ({cl} CI {fmt_num(lv.lower)} to {fmt_num(lv.upper)}; "
                f"{fmt_p(lv.p_value)}) compared with the pre-intervention trend."
            )
        if "slope_change" in self.table.index:
            sc = self.table.loc["slope_change"]
            if fam in COUNT_FAMILIES:
                lines.append(
                    f"Slope change: the trend changed by {(sc.estimate - 1) * 100:+.2f}% per "
                    f"{ax.unit} (rate ratio {sc.estimate:.4f}, {cl} CI {sc.lower:.4f} to "
                    f"{sc.upper:.4f}; {fmt_p(sc.p_value)})."
                )
            else:
                lines.append(
                    f"Slope change: the trend changed by {fmt_num(sc.estimate)} per {ax.unit} "
                    f"({cl} CI {fmt_num(sc.lower)} to {fmt_num(sc.upper)}; {fmt_p(sc.p_value)})."
                )
        pd_row = self.table.loc["post_period_difference"]
        lines.append(
            f"Over the {self.diagnostics['n_post_used']} post-intervention {ax.unit}s used, the model "
            f"implies a total difference of {fmt_num(pd_row.estimate, 1)} in {self.outcome!r} "
            f"compared with the counterfactual ({cl} CI {fmt_num(pd_row.lower, 1)} to "
            f"{fmt_num(pd_row.upper, 1)})."
        )
        sig = [r for r in INTERVENTION_TERMS if r in self.table.index
               and self.table.loc[r, "p_value"] < 1 - self.confidence]
        if not sig:
            lines.append(
                "Neither intervention term is statistically significant: the data are consistent "
                "with no change, although a modest effect cannot be ruled out (see the intervals)."
            )
        d = self.diagnostics
        diag = []
        if fam != "gaussian":
            diag.append(f"Pearson dispersion {d['dispersion']:.2f}")
        if not math.isnan(d["ljung_box_p"]):
            diag.append(f"Ljung-Box test of residual autocorrelation at lag {d['ljung_box_lag']}: "
                        f"{fmt_p(d['ljung_box_p'])}")
        diag.append(f"Durbin-Watson {d['durbin_watson']:.2f}")
        lines.append("Diagnostics: " + "; ".join(diag) + ".")
        lines.extend(self.warnings)
        lines.append(
            "Limits: the counterfactual assumes the pre-intervention trend"
            + (" and seasonal pattern" if self.seasonality else "")
            + " would have continued unchanged and that nothing else changed at the same time "
            "(other initiatives, recording practice, or a return to normal after an unusual spell "
            "that prompted the scheme). A single series cannot rule these out; a comparison area "
            "(difference-in-differences or synthetic control) and placebo-in-time checks "
            "strengthen the evidence."
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------ #
    def plot(self, ax: Any = None) -> Any:
        """Observed series, fitted model and counterfactual with its interval."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4.5))
        cf = self.counterfactual
        axis: TimeAxis = self.axis
        x = axis.plot_x(cf["ordinal"])
        used = cf["used"].to_numpy()
        ax.scatter(np.asarray(x)[used], cf["observed"].to_numpy()[used], s=14, color="black",
                   label="Observed", zorder=3)
        if (~used).any():
            ax.scatter(np.asarray(x)[~used], cf["observed"].to_numpy()[~used], s=14,
                       facecolors="none", edgecolors="grey", label="Excluded / missing", zorder=3)
        # draw the fitted model in segments so the step is not joined up
        xa = np.asarray(x)
        fitted = cf["fitted"].to_numpy()
        seg = np.r_[0, np.flatnonzero(np.diff(cf["post"].to_numpy().astype(int))) + 1, len(cf)]
        for i, (a, b) in enumerate(zip(seg[:-1], seg[1:])):
            ax.plot(xa[a:b], fitted[a:b], color="tab:blue", lw=1.5,
                    label="Fitted model" if i == 0 else None)
        post = cf["post"].to_numpy()
        ax.plot(np.asarray(x)[post], cf["counterfactual"].to_numpy()[post], color="tab:red",
                ls="--", lw=1.5, label="Counterfactual (no intervention)")
        ax.fill_between(np.asarray(x)[post], cf["cf_lower"].to_numpy()[post],
                        cf["cf_upper"].to_numpy()[post], color="tab:red", alpha=0.15,
                        label=f"{conf_pct(self.confidence)} CI of counterfactual")
        start_x = axis.plot_x([self.start])[0]
        ax.axvline(start_x, color="grey", lw=1, ls=":")
        if self.end is not None:
            ax.axvline(axis.plot_x([self.end])[0], color="grey", lw=1, ls=":")
        ax.set_title(f"Interrupted time series: {self.outcome}")
        ax.set_xlabel("Month" if axis.kind == "month" else str(self.time))
        unit = "count per " + axis.unit if self.family in COUNT_FAMILIES else "value per " + axis.unit
        ax.set_ylabel(f"{self.outcome} ({unit})")
        ax.legend(fontsize=8, loc="best")
        return ax


# --------------------------------------------------------------------------- #
# Public function
# --------------------------------------------------------------------------- #
def interrupted_time_series(
    data: pd.DataFrame, outcome: str, time: str, intervention_start: Any, exposure: str | None = None,
    family: str = "quasipoisson", seasonality: str | None = "auto", harmonics: int = 2,
    period: int = 12, slope_change: bool = True, hac_lags: int | None = None, *, end: Any = None,
    exclude: Sequence[Any] | None = None, confidence: float = 0.95,
    autocorrelation: str | None = "auto",
) -> ITSResult:
    """Estimate the effect of an intervention with segmented regression.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per period.
    outcome : str
        Column with the outcome (counts for the count families). Rows with a missing outcome
        are left out of the fit.
    time : str
        Column with the period: month dates (Timestamps, Periods or 'YYYY-MM' strings) or
        integer periods; not necessarily contiguous, but each may appear only once.
    intervention_start : month or int
        First period in which the intervention was in place (same kind as ``time``).
    exposure : str, optional
        Column with the population at risk, used as a log offset (count families only) so
        effects are on rates.
    family : {"quasipoisson", "poisson", "negbin", "gaussian"}
        Outcome distribution (default quasi-Poisson; with the default autocorrelation-robust
        variance Poisson gives the same intervals). Crime counts are nearly always over-dispersed.
    seasonality : {"auto", None, "fourier", "month"}
        Seasonal adjustment: ``harmonics`` sine/cosine pairs of period ``period``, or one
        dummy per position in the cycle (e.g. calendar month). ``"auto"`` (default):
        ``"month"`` for calendar-month data with at least 24 usable months before the
        start, else None.
    harmonics, period : int
        Number of Fourier pairs (at most ``period // 2``); seasonal cycle (12 for monthly data).
    slope_change : bool
        Include a change in trend after the start (default True). With False only a step
        (level) change is estimated.
    hac_lags : int, optional
        Newey-West (HAC) standard errors with this maximum lag.
    end : month or int, optional
        Last period of a temporary scheme; afterwards the intervention terms are switched off
        (the series is assumed to return to the counterfactual).
    exclude : sequence, optional
        Periods (e.g. phase-in months) left out of estimation but still given counterfactual
        values. The level change is measured at ``intervention_start`` (to measure it after a
        phase-in, start at the first month after it and exclude the months before).
    confidence : float
        Confidence level of the intervals (default 0.95).
    autocorrelation : {"auto", None}
        ``"auto"`` (default): autocorrelation-robust standard errors (calibrated: module
        docstring). ``None``: classical model-based ones (independent months), as the published
        tutorials. Ignored with ``hac_lags`` (Newey-West) and for ``family="gaussian"``.

    Returns
    -------
    ITSResult

    Raises
    ------
    ValueError
        For unknown columns or options, negative counts, too few periods either side of the
        start, or a design the data cannot identify.

    References
    ----------
    Lopez Bernal, Cummins & Gasparrini (2017), *Int J Epidemiol* 46:348-355; Linden (2015),
    *Stata Journal* 15:480-500; Wagner et al. (2002), *J Clin Pharm Ther* 27:299-309.
    """
    # steps: validation, data, design, fit, result assembly (effects, counterfactual, warnings)
    confidence = _check_its_arguments(data, outcome, time, exposure, family, seasonality, harmonics,
                                      period, slope_change, hac_lags, confidence, autocorrelation)
    ser = _prepare_series(data, outcome, time, intervention_start, exposure, family, end, exclude)
    seasonality, X_all, X = _its_fit_design(ser, seasonality, slope_change, harmonics, period)
    y, offset = ser.fitted()
    fit = fit_its_model(y, X, offset, family, hac_lags,
                        variance="ar" if autocorrelation == "auto" else "model")
    return _assemble_its(fit, ser, X_all, X, outcome=outcome, time=time, exposure=exposure,
                         family=family, seasonality=seasonality, period=period,
                         slope_change=slope_change, hac_lags=hac_lags, confidence=confidence,
                         autocorrelation=autocorrelation)


def _assemble_its(fit, ser, X_all, X, *, outcome, time, exposure, family, seasonality, period,
                  slope_change, hac_lags, confidence, autocorrelation) -> ITSResult:
    """Result assembly: effects table, counterfactual, diagnostics and warnings."""
    crit, coefficients, rows = _effects(fit, confidence, ser.axis, family)
    counterfactual, row, sel = _counterfactual(fit, ser, X_all, crit, confidence, family, outcome)
    diagnostics = _diagnostics(fit, ser, sel, period)
    return ITSResult(
        table=make_table(rows + [row], extra=["se", "df"]), coefficients=coefficients,
        counterfactual=counterfactual, diagnostics=diagnostics,
        warnings=_its_warnings(fit, ser, diagnostics, family, seasonality, hac_lags),
        model=fit.model, method=fit.method, family=family, seasonality=seasonality,
        outcome=outcome, time=time, exposure=exposure, axis=ser.axis, start=ser.start,
        end=ser.end, confidence=confidence, slope_change=slope_change, design=X,
        hac_lags=hac_lags, autocorrelation=autocorrelation,
    )


@dataclass
class _Series:
    """The validated series of an ITS call, in time order, over every period given."""

    axis: TimeAxis
    ords: np.ndarray
    y_all: np.ndarray
    start: int
    end: int | None
    offset_all: np.ndarray | None
    excl_mask: np.ndarray
    missing: np.ndarray
    used: np.ndarray          # in the fit: not missing, not excluded
    post_all: np.ndarray | None = None
    n_pre: int = 0
    n_post: int = 0

    def fitted(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Outcome and offset of the periods in the fit."""
        return self.y_all[self.used], None if self.offset_all is None else self.offset_all[self.used]


def _check_its_arguments(data, outcome, time, exposure, family, seasonality, harmonics, period,
                         slope_change, hac_lags, confidence, autocorrelation) -> float:
    """Validation step: the arguments (not yet the values); returns the checked confidence."""
    data = check_dataframe(data)
    check_column(data, outcome, "outcome")
    check_column(data, time, "time")
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}, got {family!r}")
    if seasonality not in SEASONALITIES:
        raise ValueError(f"`seasonality` must be one of {SEASONALITIES}, got {seasonality!r}")
    if not isinstance(period, (int, np.integer)) or isinstance(period, bool) or period < 2:
        raise ValueError(f"`period` must be an integer >= 2, got {period!r}")
    if seasonality == "fourier":
        if not isinstance(harmonics, (int, np.integer)) or isinstance(harmonics, bool) \
                or not 1 <= harmonics <= period // 2:
            raise ValueError(f"`harmonics` must be an integer from 1 to period // 2 = "
                             f"{period // 2}, got {harmonics!r}")
    if hac_lags is not None and (not isinstance(hac_lags, (int, np.integer))
                                 or isinstance(hac_lags, bool) or hac_lags < 0):
        raise ValueError(f"`hac_lags` must be a non-negative integer or None, got {hac_lags!r}")
    if not isinstance(slope_change, (bool, np.bool_)):
        raise ValueError(f"`slope_change` must be True or False, got {slope_change!r}")
    if autocorrelation not in AUTOCORRELATION:
        raise ValueError(f"`autocorrelation` must be 'auto' or None, got {autocorrelation!r}")
    confidence = check_confidence(confidence)
    if exposure is not None and family == "gaussian":
        raise ValueError("`exposure` is a log offset and applies only to count families "
                         "(poisson, quasipoisson, negbin); for gaussian, model a rate column")
    return confidence


def _prepare_series(data, outcome, time, intervention_start, exposure, family, end,
                    exclude) -> _Series:
    """Validation of the values: time order, start/end, exposure offset, exclusions."""
    axis, ords, _ = TimeAxis.from_values(data[time], "time")
    if len(np.unique(ords)) != len(ords):
        raise ValueError("`time`: each period may appear only once (duplicates found)")
    order = np.argsort(ords, kind="stable")
    ords = ords[order]
    y_all = numeric_column(data, outcome, "outcome")[order]
    start = axis.convert(intervention_start, "intervention_start")
    end_ord = None if end is None else axis.convert(end, "end")
    if end_ord is not None and end_ord < start:
        raise ValueError("`end` must not be before `intervention_start`")
    offset_all = None
    if exposure is not None:
        check_column(data, exposure, "exposure")
        expo = numeric_column(data, exposure, "exposure")[order]
        if np.isnan(expo).any() or (expo <= 0).any():
            raise ValueError(f"`exposure`: column {exposure!r} must be positive and not missing")
        offset_all = np.log(expo)
    excl_mask = np.zeros(len(ords), dtype=bool)
    if exclude is not None:
        if isinstance(exclude, (str, bytes)) or not hasattr(exclude, "__iter__"):
            exclude = [exclude]
        ex_ords = {axis.convert(v, "exclude") for v in exclude}
        excl_mask = np.isin(ords, list(ex_ords))
    missing = np.isnan(y_all)
    if family in COUNT_FAMILIES:
        yy = y_all[~missing]
        if (yy < 0).any():
            raise ValueError(f"`outcome`: column {outcome!r} has negative values; counts must be >= 0")
        if family in ("poisson", "negbin") and not np.allclose(yy, np.round(yy)):
            raise ValueError(f"`outcome`: column {outcome!r} has non-integer values; use "
                             "family='quasipoisson' or 'gaussian' for non-count outcomes")
    return _Series(axis=axis, ords=ords, y_all=y_all, start=start, end=end_ord,
                   offset_all=offset_all, excl_mask=excl_mask, missing=missing,
                   used=~missing & ~excl_mask)


def _its_fit_design(ser: _Series, seasonality, slope_change, harmonics, period):
    """Design step: ``(seasonality, X over every period, X of the fitted periods)``.

    Resolves ``seasonality="auto"``, checks there are enough periods either side of the
    start and that the design has full rank; sets ``ser.post_all``, ``n_pre``, ``n_post``.
    """
    ords, used, start = ser.ords, ser.used, ser.start
    if seasonality == "auto":
        seasonality = ("month" if ser.axis.kind == "month" and period == 12
                       and int((used & (ords < start)).sum()) >= AUTO_SEASONAL_MIN_PRE else None)
    X_all = its_design(ords, start, ser.end, slope_change=slope_change,
                       seasonality=seasonality, harmonics=harmonics, period=period)
    ser.post_all = X_all["level_change"].to_numpy() == 1
    ser.n_pre = n_pre = int((used & (ords < start)).sum())
    ser.n_post = n_post = int((used & ser.post_all).sum())
    if n_pre < 3:
        raise ValueError(f"`intervention_start`: only {n_pre} usable period(s) before the start; "
                         "at least 3 are needed to estimate a pre-intervention trend")
    if n_post < (2 if slope_change else 1):
        raise ValueError(f"`intervention_start`: only {n_post} usable period(s) after the start")
    X = X_all.loc[used].reset_index(drop=True)
    X = X.loc[:, (X != 0).any(axis=0)]  # seasons absent from the fit data
    if np.linalg.matrix_rank(X.to_numpy()) < X.shape[1]:
        raise ValueError("The design matrix is not of full rank: too few periods for the chosen "
                         "trend/seasonality terms")
    if X.shape[0] - X.shape[1] < 1:
        raise ValueError("Not enough periods to estimate the model (no residual degrees of freedom)")
    return seasonality, X_all, X


def _effects(fit: CountFit, confidence, axis: TimeAxis, family):
    """Result assembly: ``(critical value, coefficients table, level/slope change rows)``."""
    crit = (stats.t.ppf(0.5 + confidence / 2, fit.df_t) if fit.df_t is not None
            else stats.norm.ppf(0.5 + confidence / 2))
    params, cov = fit.params, fit.cov
    se_all = np.sqrt(np.diag(cov.to_numpy()))
    se = pd.Series(se_all, index=params.index)
    zt = params / se
    pvals = (2 * stats.t.sf(np.abs(zt), fit.df_t) if fit.df_t is not None
             else 2 * stats.norm.sf(np.abs(zt)))
    coefficients = pd.DataFrame({"estimate": params, "se": se, "lower": params - crit * se,
                                 "upper": params + crit * se, "p_value": pvals})
    is_count = family in COUNT_FAMILIES
    rows = []
    for term in INTERVENTION_TERMS:
        if term not in params.index:
            continue
        b, s = float(params[term]), float(se[term])
        lo, hi = b - crit * s, b + crit * s
        scale = ("rate ratio" if term == "level_change" else "rate ratio per " + axis.unit) \
            if is_count else ("difference" if term == "level_change" else "difference per " + axis.unit)
        rows.append({
            "effect": term,
            "estimate": math.exp(b) if is_count else b,
            "lower": math.exp(lo) if is_count else lo,
            "upper": math.exp(hi) if is_count else hi,
            "p_value": float(pvals[list(params.index).index(term)]),
            "confidence": confidence, "method": fit.method, "scale": scale, "se": s,
            "df": np.nan if fit.df_t is None else fit.df_t,
        })
    return crit, coefficients, rows


def _counterfactual(fit: CountFit, ser: _Series, X_all, crit, confidence, family, outcome):
    """The counterfactual (intervention terms off) over every period, and the
    ``post_period_difference`` row (delta method): ``(counterfactual, row, post periods used)``."""
    params, ords = fit.params, ser.ords
    Xf = X_all.reindex(columns=params.index, fill_value=0.0).to_numpy(dtype=float)
    Xcf = Xf.copy()
    for j, name in enumerate(params.index):
        if name in INTERVENTION_TERMS:
            Xcf[:, j] = 0.0
    off_full = np.zeros(len(ords)) if ser.offset_all is None else ser.offset_all
    covm = fit.cov.to_numpy()
    beta = params.to_numpy()
    eta1 = Xf @ beta + off_full
    eta0 = Xcf @ beta + off_full
    se0 = np.sqrt(np.einsum("ij,jk,ik->i", Xcf, covm, Xcf))
    is_count = family in COUNT_FAMILIES
    inv = np.exp if is_count else (lambda v: v)
    counterfactual = pd.DataFrame({
        "time": ser.axis.labels(ords), "ordinal": ords, "observed": ser.y_all,
        "fitted": inv(eta1), "counterfactual": inv(eta0),
        "cf_lower": inv(eta0 - crit * se0), "cf_upper": inv(eta0 + crit * se0),
        "post": ser.post_all, "used": ser.used,
    })
    sel = ser.post_all & ~ser.excl_mask
    mu1, mu0 = inv(eta1[sel]), inv(eta0[sel])
    if is_count:
        grad = (mu1[:, None] * Xf[sel] - mu0[:, None] * Xcf[sel]).sum(0)
    else:
        grad = (Xf[sel] - Xcf[sel]).sum(0)
    diff = float((mu1 - mu0).sum())
    diff_se = float(math.sqrt(max(grad @ covm @ grad, 0.0)))
    z = diff / diff_se if diff_se > 0 else float("nan")
    p_diff = float(2 * (stats.t.sf(abs(z), fit.df_t) if fit.df_t is not None else stats.norm.sf(abs(z))))
    row = {"effect": "post_period_difference", "estimate": diff,
           "lower": diff - crit * diff_se, "upper": diff + crit * diff_se,
           "p_value": p_diff, "confidence": confidence,
           "method": fit.method + "; delta method",
           "scale": f"total difference in {outcome} over the post period", "se": diff_se,
           "df": np.nan if fit.df_t is None else fit.df_t}
    return counterfactual, row, sel


def _diagnostics(fit: CountFit, ser: _Series, sel, period) -> dict:
    """Counts, dispersion, Ljung-Box and Durbin-Watson of the Pearson residuals, serial terms."""
    resid = fit.resid_pearson
    lb_lag = int(max(1, min(period, len(resid) // 4)))
    try:
        lb = acorr_ljungbox(resid, lags=[lb_lag])
        lb_stat, lb_p = float(lb["lb_stat"].iloc[0]), float(lb["lb_pvalue"].iloc[0])
    except Exception:  # pragma: no cover - very short series
        lb_stat = lb_p = float("nan")
    return {
        "n_obs": int(ser.used.sum()), "n_pre": ser.n_pre, "n_post": ser.n_post,
        "n_post_used": int(sel.sum()),
        "n_excluded": int((ser.excl_mask & ~ser.missing).sum()), "n_missing": int(ser.missing.sum()),
        "dispersion": fit.dispersion, "negbin_alpha": fit.alpha_nb,
        "ljung_box_lag": lb_lag, "ljung_box_stat": lb_stat, "ljung_box_p": lb_p,
        "durbin_watson": float(durbin_watson(resid)),
        "variance": fit.variance,
        "serial_lag1": np.nan if fit.serial is None else fit.serial["lag1"],
        "serial_ar": np.nan if fit.serial is None else fit.serial["ar"],
    }


def _its_warnings(fit: CountFit, ser: _Series, diagnostics, family, seasonality,
                  hac_lags) -> list[str]:
    """Result assembly: the plain-English notes and cautions of an ITS result."""
    lb_p, n_pre, n_post = diagnostics["ljung_box_p"], ser.n_pre, ser.n_post
    warn_list = list(fit.notes)
    if family == "poisson" and fit.dispersion > 1.5 and fit.variance == "model":
        warn_list.append(
            f"Caution: the Pearson dispersion is {fit.dispersion:.2f} (well above 1), so Poisson "
            "standard errors are too small; use family='quasipoisson' or 'negbin'.")
    if not math.isnan(lb_p) and lb_p < 0.05:
        if fit.variance == "ar":
            warn_list.append(
                "Note: the residuals are autocorrelated (Ljung-Box p < 0.05); the standard errors "
                "allow for this (autocorrelation-robust variance).")
        elif hac_lags is None:
            warn_list.append(
                "Caution: the residuals are autocorrelated (Ljung-Box p < 0.05), so standard errors "
                "may be too small; consider " + ("seasonal terms or " if seasonality is None else "")
                + "Newey-West errors (hac_lags).")
        else:
            warn_list.append(
                "Note: the residuals are autocorrelated (Ljung-Box p < 0.05); Newey-West errors with "
                f"lag {hac_lags} allow for this, but check that the lag is long enough.")
    if ser.axis.kind == "month" and seasonality is None and n_pre >= 24:
        warn_list.append("Note: no seasonal adjustment was made for monthly data; consider "
                         "seasonality='fourier' or 'month'.")
    if n_pre < 8 or n_post < 8:
        warn_list.append("Caution: fewer than 8 periods on one side of the start; ITS estimates "
                         "from short series are imprecise and sensitive to the trend assumption.")
    if ser.missing.any():
        warn_list.append(f"Note: {int(ser.missing.sum())} period(s) with a missing outcome were left out.")
    return warn_list
