"""Proportions, crude rates and rate comparisons with confidence intervals.

The methods follow the conventions used for Fingertips indicators (PHE/OHID
"Technical Guide: Confidence Intervals", 2018; APHO Technical Briefing 3) so
that figures in CSP reports agree with published public-health statistics:

* proportions: Wilson score interval;
* crude rates: exact Poisson limits below 10 events, Byar's approximation from
  10 events;
* comparing two counts or two rates: the exact conditional (binomial) method,
  i.e. conditional on the total the first count is binomial, with
  Clopper-Pearson limits transformed to the rate ratio.

All functions accept scalars, NumPy arrays or pandas Series (broadcast against
each other) and return a DataFrame with one row per input element. When a
Series is supplied its index is kept. Missing inputs (NaN/None) give NaN
outputs; impossible inputs raise ``ValueError`` naming the argument.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc 22:209-212.
Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, Vol II.
    IARC Scientific Publications 82 (Byar's approximation, p. 69).
Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits
    illustrated in the case of the binomial. Biometrika 26:404-413.
Ulm K (1990). A simple method to calculate the confidence interval of a
    standardized mortality ratio. Am J Epidemiol 131:373-375 (exact Poisson
    limits from the chi-squared distribution).
Public Health England (2018). Technical Guide: Confidence Intervals.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import formatting as _fmt
from .contract import default_sentence, standardise as _standardise

__all__ = [
    "proportion_ci",
    "rate_ci",
    "count_ci",
    "compare_periods",
    "rate_ratio",
    "format_p_value",
    "format_count",
]

#: Counts below this use exact Poisson limits in :func:`rate_ci` (PHE convention).
EXACT_BELOW = 10


# ----------------------------------------------------------------------------
# input handling shared by the statistics modules
# ----------------------------------------------------------------------------
def _check_confidence(confidence: float, name: str = "confidence") -> float:
    """Return ``confidence`` as a float in (0, 1) or raise ValueError
    (:func:`csp_analysis.formatting.check_confidence`)."""
    return _fmt.check_confidence(confidence, name)


def check_positive_scalar(value: float, name: str) -> float:
    """Return ``value`` as a positive finite float or raise a ValueError naming it."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out


def _to_float_array(value: Any, name: str) -> np.ndarray:
    if value is None:
        return np.array(np.nan)
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "USb":
        if arr.dtype.kind == "b":
            return arr.astype(float)
        try:
            arr = pd.to_numeric(pd.Series(arr.ravel()), errors="raise").to_numpy(dtype=float).reshape(arr.shape)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric; got values such as {arr.ravel()[:3].tolist()!r}") from None
        return arr
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(float)


def prepare_inputs(args: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], pd.Index]:
    """Broadcast named inputs to 1-d float arrays and find the index to use.

    The index of the first pandas Series among the inputs is kept; otherwise a
    RangeIndex. Inputs of incompatible lengths raise a ValueError naming them.
    """
    index = None
    arrays = {}
    for name, value in args.items():
        if index is None and isinstance(value, pd.Series):
            index = value.index
        arrays[name] = _to_float_array(value, name)
    try:
        broadcast = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{k} has shape {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"inputs cannot be broadcast together: {shapes}") from None
    out = {k: np.atleast_1d(v).astype(float).ravel().copy() for k, v in zip(arrays, broadcast)}
    length = len(next(iter(out.values())))
    if index is None:
        index = pd.RangeIndex(length)
    elif len(index) != length:
        raise ValueError(f"inputs broadcast to length {length} but a Series has {len(index)} elements")
    for name, value in args.items():
        if isinstance(value, pd.Series) and not value.index.equals(index) and len(value) == length:
            # positional use is ambiguous with misaligned Series; insist on alignment
            raise ValueError(f"{name} has a different index from the other Series; align them first")
    return out, index


def _check_nonnegative(arr: np.ndarray, name: str) -> None:
    bad = np.isfinite(arr) & (arr < 0)
    if bad.any() or np.isinf(arr).any():
        raise ValueError(f"{name} must be non-negative and finite; got {arr[bad | np.isinf(arr)][:3].tolist()}")


def _check_positive(arr: np.ndarray, name: str) -> None:
    bad = ~np.isnan(arr) & ~(arr > 0)
    if bad.any() or np.isinf(arr).any():
        raise ValueError(f"{name} must be greater than zero and finite; got {arr[bad | np.isinf(arr)][:3].tolist()}")


# ----------------------------------------------------------------------------
# formatting helpers for plain-English sentences
# ----------------------------------------------------------------------------
def format_p_value(p: float) -> str:
    """Format a p-value for a report sentence, e.g. ``"p = 0.041"``.

    ``p < 0.001`` below 0.001; three decimals below 0.01; two decimals
    otherwise; ``p > 0.99`` at the top (:func:`csp_analysis.formatting.format_p_value`).
    """
    return _fmt.format_p_value(p)


