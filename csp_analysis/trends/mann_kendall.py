"""Mann-Kendall trend tests and Sen's slope.

The Mann-Kendall test asks whether a series tends to go up (or down) over time
without assuming the change is linear or the data normal. Sen's slope is the
matching estimate of the size of the change: the median of the slopes between
all pairs of points.

Two tests are provided:

* :func:`mann_kendall` - the original test (Mann 1945; Kendall 1975) with the
  tie-corrected variance and a continuity correction, plus Sen's (1968) slope and
  its rank-based confidence interval.
* :func:`seasonal_mann_kendall` - the seasonal Kendall test of Hirsch, Slack &
  Smith (1982): the test is done within each season (e.g. calendar month) and the
  results summed, so a regular seasonal pattern is not mistaken for a trend. The
  slope is the seasonal Kendall slope estimator (median of the within-season
  slopes), in units per cycle (per year for monthly data).

Conventions (shared with pyMannKendall, Hussain & Mahmud 2019, whose fixtures are
used in the tests): missing values are dropped but the original time index is
kept for the slopes; ``tau`` is Kendall's tau-a ``S / (n(n-1)/2)``; the intercept
is ``median(x) - median(t) * slope``.

By default (``correction="ar1"``) both tests allow for serial correlation: the
variance of ``S`` is computed for AR(1)-correlated observations with the lag-1
correlation estimated from the series (bias-corrected for the fitted trend and
seasonal means); where the lag-1 and lag-2 residual products show a correlation that decays
more slowly, as counts give (Poisson noise plus correlated extra variation: ``w rho^k``), the
larger variance of that "AR(1) plus noise" model is used. Without it (``correction="none"``, the original tests) monthly
crime counts, which are autocorrelated, give 7-14% false positives at the 5% level
(``benchmarks/calib_rates.py``). The plain test on monthly crime counts is also
affected by seasonality; prefer
:func:`seasonal_mann_kendall` or :func:`~csp_analysis.trends.fit_count_trend`
for monthly series. With fewer than about 10 points the normal approximation for
``S`` is rough.

References
----------
Mann, H. B. (1945). Nonparametric tests against trend. *Econometrica* 13:245-259.
Kendall, M. G. (1975). *Rank Correlation Methods*, 4th ed. Griffin, London.
Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's
tau. *JASA* 63:1379-1389.
Hirsch, R. M., Slack, J. R. & Smith, R. A. (1982). Techniques of trend analysis
for monthly water quality data. *Water Resources Research* 18:107-121.
Gilbert, R. O. (1987). *Statistical Methods for Environmental Pollution
Monitoring*, chapters 16-17. Van Nostrand Reinhold, New York.
Hollander, M. & Wolfe, D. A. (1999). *Nonparametric Statistical Methods*, 2nd
ed., section 9.2. Wiley.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..contract import significance_level
from ._utils import (
    auto_digits,
    check_confidence,
    confidence_label,
    format_number,
    format_p,
    month_number,
    to_float_array,
)

__all__ = ["mann_kendall", "seasonal_mann_kendall"]

_RESULT_COLUMNS = [
    "trend", "h", "p_value", "z", "tau", "s", "var_s", "slope", "intercept",
    "value", "lower", "upper", "confidence", "method", "n", "unit", "sentence",
]


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------
def _series_times(x: Any, times: Any) -> tuple[np.ndarray, np.ndarray, str, bool]:
    """Return (values, times, unit, monthly) with missing values still present.

    ``monthly`` is True when the times are calendar months (so seasons are the
    calendar month of the year).
    """
    values = to_float_array(x, "x")
    if times is not None:
        t = to_float_array(times, "times", allow_nan=False)
        if len(t) != len(values):
            raise ValueError(f"`times` has length {len(t)} but `x` has length {len(values)}")
        return values, t, "time step", False
    if isinstance(x, pd.Series):
        index = x.index
        if isinstance(index, pd.PeriodIndex):
            if index.freqstr.startswith("M"):
                return values, month_number(index).astype(float), "month", True
            return values, np.asarray(index.asi8, dtype=float), "time step", False
        if isinstance(index, pd.DatetimeIndex):
            if index.hasnans:
                raise ValueError("`x` has missing timestamps in its index")
            if (index.day == 1).all() and (index.normalize() == index).all():
                return values, month_number(index.to_period("M")).astype(float), "month", True
            days = (index.normalize() - pd.Timestamp("1970-01-01")).days
            return values, np.asarray(days, dtype=float), "day", False
    return values, np.arange(len(values), dtype=float), "time step", False


def _prepare(x: Any, times: Any) -> tuple[np.ndarray, np.ndarray, float, str, bool]:
    """Sort by time, drop missing values; also return the origin for the intercept.

    The origin is 0 when ``times`` is given explicitly, otherwise the first time
    point of the series (missing values included), as in pyMannKendall.
    """
    values, t, unit, monthly = _series_times(x, times)
    order = np.argsort(t, kind="stable")
    values, t = values[order], t[order]
    if np.any(np.diff(t) == 0):
        raise ValueError("`times` (or the index of `x`) must not contain repeated time points")
    origin = 0.0 if (times is not None or len(t) == 0) else float(t[0])
    keep = ~np.isnan(values)
    return values[keep], t[keep], origin, unit, monthly


# ---------------------------------------------------------------------------
# core statistics (hand-written: scipy.stats.kendalltau gives tau-b and an
# uncorrected z, not S, its tie-corrected variance and the continuity-corrected
# z that the Mann-Kendall literature and R/pyMannKendall report)
# ---------------------------------------------------------------------------
def _mk_s(x: np.ndarray) -> float:
    """Mann-Kendall S = sum_{i<j} sign(x_j - x_i) for x in time order."""
    n = len(x)
    s = 0.0
    for i in range(n - 1):  # O(n) memory; fine for monthly/daily series
        s += np.sign(x[i + 1:] - x[i]).sum()
    return float(s)


def _mk_var(x: np.ndarray) -> float:
    """Variance of S under no trend, with the tie correction (Kendall 1975)."""
    n = len(x)
    _, counts = np.unique(x, return_counts=True)
    ties = counts[counts > 1].astype(float)
    return float((n * (n - 1) * (2 * n + 5) - np.sum(ties * (ties - 1) * (2 * ties + 5))) / 18.0)


def _mk_z(s: float, var_s: float) -> float:
    """Continuity-corrected normal score (S - sign(S)) / sqrt(var S)."""
    if var_s <= 0 or s == 0:
        return 0.0
    return float((s - np.sign(s)) / np.sqrt(var_s))


def _sen_interval(sorted_slopes: np.ndarray, var_s: float, confidence: float) -> tuple[float, float]:
    """Rank-based confidence interval for Sen's slope.

    With ``N`` ordered pairwise slopes and ``C = z_{(1+confidence)/2} sqrt(var S)``,
    the limits are the ``round((N - C)/2)``-th and ``round((N + C)/2) + 1``-th
    smallest slopes (Sen 1968 eq. 2.6; Gilbert 1987 section 16.5; the same ranks as
    ``scipy.stats.theilslopes`` and R ``trend::sens.slope``). Hand-written for the
    seasonal estimator, whose pooled within-season slopes scipy cannot form.
    """
    n_slopes = len(sorted_slopes)
    if n_slopes == 0 or var_s <= 0:
        return np.nan, np.nan
    c = stats.norm.ppf(0.5 + confidence / 2.0) * np.sqrt(var_s)
    lower_idx = max(int(np.round((n_slopes - c) / 2.0)) - 1, 0)
    upper_idx = min(int(np.round((n_slopes + c) / 2.0)), n_slopes - 1)
    return float(sorted_slopes[lower_idx]), float(sorted_slopes[upper_idx])


# ---------------------------------------------------------------------------
# serial correlation
# ---------------------------------------------------------------------------
#: Corrections for serial correlation: ours (default) and pyMannKendall's variants.
CORRECTIONS = ("ar1", "none", "hamed_rao", "yue_wang", "prewhitening", "trend_free_prewhitening",
               "hirsch_slack")


def _grid_residuals(values: np.ndarray, t: np.ndarray, period: int | None):
    """Residuals of the trend (+ season) fit on the integer time grid (missing months left
    out) and the cached expectations of :func:`_arma_expectations`; None when the series has
    fewer than 8 or more than 600 time points."""
    ti = np.round(t - t.min()).astype(int)
    n = int(ti.max()) + 1
    if n < 8 or n > 600:
        return None
    used = np.zeros(n, dtype=bool)
    used[ti] = True
    y = np.zeros(n)
    y[ti] = values
    m, e = _arma_expectations(n, bool(period and n >= 2 * period), period or 0, used.tobytes())
    return m @ y, e


def _ar1_estimate(values: np.ndarray, t: np.ndarray, period: int | None) -> float:
    """Lag-1 autocorrelation of the series about a linear trend (and calendar-month means when
    ``period`` is given), on the integer time grid, corrected for the bias of fitted residuals.

    The raw lag-1 autocorrelation of residuals from 14 fitted parameters on 48 months is biased
    well below the truth; the ratio of the lag-1 and lag-0 residual products is matched to its
    exact expectation ``tr(S M R M) / tr(M R M)`` under AR(1) errors ``R_ij = c^|i-j|`` (the
    method of :mod:`csp_analysis.dispersion`), on the grid 0 to 0.9. Negative values give 0.
    """
    from ..dispersion import RHO_GRID

    fit = _grid_residuals(values, t, period)
    if fit is None:
        return 0.0
    r, e = fit
    c0, c1 = float(r @ r), float(r[1:] @ r[:-1])
    if c0 <= 0:
        return 0.0
    curve = e[1][-1] / e[0][-1]  # w = 1: tr(S M R M) / tr(M R M)
    target = c1 / c0
    if target <= curve[0]:
        return 0.0
    if target >= curve[-1]:
        return float(RHO_GRID[-1])
    return float(np.interp(target, curve, RHO_GRID))


#: Grid of the share ``w`` of the variance that is correlated (AR(1) plus noise), see :func:`_arma_estimate`.
W_GRID = np.round(np.arange(0.1, 1.0001, 0.05), 2)


def _arma_estimate(values: np.ndarray, t: np.ndarray, period: int | None) -> tuple[float, float]:
    """Correlation ``w rho^k`` at lag ``k >= 1`` (AR(1) plus independent noise), fitted to the lag-1
    and lag-2 residual products by the exact-expectation method of :func:`_ar1_estimate`.

    Counts are Poisson noise plus correlated extra variation, so their autocorrelation decays as
    ``w rho^k`` (``w`` the extra share), slower than the ``c^k`` an AR(1) with the same lag-1
    correlation ``c = w rho`` gives; the AR(1) correction then understates the variance of S
    (8-9% false positives at dispersion 3, AR 0.5; ``benchmarks/calib_rates.py``). Returns
    ``(w, rho)``; ``(1, 0)`` when no positive correlation is found.
    """
    from ..dispersion import RHO_GRID

    fit = _grid_residuals(values, t, period)
    if fit is None:
        return 1.0, 0.0
    r, e = fit
    c0, c1, c2 = float(r @ r), float(r[1:] @ r[:-1]), float(r[2:] @ r[:-2])
    if c0 <= 0 or c1 <= 0:
        return 1.0, 0.0
    loss = (c1 / c0 - e[1] / e[0]) ** 2 + (c2 / c0 - e[2] / e[0]) ** 2
    i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
    return float(W_GRID[i]), float(RHO_GRID[j])


@functools.lru_cache(maxsize=64)
def _arma_expectations(n: int, seasonal: bool, period: int, used_bytes: bytes):
    """Residual maker of the trend (+ season) fit and ``E r' S_k r`` (k = 0, 1, 2) on
    ``W_GRID x RHO_GRID`` per unit variance: ``(1 - w) tr(S_k M) + w tr(S_k M R M)``. Cached: the
    reports and the benchmark test many series with the same months."""
    from ..dispersion import RHO_GRID, residual_maker

    used = np.frombuffer(used_bytes, dtype=bool)
    cols = [np.ones(n), np.arange(n, dtype=float) / n]
    if seasonal:
        season = np.arange(n) % period
        cols += [(season == k).astype(float) for k in range(1, period)]
    m = residual_maker(np.column_stack(cols), used)
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    powers = RHO_GRID[:, None, None] ** lag[None]
    powers[0] = (lag == 0)
    base = [float(np.trace(m)), float(np.trace(m, offset=1)), float(np.trace(m, offset=2))]
    rm = [np.einsum("gij,ij->g", powers, (m @ np.eye(n, k=-k) @ m).T) for k in range(3)]
    e = [(1.0 - W_GRID[:, None]) * base[k] + W_GRID[:, None] * rm[k][None, :] for k in range(3)]
    return m, e


def _var_s_ar1(t: np.ndarray, groups: np.ndarray, c: float, w: float = 1.0) -> float:
    """Variance of S = sum of sign(x_j - x_i) over the pairs i < j of the same group (season),
    for Gaussian AR(1) observations with lag-1 correlation ``c`` on the time scale ``t``.

    Uses ``Cov(sign U, sign V) = (2/pi) arcsin(corr(U, V))`` for jointly normal differences
    ``U = x_j - x_i``, ``V = x_l - x_k`` (Kendall 1975, ch. 5; the same identity gives the
    classical ``n(n-1)(2n+5)/18`` at ``c = 0``). Hand-written: pyMannKendall's corrections are
    non-parametric and, with four years of monthly data, either too liberal (Hamed-Rao,
    Yue-Wang on seasonal series) or far too conservative (Hirsch-Slack); see
    ``benchmarks/calib_rates.py``.
    """
    ii, jj = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        a, b = np.triu_indices(len(idx), k=1)
        ii.append(idx[a])
        jj.append(idx[b])
    ii, jj = np.concatenate(ii), np.concatenate(jj)
    ti, tj = t[ii], t[jj]
    def corr(lag):  # w rho^|lag| off the diagonal (w = 1: AR(1))
        return np.where(lag == 0, 1.0, w * c ** lag)

    var_p = 2.0 * (1.0 - corr(np.abs(tj - ti)))
    total = 0.0
    step = max(1, 4_000_000 // max(len(ii), 1))
    for s0 in range(0, len(ii), step):
        a_i, a_j, v_a = ti[s0:s0 + step, None], tj[s0:s0 + step, None], var_p[s0:s0 + step, None]
        cov = (corr(np.abs(a_j - tj[None])) - corr(np.abs(a_j - ti[None])) - corr(np.abs(a_i - tj[None]))
               + corr(np.abs(a_i - ti[None])))
        corr = np.clip(cov / np.sqrt(v_a * var_p[None]), -1.0, 1.0)
        total += float(np.sum(np.arcsin(corr))) * 2.0 / np.pi
    return total


def _hamed_rao_factor(n: int, c: float, w: float = 1.0) -> float:
    """Hamed & Rao (1998) variance factor ``n / n*`` with the rank autocorrelations of a
    Gaussian AR(1) series, ``rho_s(k) = (6/pi) arcsin(c^k / 2)`` (Kendall 1975), in place of
    estimated ones: O(n), for long plain series where the exact pair sum is too large."""
    k = np.arange(1, n)
    rho_s = 6.0 / np.pi * np.arcsin(w * c ** k / 2.0)
    return float(1.0 + 2.0 / (n * (n - 1) * (n - 2)) * np.sum((n - k) * (n - k - 1) * (n - k - 2) * rho_s))


def _corrected_var(values, t, groups, var_s, correction, period):
    """(var_s, c) after the AR(1) correction; the tie-corrected variance is scaled by
    ``V(c) / V(0)``: the exact pair sum for the seasonal test (up to 3,000 pairs), Hamed & Rao's
    factor with AR(1) rank correlations for the plain test."""
    c = _ar1_estimate(values, t, period)
    if c <= 0:
        return var_s, c
    w, rho = _arma_estimate(values, t, period)
    n_pairs = sum(int(np.sum(groups == g)) * (int(np.sum(groups == g)) - 1) // 2 for g in np.unique(groups))
    if len(np.unique(groups)) == 1 or n_pairs > 3000:
        # the plain test (all pairs), or a very long seasonal series: Hamed & Rao's O(n) factor
        factor = max(_hamed_rao_factor(len(values), c), _hamed_rao_factor(len(values), rho, w))
        return var_s * factor, c
    # the larger of the AR(1) and the AR(1)-plus-noise variances: the lag-2 product only ever adds
    v0 = _var_s_ar1(t, groups, 0.0)
    v1 = _var_s_ar1(t, groups, c)
    if rho > 0 and w * rho > 0:
        v1 = max(v1, _var_s_ar1(t, groups, rho, w))
    return var_s * v1 / v0, c


def _pairwise_slopes(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    dx = t[None, :] - t[:, None]
    dy = x[None, :] - x[:, None]
    upper = dx > 0
    return dy[upper] / dx[upper]


def _verdict(z: float, p: float, alpha: float) -> tuple[str, bool]:
    h = bool(p < alpha)
    if h and z > 0:
        return "increasing", h
    if h and z < 0:
        return "decreasing", h
    return "no trend", h


def _sentence(label: str, trend: str, slope: float, lower: float, upper: float, p: float,
              confidence: float, unit: str, test_name: str, season_word: str | None = None) -> str:
    """The plain-English result. ``season_word`` (seasonal test only) names the season,
    because the seasonal slope is the change per cycle in the value *for each season*
    (for monthly counts: in each calendar month's count, per year), not in the total
    over a cycle."""
    conf = confidence_label(confidence)
    d = auto_digits(slope, lower, upper)
    ci = f"{conf} CI {format_number(lower, d)} to {format_number(upper, d)}"
    per = f"a {unit}" if unit else ""
    if season_word:
        per += f" in each {season_word}"
    if trend == "no trend":
        return (
            f"{label} shows no clear upward or downward trend ({test_name} {format_p(p)}); "
            f"the estimated change is {format_number(slope, d)} {per} ({ci}), which could be chance."
        ).replace("  ", " ")
    direction = "upward" if trend == "increasing" else "downward"
    verb = "rose" if trend == "increasing" else "fell"
    return (
        f"{label} {verb} by about {format_number(abs(slope), d)} {per} "
        f"(Sen's slope {format_number(slope, d)}, {ci}); the {direction} trend is unlikely "
        f"to be chance ({test_name} {format_p(p)})."
    ).replace("  ", " ")


def _result_frame(row: dict) -> pd.DataFrame:
    return pd.DataFrame([row], columns=_RESULT_COLUMNS)


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------
def mann_kendall(
    x: Any,
    times: Any = None,
    confidence: float = 0.95,
    alpha: float | None = None,
    label: str = "The series",
    unit: str | None = None,
    correction: str = "ar1",
) -> pd.DataFrame:
    """Test for a monotonic trend (Mann-Kendall) and estimate Sen's slope.

    Parameters
    ----------
    x : array-like or pandas.Series
        Observations in time order. Missing values (NaN) are dropped but keep
        their place in time, so a missing month does not shorten the gaps around
        it. A Series indexed by month timestamps (first of the month) or a
        monthly ``PeriodIndex`` is placed on a month scale, so absent rows are
        treated as missing months; any other DatetimeIndex is placed on a day scale.
    times : array-like, optional
        Numeric time of each observation (overrides the index of ``x``). The
        slope is then per unit of ``times``.
    confidence : float, default 0.95
        Confidence level of the interval for Sen's slope.
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): the significance level used for ``h``
        and the ``trend`` verdict is ``1 - confidence`` unless ``alpha`` is given.
    label : str, default "The series"
        What the series is, for the sentence (e.g. "Recorded burglary").
    unit : str, optional
        Time unit for the sentence ("month", "day"); inferred from the index.
    correction : str, default "ar1"
        Allowance for serial correlation. ``"ar1"`` (default): the variance of ``S`` for
        AR(1)-correlated observations, with the lag-1 correlation estimated from the series
        about its trend (bias-corrected; 0 when negative), or of AR(1) plus noise (correlation
        ``w rho^k`` fitted to lags 1 and 2) where that variance is larger; also used for the
        slope interval.
        ``"none"``: the original test (independent observations; matches pyMannKendall's
        ``original_test``). ``"hamed_rao"``, ``"yue_wang"``, ``"prewhitening"``,
        ``"trend_free_prewhitening"``: pyMannKendall's variants (Hamed & Rao 1998; Yue & Wang
        2004; Yue & Wang 2002) for the test (``p_value``, ``z``, ``var_s``); the slope and
        its interval are then those of the original test.

    Returns
    -------
    pandas.DataFrame
        One row: ``trend`` ("increasing", "decreasing" or "no trend"), ``h``
        (True when p < alpha), ``p_value`` (two-sided), ``z``, ``tau`` (tau-a),
        ``s``, ``var_s``, ``slope`` (Sen, per time unit), ``intercept`` (the Sen
        line's value at the first time point of the series, or at ``times = 0``
        when ``times`` is given: ``median(x) - median(t) * slope``), ``value`` (= slope),
        ``lower``, ``upper`` (confidence interval for the slope), ``confidence``,
        ``method``, ``n`` (non-missing values), ``unit`` and ``sentence``.

    Notes
    -----
    ``S = sum_{i<j} sign(x_j - x_i)`` over the non-missing values in time order;
    ``var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18`` where ``t`` are the sizes
    of groups of tied values; ``z = (S - sign(S)) / sqrt(var S)`` and
    ``p = 2(1 - Phi(|z|))``. Sen's slope and its interval come from
    :func:`scipy.stats.theilslopes` (Sen 1968), whose interval uses the ranks
    ``round((N - C)/2)`` and ``round((N + C)/2) + 1`` of the ``N`` ordered slopes,
    ``C = z_{1-(1-confidence)/2} sqrt(var S)`` (Gilbert 1987, section 16.5;
    Hollander & Wolfe 1999, section 9.2). The test assumes independent
    observations: seasonal or autocorrelated series give too many false alarms.

    References
    ----------
    Mann (1945); Kendall (1975); Sen (1968); Gilbert (1987); see the module docstring.

    Examples
    --------
    >>> res = mann_kendall([3, 4, 4, 6, 5, 7, 8, 9, 9, 11])
    >>> res.loc[0, "trend"]
    'increasing'
    """
    confidence = check_confidence(confidence)
    alpha = significance_level(alpha, confidence, function="mann_kendall")
    values, t, origin, inferred_unit, _ = _prepare(x, times)
    n = len(values)
    if n < 3:
        raise ValueError(f"`x` needs at least 3 non-missing values for a trend test, got {n}")

    if correction not in CORRECTIONS or correction == "hirsch_slack":
        raise ValueError(f"`correction` must be one of {[c for c in CORRECTIONS if c != 'hirsch_slack']}, "
                         f"got {correction!r}")
    s, z, p, var_s, note = _test_trend(values, t, correction, alpha)
    tau = s / (n * (n - 1) / 2.0)
    trend, h = _verdict(z, p, alpha)

    slope, lower, upper = _sen_slope(values, t, var_s, correction, confidence)
    intercept = float(np.median(values) - np.median(t - origin) * slope)

    unit = unit if unit is not None else inferred_unit
    method = "Mann-Kendall test with Sen's slope (rank-based interval, Sen 1968)" + note
    sentence = _sentence(label, trend, slope, lower, upper, p, confidence, unit, "Mann-Kendall")
    return _result_frame(dict(
        trend=trend, h=h, p_value=p, z=z, tau=tau, s=s, var_s=var_s, slope=slope,
        intercept=intercept, value=slope, lower=lower, upper=upper,
        confidence=confidence, method=method, n=n, unit=unit, sentence=sentence,
    ))


def seasonal_mann_kendall(
    x: Any,
    period: int = 12,
    times: Any = None,
    confidence: float = 0.95,
    alpha: float | None = None,
    label: str = "The series",
    unit: str | None = None,
    correction: str = "ar1",
) -> pd.DataFrame:
    """Seasonal Kendall trend test and seasonal Sen slope (Hirsch, Slack & Smith 1982).

    The Mann-Kendall statistic is computed separately within each season (for
    monthly data, each calendar month: January against January, and so on) and
    the statistics and their variances are summed. The slope is the median of all
    within-season pairwise slopes, in units per cycle (per year for monthly data).

    Parameters
    ----------
    x : array-like or pandas.Series
        Observations. As in :func:`mann_kendall`, missing values (NaN) are dropped
        but keep their place; with a monthly index, absent months are missing and
        seasons are calendar months. With a plain array the first value is season
        0 of cycle 0.
    period : int, default 12
        Number of seasons per cycle (12 for monthly data).
    times : array-like of int, optional
        Integer time of each observation (overrides the index of ``x``).
    confidence : float, default 0.95
        Confidence level of the interval for the slope.
    alpha : float, optional
        Deprecated (a :class:`DeprecationWarning`): the significance level for ``h`` and
        ``trend`` is ``1 - confidence`` unless ``alpha`` is given.
    label : str, default "The series"
        What the series is, for the sentence.
    unit : str, optional
        Cycle unit for the sentence; "year" for monthly data with period 12.
    correction : {"ar1", "none", "hirsch_slack"}, default "ar1"
        Allowance for correlation between seasons (neighbouring months). ``"ar1"``
        (default): the variance of the summed ``S`` for AR(1)-correlated observations, with
        the lag-1 correlation estimated about the seasonal means and a linear trend
        (bias-corrected), or AR(1) plus noise (``w rho^k``, lags 1 and 2) where that gives
        more; it raises the covariance of neighbouring seasons' statistics that
        the original test ignores. ``"none"``: the original test (matches pyMannKendall's
        ``seasonal_test``). ``"hirsch_slack"``: pyMannKendall's
        ``correlated_seasonal_test`` (Hirsch & Slack 1984), which needs many years (with
        four it is far too cautious: about 1% false positives).

    Returns
    -------
    pandas.DataFrame
        One row with the same columns as :func:`mann_kendall`. ``tau`` is
        ``S / sum_k n_k(n_k-1)/2`` over seasons ``k``; ``slope`` is per cycle and
        ``intercept`` is the line's value at the first time point, with time
        measured in cycles.

    Notes
    -----
    ``S = sum_k S_k``, ``var(S) = sum_k var(S_k)`` (each with the tie correction),
    ``z = (S - sign(S))/sqrt(var S)``. Seasons are assumed independent of each
    other; if months are strongly correlated across seasons (e.g. a shared
    year-to-year fluctuation), the test is anti-conservative (Hirsch & Slack 1984
    give a correction, not implemented here). The slope interval uses the same
    rank rule as :func:`mann_kendall` with ``var(S)`` summed over seasons (Gilbert
    1987, section 17.6).

    References
    ----------
    Hirsch, Slack & Smith (1982); Gilbert (1987), chapter 17; Sen (1968).
    """
    confidence = check_confidence(confidence)
    alpha = significance_level(alpha, confidence, function="seasonal_mann_kendall")
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ValueError(f"`period` must be a positive integer, got {period!r}")
    period = int(period)
    values, t, origin, inferred_unit, monthly = _prepare(x, times)
    if np.any(t != np.round(t)):
        raise ValueError("`times` must be whole numbers for the seasonal test")
    rel = t - origin
    season = np.mod(rel, period).astype(int)

    s, var_s, pairs, slopes_arr = _seasonal_statistics(values, rel, season, period)
    if correction not in ("ar1", "none", "hirsch_slack"):
        raise ValueError(f"`correction` must be 'ar1', 'none' or 'hirsch_slack', got {correction!r}")
    z, p, var_s, note = _seasonal_test(values, t, rel, season, s, var_s, period, correction, alpha)
    tau = s / pairs
    trend, h = _verdict(z, p, alpha)
    slope = float(np.median(slopes_arr))
    lower, upper = _sen_interval(slopes_arr, var_s, confidence)
    intercept = float(np.median(values) - np.median(rel / period) * slope)

    if unit is None:
        unit = "year" if (monthly and period == 12) else "cycle"
    method = (
        "Seasonal Kendall test (Hirsch, Slack & Smith 1982) with seasonal Sen slope "
        "(rank-based interval, Gilbert 1987)" + note
    )
    season_word = "calendar month" if (monthly and period == 12) else "season"
    sentence = _sentence(label, trend, slope, lower, upper, p, confidence, unit, "seasonal Kendall",
                         season_word=season_word)
    return _result_frame(dict(
        trend=trend, h=h, p_value=p, z=z, tau=tau, s=s, var_s=var_s, slope=slope,
        intercept=intercept, value=slope, lower=lower, upper=upper,
        confidence=confidence, method=method, n=len(values), unit=unit, sentence=sentence,
    ))


def _seasonal_statistics(values: np.ndarray, rel: np.ndarray, season: np.ndarray, period: int):
    """Mann-Kendall ``S`` and its variance summed over the seasons, the number of pairs within
    seasons and the sorted within-season slopes (per cycle); raises with no season of two."""
    s = 0.0
    var_s = 0.0
    pairs = 0.0
    slopes = []
    for k in range(period):
        mask = season == k
        xk, tk = values[mask], rel[mask]
        nk = len(xk)
        if nk < 2:
            continue
        s += _mk_s(xk)
        var_s += _mk_var(xk)
        pairs += nk * (nk - 1) / 2.0
        slopes.append(_pairwise_slopes(xk, tk / period))
    if pairs == 0:
        raise ValueError(
            "`x` needs at least two non-missing values in the same season (two cycles) "
            "for the seasonal test"
        )
    return s, var_s, pairs, np.sort(np.concatenate(slopes))


def _seasonal_test(values: np.ndarray, t: np.ndarray, rel: np.ndarray, season: np.ndarray, s: float,
                   var_s: float, period: int, correction: str, alpha: float):
    """``z``, two-sided p-value, variance of ``S`` and a note for ``method`` under ``correction``:
    AR(1) between neighbouring seasons, none, or Hirsch-Slack via pyMannKendall."""
    note = ""
    if correction == "ar1":
        var_s, c = _corrected_var(values, t, season, var_s, correction, period)
        note = (f"; variance allows for correlation between neighbouring seasons (AR(1) or AR(1) plus noise, "
                f"lag-1 correlation "
                f"{c:.2f})" if c > 0 else "; no positive serial correlation found")
    z = _mk_z(s, var_s)
    p = float(2.0 * stats.norm.sf(abs(z)))
    if correction == "hirsch_slack":
        import pymannkendall as pmk

        grid = np.full(int(rel.max()) + 1, np.nan)
        grid[rel.astype(int)] = values
        res = pmk.correlated_seasonal_test(grid, period=period, alpha=alpha)
        z, p, var_s = float(res.z), float(res.p), float(res.var_s)
        note = "; Hirsch-Slack (1984) covariance between seasons (pyMannKendall)"
    return z, p, var_s, note


def _test_trend(values: np.ndarray, t: np.ndarray, correction: str, alpha: float):
    """Mann-Kendall ``S``, ``z``, two-sided p-value, variance of ``S`` and a note for ``method``
    under ``correction`` (AR(1) moments, none, or a pyMannKendall variant)."""
    n = len(values)
    s = _mk_s(values)
    var_s = _mk_var(values)
    note = ""
    if correction == "ar1":
        var_s, c = _corrected_var(values, t, np.zeros(n, dtype=int), var_s, correction, None)
        note = (f"; variance allows for serial correlation (AR(1) or AR(1) plus noise, lag-1 correlation "
                f"{c:.2f})" if c > 0 else
                "; no positive serial correlation found")
    z = _mk_z(s, var_s)
    p = float(2.0 * stats.norm.sf(abs(z)))
    if correction not in ("ar1", "none"):
        import pymannkendall as pmk

        fn = {"hamed_rao": pmk.hamed_rao_modification_test, "yue_wang": pmk.yue_wang_modification_test,
              "prewhitening": pmk.pre_whitening_modification_test,
              "trend_free_prewhitening": pmk.trend_free_pre_whitening_modification_test}[correction]
        res = fn(values, alpha=alpha)
        z, p, var_s = float(res.z), float(res.p), float(res.var_s)
        note = f"; {correction.replace('_', ' ')} variant (pyMannKendall)"
    return s, z, p, var_s, note


def _sen_slope(values: np.ndarray, t: np.ndarray, var_s: float, correction: str, confidence: float):
    """Sen's slope and its rank-based interval, widened when the AR(1) correction raised Var(S)."""
    # Sen's slope via scipy; its confidence interval uses the same tie-corrected
    # variance of S as the test (ties in the values; times are never tied here).
    sen = stats.theilslopes(values, t, alpha=confidence, method="separate")
    slope = float(sen.slope)
    lower, upper = float(sen.low_slope), float(sen.high_slope)
    if correction == "ar1" and var_s > _mk_var(values):
        lower, upper = _sen_interval(np.sort(_pairwise_slopes(values, t)), var_s, confidence)
    return slope, lower, upper
