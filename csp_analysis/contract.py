"""The result contract every public statistic keeps (see ARCHITECTURE.md, "Result contract").

* **Arguments**: the confidence level is ``confidence`` (0.95) everywhere. Functions that
  took ``alpha`` or ``p_threshold`` accept ``confidence`` as well; the old name keeps
  working with a :class:`DeprecationWarning` (:func:`resolve_confidence`).
* **Tables**: every tabular result carries the standard columns :data:`STANDARD_COLUMNS`
  (``value``, ``lower``, ``upper``, ``confidence``, ``method``), ``p_value`` where the
  statistic is a test, and ``sentence`` (a plain sentence per row). The family's own
  column names stay beside them (``estimate``, ``ratio``, ``percent_change``...):
  :func:`standardise` adds the standard columns and never renames or drops one. A
  statistic without an interval leaves ``lower``/``upper`` missing (NaN).
* **Counts**: the canonical names are ``count`` (the events, numerator or observed) and
  ``denominator`` (population, exposure, trials or expected); :func:`standardise` adds
  them as aliases when asked.
* **Result objects** (estimators) offer ``.table`` (a contract table), ``.summary()``
  (text) and ``.plot(ax=None)`` (returns the Axes drawn on): :class:`ResultMixin`.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .formatting import auto_digits, check_confidence, confidence_label, format_number, format_p_value

__all__ = [
    "STANDARD_COLUMNS",
    "TEST_COLUMN",
    "SENTENCE_COLUMN",
    "COUNT_COLUMN",
    "DENOMINATOR_COLUMN",
    "standardise",
    "default_sentence",
    "resolve_confidence",
    "significance_level",
    "check_contract",
    "ResultMixin",
]

#: Columns every tabular result carries.
STANDARD_COLUMNS = ("value", "lower", "upper", "confidence", "method")
#: The p-value column of a test.
TEST_COLUMN = "p_value"
#: The plain-sentence column.
SENTENCE_COLUMN = "sentence"
#: Canonical names of the count and its denominator.
COUNT_COLUMN = "count"
DENOMINATOR_COLUMN = "denominator"

_MISSING = object()


def _fill(out: pd.DataFrame, column: str, source: Any) -> None:
    """Add ``column`` from ``source`` (a column name, a callable of the table, or a
    scalar/array) unless the table already has it."""
    if column in out.columns or source is _MISSING:
        return
    if isinstance(source, str) and source in out.columns:
        out[column] = out[source]
    elif callable(source):
        out[column] = source(out)
    elif source is None:
        out[column] = np.nan
    else:
        out[column] = source


def default_sentence(row: pd.Series, what: str | None = None, dp: int | None = None) -> str:
    """A plain sentence for one contract row: the value, its interval and its p-value.

    ``"Rate ratio 1.25 (95% confidence interval 1.02 to 1.53; p = 0.03)."``. Rows
    without an interval omit it; a missing value reads "not available".
    """
    label = what or str(row.get("method", "Value"))
    value = row.get("value")
    try:
        missing = value is None or pd.isna(value)
    except (TypeError, ValueError):
        missing = False
    if missing:
        return f"{label}: not available."
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return f"{label}: {value}."
    parts = []
    lo, hi = row.get("lower"), row.get("upper")
    if dp is None:  # one precision for the value and its interval
        dp = auto_digits(*(float(v) for v in (value, lo, hi)
                           if isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v)))
    if lo is not None and hi is not None and pd.notna(lo) and pd.notna(hi):
        conf = row.get("confidence")
        level = confidence_label(conf) + " " if conf is not None and pd.notna(conf) else ""
        parts.append(f"{level}confidence interval {format_number(float(lo), dp, 'n/a')} to "
                     f"{format_number(float(hi), dp, 'n/a')}")
    p = row.get(TEST_COLUMN)
    if p is not None and pd.notna(p):
        parts.append(format_p_value(float(p)))
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"{label} {format_number(float(value), dp, 'n/a')}{detail}."


def standardise(table: pd.DataFrame, *, value: Any = _MISSING, lower: Any = _MISSING, upper: Any = _MISSING,
                confidence: Any = _MISSING, method: Any = _MISSING, p_value: Any = _MISSING,
                sentence: str | Callable[[pd.Series], str] | None = None, what: str | None = None,
                count: str | None = None, denominator: str | None = None) -> pd.DataFrame:
    """Return ``table`` with the contract's standard columns added beside its own.

    Each keyword names the column to copy (``value="estimate"``), or gives a scalar or
    array (``confidence=0.95``, ``method="Wilson"``), or a callable of the table; ``None``
    adds the column empty (NaN: e.g. no interval). A column the table already has is
    left untouched: nothing is renamed, dropped or reordered; new columns go at the end.
    ``sentence`` is a column name, a function of a row, or ``None`` for
    :func:`default_sentence` (with the label ``what``). ``count``/``denominator``
    name the columns to alias as ``count``/``denominator``.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"standardise needs a DataFrame, got {type(table).__name__}")
    out = table.copy()
    _fill(out, "value", value)
    _fill(out, "lower", lower)
    _fill(out, "upper", upper)
    _fill(out, "confidence", confidence)
    _fill(out, "method", method)
    _fill(out, TEST_COLUMN, p_value)
    if count is not None:
        _fill(out, COUNT_COLUMN, count)
    if denominator is not None:
        _fill(out, DENOMINATOR_COLUMN, denominator)
    if SENTENCE_COLUMN not in out.columns:
        if isinstance(sentence, str) and sentence in out.columns:
            out[SENTENCE_COLUMN] = out[sentence]
        else:
            fn = sentence if callable(sentence) else (lambda r: default_sentence(r, what))
            out[SENTENCE_COLUMN] = [fn(r) for _, r in out.iterrows()] if len(out) else pd.Series(dtype=object)
    return out