def format_count(x: float) -> str:
    """Format a count with thousands separators (one decimal if not whole)."""
    return _fmt.format_count(x)


def _pct(v: float) -> str:
    return _fmt.format_percent(v)


def _rate_sentence(row: pd.Series) -> str:
    mult = row.get("multiplier")
    what = f"Rate per {_fmt.format_number(float(mult), 0)}" if pd.notna(mult) else "Rate"
    return default_sentence(row, what)


# ----------------------------------------------------------------------------
# primitive limits
# ----------------------------------------------------------------------------
def wilson_limits(x: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits via statsmodels (vectorised; NaN-safe)."""
    from statsmodels.stats.proportion import proportion_confint

    lower = np.full(x.shape, np.nan)
    upper = np.full(x.shape, np.nan)
    ok = np.isfinite(x) & np.isfinite(n)
    if ok.any():
        lo, hi = proportion_confint(x[ok], n[ok], alpha=1 - confidence, method="wilson")
        lower[ok] = np.clip(lo, 0.0, 1.0)
        upper[ok] = np.clip(hi, 0.0, 1.0)
    # the Wilson limits are exactly 0 at x = 0 and 1 at x = n (rounding left e.g. 2e-19 above the estimate)
    lower[ok & (x == 0)] = 0.0
    upper[ok & (x == n)] = 1.0
    return lower, upper


def _exact_poisson_limits(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson limits for a count: chi2_{a/2,2x}/2, chi2_{1-a/2,2x+2}/2."""
    alpha = 1 - confidence
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        lower = np.where(x > 0, stats.chi2.ppf(alpha / 2, 2 * x) / 2, 0.0)
        upper = stats.chi2.ppf(1 - alpha / 2, 2 * x + 2) / 2
    lower = np.where(np.isnan(x), np.nan, lower)
    return lower, upper


def _byars_limits(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximation to the exact Poisson limits.

    Hand-written because neither SciPy nor statsmodels implements it; it is
    the Fingertips convention for counts of 10 or more (Breslow & Day 1987).
    A negative lower limit (only possible for very small counts) is NaN, as in
    PHEindicatormethods.
    """
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = x * (1 - 1 / (9 * x) - z / (3 * np.sqrt(x))) ** 3
        x1 = x + 1
        upper = x1 * (1 - 1 / (9 * x1) + z / (3 * np.sqrt(x1))) ** 3
    lower = np.where(lower < 0, np.nan, lower)
    return lower, upper


def poisson_limits(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact limits for x < 10, Byar's from 10; returns (lower, upper, method)."""
    x = np.asarray(x, dtype=float)
    ex_lo, ex_hi = _exact_poisson_limits(x, confidence)
    by_lo, by_hi = _byars_limits(np.where(x >= EXACT_BELOW, x, np.nan), confidence)
    use_exact = x < EXACT_BELOW
    lower = np.where(use_exact, ex_lo, by_lo)
    upper = np.where(use_exact, ex_hi, by_hi)
    method = np.where(np.isnan(x), None, np.where(use_exact, "exact", "byars")).astype(object)
    lower = np.where(np.isnan(x), np.nan, lower)
    upper = np.where(np.isnan(x), np.nan, upper)
    return lower, upper, method


# private names kept for importers written before the public ones
_check_positive_scalar = check_positive_scalar
_prepare = prepare_inputs
_wilson_limits = wilson_limits
_poisson_limits = poisson_limits


# ----------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------
def proportion_ci(x, n, confidence: float = 0.95, multiplier: float = 1) -> pd.DataFrame:
    """Proportion with a Wilson score confidence interval.

    Parameters
    ----------
    x : scalar, array-like or Series
        Numerator (number with the characteristic). Non-integer values are
        allowed (as in PHEindicatormethods), but must lie in ``[0, n]``.
    n : scalar, array-like or Series
        Denominator, greater than zero.
    confidence : float, default 0.95
        Two-sided confidence level, between 0 and 1.
    multiplier : float, default 1
        Scale for ``value``, ``lower`` and ``upper`` (1 = proportion 0-1,
        100 = percentage).

    Returns
    -------
    DataFrame
        One row per input element with columns ``x``, ``n``, ``value``,
        ``lower``, ``upper``, ``confidence``, ``multiplier``, ``method``
        (``"wilson"``). Missing inputs give NaN outputs.

    Notes
    -----
    The Wilson score interval (Wilson 1927) is used for every count; it
    behaves well for small numerators and near 0 or 1, so no switch is needed.
    Limits are computed with :func:`statsmodels.stats.proportion.proportion_confint`;
    they equal the PHE formula ``(2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2))``.

    References
    ----------
    Wilson EB (1927). J Am Stat Assoc 22:209-212.
    Newcombe RG (1998). Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Stat Med 17:857-872.

    Examples
    --------
    >>> proportion_ci(65, 100)[["value", "lower", "upper"]].round(6).values.tolist()
    [[0.65, 0.552544, 0.736358]]
    """
    confidence = _check_confidence(confidence)
    multiplier = check_positive_scalar(multiplier, "multiplier")
    arr, index = prepare_inputs({"x": x, "n": n})
    x_, n_ = arr["x"], arr["n"]
    _check_nonnegative(x_, "x")
    _check_positive(n_, "n")
    over = np.isfinite(x_) & np.isfinite(n_) & (x_ > n_)
    if over.any():
        raise ValueError(f"x must not exceed n for a proportion; first offending pair x={x_[over][0]}, n={n_[over][0]}")
    lower, upper = wilson_limits(x_, n_, confidence)
    out = pd.DataFrame(
        {
            "x": x_,
            "n": n_,
            "value": x_ / n_ * multiplier,
            "lower": lower * multiplier,
            "upper": upper * multiplier,
            "confidence": confidence,
            "multiplier": multiplier,
            "method": "wilson",
        },
        index=index,
    )
    return _standardise(out, count="x", denominator="n", what="Proportion")


def count_ci(x, confidence: float = 0.95, method: str = "auto") -> pd.DataFrame:
    """Confidence interval for a Poisson count.

    Parameters
    ----------
    x : scalar, array-like or Series
        Observed count (non-negative; non-integer values are allowed).
    confidence : float, default 0.95
        Two-sided confidence level.
    method : {"auto", "exact", "byars"}
        ``"auto"`` (default) switches from exact to Byar's at 10 events, the
        PHE convention. ``"exact"`` uses chi-squared limits for every count,
        ``"byars"`` Byar's approximation for every count (a negative lower
        limit, possible for x = 1 at high confidence, is NaN).

    Returns
    -------
    DataFrame
        Columns ``x``, ``value`` (= x), ``lower``, ``upper``, ``confidence``,
        ``method``.

    References
    ----------
    Breslow NE, Day NE (1987), IARC Sci Publ 82, p. 69 (Byar's).
    Ulm K (1990). Am J Epidemiol 131:373-375 (exact limits).
    """
    confidence = _check_confidence(confidence)
    if method not in ("auto", "exact", "byars"):
        raise ValueError(f"method must be 'auto', 'exact' or 'byars', got {method!r}")
    arr, index = prepare_inputs({"x": x})
    x_ = arr["x"]
    _check_nonnegative(x_, "x")
    if method == "auto":
        lower, upper, used = poisson_limits(x_, confidence)
    elif method == "exact":
        lower, upper = _exact_poisson_limits(x_, confidence)
        used = np.where(np.isnan(x_), None, "exact").astype(object)
    else:
        lower, upper = _byars_limits(x_, confidence)
        used = np.where(np.isnan(x_), None, "byars").astype(object)
    out = pd.DataFrame(
        {"x": x_, "value": x_, "lower": lower, "upper": upper, "confidence": confidence, "method": used},
        index=index,
    )
    return _standardise(out, count="x", what="Count")


def rate_ci(x, n, multiplier: float = 1000, confidence: float = 0.95) -> pd.DataFrame:
    """Crude rate per ``multiplier`` with a Poisson confidence interval.

    Parameters
    ----------
    x : scalar, array-like or Series
        Number of events (non-negative).
    n : scalar, array-like or Series
        Denominator (population or person-time), greater than zero. Events
        may exceed the denominator (repeat events).
    multiplier : float, default 1000
        Rate per this many of the denominator (1000 = per 1,000 residents).
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    DataFrame
        One row per input with columns ``x``, ``n``, ``value``, ``lower``,
        ``upper``, ``confidence``, ``multiplier``, ``method``.

    Notes
    -----
    **The method switches with the count**: exact Poisson limits
    (chi-squared, Ulm 1990) when ``x < 10`` and Byar's approximation when
    ``x >= 10``; the ``method`` column says ``"exact"`` or ``"byars"`` per
    row. This is the convention of PHE Fingertips / PHEindicatormethods
    ``phe_rate``. The denominator is treated as fixed (no allowance for
    uncertainty in population estimates).

    References
    ----------
    Breslow NE, Day NE (1987). Statistical Methods in Cancer Research II.
    IARC Sci Publ 82.
    Public Health England (2018). Technical Guide: Confidence Intervals.

    Examples
    --------
    >>> rate_ci(65, 100, multiplier=100)[["value", "lower", "upper", "method"]].round(4).values.tolist()
    [[65.0, 50.1632, 82.8491, 'byars']]
    """
    confidence = _check_confidence(confidence)
    multiplier = check_positive_scalar(multiplier, "multiplier")
    arr, index = prepare_inputs({"x": x, "n": n})
    x_, n_ = arr["x"], arr["n"]
    _check_nonnegative(x_, "x")
    _check_positive(n_, "n")
    lower, upper, method = poisson_limits(x_, confidence)
    method = np.where(np.isnan(n_), None, method).astype(object)
    out = pd.DataFrame(
        {
            "x": x_,
            "n": n_,
            "value": x_ / n_ * multiplier,
            "lower": lower / n_ * multiplier,
            "upper": upper / n_ * multiplier,
            "confidence": confidence,
            "multiplier": multiplier,
            "method": method,
        },
        index=index,
    )
    return _standardise(out, count="x", denominator="n", sentence=lambda r: _rate_sentence(r))


def _exact_conditional(x1, n1, x2, n2, confidence):
    """Exact conditional rate ratio: x1 | x1 + x2 ~ Binomial(x1 + x2, pi).

    pi = R k / (1 + R k) with k = n1 / n2, so R = pi / (1 - pi) / k.
    Clopper-Pearson limits for pi (beta quantiles) map to the ratio; the
    two-sided p-value is scipy.stats.binomtest at pi0 = k / (1 + k).

    Hand-written rather than taken from statsmodels: ``test_poisson_2indep``
    has the exact conditional *test* (``method="exact-cond"``), but
    ``confint_poisson_2indep`` offers no exact conditional *interval* (its
    ``"exact-cond"`` method is listed as "NOT YET" in statsmodels 0.15), and the report needs the test and
    the interval from the same method, as R's ``poisson.test`` gives them. The
    interval is the Clopper-Pearson interval of the binomial proportion
    (beta quantiles), mapped to the rate ratio; it is vectorised here, and
    the tests check it against ``poisson.test``.
    """
    alpha = 1 - confidence
    total = x1 + x2
    k = n1 / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (x1 / n1) / (x2 / n2)
        pi_lo = np.where(x1 > 0, stats.beta.ppf(alpha / 2, x1, x2 + 1), 0.0)
        pi_hi = np.where(x2 > 0, stats.beta.ppf(1 - alpha / 2, x1 + 1, x2), 1.0)
        lower = pi_lo / (1 - pi_lo) / k
        upper = np.where(pi_hi >= 1, np.inf, pi_hi / (1 - pi_hi) / k)
    p = np.full(x1.shape, np.nan)
    for i in range(len(x1)):
        if not np.all(np.isfinite([x1[i], x2[i], n1[i], n2[i]])):
            continue
        if total[i] == 0:
            p[i] = 1.0
            continue
        p[i] = stats.binomtest(int(round(x1[i])), int(round(total[i])), k[i] / (1 + k[i])).pvalue
    zero = total == 0
    ratio = np.where(zero, np.nan, ratio)
    lower = np.where(zero, 0.0, lower)
    upper = np.where(zero, np.inf, upper)
    return ratio, lower, upper, p


def _wald_log(x1, n1, x2, n2, confidence):
    """Log-normal (Wald on the log scale) rate ratio; undefined with a zero count."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (x1 / n1) / (x2 / n2)
        se = np.sqrt(1 / x1 + 1 / x2)
        ok = (x1 > 0) & (x2 > 0)
        log_r = np.log(ratio)
        lower = np.where(ok, np.exp(log_r - z * se), np.nan)
        upper = np.where(ok, np.exp(log_r + z * se), np.nan)
        p = np.where(ok, 2 * stats.norm.sf(np.abs(log_r) / se), np.nan)
    return ratio, lower, upper, p


def quasi_score_test(x1, n1, x2, n2, phi, df, confidence):
    """Quasi-Poisson conditional score test and its inverted (Wilson-type) interval.

    Conditional on the total ``N = x1 + x2``, ``x1`` has mean ``N pi`` and, with counts whose
    variance is ``phi`` times their mean, variance ``phi N pi (1 - pi)`` (quasi-binomial;
    Wedderburn 1974, McCullagh & Nelder 1989 s. 4.5). The score statistic
    ``z = (x1 - N pi0) / sqrt(phi N pi0 (1 - pi0))`` is referred to N(0, 1) when ``phi`` is known
    or to Student's t with ``df`` degrees of freedom when ``phi`` was estimated on ``df``
    residual degrees of freedom. The interval is the set of pi the test does not reject: the
    Wilson score interval with critical value ``c = q sqrt(phi)`` (Wilson 1927), mapped to the
    ratio, so the test and the interval always agree. At ``phi = 1`` with no ``df`` this is the
    Poisson score test (the report uses the exact test there instead).

    Hand-written: statsmodels' two-sample Poisson tests have no dispersion argument.
    """
    alpha = 1 - confidence
    df = np.asarray(df, dtype=float)
    est = np.isfinite(df) & (df > 0)
    with np.errstate(invalid="ignore"):
        q = np.where(est, stats.t.ppf(1 - alpha / 2, np.where(est, df, 1.0)), stats.norm.ppf(1 - alpha / 2))
    total = x1 + x2
    k = n1 / n2
    pi0 = k / (1 + k)
    c2 = q * q * phi
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (x1 / n1) / (x2 / n2)
        z = (x1 - total * pi0) / np.sqrt(phi * total * pi0 * (1 - pi0))
        p = np.where(est, 2 * stats.t.sf(np.abs(z), np.where(est, df, 1.0)), 2 * stats.norm.sf(np.abs(z)))
        centre = (x1 + c2 / 2) / (total + c2)
        half = np.sqrt(c2) * np.sqrt(x1 * x2 / total + c2 / 4) / (total + c2)
        pi_lo = np.clip(centre - half, 0.0, 1.0)
        pi_hi = np.clip(centre + half, 0.0, 1.0)
        pi_lo = np.where(x1 == 0, 0.0, pi_lo)
        pi_hi = np.where(x2 == 0, 1.0, pi_hi)
        lower = pi_lo / (1 - pi_lo) / k
        upper = np.where(pi_hi >= 1, np.inf, pi_hi / (1 - pi_hi) / k)
    zero = total == 0
    ratio = np.where(zero, np.nan, ratio)
    p = np.where(zero, 1.0, np.minimum(p, 1.0))
    lower = np.where(zero, 0.0, lower)
    upper = np.where(zero, np.inf, upper)
    return ratio, lower, upper, p


_quasi_score = quasi_score_test  # private name kept for importers written before the public one


def rate_ratio(x1, n1, x2, n2, confidence: float = 0.95, method: str = "auto") -> pd.DataFrame:
    """Ratio of two Poisson rates, ``(x1/n1) / (x2/n2)``, with CI and p-value.

    Parameters
    ----------
    x1, n1 : scalar, array-like or Series
        Events and denominator (population or person-time) of the group of
        interest.
    x2, n2 : scalar, array-like or Series
        Events and denominator of the comparison (reference) group.
    confidence : float, default 0.95
        Two-sided confidence level.
    method : {"auto", "exact", "wald"}
        ``"exact"``: exact conditional method (see Notes). ``"wald"``:
        log-normal interval ``exp(log R +/- z sqrt(1/x1 + 1/x2))`` with a
        Wald z-test. ``"auto"`` (default) uses ``"exact"`` whenever both
        counts are whole numbers and ``"wald"`` otherwise (e.g. weighted or
        modelled counts, where the binomial conditioning does not apply).

    Returns
    -------
    DataFrame
        Columns ``x1``, ``n1``, ``x2``, ``n2``, ``ratio``, ``lower``,
        ``upper``, ``p_value``, ``confidence``, ``method`` (per row).

    Notes
    -----
    Exact conditional method: conditional on the total ``x1 + x2``, ``x1``
    is Binomial(``x1 + x2``, pi) with ``pi = R k / (1 + R k)``, ``k = n1/n2``.
    Clopper-Pearson limits for pi are transformed to the ratio and the
    two-sided p-value is the exact binomial test of ``pi0 = k / (1 + k)``
    (:func:`scipy.stats.binomtest`). This is R's ``poisson.test`` for two
    samples. It is exact (guaranteed coverage, slightly conservative) for
    small counts and is cheap for any count, so it is used for all integer
    counts rather than switching to an approximation; for large counts it
    agrees with the log-normal interval to about three significant figures.

    Zero counts: ``x2 = 0`` gives ``ratio = inf`` and ``upper = inf``;
    ``x1 = 0`` gives ``ratio = 0`` and ``lower = 0``; both zero gives NaN
    ratio, interval (0, inf) and p = 1. The Wald method gives NaN limits
    when either count is zero.

    References
    ----------
    Breslow NE, Day NE (1987). Statistical Methods in Cancer Research II,
    IARC Sci Publ 82, section 2.3 (conditional binomial inference on rate
    ratios).
    Clopper CJ, Pearson ES (1934). Biometrika 26:404-413.
    Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology, 3rd ed.,
    ch. 14 (log-normal interval for the rate ratio).

    Examples
    --------
    R's documented ``poisson.test(c(11, 21), c(800, 3011))``:

    >>> r = rate_ratio(11, 800, 21, 3011)
    >>> r[["ratio", "lower", "upper", "p_value"]].round(5).values.tolist()
    [[1.97149, 0.85843, 4.27727, 0.07967]]
    """
    confidence = _check_confidence(confidence)
    if method not in ("auto", "exact", "wald"):
        raise ValueError(f"method must be 'auto', 'exact' or 'wald', got {method!r}")
    arr, index = prepare_inputs({"x1": x1, "n1": n1, "x2": x2, "n2": n2})
    a, na, b, nb = arr["x1"], arr["n1"], arr["x2"], arr["n2"]
    _check_nonnegative(a, "x1")
    _check_nonnegative(b, "x2")
    _check_positive(na, "n1")
    _check_positive(nb, "n2")
    whole = (np.mod(a, 1) == 0) & (np.mod(b, 1) == 0)
    if method == "exact" and not whole[np.isfinite(a) & np.isfinite(b)].all():
        raise ValueError("method='exact' needs whole-number counts in x1 and x2; use method='wald'")
    use_exact = whole if method == "auto" else np.full(a.shape, method == "exact")
    ex = _exact_conditional(np.where(use_exact, a, 0), na, np.where(use_exact, b, 0), nb, confidence)
    wd = _wald_log(a, na, b, nb, confidence)
    ratio, lower, upper, p = (np.where(use_exact, e, w) for e, w in zip(ex, wd))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(use_exact, (a / na) / (b / nb), ratio)
        ratio = np.where((a == 0) & (b == 0), np.nan, ratio)
    missing = ~(np.isfinite(a) & np.isfinite(b) & np.isfinite(na) & np.isfinite(nb))
    lower, upper, p = (np.where(missing, np.nan, v) for v in (lower, upper, p))
    method_col = np.where(missing, None, np.where(use_exact, "exact conditional", "wald log")).astype(object)
    out = pd.DataFrame(
        {
            "x1": a,
            "n1": na,
            "x2": b,
            "n2": nb,
            "ratio": ratio,
            "lower": lower,
            "upper": upper,
            "p_value": p,
            "confidence": confidence,
            "method": method_col,
        },
        index=index,
    )
    return _standardise(out, value="ratio", what="Rate ratio")


def _change_interval(pct: float, lo: float, hi: float) -> str:
    """The interval of a % change in the words of the estimate, as magnitudes.

    The same convention as the trend sentences (:mod:`csp_analysis.trends.count_model`):
    after "fell", the limits are sizes of the fall ("fell 10.5% (95% CI 2.9% to 17.5%)");
    after "rose", sizes of the rise; an interval that spans no change says so in words
    ("a fall of 26.0% to a rise of 9.8%").
    """
    if pct < 0 and hi <= 0:
        return f"{_pct(-hi)} to {_pct(-lo)}"
    if pct > 0 and lo >= 0:
        return f"{_pct(lo)} to {_pct(hi)}"
    return f"a fall of {_pct(-lo)} to a rise of {_pct(hi)}"


def _change_sentence(cur, prev, ce, pe, ratio, lower, upper, p, confidence) -> str:
    if not all(np.isfinite([cur, prev, ce, pe])):
        return "Not available: missing input."
    conf_pct = f"{confidence * 100:g}%"
    alpha = 1 - confidence
    same_exposure = math.isclose(ce, pe)
    if cur == 0 and prev == 0:
        return "No events in either period; no comparison is possible."
    excludes_one = (lower > 1) or (upper < 1)
    chance = (
        "unlikely to be chance" if (p < alpha and excludes_one) else "could be chance"
    ) + f" ({format_p_value(p)})"
    if prev == 0:
        return f"Rose from 0 to {format_count(cur)}; a percentage change from zero cannot be computed; {chance}."
    if ratio == 1:
        ci = f"({conf_pct} CI {_pct((lower - 1) * 100)} to {_pct((upper - 1) * 100)})"
        if cur == prev:
            return f"No change {ci}: {format_count(cur)} in both periods."
        return f"No change in the rate {ci} (events: {format_count(prev)} then {format_count(cur)})."
    pct = (ratio - 1) * 100
    verb = "Rose" if pct > 0 else "Fell"
    if not same_exposure:
        verb = "The rate " + verb.lower()
    size = "less than 0.1%" if abs(pct) < 0.05 else _pct(abs(pct))
    ci = f"({conf_pct} CI {_change_interval(pct, (lower - 1) * 100, (upper - 1) * 100)})"
    if same_exposure:
        counts = f"from {format_count(prev)} to {format_count(cur)}"
    else:
        counts = f"(events: {format_count(prev)} then {format_count(cur)})"
    return f"{verb} {size} {ci} {counts}; {chance}."


def compare_periods(
    current,
    previous,
    current_exposure=1,
    previous_exposure=1,
    confidence: float = 0.95,
    dispersion=1.0,
    dispersion_df=None,
) -> pd.DataFrame:
    """Compare two counts (e.g. this year against last year), allowing for over-dispersion.

    Parameters
    ----------
    current, previous : scalar, array-like or Series
        Counts in the current and previous periods (whole numbers).
    current_exposure, previous_exposure : scalar, array-like or Series, default 1
        Exposure of each period (population, days, months). With the default
        1 the counts themselves are compared; otherwise the rates
        ``count / exposure``.
    confidence : float, default 0.95
        Two-sided confidence level.
    dispersion : scalar, array-like or Series, default 1
        ``phi >= 1``: the variance of a period's count over its mean (1 = Poisson). Real
        12-month crime totals are over-dispersed; estimate ``phi`` from the partnership's
        monthly history with :func:`csp_analysis.dispersion.estimate_dispersion` (its
        ``value`` and ``df`` columns). NaN means 1.
    dispersion_df : scalar, array-like or Series, optional
        Residual degrees of freedom of an *estimated* ``dispersion``: the test and the
        interval then use Student's t with these degrees of freedom instead of the normal
        distribution, allowing for the uncertainty of the estimate. ``None`` (default) or
        NaN: ``dispersion`` is treated as known.

    Returns
    -------
    DataFrame
        One row per input with columns ``current``, ``previous``,
        ``current_exposure``, ``previous_exposure``, ``ratio`` (current rate /
        previous rate), ``lower``, ``upper`` (CI of the ratio),
        ``percent_change``, ``percent_lower``, ``percent_upper``,
        ``p_value``, ``confidence``, ``method``, ``dispersion``,
        ``dispersion_df`` and ``sentence``.

    Notes
    -----
    **The method switches with the dispersion** (the ``method`` column says which, per row):

    * ``dispersion == 1`` and no ``dispersion_df``: the exact conditional test below
      (``"exact conditional"``), unchanged. Pass ``dispersion_df`` also where an estimated
      dispersion was floored at 1: the score test with ``phi = 1`` and t on that df is then
      used, as the exact test there makes a family of comparisons too liberal (issue 10: the
      15 summary bullets after Holm reached 9-11% false positives at monthly dispersion 1.5,
      AR 0.5; 0.4-2.4% with the df kept);
    * otherwise the quasi-Poisson conditional score test (``"quasi-Poisson score (phi = 2.1)"``
      or ``"quasi-Poisson score, t on 34 df (phi = 2.1)"``): conditional on the total
      ``N``, ``current`` has variance ``phi N pi (1 - pi)``; ``z = (current - N pi0) /
      sqrt(phi N pi0 (1 - pi0))`` against N(0, 1), or Student's t on ``dispersion_df``
      degrees of freedom when ``phi`` was estimated; the interval is the inverted test (Wilson
      score interval with critical value ``q sqrt(phi)``), so the test and the interval agree.
      Calibration (``benchmarks/calib_rates.py``): with ``phi`` estimated by
      :func:`~csp_analysis.dispersion.estimate_dispersion` from 48 months, false positives
      3-7% and coverage 93-97% for monthly dispersion 1-3, AR(1) up to 0.5 and monthly means
      20-2000 (the exact Poisson test gives up to 25-40% false positives there).

    Exact conditional method (the same as :func:`rate_ratio` with integer
    counts): conditional on the total, ``current ~ Binomial(total, pi)``;
    Clopper-Pearson limits for pi are transformed to the rate ratio and the
    p-value is the two-sided exact binomial test (:func:`scipy.stats.binomtest`).
    Both counts are assumed Poisson; if counts are over-dispersed (e.g.
    clustered repeat incidents) the interval is too narrow.

    The sentence calls a change "unlikely to be chance" only when
    ``p < 1 - confidence`` **and** the interval excludes no change; the
    exact test and the Clopper-Pearson interval can very rarely disagree at
    the boundary, and the sentence then errs towards "could be chance".
    With ``previous = 0`` the ratio and upper limit are infinite and the
    sentence says that no percentage change can be computed. The interval is
    worded like the estimate, as magnitudes ("Fell 10.5% (95% CI 2.9% to
    17.5%)"), or "a fall of ... to a rise of ..." when it spans no change.

    References
    ----------
    Breslow NE, Day NE (1987). IARC Sci Publ 82, section 2.3.
    Clopper CJ, Pearson ES (1934). Biometrika 26:404-413.
    Wedderburn RWM (1974). Biometrika 61:439-447 (quasi-likelihood).
    McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed., s. 4.5 (quasi-Poisson
    dispersion and F/t tests with an estimated scale).
    Wilson EB (1927). J Am Stat Assoc 22:209-212 (score interval).

    Examples
    --------
    >>> compare_periods(3133, 2815)["sentence"].iloc[0][:20]
    'Rose 11.3% (95% CI 5'
    """
    confidence = _check_confidence(confidence)
    cur, prev, ce, pe, phi, ddf, index = _validate_periods(current, previous, current_exposure,
                                                           previous_exposure, dispersion, dispersion_df)
    ratio, lower, upper, p, method, quasi = _test_change(cur, prev, ce, pe, phi, ddf, confidence)
    sentences = _period_sentences(cur, prev, ce, pe, ratio, lower, upper, p, phi, ddf, quasi, confidence)
    out = pd.DataFrame(
        {
            "current": cur,
            "previous": prev,
            "current_exposure": ce,
            "previous_exposure": pe,
            "ratio": ratio,
            "lower": lower,
            "upper": upper,
            "percent_change": (ratio - 1) * 100,
            "percent_lower": (lower - 1) * 100,
            "percent_upper": (upper - 1) * 100,
            "p_value": p,
            "confidence": confidence,
            "method": method,
            "dispersion": phi,
            "dispersion_df": ddf,
            "sentence": sentences,
        },
        index=index,
    )
    return _standardise(out, value="ratio")


def _validate_periods(current, previous, current_exposure, previous_exposure, dispersion, dispersion_df):
    """Broadcast and check :func:`compare_periods`'s inputs: whole-number non-negative counts,
    positive exposures, dispersion >= 1 (NaN read as 1) and positive ``dispersion_df``."""
    arr, index = prepare_inputs(
        {
            "current": current,
            "previous": previous,
            "current_exposure": current_exposure,
            "previous_exposure": previous_exposure,
            "dispersion": dispersion,
            "dispersion_df": np.nan if dispersion_df is None else dispersion_df,
        }
    )
    cur, prev = arr["current"], arr["previous"]
    ce, pe = arr["current_exposure"], arr["previous_exposure"]
    phi, ddf = arr["dispersion"], arr["dispersion_df"]
    _check_nonnegative(cur, "current")
    _check_nonnegative(prev, "previous")
    _check_positive(ce, "current_exposure")
    _check_positive(pe, "previous_exposure")
    phi = np.where(np.isnan(phi), 1.0, phi)
    if (phi < 1).any() or np.isinf(phi).any():
        bad = phi[(phi < 1) | np.isinf(phi)][:3].tolist()
        raise ValueError(f"dispersion must be a finite number >= 1 (variance/mean); got {bad}")
    if (np.isfinite(ddf) & (ddf <= 0)).any():
        raise ValueError("dispersion_df must be greater than zero (or None when the dispersion is known)")
    for name, v in (("current", cur), ("previous", prev)):
        finite = v[np.isfinite(v)]
        if (np.mod(finite, 1) != 0).any():
            raise ValueError(f"{name} must contain whole-number counts for the exact conditional method")
    return cur, prev, ce, pe, phi, ddf, index


def _test_change(cur, prev, ce, pe, phi, ddf, confidence):
    """Exact conditional test, or the quasi-Poisson score test where a dispersion is given:
    ``(ratio, lower, upper, p, method, quasi)``."""
    rr = rate_ratio(cur, ce, prev, pe, confidence=confidence, method="exact")
    ratio, lower, upper, p = (rr[c].to_numpy() for c in ("ratio", "lower", "upper", "p_value"))
    quasi = (phi != 1) | np.isfinite(ddf)
    method = np.full(cur.shape, "exact conditional", dtype=object)
    if quasi.any():
        q = quasi_score_test(cur, ce, prev, pe, phi, ddf, confidence)
        ratio, lower, upper, p = (np.where(quasi, qv, ev) for qv, ev in zip(q, (ratio, lower, upper, p)))
        missing = ~(np.isfinite(cur) & np.isfinite(prev) & np.isfinite(ce) & np.isfinite(pe))
        lower, upper, p = (np.where(missing, np.nan, v) for v in (lower, upper, p))
        for i in np.flatnonzero(quasi):
            ref = f", t on {ddf[i]:.0f} df" if np.isfinite(ddf[i]) else ""
            method[i] = f"quasi-Poisson score{ref} (phi = {phi[i]:.2f})"
    return ratio, lower, upper, p, method, quasi


def _period_sentences(cur, prev, ce, pe, ratio, lower, upper, p, phi, ddf, quasi, confidence) -> list[str]:
    """One sentence per comparison, saying how the dispersion was allowed for."""
    with np.errstate(invalid="ignore"):
        sentences = [
            _change_sentence(*vals, confidence) for vals in zip(cur, prev, ce, pe, ratio, lower, upper, p)
        ]
        for i in np.flatnonzero(quasi):
            if not (np.isfinite(cur[i]) and np.isfinite(prev[i]) and (cur[i] + prev[i]) > 0):
                continue
            if phi[i] <= 1 and np.isfinite(ddf[i]):
                # an estimate floored at 1 is uncertain, not proof of Poisson counts (issue 10)
                sentences[i] = sentences[i][:-1] + (
                    "; the monthly history showed no variation beyond chance, but as that estimate is "
                    f"uncertain the interval allows for it (t on {ddf[i]:.0f} degrees of freedom).")
            else:
                sentences[i] = sentences[i][:-1] + (
                    f"; allowing for counts that vary {phi[i]:.1f} times as much as chance alone would give"
                    + (" (estimated from the monthly history)" if np.isfinite(ddf[i]) else "") + ".")
    return sentences
