"""Funnel plots: control limits, significance labels and outlier detection.

Two families of function live here.

* :func:`funnel_limits` and :func:`assign_funnel_significance` reproduce the
  PHE Fingertips / PHEindicatormethods (v2.1.0) funnel methods for
  proportions, ratios (observed / expected) and rates (crude or directly
  standardised), at 95% ("2s") and 99.8% ("3s") with no over-dispersion
  adjustment. Outputs are named as in PHEindicatormethods'
  ``calculate_funnel_limits``.
* :func:`funnel_outliers` compares observed counts with expected counts
  (indirectly standardised ratios, e.g. crimes against a model's
  expectation) using exact Poisson limits, optionally widened for
  over-dispersion with Spiegelhalter's multiplicative (phi) or additive
  random-effects (tau-squared) adjustment, and :func:`plot_funnel` draws the
  result.

References
----------
Spiegelhalter DJ (2005). Funnel plots for comparing institutional
    performance. Stat Med 24:1185-1202.
Spiegelhalter DJ (2005). Handling over-dispersion of performance indicators.
    Qual Saf Health Care 14:347-351.
Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, et al. (2012). Statistical
    methods for healthcare regulation: rating, screening and surveillance.
    J R Stat Soc A 175:1-47.
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin
    Trials 7:177-188.
NHS Digital (2020). Summary Hospital-level Mortality Indicator (SHMI)
    methodology specification (log transform, 10% truncation).
Public Health England. Fingertips technical guidance: funnel plots;
    PHEindicatormethods R package v2.1.0 (``calculate_funnel_limits``,
    ``assign_funnel_significance``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .contract import default_sentence, standardise
from .formatting import check_confidence, confidence_label, format_count, format_number
from .rates import check_positive_scalar as _positive
from .rates import poisson_limits, prepare_inputs, wilson_limits

__all__ = [
    "funnel_limits",
    "assign_funnel_significance",
    "funnel_ratio_limits",
    "estimate_overdispersion",
    "funnel_outliers",
    "plot_funnel",
]

_LEVELS = {"2s": 0.95, "3s": 0.998}
SIGNIFICANCE_LABELS = (
    "High (0.001)",
    "High (0.025)",
    "Low (0.001)",
    "Low (0.025)",
    "Not significant",
    "Not applicable for events less than 10 for dsrs",
)


# ----------------------------------------------------------------------------
# PHE-style funnel limits
# ----------------------------------------------------------------------------
def _r_nchar_integer(v: float) -> int:
    """Number of characters R's ``as.character`` gives for a whole number.

    R prints a whole number in scientific notation when that is strictly
    shorter (e.g. ``3e+05``); PHEindicatormethods' axis rounding uses
    ``nchar`` of that string, so we mimic it to reproduce its x-axis grid.
    """
    fixed = str(int(v))
    digits = fixed.lstrip("-").rstrip("0") or "0"
    exponent = len(fixed.lstrip("-")) - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sci = ("-" if fixed.startswith("-") else "") + f"{mantissa}e+{exponent:02d}"
    return len(sci) if len(sci) < len(fixed) else len(fixed)


def _signif_floor(x: float, percentage_down: float = 0.95) -> float:
    if x == 0:
        return 0.0
    n = _r_nchar_integer(math.floor(x * percentage_down)) - 1
    return math.floor(x * percentage_down / 10**n) * 10**n


def _signif_ceiling(x: float, percentage_up: float = 1.05) -> float:
    if x == 0:
        return 0.0
    n = _r_nchar_integer(math.ceil(x * percentage_up)) - 2
    return math.ceil(x * percentage_up / 10.0**n) * 10.0**n


def _phe_axis(axis_minimum: float, axis_maximum: float, statistic: str) -> np.ndarray:
    """The 100-point x-axis used by PHEindicatormethods (geometric spacing)."""
    values = [max(1.0, axis_minimum)]
    for j in range(2, 101):
        offset = j - 1 if statistic == "ratio" else j
        prev = values[-1]
        # Python's round() is round-half-even, as is R's round()
        values.append(max(float(round((axis_maximum / prev) ** (1 / (101 - offset)) * prev)), prev + 1))
    return np.array(values)


def _validate_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _rate_derived_denominator(num, den, rate, rate_type, multiplier):
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = multiplier * num / rate
    if rate_type == "dsr":
        derived = np.where(num == 0, np.nan, derived)
    elif den is not None:
        derived = np.where(num == 0, den, derived)
    return derived


def funnel_limits(
    numerator,
    denominator=None,
    rate=None,
    *,
    statistic: str,
    multiplier: float | None = None,
    ratio_type: str | None = None,
    rate_type: str | None = None,
    years_of_data: float | None = None,
    points=None,
) -> pd.DataFrame:
    """Funnel-plot control limits at 95% and 99.8% (PHE Fingertips method).

    Parameters
    ----------
    numerator : array-like or Series
        Proportions: numerators. Ratios: observed events. Rates: events.
    denominator : array-like or Series, optional
        Proportions: denominators. Ratios: expected events. Rates: the
        population, needed only when a crude rate has zero events.
    rate : array-like or Series, optional
        Rates only: the published rate per ``multiplier`` (DSR or crude).
    statistic : {"proportion", "ratio", "rate"}
        Type of indicator.
    multiplier : float
        Scale of the output (100 for percentages; 100000 for rates per
        100,000). Required for proportions and rates; for ratios only the
        ``ratio_type`` matters (``"isr"`` is per 100).
    ratio_type : {"count", "isr"}, optional
        Ratios only: ``"count"`` gives limits as O/E - 1, ``"isr"`` as
        100 x O/E.
    rate_type : {"dsr", "crude"}, optional
        Rates only. For DSRs records with zero events are left out of the
        baseline; for crude rates their ``denominator`` is used.
    years_of_data : float, optional
        Rates only: years the data cover (populations are shown per year).
    points : array-like, optional
        x-axis values at which to compute the limits (population for
        proportions, observed events for ratios and rates). By default the
        100-point axis of PHEindicatormethods is reproduced.

    Returns
    -------
    DataFrame
        One row per axis point. Proportions: ``population``,
        ``lower_2s_limit``, ``upper_2s_limit``, ``lower_3s_limit``,
        ``upper_3s_limit``, ``baseline``. Ratios: ``observed_events`` and for
        each limit ``*_exp_events`` (the expected count at which the observed
        count sits on the limit) and ``*_limit``. Rates: ``events``,
        ``*_population_1_year`` and ``*_limit``. Every table also has
        ``baseline``, ``statistic`` and ``method`` (``"Wilson"`` or
        ``"Poisson"``). "2s" is 95% (alpha 0.025 each side), "3s" 99.8%
        (0.001 each side).

    Notes
    -----
    * Proportions: baseline ``p0 = sum(numerator) / sum(denominator)``. The
      limit at size n is the proportion whose Wilson interval just touches
      p0; inverting the Wilson score test gives the closed form
      ``p0 +/- z sqrt(p0 (1 - p0) / n)`` (algebraically identical to
      PHEindicatormethods' ``sigma_adjustment``), clipped to
      ``[0, multiplier]``.
    * Ratios: for observed count O, the lower limit's expected count is the
      Poisson mean with ``P(X <= O) = alpha`` (``chi2_{1-alpha, 2O+2} / 2``)
      and the upper limit's is the mean with ``P(X >= O) = alpha``
      (``chi2_{alpha, 2O} / 2``). PHEindicatormethods finds these by
      bisection to 1e-7; the closed forms used here agree to that precision.
    * Rates: baseline ``sum(events) / sum(derived denominators)`` with
      derived denominator ``multiplier x events / rate``; the population at
      which O events lie on a limit is the exact Poisson mean above divided
      by the baseline.
    * No over-dispersion adjustment is made (see :func:`funnel_outliers`).

    References
    ----------
    Spiegelhalter DJ (2005). Stat Med 24:1185-1202.
    PHEindicatormethods v2.1.0, ``calculate_funnel_limits``.
    """
    _validate_choice(statistic, "statistic", ("proportion", "ratio", "rate"))
    if numerator is None:
        raise ValueError("numerator is required")
    num = _num_array(numerator, "numerator")
    if statistic == "proportion":
        return _proportion_funnel(num, denominator, multiplier, points)
    if statistic == "ratio":
        return _ratio_funnel(num, denominator, ratio_type, points)
    return _rate_funnel(num, denominator, rate, multiplier, rate_type, years_of_data, points)


def _proportion_funnel(num, denominator, multiplier, points) -> pd.DataFrame:
    """:func:`funnel_limits` for proportions: Wilson limits around the pooled proportion."""
    statistic = "proportion"
    if denominator is None or multiplier is None:
        raise ValueError("proportions need numerator, denominator and multiplier")
    den = _num_array(denominator, "denominator")
    _check_num_den(num, den, proportion=True)
    multiplier = _positive(multiplier, "multiplier")
    av = num.sum() / den.sum()
    lo_den, hi_den = den.min(), den.max()
    axis_min = 0.0 if hi_den > 2 * lo_den else _signif_floor(lo_den)
    axis = _phe_axis(axis_min, _signif_ceiling(hi_den), statistic) if points is None else _points(points)
    out = pd.DataFrame({"population": axis})
    for label, conf in _LEVELS.items():
        lo, hi = _proportion_limits(av, axis, conf)
        out[f"lower_{label}_limit"] = np.clip(lo * multiplier, 0, multiplier)
        out[f"upper_{label}_limit"] = np.clip(hi * multiplier, 0, multiplier)
    out = out[["population", "lower_2s_limit", "upper_2s_limit", "lower_3s_limit", "upper_3s_limit"]]
    out["baseline"] = av * multiplier
    out["statistic"] = "proportion"
    out["method"] = "Wilson"
    return _limits_contract(out)


def _ratio_funnel(num, denominator, ratio_type, points) -> pd.DataFrame:
    """:func:`funnel_limits` for ratios of observed to expected events: exact Poisson limits."""
    statistic = "ratio"
    if denominator is None:
        raise ValueError("ratios need numerator (observed) and denominator (expected)")
    _validate_choice(ratio_type, "ratio_type", ("count", "isr"))
    den = _num_array(denominator, "denominator")
    _check_num_den(num, den, proportion=False)
    lo_den, hi_den = den.min(), den.max()
    axis_min = 0.0 if hi_den > 2 * lo_den else _signif_floor(lo_den)
    axis = _phe_axis(axis_min, _signif_ceiling(hi_den), statistic) if points is None else _points(points)
    out = pd.DataFrame({"observed_events": axis})
    for label, conf in _LEVELS.items():
        a = (1 - conf) / 2
        lower_exp = stats.chi2.ppf(1 - a, 2 * axis + 2) / 2
        upper_exp = stats.chi2.ppf(a, 2 * axis) / 2
        out[f"lower_{label}_exp_events"] = lower_exp
        out[f"lower_{label}_limit"] = axis / lower_exp
        out[f"upper_{label}_exp_events"] = upper_exp
        out[f"upper_{label}_limit"] = axis / upper_exp
    limit_cols = [c for c in out.columns if c.endswith("_limit")]
    if ratio_type == "count":
        out[limit_cols] = out[limit_cols] - 1
        out["baseline"] = 0.0
    else:
        out[limit_cols] = out[limit_cols] * 100
        out["baseline"] = 100.0
    out["statistic"] = f"ratio ({ratio_type})"
    out["method"] = "Poisson"
    return _limits_contract(out)


def _rate_funnel(num, denominator, rate, multiplier, rate_type, years_of_data, points) -> pd.DataFrame:
    """:func:`funnel_limits` for rates (DSR or crude): exact Poisson limits on the events axis."""
    statistic = "rate"
    if rate is None or multiplier is None or years_of_data is None or rate_type is None:
        raise ValueError("rates need numerator, rate, rate_type, multiplier and years_of_data")
    _validate_choice(rate_type, "rate_type", ("dsr", "crude"))
    multiplier = _positive(multiplier, "multiplier")
    years_of_data = _positive(years_of_data, "years_of_data")
    rt = _num_array(rate, "rate")
    if len(rt) != len(num):
        raise ValueError("rate must have one value per numerator")
    den = None if denominator is None else _num_array(denominator, "denominator")
    if den is None and (num == 0).any():
        raise ValueError("for rates with zero events the denominator (population) must be given")
    _check_num_den(num, den, proportion=False)
    derived = _rate_derived_denominator(num, den, rt, rate_type, multiplier)
    av = num.sum() / np.nansum(derived)
    lo_den, hi_den = np.nanmin(derived), np.nanmax(derived)
    if hi_den > 2 * lo_den:
        axis_min = 0.0
    else:
        axis_min = _signif_floor(lo_den / years_of_data) * years_of_data
    axis_max = _signif_ceiling(hi_den / years_of_data) * years_of_data
    axis_min, axis_max = math.floor(axis_min * av), math.ceil(axis_max * av)
    axis = _phe_axis(axis_min, axis_max, statistic) if points is None else _points(points)
    out = pd.DataFrame({"events": axis})
    for label, conf in _LEVELS.items():
        a = (1 - conf) / 2
        pop_lower = stats.chi2.ppf(1 - a, 2 * axis + 2) / 2 / av
        pop_upper = stats.chi2.ppf(a, 2 * axis) / 2 / av
        out[f"lower_{label}_population_1_year"] = pop_lower / years_of_data
        out[f"lower_{label}_limit"] = axis / pop_lower * multiplier
        out[f"upper_{label}_population_1_year"] = pop_upper / years_of_data
        out[f"upper_{label}_limit"] = axis / pop_upper * multiplier
    out["baseline"] = av * multiplier
    out["statistic"] = f"rate ({rate_type} per {multiplier:,.0f})"
    out["method"] = "Poisson"
    return _limits_contract(out)


def _limits_contract(out: pd.DataFrame) -> pd.DataFrame:
    """The contract columns of a funnel-limits table: ``value`` is the baseline, ``lower`` and
    ``upper`` the 95% (2s) limits (control limits, not an interval of the baseline)."""
    x = out.columns[0]

    def sentence(r):
        return (f"At {x.replace('_', ' ')} {format_number(r[x], 0)}, the 95% funnel limits are "
                f"{format_number(r['lower_2s_limit'], None)} to {format_number(r['upper_2s_limit'], None)} "
                f"around the baseline {format_number(r['baseline'], None)} (99.8%: "
                f"{format_number(r['lower_3s_limit'], None)} to {format_number(r['upper_3s_limit'], None)}).")

    return standardise(out, value="baseline", lower="lower_2s_limit", upper="upper_2s_limit",
                       confidence=_LEVELS["2s"], sentence=sentence)


def _num_array(value, name) -> np.ndarray:
    arr, _ = prepare_inputs({name: value})
    out = arr[name]
    if np.isnan(out).any():
        raise ValueError(f"{name} contains missing values; drop or impute them first")
    return out


def _points(points) -> np.ndarray:
    arr = _num_array(points, "points")
    if (arr <= 0).any():
        raise ValueError("points must be greater than zero")
    return arr


def _proportion_limits(average: float, denominator, confidence: float):
    """Wilson score funnel limits of a proportion around ``average`` (0-1 scale, not clipped).

    ``average -/+ z sqrt(average (1 - average) / denominator)``. This is the score test's
    acceptance region, with the variance taken at the baseline (the null value), not at the
    unit's own proportion: a unit with proportion ``p`` out of ``n`` lies inside exactly
    when its Wilson score interval (Wilson 1927) contains ``average``, because the Wilson
    interval is the set of ``p0`` with ``|p - p0| <= z sqrt(p0 (1 - p0) / n)``. So these are
    the Wilson limits of the PHE method (APHO 2008, "Technical briefing 2: statistical
    process control methods in public health intelligence"; Spiegelhalter 2005, section 3;
    PHEindicatormethods ``calculate_funnel_limits``), not a Wald approximation (which would
    use ``p (1 - p)``). ``tests/test_funnels.py`` checks both directions against
    statsmodels' Wilson interval. Shared by :func:`funnel_limits` (the funnel drawn) and
    :func:`assign_funnel_significance` (each unit against it), so that the two always agree.
    """
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    half = z * np.sqrt(average * (1 - average) / np.asarray(denominator, dtype=float))
    return average - half, average + half


def _check_num_den(num, den, proportion):
    if (num < 0).any():
        raise ValueError("numerator values must be greater than or equal to zero")
    if den is not None:
        if len(den) != len(num):
            raise ValueError("denominator must have one value per numerator")
        if (den <= 0).any():
            raise ValueError("denominator values must be greater than zero")
        if proportion and (num > den).any():
            raise ValueError("numerator must not exceed denominator for a proportion")


def assign_funnel_significance(
    numerator,
    denominator=None,
    rate=None,
    *,
    statistic: str,
    rate_type: str | None = None,
    multiplier: float | None = None,
) -> pd.DataFrame:
    """Label each unit against the 95% and 99.8% funnel limits (PHE method).

    Parameters
    ----------
    numerator, denominator, rate, statistic, rate_type, multiplier
        As for :func:`funnel_limits` (``multiplier`` is needed for rates
        only; proportions are compared on the 0-1 scale).

    Returns
    -------
    DataFrame
        One row per unit (index kept from a Series input) with
        ``numerator``, ``denominator`` (for rates, the derived denominator
        ``multiplier x events / rate``), ``value`` and ``significance``, one
        of ``"High (0.001)"``, ``"High (0.025)"``, ``"Low (0.001)"``,
        ``"Low (0.025)"``, ``"Not significant"`` and, for DSRs with fewer
        than 10 events, ``"Not applicable for events less than 10 for dsrs"``.
        The 99.8% limits are checked before the 95% ones, high before low.

    Notes
    -----
    * Proportions: the unit's proportion is compared with the Wilson score
      funnel limits of :func:`funnel_limits` at its own denominator; ``lower`` and
      ``upper`` are the unit's own 95% Wilson interval, which excludes the baseline
      exactly when the unit is outside the 95% funnel.
    * Contract columns (:mod:`csp_analysis.contract`): ``lower``/``upper`` (the unit's
      95% interval: Wilson for proportions, exact/Byar's Poisson for ratios and rates),
      ``confidence`` (0.95), ``method``, ``count`` and ``sentence``.
    * Ratios: the exact (O < 10) or Byar's (O >= 10) interval of O, divided
      by E, is compared with 1.
    * Rates: the same interval divided by the derived denominator is
      compared with the baseline ``sum(events) / sum(derived denominators)``.

    References
    ----------
    PHEindicatormethods v2.1.0, ``assign_funnel_significance``.
    """
    _validate_choice(statistic, "statistic", ("proportion", "ratio", "rate"))
    args = {"numerator": numerator}
    if denominator is not None:
        args["denominator"] = denominator
    if rate is not None:
        args["rate"] = rate
    arr, index = prepare_inputs(args)
    num = arr["numerator"]
    den = arr.get("denominator")
    if statistic in ("proportion", "ratio") and den is None:
        raise ValueError(f"{statistic}s need numerator and denominator")
    _check_num_den(num, den, proportion=statistic == "proportion")
    if statistic == "proportion":
        value, labels, ci_lo, ci_hi, out_den, how = _proportion_significance(num, den)
    else:
        value, labels, ci_lo, ci_hi, out_den, how = _poisson_significance(
            num, den, arr.get("rate"), statistic, rate_type, multiplier)
    out = pd.DataFrame(
        {"numerator": num, "denominator": out_den, "value": value, "significance": labels}, index=index
    )
    out["lower"], out["upper"] = ci_lo, ci_hi
    return standardise(out, confidence=_LEVELS["2s"], method=how, count="numerator",
                       sentence=lambda r: default_sentence(r, "Value") + f" {r['significance']}.")


def _label_first(n: int, conditions) -> np.ndarray:
    """Significance labels: the first condition that holds for a unit, else "Not significant"."""
    labels = np.full(n, "Not significant", dtype=object)
    done = np.zeros(n, dtype=bool)
    for label, cond in conditions:
        cond = np.asarray(cond, dtype=bool) & ~done
        labels[cond] = label
        done |= cond
    return labels


def _proportion_significance(num: np.ndarray, den: np.ndarray):
    """Proportions against Wilson funnel limits around the pooled proportion:
    ``(value, labels, lower, upper, denominator, method)``."""
    av = num.sum() / den.sum()
    value = num / den
    lim = {label: _proportion_limits(av, den, conf) for label, conf in _LEVELS.items()}
    # the unit's own 95% Wilson interval: it excludes the baseline exactly when the unit lies
    # outside the 95% funnel (the limits are the inverted Wilson score test)
    ci_lo, ci_hi = wilson_limits(num, den, _LEVELS["2s"])
    labels = _label_first(len(num), [
        ("Low (0.001)", value < lim["3s"][0]),
        ("Low (0.025)", value < lim["2s"][0]),
        ("High (0.001)", value > lim["3s"][1]),
        ("High (0.025)", value > lim["2s"][1]),
    ])
    return value, labels, ci_lo, ci_hi, den, "PHE funnel, Wilson score limits"


def _poisson_significance(num: np.ndarray, den: np.ndarray | None, rate_arr: np.ndarray | None, statistic: str,
                          rate_type: str | None, multiplier: float | None):
    """Ratios and rates against exact (O < 10) or Byar's Poisson limits:
    ``(value, labels, lower, upper, denominator, method)``."""
    if statistic == "ratio":
        target = 1.0
        base = den
        value = num / den
        out_den = den
    else:
        if rate_arr is None or multiplier is None or rate_type is None:
            raise ValueError("rates need numerator, rate, rate_type and multiplier")
        _validate_choice(rate_type, "rate_type", ("dsr", "crude"))
        multiplier = _positive(multiplier, "multiplier")
        if den is None and (num == 0).any():
            raise ValueError("for rates with zero events the denominator (population) must be given")
        base = _rate_derived_denominator(num, den, rate_arr, rate_type, multiplier)
        target = num.sum() / np.nansum(base)
        value = rate_arr
        out_den = base
    lo3, hi3, _ = poisson_limits(num, _LEVELS["3s"])
    lo2, hi2, _ = poisson_limits(num, _LEVELS["2s"])
    scale = 1.0 if statistic == "ratio" else multiplier
    with np.errstate(invalid="ignore", divide="ignore"):
        ci_lo, ci_hi = lo2 / base * scale, hi2 / base * scale
        labels = _label_first(len(num), [
            ("High (0.001)", target < lo3 / base),
            ("High (0.025)", target < lo2 / base),
            ("Low (0.001)", target > hi3 / base),
            ("Low (0.025)", target > hi2 / base),
        ])
    if statistic == "rate" and rate_type == "dsr":
        labels[num < 10] = SIGNIFICANCE_LABELS[-1]
    return value, labels, ci_lo, ci_hi, out_den, "PHE funnel, exact (O < 10) or Byar's Poisson limits"


# ----------------------------------------------------------------------------
# Observed / expected funnels with over-dispersion (Spiegelhalter 2005)
# ----------------------------------------------------------------------------
def _poisson_quantile_interpolated(p: float, mean: np.ndarray) -> np.ndarray:
    """Spiegelhalter's (2005, appendix) interpolated Poisson quantile r_p - a.

    r_p is the smallest r with F(r) >= p and
    a = (F(r_p) - p) / (F(r_p) - F(r_p - 1)), so the limit moves smoothly with
    the mean instead of in integer steps. Hand-written because SciPy has no
    interpolated quantile.
    """
    r = stats.poisson.ppf(p, mean)
    f_r = stats.poisson.cdf(r, mean)
    f_prev = stats.poisson.cdf(r - 1, mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(f_r > f_prev, (f_r - p) / (f_r - f_prev), 0.0)
    return np.maximum(r - a, 0.0)


def _transform(observed, expected, target, method):
    """Transformed value y, its target y0, within-unit s.e. s and raw z."""
    if method == "spiegelhalter":
        # square-root transform (variance stabilising for Poisson): Var(sqrt(O/E)) ~ 1/(4E)
        y = np.sqrt(observed / expected)
        y0 = np.sqrt(target)
        s = 1 / (2 * np.sqrt(expected))
    else:
        # SHMI: log transform; zero counts use 0.5 so the z-score is finite
        y = np.log(np.maximum(observed, 0.5) / expected)
        y0 = np.log(target)
        s = 1 / np.sqrt(expected)
    return y, y0, s, (y - y0) / s


def estimate_overdispersion(
    observed,
    expected,
    target: float = 1.0,
    method: str = "spiegelhalter",
    trim: float = 0.1,
    debias: bool = False,
) -> dict:
    """Estimate the over-dispersion factor phi and between-unit variance tau^2.

    Parameters
    ----------
    observed, expected : array-like or Series
        Observed and expected counts per unit (expected > 0).
    target : float, default 1.0
        Target ratio O/E (1 when E comes from the same data).
    method : {"spiegelhalter", "shmi"}
        ``"spiegelhalter"`` (default): square-root transform,
        ``z = 2 (sqrt(O) - sqrt(target E))``, z-scores Winsorised at the
        ``trim`` and ``1 - trim`` quantiles (Spiegelhalter 2005, as used by
        CQC). ``"shmi"``: log transform ``z = sqrt(E) log(O / (target E))``
        with the top and bottom ``trim`` of units truncated (dropped), as in
        the NHS Digital SHMI and FunnelPlotR.
    trim : float, default 0.1
        Fraction Winsorised/truncated at each end.
    debias : bool, default False
        Divide phi by the expected trimmed second moment of a standard
        normal z-score (0.679 for 10% Winsorising, 0.438 for 10% truncation),
        which makes phi consistent when the z-scores are normal with
        variance phi. The published estimators (default) are biased low in
        that situation: they protect against real outliers at the cost of
        under-adjusting a purely over-dispersed set of units.

    Returns
    -------
    dict
        ``phi`` (mean of squared trimmed z-scores, divided by the factor
        above when ``debias``), ``tau2`` (additive random-effects variance on
        the transformed scale), ``n`` (units used), ``z`` (the unadjusted
        z-scores, all units) and ``factor`` (the divisor applied to phi, 1
        unless ``debias``).

    Notes
    -----
    ``phi = (1/n) sum z_w^2``. ``tau2 = max(0, (n phi - (n - 1)) /
    (sum w - sum w^2 / sum w))`` with ``w = 1 / s^2``, zero when
    ``n phi < n - 1`` (DerSimonian & Laird 1986 moment estimator applied to
    the trimmed z-scores, Spiegelhalter 2005 QSHC). Quantiles for
    Winsorising use linear interpolation (R type 7, as FunnelPlotR).

    References
    ----------
    Spiegelhalter DJ (2005). Handling over-dispersion of performance
    indicators. Qual Saf Health Care 14:347-351.
    Spiegelhalter DJ (2005). Stat Med 24:1185-1202, section 6.
    """
    _validate_choice(method, "method", ("spiegelhalter", "shmi"))
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), got {trim!r}")
    o, e = _check_observed_expected(observed, expected)
    _, _, s, z = _transform(o, e, _positive(target, "target"), method)
    zw, used = _trim_z(z, trim, method)
    n = int(used.sum())
    if n < 2:
        raise ValueError("too few units left after trimming to estimate over-dispersion")
    factor = _debias_factor(trim, method) if debias and trim > 0 else 1.0
    phi = float(np.mean(zw**2)) / factor
    w = 1 / s[used] ** 2
    if n * phi < n - 1:
        tau2 = 0.0
    else:
        tau2 = max(0.0, (n * phi - (n - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return {"phi": phi, "tau2": float(tau2), "n": n, "z": z, "factor": factor}


def _trim_z(z: np.ndarray, trim: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """z-scores for the estimate: winsorised at the ``trim`` quantiles (Spiegelhalter) or with the
    top and bottom ``trim`` groups dropped (SHMI); and which units they come from."""
    if method == "spiegelhalter":
        lo, hi = np.quantile(z, [trim, 1 - trim])
        zw = np.clip(z, lo, hi)
        used = np.ones(len(z), dtype=bool)
    else:
        k = 1 / trim if trim > 0 else np.inf
        rank = stats.rankdata(z, method="average")
        group = np.floor(rank * k / (len(z) + 1)) if np.isfinite(k) else np.ones(len(z))
        used = (group > 0) & (group < k - 1) if np.isfinite(k) else np.ones(len(z), dtype=bool)
        zw = z[used]
    return zw, used


def _debias_factor(trim: float, method: str) -> float:
    """Expected mean square of standard normal z-scores after the trimming of :func:`_trim_z`."""
    c = stats.norm.ppf(1 - trim)
    central = (1 - 2 * trim) - 2 * c * stats.norm.pdf(c)
    return central + 2 * trim * c**2 if method == "spiegelhalter" else central / (1 - 2 * trim)


def _check_observed_expected(observed, expected):
    arr, _ = prepare_inputs({"observed": observed, "expected": expected})
    o, e = arr["observed"], arr["expected"]
    if np.isnan(o).any() or np.isnan(e).any():
        raise ValueError("observed and expected must not contain missing values")
    if (o < 0).any():
        raise ValueError("observed counts must be non-negative")
    if (e <= 0).any() or np.isinf(e).any():
        raise ValueError("expected counts must be greater than zero")
    return o, e


def funnel_ratio_limits(
    expected,
    confidence: float = 0.998,
    target: float = 1.0,
    overdispersion: str | None = None,
    phi: float | None = None,
    tau2: float | None = None,
    method: str = "spiegelhalter",
) -> pd.DataFrame:
    """Control limits for O/E at given expected counts.

    Parameters
    ----------
    expected : array-like or Series
        Expected counts at which to compute limits.
    confidence : float, default 0.998
        Two-sided level (0.998 = "3 sigma", 0.95 = "2 sigma").
    target : float, default 1.0
        Target ratio.
    overdispersion : {None, "multiplicative", "additive"}
        ``None``: exact Poisson limits with Spiegelhalter's interpolation,
        ``(r_p - a) / E``. ``"multiplicative"``: normal limits on the
        transformed scale, inflated by ``sqrt(max(phi, 1))``.
        ``"additive"``: normal limits with variance ``s^2 + tau2``.
    phi, tau2 : float
        Over-dispersion estimates (from :func:`estimate_overdispersion`);
        required for the matching adjustment.
    method : {"spiegelhalter", "shmi"}
        Transformation used by the adjusted limits (square root or log).

    Returns
    -------
    DataFrame
        ``expected``, ``lower``, ``upper`` (on the O/E scale),
        ``confidence``, ``method``.

    References
    ----------
    Spiegelhalter DJ (2005). Stat Med 24:1185-1202 (appendix: interpolated
    Poisson limits; section 6: over-dispersion).
    """
    confidence = check_confidence(confidence)
    _validate_choice(overdispersion, "overdispersion", (None, "multiplicative", "additive"))
    _validate_choice(method, "method", ("spiegelhalter", "shmi"))
    target = _positive(target, "target")
    arr, index = prepare_inputs({"expected": expected})
    e = arr["expected"]
    if (e <= 0).any() or np.isnan(e).any():
        raise ValueError("expected must be greater than zero")
    lower, upper, label = _ratio_limits(e, 1 - confidence, target, overdispersion, phi, tau2, method)
    out = pd.DataFrame(
        {"expected": e, "lower": lower, "upper": upper, "confidence": confidence, "method": label}, index=index
    )
    return standardise(out, value=target, sentence=lambda r: (
        f"At {format_number(r['expected'], None)} expected, observed/expected between "
        f"{format_number(r['lower'], None)} and {format_number(r['upper'], None)} is within the "
        f"{confidence_label(confidence)} funnel around {format_number(target, None)}."))


def _ratio_limits(e: np.ndarray, alpha: float, target: float, overdispersion: str | None, phi, tau2,
                  method: str):
    """O/E limits at expected counts ``e``: interpolated exact Poisson quantiles, or the normal
    limits on the square-root (Spiegelhalter) or log (SHMI) scale widened for over-dispersion:
    ``(lower, upper, label)``."""
    if overdispersion is None:
        mean = target * e
        lower = _poisson_quantile_interpolated(alpha / 2, mean) / e
        upper = _poisson_quantile_interpolated(1 - alpha / 2, mean) / e
        label = "poisson exact (interpolated)"
    else:
        z = stats.norm.ppf(1 - alpha / 2)
        s = 1 / (2 * np.sqrt(e)) if method == "spiegelhalter" else 1 / np.sqrt(e)
        if overdispersion == "multiplicative":
            if phi is None:
                raise ValueError("phi is required for the multiplicative adjustment")
            half = z * np.sqrt(max(float(phi), 1.0)) * s
        else:
            if tau2 is None:
                raise ValueError("tau2 is required for the additive adjustment")
            half = z * np.sqrt(s**2 + max(float(tau2), 0.0))
        if method == "spiegelhalter":
            y0 = np.sqrt(target)
            lower = np.where(y0 - half > 0, (y0 - half) ** 2, 0.0)
            upper = (y0 + half) ** 2
        else:
            y0 = np.log(target)
            lower = np.exp(y0 - half)
            upper = np.exp(y0 + half)
        label = f"{method} {overdispersion}"
    return lower, upper, label


def funnel_outliers(
    observed,
    expected,
    confidence: float = 0.998,
    overdispersion: str | None = None,
    target: float = 1.0,
    method: str = "spiegelhalter",
    trim: float = 0.1,
    debias: bool = False,
) -> pd.DataFrame:
    """Flag units whose observed count is outside funnel limits for O/E.

    Parameters
    ----------
    observed : array-like or Series
        Observed counts per unit (e.g. crimes in each CSP or ward).
    expected : array-like or Series
        Expected counts per unit (e.g. from national rates or a model),
        greater than zero.
    confidence : float, default 0.998
        Two-sided level of the limits (0.998 = 3 sigma, 0.95 = 2 sigma).
    overdispersion : {None, "multiplicative", "additive"}
        ``None`` (default): exact Poisson limits (Spiegelhalter's
        interpolated quantiles). ``"multiplicative"``: limits inflated by
        ``sqrt(phi)``, only when the estimated ``phi > 1``.
        ``"additive"``: random-effects limits with between-unit variance
        ``tau2`` (DerSimonian-Laird moment estimate from trimmed z-scores).
    target : float, default 1.0
        Target O/E.
    method : {"spiegelhalter", "shmi"}
        Transformation and trimming for the over-dispersion estimate and
        adjusted limits: square root with Winsorising (default) or log with
        truncation (NHS Digital SHMI / FunnelPlotR's default for ratios).
    trim : float, default 0.1
        Fraction Winsorised/truncated at each end (10% / 90%).
    debias : bool, default False
        Rescale phi for the bias of trimming (see
        :func:`estimate_overdispersion`). The default reproduces the
        published Spiegelhalter / SHMI estimators; with purely over-dispersed
        data (no true outliers) they under-estimate phi by about a third, so
        about 10-13% of units rather than 5% fall outside 95% limits.
        ``debias=True`` restores roughly nominal rates in that case.

    Returns
    -------
    DataFrame
        One row per unit (index kept from a Series input): ``observed``,
        ``expected``, ``ratio`` (O/E), ``lower``, ``upper`` (limits for O/E
        at that unit's expected count), ``z`` (unadjusted z-score on the
        transformed scale), ``z_adjusted``, ``outlier`` (bool),
        ``direction`` ("high", "low" or ""), ``phi``, ``tau2``,
        ``overdispersion``, ``confidence``, ``method``.

    Notes
    -----
    A unit is an outlier when O/E lies strictly outside ``[lower, upper]``.
    Without adjustment the limits are exact Poisson quantiles, so small
    units are judged exactly; with an adjustment they are normal limits on
    the square-root (or log) scale. ``phi`` and ``tau2`` are always
    estimated and reported, so users can see how over-dispersed the data
    are even when no adjustment is requested. Estimating phi needs a
    reasonable number of units (Spiegelhalter suggests at least 20);
    with fewer, treat the adjusted limits with caution.

    References
    ----------
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional
    performance. Stat Med 24:1185-1202.
    Spiegelhalter DJ (2005). Handling over-dispersion of performance
    indicators. Qual Saf Health Care 14:347-351.
    DerSimonian R, Laird N (1986). Control Clin Trials 7:177-188.
    """
    confidence = check_confidence(confidence)
    _validate_choice(overdispersion, "overdispersion", (None, "multiplicative", "additive"))
    _validate_choice(method, "method", ("spiegelhalter", "shmi"))
    target = _positive(target, "target")
    arr, index = prepare_inputs({"observed": observed, "expected": expected})
    o, e = _check_observed_expected(arr["observed"], arr["expected"])
    phi, tau2 = _unit_overdispersion(o, e, target, method, trim, debias)
    if overdispersion is not None and not np.isfinite(phi):
        raise ValueError("at least three units are needed to estimate over-dispersion")
    y, y0, s, z = _transform(o, e, target, method)
    limits = funnel_ratio_limits(
        e, confidence=confidence, target=target, overdispersion=overdispersion, phi=phi, tau2=tau2, method=method
    )
    z_adj = _adjusted_z(z, y, y0, s, overdispersion, phi, tau2)
    ratio = o / e
    lower, upper = limits["lower"].to_numpy(), limits["upper"].to_numpy()
    high = ratio > upper
    low = ratio < lower
    out = pd.DataFrame(
        {
            "observed": o,
            "expected": e,
            "ratio": ratio,
            "lower": lower,
            "upper": upper,
            "z": z,
            "z_adjusted": z_adj,
            "outlier": high | low,
            "direction": np.where(high, "high", np.where(low, "low", "")),
            "phi": phi,
            "tau2": tau2,
            "overdispersion": overdispersion if overdispersion is not None else "none",
            "target": target,
            "confidence": confidence,
            "method": method if overdispersion is not None else "poisson exact",
        },
        index=index,
    )
    return standardise(out, value="ratio", count="observed", denominator="expected",
                       sentence=_outlier_sentence)


def _unit_overdispersion(o: np.ndarray, e: np.ndarray, target: float, method: str, trim: float,
                        debias: bool) -> tuple[float, float]:
    """phi and tau^2 of :func:`estimate_overdispersion`, NaN with fewer than three units."""
    if len(o) < 3:
        return np.nan, np.nan
    od = estimate_overdispersion(o, e, target=target, method=method, trim=trim, debias=debias)
    return od["phi"], od["tau2"]


def _adjusted_z(z, y, y0, s, overdispersion: str | None, phi: float, tau2: float):
    """z-scores allowing for over-dispersion: divided by sqrt(phi) (multiplicative) or with tau^2
    added to the variance (additive)."""
    if overdispersion is None:
        return z
    if overdispersion == "multiplicative":
        return z / np.sqrt(max(phi, 1.0))
    return (y - y0) / np.sqrt(s**2 + tau2)


def _outlier_sentence(r: pd.Series) -> str:
    where = {"high": "above the funnel", "low": "below the funnel"}.get(r["direction"], "within the funnel")
    return (f"Observed/expected {format_number(r['ratio'], None)} ({format_count(r['observed'])} "
            f"observed, {format_count(r['expected'])} expected): {where} "
            f"({confidence_label(r['confidence'])} limits {format_number(r['lower'], None)} to "
            f"{format_number(r['upper'], None)}).")


def plot_funnel(
    result: pd.DataFrame,
    ax=None,
    *,
    title: str = "Funnel plot",
    xlabel: str = "Expected count",
    ylabel: str = "Observed / expected",
    confidences=(0.95, 0.998),
    label_outliers: bool = True,
):
    """Draw a funnel plot from :func:`funnel_outliers` output.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`funnel_outliers` (its ``phi``, ``tau2``,
        ``overdispersion``, ``target`` and ``method`` columns decide the
        limits drawn).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made if omitted.
    title, xlabel, ylabel : str
        Plot title and axis labels.
    confidences : tuple of float, default (0.95, 0.998)
        Levels of the limit lines (dashed for the first, solid for others).
    label_outliers : bool, default True
        Annotate outliers with their index label.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with a legend naming the limit lines, the target line and
        the highlighted outliers.
    """
    import matplotlib.pyplot as plt

    required = {"observed", "expected", "ratio", "outlier", "phi", "tau2", "overdispersion", "target"}
    missing = required - set(result.columns)
    if missing:
        raise ValueError(f"result must come from funnel_outliers; missing columns {sorted(missing)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    od = result["overdispersion"].iloc[0]
    od = None if od == "none" else od
    method = result["method"].iloc[0] if od is not None else "spiegelhalter"
    target = float(result["target"].iloc[0])
    e_max = float(result["expected"].max())
    _draw_limits(ax, result, confidences, od, method, target)
    ax.axhline(target, color="#2CA02C", linewidth=1.2, label="Target")
    _draw_units(ax, result, label_outliers)
    ratios = result["ratio"].to_numpy(dtype=float)
    top = max(1.3 * target, 1.15 * np.nanmax(ratios))
    bottom = min(0.7 * target, 0.85 * np.nanmin(ratios))
    ax.set_ylim(max(bottom, 0.0), top)
    ax.set_xlim(0, e_max * 1.1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    return ax


def _draw_limits(ax, result: pd.DataFrame, confidences, od: str | None, method: str, target: float) -> None:
    """Draw the funnel limits of :func:`plot_funnel` at each confidence level."""
    e_max = float(result["expected"].max())
    e_min = float(result["expected"].min())
    grid = np.geomspace(max(min(e_min, 1.0) * 0.9, 0.5), e_max * 1.1, 400)
    styles = ["--", "-", ":", "-."]
    for i, conf in enumerate(confidences):
        lim = funnel_ratio_limits(
            grid,
            confidence=conf,
            target=target,
            overdispersion=od,
            phi=result["phi"].iloc[0],
            tau2=result["tau2"].iloc[0],
            method=method,
        )
        label = f"{conf * 100:g}% limits"
        ax.plot(grid, lim["lower"], color="0.35", linestyle=styles[i % 4], linewidth=1, label=label)
        ax.plot(grid, lim["upper"], color="0.35", linestyle=styles[i % 4], linewidth=1)


def _draw_units(ax, result: pd.DataFrame, label_outliers: bool) -> None:
    """Scatter the units of :func:`plot_funnel`, outliers highlighted (and labelled)."""
    inside = ~result["outlier"].astype(bool)
    ax.scatter(result.loc[inside, "expected"], result.loc[inside, "ratio"], s=18, color="#1F77B4", label="Units")
    out = result[~inside]
    if len(out):
        ax.scatter(out["expected"], out["ratio"], s=30, color="#D62728", marker="D", label="Outliers")
        if label_outliers:
            for idx, row in out.iterrows():
                ax.annotate(str(idx), (row["expected"], row["ratio"]), textcoords="offset points", xytext=(4, 4),
                            fontsize=8)
