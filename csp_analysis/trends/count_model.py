"""Trend in monthly counts: Poisson, quasi-Poisson or negative binomial regression.

:func:`fit_count_trend` fits a log-linear model to monthly counts,

    log E[count_t] = b0 + b1 * years_t + seasonal(month-of-year_t) [+ log(population_t)],

and reports the annual percentage change ``100 * (exp(b1) - 1)`` with its
confidence interval. Months with no data are simply absent (never interpolated),
so a series with gaps is handled; months flagged as recording artefacts can be
left out with ``exclude``. With a population offset the change is in the rate
per head.

Counts of crime are usually overdispersed (more variable than Poisson). A plain
Poisson model then understates the uncertainty, so the default is a negative
binomial (NB2) model (as recommended for aggregate crime counts by Osgood 2000),
with its dispersion estimated by the Pearson moment equation (Breslow 1984),
which behaves better than maximum likelihood in short series; a quasi-Poisson
fit is also offered. The Pearson dispersion of the Poisson fit is always reported
(values well above 1 mean overdispersion).

References
----------
McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.,
chapter 6 (log-linear models; quasi-likelihood dispersion). Chapman & Hall.
Cameron, A. C. & Trivedi, P. K. (2013). *Regression Analysis of Count Data*, 2nd
ed., chapter 3 (NB2 model). Cambridge University Press.
Breslow, N. E. (1984). Extra-Poisson variation in log-linear models. *Applied
Statistics* 33:38-44.
Osgood, D. W. (2000). Poisson-based regression analysis of aggregate crime
rates. *Journal of Quantitative Criminology* 16:21-43.
Bhaskaran, K., Gasparrini, A., Hajat, S., Smeeth, L. & Armstrong, B. (2013). Time
series regression studies in environmental epidemiology. *International Journal
of Epidemiology* 42:1187-1195 (seasonality by month indicators or harmonics).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..contract import ResultMixin
from ..count_engine import build_design, fit_count_model, negbin_alpha_moment
from ._utils import (
    check_confidence,
    confidence_label,
    format_p,
    format_percent,
    month_number,
    to_float_array,
    to_months,
)

__all__ = ["CountTrendResult", "fit_count_trend", "plot_count_trend"]

_FAMILIES = ("negbin", "poisson", "quasipoisson")
_SEASONALITY = ("month", "fourier", None)


@dataclass
class CountTrendResult(ResultMixin):
    """Result of :func:`fit_count_trend`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``measure``, ``value`` (annual % change), ``lower``, ``upper``,
        ``confidence``, ``method``, ``p_value``, ``rate_ratio`` (per year),
        ``family``, ``dispersion`` (Pearson chi-square / df of the Poisson fit),
        ``alpha`` (negative binomial dispersion; NaN otherwise), ``serial_lag1``
        (fitted lag-1 residual correlation of the autocorrelation-robust variance; NaN
        with ``autocorrelation=None``), ``n_months``,
        ``n_excluded``, ``first_month``, ``last_month``, ``sentence``.
    fitted : pandas.DataFrame
        One row per month given (monthly PeriodIndex): ``observed``, ``used``
        (False for excluded or missing counts), ``fitted`` (expected count with
        seasonality), ``fitted_lower``, ``fitted_upper`` (confidence band for the
        expected count), ``trend`` (expected count with the seasonal effect
        averaged out) and ``population`` when given.
    model : statsmodels results
        The fitted statsmodels model, for diagnostics.
    excluded : list of pandas.Period
        Months dropped because they were listed in ``exclude``.
    """

    table: pd.DataFrame
    fitted: pd.DataFrame
    model: Any = field(repr=False)
    excluded: list = field(default_factory=list)

    @property
    def sentence(self) -> str:
        """Plain-English headline for the report."""
        return str(self.table["sentence"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """The one-row summary table (same as ``table``)."""
        return self.table.copy()

    def summary(self) -> str:
        """The result as text (the contract's ``.summary()``): the sentence and the method."""
        r = self.table.iloc[0]
        return f"{r['sentence']} Method: {r['method']}."

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Observed counts, fitted model and trend line (:func:`plot_count_trend`); returns the Axes."""
        return plot_count_trend(self, ax=ax, **kwargs)


def _design(months: pd.PeriodIndex, origin: int, seasonality: str | None, harmonics: int,
            present_months: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Design matrix: intercept, time in years, seasonal terms (built by
    :func:`csp_analysis.count_engine.build_design`, the design shared with the ITS)."""
    X = build_design(month_number(months), origin=origin, time_name="years", time_shift=0.0,
                     time_scale=1.0 / 12.0, seasonality=seasonality, harmonics=harmonics, period=12,
                     season_levels=np.asarray(present_months) - 1,
                     season_name=lambda s: f"month_{s + 1:02d}")
    return X.to_numpy(dtype=float), list(X.columns)


def _seasonal_average_design(X: np.ndarray, names: list[str], seasonality: str | None) -> np.ndarray:
    """Design with the seasonal terms replaced by their average over the calendar months
    in the model (an average on the log scale), giving the de-seasonalised trend line."""
    Xt = X.copy()
    if seasonality == "month":
        n_dummies = sum(1 for nm in names if nm.startswith("month_"))
        present = n_dummies + 1
        for j, nm in enumerate(names):
            if nm.startswith("month_"):
                Xt[:, j] = 1.0 / present
    elif seasonality == "fourier":
        for j, nm in enumerate(names):
            if nm.startswith(("sin", "cos")):
                Xt[:, j] = 0.0
    return Xt


def _fit_negbin(y: np.ndarray, X: np.ndarray, offset: np.ndarray, pois) -> tuple:
    """NB2 GLM with alpha from the Pearson moment equation (Breslow 1984); see
    :func:`csp_analysis.count_engine.negbin_alpha_moment`. Returns (results, alpha)."""
    return negbin_alpha_moment(y, X, offset, pois)


def _sentence(label: str, value: float, lower: float, upper: float, p: float, confidence: float) -> str:
    conf = confidence_label(confidence)
    if lower > 0:
        return (f"{label} rose by {format_percent(value)} a year ({conf} CI {format_percent(lower)} "
                f"to {format_percent(upper)}); the upward trend is unlikely to be chance ({format_p(p)}).")
    if upper < 0:
        return (f"{label} fell by {format_percent(-value)} a year ({conf} CI {format_percent(-upper)} "
                f"to {format_percent(-lower)}); the downward trend is unlikely to be chance ({format_p(p)}).")
    direction = "a fall" if value < 0 else "a rise"
    return (f"{label} showed no clear trend: the estimate is {direction} of {format_percent(abs(value))} "
            f"a year, but the {conf} CI runs from a fall of {format_percent(-lower)} to a rise of "
            f"{format_percent(upper)}, so the change could be chance ({format_p(p)}).")


def fit_count_trend(
    counts: Any,
    months: Any = None,
    population: Any = None,
    family: str = "negbin",
    seasonality: str | None = "month",
    harmonics: int = 2,
    exclude: Any = None,
    confidence: float = 0.95,
    label: str = "Recorded crime",
    *,
    autocorrelation: str | None = "auto",
) -> CountTrendResult:
    """Estimate the annual % change in monthly counts with a count regression.

    Parameters
    ----------
    counts : pandas.Series or array-like
        Monthly counts (non-negative whole numbers). A Series indexed by month
        (timestamps, monthly periods or "YYYY-MM" strings) is the easiest input;
        otherwise give ``months``. Months may be missing: absent months are not
        interpolated, and a NaN count is treated as a missing month.
    months : array-like, optional
        The month of each count when ``counts`` has no month index.
    population : scalar, array-like or pandas.Series, optional
        Population for an offset ``log(population)``, so the trend is in the rate
        per head. A Series is matched to the counts by month.
    family : {"negbin", "poisson", "quasipoisson"}, default "negbin"
        ``"negbin"``: negative binomial GLM (NB2, variance ``mu + alpha mu^2``)
        with ``alpha`` from the Pearson moment equation with a degrees-of-freedom
        correction (Breslow 1984) and t intervals; if there is no overdispersion
        (alpha = 0) the Poisson fit is used.
        ``"poisson"``: Poisson GLM (only if the data are not overdispersed).
        ``"quasipoisson"``: Poisson GLM with standard errors scaled by the Pearson
        dispersion and t-based intervals (McCullagh & Nelder 1989).
    seasonality : {"month", "fourier", None}, default "month"
        ``"month"``: an indicator for each calendar month; ``"fourier"``:
        ``harmonics`` pairs of sine/cosine terms (fewer parameters, useful for
        short series); ``None``: no seasonal terms.
    harmonics : int, default 2
        Number of harmonics when ``seasonality="fourier"`` (1-6).
    exclude : iterable of months, optional
        Months to leave out, e.g. those flagged by
        :func:`csp_analysis.quality.flag_anomalous_months` with ``exclude``
        True. Months not in ``counts`` are ignored.
    confidence : float, default 0.95
        Confidence level of the interval.
    label : str, default "Recorded crime"
        What is counted, for the sentence.
    autocorrelation : {"auto", None}, default "auto"
        ``"auto"``: autocorrelation-robust standard errors - the GLM sandwich with the
        residual covariance (white scatter plus a persistent AR(1) part) estimated by
        moments allowing for the fitted terms, and t intervals with ``(n - p) / 2`` df
        (:mod:`csp_analysis.count_engine`, shared with the interrupted time series).
        Months of crime counts are serially correlated; with independent-month
        standard errors a null trend was called significant 7-9% of the time at AR(1)
        0.3 (``benchmarks/calib_models.py``). ``None``: classical model-based standard
        errors (independent months), as before.

    Returns
    -------
    CountTrendResult
        ``table`` (value, lower, upper, confidence, method, p_value, sentence, ...),
        ``fitted`` (per-month observed and fitted values for plotting), ``model``
        and ``excluded``.

    Raises
    ------
    ValueError
        For negative or non-integer counts, unreadable or repeated months, an
        unknown ``family`` or ``seasonality``, or too few months for the model
        (at least two more months than parameters are needed).

    Notes
    -----
    Time enters as years since the first month used, so ``exp(b1)`` is the
    rate ratio per year and the annual % change is ``100 (exp(b1) - 1)`` with
    interval ``100 (exp(b1 -/+ q se) - 1)``, ``q`` the normal quantile for
    Poisson and the t quantile with the residual degrees of freedom for
    quasi-Poisson (``n - p``) and negative binomial (``n - p - 1``) with
    ``autocorrelation=None``; by default the standard error is autocorrelation-robust
    and the t quantile has ``(n - p) / 2`` df. The p-value is the Wald test of
    ``b1 = 0``. The model assumes a constant proportional trend.

    References
    ----------
    McCullagh & Nelder (1989); Cameron & Trivedi (2013); Osgood (2000); see the
    module docstring.
    """
    confidence = check_confidence(confidence)
    seasonality = _validate_options(family, seasonality, harmonics, autocorrelation)
    month_idx, y_all, finite, order = _read_counts(counts, months)
    pop_all = _read_population(population, month_idx, order, finite)
    used, excluded = _select_months(month_idx, finite, exclude)
    X_all, names, present_months = _design_model(month_idx, y_all, used, seasonality, harmonics)
    offset_all = np.log(pop_all) if pop_all is not None else np.zeros(len(y_all))
    variance = "ar" if autocorrelation == "auto" else "model"
    fit = _fit_model(y_all[used], X_all[used], names, offset_all[used], family, variance)
    q, p_fun = _reference_distribution(fit, confidence)
    method = _describe_method(fit, family, variance, seasonality, harmonics, pop_all is not None)

    params, cov = np.asarray(fit.params), np.asarray(fit.cov)
    b = float(params[1])
    fitted = _assemble_fitted(y_all, used, month_idx, X_all, names, offset_all, params, cov, q,
                              seasonality, present_months, pop_all)
    table = _assemble_table(fit, b, q, p_fun, method, family, month_idx[used], len(excluded), confidence, label)
    return CountTrendResult(table=table, fitted=fitted, model=fit.model, excluded=excluded)


def _assemble_table(fit, b: float, q: float, p_fun, method: str, family: str, m_used: pd.PeriodIndex,
                    n_excluded: int, confidence: float, label: str) -> pd.DataFrame:
    """The one-row result: annual % change ``100 (exp(b) - 1)`` with its Wald interval and test."""
    se = float(np.sqrt(np.asarray(fit.cov)[1, 1]))
    zstat = b / se if se > 0 else np.nan
    p_value = float(p_fun(zstat))
    value = 100.0 * np.expm1(b)
    lower = 100.0 * np.expm1(b - q * se)
    upper = 100.0 * np.expm1(b + q * se)
    return pd.DataFrame([{
        "measure": "annual % change",
        "value": value,
        "lower": lower,
        "upper": upper,
        "confidence": confidence,
        "method": method,
        "p_value": p_value,
        "rate_ratio": float(np.exp(b)),
        "family": family,
        "dispersion": fit.dispersion,
        "alpha": np.nan if fit.alpha_nb is None else fit.alpha_nb,
        "serial_lag1": np.nan if fit.serial is None else fit.serial["lag1"],
        "n_months": len(m_used),
        "n_excluded": n_excluded,
        "first_month": str(m_used.min()),
        "last_month": str(m_used.max()),
        "sentence": _sentence(label, value, lower, upper, p_value, confidence),
    }])


def _validate_options(family: str, seasonality: str | None, harmonics: int, autocorrelation: str | None):
    """Check the model options of :func:`fit_count_trend`; return ``seasonality`` ("none" -> None)."""
    if autocorrelation not in ("auto", None):
        raise ValueError(f"`autocorrelation` must be 'auto' or None, got {autocorrelation!r}")
    if family not in _FAMILIES:
        raise ValueError(f"`family` must be one of {_FAMILIES}, got {family!r}")
    if isinstance(seasonality, str) and seasonality.lower() == "none":
        seasonality = None
    if seasonality not in _SEASONALITY:
        raise ValueError(f"`seasonality` must be 'month', 'fourier' or None, got {seasonality!r}")
    if seasonality == "fourier" and (isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer))
                                     or not 1 <= harmonics <= 6):
        raise ValueError(f"`harmonics` must be an integer from 1 to 6, got {harmonics!r}")
    return seasonality


