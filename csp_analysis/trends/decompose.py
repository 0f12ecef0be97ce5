"""Seasonal-trend decomposition of monthly series (STL).

:func:`decompose` splits a series into trend, seasonal and remainder parts with
STL (Cleveland et al. 1990) as implemented in :class:`statsmodels.tsa.seasonal.STL`,
which reproduces the original netlib Fortran (see ``tests/test_trends_decompose.py``).
:func:`plot_decomposition` draws the four panels with titles and axis labels.

STL needs a complete, regularly spaced series: missing months are not
interpolated here (that would invent data); a series with gaps raises a
ValueError, and so does one shorter than two full cycles, so a notebook can say
"too short for seasonal decomposition" and fall back to a count model
(:func:`~csp_analysis.trends.fit_count_trend`), which copes with gaps.

References
----------
Cleveland, R. B., Cleveland, W. S., McRae, J. E. & Terpenning, I. (1990). STL: a
seasonal-trend decomposition procedure based on loess. *Journal of Official
Statistics* 6:3-73.
Wang, X., Smith, K. & Hyndman, R. J. (2006). Characteristic-based clustering for
time series data. *Data Mining and Knowledge Discovery* 13:335-364 (strength of
trend and seasonality).
Hyndman, R. J. & Athanasopoulos, G. (2021). *Forecasting: Principles and
Practice*, 3rd ed., section 4.3. OTexts.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import STL

from ._utils import month_number, to_float_array

__all__ = ["decompose", "plot_decomposition"]


def _check_odd(value: Any, name: str, minimum: int = 3) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum or value % 2 == 0:
        raise ValueError(f"`{name}` must be an odd integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive_int(value: Any, name: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    return int(value)


def _check_regular_months(index: pd.Index) -> None:
    """Raise a ValueError naming absent months when a monthly index has gaps."""
    if isinstance(index, pd.PeriodIndex) and index.freqstr.startswith("M"):
        months = index
    elif isinstance(index, pd.DatetimeIndex) and len(index) and (index.day == 1).all():
        months = index.to_period("M")
    else:
        return
    numbers = month_number(months)
    if np.any(np.diff(numbers) <= 0):
        raise ValueError("`series` must be sorted by month with no repeated months")
    full = pd.period_range(months.min(), months.max(), freq="M")
    missing = full.difference(months)
    if len(missing):
        shown = ", ".join(str(m) for m in missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise ValueError(
            f"`series` has {len(missing)} missing month(s) ({shown}); STL needs a complete "
            "monthly series and missing months are not interpolated. Decompose a "
            "complete stretch, or use fit_count_trend, which allows gaps."
        )


def decompose(
    series: Any,
    period: int = 12,
    robust: bool = True,
    seasonal: int = 7,
    trend: int | None = None,
    low_pass: int | None = None,
    seasonal_deg: int = 1,
    trend_deg: int = 1,
    low_pass_deg: int = 1,
    seasonal_jump: int = 1,
    trend_jump: int = 1,
    low_pass_jump: int = 1,
    inner_iter: int | None = None,
    outer_iter: int | None = None,
) -> pd.DataFrame:
    """Decompose a series into trend, seasonal and remainder parts with STL.

    Parameters
    ----------
    series : array-like or pandas.Series
        The observations, complete and in time order (e.g. monthly counts indexed
        by month). Missing values or missing months raise a ValueError.
    period : int, default 12
        Length of the seasonal cycle (12 for monthly data).
    robust : bool, default True
        Use STL's robustness iterations, which down-weight unusual months so they
        do not distort the trend and seasonal parts (weights in ``weights``).
    seasonal : int, default 7
        Length of the seasonal smoother, in cycles (odd, >= 3). Larger values give
        a seasonal pattern that changes more slowly from year to year.
    trend, low_pass : int, optional
        Lengths of the trend and low-pass smoothers (odd); statsmodels' defaults
        (those of Cleveland et al. 1990) when None.
    seasonal_deg, trend_deg, low_pass_deg : int, default 1
        Degrees (0 or 1) of the local regressions.
    seasonal_jump, trend_jump, low_pass_jump : int, default 1
        Evaluate the smoothers every ``jump`` points and interpolate linearly
        (speeds up long series; 1 = exact).
    inner_iter, outer_iter : int, optional
        Numbers of inner and robustness (outer) iterations; statsmodels chooses
        (2 and 0 without ``robust``, 5 and 15 with it) when None.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``series``, with columns ``observed``, ``trend``,
        ``seasonal``, ``resid`` (observed - trend - seasonal) and ``weights``
        (robustness weights; 1 when not robust). ``attrs`` holds ``period``,
        ``method`` and the strengths of trend and seasonality
        ``trend_strength = max(0, 1 - var(R)/var(T + R))`` and
        ``seasonal_strength = max(0, 1 - var(R)/var(S + R))`` (Wang, Smith &
        Hyndman 2006), each between 0 (none) and 1 (strong).

    Raises
    ------
    ValueError
        If ``series`` has fewer than two full cycles ("too short for seasonal
        decomposition"), missing values or missing months, or a setting is invalid.

    Notes
    -----
    Uses :class:`statsmodels.tsa.seasonal.STL`, which matches the netlib STL
    Fortran of Cleveland et al. (1990) to about 1e-11 (checked in the tests with
    the CO2 reference data). For count series, STL works on the counts' own scale;
    decompose ``log`` counts if the seasonal swing grows with the level.

    References
    ----------
    Cleveland et al. (1990); Wang, Smith & Hyndman (2006); see the module docstring.
    """
    period, seasonal, trend, low_pass, seasonal_jump, trend_jump, low_pass_jump, inner_iter = _validate_options(
        period, seasonal, trend, low_pass, seasonal_deg, trend_deg, low_pass_deg, seasonal_jump, trend_jump,
        low_pass_jump, inner_iter, outer_iter)
    values, index = _read_series(series, period)
    stl = STL(
        values, period=period, seasonal=seasonal, trend=trend, low_pass=low_pass,
        seasonal_deg=seasonal_deg, trend_deg=trend_deg, low_pass_deg=low_pass_deg,
        robust=robust, seasonal_jump=seasonal_jump, trend_jump=trend_jump,
        low_pass_jump=low_pass_jump,
    )
    fit_kwargs = {}
    if inner_iter is not None:
        fit_kwargs["inner_iter"] = inner_iter
    if outer_iter is not None:
        fit_kwargs["outer_iter"] = outer_iter
    res = stl.fit(**fit_kwargs)
    out = pd.DataFrame(
        {
            "observed": values,
            "trend": np.asarray(res.trend),
            "seasonal": np.asarray(res.seasonal),
            "resid": np.asarray(res.resid),
            "weights": np.asarray(res.weights),
        },
        index=index,
    )

    resid = out["resid"].to_numpy()
    out.attrs.update(
        period=period,
        method=(
            f"STL decomposition (Cleveland et al. 1990; statsmodels), period {period}, "
            f"seasonal smoother {seasonal}, {'robust' if robust else 'non-robust'}"
        ),
        trend_strength=_strength(out["trend"].to_numpy(), resid),
        seasonal_strength=_strength(out["seasonal"].to_numpy(), resid),
    )
    return out


def _validate_options(period, seasonal, trend, low_pass, seasonal_deg, trend_deg, low_pass_deg, seasonal_jump,
                      trend_jump, low_pass_jump, inner_iter, outer_iter):
    """Check :func:`decompose`'s STL options; return the checked period, smoother lengths,
    jumps and ``inner_iter``."""
    period = _check_positive_int(period, "period")
    if period < 2:
        raise ValueError(f"`period` must be at least 2 for a seasonal decomposition, got {period}")
    seasonal = _check_odd(seasonal, "seasonal")
    trend = _check_odd(trend, "trend")
    low_pass = _check_odd(low_pass, "low_pass")
    for name, deg in (("seasonal_deg", seasonal_deg), ("trend_deg", trend_deg), ("low_pass_deg", low_pass_deg)):
        if deg not in (0, 1):
            raise ValueError(f"`{name}` must be 0 or 1, got {deg!r}")
    seasonal_jump = _check_positive_int(seasonal_jump, "seasonal_jump")
    trend_jump = _check_positive_int(trend_jump, "trend_jump")
    low_pass_jump = _check_positive_int(low_pass_jump, "low_pass_jump")
    inner_iter = _check_positive_int(inner_iter, "inner_iter", allow_none=True)
    if outer_iter is not None and (isinstance(outer_iter, bool) or not isinstance(outer_iter, (int, np.integer)) or outer_iter < 0):
        raise ValueError(f"`outer_iter` must be a non-negative integer, got {outer_iter!r}")
    return period, seasonal, trend, low_pass, seasonal_jump, trend_jump, low_pass_jump, inner_iter


def _read_series(series: Any, period: int) -> tuple[np.ndarray, pd.Index]:
    """Values and index of a complete, regularly monthly series of at least two cycles."""
    values = to_float_array(series, "series")
    if isinstance(series, pd.Series):
        index = series.index
        _check_regular_months(index)
    else:
        index = pd.RangeIndex(len(values))
    if np.isnan(values).any():
        where = [str(i) for i in index[np.isnan(values)][:6]]
        raise ValueError(
            f"`series` has missing values (at {', '.join(where)}); STL needs a complete "
            "series and missing values are not interpolated."
        )
    if len(values) < 2 * period:
        raise ValueError(
            f"`series` is too short for seasonal decomposition: it has {len(values)} "
            f"observations and needs at least two full cycles ({2 * period})."
        )
    return values, index


def _strength(component: np.ndarray, resid: np.ndarray) -> float:
    """Strength of a component, ``max(0, 1 - Var(R) / Var(component + R))`` (Wang et al. 2006)."""
    denom = np.var(component + resid)
    if denom == 0:
        return float("nan")
    return float(max(0.0, 1.0 - np.var(resid) / denom))


def plot_decomposition(
    decomposition: pd.DataFrame,
    title: str | None = None,
    ylabel: str = "Records per month",
    xlabel: str = "Month",
    figsize: tuple[float, float] = (9.0, 8.0),
):
    """Plot an STL decomposition as four stacked panels.

    Parameters
    ----------
    decomposition : pandas.DataFrame
        The result of :func:`decompose`.
    title : str, optional
        Figure title, e.g. "Barnsley: ASB records, STL decomposition".
    ylabel : str, default "Records per month"
        Unit of the series, used on every panel's y axis.
    xlabel : str, default "Month"
        Label of the shared x axis.
    figsize : tuple, default (9, 8)
        Figure size in inches.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The four axes: observed, trend, seasonal, remainder.
    """
    import matplotlib.pyplot as plt

    required = {"observed", "trend", "seasonal", "resid"}
    if not isinstance(decomposition, pd.DataFrame) or not required <= set(decomposition.columns):
        raise ValueError("`decomposition` must be the DataFrame returned by decompose()")
    x = decomposition.index
    if isinstance(x, pd.PeriodIndex):
        x = x.to_timestamp()
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=figsize, constrained_layout=True)
    panels = [
        ("observed", "Observed", "black"),
        ("trend", "Trend", "tab:blue"),
        ("seasonal", "Seasonal pattern", "tab:green"),
        ("resid", "Remainder", "tab:grey"),
    ]
    for ax, (col, name, colour) in zip(axes, panels):
        if col == "resid":
            ax.axhline(0, color="black", linewidth=0.8)
            ax.plot(x, decomposition[col], marker="o", linestyle="none", markersize=3, color=colour)
        else:
            ax.plot(x, decomposition[col], color=colour)
        if col == "seasonal":
            ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(name, loc="left", fontsize="medium")
        ax.set_ylabel(ylabel if col in ("observed", "trend") else f"{ylabel}\n(difference)")
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    return axes
