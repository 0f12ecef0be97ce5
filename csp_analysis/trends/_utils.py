"""Private helpers shared by the :mod:`csp_analysis.trends` modules.

Input validation, conversion of month labels, and number formatting for the
plain-English (UK) sentences used in report headlines.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as _fmt
from ..formatting import auto_digits  # noqa: F401 - the shared helper, kept importable here

__all__: list[str] = []

def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """Return ``confidence`` as a float in (0, 1) or raise a ValueError naming it.

    The same check as the rest of the package (:func:`csp_analysis.formatting.check_confidence`).
    """
    return _fmt.check_confidence(confidence, name)


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """Return a significance level in (0, 1) or raise a ValueError naming it."""
    return _fmt.check_confidence(alpha, name)


def to_float_array(x: Any, name: str, allow_nan: bool = True) -> np.ndarray:
    """Convert a scalar, list, array or Series to a 1-D float array.

    Raises a ValueError naming ``name`` for non-numeric, multi-dimensional or
    infinite input, and for NaN when ``allow_nan`` is false.
    """
    if isinstance(x, (pd.Series, pd.Index)):
        values = x.to_numpy(dtype=float, na_value=np.nan)
    elif isinstance(x, pd.DataFrame):
        raise ValueError(f"`{name}` must be one-dimensional (a Series or array), not a DataFrame")
    else:
        try:
            values = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must contain numbers only") from None
    values = np.atleast_1d(values)
    if values.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got shape {values.shape}")
    if np.isinf(values).any():
        raise ValueError(f"`{name}` contains infinite values")
    if not allow_nan and np.isnan(values).any():
        raise ValueError(f"`{name}` contains missing values (NaN)")
    return values


def to_months(x: Any, name: str = "months") -> pd.PeriodIndex:
    """Convert month labels to a monthly :class:`pandas.PeriodIndex`.

    Accepts a PeriodIndex, a DatetimeIndex/Series of timestamps, or strings such
    as ``"2024-04"``. Raises a ValueError naming ``name`` when a value cannot be
    read as a month.
    """
    if isinstance(x, pd.PeriodIndex):
        return x.asfreq("M")
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(x).asfreq("M")
    if isinstance(x, str) or not isinstance(x, Iterable):
        x = [x]
    try:
        values = list(x)
        if values and all(isinstance(v, pd.Period) for v in values):
            return pd.PeriodIndex(values).asfreq("M")
        stamps = pd.to_datetime(pd.Index(values))
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must hold months (timestamps, periods or 'YYYY-MM' strings): {err}") from None
    if stamps.isna().any():
        raise ValueError(f"`{name}` contains missing months")
    return stamps.to_period("M")


def month_number(months: pd.PeriodIndex) -> np.ndarray:
    """Months since year 0 (``12 * year + month - 1``) as integers, so gaps are kept."""
    return np.asarray(months.year * 12 + months.month - 1, dtype=np.int64)


def format_number(x: float, digits: int | None = None) -> str:
    """Format a number for a sentence: thousands separators, sensible precision
    (:func:`csp_analysis.formatting.format_number`, ``"n/a"`` when missing)."""
    if x is None:
        return "n/a"
    return _fmt.format_number(float(x), digits, missing="n/a")


def format_percent(x: float, digits: int = 1) -> str:
    """Format a percentage (already multiplied by 100) with a % sign, no sign for positives."""
    return format_number(x, digits) + "%"


def format_p(p: float) -> str:
    """Format a p-value for text, in the package's one style.

    :func:`csp_analysis.rates.format_p_value`: ``p < 0.001``; three decimals below
    0.01; two decimals otherwise; ``p > 0.99`` at the top.
    """
    return _fmt.format_p_value(p)


def confidence_label(confidence: float) -> str:
    """``0.95`` -> ``"95%"``; ``0.9973`` -> ``"99.73%"``
    (:func:`csp_analysis.formatting.confidence_label`)."""
    return _fmt.confidence_label(confidence)