def _read_counts(counts: Any, months: Any):
    """Counts and their months, checked and sorted by month: ``(month_idx, y_all, finite, order)``
    (``order`` the sorting permutation of the input, ``finite`` the non-missing counts)."""
    y_all = to_float_array(counts, "counts")
    if months is None:
        if not isinstance(counts, pd.Series):
            raise ValueError("`months` is required when `counts` is not a Series indexed by month")
        month_idx = to_months(counts.index, "counts.index")
    else:
        month_idx = to_months(months, "months")
    if len(month_idx) != len(y_all):
        raise ValueError(f"`months` has length {len(month_idx)} but `counts` has length {len(y_all)}")
    if month_idx.has_duplicates:
        dup = month_idx[month_idx.duplicated()].unique()
        raise ValueError(f"`months` contains repeated months: {', '.join(map(str, dup[:5]))}")
    finite = ~np.isnan(y_all)
    if np.any(y_all[finite] < 0) or np.any(y_all[finite] != np.round(y_all[finite])):
        raise ValueError("`counts` must be non-negative whole numbers")
    order = np.argsort(month_number(month_idx), kind="stable")
    return month_idx[order], y_all[order], finite[order], order


def _read_population(population: Any, month_idx: pd.PeriodIndex, order: np.ndarray,
                     finite: np.ndarray) -> np.ndarray | None:
    """The population of each (sorted) month, matched by month for a Series; None without one."""
    if population is None:
        return None
    if isinstance(population, pd.Series):
        pop_series = pd.Series(population.to_numpy(dtype=float),
                               index=to_months(population.index, "population.index"))
        if pop_series.index.has_duplicates:
            raise ValueError("`population` has repeated months in its index")
        pop_all = pop_series.reindex(month_idx).to_numpy(dtype=float)
    else:
        pop_arr = to_float_array(population, "population")
        if len(pop_arr) == 1:
            pop_all = np.repeat(pop_arr[0], len(order))
        elif len(pop_arr) == len(order):
            pop_all = pop_arr[order]
        else:
            raise ValueError(f"`population` has length {len(pop_arr)} but `counts` has length {len(order)}")
    if np.any(~np.isnan(pop_all[finite]) & (pop_all[finite] <= 0)):
        raise ValueError("`population` must be positive")
    if np.any(np.isnan(pop_all[finite])):
        missing = month_idx[finite & np.isnan(pop_all)]
        raise ValueError(f"`population` is missing for month(s) {', '.join(map(str, missing[:5]))}")
    return pop_all


