"""Statistical process control (SPC) charts with NHS "Making Data Count" rules.

:func:`control_chart` computes the centre line and process limits of an XmR, c,
u or p chart and tests each point against the four special-cause rules used by
NHS England's *Making Data Count* (MDC) programme and its reference R package
NHSRplotthedots:

1. ``outside_limits`` - a point above the upper or below the lower process limit
   (3 sigma).
2. ``shift`` - a run of ``shift_length`` (MDC: 7) or more consecutive points on
   the same side of the centre line; a point exactly on the line breaks the run.
3. ``trend`` - a run of ``trend_length`` (MDC: 7) or more consecutive points each
   higher (or each lower) than the one before; an equal value breaks the run.
   Some older guidance, and the brief for this module, used 6 points; MDC's
   "Strengthening your decisions" (2019) and NHSRplotthedots use 7, so 7 is the
   default and either can be set.
4. ``two_of_three`` - two (or three) out of three consecutive points in the outer
   third of the limits (beyond 2 sigma but within the limits), with all three
   on the same side of the centre line. As in NHSRplotthedots, only the points
   near the limit are flagged.

Every point of a run is flagged, not just the last. With an improvement
direction each special-cause point is labelled improvement or concern; its
direction is taken, in order of priority, from the limit it crossed, the
direction of its trend, or its side of the centre line (as NHSRplotthedots).

Limits (Montgomery 2019; Wheeler 1995):

* XmR (individuals): centre = mean, limits = mean +/- 2.66 mR-bar, where mR-bar
  is the mean moving range (after, by default, screening out moving ranges above
  3.267 mR-bar, as MDC does); sigma = mR-bar / 1.128.
* c (counts, equal opportunity): centre = mean count c-bar, sigma = sqrt(c-bar).
* u (rates, varying exposure n_i): centre = sum c / sum n, sigma_i = sqrt(u-bar / n_i).
* p (proportions of n_i): centre = sum x / sum n, sigma_i = sqrt(p-bar (1 - p-bar) / n_i).

Limits are computed from the ``baseline`` points (all by default) and applied to
every point. For c, u and p charts lower limits are not allowed below 0 (and upper
p limits above 1). XmR limits are not floored: an individuals chart can describe any
measure, including ones that can be negative, and a lower limit below 0 for a count
simply means that no low month can fall outside it.

References
----------
NHS England and NHS Improvement (2019). *Making Data Count: Strengthening your
decisions*. NHS England, London.
NHS-R Community. NHSRplotthedots: Draw XmR charts for NHSE/I "Making Data Count"
(R package), https://github.com/nhs-r-community/NHSRplotthedots.
Montgomery, D. C. (2019). *Introduction to Statistical Quality Control*, 8th ed.,
chapters 6-7. Wiley.
Wheeler, D. J. (1995). *Advanced Topics in Statistical Process Control*. SPC Press.
Western Electric Company (1956). *Statistical Quality Control Handbook*.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._utils import format_number, to_float_array

__all__ = ["control_chart", "plot_control_chart"]

_KINDS = ("xmr", "c", "u", "p")
_RULES = ("outside_limits", "shift", "trend", "two_of_three")
#: XmR constants: 3 / d2 with d2 = 1.128 (n = 2), and D4 = 3.267 for the moving range.
_XMR_LIMIT = 2.66
_MR_UPPER = 3.267
_D2 = 1.128


def _runs(labels: np.ndarray, min_length: int) -> np.ndarray:
    """Flag every element of a run of equal non-zero labels of length >= min_length."""
    flags = np.zeros(len(labels), dtype=bool)
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] != 0 and i - start >= min_length:
                flags[start:i] = True
            start = i
    return flags


def _trend_flags(values: np.ndarray, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Flag points in runs of >= min_length strictly increasing/decreasing points.

    Returns (flags, direction) with direction +1/-1 for flagged points.
    """
    n = len(values)
    flags = np.zeros(n, dtype=bool)
    direction = np.zeros(n, dtype=int)
    if n < 2:
        return flags, direction
    steps = np.sign(np.diff(values)).astype(int)  # step i joins points i and i+1
    start = 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] != steps[start]:
            # steps start..i-1 share a sign: points start..i form the run (i - start + 1 points)
            if steps[start] != 0 and (i - start + 1) >= min_length:
                flags[start:i + 1] = True
                direction[start:i + 1] = steps[start]
            start = i
    return flags, direction


