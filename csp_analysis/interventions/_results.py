"""Shared result base class and private helpers for :mod:`csp_analysis.interventions`.

Every estimator in this sub-package returns a subclass of :class:`InterventionResult`:

* ``.table`` - a :class:`pandas.DataFrame` with one row per effect (index = effect
  name, e.g. ``level_change``) and at least the columns ``estimate``, ``lower``,
  ``upper``, ``p_value``, ``confidence``, ``method`` and ``scale``, then the estimator's
  own columns, then the result contract's ``value`` (= ``estimate``) and ``sentence``;
* ``.summary()`` - a plain-English (UK English) description that states the
  limits of the analysis;
* ``.plot()`` - a matplotlib figure of the result (returns the Axes drawn on).

The helpers below (input validation, time conversion, number formatting) are
private to the sub-package, except :func:`format_p` (the summaries' p-value style,
``p = 0.412``), which is public; ``fmt_p`` is its former name, kept as an alias.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import formatting as _fmt
from ..contract import ResultMixin, default_sentence

__all__ = ["InterventionResult", "TABLE_COLUMNS", "format_p"]

#: Columns every ``.table`` carries, in this order (estimators may add more after).
TABLE_COLUMNS = ["estimate", "lower", "upper", "p_value", "confidence", "method", "scale"]


class InterventionResult(ResultMixin):
    """Base class for the results of the intervention-evaluation estimators.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per effect; columns ``estimate``, ``lower``, ``upper``,
        ``p_value``, ``confidence``, ``method``, ``scale`` (and possibly more).
    """

    table: pd.DataFrame

    def summary(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def plot(self, ax: Any = None) -> Any:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>\n{self.table.to_string()}"

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------- #
# Table construction
# --------------------------------------------------------------------------- #
def make_table(rows: Sequence[dict[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    """Build a results table from dicts with an ``effect`` key (becomes the index)."""
    cols = TABLE_COLUMNS + [c for c in extra if c not in TABLE_COLUMNS]
    frame = pd.DataFrame(list(rows))
    for col in cols:
        if col not in frame.columns:
            frame[col] = np.nan
    frame = frame.set_index("effect")
    frame.index.name = "effect"
    frame = frame[cols]
    # the result contract (csp_analysis.contract): ``value`` beside ``estimate`` and a sentence per effect
    frame["value"] = frame["estimate"]
    frame["sentence"] = [
        default_sentence(r, f"{str(effect).replace('_', ' ').capitalize()}"
                            + (f" ({r['scale']})" if isinstance(r["scale"], str) and r["scale"] else ""))
        for effect, r in frame.iterrows()]
    return frame


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def check_dataframe(data: Any, name: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"`{name}` must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise ValueError(f"`{name}` is empty")
    return data


def check_column(data: pd.DataFrame, column: Any, argument: str) -> str:
    if not isinstance(column, str):
        raise ValueError(f"`{argument}` must be a column name (a string), got {column!r}")
    if column not in data.columns:
        raise ValueError(
            f"`{argument}`: column {column!r} not found in data; available columns: "
            f"{', '.join(map(str, data.columns))}"
        )
    return column


def numeric_column(data: pd.DataFrame, column: str, argument: str) -> np.ndarray:
    values = pd.to_numeric(data[column], errors="coerce")
    bad = values.isna() & data[column].notna()
    if bad.any():
        raise ValueError(f"`{argument}`: column {column!r} contains non-numeric values")
    arr = values.to_numpy(dtype=float)
    if np.isinf(arr).any():
        raise ValueError(f"`{argument}`: column {column!r} contains infinite values")
    return arr


def binary_column(data: pd.DataFrame, column: str, argument: str) -> np.ndarray:
    arr = numeric_column(data, column, argument)
    if np.isnan(arr).any():
        raise ValueError(f"`{argument}`: column {column!r} contains missing values")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"`{argument}`: column {column!r} must contain only 0 and 1")
    return arr


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """:func:`csp_analysis.formatting.check_confidence`."""
    return _fmt.check_confidence(confidence, name)


# --------------------------------------------------------------------------- #
# Time handling: month dates or integer periods
# --------------------------------------------------------------------------- #
class TimeAxis:
    """Conversion between user time labels and an integer period index.

    ``kind`` is ``"month"`` (labels are monthly :class:`pandas.Period`) or
    ``"integer"`` (labels are integers). ``ordinal`` gives an integer for every
    label; for months it is the pandas monthly ordinal (months since 1970-01, so
    ``ordinal % 12`` is the calendar month minus one).
    """

    def __init__(self, kind: str):
        self.kind = kind

    @classmethod
    def from_values(cls, values: Any, argument: str) -> tuple["TimeAxis", np.ndarray, pd.Index]:
        """Return (axis, integer ordinals, labels) for a column of time values."""
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        if series.isna().any():
            raise ValueError(f"`{argument}` contains missing values")
        if pd.api.types.is_bool_dtype(series):
            raise ValueError(f"`{argument}` must hold month dates or integer periods, not booleans")
        if pd.api.types.is_integer_dtype(series) or (
            pd.api.types.is_float_dtype(series) and np.all(np.mod(series.to_numpy(), 1) == 0)
        ):
            ords = series.to_numpy().astype(np.int64)
            return cls("integer"), ords, pd.Index(ords)
        periods = _to_month_periods(series, argument)
        ords = np.asarray([p.ordinal for p in periods], dtype=np.int64)
        return cls("month"), ords, periods

    def convert(self, value: Any, argument: str) -> int:
        """Convert one user-supplied time (e.g. ``intervention_start``) to an ordinal."""
        if value is None:
            raise ValueError(f"`{argument}` must be given")
        if self.kind == "integer":
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, np.integer, float, np.floating)
            ):
                raise ValueError(
                    f"`{argument}` must be an integer period because the time column holds "
                    f"integers, got {value!r}"
                )
            if float(value) != int(value):
                raise ValueError(f"`{argument}` must be a whole number, got {value!r}")
            return int(value)
        if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
            raise ValueError(
                f"`{argument}` must be a month (e.g. '2023-04' or a Timestamp) because the time "
                f"column holds dates, got {value!r}"
            )
        period = _to_month_periods(pd.Series([value]), argument)[0]
        return int(period.ordinal)

    def label(self, ordinal: int) -> Any:
        if self.kind == "integer":
            return int(ordinal)
        return pd.Period(ordinal=int(ordinal), freq="M")

    def labels(self, ordinals: Iterable[int]) -> pd.Index:
        ords = [int(o) for o in ordinals]
        if self.kind == "integer":
            return pd.Index(ords)
        return pd.PeriodIndex([pd.Period(ordinal=o, freq="M") for o in ords])

    def fmt(self, ordinal: int) -> str:
        if self.kind == "integer":
            return str(int(ordinal))
        return pd.Period(ordinal=int(ordinal), freq="M").strftime("%b %Y")

    @property
    def unit(self) -> str:
        return "month" if self.kind == "month" else "period"

    def plot_x(self, ordinals: Iterable[int]) -> Any:
        """Values suitable for a matplotlib x-axis."""
        ords = list(ordinals)
        if self.kind == "integer":
            return np.asarray(ords)
        return self.labels(ords).to_timestamp()


def _to_month_periods(series: pd.Series, argument: str) -> pd.PeriodIndex:
    if isinstance(series.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(series).asfreq("M")
    values = list(series)
    if values and all(isinstance(v, pd.Period) for v in values):
        return pd.PeriodIndex(values).asfreq("M")
    try:
        stamps = pd.to_datetime(pd.Index(values))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`{argument}` must hold month dates (Timestamps, Periods or 'YYYY-MM' strings) or "
            f"integer periods: {err}"
        ) from None
    if stamps.hasnans:
        raise ValueError(f"`{argument}` contains values that cannot be read as dates")
    return stamps.to_period("M")


# --------------------------------------------------------------------------- #
# Formatting for plain-English summaries
# --------------------------------------------------------------------------- #
def fmt_num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}g}" if abs(x) >= 1e4 or (abs(x) < 1e-3 and x != 0) else f"{x:,.{digits}f}"


def format_p(p: float) -> str:
    """``p = 0.412`` (three decimals), as the estimators' summaries print p-values:
    :func:`csp_analysis.formatting.format_p_value` with ``digits=3``."""
    return _fmt.format_p_value(p, digits=3)


#: The former private name of :func:`format_p`, kept for the modules that still import it.
fmt_p = format_p


def fmt_pct_change(ratio: float, digits: int = 1) -> str:
    """'12.3% lower' / '4.0% higher' for a rate ratio."""
    pct = (ratio - 1.0) * 100.0
    word = "higher" if pct >= 0 else "lower"
    return f"{abs(pct):.{digits}f}% {word}"


def conf_pct(confidence: float) -> str:
    """:func:`csp_analysis.formatting.confidence_label`."""
    return _fmt.confidence_label(confidence)