def _select_months(month_idx: pd.PeriodIndex, finite: np.ndarray, exclude: Any) -> tuple[np.ndarray, list]:
    """The months the model uses (non-missing, not excluded) and the excluded months that had counts."""
    excluded: list = []
    used = finite.copy()
    if exclude is not None:
        excl = to_months(exclude, "exclude")
        is_excl = month_idx.isin(excl)
        excluded = [m for m in month_idx[is_excl & finite]]
        used &= ~is_excl
    return used, excluded


def _design_model(month_idx: pd.PeriodIndex, y_all: np.ndarray, used: np.ndarray, seasonality: str | None,
                  harmonics: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Design matrix for every month (time in years from the first used month, seasonal terms),
    its column names and the calendar months present; raises when the used months are too few."""
    m_used = month_idx[used]
    n = int(used.sum())
    if n == 0:
        raise ValueError("`counts` has no usable months")
    origin = int(month_number(m_used).min())
    present_months = np.sort(np.unique(m_used.month.to_numpy()))
    X_all, names = _design(month_idx, origin, seasonality, harmonics, present_months)
    X = X_all[used]
    p = X.shape[1]
    if n < p + 2 or np.linalg.matrix_rank(X) < p:
        hint = " Try seasonality='fourier' or None." if seasonality == "month" else ""
        raise ValueError(
            f"`counts` has {n} usable months, too few for this model ({p} parameters; at least "
            f"{p + 2} months spanning more than one year are needed).{hint}"
        )
    return X_all, names, present_months


def _fit_model(y: np.ndarray, X: np.ndarray, names: list[str], offset: np.ndarray, family: str, variance: str):
    """Fit the count regression with :func:`csp_analysis.count_engine.fit_count_model`."""
    Xdf = pd.DataFrame(X, columns=names)
    pois = sm.GLM(y, Xdf, family=sm.families.Poisson(), offset=offset).fit()
    return fit_count_model(y, Xdf, offset, family, variance=variance, negbin_alpha="moment",
                           model_df="resid", poisson_fit=pois)


def _reference_distribution(fit, confidence: float):
    """Critical value and two-sided p-value function: normal without ``df_t``, else t on ``df_t``."""
    if fit.df_t is None:
        q = stats.norm.ppf(0.5 + confidence / 2)
        p_fun = lambda zz: 2 * stats.norm.sf(abs(zz))  # noqa: E731
    else:
        df_t = fit.df_t
        q = stats.t.ppf(0.5 + confidence / 2, df_t)
        p_fun = lambda zz: 2 * stats.t.sf(abs(zz), df_t)  # noqa: E731
    return q, p_fun


def _describe_method(fit, family: str, variance: str, seasonality: str | None, harmonics: int,
                     has_population: bool) -> str:
    """The ``method`` text: family, standard errors, seasonal terms and offset."""
    alpha = np.nan if fit.alpha_nb is None else fit.alpha_nb
    method = {"poisson": "Poisson GLM (log link)",
              "quasipoisson": "quasi-Poisson GLM (log link, Pearson dispersion",
              "negbin": "negative binomial (NB2) GLM, dispersion by the Pearson moment estimator"}[family]
    if variance == "ar":
        method += ("" if family != "quasipoisson" else ")") + (
            f", autocorrelation-robust standard errors (residual lag-1 correlation "
            f"{fit.serial['lag1']:.2f}), t intervals ({fit.df_t:.0f} df)")
    else:
        method += {"poisson": "", "quasipoisson": ", t intervals)", "negbin": ", t intervals"}[family]
    if family == "negbin" and alpha == 0.0:
        method += " (no overdispersion found: Poisson fit)"
    season_text = {"month": "month-of-year indicators", "fourier": f"{harmonics} Fourier harmonic(s)",
                   None: "no seasonal terms"}[seasonality]
    return method + f"; {season_text}" + ("; population offset" if has_population else "")


def _assemble_fitted(y_all, used, month_idx, X_all, names, offset_all, params, cov, q, seasonality,
                     present_months, pop_all) -> pd.DataFrame:
    """Per-month observed and fitted values with delta-method limits on the linear predictor, and
    the deseasonalised trend (the seasonal terms averaged out)."""
    def _predict(design: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        eta = design @ params + offset_all
        eta_se = np.sqrt(np.einsum("ij,jk,ik->i", design, cov, design))
        return np.exp(eta), np.exp(eta - q * eta_se), np.exp(eta + q * eta_se)

    fit_mu, fit_lo, fit_hi = _predict(X_all)
    trend_mu, _, _ = _predict(_seasonal_average_design(X_all, names, seasonality))
    if seasonality == "month":
        # calendar months never observed have no seasonal estimate
        unseen = ~np.isin(month_idx.month.to_numpy(), present_months)
        fit_mu[unseen] = fit_lo[unseen] = fit_hi[unseen] = np.nan
    fitted = pd.DataFrame(
        {"observed": y_all, "used": used, "fitted": fit_mu, "fitted_lower": fit_lo,
         "fitted_upper": fit_hi, "trend": trend_mu},
        index=pd.PeriodIndex(month_idx, name="month"),
    )
    if pop_all is not None:
        fitted["population"] = pop_all
    return fitted


def plot_count_trend(result: CountTrendResult, title: str | None = None,
                     ylabel: str = "Records per month", ax=None):
    """Plot observed monthly counts with the fitted model and its trend line.

    Parameters
    ----------
    result : CountTrendResult
        From :func:`fit_count_trend`.
    title : str, optional
        Axes title.
    ylabel : str, default "Records per month"
        Y-axis label (unit).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, CountTrendResult):
        raise ValueError("`result` must be the CountTrendResult returned by fit_count_trend()")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    f = result.fitted
    x = f.index.to_timestamp()
    used = f["used"].to_numpy()
    ax.plot(x[used], f["observed"][used], "o", color="black", markersize=4, label="Recorded (used)")
    if (~used & f["observed"].notna()).any():
        mask = ~used & f["observed"].notna().to_numpy()
        ax.plot(x[mask], f["observed"][mask], "x", color="tab:red", markersize=6, label="Excluded month")
    ax.plot(x, f["fitted"], color="tab:blue", linewidth=1, label="Model (with seasonality)")
    ax.plot(x, f["trend"], color="tab:orange", linewidth=2, label="Trend")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("Month")
    row = result.table.iloc[0]
    ax.set_title(title or f"Annual change {row['value']:+.1f}% "
                 f"({confidence_label(row['confidence'])} CI {row['lower']:+.1f}% to {row['upper']:+.1f}%)")
    ax.legend(loc="best", fontsize="small")
    return ax