def _two_of_three(close: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Points near a limit that belong to a window of three consecutive points,
    all on one side of the centre line, with at least two near the limit."""
    n = len(close)
    flags = np.zeros(n, dtype=bool)
    for i in range(n - 2):
        window = slice(i, i + 3)
        if abs(side[window].sum()) == 3 and close[window].sum() >= 2:
            flags[window] |= close[window]
    return flags


def _baseline_mask(baseline: Any, n: int, index: pd.Index) -> np.ndarray:
    if baseline is None:
        return np.ones(n, dtype=bool)
    if isinstance(baseline, (bool, np.bool_)):
        raise ValueError("`baseline` must be a number of points, a slice or a boolean mask, not True/False")
    if isinstance(baseline, (int, np.integer)):
        if not 2 <= baseline <= n:
            raise ValueError(f"`baseline` must be between 2 and the number of points ({n}), got {baseline}")
        mask = np.zeros(n, dtype=bool)
        mask[:baseline] = True
        return mask
    if isinstance(baseline, slice):
        mask = np.zeros(n, dtype=bool)
        if isinstance(baseline.start, (int, np.integer, type(None))) and isinstance(
                baseline.stop, (int, np.integer, type(None))):
            mask[baseline] = True
        else:  # label-based slice, e.g. slice("2022-01", "2023-12")
            positions = pd.Series(np.arange(n), index=index).loc[baseline].to_numpy()
            mask[positions] = True
        return mask
    mask = np.asarray(baseline)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError("`baseline` must be an int, a slice or a boolean array as long as `values`")
    return mask


def control_chart(
    values: Any,
    kind: str = "xmr",
    denominators: Any = None,
    baseline: Any = None,
    improvement: str | None = None,
    shift_length: int = 7,
    trend_length: int = 7,
    screen_outliers: bool = True,
    multiplier: float = 1.0,
) -> pd.DataFrame:
    """Compute an SPC chart and flag special-cause variation (NHS Making Data Count rules).

    Parameters
    ----------
    values : array-like or pandas.Series
        The measurements in time order: any measure for ``"xmr"``; counts for
        ``"c"``, ``"u"`` (events) and ``"p"`` (numerators). A Series index (e.g.
        months) is kept. Missing values are not allowed: drop or fill them first.
    kind : {"xmr", "c", "u", "p"}, default "xmr"
        Chart type (see the module notes for the limits).
    denominators : array-like, optional
        Exposure (``"u"``, e.g. population) or group size (``"p"``) per point.
    baseline : int, slice or boolean array, optional
        Points used to compute the centre and limits: the first ``baseline``
        points, a positional or label slice, or a mask. All points by default.
        MDC advises at least 15 to 20 baseline points; fewer than 12 gives a warning.
    improvement : {"increase", "decrease", None}, default None
        Which direction is an improvement (for crime usually ``"decrease"``);
        ``None`` labels special causes as higher or lower only.
    shift_length : int, default 7
        Points in a run on one side of the centre line that signal a shift.
    trend_length : int, default 7
        Consecutive increasing or decreasing points that signal a trend.
    screen_outliers : bool, default True
        XmR only: leave out moving ranges above 3.267 mR-bar when computing the
        limits (MDC practice), so one extreme month does not widen them.
    multiplier : float, default 1.0
        ``"u"`` and ``"p"`` only: multiply rates (e.g. 1000 for per 1,000, 100
        for per cent).

    Returns
    -------
    pandas.DataFrame
        One row per point, indexed like ``values``: ``value`` (count, rate,
        proportion or measurement), ``centre``, ``lower``, ``upper`` (process
        limits), ``near_lower``, ``near_upper`` (2-sigma lines), ``sigma``,
        ``confidence`` (nominal coverage of 3-sigma limits, 0.9973), ``method``,
        ``in_baseline``, one boolean column per rule (``outside_limits``,
        ``shift``, ``trend``, ``two_of_three``), ``special_cause`` (any rule),
        ``rules`` (names of the rules triggered) and ``variation`` ("Common cause
        variation", "Special cause improvement", "Special cause concern", or
        "Special cause variation (higher/lower)"). ``attrs`` holds ``kind``,
        ``method``, ``improvement`` and a plain-English ``sentence`` about the
        latest point.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or ``improvement``, missing or negative values,
        missing or invalid ``denominators``, or too few points.

    Notes
    -----
    Limits are 3-sigma and the 2-sigma "near limit" lines use the same sigma. For
    c and u charts the Poisson model is assumed; with overdispersed counts many
    points fall outside the limits, in which case an XmR chart of the counts or
    rates (whose limits come from the data's own variation) is the usual remedy
    (Wheeler 1995; MDC).

    References
    ----------
    NHS England and NHS Improvement (2019); NHSRplotthedots; Montgomery (2019),
    chapters 6-7; see the module docstring.
    """
    multiplier = _validate_options(kind, improvement, shift_length, trend_length, multiplier)
    x, d, base, index = _read_values(values, kind, denominators, baseline)
    if kind == "xmr":
        value, centre_arr, sigma, lower, upper, near_lower, near_upper, method = _xmr_limits(x, base,
                                                                                             screen_outliers)
    else:
        value, centre_arr, sigma, lower, upper, near_lower, near_upper, method = _attribute_limits(
            x, d, base, kind, multiplier)
    flags, special, labels, rules = _classify_points(value, centre_arr, lower, upper, near_lower, near_upper,
                                                     shift_length, trend_length, improvement)
    out = pd.DataFrame(
        {
            "value": value, "centre": centre_arr, "lower": lower, "upper": upper,
            "near_lower": near_lower, "near_upper": near_upper, "sigma": sigma,
            "confidence": float(stats.norm.cdf(3) - stats.norm.cdf(-3)), "method": method,
            "in_baseline": base, **flags, "special_cause": special, "rules": rules,
            "variation": labels,
        },
        index=index,
    )
    if kind in ("u", "p"):
        out.insert(1, "numerator", x)
        out.insert(2, "denominator", d)
    out["sentence"] = [
        f"{label}: {format_number(float(r['value']))}, {r['variation'].lower()} (limits "
        f"{format_number(float(r['lower']))} to {format_number(float(r['upper']))}"
        + (f"; {r['rules'].replace('_', ' ')}" if r["rules"] else "") + ")."
        for label, r in out.iterrows()]
    out.attrs.update(kind=kind, method=method, improvement=improvement,
                     sentence=_sentence(out))
    return out


def _validate_options(kind: str, improvement: str | None, shift_length: int, trend_length: int,
                      multiplier: float) -> float:
    """Check :func:`control_chart`'s options; return ``multiplier`` as a positive float."""
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {_KINDS}, got {kind!r}")
    if improvement not in ("increase", "decrease", None):
        raise ValueError(f"`improvement` must be 'increase', 'decrease' or None, got {improvement!r}")
    for name, length in (("shift_length", shift_length), ("trend_length", trend_length)):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
            raise ValueError(f"`{name}` must be an integer >= 2, got {length!r}")
    try:
        multiplier = float(multiplier)
    except (TypeError, ValueError):
        raise ValueError(f"`multiplier` must be a positive number, got {multiplier!r}") from None
    if not multiplier > 0:
        raise ValueError(f"`multiplier` must be a positive number, got {multiplier!r}")
    return multiplier


def _read_values(values: Any, kind: str, denominators: Any, baseline: Any):
    """Values, denominators (None for XmR and c charts), baseline mask and index, checked for the
    chart ``kind``; warns when the baseline has fewer than 12 points."""
    x = to_float_array(values, "values", allow_nan=False)
    n = len(x)
    index = values.index if isinstance(values, pd.Series) else pd.RangeIndex(n)
    if n < 2:
        raise ValueError(f"`values` needs at least 2 points, got {n}")
    base = _baseline_mask(baseline, n, index)
    if base.sum() < 2:
        raise ValueError("`baseline` must include at least 2 points")
    if base.sum() < 12:
        warnings.warn(
            f"Control limits from only {int(base.sum())} baseline points are unreliable; "
            "Making Data Count advises at least 15-20.", UserWarning, stacklevel=3)
    d = None
    if kind in ("u", "p"):
        if denominators is None:
            raise ValueError(f"`denominators` is required for a {kind} chart")
        d = to_float_array(denominators, "denominators", allow_nan=False)
        if len(d) != n:
            raise ValueError(f"`denominators` has length {len(d)} but `values` has length {n}")
        if np.any(d <= 0):
            raise ValueError("`denominators` must be positive")
    elif denominators is not None:
        raise ValueError(f"`denominators` is only used for u and p charts, not {kind!r}")
    if kind in ("c", "u", "p") and np.any(x < 0):
        raise ValueError("`values` must be non-negative counts for c, u and p charts")
    if kind == "p" and np.any(x > d):
        raise ValueError("`values` (numerators) cannot exceed `denominators` for a p chart")
    return x, d, base, index


def _xmr_limits(x: np.ndarray, base: np.ndarray, screen_outliers: bool):
    """XmR chart: centre, sigma, limits (mean +/- 2.66 mR-bar) and 2-sigma lines."""
    n = len(x)
    value = x.copy()
    xb = x[base]
    centre = float(np.mean(xb))
    # moving ranges only between consecutive baseline points
    pos = np.flatnonzero(base)
    mr = np.abs(np.diff(x[pos]))[np.diff(pos) == 1]
    if len(mr) == 0:
        raise ValueError("`baseline` must include at least 2 consecutive points for an XmR chart")
    amr = float(np.mean(mr))
    if screen_outliers and amr > 0:
        kept = mr[mr < _MR_UPPER * amr]
        if len(kept):
            amr = float(np.mean(kept))
    sigma = np.full(n, amr / _D2)
    half_width = np.full(n, _XMR_LIMIT * amr)
    centre_arr = np.full(n, centre)
    lower = centre_arr - half_width
    upper = centre_arr + half_width
    near_lower = centre_arr - half_width * 2.0 / 3.0
    near_upper = centre_arr + half_width * 2.0 / 3.0
    method = "XmR chart (individuals; limits mean +/- 2.66 mR-bar)"
    return value, centre_arr, sigma, lower, upper, near_lower, near_upper, method


def _attribute_limits(x: np.ndarray, d: np.ndarray | None, base: np.ndarray, kind: str, multiplier: float):
    """c, u or p chart: plotted value, centre, sigma, 3-sigma limits and 2-sigma lines (floored
    at 0; a p chart's capped at ``multiplier``)."""
    n = len(x)
    if kind == "c":
        value = x.copy()
        centre = float(np.mean(x[base]))
        sigma = np.full(n, np.sqrt(centre))
        method = "c chart (Poisson counts; limits c-bar +/- 3 sqrt(c-bar))"
    elif kind == "u":
        value = x / d * multiplier
        u_bar = float(x[base].sum() / d[base].sum())
        centre = u_bar * multiplier
        sigma = np.sqrt(u_bar / d) * multiplier
        method = "u chart (Poisson rates; limits u-bar +/- 3 sqrt(u-bar / n))"
    else:
        value = x / d * multiplier
        p_bar = float(x[base].sum() / d[base].sum())
        centre = p_bar * multiplier
        sigma = np.sqrt(p_bar * (1 - p_bar) / d) * multiplier
        method = "p chart (binomial proportions; limits p-bar +/- 3 sqrt(p-bar (1 - p-bar) / n))"
    centre_arr = np.full(n, centre)
    lower = np.maximum(centre_arr - 3 * sigma, 0.0)
    upper = centre_arr + 3 * sigma
    near_lower = np.maximum(centre_arr - 2 * sigma, 0.0)
    near_upper = centre_arr + 2 * sigma
    if kind == "p":
        upper = np.minimum(upper, multiplier)
        near_upper = np.minimum(near_upper, multiplier)
    return value, centre_arr, sigma, lower, upper, near_lower, near_upper, method


def _classify_points(value, centre_arr, lower, upper, near_lower, near_upper, shift_length: int,
                     trend_length: int, improvement: str | None):
    """Apply the four Making Data Count rules: ``(flags, special, labels, rules)``."""
    side = np.sign(value - centre_arr).astype(int)
    outside = (value > upper) | (value < lower)
    close = ~outside & ((value > near_upper) | (value < near_lower))
    shift = _runs(side, shift_length)
    trend, trend_dir = _trend_flags(value, trend_length)
    two3 = _two_of_three(close, side)
    special = outside | shift | trend | two3

    # direction of each special cause, priority as NHSRplotthedots
    direction = np.where(outside, side, np.where(trend, trend_dir, np.where(two3 | shift, side, 0)))
    labels = []
    for is_special, dirn in zip(special, direction):
        if not is_special:
            labels.append("Common cause variation")
        elif improvement is None:
            labels.append("Special cause variation (higher)" if dirn > 0 else "Special cause variation (lower)")
        else:
            good = (dirn > 0) == (improvement == "increase")
            labels.append("Special cause improvement" if good else "Special cause concern")
    flags = {"outside_limits": outside, "shift": shift, "trend": trend, "two_of_three": two3}
    rules = [", ".join(r for r in _RULES if flags[r][i]) for i in range(len(value))]
    return flags, special, labels, rules


def _sentence(chart: pd.DataFrame) -> str:
    last = chart.iloc[-1]
    label = chart.index[-1]
    n_special = int(chart["special_cause"].sum())
    where = f"The latest point ({label}, {format_number(float(last['value']))})"
    if last["special_cause"]:
        text = (f"{where} shows {last['variation'].lower()} ({last['rules'].replace('_', ' ')}), "
                "so something has probably changed and is worth investigating.")
    else:
        text = (f"{where} is within the expected range of {format_number(float(last['lower']))} to "
                f"{format_number(float(last['upper']))} (common cause variation).")
    if n_special:
        text += f" {n_special} of {len(chart)} points show special cause variation."
    else:
        text += f" None of the {len(chart)} points shows special cause variation."
    return text


_COLOURS = {
    "Common cause variation": "#7f7f7f",
    "Special cause improvement": "#289de0",   # MDC blue
    "Special cause concern": "#fab428",       # MDC orange
    "Special cause variation (higher)": "#361475",  # MDC purple (neutral)
    "Special cause variation (lower)": "#361475",
}


def plot_control_chart(chart: pd.DataFrame, title: str | None = None, ylabel: str | None = None,
                       xlabel: str = "Month", ax=None):
    """Draw a control chart from :func:`control_chart`.

    Points are coloured by ``variation`` (grey common cause; blue improvement;
    orange concern; purple special cause without a direction, as in MDC), with the
    centre line, the process limits (stepped for u and p charts) and a legend.

    Parameters
    ----------
    chart : pandas.DataFrame
        Result of :func:`control_chart`.
    title : str, optional
        Axes title.
    ylabel : str, optional
        Y-axis label with the unit (e.g. "ASB records per month").
    xlabel : str, default "Month"
        X-axis label.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    needed = {"value", "centre", "lower", "upper", "variation"}
    if not isinstance(chart, pd.DataFrame) or not needed <= set(chart.columns):
        raise ValueError("`chart` must be the DataFrame returned by control_chart()")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    x = chart.index
    if isinstance(x, pd.PeriodIndex):
        x = x.to_timestamp()
    step = "mid" if chart.attrs.get("kind") in ("u", "p") else None
    ax.plot(x, chart["value"], color="#7f7f7f", linewidth=1, zorder=1)
    ax.plot(x, chart["centre"], color="black", linewidth=1, label="Mean")
    if step:
        ax.step(x, chart["upper"], where="mid", color="#555555", linestyle="--", linewidth=1, label="Process limits")
        ax.step(x, chart["lower"], where="mid", color="#555555", linestyle="--", linewidth=1)
    else:
        ax.plot(x, chart["upper"], color="#555555", linestyle="--", linewidth=1, label="Process limits")
        ax.plot(x, chart["lower"], color="#555555", linestyle="--", linewidth=1)
    for label, colour in _COLOURS.items():
        mask = (chart["variation"] == label).to_numpy()
        if mask.any():
            ax.scatter(np.asarray(x)[mask], chart["value"].to_numpy()[mask], color=colour, s=28,
                       zorder=3, label=label.replace("Special cause variation", "Special cause"))
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_title(title or chart.attrs.get("method", "Control chart"))
    ax.legend(loc="best", fontsize="small")
    return ax