def resolve_confidence(confidence: float | None = None, *, default: float = 0.95, function: str = "",
                       **old: float | None) -> float:
    """The confidence level from ``confidence`` or a deprecated significance argument.

    ``old`` holds at most one deprecated argument (``alpha=...`` or ``p_threshold=...``)
    whose value ``a`` means ``confidence = 1 - a``; passing it warns
    (:class:`DeprecationWarning`). Passing both raises when they disagree. ``None``
    everywhere gives ``default``.
    """
    given = {k: v for k, v in old.items() if v is not None}
    if len(given) > 1:
        raise ValueError(f"give at most one of {', '.join(given)}")
    where = f"{function}: " if function else ""
    if given:
        name, a = next(iter(given.items()))
        a = check_confidence(a, name)
        warnings.warn(f"{where}`{name}` is deprecated; pass confidence={1 - a:g} instead",
                      DeprecationWarning, stacklevel=3)
        if confidence is not None and not np.isclose(check_confidence(confidence), 1 - a):
            raise ValueError(f"{where}confidence={confidence} and {name}={a} disagree "
                             f"(confidence = 1 - {name})")
        return 1 - a
    return check_confidence(default if confidence is None else confidence)


def significance_level(alpha: float | None, confidence: float, *, function: str = "",
                       name: str = "alpha") -> float:
    """The test's significance level: ``1 - confidence``, or a deprecated ``alpha`` when given.

    For functions whose ``alpha`` (test level) sat beside ``confidence`` (interval level):
    an explicit ``alpha`` keeps its old meaning for the test, with a
    :class:`DeprecationWarning`; without it the test uses ``1 - confidence``, so one
    argument sets both.
    """
    if alpha is None:
        # rounded so that confidence=0.95 gives exactly 0.05 (not 0.050000000000000044)
        return round(1 - check_confidence(confidence), 12)
    a = check_confidence(alpha, name)
    where = f"{function}: " if function else ""
    warnings.warn(f"{where}`{name}` is deprecated; the test level is 1 - confidence "
                  f"(pass confidence={1 - a:g})", DeprecationWarning, stacklevel=3)
    return a


def check_contract(table: pd.DataFrame, test: bool = False) -> list[str]:
    """Problems with a table against the contract (empty list when it keeps it).

    Checks the standard columns (and ``p_value`` when ``test``), the sentence column
    (text in every row), the method (text wherever there is a value), confidence levels
    in (0, 1) and ``lower <= value <= upper``
    where all three are numbers. Used by ``tests/test_contract.py``.
    """
    problems = []
    needed = list(STANDARD_COLUMNS) + ([TEST_COLUMN] if test else []) + [SENTENCE_COLUMN]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        return [f"missing columns {missing}"]
    if len(table) == 0:
        return problems
    s = table[SENTENCE_COLUMN]
    if not s.map(lambda v: isinstance(v, str) and len(v.strip()) > 0).all():
        problems.append("sentence column has empty or non-text rows")
    conf = pd.to_numeric(table["confidence"], errors="coerce").dropna()
    if ((conf <= 0) | (conf >= 1)).any():
        problems.append("confidence outside (0, 1)")
    v = pd.to_numeric(table["value"], errors="coerce")
    has_value = table["value"].notna()
    if not table.loc[has_value, "method"].map(lambda m: isinstance(m, str) and len(m) > 0).all():
        problems.append("method must be text in every row with a value")
    lo = pd.to_numeric(table["lower"], errors="coerce")
    hi = pd.to_numeric(table["upper"], errors="coerce")
    ok = v.notna() & lo.notna() & hi.notna() & np.isfinite(v)
    tol = 1e-9 * (1 + v.abs())
    if ((lo[ok] > v[ok] + tol[ok]) | (hi[ok] < v[ok] - tol[ok])).any():
        problems.append("value outside [lower, upper]")
    if test:
        p = pd.to_numeric(table[TEST_COLUMN], errors="coerce").dropna()
        if ((p < 0) | (p > 1 + 1e-12)).any():
            problems.append("p_value outside [0, 1]")
    return problems


class ResultMixin:
    """What every estimator result object offers: ``.table``, ``.summary()``, ``.plot(ax=None)``.

    Subclasses set ``table`` (a contract table) and implement ``summary`` (plain text)
    and ``plot`` (draw on ``ax``, or on a new figure when ``ax`` is None, and return the
    Axes).
    """

    table: pd.DataFrame

    def summary(self) -> str:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def plot(self, ax: Any = None) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError
